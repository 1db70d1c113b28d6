/**
 * The supervisor thread's watch over the reactor: its own event loop is never blocked,
 * so it sees the reactor end in any way (an exit, a crash, running out of memory,
 * failing to start) and wakes every blocked caller with the reason. It is also the
 * directory other threads ask for the reactor: it answers their hello at once and has
 * the reactor open a channel for them.
 */
import { BroadcastChannel, type Worker } from 'node:worker_threads';
import { encodeThrown } from '../wire/codec.js';
import {
  CTL_STATE,
  DIRECTORY,
  Kind,
  State,
  markStopped,
  type HelloMessage,
  type OpenChannel,
  type SupervisorData,
  welcome,
} from '../wire/messages.js';

export function watch(
  data: SupervisorData,
  reactor: Worker | undefined,
  early: { failure?: unknown; exitCode?: number; startError?: unknown },
): void {
  const { control } = data;
  const sigs = [data.sig];
  const directory = new BroadcastChannel(DIRECTORY);
  const greeted = new Set<string>();

  const stop = (cause: unknown): void => {
    // A reactor that died while writing its own cause leaves `Stopping`: finish for it.
    markStopped(control, encodeThrown(cause), sigs, Atomics.load(control, CTL_STATE) === State.Stopping);
    // Nothing is left to watch: this thread ends. Threads asking later learn from the
    // control block (their hint) that the reactor stopped, or find no reactor.
    directory.close();
  };
  const ended = (code: number): void => {
    stop(
      early.failure ??
        new Error(
          Atomics.load(control, CTL_STATE) === State.Running
            ? `The reactor thread exited with code ${code}`
            : `The reactor thread failed to start (exit code ${code})`,
        ),
    );
  };

  if (reactor === undefined) {
    stop(early.startError);
    return;
  }
  if (early.exitCode !== undefined) {
    ended(early.exitCode);
    return;
  }
  reactor.on('error', (error: unknown) => {
    early.failure = error;
  });
  reactor.on('exit', ended);
  directory.onmessage = (event) => {
    const hello = (event as MessageEvent).data as HelloMessage;
    if (hello.k !== Kind.Hello) return;
    // A thread says hello again while it waits (its first may have come before this
    // thread listened): welcome it each time, but open its channel once.
    const again = greeted.has(hello.name);
    greeted.add(hello.name);
    if (!again) sigs.push(hello.sig);
    welcome(hello, control);
    if (again || Atomics.load(control, CTL_STATE) === State.Stopped) return;
    const open: OpenChannel = { name: hello.name, sig: hello.sig };
    reactor.postMessage(open);
  };
}
