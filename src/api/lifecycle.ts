/**
 * Starting and finding the reactor: `setup()`, `noSetup()`, and this thread's
 * connection.
 *
 * There is one reactor per process. The thread that calls `setup()` starts it (behind a
 * supervisor thread) and talks to it over a `MessagePort`. Every other thread finds it
 * on its own, the first time it needs it: threads created after `setup()`/`noSetup()`
 * inherit a hint (environment data) that it exists; any thread can ask the process-wide
 * directory broadcast channel, which the supervisor (or the `noSetup()` main thread)
 * answers. Either way the thread gets a pair of broadcast channels of its own.
 */
import { randomUUID } from 'node:crypto';
import {
  BroadcastChannel,
  MessageChannel,
  Worker,
  getEnvironmentData,
  isMainThread,
  setEnvironmentData,
  type ResourceLimits,
} from 'node:worker_threads';
import { Connection, setSpin } from '../caller/connection.js';
import { channels, trace } from '../common/diagnostics.js';
import { broadcastEndpoint, channelNames, portEndpoint } from '../wire/endpoint.js';
import { Engine } from '../reactor/engine.js';
import { CrochetError } from './errors.js';
import { checkFunction, checkOptions, checkTimeout, describe } from './options.js';
import {
  CTL_BYTES,
  CTL_STATE,
  CTL_WORK,
  DIRECTORY,
  ENVIRONMENT_KEY,
  Kind,
  SIG_BYTES,
  welcome,
  State,
  type HelloMessage,
  type ReactorHint,
  type SupervisorData,
} from '../wire/messages.js';
import { becomeSink, checkLogger, setForwarder, type Logger } from '../common/report.js';
import { becomeReactor, currentEngine, currentRole, setEngine } from '../common/thread.js';

/** Options of {@link setup}. Unknown keys are rejected, so typos show. */
export interface SetupOptions {
  /**
   * Where the reactor's output goes. By default, what reactor code writes (`console.*`,
   * `process.stdout.write`, `process.stderr.write`, warnings) is written to this
   * process's stdout and stderr exactly as it would have been in this thread. With a
   * logger (console, pino, winston, or any object with `debug`, `info`, `warn` and
   * `error` methods), each write becomes one call of the method of its level, with the
   * text as `console` formats it, minus the trailing newline: `console.debug` and
   * `console.trace` → debug; `console.log`, `console.info` and stdout writes → info;
   * `console.warn` and warnings → warn; `console.error`, stderr writes and errors
   * outside any call → error. Records are delivered in this thread, so a slow logger
   * never holds the reactor up, and one that throws breaks nothing.
   * @default undefined
   */
  readonly logger?: Logger;
  /**
   * How long a blocked caller watches for the reply before it parks its thread, in ms.
   * Waking a parked thread costs tens of microseconds, so for short calls a brief spin
   * is much faster; it costs that much CPU per call when the reply is slower, and a
   * caller whose calls keep outlasting the spin stops spinning for a while by itself.
   * 0 turns it off. Applies to this thread and threads created after it.
   * @default 0.05
   */
  readonly spin?: number;
  /**
   * How long the reactor keeps polling for the next call after one arrives, instead of
   * sleeping in its event loop, in ms (and three times that after it replied to a
   * blocked caller, which may take that long to wake and call again). Makes
   * back-to-back calls fast at the price of that much CPU per call; when calls come too
   * far apart to gain, the reactor stops doing it for a while by itself. 0 turns it off.
   * @default 0.1
   */
  readonly hot?: number;
  /**
   * Limits of the reactor thread's resources, as for `new Worker()`: its heap
   * (`maxOldGenerationSizeMb`, `maxYoungGenerationSizeMb`), `codeRangeSizeMb` and
   * `stackSizeMb`. Reactor code that exceeds them ends the reactor, not the process:
   * blocked calls fail with `ReactorStoppedError` whose `cause` has the code
   * `ERR_WORKER_OUT_OF_MEMORY`. Each limit is a number above 0, in megabytes.
   * @default undefined (Node's defaults)
   */
  readonly resourceLimits?: ResourceLimits;
}

const RESOURCE_LIMITS = ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'];

