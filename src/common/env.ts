/**
 * Starting crochet's threads. They share the process's environment: `process.env` in
 * reactor code is the application's, not a copy taken when `setup()` ran, as it would be in
 * one thread. Node shares it with `worker_threads.SHARE_ENV`; a runtime without it (or one
 * that refuses it) starts the thread without it.
 *
 * A thread inherits this thread's Node options, except where Node would refuse them:
 * `--input-type` (code run with `node --input-type=module -e …` or from standard input), with
 * which Node starts no worker from a file. Options given explicitly are checked by Node,
 * unlike inherited ones; those it names as not for workers (`--expose-gc`,
 * `--max-old-space-size`…) are left out.
 */
import * as threads from 'node:worker_threads';
import type { WorkerOptions } from 'node:worker_threads';
import { mustFilterExecArgv, workerExecArgv } from './runners.js';

/** Starts a worker thread that shares this thread's `process.env`, where the runtime can. */
export function startSharing(entry: URL | string, options: WorkerOptions): threads.Worker {
  let execArgv =
    options.execArgv ?? (mustFilterExecArgv(process.execArgv) ? workerExecArgv(process.execArgv) : undefined);
  for (let attempt = 0; ; attempt++) {
    try {
      return startWith(entry, execArgv === undefined ? options : { ...options, execArgv });
    } catch (error) {
      // Leave out the options Node names as not for workers, and try again.
      const invalid = /invalid execArgv flags: (.*)$/.exec((error as Error).message)?.[1]?.split(/,\s*/);
      if (
        attempt > 0 ||
        execArgv === undefined ||
        (error as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV' ||
        invalid === undefined
      ) {
        throw error;
      }
      execArgv = execArgv.filter((arg) => !invalid.includes(arg));
    }
  }
}

function startWith(entry: URL | string, options: WorkerOptions): threads.Worker {
  const share = (threads as { readonly SHARE_ENV?: unknown }).SHARE_ENV;
  if (typeof share !== 'symbol') return new threads.Worker(entry, options);
  try {
    return new threads.Worker(entry, { ...options, env: share as typeof threads.SHARE_ENV });
  } catch (error) {
    // Options the runtime refuses for other reasons are its caller's to handle.
    if ((error as { code?: unknown }).code === 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new threads.Worker(entry, options);
  }
}
