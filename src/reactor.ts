/**
 * The reactor thread `setup()` starts: an engine on this thread's event loop, serving
 * the creating thread's port and the broadcast channels the supervisor opens for other
 * threads.
 */
import { writeSync } from 'node:fs';
import { inspect } from 'node:util';
import { parentPort } from 'node:worker_threads';
import { encodeThrown } from './codec.js';
import { portEndpoint } from './endpoint.js';
import { Engine } from './engine.js';
import { CTL_STATE, State, markStopped, type OpenChannel, type ReactorData } from './protocol.js';
import { becomeReactor, setEngine } from './thread.js';

/** Writes a report of crochet's own to stderr at once, so it is never lost. */
export function report(what: string, error: unknown): void {
  try {
    writeSync(2, `crochet: ${what}:\n${inspect(error)}\n`);
  } catch {
    // stderr is gone; nothing else can be done.
  }
}

/** Reports errors of reactor code outside any call, and keeps the thread serving. */
export function guardUncaught(): void {
  process.on('uncaughtException', (error) => {
    report('an error was thrown in the reactor outside any call', error);
  });
  process.on('unhandledRejection', (reason) => {
    report('a promise was rejected in the reactor and nothing handled it', reason);
  });
}

/** Runs the reactor in this thread. */
export function startReactor(data: ReactorData): void {
  becomeReactor();
  const { control } = data;
  const engine = new Engine();
  setEngine(engine);
  guardUncaught();

  // process.exit() in reactor code ends the reactor thread: say so to the callers, with
  // the stack of whoever called it.
  const exit = process.exit.bind(process);
  process.exit = (code?: number | string | null) => {
    const error = new Error(`Reactor code called process.exit(${code === undefined ? '' : String(code)})`);
    Error.captureStackTrace(error, process.exit);
    markStopped(control, encodeThrown(error), engine.sigs());
    return exit(code);
  };

  engine.addChannel(portEndpoint(data.port), data.sig, true);
  parentPort?.on('message', (message: OpenChannel) => {
    engine.openBroadcast(message.name, message.sig, true);
  });
  Atomics.compareExchange(control, CTL_STATE, State.Supervised, State.Running);
}
