/**
 * The supervisor thread's start. When it is to start the reactor itself, and starting it
 * does not wait for the election, it does so first of all, before loading the rest of its
 * own code (`load`); then it watches the reactor (see watch.ts).
 */
import { workerData } from 'node:worker_threads';
import { CH_COUNTER, CH_STATE, ChannelState, CTL_STATE, State } from '../wire/layout.js';
import type { ReactorData, SupervisorData } from '../wire/messages.js';
import { childLink, portLink, type Early, type ReactorLink } from './link.js';
import { contention } from './load.js';

export async function supervise(load: () => Promise<typeof import('./watch.js')>): Promise<void> {
  const data = workerData as SupervisorData;
  // The first reading of the machine's load, now: by the time the watch begins (once the
  // reactor runs), there is enough to tell whether callers should spin.
  const loadWatch = contention();
  Atomics.compareExchange(data.control, CTL_STATE, State.Booting, State.Supervised);

  const early: Early = {};
  /** Why the reactor could not be started, if it could not. */
  const failed: { cause?: unknown } = {};

  /** Starts the reactor thread as this thread's child; undefined if it could not be started. */
  const launch = (): ReactorLink | undefined => {
    const port = data.port;
    if (port === undefined) return undefined;
    try {
      const reactorData: ReactorData = {
        control: data.control,
        port,
        box: data.box,
        hot: data.hot,
        ...(data.bundled === true ? { bundled: true } : {}),
      };
      return childLink(
        new URL(data.reactorEntry),
        reactorData,
        [port],
        data.resourceLimits,
        early,
        data.argv,
        data.execArgv,
      );
    } catch (error) {
      failed.cause = error;
      return undefined;
    }
  };

  // Started beside this thread already (the main thread's setup()), or to start now (and
  // boot while the election runs), or once elected (a worker's setup(): many workers
  // calling it at once must not boot a reactor each).
  const link =
    data.reactor !== undefined
      ? portLink(data.reactor.port, data.reactor.threadId, early)
      : data.speculative
        ? launch()
        : undefined;

  try {
    const { watch } = await load();
    watch(data, link, early, launch, failed, loadWatch);
  } catch (error) {
    // Without its watcher nobody would see the reactor die: stop it now, and wake the
    // starting thread (which learns only that the reactor stopped).
    Atomics.store(data.control, CTL_STATE, State.Stopped);
    Atomics.store(data.box, CH_STATE, ChannelState.Stopped);
    Atomics.add(data.box, CH_COUNTER, 1);
    Atomics.notify(data.box, CH_COUNTER);
    link?.end();
    throw error;
  }
}
