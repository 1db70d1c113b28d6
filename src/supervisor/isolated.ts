/**
 * Entry module of the supervisor of a thread's isolated reactors (one per synckit worker
 * file, see caller/isolated.ts). One such thread per calling thread watches all of them:
 * its event loop is never blocked, so it sees each reactor end (an exit, a crash, running
 * out of memory, failing to start) while the caller may be parked in a call, and wakes
 * that reactor's caller with the reason. Isolated reactors take no part in the process's
 * directory or election: nothing here speaks to any thread but the one that started them.
 */
import { parentPort } from 'node:worker_threads';
import { encodeThrown } from '../wire/codec.js';
import { markStopped } from '../wire/control.js';
import { CH_COUNTER, CTL_STATE, State } from '../wire/layout.js';
import type { WatchIsolated } from '../wire/messages.js';
import { portLink, type Early } from './link.js';

/** Checks a message from the starting thread. */
function isWatch(message: unknown): message is WatchIsolated {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as Record<string, unknown>;
  return (
    m['k'] === 'watch' &&
    m['control'] instanceof Int32Array &&
    m['box'] instanceof Int32Array &&
    typeof m['threadId'] === 'number' &&
    typeof m['port'] === 'object' &&
    m['port'] !== null
  );
}

function watch({ control, box, port, threadId }: WatchIsolated): void {
  Atomics.compareExchange(control, CTL_STATE, State.Booting, State.Supervised);
  const early: Early = {};
  const link = portLink(port, threadId, early);
  const serve = (): void => {
    if (early.up !== true) return;
    if (Atomics.compareExchange(control, CTL_STATE, State.Supervised, State.Running) === State.Supervised) {
      Atomics.add(box, CH_COUNTER, 1);
      Atomics.notify(box, CH_COUNTER);
    }
  };
  link.onMessage((message) => {
    if (message.k === 'up') serve();
  });
  link.onEnd((cause) => {
    // A reactor that died while writing its own cause leaves `Stopping`: finish for it.
    markStopped(control, encodeThrown(cause), [box], Atomics.load(control, CTL_STATE) === State.Stopping);
    port.close();
  });
  queueMicrotask(serve);
}

parentPort?.on('message', (message: unknown) => {
  if (isWatch(message)) watch(message);
});
