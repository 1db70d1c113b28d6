/**
 * Entry module of the supervisor of a thread's isolated reactors (one per synckit worker
 * file, see caller/isolated.ts). One such thread per calling thread watches all of them:
 * its event loop is never blocked, so it sees each reactor end (an exit, a crash, running
 * out of memory, failing to start) while the caller may be parked in a call, and wakes
 * that reactor's caller with the reason. Isolated reactors take no part in the process's
 * directory or election: nothing here speaks to any thread but the one that started them.
 * It also tells them, as the process's supervisor tells its reactor, whether the machine is
 * contended (see load.ts).
 */
import { parentPort } from 'node:worker_threads';
import { encodeThrown } from '../wire/codec.js';
import { markStopped } from '../wire/control.js';
import { BOX_BYTES, CH_CONTENDED, CH_COUNTER, CTL_BYTES, CTL_CONTENDED, CTL_STATE, State } from '../wire/layout.js';
import type { WatchIsolated } from '../wire/messages.js';
import { portLink, type Early } from './link.js';
import { callsSince, contention, pace } from './load.js';

/** The machine's load, read from this thread's start on. */
const load = contention();
/** The reactors watched, by control block, with the box of their caller. */
const watched = new Map<Int32Array, Int32Array>();
let stopBeat: (() => void) | undefined;
const called = callsSince(() => watched.values());

/** Tells a reactor and its caller whether the machine is contended. */
function tell(control: Int32Array, box: Int32Array, contended: number): void {
  Atomics.store(control, CTL_CONTENDED, contended);
  Atomics.store(box, CH_CONTENDED, contended);
}

/** Checks a message from the starting thread. */
function isWatch(message: unknown): message is WatchIsolated {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as Record<string, unknown>;
  return (
    m['k'] === 'watch' &&
    m['control'] instanceof Int32Array &&
    m['control'].byteLength >= CTL_BYTES &&
    m['box'] instanceof Int32Array &&
    m['box'].byteLength >= BOX_BYTES &&
    typeof m['threadId'] === 'number' &&
    typeof m['port'] === 'object' &&
    m['port'] !== null
  );
}

function watch({ control, box, port, threadId }: WatchIsolated): void {
  Atomics.compareExchange(control, CTL_STATE, State.Booting, State.Supervised);
  tell(control, box, load() ? 1 : 0);
  watched.set(control, box);
  stopBeat ??= pace(() => {
    const contended = load() ? 1 : 0;
    for (const [c, b] of watched) tell(c, b, contended);
    return called();
  });
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
    watched.delete(control);
    if (watched.size === 0) {
      stopBeat?.();
      stopBeat = undefined;
    }
  });
  queueMicrotask(serve);
}

parentPort?.on('message', (message: unknown) => {
  if (isWatch(message)) watch(message);
});
