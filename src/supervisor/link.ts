/**
 * The supervisor's hold on the reactor thread, whichever way it was started:
 *
 * - **by the supervisor** (its child): the `Worker`'s own `exit` and `error` events say
 *   when and why it ended (out of memory included). Used when a worker thread calls
 *   `setup()` (the reactor boots only once elected) and with `resourceLimits`.
 * - **beside it**, by the thread that called `setup()` (the main thread's usual case, so
 *   that the two threads boot at the same time): a `MessagePort` to the reactor, whose
 *   `close` event says when it ended. Why must then be told: the reactor says so itself
 *   when it can (see reactor/start.ts and reactor/guard.ts); if it ended without a word
 *   after it started, it ran out of memory, the one way a reactor thread ends like that.
 *
 * Imported before the rest of the supervisor, so that nothing the reactor says early is lost.
 */
import type { MessagePort, ResourceLimits } from 'node:worker_threads';
import { startSharing } from '../common/env.js';

/** What happened to the reactor before the watcher listened. */
export interface Early {
  up?: boolean;
  ended?: { readonly cause: unknown };
}

export interface ReactorLink {
  readonly threadId: number;
  post(message: unknown): void;
  /** Messages from the reactor other than 'up' (which sets `early.up`). */
  onMessage(handler: (message: { k?: unknown; box?: unknown }) => void): void;
  /** Once, when the reactor thread ended (at once if it has already). */
  onEnd(handler: (cause: unknown) => void): void;
  /** Stops listening for its end (it is being ended on purpose), and ends it. */
  end(): void;
}

class Events {
  readonly #early: Early;
  #message: ((message: { k?: unknown; box?: unknown }) => void) | undefined;
  #end: ((cause: unknown) => void) | undefined;
  #ending = false;

  constructor(early: Early) {
    this.#early = early;
  }

  message(message: { k?: unknown; box?: unknown } | null): void {
    if (message === null || typeof message !== 'object') return;
    if (message.k === 'up') this.#early.up = true;
    this.#message?.(message);
  }

  ended(cause: unknown): void {
    if (this.#ending || this.#early.ended !== undefined) return;
    this.#early.ended = { cause };
    this.#end?.(cause);
  }

  onMessage(handler: (message: { k?: unknown; box?: unknown }) => void): void {
    this.#message = handler;
  }

  onEnd(handler: (cause: unknown) => void): void {
    this.#end = handler;
    if (this.#early.ended !== undefined) handler(this.#early.ended.cause);
  }

  ending(): void {
    this.#ending = true;
  }
}

/** Starts the reactor thread as this thread's child. Throws if it cannot be started. */
export function childLink(
  entry: URL,
  workerData: unknown,
  transferList: readonly MessagePort[],
  resourceLimits: ResourceLimits | undefined,
  early: Early,
  argv?: readonly string[],
  execArgv?: readonly string[],
): ReactorLink {
  const events = new Events(early);
  const worker = startSharing(entry, {
    workerData,
    transferList: [...transferList],
    ...(resourceLimits === undefined ? {} : { resourceLimits }),
    ...(argv === undefined ? {} : { argv: [...argv] }),
    ...(execArgv === undefined ? {} : { execArgv: [...execArgv] }),
  });
  let failure: unknown;
  worker.on('error', (error: unknown) => {
    failure = error;
  });
  worker.on('exit', (code: number) => {
    events.ended(
      failure ??
        new Error(
          early.up === true
            ? `The reactor thread exited with code ${code}`
            : `The reactor thread failed to start (exit code ${code})`,
        ),
    );
  });
  worker.on('message', (message: { k?: unknown } | null) => {
    events.message(message);
  });
  return linkOf(events, worker.threadId, worker, () => {
    void worker.terminate();
  });
}

/** Holds a reactor thread started beside this one, through a port to it. */
export function portLink(port: MessagePort, threadId: number, early: Early): ReactorLink {
  const events = new Events(early);
  port.on('message', (message: { k?: unknown } | null) => {
    events.message(message);
  });
  port.on('close', () => {
    events.ended(
      early.up === true
        ? // What Node says of a worker it ended for running out of memory: the only way a
          // reactor that started ends without a word (its own exits and errors say why).
          Object.assign(new Error('Worker terminated due to reaching memory limit: JS heap out of memory'), {
            code: 'ERR_WORKER_OUT_OF_MEMORY',
          })
        : new Error('The reactor thread failed to start'),
    );
  });
  // Not this thread's child: it ends itself when told.
  return linkOf(events, threadId, port, () => {
    port.postMessage({ k: 'stand-down' });
  });
}

/** A link over `target` (a Worker or a port to the reactor), ended by `end`. */
function linkOf(
  events: Events,
  threadId: number,
  target: { postMessage(message: unknown): void },
  end: () => void,
): ReactorLink {
  return {
    threadId,
    post(message) {
      target.postMessage(message);
    },
    onMessage: (handler) => {
      events.onMessage(handler);
    },
    onEnd: (handler) => {
      events.onEnd(handler);
    },
    end() {
      events.ending();
      end();
    },
  };
}
