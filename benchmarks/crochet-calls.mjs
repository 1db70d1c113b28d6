// The trivial call, wrapped with crochet. The reactor imports this module to find it.
import { getHeapStatistics } from 'node:v8';
import { runInReactor, waitFor } from 'crochet';

export const increment = waitFor({ timeout: 10_000 })(async (x) => x + 1);
export const startIncrement = runInReactor(async (x) => x + 1);
export const sleep10 = waitFor({ timeout: 10_000 })(() => new Promise((resolve) => setTimeout(resolve, 10)));
export const echo = waitFor({ timeout: 10_000 })((value) => value);
export const size = waitFor({ timeout: 10_000 })((buffer) => buffer.byteLength);
/** The reactor's heap in use, in bytes, after a full GC (with --expose-gc, which workers inherit). */
export const reactorHeap = waitFor({ timeout: 10_000 })(() => {
  globalThis.gc?.();
  return getHeapStatistics().used_heap_size;
});
