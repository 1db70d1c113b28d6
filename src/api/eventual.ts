/**
 * EventualResult: the handle `runInReactor` returns, and `stash()`/`retrieveResult()`.
 *
 * A handle lives in one thread and waits for one call (a `PendingCall`, see access.ts),
 * wherever the reactor is. Stashed results are kept by the reactor, so that any thread of
 * the process can retrieve them.
 */
import { inspect, type InspectOptionsStylized } from 'node:util';
import { encodeFailure } from '../wire/codec.js';
import { expectedFailures, unknownResult } from '../caller/connection.js';
import { channels } from '../common/diagnostics.js';
import type { PendingCall } from './access.js';
import { CancelledError, CrochetError, stackFrom, TimeoutError } from './errors.js';
import { access } from './lifecycle.js';
import { checkTimeout, describe } from './options.js';
import { reportError } from '../common/report.js';
import type { Outcome } from '../wire/messages.js';
import { isReactorThread } from '../common/thread.js';

const PENDING = 0;
const SUCCEEDED = 1;
const FAILED = 2;

type Settle = (ok: boolean, value: unknown) => void;

const constructing = Symbol('EventualResult');

/**
 * Failed results nobody looked at: when one is garbage-collected, its failure is
 * reported (once). The held value is the error itself, which does not keep the result
 * alive.
 */
const unretrieved = new FinalizationRegistry<unknown>((error) => {
  reportError(
    'a failed EventualResult was garbage-collected, and nobody retrieved its failure with wait() or originalFailure()',
    error,
  );
});

let settleResult: (result: EventualResult<unknown>, ok: boolean, value: unknown) => void;
let setSource: (result: EventualResult<unknown>, call: PendingCall) => void;

/**
 * The eventual outcome of a function started with a `runInReactor` wrapper.
 *
 * The first outcome is final: every later `wait()` returns the same value or throws
 * the same error. A `wait()` that times out changes nothing, so you may wait again.
 * A handle belongs to the thread that got it; to use a result in another thread, pass
 * its `stash()` id there and `retrieveResult()` it. Do not construct it yourself.
 */
export class EventualResult<T> {
  #state: typeof PENDING | typeof SUCCEEDED | typeof FAILED = PENDING;
  #value: unknown = undefined;
  /** The call this handle waits for, while pending. */
  #call: PendingCall | undefined;

