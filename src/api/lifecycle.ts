/**
 * Starting and finding the reactor: `setup()`, `noSetup()`, `shutdown()`, and this
 * thread's connection.
 *
 * There is one reactor per process. A thread that calls `setup()` first looks for one (a
 * worker thread asks the directory, see caller/discovery.ts); if there is none it starts
 * one behind a supervisor thread, which takes part in an election so that threads calling
 * `setup()` at the same moment start only one between them. The thread that started it
 * talks to it over a `MessagePort`; every other thread finds it through the directory,
 * the first time it needs it, and gets a private channel of its own.
 */
import { bundled, home } from '../common/home.js';
import {
  isMainThread,
  MessageChannel,
  type MessagePort,
  threadId,
  type Worker,
  getEnvironmentData,
  setEnvironmentData,
} from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Connection, setSpin, type Transport } from '../caller/connection.js';
import { directoryChannel, discover } from '../caller/discovery.js';
import { inquiry } from '../wire/handshake.js';
import { channels, trace } from '../common/diagnostics.js';
import { portEndpoint } from '../wire/endpoint.js';
import { Engine } from '../reactor/engine.js';
import { LocalAccess } from '../reactor/local.js';
import { RemoteAccess } from '../caller/remote.js';
import type { ReactorAccess } from './access.js';
import { Directory } from '../supervisor/directory.js';
import { CrochetError } from './errors.js';
import { checkFunction, checkOptions, checkTimeout, describe } from './options.js';
import { inCall } from './context.js';
import { BOX_BYTES, CTL_ACK, CTL_BYTES, CTL_REACTOR, CTL_STATE, CTL_WORK, State } from '../wire/layout.js';
import { allocateBox } from '../wire/lane.js';
import { markStopped } from '../wire/control.js';
import { encodeThrown } from '../wire/codec.js';
import {
  ENVIRONMENT_KEY,
  type ReactorData,
  type ReactorHint,
  type StarterExiting,
  type SupervisorData,
} from '../wire/messages.js';
import { becomeSink, checkLogger, setForwarder, type Logger } from '../common/report.js';
import { becomeReactor, currentEngine, currentRole, setEngine } from '../common/thread.js';
import { startSharing } from '../common/env.js';
import { missingPreloads, workerExecArgv } from '../common/runners.js';

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
  readonly resourceLimits?: {
    /** The most the main heap may grow to, in megabytes. */
    readonly maxOldGenerationSizeMb?: number;
    /** The most the heap for recently created objects may grow to, in megabytes. */
    readonly maxYoungGenerationSizeMb?: number;
    /** The size of the range reserved for generated code, in megabytes. */
    readonly codeRangeSizeMb?: number;
    /** The thread's stack size, in megabytes (Node's default is 4). */
    readonly stackSizeMb?: number;
  };
  /**
   * How long the reactor may take to start, and to import a module the first time a call
   * needs it, in ms. A call's own `timeout` does not count that time: it starts when the
   * reactor can run the call. When this runs out, the call fails: with
   * `ReactorStoppedError` if the reactor did not start, or with `TimeoutError` naming the
   * module that was still loading.
   * @default 30000
   */
  readonly startupTimeout?: number;
}

const RESOURCE_LIMITS = ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'];

/** Checks the `resourceLimits` option: an object of positive numbers of megabytes. */
function checkResourceLimits(value: unknown): NonNullable<SetupOptions['resourceLimits']> {
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
   * How long the `onShutdown` hooks may take, in all, in milliseconds: any number >= 0.
   * `Infinity` means no limit: the hooks take as long as they take (and a caller blocked
   * in `shutdown()` waits for them). So does a time longer than a timer can hold
   * (2^31 - 1 ms, about 24.8 days).
   * @default 5000
   */
  readonly timeout?: number;
}

/** How long shutdown hooks may take in all, unless told otherwise. */
const SHUTDOWN_TIMEOUT_MS = 5000;
const DEFAULT_SPIN_MS = 0.05;
const DEFAULT_HOT_MS = 0.1;
const DEFAULT_STARTUP_MS = 30_000;

