/**
 * `crochet/synckit`: synckit's API (`createSyncFn`, `runAsWorker`) with crochet underneath.
 * Each worker file gets an isolated reactor (caller/isolated.ts): its own thread, with its
 * own `execArgv`, globals and module cache, whose death fails only its own function, with
 * an error, never a hang. Calls take crochet's wire (small values by the lane), output comes
 * out in order, and errors keep their class, fields and cause.
 */
import { isAbsolute } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, workerData, type Transferable } from 'node:worker_threads';
import { CrochetError, stackFrom, TimeoutError } from '../api/errors.js';
import { registerSole, SOLE_FINGERPRINT, type WrapperId } from '../api/registry.js';
import { callThrough } from '../api/wrappers.js';
import { describe } from '../api/options.js';
import type { Connection } from '../caller/connection.js';
import { startIsolated } from '../caller/isolated.js';
import type { GlobalShimData, ReactorData } from '../wire/messages.js';
import { resolveWorker, TsRunner } from './runners.js';

/** Any function (synckit's `AnyFn`): what `createSyncFn` is typed with. */
export type AnyFn<R = unknown, T extends unknown[] = never[]> = (...args: T) => R;

/** The synchronous version of `T`: same parameters, its awaited result. */
export type Syncify<T extends AnyFn> = (...args: Parameters<T>) => Awaited<ReturnType<T>>;

/** A global the worker gets before its file loads (synckit's `globalShims` entries). */
export interface GlobalShim {
  /** The module to load, resolved from the worker file. */
  moduleName: string;
  /** The global to set; without it the module is only loaded. */
  globalName?: string;
  /** The export to take: a name, `null` for the whole module, or nothing for its default export. */
  named?: string | null;
  /** `false`: set the global even where it exists. @default true */
  conditional?: boolean;
}

/** Options of {@link createSyncFn}, as synckit's. */
export interface SynckitOptions {
  /**
   * Extra `execArgv` of the worker's thread, after the process's own (which it keeps, unlike
   * synckit's). @default `SYNCKIT_EXEC_ARGV` split at commas
   */
  execArgv?: string[];
  /**
   * Globals to set in the worker before its file loads: `true` for synckit's preset (`fetch`
   * from node-fetch-native where installed, `performance` from node:perf_hooks). Modules that
   * cannot be resolved from the worker file are left out. @default `SYNCKIT_GLOBAL_SHIMS` is `1` or `true`
   */
  globalShims?: GlobalShim[] | boolean;
  /**
   * How long each call may block, in ms; a call that takes longer throws, its late reply is
   * dropped, and later calls work. @default `SYNCKIT_TIMEOUT`, else no limit
   */
  timeout?: number;
  /**
   * Objects moved (not copied) to the worker's thread as it starts: ArrayBuffers, MessagePorts…
   * (spelt out, so that these types need no @types/node).
   */
  transferList?: (
    | ArrayBuffer
    | { postMessage(message: never): void; close(): void }
    | { readonly locked: boolean }
    | { readonly readable: object; readonly writable: object }
  )[];
  /** The TypeScript runner for a `.ts`/`.cts`/`.mts` worker. @default `SYNCKIT_TS_RUNNER`, else as synckit picks */
  tsRunner?: TsRunner;
}

/** synckit's preset for `globalShims: true`. */
const GLOBAL_SHIMS_PRESET: readonly GlobalShim[] = [
  { moduleName: 'node-fetch-native', globalName: 'fetch', named: 'fetch' },
  { moduleName: 'node:perf_hooks', globalName: 'performance', named: 'performance' },
];

/** The synchronous functions made so far, by worker path (as given, before the extension mapping). */
const byPath = new Map<string, (...args: unknown[]) => unknown>();

