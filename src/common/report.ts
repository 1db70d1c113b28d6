/**
 * Where output goes: the records of reactor code, and crochet's own reports.
 *
 * Everything ends up in the thread that called `setup()` (the *sink*): written to its
 * stdout/stderr exactly as reactor code wrote it, or handed to the logger given to
 * `setup({ logger })`. Other threads pass their reports to the reactor, which passes
 * them on; the reactor thread sends its records directly.
 */
import { writeSync } from 'node:fs';
import { inspect } from 'node:util';
import { describe } from '../api/options.js';
import { LEVELS, type Level } from '../wire/messages.js';
import { CH_BACKLOG, CH_OUTPUT } from '../wire/layout.js';

/**
 * A logger for the reactor's output: console, pino, winston, or any object with these
 * four methods. Each receives one string per write of reactor code, formatted as
 * `console` formats it, without the trailing newline.
 */
export interface Logger {
  /** Gets `console.debug` and `console.trace` writes. */
  debug(message: string): unknown;
  /** Gets `console.log` and `console.info` writes, and other writes to stdout. */
  info(message: string): unknown;
  /** Gets `console.warn` writes and process warnings. */
  warn(message: string): unknown;
  /** Gets `console.error` writes, other writes to stderr, and crochet's error reports. */
  error(message: string): unknown;
}

let logger: Logger | undefined;
/** Set in the reactor thread: sends a record to the sink. */
let emitter: ((level: Level, fd: 1 | 2, text: string | Uint8Array) => void) | undefined;
/** Set in caller threads that are not the sink: sends a report to the reactor. */
let forwarder: ((text: string) => void) | undefined;
let isSink = false;

/** Checks a `logger` option. @internal */
export function checkLogger(value: unknown): Logger {
  const missing = LEVELS.filter((level) => typeof (value as Record<string, unknown> | null)?.[level] !== 'function');
  if (typeof value !== 'object' || value === null || missing.length > 0) {
    throw new TypeError(
      `Expected \`options.logger\` to be an object with debug, info, warn and error methods (console, pino, winston), got ${describe(value)}${missing.length > 0 && typeof value === 'object' && value !== null ? ` (missing: ${missing.join(', ')})` : ''}`,
    );
  }
  return value as Logger;
}

/** Makes this thread the sink of the reactor's output. @internal */
export function becomeSink(chosen: Logger | undefined): void {
  isSink = true;
  logger = chosen;
}

/** @internal */
export function setEmitter(emit: typeof emitter): void {
  emitter = emit;
}

/** @internal */
export function setForwarder(forward: typeof forwarder): void {
  forwarder = forward;
}

/**
 * Delivers a record in this (the sink) thread: to the logger, or to stdout/stderr as
 * written. A logger that throws breaks nothing.
 * @internal
 */
export function deliver(level: Level, fd: 1 | 2, chunk: string | Uint8Array): void {
  if (logger === undefined) {
    (fd === 1 ? process.stdout : process.stderr).write(chunk);
    return;
  }
  const text =
    typeof chunk === 'string' ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString();
  try {
    logger[level](text.endsWith('\n') ? text.slice(0, -1) : text);
  } catch {
    // A logger that throws must not break the reactor's output, nor the caller.
  }
}

/** Output this thread's stdout and stderr hold, not yet written out (0 with a logger). @internal */
export function outputBacklog(): number {
  if (logger !== undefined) return 0;
  return (process.stdout.writableLength || 0) + (process.stderr.writableLength || 0);
}

/** The box told of the backlog when stdout or stderr drains (the sink's), once listening. */
let backlogBox: Int32Array | undefined;

/** Keeps `box`'s backlog up to date as stdout and stderr drain (see Engine.emit()). @internal */
export function watchBacklog(box: Int32Array): void {
  if (backlogBox === box) return;
  const first = backlogBox === undefined;
  backlogBox = box;
  if (!first) return;
  const update = (): void => {
    if (backlogBox === undefined) return;
    Atomics.store(backlogBox, CH_BACKLOG, outputBacklog());
    Atomics.notify(backlogBox, CH_OUTPUT);
  };
  process.stdout.on('drain', update);
  process.stderr.on('drain', update);
}

/** The resource name of a stream's handle in `process.getActiveResourcesInfo()`. */
function resourceOf(stream: NodeJS.WriteStream): string | undefined {
  const handle = (stream as { _handle?: { constructor?: { name?: unknown } } | null })._handle;
  const name = handle?.constructor?.name;
  return typeof name === 'string' ? `${name}Wrap` : undefined;
}

/**
 * Whether nothing keeps this process alive but stdout and stderr writing out what they
 * hold (their pending writes, and their handles while they have some): the application
 * has nothing left to do. False where Node cannot tell.
 * @internal
 */
export function onlyOutputAlive(): boolean {
  const info = (process as { getActiveResourcesInfo?: () => string[] }).getActiveResourcesInfo;
  if (typeof info !== 'function') return false;
  const writing: (string | undefined)[] = [process.stdout, process.stderr]
    .filter((stream) => stream.writableLength > 0)
    .map(resourceOf);
  for (const resource of info.call(process)) {
    if (resource.endsWith('WriteWrap') || resource === 'ShutdownWrap') continue;
    const index = writing.indexOf(resource);
    if (index < 0) return false;
    writing.splice(index, 1);
  }
  return true;
}

/** Reports an error of crochet's own (an unhandled failure, a failing hook), at error level. @internal */
export function reportError(what: string, error?: unknown): void {
  const text = `crochet: ${what}${error === undefined ? '' : `:\n${inspect(error)}`}\n`;
  if (emitter !== undefined) emitter('error', 2, text);
  else if (isSink) deliver('error', 2, text);
  else if (forwarder !== undefined) forwarder(text);
  else writeStderr(text);
}

/** Writes to the process's stderr at once, bypassing streams (for when nothing else works). @internal */
export function writeStderr(text: string | Uint8Array): void {
  try {
    if (typeof text === 'string') writeSync(2, text);
    else writeSync(2, text);
  } catch {
    // stderr is gone; nothing else can be done.
  }
}