/** Checks a short duration in ms: a finite number >= 0 (`Infinity` is refused, and the message says so). */
function checkDuration(value: unknown, what: string): number {
  const expected = `Expected \`${what}\` to be a finite number of milliseconds >= 0, got ${describe(value)}`;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(expected);
  if (value < 0 || value === Infinity) throw new RangeError(expected);
  return value;
}

/**
 * How long a thread asks the directory before concluding there is no reactor: short, since
 * a serving reactor's directory answers within a millisecond or so; longer when a hint says
 * one exists (it may still be booting).
 */
const PROBE_MS = 25;
/** How long noSetup() asks whether a reactor thread serves already (once, at a server's start). */
const NO_SETUP_PROBE_MS = 100;
/**
 * How long a call with no reactor known asks the directory before it fails: a reactor may
 * be starting (another thread's setup() just now), and its supervisor answers once elected;
 * on a machine busy with other work, that supervisor may get no CPU for a while. (Only a
 * call made with no reactor anywhere, a mistake, waits this long.)
 */
const CALL_PROBE_MS = 1000;
/** After a probe found nothing, calls fail at once for this long instead of asking again. */
const PROBE_AGAIN_MS = 1000;
/** How long a starting thread that exits waits for its supervisor to tell every caller. */
const EXIT_NOTICE_MS = 500;

let connection: Connection | undefined;
let mode: 'none' | 'setup' | 'noSetup' = 'none';
/** The supervisor thread and control block, when this thread started the current reactor. */
let started:
  | {
      readonly supervisor: Worker;
      readonly reactor: Worker | undefined;
      readonly control: Int32Array;
      readonly connection: Connection;
    }
  | undefined;
/** When a probe last found no reactor (performance.now()), or -Infinity. */
let lastMiss = -Infinity;

/**
 * Starts the reactor: an event loop in a thread crochet manages, where wrapped
 * functions run. Call it once at start-up, before the first blocking call; later calls
 * do nothing, so libraries may call it too. Importing crochet starts nothing, and
 * `setup()` itself does not wait for the reactor: the first call does.
 *
 * There is one reactor per process, whichever threads call `setup()` and in whatever
 * order: a worker thread's `setup()` uses the reactor the process has already (started
 * by `setup()` or `noSetup()` elsewhere), and threads that call it at the same moment
 * start one between them. Worker threads need not call it at all. A reactor ends with
 * the thread that started it; if that was a worker thread, callers elsewhere then get
 * `ReactorStoppedError` (whose `cause` names that thread), and the next `setup()`, from
 * any thread, starts a new one. After a {@link shutdown}, or after the reactor died,
 * `setup()` starts a new one too.
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
  const checked = checkOptions(
    options,
    'options',
    ['logger', 'spin', 'hot', 'resourceLimits', 'startupTimeout'],
    false,
  );
  const logger = checked['logger'] === undefined ? undefined : checkLogger(checked['logger']);
  const spin = checked['spin'] === undefined ? DEFAULT_SPIN_MS : checkDuration(checked['spin'], 'options.spin');
  const hot = checked['hot'] === undefined ? DEFAULT_HOT_MS : checkDuration(checked['hot'], 'options.hot');
  const limits = checked['resourceLimits'] === undefined ? undefined : checkResourceLimits(checked['resourceLimits']);
  const startup =
    checked['startupTimeout'] === undefined
      ? DEFAULT_STARTUP_MS
      : checkTimeout(checked['startupTimeout'], 'options.startupTimeout');
  if (currentRole() === 'reactor') return;
  // A reactor that stopped (shut down, or died) is replaced by a fresh one.
  if (connection !== undefined && !connection.stopped) return;
  connection = undefined;
  Connection.startupLimit = startup;
  setSpin(spin);
  // A worker thread first looks for a reactor; a main thread starts its own at once (if
  // another serves already, the election says so within a millisecond or so), unless
  // another copy of crochet in this thread has just started one: then two main-thread
  // claims would race in an election of one short round, and both could serve for a
  // while. That one is looked for instead, as from a worker.
  if (!isMainThread || hinted()) {
    const found = find(hinted() ? startup : PROBE_MS);
    if (found !== undefined) {
      connection = found;
      mode = 'setup';
      return;
    }
  }
  connection = start(logger, spin, hot, limits, startup);
  mode = 'setup';
}

/**
 * Declares that this (main) thread's own event loop is the reactor: wrapped functions
 * called from worker threads (plain `Worker`s, piscina, tinypool) run here, against
 * this thread's live module state. For servers that run their own loop and block only
 * in workers; this thread must never block. Idempotent; `setup()` after it does
 * nothing.
 *
 * @throws {CrochetError} `ERR_CROCHET_ALREADY_SET_UP` if a reactor thread was already
 *   started (by `setup()` in this thread or any other). `ERR_CROCHET_MAIN_THREAD_ONLY` in
 *   a worker thread: only the main thread lives as long as the process.
 *   `ERR_CROCHET_REACTOR_THREAD` in reactor code: in the reactor thread `setup()` started,
 *   and in a wrapped function running on the `noSetup()` main thread.
 */
