// synckit worker: returns its argument.
import { runAsWorker } from 'synckit';

runAsWorker(async (value) => value);
