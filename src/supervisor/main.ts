/**
 * Entry module of the supervisor thread. It starts the reactor thread first of all —
 * before loading the rest of its own code, so that the two threads boot side by side,
 * and while the election runs (see directory.ts) — and then watches it (see watch.ts).
 */
import { Worker, workerData } from 'node:worker_threads';
import { CH_COUNTER, CH_STATE, ChannelState, CTL_STATE, State } from '../wire/layout.js';
import type { ReactorData, SupervisorData } from '../wire/messages.js';

const data = workerData as SupervisorData;
Atomics.compareExchange(data.control, CTL_STATE, State.Booting, State.Supervised);

/** What happened to the reactor before the watcher was loaded. */
const early: { failure?: unknown; exitCode?: number; startError?: unknown; up?: boolean } = {};

/** Starts the reactor thread; undefined if it could not be started (see `early`). */
function launch(): Worker | undefined {
  try {
    const reactorData: ReactorData = { control: data.control, port: data.port, box: data.box, hot: data.hot };
    const reactor = new Worker(new URL(data.reactorEntry), {
      workerData: reactorData,
      transferList: [data.port],
      ...(data.resourceLimits === undefined ? {} : { resourceLimits: data.resourceLimits }),
    });
    reactor.once('error', (error: unknown) => {
      early.failure = error;
    });
    reactor.once('exit', (code: number) => {
      early.exitCode = code;
    });
    // Its first message says it runs: heard here, since it may come before the watcher
    // listens (a Worker's messages with no listener are lost).
    reactor.on('message', (message: { k?: unknown } | null) => {
      if (message?.k === 'up') early.up = true;
    });
    return reactor;
  } catch (error) {
    early.startError = error;
    return undefined;
  }
}

// The main thread's reactor boots while the election runs (start-up time matters most
// there); a worker's waits to be elected, so that many workers calling setup() at once do
// not boot a reactor each.
const reactor = data.speculative ? launch() : undefined;

try {
  const { watch } = await import('./watch.js');
  watch(data, reactor, early, launch);
} catch (error) {
  // Without its watcher nobody would see the reactor die: stop it now, and wake the
  // starting thread (which learns only that the reactor stopped).
  Atomics.store(data.control, CTL_STATE, State.Stopped);
  Atomics.store(data.box, CH_STATE, ChannelState.Stopped);
  Atomics.add(data.box, CH_COUNTER, 1);
  Atomics.notify(data.box, CH_COUNTER);
  void reactor?.terminate();
  throw error;
}
