/**
 * Starting the reactor: `setup()` and `noSetup()`, and this thread's connection.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { Connection } from './connection.js';
import { CrochetError } from './errors.js';
import { checkOptions } from './options.js';
import { CTL_BYTES, SIG_BYTES, type SupervisorData } from './protocol.js';
import { becomeReactor, currentRole } from './thread.js';

/** Options of {@link setup}. None yet; unknown keys are rejected so typos show. */
export type SetupOptions = Readonly<Record<string, never>>;

let connection: Connection | undefined;
let mode: 'none' | 'setup' | 'noSetup' = 'none';

/**
 * Starts the reactor: an event loop in a thread crochet manages, where wrapped
 * functions run. Call it once at start-up, before the first blocking call; later calls
 * do nothing, so libraries may call it too. Importing crochet starts nothing.
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
  if (mode !== 'none' || currentRole() === 'reactor') return;
  connection = start();
  mode = 'setup';
}

/**
 * Declares that this (main) thread's own event loop is the reactor: wrapped functions
 * called from worker threads run here, against this thread's live state. For servers
 * that run their own loop and block only in workers. Idempotent; `setup()` after it
 * does nothing.
 *
 * @throws {CrochetError} `ERR_CROCHET_ALREADY_SET_UP` if `setup()` already started a
 *   reactor thread.
 */
export function noSetup(): void {
  if (mode === 'setup') {
    throw new CrochetError(
      'ERR_CROCHET_ALREADY_SET_UP',
      'noSetup() was called after setup() had started a reactor thread; call noSetup() once, at start-up, before any module calls setup()',
    );
  }
  mode = 'noSetup';
  becomeReactor();
}

/**
 * This thread's connection to the reactor.
 *
 * @throws {CrochetError} `ERR_CROCHET_NOT_SET_UP` if there is no reactor.
 * @throws {ReactorStoppedError} if the reactor has stopped.
 */
export function requireConnection(callee: string): Connection {
  if (connection === undefined) {
    throw new CrochetError(
      'ERR_CROCHET_NOT_SET_UP',
      `${callee} was called, but no reactor is running: call setup() from crochet once at start-up, before the first call of a wrapped function`,
    );
  }
  connection.throwIfStopped();
  return connection;
}

function start(): Connection {
  const control = new Int32Array(new SharedArrayBuffer(CTL_BYTES));
  const sig = new Int32Array(new SharedArrayBuffer(SIG_BYTES));
  const { port1, port2 } = new MessageChannel();
  const workerData: SupervisorData = {
    control,
    channel: { port: port2, sig },
    reactorEntry: new URL('./reactor-main.js', import.meta.url).href,
  };
  // The supervisor owns the reactor thread, so that a thread whose loop is always free
  // sees the reactor die (even of out-of-memory) and can wake blocked callers.
  const supervisor = new Worker(new URL('./supervisor.js', import.meta.url), {
    workerData,
    transferList: [port2],
  });
  const result = new Connection(control, sig, port1);
  supervisor.on('error', (error: unknown) => {
    result.stopFromOutside(new Error('The reactor supervisor thread failed', { cause: error }));
  });
  supervisor.on('exit', (code: number) => {
    result.stopFromOutside(new Error(`The reactor supervisor thread exited with code ${code}`));
  });
  supervisor.unref();
  return result;
}
