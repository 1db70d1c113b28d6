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
  | 'ERR_CROCHET_DATA_CLONE'
  | 'ERR_CROCHET_BUNDLED';

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

/** Names of crochet's own classes, which always cross threads as themselves. @internal */
export const crochetErrorClasses = {
  CrochetError,
  TimeoutError,
  ReactorStoppedError,
  CancelledError,
} as const;

/**
 * Points `error`'s stack at the caller of `fn`. Bun drops the frames of functions that
 * returned a call in tail position, so there `fn` may have no frame at all, or the stack
 * below it still start inside crochet: the stack is then taken here and crochet's own
 * leading frames (those of this module's directory) are left out, so that it starts at the
 * user's code all the same. If nothing but crochet's frames would remain, they stay: some
 * stack is better than none.
 * @internal
 */
export function stackFrom(error: Error, fn: (...args: never[]) => unknown): void {
  /** The frame lines of `stack`, if it is `head` followed by them (the usual format). */
  const framesOf = (stack: unknown, head: string): string[] | undefined => {
    if (stack === head) return [];
    if (typeof stack !== 'string' || !stack.startsWith(`${head}\n`)) return undefined;
    return stack.slice(head.length + 1).split('\n');
  };
  /** The directory of a frame's file, as the runtime wrote it. */
  const directoryOf = (frame: string): string | undefined => {
    const file = /(?:\(|\bat )([^()]*):\d+:\d+\)?\s*$/.exec(frame)?.[1] ?? '';
    const end = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'));
    return end < 0 ? undefined : file.slice(0, end + 1);
  };

  Error.captureStackTrace(error, fn);
  const head = Error.prototype.toString.call(error);
  const frames = framesOf(error.stack, head);
  if (frames === undefined) {
    // A format of the application's own (Error.prepareStackTrace): at least some stack.
    if (!String(error.stack).includes('\n')) Error.captureStackTrace(error, stackFrom);
    return;
  }
  const probe: { stack?: unknown } = {};
  Error.captureStackTrace(probe);
  // The probe's first frame is this function's: where crochet's code is.
  const own = directoryOf(framesOf(probe.stack, 'Error')?.[0] ?? '');
  const isOwn = (frame: string): boolean => own !== undefined && directoryOf(frame) === own;
  if (frames[0] !== undefined && !isOwn(frames[0])) return;

  const limit = Error.stackTraceLimit;
  if (Number.isFinite(limit)) Error.stackTraceLimit = limit + 10;
  try {
    Error.captureStackTrace(error, stackFrom);
  } finally {
    Error.stackTraceLimit = limit;
  }
  const all = framesOf(error.stack, head) ?? [];
  const start = all.findIndex((frame) => !isOwn(frame));
  const kept = start === -1 ? all : all.slice(start);
  error.stack = [head, ...(Number.isFinite(limit) ? kept.slice(0, limit) : kept)].join('\n');
}