export function noSetup(): void {
  if (currentRole() === 'reactor' && (!isMainThread || inCall())) {
    // Reactor code: the reactor is running already, in this very thread.
    throw new CrochetError(
      'ERR_CROCHET_REACTOR_THREAD',
      isMainThread
        ? 'noSetup() was called in a wrapped function running in the reactor; the main thread is the reactor already. Call noSetup() once, at start-up, in the main thread’s own code'
        : `noSetup() was called in the reactor thread (thread ${threadId}), which setup() started; reactor code cannot make another thread the reactor. Call noSetup() once, at start-up, in the main thread’s own code, instead of setup()`,
    );
  }
  if (mode === 'noSetup') return;
  if (isMainThread && currentEngine() !== undefined) {
    // Another copy of crochet made this thread the reactor already: its engine serves.
    mode = 'noSetup';
    return;
  }
  if (!isMainThread) {
    throw new CrochetError(
      'ERR_CROCHET_MAIN_THREAD_ONLY',
      `noSetup() was called in a worker thread (thread ${threadId}); it makes the main thread's own loop the reactor, and only the main thread lives as long as the process. Call noSetup() on the main thread, or setup() here`,
    );
  }
  if ((mode === 'setup' && connection !== undefined && !connection.stopped) || find(NO_SETUP_PROBE_MS) !== undefined) {
    throw new CrochetError(
      'ERR_CROCHET_ALREADY_SET_UP',
      'noSetup() was called after setup() had started a reactor thread (in this thread or another); call noSetup() once, at start-up, before any module calls setup()',
    );
  }
  mode = 'noSetup';
  connection = undefined;
  becomeReactor();
  becomeSink(undefined);
  const control = new Int32Array(new SharedArrayBuffer(CTL_BYTES));
  Atomics.store(control, CTL_STATE, State.Running);
  Atomics.store(control, CTL_REACTOR, threadId + 1);
  const engine = new Engine(control);
  setEngine(engine);
  announce(control);
  // This thread is its own directory: its loop is never blocked.
  new Directory({
    reactorThread: () => threadId,
    starterThread: -1,
    keepAlive: false,
    open: () => Atomics.load(control, CTL_STATE) === State.Running,
    onOpen(names, box, answer) {
      engine.openRing(names, box, answer, false);
    },
  });
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
}

/**
 * This thread's connection to the reactor, found on first use in threads that did not
 * start it. `callee` names the caller for the error message: a wrapped function's name
 * when `isWrapper`.
 *
 * A connection whose reactor stopped is replaced by one to the reactor that serves now,
 * if any (a reactor that died or was shut down can be replaced by `setup()`, in any
 * thread); without one, the connection's own methods fail with `ReactorStoppedError`.
 *
 * @throws {CrochetError} `ERR_CROCHET_NOT_SET_UP` if there is no reactor.
 * @internal
 */