/** Checks the `resourceLimits` option: an object of positive numbers of megabytes. */
function checkResourceLimits(value: unknown): ResourceLimits {
  const limits = checkOptions(value, 'options.resourceLimits', RESOURCE_LIMITS, true);
  for (const [key, limit] of Object.entries(limits)) {
    if (typeof limit !== 'number' || !(limit > 0) || !Number.isFinite(limit)) {
      throw new RangeError(
        `Expected \`options.resourceLimits.${key}\` to be a finite number of megabytes above 0, got ${describe(limit)}`,
      );
    }
  }
  return limits;
}

/** Options of {@link shutdown}. */
export interface ShutdownOptions {
  /**
   * How long the `onShutdown` hooks may take, in all, in milliseconds.
   * @default 5000
   */
  readonly timeout?: number;
}

/** How long shutdown hooks may take in all, unless told otherwise. */
const SHUTDOWN_TIMEOUT_MS = 5000;
const DEFAULT_SPIN_MS = 0.05;
const DEFAULT_HOT_MS = 0.1;

/** Checks a short duration in ms: a finite number >= 0. */
function checkDuration(value: unknown, what: string): number {
  const ms = checkTimeout(value, what);
  if (ms === Infinity)
    throw new RangeError(`Expected \`${what}\` to be a finite number of milliseconds >= 0, got \`Infinity\` (number)`);
  return ms;
}

/** How long a thread with no hint asks the directory before concluding there is no reactor. */
const DISCOVERY_MS = 500;

let connection: Connection | undefined;
let mode: 'none' | 'setup' | 'noSetup' = 'none';
/** The supervisor thread, when this thread started the reactor. */
let supervisor: Worker | undefined;

/**
 * Starts the reactor: an event loop in a thread crochet manages, where wrapped
 * functions run. Call it once at start-up, before the first blocking call; later calls
 * do nothing, so libraries may call it too. Importing crochet starts nothing.
 *
 * There is one reactor per process: in a worker thread, `setup()` uses the reactor the
 * process has already (started by `setup()` or `noSetup()` elsewhere), and starts one
 * only if there is none. Worker threads need not call it at all.
 *
 * The reactor never keeps the process alive: when the application's own work is done,
 * the process exits as it would without crochet. In the reactor thread itself, and
 * after {@link noSetup}, `setup()` does nothing.
 *
 * @example
 * ```ts
 * import { setup, waitFor } from 'crochet';
 * setup();
 * ```
 */
export function setup(options?: SetupOptions): void {
  const checked = checkOptions(options, 'options', ['logger', 'spin', 'hot', 'resourceLimits'], false);
  const logger = checked['logger'] === undefined ? undefined : checkLogger(checked['logger']);
  const spin = checked['spin'] === undefined ? DEFAULT_SPIN_MS : checkDuration(checked['spin'], 'options.spin');
  const hot = checked['hot'] === undefined ? DEFAULT_HOT_MS : checkDuration(checked['hot'], 'options.hot');
  const limits = checked['resourceLimits'] === undefined ? undefined : checkResourceLimits(checked['resourceLimits']);
  if (currentRole() === 'reactor') return;
  // After shutdown(), setup() starts a fresh reactor.
  if (connection?.stoppedByShutdown === true) {
    connection = undefined;
    mode = 'none';
  }
  if (mode !== 'none' || connection !== undefined) return;
  if (!isMainThread) {
    connection = discover();
    if (connection !== undefined) {
      mode = 'setup';
      return;
    }
  }
  setSpin(spin);
  connection = start(logger, spin, hot, limits);
  mode = 'setup';
}

/**
 * Declares that this (main) thread's own event loop is the reactor: wrapped functions
 * called from worker threads (plain `Worker`s, piscina, tinypool) run here, against
 * this thread's live module state. For servers that run their own loop and block only
 * in workers; this thread must never block. Idempotent; `setup()` after it does
 * nothing.
 *
 * @throws {CrochetError} `ERR_CROCHET_ALREADY_SET_UP` if `setup()` already started a
 *   reactor thread.
 */
