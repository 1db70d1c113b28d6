// The trivial call, as a synckit worker.
import { runAsWorker } from 'synckit';

runAsWorker(async (x) => x + 1);
