/**
 * The wire protocol between caller threads and the reactor.
 *
 * Design note. Every caller thread owns one *channel*: a `MessagePort` to the reactor
 * and a 4-byte `SharedArrayBuffer` holding a notification counter. A caller posts a
 * request on its port, then parks in `Atomics.wait` on the counter. The reactor posts
 * the reply on the same port *first* and bumps the counter *second*, so a caller that
 * reads the counter, drains its port, and then waits for the counter to move can never
 * miss a reply (the esbuild#590 race). Requests carry ids that are never reused; a reply
 * whose id nobody waits for any more (after a timeout or `cancel()`) is dropped, so a
 * late reply never reaches a later call.
 *
 * A second shared buffer, the *control block*, is one per reactor. It holds the
 * reactor's life-cycle state and, once it has stopped, why (a serialized error). Both
 * the reactor and its supervisor (a small thread whose event loop is always free, so
 * it sees the reactor die even of out-of-memory) can mark it stopped; whoever marks it
 * bumps every channel's counter, so every blocked caller wakes at once.
 */
import { deserialize, serialize } from 'node:v8';
import type { MessagePort } from 'node:worker_threads';
import type { WireValue } from './codec.js';

// ---- channel: Int32Array(1) per caller thread --------------------------------------

/** Index of the notification counter in a channel's buffer. Only ever incremented. */
export const SIG_COUNTER = 0;
/** Byte length of a channel's shared buffer. */
export const SIG_BYTES = 4;

// ---- control block: one per reactor ------------------------------------------------

/** Index of the life-cycle state ({@link State}). */
export const CTL_STATE = 0;
/** Index of the byte length of the serialized stop cause. */
export const CTL_CAUSE_LENGTH = 1;
/** Byte offset of the serialized stop cause. */
const CTL_CAUSE_OFFSET = 16;
/** Room for the stop cause; a larger cause is cut down to its message. */
const CTL_CAUSE_CAPACITY = 32 * 1024;
/** Byte length of a control block. */
export const CTL_BYTES = CTL_CAUSE_OFFSET + CTL_CAUSE_CAPACITY;

/** Life-cycle states, in the only order they can move in. */
export const State = {
  /** `setup()` created the supervisor thread, which has not run yet. */
  Booting: 0,
  /** The supervisor runs and watches the reactor, which is starting. */
  Supervised: 1,
  /** The reactor serves calls. */
  Running: 2,
  /** Someone is writing the stop cause; `Stopped` follows at once. */
  Stopping: 3,
  /** The reactor is gone; the cause is readable. */
  Stopped: 4,
} as const;

/**
 * Marks the reactor stopped with `cause` and wakes every channel. Only the first
 * caller writes its cause; later ones change nothing. `force` lets the supervisor
 * finish a stop whose writer died half-way.
 */
export function markStopped(
  control: Int32Array,
  cause: WireValue,
  channels: Iterable<Int32Array>,
  force = false,
): void {
  for (;;) {
    const state = Atomics.load(control, CTL_STATE);
    if (state === State.Stopped) return;
    if (state === State.Stopping && !force) return;
    if (Atomics.compareExchange(control, CTL_STATE, state, State.Stopping) === state) break;
  }
  writeCause(control, cause);
  Atomics.store(control, CTL_STATE, State.Stopped);
  Atomics.notify(control, CTL_STATE);
  for (const sig of channels) {
    Atomics.add(sig, SIG_COUNTER, 1);
    Atomics.notify(sig, SIG_COUNTER);
  }
}

function writeCause(control: Int32Array, cause: WireValue): void {
  let bytes: Uint8Array;
  try {
    bytes = serialize(cause);
  } catch {
    bytes = serialize({ v: 'The reactor stopped (its cause could not be recorded)' });
  }
  if (bytes.byteLength > CTL_CAUSE_CAPACITY) {
    bytes = serialize({ v: 'The reactor stopped (its cause was too large to record)' });
  }
  new Uint8Array(control.buffer, CTL_CAUSE_OFFSET, bytes.byteLength).set(bytes);
  Atomics.store(control, CTL_CAUSE_LENGTH, bytes.byteLength);
}

/** Reads the stop cause of a stopped reactor, or `undefined` if none was written. */
export function readCause(control: Int32Array): WireValue | undefined {
  const length = Atomics.load(control, CTL_CAUSE_LENGTH);
  if (length === 0) return undefined;
  // deserialize() needs an unshared copy.
  const bytes = new Uint8Array(length);
  bytes.set(new Uint8Array(control.buffer, CTL_CAUSE_OFFSET, length));
  return deserialize(bytes) as WireValue;
}

// ---- messages ------------------------------------------------------------------------

/** Message kinds. */
export const Kind = {
  Call: 0,
  Cancel: 1,
  Success: 2,
  Failure: 3,
} as const;

/** Caller → reactor: run wrapper number `index` of module `module` with `args`. */
export interface CallMessage {
  readonly k: typeof Kind.Call;
  readonly id: number;
  /** The module that created the wrapper: a file URL (ESM) or an absolute path (CommonJS). */
  readonly module: string;
  /** The wrapper's position among the wrappers that module created. */
  readonly index: number;
  /** A hash of the wrapped function's source, to catch a mismatched wrapper. */
  readonly fingerprint: number;
  readonly args: readonly unknown[];
}

/** Caller → reactor: abort call `id`'s signal; the caller has already settled it. */
export interface CancelMessage {
  readonly k: typeof Kind.Cancel;
  readonly id: number;
  /** True when a `waitFor` timeout caused the cancellation. */
  readonly timeout: boolean;
}

/** Reactor → caller: call `id` succeeded. */
export interface SuccessMessage {
  readonly k: typeof Kind.Success;
  readonly id: number;
  readonly value: unknown;
}

/** Reactor → caller: call `id` failed. */
export interface FailureMessage {
  readonly k: typeof Kind.Failure;
  readonly id: number;
  readonly error: WireValue;
}

export type RequestMessage = CallMessage | CancelMessage;
export type ReplyMessage = SuccessMessage | FailureMessage;

/** A caller thread's channel as the reactor and supervisor see it. */
export interface ChannelEnd {
  readonly port: MessagePort;
  readonly sig: Int32Array;
}

/** What the supervisor thread is started with. */
export interface SupervisorData {
  readonly control: Int32Array;
  readonly channel: ChannelEnd;
  /** URL of the reactor's entry module. */
  readonly reactorEntry: string;
}

/** What the reactor thread is started with. */
export interface ReactorData {
  readonly control: Int32Array;
  readonly channel: ChannelEnd;
}