export function requireConnection(callee: string, isWrapper = false): Connection {
  const current = connection;
  // A reactor that stopped (shut down, or died) may have been replaced by now (setup()
  // again, in any thread): a call looks for the new one, and fails with
  // ReactorStoppedError only if there is none. (A call under way when it stopped failed
  // with it already.)
  if (current !== undefined && !current.stopped) return current;
  // No reactor yet, or it stopped and another may have replaced it: ask the directory
  // (not again and again when it just said there is none).
  if (performance.now() - lastMiss > PROBE_AGAIN_MS) {
    // After a stop, a new reactor is likely on its way (or just elected, on a busy machine):
    // ask a little longer than when crochet was never used here.
    const found = find(hinted() ? Connection.startupLimit : CALL_PROBE_MS);
    if (found !== undefined) {
      connection = found;
      return found;
    }
  }
  if (current !== undefined) return current;
  const what = !isWrapper ? callee : callee === '' ? 'A wrapped function' : `${callee}()`;
  throw new CrochetError(
    'ERR_CROCHET_NOT_SET_UP',
    `${what} was called, but no reactor is running: call setup() from crochet once at start-up (or noSetup() on the main thread of a server), before the first call of a wrapped function`,
  );
}

/** The reactor as this thread reaches it, made once per engine or connection. */
let reached: { readonly through: Engine | Connection; readonly access: ReactorAccess } | undefined;

/**
 * The reactor as this thread reaches it: its engine when this thread is the reactor, its
 * connection otherwise (found on first use). Decided here, once, for every handle.
 *
 * @throws {CrochetError} `ERR_CROCHET_NOT_SET_UP` if there is no reactor.
 * @internal
 */
export function access(callee: string, isWrapper = false): ReactorAccess {
  const through = currentEngine() ?? requireConnection(callee, isWrapper);
  if (reached?.through !== through) {
    reached = {
      through,
      access: through instanceof Engine ? new LocalAccess(through) : new RemoteAccess(through, stopReactor),
    };
  }
  return reached.access;
}

/** Whether this thread inherited a hint that a reactor runs (and it still does). */
function hinted(): boolean {
  const hint = getEnvironmentData(ENVIRONMENT_KEY) as ReactorHint | undefined;
  if (hint === undefined || !(hint.control instanceof Int32Array)) return false;
  const state = Atomics.load(hint.control, CTL_STATE);
  return state !== State.Stopped && state !== State.Stopping && state !== State.Deferred;
}

/**
 * The control block of the reactor in thread `reactorThread`, if this thread inherited it in
 * its hint: its state says at once when that reactor stops, before its supervisor (or the
 * reactor itself, as it ends) has told this thread's channel.
 */
function hintedControl(reactorThread: number): Int32Array | undefined {
  const hint = getEnvironmentData(ENVIRONMENT_KEY) as ReactorHint | undefined;
  if (hint === undefined || !(hint.control instanceof Int32Array)) return undefined;
  if (hint.control.length <= CTL_REACTOR) return undefined;
  return Atomics.load(hint.control, CTL_REACTOR) === reactorThread + 1 ? hint.control : undefined;
}

/**
 * The supervisor thread's code, when crochet was bundled into an application: kept as text
 * in crochet's bundle (see scripts/bundle.mjs).
 */
declare const CROCHET_SUPERVISOR: string | undefined;
function supervisorSource(): string {
  if (typeof CROCHET_SUPERVISOR === 'string') return CROCHET_SUPERVISOR;
  throw new CrochetError(
    'ERR_CROCHET_BUNDLED',
    `crochet's code was loaded from ${home}, without the files of its threads beside it, and without their code inside (it was not built by crochet's own build). Import crochet from its package (keep it external when you bundle your application: esbuild --external:crochet), or bundle the package's dist/crochet.js`,
  );
}

