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
} from 'node:worker_threads';
import { Connection } from './connection.js';
import { broadcastEndpoint, channelNames, portEndpoint } from './endpoint.js';
import { Engine } from './engine.js';
import { CrochetError } from './errors.js';
import { checkOptions } from './options.js';
import {
  CTL_BYTES,
  CTL_STATE,
  DIRECTORY,
  ENVIRONMENT_KEY,
  Kind,
  SIG_BYTES,
  welcome,
  State,
  type HelloMessage,
  type ReactorHint,
  type SupervisorData,
} from './protocol.js';
import { becomeReactor, currentRole, setEngine } from './thread.js';

/** Options of {@link setup}. None yet; unknown keys are rejected so typos show. */
export type SetupOptions = Readonly<Record<string, never>>;

/** How long a thread with no hint asks the directory before concluding there is no reactor. */
const DISCOVERY_MS = 500;

let connection: Connection | undefined;
let mode: 'none' | 'setup' | 'noSetup' = 'none';

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
  checkOptions(options, 'options', [], false);
  if (mode !== 'none' || currentRole() === 'reactor' || connection !== undefined) return;
  if (!isMainThread) {
    connection = discover();
    if (connection !== undefined) {
      mode = 'setup';
      return;
    }
  }
  connection = start();
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
  const engine = new Engine();
  setEngine(engine);
  const control = new Int32Array(new SharedArrayBuffer(CTL_BYTES));
  Atomics.store(control, CTL_STATE, State.Running);
  announce(control);
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
 *
 * @throws {CrochetError} `ERR_CROCHET_NOT_SET_UP` if there is no reactor.
 * @throws {ReactorStoppedError} if the reactor has stopped.
 */
export function requireConnection(callee: string): Connection {
  connection ??= isMainThread ? undefined : discover();
  if (connection === undefined) {
    throw new CrochetError(
      'ERR_CROCHET_NOT_SET_UP',
      `${callee} was called, but no reactor is running: call setup() from crochet once at start-up (or noSetup() on the main thread of a server), before the first call of a wrapped function`,
    );
  }
  connection.throwIfStopped();
  return connection;
}

/** Tells threads created from now on where the reactor is. */
function announce(control: Int32Array): void {
  const hint: ReactorHint = { control };
  setEnvironmentData(ENVIRONMENT_KEY, hint);
}

/**
 * Finds the process's reactor from a thread that did not start it, and opens a channel
 * to it. Returns undefined if there is none.
 */
function discover(): Connection | undefined {
  const hint = getEnvironmentData(ENVIRONMENT_KEY) as ReactorHint | undefined;
  const sig = new Int32Array(new SharedArrayBuffer(SIG_BYTES));
  const name = `crochet:${randomUUID()}`;
  const names = channelNames(name);
  const endpoint = broadcastEndpoint(names.toReactor, names.toCaller);
  const found = new Connection(hint?.control, sig, endpoint, false);
  const hello: HelloMessage = { k: Kind.Hello, name, sig };
  const directory = new BroadcastChannel(DIRECTORY);
  directory.postMessage(hello);
  directory.close();
  // With a hint the reactor surely exists; the channel opens while the first call waits.
  if (hint === undefined && !found.block(() => found.welcomed, DISCOVERY_MS)) {
    endpoint.close();
    return undefined;
  }
  process.once('exit', () => {
    found.goodbye();
  });
  return found;
}

function start(): Connection {
  const control = new Int32Array(new SharedArrayBuffer(CTL_BYTES));
  const sig = new Int32Array(new SharedArrayBuffer(SIG_BYTES));
  const { port1, port2 } = new MessageChannel();
  const workerData: SupervisorData = {
    control,
    port: port2,
    sig,
    reactorEntry: new URL('./reactor-main.js', import.meta.url).href,
  };
  // The supervisor owns the reactor thread, so that a thread whose loop is always free
  // sees the reactor die (even of out-of-memory) and can wake blocked callers.
  const supervisor = new Worker(new URL('./supervisor.js', import.meta.url), {
    workerData,
    transferList: [port2],
  });
  const result = new Connection(control, sig, portEndpoint(port1), true);
  supervisor.on('error', (error: unknown) => {
    result.stopFromOutside(new Error('The reactor supervisor thread failed', { cause: error }));
  });
  supervisor.on('exit', (code: number) => {
    result.stopFromOutside(new Error(`The reactor supervisor thread exited with code ${code}`));
  });
  supervisor.unref();
  announce(control);
  return result;
}
