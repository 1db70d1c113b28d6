/**
 * Entry module of the supervisor thread. It starts the reactor thread and watches it:
 * its own event loop is never blocked, so it sees the reactor end in any way (an exit,
 * a crash, running out of memory, failing to start) and wakes every blocked caller with
 * the reason. It is also the directory other threads ask for the reactor: it answers
 * their hello at once and has the reactor open a channel for them.
 */
import { BroadcastChannel, Worker, workerData } from 'node:worker_threads';
import { encodeThrown } from './codec.js';
import {
  CTL_STATE,
  DIRECTORY,
  Kind,
  State,
  markStopped,
  type HelloMessage,
  type OpenChannel,
  type ReactorData,
  type SupervisorData,
  welcome,
} from './protocol.js';

const data = workerData as SupervisorData;
const { control } = data;
const sigs = [data.sig];
Atomics.compareExchange(control, CTL_STATE, State.Booting, State.Supervised);

function stop(cause: unknown): void {
  // A reactor that died while writing its own cause leaves `Stopping`: finish for it.
  markStopped(control, encodeThrown(cause), sigs, Atomics.load(control, CTL_STATE) === State.Stopping);
  // Nothing is left to watch: this thread ends. Threads asking later learn from the
  // control block (their hint) that the reactor stopped, or find no reactor.
  directory.close();
}

const directory = new BroadcastChannel(DIRECTORY);

try {
  const reactorData: ReactorData = { control, port: data.port, sig: data.sig, hot: data.hot };
  const reactor = new Worker(new URL(data.reactorEntry), {
    workerData: reactorData,
    transferList: [data.port],
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
  directory.onmessage = (event) => {
    const hello = (event as MessageEvent).data as HelloMessage;
    if (hello.k !== Kind.Hello) return;
    sigs.push(hello.sig);
    welcome(hello, control);
    if (Atomics.load(control, CTL_STATE) === State.Stopped) return;
    const open: OpenChannel = { name: hello.name, sig: hello.sig };
    reactor.postMessage(open);
  };
} catch (error) {
  stop(error);
}