/** Options that preload modules: a reactor started beside its supervisor is guarded from their failures. */
const PRELOADS = /^(?:--import|--require|-r|--loader|--experimental-loader)(?:=|$)/;

/**
 * The reactor thread's Node options when it needs more than it inherits: the preload of a
 * TypeScript runner that registered itself in this thread without any option (ts-node's
 * `ts-node` command), so that the reactor loads the application's TypeScript modules too.
 * `undefined` when inheriting is enough (see common/runners.ts).
 */
function reactorExecArgv(): string[] | undefined {
  if (bundled || !onNode()) return undefined;
  const missing = missingPreloads();
  return missing.length === 0 ? undefined : [...missing, ...workerExecArgv(process.execArgv)];
}

/**
 * Starts the reactor thread from this thread. When this process preloads modules (which
 * Node preloads in every worker too), a guard is preloaded first, so that their failure
 * there is recorded for every caller (see reactor/guard.ts).
 */
function startBeside(entry: URL, workerData: ReactorData, transferList: MessagePort[]): Worker {
  // Bundled, the application's bundle is the reactor's entry: it runs with the
  // application's arguments, so that it loads what the application loaded.
  const argv = bundled ? { argv: process.argv.slice(2) } : {};
  const plain = (): Worker => startSharing(entry, { workerData, transferList, ...argv });
  // (Bundled into an application, crochet has no guard file to preload.)
  const execArgv = reactorExecArgv() ?? workerExecArgv(process.execArgv);
  if (bundled || !onNode() || !execArgv.some((arg) => PRELOADS.test(arg))) return plain();
  const guard = ['--import', new URL('./reactor/guard.js', home).href];
  try {
    return startSharing(entry, { workerData, transferList, execArgv: [...guard, ...execArgv], ...argv });
  } catch (error) {
    // Options Node refuses even after those it names as not for workers were left out.
    if ((error as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
  }
  return plain();
}

/** Whether this is Node (Bun and Deno refuse preloads in a worker's `execArgv`). */
function onNode(): boolean {
  return typeof process.versions['bun'] !== 'string' && !('Deno' in globalThis);
}

/** Tells threads created from now on that a reactor exists. */
function announce(control: Int32Array, spin = DEFAULT_SPIN_MS): void {
  const hint: ReactorHint = { control, spin };
  setEnvironmentData(ENVIRONMENT_KEY, hint);
}

/**
 * Opens a channel to the process's reactor, if one answers within `limit` ms. `remember`:
 * whether finding none makes calls fail at once for a while (see PROBE_AGAIN_MS).
 */
function find(limit: number, remember = true): Connection | undefined {
  const transport = findTransport(limit, remember);
  if (transport === undefined) return undefined;
  const found = new Connection(transport);
  setForwarder((text) => {
    found.report(text);
  });
  const hint = getEnvironmentData(ENVIRONMENT_KEY) as ReactorHint | undefined;
  if (hint !== undefined && typeof hint.spin === 'number') setSpin(hint.spin);
  return found;
}

function findTransport(limit: number, remember = true): Transport | undefined {
  const found = discover(limit);
  if (found.kind === 'channel') {
    lastMiss = -Infinity;
    const control = hintedControl(found.reactorThread);
    return {
      ...found.transport,
      ...(control === undefined ? {} : { control }),
      reopen: () => findTransport(Math.max(limit, PROBE_MS)),
    };
  }
  if (found.kind === 'self') {
    // This thread serves the reactor through another copy of crochet.
    becomeReactor();
    return undefined;
  }
  if (remember) lastMiss = performance.now();
  return undefined;
}

/**
 * One 'exit' listener per thread, whatever the number of setup()/shutdown() cycles: the
 * reactor hears that this thread goes away, and what it wrote is written out.
 */
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    const own = started;
    if (own !== undefined && own.connection === connection) {
      if (isMainThread) {
        // The process ends: the reactor shuts down in order if it has hooks or stashed
        // results, and whatever it wrote is written out.
        if (own.connection.shutdownWork(own.control) > 0) stopReactor(own.connection, SHUTDOWN_TIMEOUT_MS);
      } else if (Atomics.load(own.control, CTL_STATE) === State.Running) {
        // A worker thread that started the reactor takes it along: every caller must
        // hear of it now. The supervisor tells them, then this thread goes on exiting.
        const ack = Atomics.load(own.control, CTL_ACK);
        const exiting: StarterExiting = { k: 'exiting' };
        own.supervisor.postMessage(exiting);
        Atomics.wait(own.control, CTL_ACK, ack, EXIT_NOTICE_MS);
      }
      own.connection.drainAll(true);
      return;
    }
    connection?.goodbye();
    connection?.drainAll(true);
  });
}

