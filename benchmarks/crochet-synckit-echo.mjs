// crochet/synckit worker: returns its argument (synckit-echo.mjs with the import changed).
import { runAsWorker } from '../dist/synckit.js';

runAsWorker(async (value) => value);
