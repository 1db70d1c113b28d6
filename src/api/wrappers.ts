/**
 * The two wrappers: `waitFor` (block for the outcome) and `runInReactor` (get an
 * `EventualResult` at once).
 */
import { channels, trace, tracing } from '../common/diagnostics.js';
import { CrochetError, stackFrom, TimeoutError } from './errors.js';
import { performance } from 'node:perf_hooks';
import { feed, pendingResult, settledResult, settlerOf, type EventualResult } from './eventual.js';
import { access, requireConnection } from './lifecycle.js';
import { Connection, NO_REPLY } from '../caller/connection.js';
import { checkFunction, checkOptions, checkTimeout } from './options.js';
import { callerSite, registerWrapper, type WrapperId } from './registry.js';
import { isReactorThread } from '../common/thread.js';
import type { Crossing } from './crossing.js';

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /**
   * How long a call may block, in milliseconds: any number >= 0, or `Infinity`. With
   * 0, only an outcome that is already there when the caller looks is returned.
   */
  readonly timeout: number;
}

/**
 * What {@link waitFor} makes of `fn`: a blocking function with the same parameters,
 * returning what `fn` returns or resolves to. Editors show it spelt out, as
 * `((url: string) => string) & { readonly wrapped: (url: string) => Promise<string> }`.
 */
export type BlockingFunction<A extends unknown[], R> = ((...args: A) => Awaited<R>) & {
  /** The original function, for calling it directly (e.g. in unit tests of reactor code). */
  readonly wrapped: (...args: A) => R;
};

/**
 * What {@link runInReactor} makes of `fn`: a function with the same parameters returning
 * an `EventualResult` of what `fn` returns or resolves to. Editors show it spelt out, as
 * `((url: string) => EventualResult<string>) & { readonly wrapped: ... }`.
 */
export type ReactorFunction<A extends unknown[], R> = ((...args: A) => EventualResult<Awaited<R>>) & {
  /** The original function, for calling it directly (e.g. in unit tests of reactor code). */
  readonly wrapped: (...args: A) => R;
};

/**
 * Makes blocking versions of functions that run in the reactor.
 *
 * `waitFor({ timeout })(fn)` returns a function that runs `fn` with the same arguments
 * in the reactor, blocks the calling thread until it settles, and returns its
 * (awaited) value or throws its error.
 *
 * Create wrappers unconditionally at the top level of a module that is safe to import
 * a second time: the reactor imports that module to find `fn`. Arguments and results
 * cross threads by structured clone (see `transfer()` to move buffers).
 *
 * @throws {TypeError|RangeError} if `options.timeout` is missing or not a number >= 0.
 * @example
 * ```ts
 * import { lookup } from 'node:dns/promises';
 * import { setup, waitFor } from 'crochet';
 * setup();
 * export const gethostbyname = waitFor({ timeout: 5000 })(async (name: string) => (await lookup(name)).address);
 * gethostbyname('localhost'); // '127.0.0.1', or a TimeoutError after 5 s
 * ```
 *
 * A call of the returned function throws:
 * - whatever `fn` threw or rejected with, rebuilt in the calling thread;
 * - `TimeoutError` after `timeout` ms; the call's `abortSignal()` is then aborted so the
 *   work can stop, and its late outcome is dropped;
 * - `ReactorStoppedError` if the reactor stops or has stopped;
 * - `CrochetError` `ERR_CROCHET_REACTOR_THREAD` in the reactor thread (blocking there
 *   would deadlock; nothing is scheduled), `ERR_CROCHET_NOT_SET_UP` before `setup()`,
 *   `ERR_CROCHET_DATA_CLONE` for arguments or a result that cannot cross threads,
 *   `ERR_CROCHET_UNKNOWN_FUNCTION` if the reactor cannot find `fn`.
 */