/** The environment's defaults, read when a function is made (synckit reads them at import). */
function environmentDefaults(): {
  timeout: number | undefined;
  execArgv: string[];
  tsRunner: string | undefined;
  globalShims: boolean;
} {
  const env = process.env;
  let timeout: number | undefined;
  const rawTimeout = env['SYNCKIT_TIMEOUT'];
  if (rawTimeout !== undefined && rawTimeout !== '') {
    timeout = Number(rawTimeout);
    if (!(timeout >= 0)) {
      throw new RangeError(
        `Expected the SYNCKIT_TIMEOUT environment variable to be a number of milliseconds >= 0, got ${JSON.stringify(rawTimeout)}`,
      );
    }
  }
  const rawArgv = env['SYNCKIT_EXEC_ARGV'] ?? '';
  const rawRunner = env['SYNCKIT_TS_RUNNER'];
  return {
    timeout,
    execArgv: rawArgv.split(',').filter((arg) => arg !== ''),
    tsRunner: rawRunner === '' ? undefined : rawRunner,
    globalShims: ['1', 'true'].includes(env['SYNCKIT_GLOBAL_SHIMS'] ?? ''),
  };
}

function checkSynckitOptions(timeoutOrOptions: unknown): SynckitOptions {
  if (timeoutOrOptions === undefined || timeoutOrOptions === null) return {};
  if (typeof timeoutOrOptions === 'number') return { timeout: timeoutOrOptions };
  if (typeof timeoutOrOptions !== 'object') {
    throw new TypeError(
      `Expected the second argument of createSyncFn() to be a timeout in ms or an options object, got ${describe(timeoutOrOptions)}`,
    );
  }
  return timeoutOrOptions;
}

/** The shims to set, resolved from the worker file; those that cannot be resolved are left out. */
function resolveShims(shims: readonly GlobalShim[], workerPath: string, esm: boolean): GlobalShimData[] {
  const require = createRequire(workerPath);
  const resolved: GlobalShimData[] = [];
  for (const shim of shims) {
    if (typeof shim !== 'object' || shim === null || typeof shim.moduleName !== 'string') {
      throw new TypeError(
        `Expected each entry of \`options.globalShims\` to be an object with a string \`moduleName\`, got ${describe(shim)}`,
      );
    }
    let where: string;
    try {
      where = isAbsolute(shim.moduleName) ? shim.moduleName : require.resolve(shim.moduleName);
    } catch {
      continue;
    }
    resolved.push({
      specifier: esm && isAbsolute(where) ? pathToFileURL(where).href : where,
      require: !esm,
      globalName: shim.globalName,
      named: shim.named,
      conditional: shim.conditional !== false,
    });
  }
  return resolved;
}

/** synckit's words for a call that timed out, kept so that code matching them still does. */
const TIMED_OUT = 'Internal error: Atomics.wait() failed: timed-out';

/**
 * Makes a synchronous function of the function a worker file serves with
 * {@link runAsWorker}. The file runs in an isolated reactor of its own (a thread with its
 * own `execArgv`, globals and modules), started now and never keeping the process alive.
 * One function per path: a later call with the same path returns the same function, and
 * its options are ignored.
 *
 * A call blocks until the worker's function settles and returns its value, or throws its
 * error (rebuilt with its class, `code`, fields and `cause`). It throws `TimeoutError`
 * (whose message starts with synckit's `Internal error: Atomics.wait() failed: timed-out`)
 * after `timeout` ms, and `ReactorStoppedError`, with the cause, once the worker's thread
 * exited or crashed: never a hang.
 *
 * @param workerPath an absolute path, a `file:` URL string, or a `URL`. A `.js` path is
 *   served by the `.ts` file beside it if there is one (`.cjs` → `.cts`, `.mjs` → `.mts`).
 * @throws {Error} `` `workerPath` must be absolute `` for a relative path; Node's error for a
 *   URL that is not a file URL; synckit's errors for a TypeScript runner that cannot load the file.
 */