export function noSetup(): void {
  if (mode === 'noSetup') return;
  if (mode === 'setup' || connection !== undefined) {
    throw new CrochetError(
      'ERR_CROCHET_ALREADY_SET_UP',
      'noSetup() was called after setup() had started a reactor thread; call noSetup() once, at start-up, before any module calls setup()',
    );
  }
  mode = 'noSetup';
  becomeReactor();
  becomeSink(undefined);
  const control = new Int32Array(new SharedArrayBuffer(CTL_BYTES));
  Atomics.store(control, CTL_STATE, State.Running);
  const engine = new Engine(control);
  setEngine(engine);
  announce(control);
  // The process is ending: the loop has drained (hooks may still run asynchronously), or
  // it is exiting (only their synchronous parts can run).
  process.on('beforeExit', () => {
    if (Atomics.load(control, CTL_WORK) > 0) void engine.shutdown(SHUTDOWN_TIMEOUT_MS);
  });
  process.once('exit', () => {
    void engine.shutdown(0);
  });
  trace('noSetup(): the main thread is the reactor');
  if (channels.reactorStart.hasSubscribers) channels.reactorStart.publish({ mode: 'noSetup' });
  // This thread is its own directory: its loop is never blocked.
  const directory = new BroadcastChannel(DIRECTORY);
  directory.onmessage = (event) => {
    const hello = (event as MessageEvent).data as HelloMessage;
    if (hello.k !== Kind.Hello) return;
    welcome(hello, control);
    engine.openBroadcast(hello.name, hello.sig, false);
  };
  directory.unref();
}

/**
 * This thread's connection to the reactor, found on first use in worker threads.
 * `callee` names the caller for the error message: a wrapped function's name when
 * `isWrapper`.
 *
 * Whether the reactor has stopped is checked by the connection's own methods (every
 * call and request checks it), not here, to keep it off the blocking call's path twice.
 *
 * @throws {CrochetError} `ERR_CROCHET_NOT_SET_UP` if there is no reactor.
 */
export function requireConnection(callee: string, isWrapper = false): Connection {
  // A reactor that was shut down may have been replaced by a fresh one.
  if (mode !== 'setup' && connection?.stoppedByShutdown === true) connection = undefined;
  connection ??= isMainThread ? undefined : discover();
  if (connection === undefined) {
    const what = !isWrapper ? callee : callee === '' ? 'A wrapped function' : `${callee}()`;
    throw new CrochetError(
      'ERR_CROCHET_NOT_SET_UP',
      `${what} was called, but no reactor is running: call setup() from crochet once at start-up (or noSetup() on the main thread of a server), before the first call of a wrapped function`,
    );
  }
  return connection;
}

/** Tells threads created from now on where the reactor is. */
function announce(control: Int32Array, spin = DEFAULT_SPIN_MS): void {
  const hint: ReactorHint = { control, spin };
  setEnvironmentData(ENVIRONMENT_KEY, hint);
}

/**
 * Finds the process's reactor from a thread that did not start it, and opens a channel
 * to it. Returns undefined if there is none.
 */
function discover(): Connection | undefined {
  const inherited = getEnvironmentData(ENVIRONMENT_KEY) as ReactorHint | undefined;
  // A hint about a reactor that has stopped since is no use: ask the directory.
  const hint =
    inherited !== undefined && Atomics.load(inherited.control, CTL_STATE) !== State.Stopped ? inherited : undefined;
  const sig = new Int32Array(new SharedArrayBuffer(SIG_BYTES));
  const name = `crochet:${randomUUID()}`;
  const names = channelNames(name);
  const endpoint = broadcastEndpoint(names.toReactor, names.toCaller);
  const hello: HelloMessage = { k: Kind.Hello, name, sig };
  const sayHello = (): void => {
    const directory = new BroadcastChannel(DIRECTORY);
    directory.postMessage(hello);
    directory.close();
  };
  const found = new Connection(hint?.control, sig, endpoint, false, sayHello);
  sayHello();
  if (hint !== undefined) setSpin(hint.spin);
  // With a hint the reactor surely exists; the channel opens while the first call waits.
  if (hint === undefined && !found.block(() => found.welcomed, DISCOVERY_MS)) {
    endpoint.close();
    return undefined;
  }
  if (!sayingGoodbye) {
    sayingGoodbye = true;
    // The reactor can close this thread's channel when the thread ends cleanly.
    process.once('exit', () => {
      connection?.goodbye();
    });
  }
  setForwarder((text) => {
    found.report(text);
  });
  return found;
}

let sayingGoodbye = false;