export function waitFor(options: WaitForOptions): <A extends unknown[], R>(
  fn: ((...args: A) => R) & Crossing<A, R>,
) => ((...args: A) => Awaited<R>) & {
  /** The original function, for calling it directly (e.g. in unit tests of reactor code). */
  readonly wrapped: (...args: A) => R;
} {
  const checked = checkOptions(options, 'options', ['timeout'], true);
  if (!('timeout' in checked)) {
    throw new TypeError('Expected `options.timeout` to be a number of milliseconds >= 0 or Infinity, got nothing');
  }
  const timeout = checkTimeout(checked['timeout'], 'options.timeout');
  // The result type is spelt out rather than named BlockingFunction, so that editors show
  // the parameters and the result rather than an alias of them.
  return function wrap<A extends unknown[], R>(
    fn: ((...args: A) => R) & Crossing<A, R>,
  ): ((...args: A) => Awaited<R>) & {
    /** The original function, for calling it directly (e.g. in unit tests of reactor code). */
    readonly wrapped: (...args: A) => R;
  } {
    checkFunction(fn, 'fn');
    const site = callerSite(wrap);
    const id = registerWrapper(site.module, fn, site.line, site.column);
    const blocking = function (this: unknown, ...args: A): Awaited<R> {
      return blockingCall(id, fn.name, args, timeout, blocking) as Awaited<R>;
    };
    return finish(blocking, fn) as BlockingFunction<A, R>;
  };
}

/**
 * Makes functions that start `fn` in the reactor and return an `EventualResult` at
 * once, without blocking. The function's own errors never throw here: they are the
 * result's outcome. Calls made from one thread start in the order they were made.
 *
 * Create wrappers unconditionally at the top level of a module that is safe to import
 * a second time, as for {@link waitFor}. In the reactor thread itself, the function
 * runs right there (the result can be cancelled or stashed, but not waited on).
 *
 * @example
 * ```ts
 * export const download = runInReactor(async (url: string) => (await fetch(url, { signal: abortSignal() })).text());
 * const result = download('http://127.0.0.1:8080/');
 * const page = result.wait(5000);
 * ```
 *
 * A call of the returned function throws only `ERR_CROCHET_NOT_SET_UP` before
 * `setup()` and `ReactorStoppedError` once the reactor has stopped; arguments that
 * cannot cross threads give a result failed with `ERR_CROCHET_DATA_CLONE`.
 */
export function runInReactor<A extends unknown[], R>(
  fn: ((...args: A) => R) & Crossing<A, R>,
): ((...args: A) => EventualResult<Awaited<R>>) & {
  /** The original function, for calling it directly (e.g. in unit tests of reactor code). */
  readonly wrapped: (...args: A) => R;
} {
  checkFunction(fn, 'fn');
  const site = callerSite(runInReactor);
  const id = registerWrapper(site.module, fn, site.line, site.column);
  const starting = function (this: unknown, ...args: A): EventualResult<Awaited<R>> {
    const reactor = access(fn.name, true);
    const result = pendingResult<Awaited<R>>();
    try {
      let settle = settlerOf(result);
      // Calls run in this very thread (the reactor's) are not traced as calls.
      const observed = !isReactorThread() && observing();
      if (observed) {
        const started = performance.now();
        const inner = settle;
        settle = (ok, value) => {
          observeEnd(call.id ?? 0, fn.name, ok, started);
          inner(ok, value);
        };
      }
      const call = reactor.start(id, fn as (...args: unknown[]) => unknown, args, settle);
      if (observed) observeStart(call.id ?? 0, fn.name, id);
      feed(result, call);
      return result;
    } catch (error) {
      if (error instanceof CrochetError && error.code === 'ERR_CROCHET_DATA_CLONE') return settledResult(false, error);
      throw error;
    }
  };
  return finish(starting, fn) as ReactorFunction<A, R>;
}

/** Whether anyone watches calls start and end (a subscriber, or NODE_DEBUG=crochet). */
function observing(): boolean {
  return channels.callStart.hasSubscribers || channels.callEnd.hasSubscribers || tracing;
}

function observeStart(callId: number, name: string, wrapper: WrapperId): void {
  if (channels.callStart.hasSubscribers) {
    channels.callStart.publish({ id: callId, name, module: wrapper.module, index: wrapper.index });
  }
  trace('call %d %s (wrapper #%d of %s)', callId, name || 'anonymous', wrapper.index + 1, wrapper.module);
}

