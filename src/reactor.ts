/**
 * The reactor's side: serves calls from every channel on this thread's event loop.
 *
 * Messages from one channel are handled in the order they were sent. A call into a
 * module the reactor has not imported yet holds its channel's later messages until
 * the import is done, so a `cancel()` sent right after a call still finds the call.
 */
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import type { Transferable } from 'node:worker_threads';
import { dataCloneError, encodeThrown } from './codec.js';
import { CallContext, runAsCall, takeTransfer } from './context.js';
import { CancelledError, CrochetError, TimeoutError } from './errors.js';
import {
  CTL_STATE,
  Kind,
  SIG_COUNTER,
  State,
  markStopped,
  type CallMessage,
  type ChannelEnd,
  type FailureMessage,
  type ReactorData,
  type RequestMessage,
  type SuccessMessage,
} from './protocol.js';
import { isImportable, lookupWrapper } from './registry.js';
import { becomeReactor } from './thread.js';

/** Modules imported (or tried) in the reactor: `true`, or the error that stopped the import. */
const imported = new Map<string, true | { readonly error: unknown }>();

function importModule(module: string): Promise<void> {
  const attempt = module.startsWith('file:')
    ? import(module).then(() => undefined)
    : Promise.resolve().then(() => {
        createRequire(module)(module);
      });
  return attempt.then(
    () => {
      imported.set(module, true);
    },
    (error: unknown) => {
      imported.set(module, { error });
    },
  );
}

/** Writes a report of crochet's own to stderr at once, so it is never lost. */
export function report(what: string, error: unknown): void {
  try {
    writeSync(2, `crochet: ${what}:\n${inspect(error)}\n`);
  } catch {
    // stderr is gone; nothing else can be done.
  }
}

class Channel {
  readonly #end: ChannelEnd;
  readonly #queue: RequestMessage[] = [];
  readonly #active = new Map<number, CallContext>();
  #holding = false;

  constructor(end: ChannelEnd) {
    this.#end = end;
    end.port.on('message', (message: RequestMessage) => {
      this.#queue.push(message);
      if (!this.#holding) this.#pump();
    });
  }

  get sig(): Int32Array {
    return this.#end.sig;
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const message = this.#queue[0] as RequestMessage;
      if (
        message.k === Kind.Call &&
        !imported.has(message.module) &&
        isImportable(message.module) &&
        !lookupWrapper(message.module, message.index, message.fingerprint).found
      ) {
        this.#holding = true;
        void importModule(message.module).then(() => {
          this.#holding = false;
          this.#pump();
        });
        return;
      }
      this.#queue.shift();
      if (message.k === Kind.Call) this.#call(message);
      else this.#cancel(message.id, message.timeout);
    }
  }

  #call(message: CallMessage): void {
    const lookup = lookupWrapper(message.module, message.index, message.fingerprint);
    // A module whose import failed may have created some wrappers before it threw; it
    // is still a module that failed to load.
    if (!lookup.found || (imported.get(message.module) !== true && imported.has(message.module))) {
      this.#reply(message.id, false, unknownFunction(message, !lookup.found && lookup.mismatch));
      return;
    }
    const context = new CallContext();
    this.#active.set(message.id, context);
    let value: unknown;
    try {
      value = runAsCall(context, lookup.fn, message.args);
    } catch (error) {
      this.#finish(message.id, context, false, error);
      return;
    }
    if (isThenable(value)) {
      value.then(
        (resolved: unknown) => {
          this.#finish(message.id, context, true, resolved);
        },
        (error: unknown) => {
          this.#finish(message.id, context, false, error);
        },
      );
    } else {
      this.#finish(message.id, context, true, value);
    }
  }

  #cancel(id: number, timeout: boolean): void {
    const context = this.#active.get(id);
    if (context === undefined) return;
    this.#active.delete(id);
    context.abort(
      timeout
        ? new TimeoutError('The caller stopped waiting: its waitFor() timeout ran out')
        : new CancelledError('The result was cancelled with cancel() before it was known'),
    );
  }

  #finish(id: number, context: CallContext, ok: boolean, value: unknown): void {
    // A cancelled call's caller has settled already and drops any reply.
    if (context.aborted) return;
    this.#active.delete(id);
    this.#reply(id, ok, value);
  }

  #reply(id: number, ok: boolean, value: unknown): void {
    const port = this.#end.port;
    try {
      if (ok) {
        const transferList: Transferable[] = [];
        takeTransfer(value, transferList);
        const message: SuccessMessage = { k: Kind.Success, id, value };
        port.postMessage(message, transferList);
      } else {
        sendFailure(port, id, value);
      }
    } catch (error) {
      sendFailure(port, id, dataCloneError('The result', error));
    }
    // Post first, bump second: see the protocol's design note.
    Atomics.add(this.#end.sig, SIG_COUNTER, 1);
    Atomics.notify(this.#end.sig, SIG_COUNTER);
  }
}

