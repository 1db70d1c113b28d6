/**
 * Stopping: the record of why the reactor stopped, in the control block and in every
 * channel's box, and the wake-up of every blocked caller.
 *
 * Whoever sees the reactor end first (the reactor itself, its supervisor, or the thread
 * that started it) marks the control block stopped; only the first writes its cause.
 * Then each channel's box gets the same cause and state, and its counter is bumped and
 * notified, so that every blocked caller wakes at once and reads why from its own box.
 */
import { deserialize, serialize } from 'node:v8';
import type { WireValue } from './codec.js';
import {
  CH_CAUSE_BYTES,
  CH_CAUSE_LENGTH,
  CH_CAUSE_OFFSET,
  CH_COUNTER,
  CH_SHUT_DOWN,
  CH_STATE,
  ChannelState,
  CTL_CAUSE_CAPACITY,
  CTL_CAUSE_LENGTH,
  CTL_CAUSE_OFFSET,
  CTL_SHUT_DOWN,
  CTL_STATE,
  State,
} from './layout.js';

/**
 * Marks the reactor stopped with `cause` in the control block (only the first caller
 * writes its cause; `force` finishes a stop whose writer died half-way), then tells every
 * box in `boxes`. `shutDown` says it was an orderly stop. Returns whether this call
 * marked the control block.
 */
export function markStopped(
  control: Int32Array,
  cause: WireValue,
  boxes: Iterable<Int32Array>,
  force = false,
  shutDown = false,
): boolean {
  let marked = false;
  for (;;) {
    const state = Atomics.load(control, CTL_STATE);
    if (state === State.Stopped || (state === State.Stopping && !force)) break;
    if (Atomics.compareExchange(control, CTL_STATE, state, State.Stopping) === state) {
      marked = true;
      break;
    }
  }
  if (marked) {
    writeCause(control, CTL_CAUSE_LENGTH, CTL_CAUSE_OFFSET, CTL_CAUSE_CAPACITY, cause);
    if (shutDown) Atomics.store(control, CTL_SHUT_DOWN, 1);
    Atomics.store(control, CTL_STATE, State.Stopped);
    Atomics.notify(control, CTL_STATE);
  }
  // The first cause written is the one every box gets. Every box is told before any caller
  // is woken: one woken early could tell another thread, whose box would still say nothing.
  const recorded = readControlCause(control) ?? cause;
  const orderly = Atomics.load(control, CTL_SHUT_DOWN) === 1;
  const told = [...boxes];
  const bytes = encodeCause(recorded, CH_CAUSE_BYTES);
  for (const box of told) tellBox(box, bytes, orderly, false);
  for (const box of told) wakeBox(box);
  return marked;
}

/** Tells one channel that the reactor stopped, and wakes its caller (`closedToo`: even a closed one). */
export function stopBox(box: Int32Array, cause: WireValue, shutDown: boolean, closedToo = false): void {
  tellBox(box, encodeCause(cause, CH_CAUSE_BYTES), shutDown, closedToo);
  wakeBox(box);
}

/** Writes in one channel's box that the reactor stopped, and why (`cause`, serialized), unless it says so already. */
function tellBox(box: Int32Array, cause: Uint8Array, shutDown: boolean, closedToo: boolean): void {
  const state = Atomics.load(box, CH_STATE);
  if (state !== ChannelState.Stopped && (closedToo || state !== ChannelState.Closed)) {
    writeBytes(box, CH_CAUSE_LENGTH, CH_CAUSE_OFFSET, cause);
    if (shutDown) Atomics.store(box, CH_SHUT_DOWN, 1);
    Atomics.store(box, CH_STATE, ChannelState.Stopped);
  }
}

/** Wakes the caller of one channel, to look at its box. */
function wakeBox(box: Int32Array): void {
  Atomics.add(box, CH_COUNTER, 1);
  Atomics.notify(box, CH_COUNTER);
}

/** Closes a channel from the reactor's side (the caller opens a new one), and wakes it. */
export function closeBox(box: Int32Array): void {
  Atomics.store(box, CH_STATE, ChannelState.Closed);
  Atomics.notify(box, CH_STATE);
  Atomics.add(box, CH_COUNTER, 1);
  Atomics.notify(box, CH_COUNTER);
}

function writeCause(view: Int32Array, lengthIndex: number, offset: number, capacity: number, cause: WireValue): void {
  writeBytes(view, lengthIndex, offset, encodeCause(cause, capacity));
}

/** `cause`, serialized in at most `capacity` bytes (cut down to its message if need be). */
function encodeCause(cause: WireValue, capacity: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = serialize(cause);
  } catch {
    bytes = serialize({ v: 'The reactor stopped (its cause could not be recorded)' });
  }
  if (bytes.byteLength > capacity) {
    const message = 'err' in cause ? cause.err.message : 'its cause was too large to record';
    bytes = serialize({ v: `The reactor stopped: ${message.slice(0, capacity / 4)}` });
  }
  return bytes;
}

function writeBytes(view: Int32Array, lengthIndex: number, offset: number, bytes: Uint8Array): void {
  new Uint8Array(view.buffer, offset, bytes.byteLength).set(bytes);
  Atomics.store(view, lengthIndex, bytes.byteLength);
}

function readCause(view: Int32Array, lengthIndex: number, offset: number): WireValue | undefined {
  const length = Atomics.load(view, lengthIndex);
  if (length <= 0) return undefined;
  // deserialize() needs an unshared copy.
  try {
    return deserialize(new Uint8Array(view.buffer, offset, length).slice()) as WireValue;
  } catch {
    return { v: 'The reactor stopped (its cause could not be read)' };
  }
}

/** The stop cause in a control block, if one was written. */
export function readControlCause(control: Int32Array): WireValue | undefined {
  return readCause(control, CTL_CAUSE_LENGTH, CTL_CAUSE_OFFSET);
}

/** The stop cause in a channel's box, if one was written. */
export function readBoxCause(box: Int32Array): WireValue | undefined {
  return readCause(box, CH_CAUSE_LENGTH, CH_CAUSE_OFFSET);
}
