// The trivial call, as a worker file of crochet/synckit.
import { runAsWorker } from '../dist/synckit.js';

runAsWorker(async (x) => x + 1);
