/**
 * A caller thread's connection to the reactor: its channel (port + notification
 * counter) and the reactor's control block. Sends calls, drains replies, and blocks.
 *
 * Every blocking wait here is bounded: the caller parks in slices of at most
 * {@link SLICE_MS}, and between slices checks the control block, so even a reactor that
 * died without anyone bumping the counter is noticed.
 */
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import { receiveMessageOnPort, type MessagePort, type Transferable } from 'node:worker_threads';
import { dataCloneError, decodeThrown, encodeThrown } from './codec.js';
import { takeTransfer } from './context.js';
import { ReactorStoppedError } from './errors.js';
import {
  CTL_STATE,
  Kind,
  SIG_COUNTER,
  State,
  markStopped,
  readCause,
  type CallMessage,
  type CancelMessage,
  type ReplyMessage,
} from './protocol.js';
import type { WrapperId } from './registry.js';

/** The longest a caller parks before it checks the reactor's state again. */
const SLICE_MS = 250;
/**
 * How long the supervisor thread may take to start. It runs only crochet's own small
 * module, so running out of this means threads cannot start at all.
 */
const BOOT_LIMIT_MS = 60_000;

/** Whoever waits for a call's outcome. */
export type Receiver = (ok: boolean, value: unknown) => void;

export class Connection {
  readonly #control: Int32Array;
  readonly #sig: Int32Array;
  readonly #port: MessagePort;
  readonly #pending = new Map<number, Receiver>();
  readonly #bootDeadline: number;
  #nextId = 1;
  #stopped: unknown = undefined;
  #isStopped = false;

  constructor(control: Int32Array, sig: Int32Array, port: MessagePort) {
    this.#control = control;
    this.#sig = sig;
    this.#port = port;
    this.#bootDeadline = performance.now() + BOOT_LIMIT_MS;
    // Replies that arrive while this thread's loop is free are delivered at once; the
    // port never keeps the process alive.
    port.on('message', (message: ReplyMessage) => {
      this.#dispatch(message);
    });
    port.unref();
  }

  /**
   * Sends a call and returns its id; `receiver` gets the outcome. Throws
   * `ERR_CROCHET_DATA_CLONE` if an argument cannot cross, and `ReactorStoppedError`
   * if the reactor has stopped.
   */
  call(wrapper: WrapperId, name: string, args: unknown[], receiver: Receiver): number {
    this.throwIfStopped();
    const id = this.#nextId++;
    const transferList: Transferable[] = [];
    for (const arg of args) takeTransfer(arg, transferList);
    const message: CallMessage = {
      k: Kind.Call,
      id,
      module: wrapper.module,
      index: wrapper.index,
      fingerprint: wrapper.fingerprint,
      args,
    };
    try {
      this.#port.postMessage(message, transferList);
    } catch (error) {
      throw dataCloneError(describeArgument(args, name), error);
    }
    this.#pending.set(id, receiver);
    return id;
  }

  /** Stops waiting for call `id` and aborts its signal in the reactor. */
  cancel(id: number, timeout: boolean): void {
    this.#pending.delete(id);
    if (this.#isStopped) return;
    const message: CancelMessage = { k: Kind.Cancel, id, timeout };
    this.#port.postMessage(message);
  }

  /**
   * Blocks until `isDone()` holds or `timeout` ms pass. Returns false on timeout. When
   * the reactor stops, every pending receiver is settled with `ReactorStoppedError`
   * first, so `isDone()` then holds for them.
   */
  block(isDone: () => boolean, timeout: number): boolean {
    const deadline = performance.now() + timeout;
    for (;;) {
      // Read the counter before draining: a reply posted after the drain moves the
      // counter past `seen`, so the wait below returns at once instead of sleeping.
      const seen = Atomics.load(this.#sig, SIG_COUNTER);
      this.#drain();
      if (isDone()) return true;
      if (this.#checkStopped()) return true;
      const remaining = deadline - performance.now();
      if (!(remaining > 0)) return false;
      Atomics.wait(this.#sig, SIG_COUNTER, seen, Math.min(remaining, SLICE_MS));
    }
  }

  /** Throws `ReactorStoppedError` if the reactor has stopped. */
  throwIfStopped(): void {
    if (this.#checkStopped()) throw this.stoppedError();
  }

  /** A new `ReactorStoppedError` carrying why the reactor stopped. */
  stoppedError(): ReactorStoppedError {
    const cause = this.#stopped;
    const why = cause instanceof Error ? `: ${cause.message}` : cause === undefined ? '' : `: ${inspect(cause)}`;
    return new ReactorStoppedError(
      `The reactor has stopped${why}; no result will arrive`,
      cause === undefined ? undefined : { cause },
    );
  }

  #drain(): void {
    for (;;) {
      const received = receiveMessageOnPort(this.#port);
      if (received === undefined) return;
      this.#dispatch(received.message as ReplyMessage);
    }
  }

  #dispatch(message: ReplyMessage): void {
    const receiver = this.#pending.get(message.id);
    // Nobody waits for this id any more (timed out or cancelled): drop the reply.
    if (receiver === undefined) return;
    this.#pending.delete(message.id);
    if (message.k === Kind.Success) receiver(true, message.value);
    else receiver(false, decodeThrown(message.error));
  }

  /** Whether the reactor has stopped; on first noticing, fails every pending call. */
  #checkStopped(): boolean {
    if (this.#isStopped) return true;
    const state = Atomics.load(this.#control, CTL_STATE);
    if (state === State.Booting && performance.now() > this.#bootDeadline) {
      const cause = new Error(`The reactor's supervisor thread did not start within ${BOOT_LIMIT_MS} ms`);
      markStopped(this.#control, encodeThrown(cause), [this.#sig]);
    } else if (state !== State.Stopped) {
      return false;
    }
    if (Atomics.load(this.#control, CTL_STATE) !== State.Stopped) return false;
    this.#isStopped = true;
    const cause = readCause(this.#control);
    this.#stopped = cause === undefined ? undefined : decodeThrown(cause);
    // Replies that made it before the stop still count.
    this.#drain();
    const receivers = [...this.#pending.values()];
    this.#pending.clear();
    for (const receiver of receivers) receiver(false, this.stoppedError());
    return true;
  }

  /** Marks the reactor stopped from this side (its supervisor died), waking this thread. */
  stopFromOutside(cause: unknown): void {
    markStopped(this.#control, encodeThrown(cause), [this.#sig]);
  }
}

/** Names the argument that cannot be cloned, for the error message. */
function describeArgument(args: readonly unknown[], name: string): string {
  const callee = name === '' ? 'the wrapped function' : `${name}()`;
  for (let i = 0; i < args.length; i++) {
    try {
      structuredClone(args[i]);
    } catch {
      return `Argument ${i + 1} of ${callee}`;
    }
  }
  return `The arguments of ${callee}`;
}