function observeEnd(callId: number, name: string, ok: boolean, started: number): void {
  const duration = performance.now() - started;
  if (channels.callEnd.hasSubscribers) channels.callEnd.publish({ id: callId, name, ok, duration });
  trace('call %d %s %s after %s ms', callId, name || 'anonymous', ok ? 'returned' : 'failed', duration.toFixed(3));
}

function callee(name: string): string {
  return name === '' ? 'A wrapped function' : `${name}()`;
}

function blockingCall(
  id: WrapperId,
  name: string,
  args: unknown[],
  timeout: number,
  blocking: (...args: never[]) => unknown,
): unknown {
  if (isReactorThread()) {
    throw new CrochetError(
      'ERR_CROCHET_REACTOR_THREAD',
      `${callee(name)} is a waitFor() wrapper and was called in the reactor thread, where blocking would deadlock the reactor. In reactor code, call and await its .wrapped function instead; if this happened while the reactor imported your module, put the module's application code under \`if (!isReactorThread())\``,
    );
  }
  return callThrough(requireConnection(name, true), id, name, args, timeout, blocking);
}

/**
 * A blocking call of wrapper `id` over `connection` (the process's reactor, or an isolated
 * one): the lane when the arguments are small, else a message; `TimeoutError` after
 * `timeout` ms, its stack cut at `blocking`. @internal
 */
export function callThrough(
  connection: Connection,
  id: WrapperId,
  name: string,
  args: unknown[],
  timeout: number,
  blocking: (...args: never[]) => unknown,
): unknown {
  // Right after setup() the reactor may still be starting: that is not the call's time.
  connection.ready();
  const observed = observing();
  // The fast path: small arguments by the lane, and a reply within microseconds.
  let callId = observed ? 0 : connection.sendByLane(id, args);
  if (callId !== 0) {
    const value = connection.quickReply(callId);
    if (value !== NO_REPLY) return value;
  }
  let done = false;
  let ok = false;
  let outcome: unknown;
  const receiver = (success: boolean, value: unknown): void => {
    done = true;
    ok = success;
    outcome = value;
  };
  const quickTried = callId !== 0;
  if (quickTried) connection.expect(callId, receiver);
  else callId = connection.call(id, name, args, receiver, true);
  const started = observed ? performance.now() : 0;
  if (observed) observeStart(callId, name, id);
  if (!connection.block(() => done, timeout, !quickTried, callId)) {
    connection.cancel(callId, true);
    if (channels.callTimeout.hasSubscribers) channels.callTimeout.publish({ id: callId, name, timeout });
    trace('call %d %s timed out after %d ms', callId, name || 'anonymous', timeout);
    const error = new TimeoutError(
      connection.timedOutLoading
        ? `${callee(name)} timed out: the reactor was still importing ${id.module}, which defines it, when the start-up limit of ${Connection.startupLimit} ms ran out (setup({ startupTimeout }) sets it; the call's own timeout of ${timeout} ms starts once the module is loaded). The reactor runs the module's top-level code again: if it waits there for something that happens only outside the reactor (a call of a wrapper, input, a top-level await that never settles), put that code under \`if (!isReactorThread())\``
        : `${callee(name)} timed out after ${timeout} ms`,
    );
    stackFrom(error, blocking);
    throw error;
  }
  if (observed) observeEnd(callId, name, ok, started);
  if (ok) return outcome;
  throw outcome;
}

/** Gives `wrapper` the name, length and `.wrapped` of `fn`. */
function finish(wrapper: (...args: never[]) => unknown, fn: (...args: never[]) => unknown): unknown {
  Object.defineProperty(wrapper, 'name', { value: fn.name, configurable: true });
  Object.defineProperty(wrapper, 'length', { value: fn.length, configurable: true });
  Object.defineProperty(wrapper, 'wrapped', { value: fn, enumerable: true });
  return wrapper;
}
