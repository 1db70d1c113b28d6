/**
 * EventualResult: the handle `runInReactor` returns, and the store behind
 * `stash()`/`retrieveResult()`.
 */
import { randomUUID } from 'node:crypto';
import type { Connection } from './connection.js';
import type { CallContext } from './context.js';
import { CancelledError, CrochetError, TimeoutError } from './errors.js';
import { checkTimeout, describe } from './options.js';
import { isReactorThread } from './thread.js';

const PENDING = 0;
const SUCCEEDED = 1;
const FAILED = 2;

/** How a result reaches its outcome: over a connection, or in this (the reactor) thread. */
export type Source =
  { readonly connection: Connection; readonly id: number } | { readonly context: CallContext } | undefined;

const constructing = Symbol('EventualResult');

let settleResult: (result: EventualResult<unknown>, ok: boolean, value: unknown) => void;
let setSource: (result: EventualResult<unknown>, source: Source) => void;

/**
 * The eventual outcome of a function started with a `runInReactor` wrapper.
 *
 * The first outcome is final: every later `wait()` returns the same value or throws
 * the same error. A `wait()` that times out changes nothing, so you may wait again.
 * Do not construct it yourself.
 */
export class EventualResult<T> {
  #state: typeof PENDING | typeof SUCCEEDED | typeof FAILED = PENDING;
  #value: unknown = undefined;
  #source: Source;

  static {
    settleResult = (result, ok, value) => {
      result.#settle(ok, value);
    };
    setSource = (result, source) => {
      if (result.#state === PENDING) result.#source = source;
    };
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
    if (this.#state === PENDING) {
      const source = this.#source;
      if (source !== undefined && 'connection' in source) {
        if (!source.connection.block(() => this.#state !== PENDING, timeout)) {
          const error = new TimeoutError(`EventualResult.wait() timed out after ${timeout} ms`);
          Error.captureStackTrace(error, EventualResult.prototype.wait);
          throw error;
        }
      }
    }
    return this.#take(true) as T;
  }

  /**
   * Cancels the operation, best effort. A result still pending settles at once with a
   * `CancelledError`, and the call's `abortSignal()` in the reactor is aborted with that
   * error as its reason. On a settled result it changes nothing. Never throws, never
   * blocks; may be called any number of times.
   */
  cancel(): void {
    if (this.#state !== PENDING) return;
    const error = new CancelledError('The result was cancelled with cancel() before it was known');
    Error.captureStackTrace(error, EventualResult.prototype.cancel);
    const source = this.#source;
    this.#settle(false, error);
    if (source === undefined) return;
    if ('connection' in source) source.connection.cancel(source.id, false);
    else source.context.abort(error);
  }

  /**
   * Stores this result under a new unguessable id, for `retrieveResult(id)` to return
   * later (once). This handle stays usable.
   */
  stash(): string {
    const id = randomUUID();
    stashed.set(id, this);
    return id;
  }

  /**
   * The error the function threw, as rebuilt in this thread (with the reactor's stack),
   * or `undefined` if there is no outcome yet or it was a success. Never blocks.
   */
  originalFailure(): unknown {
    return this.#state === FAILED ? this.#take(false) : undefined;
  }

  /** Receives the outcome; the first one wins. */
  #settle(ok: boolean, value: unknown): void {
    if (this.#state !== PENDING) return;
    this.#state = ok ? SUCCEEDED : FAILED;
    this.#value = value;
    this.#source = undefined;
  }

  #take(rethrow: boolean): unknown {
    if (this.#state === FAILED && rethrow) throw this.#value;
    return this.#value;
  }
}

/** Creates a pending result; `source` may be given later with {@link feed}. */
export function pendingResult<T>(): EventualResult<T> {
  return new EventualResult<T>(constructing as never);
}

/** Gives a pending result its source (what `cancel()` reaches and `wait()` blocks on). */
export function feed(result: EventualResult<unknown>, source: Source): void {
  setSource(result, source);
}

/** A receiver that settles `result`. */
export function settlerOf(result: EventualResult<unknown>): (ok: boolean, value: unknown) => void {
  return (ok, value) => {
    settleResult(result, ok, value);
  };
}

/** Creates a result that failed already. */
export function failedResult<T>(error: unknown): EventualResult<T> {
  const result = pendingResult<T>();
  settleResult(result, false, error);
  return result;
}

const stashed = new Map<string, EventualResult<unknown>>();

/**
 * Returns the result stashed under `id` by `EventualResult.stash()`, and forgets it:
 * a second retrieve of the same id throws. Stash it again to keep it.
 *
 * @throws {CrochetError} `ERR_CROCHET_UNKNOWN_RESULT` if no result is stashed under `id`
 *   (never stashed, or already retrieved).
 */
export function retrieveResult<T = unknown>(id: string): EventualResult<T> {
  if (typeof id !== 'string') {
    throw new TypeError(`Expected \`id\` to be a string returned by stash(), got ${describe(id)}`);
  }
  const result = stashed.get(id);
  if (result === undefined) {
    throw new CrochetError(
      'ERR_CROCHET_UNKNOWN_RESULT',
      `No result is stashed under id ${JSON.stringify(id)}: it was never stashed, or was already retrieved (each stash() id can be retrieved once; stash the result again to keep it)`,
    );
  }
  stashed.delete(id);
  return result as EventualResult<T>;
}