function start(
  logger: Logger | undefined,
  spin: number,
  hot: number,
  resourceLimits: SetupOptions['resourceLimits'],
  startup: number,
): Connection {
  becomeSink(logger);
  const control = new Int32Array(new SharedArrayBuffer(CTL_BYTES));
  const box = allocateBox(BOX_BYTES);
  const { port1, port2 } = new MessageChannel();
  // A TypeScript runner this thread loaded without an option needs its preload there too.
  const execArgv = reactorExecArgv();
  // Bundled into an application, crochet starts the reactor from the application's bundle.
  const reactorEntry = bundled ? new URL(home) : new URL('./reactor-main.js', home);
  // The main thread starts the reactor beside the supervisor, so that the two boot at the
  // same time (start-up is what a command-line tool pays on every run); the supervisor
  // then watches it through a port. With resource limits, or from a worker (whose reactor
  // boots only once elected), the supervisor starts it, as its child (see supervisor/link.ts).
  let reactor: Worker | undefined;
  let beside: { port: MessagePort; threadId: number } | undefined;
  if (isMainThread && resourceLimits === undefined) {
    const link = new MessageChannel();
    const reactorData: ReactorData = {
      control,
      port: port2,
      box,
      hot,
      supervisor: link.port1,
      ...(bundled ? { bundled: true as const } : {}),
    };
    reactor = startBeside(reactorEntry, reactorData, [port2, link.port1]);
    reactor.unref();
    beside = { port: link.port2, threadId: reactor.threadId };
  }
  // The main thread does not look for a reactor before it starts its own (that would cost
  // every program the wait); it says hello as it starts it instead, and the election heeds
  // an answer from a reactor already serving.
  let asked: { box: SharedArrayBuffer; at: number } | undefined;
  if (isMainThread) {
    const hello = inquiry();
    directoryChannel().postMessage(hello.message);
    asked = { box: hello.answer, at: Date.now() };
  }
  const workerData: SupervisorData = {
    control,
    box,
    starter: threadId,
    speculative: isMainThread,
    ...(asked === undefined ? {} : { asked: asked.box, askedAt: asked.at }),
    reactorEntry: reactorEntry.href,
    ...(bundled ? { bundled: true as const, argv: process.argv.slice(2) } : {}),
    hot,
    ...(beside === undefined ? { port: port2 } : { reactor: beside }),
    ...(resourceLimits === undefined ? {} : { resourceLimits }),
    ...(execArgv === undefined ? {} : { execArgv }),
  };
  // The supervisor's event loop is never blocked: it sees the reactor die (even of running
  // out of memory) and wakes blocked callers. (Started from its CommonJS source on Node too,
  // it saved about 9 ms of CPU time, but on Node 26 a main thread's setup() after a worker's
  // then often missed the worker's reactor: it starts from its file.)
  const transferList = beside === undefined ? [port2] : [beside.port];
  const watcher = bundled
    ? startSharing(supervisorSource(), { eval: true, workerData, transferList })
    : startSharing(new URL('./supervisor/main.js', home), { workerData, transferList });
  const result = new Connection(
    { box, endpoint: portEndpoint(port1, box, 'caller'), beats: false, ring: false, starter: threadId, control },
    {
      control,
      limit: startup,
      rediscover: () => {
        // Another reactor won: this thread is one of its callers, and reports go there.
        const transport = findTransport(startup);
        if (transport !== undefined) {
          started = undefined;
          becomeSink(undefined);
          setForwarder((text) => {
            result.report(text);
          });
        }
        return transport;
      },
    },
  );
  const outside = (cause: unknown): void => {
    // A supervisor that stood down for another reactor ends normally.
    if (Atomics.load(control, CTL_STATE) === State.Deferred) return;
    // The control block first (unless the reactor or its supervisor marked it already, with
    // the cause every channel gets): a thread this one tells of the end reads it there.
    markStopped(control, encodeThrown(cause), [box]);
    result.stopFromOutside(cause);
  };
  watcher.on('error', (error: unknown) => {
    outside(new Error('The reactor supervisor thread failed', { cause: error }));
  });
  // Started here, the reactor's own events come here too: whichever of this thread and the
  // supervisor hears of its end first records why.
  reactor?.on('error', (error: unknown) => {
    outside(error);
  });
  reactor?.on('exit', (code: number) => {
    outside(new Error(`The reactor thread exited with code ${code}`));
  });
  watcher.on('exit', (code: number) => {
    outside(new Error(`The reactor supervisor thread exited with code ${code}`));
  });
  watcher.unref();
  started = { supervisor: watcher, reactor, control, connection: result };
  hookExit();
  announce(control, spin);
  trace('setup(): reactor starting');
  if (channels.reactorStart.hasSubscribers) channels.reactorStart.publish({ mode: 'setup' });
  return result;
}

