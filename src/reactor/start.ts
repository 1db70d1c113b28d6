/**
 * The reactor thread `setup()` starts: an engine on this thread's event loop, serving the
 * starting thread's port and the channels other threads open through the directory,
 * which the supervisor hands over. What reactor code writes goes to the starting thread.
 */
import { parentPort } from 'node:worker_threads';
import { encodeThrown } from '../wire/codec.js';
import { stackFrom } from '../api/errors.js';
import { trace } from '../common/diagnostics.js';
import { portEndpoint } from '../wire/endpoint.js';
import { Engine } from './engine.js';
import { captureOutput } from './output.js';
import { markStopped } from '../wire/control.js';
import type { Forget, GlobalShimData, OpenChannel, ReactorData } from '../wire/messages.js';
import { importModule } from './lookup.js';
import { registerThreadHooks } from '../common/runners.js';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { reportError, setEmitter } from '../common/report.js';
import { becomeReactor, setEngine } from '../common/thread.js';

/** Reports errors of reactor code outside any call, and keeps the thread serving. */
function guardUncaught(): void {
  process.on('uncaughtException', (error) => {
    reportError('an error was thrown in the reactor outside any call', error);
  });
  process.on('unhandledRejection', (reason) => {
    reportError('a promise was rejected in the reactor and nothing handled it', reason);
  });
}

/**
 * The error that is ending this thread, while Node ends it: one thrown outside any call
 * that no `uncaughtException` listener took (a listener of reactor code threw, or reactor
 * code removed crochet's). Node then ends the thread with `process.exit()`, at once, in
 * the same turn; that exit is the error's, not reactor code's.
 */
let fatal: { readonly error: unknown } | undefined;

/** Watches for an error outside any call that will end this thread (see {@link fatal}). */
function watchFatal(): void {
  const emit = process.emit as (this: NodeJS.Process, event: string | symbol, ...args: unknown[]) => boolean;
  const ending = (error: unknown): void => {
    fatal = { error };
    // Still here after this turn: it did not end the thread after all.
    queueMicrotask(() => {
      fatal = undefined;
    });
  };
  process.emit = function (this: NodeJS.Process, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'uncaughtException' && event !== 'uncaughtExceptionMonitor') return emit.call(this, event, ...args);
    let handled: boolean;
    try {
      handled = emit.call(this, event, ...args);
    } catch (error) {
      // A listener threw: Node ends the thread with what it threw.
      ending(error);
      throw error;
    }
    if (!handled && event === 'uncaughtException') ending(args[0]);
    return handled;
  } as typeof process.emit;
}

/** Checks an open message from the supervisor. */
function isOpen(message: unknown): message is OpenChannel {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as Record<string, unknown>;
  return (
    m['k'] === 'open' &&
    typeof m['toReactor'] === 'string' &&
    typeof m['toCaller'] === 'string' &&
    m['box'] instanceof Int32Array &&
    m['answer'] instanceof SharedArrayBuffer
  );
}

/** Runs the reactor in this thread. */
export function startReactor(data: ReactorData): void {
  // Preloads are done: errors from now on are reactor code's (see guard.ts).
  const guard = globalThis as { [key: symbol]: unknown };
  const unguard = guard[Symbol.for('crochet.reactor.guard')];
  if (typeof unguard === 'function') (unguard as () => void)();
  becomeReactor();
  const { control } = data;
  Engine.hotMs = data.hot;
  const exit = process.exit.bind(process);
  // After a shutdown the thread ends; whatever it wrote is on its way already.
  const engine = new Engine(control, () => {
    exit(0);
  });
  setEngine(engine);
  const emit = engine.emit.bind(engine);
  setEmitter(emit);
  captureOutput(emit);
  // An isolated reactor stands for a worker thread of its own: an error nothing caught ends
  // it, as it would end that worker, and its calls fail with that error.
  if (data.isolated === undefined) guardUncaught();
  watchFatal();

  // process.exit() in reactor code ends the reactor thread: say so to the callers, with
  // the stack of whoever called it. When Node calls it to end the thread for an error
  // nothing handled, the callers get that error.
  process.exit = (code?: number | string | null) => {
    const ending = fatal;
    let cause: unknown;
    if (ending !== undefined) {
      cause = ending.error;
      try {
        reportError('an error thrown in the reactor outside any call ended the reactor', cause);
      } catch {
        // The callers still hear of it below.
      }
    } else {
      cause = new Error(`Reactor code called process.exit(${code === undefined ? '' : String(code)})`);
      stackFrom(cause as Error, process.exit);
    }
    markStopped(control, encodeThrown(cause), engine.sigs());
    return exit(code);
  };

  engine.logTo(engine.addChannel(portEndpoint(data.port, data.box, 'reactor'), data.box, true));
  // The supervisor: this thread's parent, or beside it (then a port to it was given).
  const supervisor = data.supervisor ?? parentPort;
  // A channel that closes (its thread said goodbye) leaves nothing behind in the supervisor.
  const forget = (channel: { readonly sig: Int32Array }): void => {
    const message: Forget = { k: 'forget', box: channel.sig };
    supervisor?.postMessage(message);
  };
  supervisor?.on('message', (message: unknown) => {
    if (isOpen(message)) {
      engine.openRing(message, message.box, message.answer, true, forget);
    } else if ((message as { k?: unknown } | null)?.k === 'stand-down') {
      // Another reactor won the election before this one served anything: end quietly.
      exit(0);
    }
  });
  const isolated = data.isolated;
  if (isolated === undefined) {
    supervisor?.postMessage({ k: 'up' });
    trace('reactor running');
    return;
  }
  // An isolated reactor sets its globals, says it serves (calls wait in the caller until
  // then), and loads its module at once, as a worker that runs it would.
  // (Under tsx on Node 20, a worker thread registers tsx's ES module hooks itself.)
  void registerThreadHooks()
    .then(() => setGlobals(isolated.shims))
    .then(() => {
      supervisor?.postMessage({ k: 'up' });
      trace('isolated reactor running for %s', isolated.module);
      void importModule(isolated.module);
    });
}

/** Sets the globals an isolated reactor is to have (synckit's `globalShims`), in order. */
async function setGlobals(shims: readonly GlobalShimData[]): Promise<void> {
  for (const shim of shims) {
    try {
      const loaded: unknown = shim.require
        ? createRequire(join(process.cwd(), 'noop.js'))(shim.specifier)
        : await import(shim.specifier);
      const { globalName, named } = shim;
      if (globalName === undefined || globalName === '') continue;
      const module = loaded as Record<string, unknown>;
      const value =
        named === null
          ? loaded
          : named !== undefined && named.trim() !== ''
            ? module[named.trim()]
            : shim.require
              ? loaded
              : module['default'];
      const global = globalThis as Record<string, unknown>;
      if (!shim.conditional || global[globalName] === undefined || global[globalName] === null) {
        global[globalName] = value;
      }
    } catch (error) {
      reportError(`the global shim ${shim.specifier} could not be loaded`, error);
    }
  }
}
