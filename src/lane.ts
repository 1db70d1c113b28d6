/**
 * The direct lane: a fast path through shared memory for blocking calls whose arguments
 * and result are small primitives.
 *
 * Design note. `postMessage` costs microseconds on each side, more than the whole round
 * trip is allowed to. So a channel's shared buffer also holds one request slot and one
 * reply slot. A `waitFor` call whose arguments are all small primitives writes them into
 * the request slot, then its id (last, so the id published means the arguments are
 * there). A reactor that is hot polls the id and takes the request; one that is not is
 * woken with a tiny `Poke` message on the port. The reply takes the reply slot the same
 * way (value first, id last) when it is a small primitive and its call is still the
 * caller's latest lane request; any other reply goes over the port as usual. The
 * reactor notifies a caller only when it is parked, and a caller reads its port only
 * when the reactor rang the reply doorbell: a lane call costs no system call at all.
 *
 * Order is kept by ids: ids are issued in call order and shared by both paths, so the
 * reactor takes the lane request before any port message with the same or a higher id,
 * and after every port message with a lower one (those were posted, and the request
 * doorbell rung, before the lane request was written; the reactor reads the lane's id
 * before the doorbell, so it sees them). A poke names its request's id, so that a poke
 * that arrives late, after polling took its request, cannot take a newer request ahead
 * of port messages posted before that one.
 */

// The channel's shared buffer, as Int32 indexes: 0, 1, 18 and 19 are the protocol's
// (protocol.ts); the lane has 2 to 17, and bytes from 128 on.

/** Index (Int32) of the flag the reactor sets while it polls (hot). */
export const LANE_HOT = 2;
/** Index of the id of the latest lane request (0: none yet). Written last. */
const REQUEST_ID = 3;
const REQUEST_FN = 4;
const REQUEST_ARGC = 5;
/** Index of the id of the latest lane reply. Written last. */
const REPLY_ID = 6;
const REPLY_TYPE = 7;
const REPLY_LENGTH = 8;
/** Indexes of the argument types (4) and string lengths (4). */
const ARG_TYPES = 9;
const ARG_LENGTHS = 13;
/** Index of the id of the last lane request the reactor took (read its arguments). */
const TAKEN_ID = 17;
/** Byte offsets of the numbers (4 arguments, then the reply) and of the strings. */
const NUMBERS = 128;
const STRINGS = 256;
/** The most arguments, and the longest string (UTF-16 units), the lane carries. */
export const LANE_ARGS = 4;
const MAX_STRING = 64;
/** Byte length of a channel's shared buffer with its lane. */
export const LANE_BYTES = STRINGS + (LANE_ARGS + 1) * MAX_STRING * 2;

const UNDEFINED = 0;
const NULL = 1;
const FALSE = 2;
const TRUE = 3;
const NUMBER = 4;
const STRING = 5;

/** Views of a channel's shared buffer. */
export class Lane {
  readonly sig: Int32Array;
  readonly #numbers: Float64Array;
  readonly #strings: Uint16Array;

  constructor(sig: Int32Array) {
    this.sig = sig;
    this.#numbers = new Float64Array(sig.buffer, NUMBERS, LANE_ARGS + 1);
    this.#strings = new Uint16Array(sig.buffer, STRINGS, (LANE_ARGS + 1) * MAX_STRING);
  }

  /** Whether a channel's buffer has room for a lane. */
  static fits(sig: Int32Array): boolean {
    return sig.byteLength >= LANE_BYTES;
  }

  /** Whether `value` can travel in a slot. */
  static carries(value: unknown): boolean {
    switch (typeof value) {
      case 'undefined':
      case 'boolean':
      case 'number':
        return true;
      case 'string':
        return value.length <= MAX_STRING;
      default:
        return value === null;
    }
  }

  /**
   * Caller: whether the request slot is free, i.e. the reactor took the last request.
   * A request whose caller gave up (timed out) may still wait there; its slot must not
   * be overwritten while the reactor could be reading it, so the next call goes by the
   * port instead.
   */
  free(): boolean {
    return Atomics.load(this.sig, REQUEST_ID) === Atomics.load(this.sig, TAKEN_ID);
  }

  /** Caller: writes request `id` (arguments first, id last). */
  writeRequest(id: number, fn: number, args: readonly unknown[]): void {
    for (let i = 0; i < args.length; i++) this.#write(i, ARG_TYPES + i, ARG_LENGTHS + i, args[i]);
    Atomics.store(this.sig, REQUEST_FN, fn);
    Atomics.store(this.sig, REQUEST_ARGC, args.length);
    Atomics.store(this.sig, REQUEST_ID, id);
  }

  /** The id of the latest lane request. */
  requestId(): number {
    return Atomics.load(this.sig, REQUEST_ID);
  }

  /** Reactor: reads the latest request (call after `requestId()` showed a new id). */
  readRequest(id: number): { fn: number; args: unknown[] } {
    const argc = Atomics.load(this.sig, REQUEST_ARGC);
    const args: unknown[] = [];
    for (let i = 0; i < argc; i++) args.push(this.#read(i, ARG_TYPES + i, ARG_LENGTHS + i));
    const fn = Atomics.load(this.sig, REQUEST_FN);
    // Only now may the caller write the slot again.
    Atomics.store(this.sig, TAKEN_ID, id);
    return { fn, args };
  }

  /** Reactor: writes the reply to request `id` (value first, id last). */
  writeReply(id: number, value: unknown): void {
    this.#write(LANE_ARGS, REPLY_TYPE, REPLY_LENGTH, value);
    Atomics.store(this.sig, REPLY_ID, id);
  }

  /** The id of the latest lane reply. */
  replyId(): number {
    return Atomics.load(this.sig, REPLY_ID);
  }

  /** Caller: reads the latest reply (call after `replyId()` showed a new id). */
  readReply(): unknown {
    return this.#read(LANE_ARGS, REPLY_TYPE, REPLY_LENGTH);
  }

  #write(slot: number, typeIndex: number, lengthIndex: number, value: unknown): void {
    let type: number;
    switch (typeof value) {
      case 'undefined':
        type = UNDEFINED;
        break;
      case 'boolean':
        type = value ? TRUE : FALSE;
        break;
      case 'number':
        type = NUMBER;
        this.#numbers[slot] = value;
        break;
      case 'string': {
        type = STRING;
        const base = slot * MAX_STRING;
        for (let i = 0; i < value.length; i++) this.#strings[base + i] = value.charCodeAt(i);
        Atomics.store(this.sig, lengthIndex, value.length);
        break;
      }
      default:
        type = NULL;
    }
    Atomics.store(this.sig, typeIndex, type);
  }

  #read(slot: number, typeIndex: number, lengthIndex: number): unknown {
    switch (Atomics.load(this.sig, typeIndex)) {
      case NULL:
        return null;
      case FALSE:
        return false;
      case TRUE:
        return true;
      case NUMBER:
        return this.#numbers[slot];
      case STRING: {
        const base = slot * MAX_STRING;
        const length = Atomics.load(this.sig, lengthIndex);
        return String.fromCharCode(...this.#strings.subarray(base, base + length));
      }
      default:
        return undefined;
    }
  }
}
