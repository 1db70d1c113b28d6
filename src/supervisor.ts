/**
 * Entry module of the supervisor thread. It starts the reactor thread and watches it:
 * its own event loop is never blocked, so it sees the reactor end in any way (an exit,
 * a crash, running out of memory, failing to start) and wakes every blocked caller with
 * the reason. It does nothing else.
 */
import { Worker, workerData } from 'node:worker_threads';
import { encodeThrown } from './codec.js';
import { CTL_STATE, State, markStopped, type ReactorData, type SupervisorData } from './protocol.js';

const data = workerData as SupervisorData;
const { control } = data;
const sigs = [data.channel.sig];
Atomics.compareExchange(control, CTL_STATE, State.Booting, State.Supervised);

function stop(cause: unknown): void {
  // A reactor that died while writing its own cause leaves `Stopping`: finish for it.
  markStopped(control, encodeThrown(cause), sigs, Atomics.load(control, CTL_STATE) === State.Stopping);
}

try {
  const reactorData: ReactorData = { control, channel: data.channel };
  const reactor = new Worker(new URL(data.reactorEntry), {
    workerData: reactorData,
    transferList: [data.channel.port],
  });
  let failure: unknown;
  reactor.on('error', (error: unknown) => {
    failure = error;
  });
  reactor.on('exit', (code: number) => {
    stop(
      failure ??
        new Error(
          Atomics.load(control, CTL_STATE) === State.Running
            ? `The reactor thread exited with code ${code}`
            : `The reactor thread failed to start (exit code ${code})`,
        ),
    );
  });
} catch (error) {
  stop(error);
}
