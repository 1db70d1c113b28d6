/**
 * Isolated reactors: reactor threads of their own, one per module they serve (a synckit
 * worker file), each with its own `execArgv`, globals and module cache.
 *
 * An isolated reactor is crochet's reactor (engine, wire, output capture, error codec)
 * started by the calling thread for itself alone. It is not "the" reactor: it joins no
 * directory or election, announces nothing to other threads, and `setup()` neither finds
 * nor replaces it. Its death fails only its own calls, with `ReactorStoppedError` and the
 * cause, never the process's reactor or another isolated one. One supervisor thread per
 * calling thread watches all of its isolated reactors (see supervisor/isolated.ts), so
 * that a caller parked in a call is woken when the reactor it waits for dies.
 */
import { MessageChannel, threadId, type Worker, type WorkerOptions } from 'node:worker_threads';
import { bundled, home } from '../common/home.js';
import { startSharing } from '../common/env.js';
import { trace } from '../common/diagnostics.js';
import { CrochetError } from '../api/errors.js';
import { portEndpoint } from '../wire/endpoint.js';
import { allocateBox } from '../wire/lane.js';
import { BOX_BYTES, CTL_BYTES } from '../wire/layout.js';
import type { GlobalShimData, IsolatedData, ReactorData, WatchIsolated } from '../wire/messages.js';
import { Connection } from './connection.js';

/** What an isolated reactor is started with. */
export interface IsolatedOptions {
  /** The module it serves, as the reactor loads it: a file URL (ES module) or a path (CommonJS). */
  readonly module: string;
  /** Its thread's `execArgv`: replaces the process's, as for `new Worker()`. */
  readonly execArgv: readonly string[];
  readonly shims: readonly GlobalShimData[];
  /** Objects moved to its thread as it starts. */
  readonly moved: readonly Transferable[];
}

type Transferable = import('node:worker_threads').Transferable;

/** How long an isolated reactor stays hot after a call (as setup()'s default `hot`). */
const HOT_MS = 0.1;

/** Options that preload modules: then crochet's guard is preloaded first (see reactor/guard.ts). */
const PRELOADS = /^(?:--import|--require|-r|--loader|--experimental-loader)(?:=|$)/;

/** This thread's supervisor of isolated reactors, started with the first of them. */
let supervisor: Worker | undefined;

/** The connections of this thread's isolated reactors, drained as the thread exits. */
const connections = new Set<Connection>();

function supervisorThread(): Worker {
  if (supervisor !== undefined) return supervisor;
  const started = startSharing(new URL('./supervisor/isolated.js', home), {});
  started.unref();
  started.on('error', (error: unknown) => {
    for (const connection of connections) {
      connection.stopFromOutside(new Error('The supervisor of isolated reactors failed', { cause: error }));
    }
  });
  process.once('exit', () => {
    // What the isolated reactors wrote is written out, as for the process's reactor.
    for (const connection of connections) connection.drainAll(true);
  });
  supervisor = started;
  return started;
}

/**
 * Starts the thread, leaving out options inherited from the process that Node names as not
 * for workers (`--max-old-space-size`, `--expose-gc`…): inherited, they would have been left
 * out too. Options of the caller's own that Node refuses are the caller's error.
 */
function startWithout(entry: URL, options: WorkerOptions & { execArgv: string[] }): Worker {
  let execArgv = options.execArgv;
  for (;;) {
    try {
      return startSharing(entry, { ...options, execArgv });
    } catch (error) {
      const invalid = /invalid execArgv flags: (.*)$/.exec((error as Error).message)?.[1]?.split(/,\s*/);
      const inherited = invalid?.filter((flag) => process.execArgv.includes(flag)) ?? [];
      if ((error as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV' || inherited.length === 0) throw error;
      execArgv = execArgv.filter((arg) => !inherited.includes(arg));
    }
  }
}

/**
 * Starts an isolated reactor serving `options.module`, and returns this thread's connection
 * to it. Calls made at once wait (within the start-up limit) until it serves. It never keeps
 * the process alive.
 *
 * @throws the error of `new Worker()` when Node refuses the `execArgv`.
 */
export function startIsolated(options: IsolatedOptions): Connection {
  if (bundled) {
    throw new CrochetError(
      'ERR_CROCHET_BUNDLED',
      `crochet was bundled into ${home}, without the files of its threads beside it; isolated reactors (crochet/synckit) start from those files: keep crochet external when you bundle (esbuild --external:crochet)`,
    );
  }
  const control = new Int32Array(new SharedArrayBuffer(CTL_BYTES));
  const box = allocateBox(BOX_BYTES);
  const { port1, port2 } = new MessageChannel();
  const link = new MessageChannel();
  const isolated: IsolatedData = { module: options.module, shims: options.shims, moved: options.moved };
  const data: ReactorData = { control, port: port2, box, hot: HOT_MS, supervisor: link.port1, isolated };
  const transferList = [port2, link.port1, ...options.moved];
  const entry = new URL('./reactor-main.js', home);
  let execArgv = [...options.execArgv];
  // Preloads that fail in the reactor thread must reach its caller: crochet's guard goes first.
  // (Bun and Deno refuse preloads in a worker's options.)
  const onNode = typeof process.versions['bun'] !== 'string' && !('Deno' in globalThis);
  if (onNode && execArgv.some((arg) => PRELOADS.test(arg))) {
    execArgv = ['--import', new URL('./reactor/guard.js', home).href, ...execArgv];
  }
  const reactor = startWithout(entry, { workerData: data, transferList, execArgv });
  reactor.unref();
  const watch: WatchIsolated = { k: 'watch', control, box, port: link.port2, threadId: reactor.threadId };
  supervisorThread().postMessage(watch, [link.port2]);
  const connection = new Connection(
    { box, endpoint: portEndpoint(port1, box, 'caller'), beats: false, ring: false, starter: threadId },
    { control, limit: Connection.startupLimit, rediscover: () => undefined },
  );
  // Heard here when this thread's loop is free; the supervisor hears it when it is not.
  let failure: unknown;
  reactor.on('error', (error: unknown) => {
    failure = error;
    connection.stopFromOutside(error);
  });
  reactor.on('exit', (code: number) => {
    connection.stopFromOutside(failure ?? new Error(`The isolated reactor thread exited with code ${code}`));
  });
  connections.add(connection);
  trace('isolated reactor starting for %s', options.module);
  return connection;
}
