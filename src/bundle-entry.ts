/**
 * Entry of the bundle (`dist/crochet.js`): the public API and the reactor thread's entry
 * point, in one module, so that each thread loads one file and, within a thread, user
 * code and crochet's own threads share one instance of every module.
 */
import { isMainThread, workerData } from 'node:worker_threads';
import { bundled } from './common/home.js';
import { currentEngine } from './common/thread.js';
import { startReactor } from './reactor/start.js';
import type { ReactorData } from './wire/messages.js';

export * from './index.js';
export { startReactor };
/** `crochet/synckit` (dist/synckit.js re-exports it), in the same instance as the rest. */
export * as synckit from './synckit.js';

// An application bundled with crochet inside is also the entry of its reactor thread (see
// common/home.ts): the reactor starts here, as the bundle loads, before the application's
// own code runs (which `isReactorThread()` then tells it).
// (Once: another bundle with crochet inside, imported there later, finds it running.)
if (bundled && !isMainThread && isBundledReactor(workerData) && currentEngine() === undefined) startReactor(workerData);

function isBundledReactor(data: unknown): data is ReactorData {
  if (typeof data !== 'object' || data === null) return false;
  const { bundled: mark, control, box, port } = data as Record<string, unknown>;
  return (
    mark === true &&
    control instanceof Int32Array &&
    box instanceof Int32Array &&
    typeof port === 'object' &&
    port !== null &&
    'postMessage' in port
  );
}
