/**
 * Preloaded first in the reactor thread, when the thread that called `setup()` starts it
 * beside the supervisor (Node only): if a module preloaded after it (`--import`,
 * `--require`) fails there, the reactor never starts, and only that thread's event loop
 * (blocked, most likely, in the first call) would hear why. So the failure is recorded
 * here, for every caller, before the thread ends. `startReactor()` removes the guard.
 */
import { isMainThread, workerData } from 'node:worker_threads';
import { encodeThrown } from '../wire/codec.js';
import { markStopped } from '../wire/control.js';

/** The global under which the guard leaves its remover. */
export const GUARD_KEY = Symbol.for('crochet.reactor.guard');

const data = workerData as { readonly control?: unknown; readonly box?: unknown } | null;
if (!isMainThread && data?.control instanceof Int32Array && data.box instanceof Int32Array) {
  const { control, box } = data;
  const failed = (error: unknown): void => {
    markStopped(control, encodeThrown(error), [box]);
    process.exit(1);
  };
  process.on('uncaughtException', failed);
  (globalThis as { [GUARD_KEY]?: () => void })[GUARD_KEY] = () => {
    process.off('uncaughtException', failed);
  };
}
