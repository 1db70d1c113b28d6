// What threads leave behind in the reactor: `node --expose-gc benchmarks/residue.mjs [threads]`
// (after `npm run build`). THREADS worker threads (2000 by default, 40 at a time) each make a
// call from a thread that did not start the reactor (so each opens a channel of its own);
// half of them then exit cleanly, the other half are terminated in the middle of a call.
// The reactor's heap and external memory are measured (after a full GC there) once the
// reactor has closed the channels of the terminated threads (after 5 to 10 s of quiet),
// after each of two rounds of THREADS/2 threads: the difference, per thread, is what a
// thread leaves behind. Prints one JSON line.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { isReactorThread, setup, waitFor } from '../dist/index.js';

export const heap = waitFor({ timeout: 10_000 })(() => {
  globalThis.gc?.();
  globalThis.gc?.();
  const memory = process.memoryUsage();
  return { heapUsed: memory.heapUsed, external: memory.external, arrayBuffers: memory.arrayBuffers };
});
export const ping = waitFor({ timeout: 10_000 })(() => 1);
// A call that outlives the thread that made it (terminated in the middle of it), then ends.
export const hang = waitFor({ timeout: Infinity })(() => new Promise((resolve) => setTimeout(resolve, 2000)));

if (!isReactorThread() && !isMainThread) {
  ping();
  if (workerData === 'exit') {
    parentPort.postMessage('done');
  } else {
    parentPort.postMessage('blocking');
    hang();
  }
} else if (!isReactorThread()) {
  const THREADS = Number(process.argv[2] ?? 2000);
  const BATCH = 40;
  setup();
  ping();
  let next = 0;
  async function one(i) {
    const kind = i % 2 === 0 ? 'exit' : 'terminate';
    const worker = new Worker(new URL(import.meta.url), { workerData: kind });
    await new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', () => resolve());
    });
    if (kind === 'terminate') await worker.terminate();
    else await new Promise((resolve) => worker.once('exit', resolve));
  }
  async function round(count) {
    const end = next + count;
    await Promise.all(
      Array.from({ length: BATCH }, async () => {
        while (next < end) await one(next++);
      }),
    );
    // The reactor closes the channels of threads that went quiet with nothing under way
    // (after 5 to 10 s).
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    return heap();
  }
  // A first round pays for what is made once (compiled code, pools); the second shows what
  // each thread leaves.
  const started = performance.now();
  const first = await round(THREADS / 2);
  const second = await round(THREADS / 2);
  const per = (key) => Math.round((second[key] - first[key]) / (THREADS / 2));
  console.log(
    JSON.stringify({
      threads: THREADS,
      seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
      first,
      second,
      perThread: { heapUsed: per('heapUsed'), external: per('external'), arrayBuffers: per('arrayBuffers') },
    }),
  );
  process.exit(0);
}