function sendFailure(port: ChannelEnd['port'], id: number, error: unknown): void {
  try {
    const message: FailureMessage = { k: Kind.Failure, id, error: encodeThrown(error) };
    port.postMessage(message);
  } catch (cloneError) {
    try {
      // Some field of the error cannot be cloned: send it with such fields as text.
      const message: FailureMessage = { k: Kind.Failure, id, error: encodeThrown(error, true) };
      port.postMessage(message);
    } catch {
      const message: FailureMessage = {
        k: Kind.Failure,
        id,
        error: encodeThrown(dataCloneError('The error thrown', cloneError)),
      };
      port.postMessage(message);
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function unknownFunction(message: CallMessage, mismatch: boolean): CrochetError {
  const attempt = imported.get(message.module);
  const loadError = attempt !== undefined && attempt !== true ? attempt.error : undefined;
  const where = `wrapper #${message.index + 1} created by ${message.module}`;
  let why: string;
  if (loadError !== undefined) {
    why = `that module failed to load in the reactor thread (see cause)`;
  } else if (!isImportable(message.module)) {
    why = 'it was created by code that has no module file (eval, a REPL, or a string), which the reactor cannot import';
  } else if (mismatch) {
    why = 'the wrapper in that position in the reactor wraps a different function';
  } else {
    why = 'importing that module in the reactor thread did not create it';
  }
  return new CrochetError(
    'ERR_CROCHET_UNKNOWN_FUNCTION',
    `The reactor cannot find the function of ${where}: ${why}. The reactor finds a wrapped function by importing the module that created the wrapper and taking the wrapper created in the same order there, so create wrappers with waitFor()/runInReactor() unconditionally at the top level of a module file that is safe to import again, never inside a function at run time`,
    loadError === undefined ? undefined : { cause: loadError },
  );
}

/** Runs the reactor in this thread. */
export function startReactor(data: ReactorData): void {
  becomeReactor();
  const { control } = data;
  const channels = new Set<Channel>();
  const sigs = (): Int32Array[] => [...channels].map((channel) => channel.sig);

  // Errors outside any call are reported, and the reactor keeps serving.
  process.on('uncaughtException', (error) => {
    report('an error was thrown in the reactor outside any call', error);
  });
  process.on('unhandledRejection', (reason) => {
    report('a promise was rejected in the reactor and nothing handled it', reason);
  });

  // process.exit() in reactor code ends the reactor thread: say so to the callers, with
  // the stack of whoever called it.
  const exit = process.exit.bind(process);
  process.exit = (code?: number | string | null) => {
    const error = new Error(`Reactor code called process.exit(${code === undefined ? '' : String(code)})`);
    Error.captureStackTrace(error, process.exit);
    markStopped(control, encodeThrown(error), sigs());
    return exit(code);
  };

  channels.add(new Channel(data.channel));
  Atomics.compareExchange(control, CTL_STATE, State.Supervised, State.Running);
}
