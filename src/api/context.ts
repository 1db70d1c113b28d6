/**
 * What a function running in the reactor can reach: its call's abort signal, and the
 * transfer lists of the values it returns.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { types } from 'node:util';
import { MessagePort, type Transferable } from 'node:worker_threads';
import { describe } from './options.js';
import { thread } from '../common/thread.js';

/**
 * One call running in the reactor. Its `AbortController` is made only when the code
 * asks for `abortSignal()`, since most calls never do.
 * @internal
 */
export class CallContext {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

// Shared with other copies of crochet in this thread (see common/thread.ts).
thread.calls ??= new AsyncLocalStorage<unknown>();
const calls = thread.calls as AsyncLocalStorage<CallContext>;
const never = new AbortController().signal;

/**
 * The platform's `AbortSignal` (from `@types/node` or the DOM library, whichever the
 * program has), or the part of it crochet's users need when it has neither.
 */
type CallSignal = typeof globalThis extends { AbortSignal: { prototype: infer Signal } }
  ? Signal
  : {
      readonly aborted: boolean;
      readonly reason: unknown;
      throwIfAborted(): void;
      addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
      removeEventListener(type: 'abort', listener: () => void): void;
    };

/**
 * The abort signal of the call this code runs for. It is aborted when the caller
 * cancels the result (`cancel()`, reason: a `CancelledError`) or when a `waitFor` call
 * times out (reason: a `TimeoutError`), so the work can stop. Pass it on to what you
 * await: `fetch(url, { signal: abortSignal() })`.
 *
 * It follows the call across `await`s. Outside a call (for example when a unit test
 * calls a wrapper's `.wrapped` function directly) it returns a signal that never aborts.
 *
 * @example
 * ```ts
 * export const download = waitFor({ timeout: 10_000 })(async (url: string) => {
 *   const response = await fetch(url, { signal: abortSignal() });
 *   return await response.text();
 * });
 * ```
 */
export function abortSignal(): CallSignal {
  return calls.getStore()?.signal ?? never;
}

/** Whether this code runs for a call of a wrapped function (in the reactor). @internal */
export function inCall(): boolean {
  return calls.getStore() !== undefined;
}

/** Runs `fn(...args)` as the call `context` (whose signal `abortSignal()` returns). @internal */
export function runAsCall(
  context: CallContext,
  fn: (...args: unknown[]) => unknown,
  args: readonly unknown[],
): unknown {
  return calls.run(context, fn, ...args);
}

const transfers = thread.transfers;

/**
 * Marks `value` so that the objects in `list` are moved, not copied, when `value`
 * crosses threads as an argument of a wrapped function or as its result. Moved
 * `ArrayBuffer`s become detached (length 0) in the sending thread. Returns `value`.
 *
 * @throws {TypeError} if `value` is not an object or `list` is not an array.
 * @example
 * ```ts
 * const bytes = new Uint8Array(1 << 20);
 * checksum(transfer(bytes, [bytes.buffer]));
 * ```
 */
export function transfer<T>(
  value: T,
  // What can move: ArrayBuffers, and (between the reactor and the thread that called setup())
  // MessagePorts and web streams, spelt out so that crochet's types need no @types/node.
  list: readonly (
    | ArrayBuffer
    | { postMessage(message: never): void; close(): void }
    | { readonly locked: boolean }
    | { readonly readable: object; readonly writable: object }
  )[],
): T {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(
      `Expected \`value\` of transfer() to be an object (the value that crosses threads), got ${describe(value)}`,
    );
  }
  if (!Array.isArray(list)) {
    throw new TypeError(
      `Expected \`list\` of transfer() to be an array of transferable objects, got ${describe(list)}`,
    );
  }
  // Checked item by item when the value is sent (checkTransferList).
  transfers.set(value, [...(list as readonly unknown[] as readonly Transferable[])]);
  return value;
}

/** Whether `value` was marked with `transfer()` (and not sent since). @internal */
export function isMarked(value: object): boolean {
  return transfers.has(value);
}

/** Takes the transfer list marked on `value`, if any. @internal */
export function takeTransfer(value: unknown, into: Transferable[]): void {
  if (typeof value !== 'object' || value === null) return;
  const list = transfers.get(value);
  if (list === undefined) return;
  transfers.delete(value);
  into.push(...list);
}

/** The web streams, which ports can transfer (where the runtime has them). */
function isStream(value: object): boolean {
  for (const name of ['ReadableStream', 'WritableStream', 'TransformStream'] as const) {
    const Stream = (globalThis as Record<string, unknown>)[name];
    if (typeof Stream === 'function' && value instanceof Stream) return true;
  }
  return false;
}

/**
 * Checks a list given to `transfer()` before anything is sent, by the same rules in every
 * thread: each object at most once, and each one that can move. `ports`: whether the
 * value goes over a port (between the reactor and the thread that started it), which can
 * also move `MessagePort`s and streams; other threads reach the reactor over a channel
 * that moves only `ArrayBuffer`s. Throws a `TypeError` saying what is wrong.
 * @internal
 */
export function checkTransferList(list: readonly unknown[], ports: boolean): void {
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    const first = list.indexOf(item);
    if (first !== i) {
      throw new TypeError(
        `The transfer() list holds the same object twice (items ${first} and ${i}: ${describe(item)}); list each object once`,
      );
    }
    if (typeof item === 'object' && item !== null && !types.isProxy(item)) {
      if (types.isArrayBuffer(item)) continue;
      if (item instanceof MessagePort || isStream(item)) {
        if (ports) continue;
        throw new TypeError(
          `The transfer() list holds a ${item instanceof MessagePort ? 'MessagePort' : 'stream'} (item ${i}), which can move only between the reactor and the thread that started it with setup(): this thread reaches the reactor over a channel that moves only ArrayBuffers. Make this call from that thread, or pass data instead`,
        );
      }
    }
    throw new TypeError(
      `The transfer() list holds ${describe(item)} (item ${i}), which cannot be transferred: list ArrayBuffers${ports ? ', MessagePorts or streams' : ''} that the value holds`,
    );
  }
}
