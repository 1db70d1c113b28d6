/**
 * Capturing what reactor code writes, in the reactor thread.
 *
 * Node pipes a worker's stdout and stderr to the main thread asynchronously: while the
 * main thread is blocked in a call, that output waits, and when the process exits it is
 * lost. So in the reactor thread, `process.stdout.write` and `process.stderr.write` are
 * replaced: each write becomes a record sent over the channel of the thread that called
 * `setup()`, which writes it out (or logs it) before a blocking call returns. Console
 * methods and warnings only set the level of the writes they make, so their formatting
 * (groups, tables, traces) is exactly `console`'s.
 */
import type { Level } from '../wire/messages.js';

const consoleLevels: Readonly<Record<string, Level>> = {
  debug: 'debug',
  trace: 'debug',
  log: 'info',
  info: 'info',
  dir: 'info',
  dirxml: 'info',
  table: 'info',
  group: 'info',
  groupCollapsed: 'info',
  count: 'info',
  timeLog: 'info',
  timeEnd: 'info',
  warn: 'warn',
  error: 'error',
  assert: 'error',
};

/**
 * What one write of reactor code carries: text, or bytes exactly as given (a `Buffer`, a
 * `Uint8Array`, or a string with an encoding other than UTF-8, turned into its bytes here
 * as the stream would have).
 */
export type Chunk = string | Uint8Array;

/** What a write of `chunk` with `encoding` puts out, as `stream.write()` would; throws as it would. */
export function chunkOf(chunk: unknown, encoding: unknown): Chunk {
  if (typeof chunk === 'string') {
    if (typeof encoding !== 'string' || /^utf-?8$/i.test(encoding)) return chunk;
    // Throws ERR_UNKNOWN_ENCODING for an unknown encoding, as the stream would.
    if (!Buffer.isEncoding(encoding)) {
      const error = new TypeError(`Unknown encoding: ${encoding}`);
      Object.defineProperty(error, 'code', { value: 'ERR_UNKNOWN_ENCODING', enumerable: false });
      throw error;
    }
    return Uint8Array.prototype.slice.call(Buffer.from(chunk, encoding));
  }
  if (chunk instanceof Uint8Array) {
    // A copy of just these bytes (a Buffer may be a view of a larger pool).
    return Uint8Array.prototype.slice.call(chunk);
  }
  const error = new TypeError(
    `The "chunk" argument must be of type string or an instance of Buffer or Uint8Array. Received ${chunk === null ? 'null' : typeof chunk}`,
  );
  Object.defineProperty(error, 'code', { value: 'ERR_INVALID_ARG_TYPE', enumerable: false });
  throw error;
}

/** Routes every write of this thread to `emit`. */
export function captureOutput(emit: (level: Level, fd: 1 | 2, chunk: Chunk) => void): void {
  let level: Level | undefined;

  const write = (fd: 1 | 2) =>
    function (this: unknown, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
      emit(level ?? (fd === 1 ? 'info' : 'error'), fd, chunkOf(chunk, encoding));
      const done = typeof encoding === 'function' ? encoding : callback;
      if (typeof done === 'function') process.nextTick(done);
      return true;
    };
  process.stdout.write = write(1);
  process.stderr.write = write(2);

  const methods = console as unknown as Record<string, (...args: unknown[]) => void>;
  for (const [name, methodLevel] of Object.entries(consoleLevels)) {
    const original = methods[name];
    if (typeof original !== 'function') continue;
    methods[name] = function (this: unknown, ...args: unknown[]) {
      const outer = level;
      // The outermost method decides: console.trace() writes through console.error().
      level = outer ?? methodLevel;
      try {
        original.apply(console, args);
      } finally {
        level = outer;
      }
    };
  }

  // Node prints warnings from a 'warning' listener: writes made while it runs are warnings.
  const emitEvent = process.emit.bind(process) as (event: string | symbol, ...args: unknown[]) => boolean;
  (process as { emit: (event: string | symbol, ...args: unknown[]) => boolean }).emit = (event, ...args) => {
    if (event !== 'warning') return emitEvent(event, ...args);
    const outer = level;
    level = outer ?? 'warn';
    try {
      return emitEvent(event, ...args);
    } finally {
      level = outer;
    }
  };
}
