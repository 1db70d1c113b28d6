/**
 * Crochet's error classes. Every error crochet itself raises extends
 * {@link CrochetError} and carries a stable string `code`.
 *
 * `instanceof` is answered by a `Symbol.for` brand rather than by the prototype
 * chain alone, so it still holds when two copies of the package are loaded or when
 * an error was rebuilt after crossing threads.
 */

/** Every `code` a {@link CrochetError} can have. */
export type CrochetErrorCode =
  | 'ERR_CROCHET_TIMEOUT'
  | 'ERR_CROCHET_REACTOR_STOPPED'
  | 'ERR_CROCHET_CANCELLED'
  | 'ERR_CROCHET_NOT_SET_UP'
  | 'ERR_CROCHET_ALREADY_SET_UP'
  | 'ERR_CROCHET_MAIN_THREAD_ONLY'
  | 'ERR_CROCHET_REACTOR_THREAD'
  | 'ERR_CROCHET_UNKNOWN_RESULT'
  | 'ERR_CROCHET_UNKNOWN_FUNCTION'
  | 'ERR_CROCHET_DATA_CLONE';

const kBrand = Symbol.for('crochet.error.code');

interface Branded {
  readonly [kBrand]?: unknown;
}

function brandOf(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return undefined;
  return (value as Branded)[kBrand];
}

/**
 * The base class of every error crochet raises. `code` tells the cases apart and is
 * stable across versions; messages may be reworded.
 */
export class CrochetError extends Error {
  /** A stable identifier such as `ERR_CROCHET_TIMEOUT`. */
  readonly code: CrochetErrorCode;

  constructor(code: CrochetErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    Object.defineProperty(this, kBrand, { value: code, enumerable: false });
  }

  /**
   * `instanceof` also recognises errors made by another copy of this package (two
   * versions installed side by side), by the code they carry.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    // Another copy of this package made the error: match it by its brand.
    const brand = brandOf(value);
    if (typeof brand !== 'string') return false;
    if (this === CrochetError) return true;
    return Object.hasOwn(this, 'brandCode') && (this as { readonly brandCode?: unknown }).brandCode === brand;
  }
}
Object.defineProperty(CrochetError.prototype, 'name', { value: 'CrochetError', writable: true, configurable: true });

/**
 * A blocking call or `wait()` ran out of time. Created in the calling thread, so its
 * stack shows the caller. After a `waitFor` timeout the call's `abortSignal()` is
 * aborted with this error as its reason; a `wait()` timeout changes nothing.
 */
export class TimeoutError extends CrochetError {
  /** The `code` of these errors, by which `instanceof` knows them across copies of the package. */
  static readonly brandCode = 'ERR_CROCHET_TIMEOUT';
  constructor(message = 'The operation timed out', options?: ErrorOptions) {
    super('ERR_CROCHET_TIMEOUT', message, options);
  }
}
Object.defineProperty(TimeoutError.prototype, 'name', { value: 'TimeoutError', writable: true, configurable: true });

/**
 * The reactor stopped (shut down or died) before the result was known, so no result
 * will ever arrive. When the reactor died, `cause` says why.
 */
export class ReactorStoppedError extends CrochetError {
  /** The `code` of these errors, by which `instanceof` knows them across copies of the package. */
  static readonly brandCode = 'ERR_CROCHET_REACTOR_STOPPED';
  constructor(message = 'The reactor has stopped; no result will arrive', options?: ErrorOptions) {
    super('ERR_CROCHET_REACTOR_STOPPED', message, options);
  }
}
Object.defineProperty(ReactorStoppedError.prototype, 'name', {
  value: 'ReactorStoppedError',
  writable: true,
  configurable: true,
});

/** The result was cancelled with `cancel()` before it was known. */
export class CancelledError extends CrochetError {
  /** The `code` of these errors, by which `instanceof` knows them across copies of the package. */
  static readonly brandCode = 'ERR_CROCHET_CANCELLED';
  constructor(message = 'The operation was cancelled', options?: ErrorOptions) {
    super('ERR_CROCHET_CANCELLED', message, options);
  }
}
Object.defineProperty(CancelledError.prototype, 'name', {
  value: 'CancelledError',
  writable: true,
  configurable: true,
});

/** Names of crochet's own classes, which always cross threads as themselves. */
export const crochetErrorClasses = {
  CrochetError,
  TimeoutError,
  ReactorStoppedError,
  CancelledError,
} as const;

/**
 * Points `error`'s stack at the caller of `fn`. Where the runtime finds no frame of `fn`
 * (Bun, for some functions) and would leave no frame at all, the stack starts here
 * instead, inside crochet: some stack is better than none.
 */
export function stackFrom(error: Error, fn: (...args: never[]) => unknown): void {
  Error.captureStackTrace(error, fn);
  if (!(error.stack ?? '').includes('\n')) Error.captureStackTrace(error, stackFrom);
}