export function createSyncFn<T extends AnyFn>(
  workerPath: URL | string,
  timeoutOrOptions?: SynckitOptions | number,
): Syncify<T> {
  let path: string;
  if (typeof workerPath !== 'string' || workerPath.startsWith('file://')) path = fileURLToPath(workerPath);
  else path = workerPath;
  const cached = byPath.get(path);
  if (cached !== undefined) return cached as Syncify<T>;
  if (!isAbsolute(path)) throw new Error('`workerPath` must be absolute');

  const options = checkSynckitOptions(timeoutOrOptions);
  const defaults = environmentDefaults();
  const timeout = options.timeout ?? defaults.timeout;
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) {
    throw new RangeError(`Expected \`options.timeout\` to be a number of milliseconds >= 0, got ${describe(timeout)}`);
  }
  const execArgv = options.execArgv ?? defaults.execArgv;
  if (!Array.isArray(execArgv) || execArgv.some((arg) => typeof arg !== 'string')) {
    throw new TypeError(`Expected \`options.execArgv\` to be an array of strings, got ${describe(execArgv)}`);
  }
  const tsRunner = (options.tsRunner ?? defaults.tsRunner) as TsRunner | undefined;
  const worker = resolveWorker(path, execArgv, tsRunner);
  const shimOption = options.globalShims ?? defaults.globalShims;
  const shims = shimOption === true ? GLOBAL_SHIMS_PRESET : Array.isArray(shimOption) ? shimOption : [];
  const moved = (options.transferList ?? []) as unknown as Transferable[];
  if (!Array.isArray(moved)) {
    throw new TypeError(`Expected \`options.transferList\` to be an array, got ${describe(moved)}`);
  }

  const module = worker.esm ? pathToFileURL(worker.path).href : worker.path;
  const connection: Connection = startIsolated({
    module,
    execArgv: worker.execArgv,
    shims: resolveShims(shims, worker.path, worker.esm),
    moved,
  });
  const id: WrapperId = { module, index: 0, fingerprint: SOLE_FINGERPRINT, name: '', line: 0 };
  const limit = timeout ?? Infinity;
  const syncFn = (...args: unknown[]): unknown => {
    try {
      return callThrough(connection, id, '', args, limit, syncFn);
    } catch (error) {
      throw translate(error, worker.path, limit, syncFn);
    }
  };
  byPath.set(path, syncFn);
  return syncFn as Syncify<T>;
}

/** crochet's errors of a call, in words that speak of worker files. */
function translate(error: unknown, path: string, timeout: number, syncFn: (...args: never[]) => unknown): unknown {
  if (error instanceof TimeoutError && error.code === 'ERR_CROCHET_TIMEOUT') {
    const timedOut = new TimeoutError(`${TIMED_OUT}: the worker ${path} did not answer within ${timeout} ms`, {
      cause: error,
    });
    stackFrom(timedOut, syncFn);
    return timedOut;
  }
  if (
    error instanceof CrochetError &&
    error.code === 'ERR_CROCHET_UNKNOWN_FUNCTION' &&
    (error as { cause?: unknown }).cause === undefined
  ) {
    const unknown = new CrochetError(
      'ERR_CROCHET_UNKNOWN_FUNCTION',
      `The worker ${path} loaded, but did not call runAsWorker(fn) from crochet/synckit: a worker file of createSyncFn() must call it at its top level (the runAsWorker of the synckit package itself does nothing in crochet's threads)`,
    );
    stackFrom(unknown, syncFn);
    return unknown;
  }
  return error;
}

/**
 * Serves the calls of {@link createSyncFn}'s function for this worker file: each call runs
 * `await fn(...args)`. Call it once, at the top level of the worker file. Anywhere else
 * than in that file's thread (the main thread, crochet's own reactor, a plain worker) it
 * does nothing.
 */
export function runAsWorker<T extends AnyFn<Promise<R> | R>, R = ReturnType<T>>(fn: T): void {
  if (isMainThread) return;
  const data = workerData as Partial<ReactorData> | null | undefined;
  const module = data?.isolated?.module;
  if (typeof module !== 'string') return;
  if (typeof fn !== 'function') {
    throw new TypeError(`Expected the argument of runAsWorker() to be a function, got ${describe(fn)}`);
  }
  registerSole(
    module,
    async (...args: never[]) => await (fn as unknown as (...a: unknown[]) => unknown)(...(args as unknown[])),
  );
}

export { TsRunner };