function start(
  logger: Logger | undefined,
  spin: number,
  hot: number,
  resourceLimits: ResourceLimits | undefined,
): Connection {
  becomeSink(logger);
  const control = new Int32Array(new SharedArrayBuffer(CTL_BYTES));
  const sig = new Int32Array(new SharedArrayBuffer(SIG_BYTES));
  const { port1, port2 } = new MessageChannel();
  const workerData: SupervisorData = {
    control,
    port: port2,
    sig,
    reactorEntry: new URL('./reactor-main.js', import.meta.url).href,
    hot,
    ...(resourceLimits === undefined ? {} : { resourceLimits }),
  };
  // The supervisor owns the reactor thread, so that a thread whose loop is always free
  // sees the reactor die (even of out-of-memory) and can wake blocked callers.
  const watcher = new Worker(new URL('./supervisor/main.js', import.meta.url), {
    workerData,
    transferList: [port2],
  });
  const result = new Connection(control, sig, portEndpoint(port1), true);
  watcher.on('error', (error: unknown) => {
    result.stopFromOutside(new Error('The reactor supervisor thread failed', { cause: error }));
  });
  watcher.on('exit', (code: number) => {
    result.stopFromOutside(new Error(`The reactor supervisor thread exited with code ${code}`));
  });
  watcher.unref();
  supervisor = watcher;
  // When the process ends (its loop drained, or process.exit()), the reactor shuts down
  // in order if it has hooks or stashed results, and whatever it wrote is written out.
  process.once('exit', () => {
    if (connection === result && result.shutdownWork > 0) stopReactor(result, SHUTDOWN_TIMEOUT_MS);
    result.drainAll();
  });
  announce(control, spin);
  trace('setup(): reactor starting');
  if (channels.reactorStart.hasSubscribers) channels.reactorStart.publish({ mode: 'setup' });
  return result;
}

/** Shuts the reactor behind `target` down, forcing the stop if it does not stop in time. */
function stopReactor(target: Connection, timeout: number): void {
  if (!target.shutdown(timeout)) {
    target.forceStopped(new Error(`The reactor did not shut down within ${timeout} ms; it was stopped`));
    if (target === connection) void supervisor?.terminate();
  }
  target.drainAll();
}

/**
 * Stops the reactor in order, from any thread: runs its `onShutdown` hooks (last
 * registered first; each bounded, a failing one reported and the rest still run; all
 * within `timeout`), reports stashed failures nobody retrieved, then stops it. Every
 * pending or blocked call then fails with `ReactorStoppedError`. Afterwards `setup()`
 * starts a fresh reactor (handy in tests and hot reloads).
 *
 * From a caller thread it blocks until the reactor has stopped (a second longer than
 * `timeout` at most). In the reactor thread (and on the `noSetup()` main thread) it
 * starts the shutdown and returns at once. Without a reactor it does nothing.
 *
 * The process does the same by itself when it ends, so most programs never call it.
 *
 * @throws {TypeError|RangeError} if `options.timeout` is not a number >= 0.
 */
export function shutdown(options?: ShutdownOptions): void {
  const checked = checkOptions(options, 'options', ['timeout'], false);
  const timeout =
    checked['timeout'] === undefined ? SHUTDOWN_TIMEOUT_MS : checkTimeout(checked['timeout'], 'options.timeout');
  const engine = currentEngine();
  if (engine !== undefined) {
    void engine.shutdown(timeout);
    return;
  }
  if (connection === undefined && !isMainThread) connection = discover();
  if (connection === undefined) return;
  stopReactor(connection, timeout);
}

/**
 * Registers a hook to run when the reactor stops: at {@link shutdown}, or when the
 * process ends (its loop drains, or `process.exit()`). Call it in reactor code (a
 * wrapped function, or module code under `isReactorThread()`), to close what the
 * reactor opened: servers, connections, files. Hooks run last registered first, may be
 * async, and are each bounded in time; one that fails is reported and the rest still
 * run. On the `noSetup()` main thread, only the synchronous part of a hook runs when
 * the process ends by `process.exit()`.
 *
 * @throws {CrochetError} `ERR_CROCHET_REACTOR_THREAD` if called outside the reactor thread.
 * @example
 * ```ts
 * export const listen = waitFor({ timeout: 5000 })(async (port: number) => {
 *   const server = createServer(handler).listen(port, '127.0.0.1');
 *   onShutdown(() => new Promise<void>((resolve) => server.close(() => resolve())));
 * });
 * ```
 */
export function onShutdown(hook: () => void | Promise<void>): void {
  checkFunction(hook, 'hook');
  const engine = currentEngine();
  if (engine === undefined) {
    throw new CrochetError(
      'ERR_CROCHET_REACTOR_THREAD',
      'onShutdown() registers a hook in the reactor thread, and was called in another thread; call it from code that runs in the reactor (a wrapped function, or module code under isReactorThread())',
    );
  }
  engine.addHook(hook);
}