  static {
    settleResult = (result, ok, value) => {
      result.#settle(ok, value);
    };
    setSource = (result, call) => {
      if (result.#state === PENDING) result.#call = call;
    };
  }

  /**
   * How `console.log` and `util.inspect` show a result: `EventualResult { <pending> }`,
   * `EventualResult { 3 }`, or `EventualResult { <failed> Error: ... }`, as far as this
   * thread knows now. Looking does not count as retrieving a failure.
   * @internal (left out of the declarations, which would need `@types/node` for it)
   */
  [inspect.custom](depth: number, options: InspectOptionsStylized): string {
    if (this.#state === PENDING) return `EventualResult { ${options.stylize('<pending>', 'special')} }`;
    if (depth < 0) return options.stylize('[EventualResult]', 'special');
    const inner = options.depth === null || options.depth === undefined ? options.depth : options.depth - 1;
    const shown = inspect(this.#value, { ...options, depth: inner });
    return this.#state === FAILED ? `EventualResult { <failed> ${shown} }` : `EventualResult { ${shown} }`;
  }

  /** Not for use: results come from `runInReactor` wrappers and `retrieveResult()`. */
  constructor(token: never) {
    if ((token as unknown) !== constructing) {
      throw new TypeError('EventualResult cannot be constructed directly; call a runInReactor() wrapper to get one');
    }
  }

  /**
   * Blocks the calling thread until the outcome is known or `timeout` ms pass, then
   * returns the value or throws the error the function threw (rebuilt in this thread).
   *
   * @param timeout milliseconds, >= 0; `Infinity` waits as long as it takes (and still
   *   wakes at once if the reactor stops).
   * @throws {TimeoutError} if no outcome arrived in time; the result is unchanged, so a
   *   later `wait()` may still succeed. The operation is not cancelled: call `cancel()`.
   * @throws {ReactorStoppedError} if the reactor stopped before the outcome was known.
   * @throws {CancelledError} if the result was cancelled.
   * @throws {CrochetError} `ERR_CROCHET_REACTOR_THREAD` when called in the reactor
   *   thread, where blocking would deadlock.
   */
  wait(timeout: number): T {
    if (isReactorThread()) {
      throw new CrochetError(
        'ERR_CROCHET_REACTOR_THREAD',
        'EventualResult.wait() was called in the reactor thread, where blocking would deadlock the reactor; in reactor code, await the work itself instead',
      );
    }
    checkTimeout(timeout, 'timeout');
    const call = this.#call;
    if (this.#state === PENDING && call !== undefined) {
      if (!call.block(() => this.#state !== PENDING, timeout)) {
        const error = new TimeoutError(`EventualResult.wait() timed out after ${timeout} ms`);
        stackFrom(error, EventualResult.prototype.wait);
        throw error;
      }
    }
    if (this.#state === FAILED) {
      unretrieved.unregister(this);
      throw this.#value;
    }
    return this.#value as T;
  }

  /**
   * Cancels the operation, best effort, from whichever thread holds this handle. A
   * result still pending settles at once with a `CancelledError`, every other thread's
   * handle on it too, and the call's `abortSignal()` in the reactor is aborted with that
   * error as its reason. On a settled result it changes nothing; an outcome that has
   * already reached this thread (unseen, while it was busy) counts as settled. Never
   * throws, never blocks; may be called any number of times.
   */
  cancel(): void {
    // An outcome that has arrived already stands (as it would after wait(0)).
    if (this.#state === PENDING) this.#call?.poll();
    if (this.#state !== PENDING) return;
    const error = new CancelledError('The result was cancelled with cancel() before it was known');
    stackFrom(error, EventualResult.prototype.cancel);
    const call = this.#call;
    this.#settle(false, error);
    if (call === undefined) return;
    if (channels.callCancel.hasSubscribers) channels.callCancel.publish({ id: call.id });
    call.cancel();
  }

  /**
   * Stores this result under a new unguessable id, for `retrieveResult(id)` to return
   * once, in this thread or any other. This handle stays usable.
   *
   * @throws {ReactorStoppedError} if the reactor has stopped.
   * @throws {TimeoutError} if the reactor did not take the result within 10 s (its
   *   thread is busy running synchronous code).
   */
  stash(): string {
    // The Web Crypto global: no module to load at start-up for the rare stash().
    const id = globalThis.crypto.randomUUID();
    const call = this.#call;
    if (this.#state === PENDING && call !== undefined && call.stash(id, this)) return id;
    access('stash()').stashOutcome(id, this, this.#outcome());
    return id;
  }

  /**
   * The error the function threw, as rebuilt in this thread (with the reactor's stack),
   * or `undefined` if there is no outcome yet or it was a success. Never blocks, but
   * takes in an outcome that has arrived already, as `wait(0)` would (even while this
   * thread was busy). A failure returned here counts as retrieved: it is not reported
   * when the result is garbage-collected.
   */
  originalFailure(): unknown {
    if (this.#state === PENDING) this.#call?.poll();
    if (this.#state !== FAILED) return undefined;
    unretrieved.unregister(this);
    return this.#value;
  }

  /** The outcome as data, for the stash. */
  #outcome(): Outcome {
    return this.#state === FAILED ? { ok: false, error: encodeFailure(this.#value) } : { ok: true, value: this.#value };
  }

  /** Receives the outcome; the first one wins. */
  #settle(ok: boolean, value: unknown): void {
    if (this.#state !== PENDING) return;
    this.#state = ok ? SUCCEEDED : FAILED;
    this.#value = value;
    this.#call = undefined;
    // Cancellations and an orderly shutdown's stops need nobody's attention.
    if (
      !ok &&
      !(value instanceof CancelledError) &&
      !(typeof value === 'object' && value !== null && expectedFailures.has(value))
    ) {
      unretrieved.register(this, value, this);
    }
  }
}

/** Creates a pending result; its source is given with {@link feed}. @internal */
export function pendingResult<T>(): EventualResult<T> {
  return new EventualResult<T>(constructing as never);
}

/** Gives a pending result its call (what `cancel()` reaches and `wait()` blocks on). @internal */
export function feed(result: EventualResult<unknown>, call: PendingCall): void {
  setSource(result, call);
}

/** A receiver that settles `result`. @internal */
export function settlerOf(result: EventualResult<unknown>): Settle {
  return (ok, value) => {
    settleResult(result, ok, value);
  };
}

/** Creates a result that has its outcome already. @internal */
export function settledResult<T>(ok: boolean, value: unknown): EventualResult<T> {
  const result = pendingResult<T>();
  settleResult(result, ok, value);
  return result;
}

/**
 * Returns the result stashed under `id` by `EventualResult.stash()`, in any thread of
 * the process, and forgets it: a second retrieve of the same id throws. Stash it again
 * to keep it. In the thread that stashed it, this is the very same handle.
 *
 * `T` is not checked: an id is only a string, so `retrieveResult<Rate>(id)` is a cast,
 * as unchecked as `as Rate`, and nothing at run time tells you if the stashed result
 * holds something else. Leave it `unknown` (the default) and narrow the value `wait()`
 * returns, or keep the id beside the type it stands for.
 *
 * @example
 * ```ts
 * const value = retrieveResult(id).wait(1000); // unknown
 * if (typeof value === 'number') use(value);
 * ```
 * @throws {CrochetError} `ERR_CROCHET_UNKNOWN_RESULT` if no result is stashed under `id`
 *   (never stashed, or already retrieved).
 * @throws {TimeoutError} if the reactor did not answer within 10 s (its thread is busy
 *   running synchronous code); the result then stays stashed, for a later retrieve.
 */
export function retrieveResult<T = unknown>(id: string): EventualResult<T> {
  if (typeof id !== 'string') {
    throw new TypeError(`Expected \`id\` to be a string returned by stash(), got ${describe(id)}`);
  }
  const result = pendingResult<T>();
  const found = access('retrieveResult()').retrieve(id, settlerOf(result));
  switch (found?.kind) {
    case undefined:
      throw unknownResult(id);
    case 'own':
      return found.handle as EventualResult<T>;
    case 'settled':
      return settledResult(found.ok, found.value);
    case 'pending':
      feed(result, found.call);
      return result;
  }
}
