/**
 * The threads crochet starts share the process's environment: `process.env` in reactor
 * code is the application's, not a copy taken when `setup()` ran, as it would be in one
 * thread. Node shares it with `worker_threads.SHARE_ENV`; a runtime without it (or one
 * that refuses it) starts the thread without it.
 */
import * as threads from 'node:worker_threads';
import type { WorkerOptions } from 'node:worker_threads';

/** Starts a worker thread that shares this thread's `process.env`, where the runtime can. */
export function startSharing(entry: URL | string, options: WorkerOptions): threads.Worker {
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
