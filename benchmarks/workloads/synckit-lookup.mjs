// synckit worker of the tiny-call workload: the table lives in the worker.
import { runAsWorker } from 'synckit';

const table = new Map(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i * 3 + 1]));
runAsWorker(async (key) => table.get(key));
