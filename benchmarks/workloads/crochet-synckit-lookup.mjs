// crochet/synckit worker of the tiny-call workload: synckit-lookup.mjs with the import changed.
import { runAsWorker } from '../../dist/synckit.js';

const table = new Map(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i * 3 + 1]));
runAsWorker(async (key) => table.get(key));