/** Shuts the reactor behind `target` down, forcing the stop if it does not stop in time. */
function stopReactor(target: Connection, timeout: number): void {
  if (!target.shutdown(timeout)) {
    target.forceStopped(new Error(`The reactor did not shut down within ${timeout} ms; it was stopped`));
    if (started !== undefined && target === started.connection) {
      void started.supervisor.terminate();
      void started.reactor?.terminate();
    }
  }
  target.drainAll();
}

/**
 * Stops the reactor in order, from any thread: runs its `onShutdown` hooks (last
 * registered first; each bounded, a failing one reported and the rest still run; all
 * within `timeout`), reports stashed failures nobody retrieved, then stops it. Every
 * pending or blocked call then fails with `ReactorStoppedError`. Afterwards `setup()`
 * (from any thread) starts a fresh reactor (handy in tests and hot reloads).
 *
 * From a caller thread it blocks until the reactor has stopped (a second longer than
 * `timeout` at most). In the reactor thread (and on the `noSetup()` main thread) it
 * starts the shutdown and returns at once. Without a reactor it does nothing.
 *
 * The process does the same by itself when it ends, so most programs never call it.
 *
 * `options.timeout` may be `Infinity`: the hooks then have no time limit.
 *
 * @throws {TypeError|RangeError} if `options.timeout` is not a number >= 0 (or `Infinity`).
 */
export function shutdown(options?: ShutdownOptions): void {
  const checked = checkOptions(options, 'options', ['timeout'], false);
  const timeout =
    checked['timeout'] === undefined ? SHUTDOWN_TIMEOUT_MS : checkTimeout(checked['timeout'], 'options.timeout');
  // Without a reactor (none found, or it stopped already), there is nothing to stop.
  if (currentEngine() === undefined) {
    if (connection === undefined || connection.stopped) {
      // (Finding none here says nothing about later calls: another thread may start one.)
      connection = find(hinted() ? Connection.startupLimit : PROBE_MS, false) ?? connection;
    }
    if (connection === undefined || connection.stopped) return;
    connection.ready();
  }
  access('shutdown()').shutdown(timeout);
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
