/**
 * The direct lane: a fast path through shared memory for blocking calls whose arguments
 * and result are primitives (numbers, booleans, null, undefined, and strings of up to
 * {@link LANE_TEXT} UTF-16 units in all) or small plain data: objects and arrays that
 * JSON copies exactly as a structured clone would, up to {@link LANE_DATA} units of JSON.
 *
 * Design note. `postMessage` costs microseconds on each side, more than the whole round
 * trip is allowed to. So a channel's shared buffer also holds one request slot and one
 * reply slot. A `waitFor` call whose arguments are all such values writes them into
 * the request slot, then its id (last, so the id published means the arguments are
 * there). A reactor that is hot polls the id and takes the request; one that is not is
 * woken with a tiny `Poke` message on the port. The reply takes the reply slot the same
 * way (value first, id last) when it is such a value and its call is still the
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
import { Buffer } from 'node:buffer';
import { types } from 'node:util';
import { isMarked } from '../api/context.js';
import {
  ARG_KINDS,
  ARG_NUMBERS,
  BOX_BYTES,
  LANE_ARGS,
  LANE_STRINGS,
  LANE_TEXT,
  REPLY_ID,
  REPLY_KIND,
  REPLY_NUMBER,
  REQUEST_AFTER,
  REQUEST_ARGC,
  REQUEST_FN,
  REQUEST_ID,
  TAKEN_ID,
  CH_SENT,
  WIDE_BYTES,
  WIDE_TEXT,
  boxView,
  wideBase,
  type Growable,
} from './layout.js';

// The channel's shared buffer, in regions 128 bytes apart, so that what the caller writes
// for a request and what the reactor writes for a reply never share a cache line:
// - bytes 0-63: flags that rarely change (the protocol's doorbells, CH_HOT, parked);
// - bytes 128-191: the request slot, written by the caller (and TAKEN_ID by the reactor);
// - bytes 256-319: the reply slot and the notification counter, written by the reactor;
// - bytes from 384 on: the text (strings, and plain data as JSON), the arguments' one
//   after the other, then the reply's, each area LANE_TEXT UTF-16 units long.
// Only the ids are written with Atomics; the fields are written first, with plain stores,
// and the id published after them makes them visible to the reader of the id.

/**
 * The most UTF-16 units of JSON text a plain-data value may take on the lane. Past about
 * this size a structured clone by the port is as fast as JSON.
 */
const LANE_DATA = 1024;
/**
 * Strings up to this long are written unit by unit, and read unit by unit up to
 * TINY_TEXT; longer ones are copied natively.
 */
const SHORT_TEXT = 48;
const TINY_TEXT = 8;

const UNDEFINED = 0;
const NULL = 1;
const FALSE = 2;
const TRUE = 3;
const NUMBER = 4;
const STRING = 5;
/** Plain data (objects and arrays), as JSON text in the text area. */
const DATA = 6;
/** A string too long for the text area, in the wide area of its direction (see layout.ts). */
const WIDE = 7;
/** The bits of a kind that tell its type; the rest of the low byte are flags. */
const TYPE = 0x3f;
/**
 * Flag: the text is written one byte per unit (Latin-1), not as UTF-16. Text whose units are
 * all below 256 (in V8, a one-byte string: most source text and JSON) goes so. It is half
 * as many bytes to copy, and read back it is a one-byte string again (UTF-16 would make it
 * a two-byte string: twice the memory, and slower to hash, compare or encode).
 */
const LATIN1 = 0x40;

/**
 * Whether a string has a unit above 255. In V8 this answers at once for a one-byte string
 * (the regular expression cannot match one); a string stored two bytes per unit is scanned,
 * about a nanosecond per unit.
 */
// eslint-disable-next-line no-control-regex -- the range of Latin-1 starts at U+0000
const beyondLatin1 = /[^\x00-\xff]/;
const regExpTest = RegExp.prototype.test;
const hasBeyondLatin1 = (text: string): boolean => Reflect.apply(regExpTest, beyondLatin1, [text]);
/** Text up to this long is checked whole; longer text only where that costs nothing. */
const SCAN_LIMIT = 256;
/**
 * How much of longer text is looked at first, and how long that look may take (ms): about
 * 30 ns for a one-byte string, 250 for one stored two bytes per unit.
 */
const PROBE = 256;
const PROBE_MS = 0.00012;

/**
 * A view of shared memory with the encoders that `write()` and `toString()` end in: Node,
 * Bun and Deno all have them on `Buffer.prototype`. Calling them directly skips the
 * encoding lookup and argument checks of `write()` and `toString()` (bounds are checked
 * here), which is less code to run and to compile on every call.
 */
type TextBuffer = Buffer & {
  /** Writes `length` units of `text` one byte each at byte `offset`; returns the bytes written. */
  latin1Write(text: string, offset: number, length: number): number;
  /** The text of bytes `start` to `end`, one unit per byte. */
  latin1Slice(start: number, end: number): string;
  /** Writes `text` as UTF-16LE at byte `offset`, `length` bytes at most; returns the bytes written. */
  ucs2Write(text: string, offset: number, length: number): number;
  /** The text of bytes `start` to `end`, read as UTF-16LE. */
  ucs2Slice(start: number, end: number): string;
};

/** A {@link TextBuffer} over `length` bytes of `memory` from byte `offset`. */
function textView(memory: ArrayBufferLike, offset: number, length: number): TextBuffer {
  return Buffer.from(memory, offset, length) as TextBuffer;
}

/**
 * Whether `text` can go one byte per unit. Text up to {@link SCAN_LIMIT} units is checked
 * whole (a quarter of a microsecond at worst). Longer text is, only when a look at its first
 * {@link PROBE} units answers at once, as it does for a one-byte string; one stored two
 * bytes per unit (a slice of text that has wider units elsewhere, say) goes as UTF-16,
 * which is what it is, instead of being scanned end to end. (The look is timed: the answer
 * is right either way, only the cost differs.)
 */
function latin1(text: string): boolean {
  if (text.length <= SCAN_LIMIT) return !hasBeyondLatin1(text);
  const probe = text.slice(0, PROBE);
  const start = performance.now();
  if (hasBeyondLatin1(probe) || performance.now() - start > PROBE_MS) return false;
  return !hasBeyondLatin1(text);
}

/**
 * A channel's box: `bytes` long, and growable by the two wide areas where the runtime
 * can grow shared memory (elsewhere, or if growing is refused, a plain box).
 */
export function allocateBox(bytes: number): Int32Array {
  try {
    const options = { maxByteLength: bytes + WIDE_BYTES };
    const Shared = SharedArrayBuffer as unknown as new (length: number, options: object) => SharedArrayBuffer;
    const memory = new Shared(bytes, options);
    if (memory.byteLength === bytes) return boxView(memory);
  } catch {
    // A plain box below.
  }
  return new Int32Array(new SharedArrayBuffer(bytes));
}

/** JSON's own functions, as they were when crochet loaded (an application may patch JSON). */
const toJson = JSON.stringify;
const fromJson = JSON.parse;

/** The most objects and arrays, and the deepest nesting, a value on the lane may have. */
const MAX_OBJECTS = 256;
const MAX_DEPTH = 32;

/**
 * Whether `value` is plain data that JSON carries exactly as a structured clone would,
 * in about `room` UTF-16 units at most: objects with the plain prototype (or none) and
 * dense arrays, holding only data properties (no getters: they would run twice if the
 * value went by the port after all), strings, booleans, null and finite numbers other
 * than -0, without shared references or cycles. Anything else (undefined, -0, NaN,
 * class instances, Dates, Maps, buffers, proxies…) goes by the port, whose structured
 * clone copies it exactly.
 */
function isPlainData(value: object, room: number): boolean {
  // JSON.stringify would call a toJSON() inherited from a patched prototype.
  if ('toJSON' in Object.prototype || 'toJSON' in Array.prototype) return false;
  left = room;
  const plain = check(value, 0);
  seen.length = 0;
  return plain;
}

/** The objects met so far by isPlainData(), and the room left. */
const seen: object[] = [];
let left = 0;

function check(item: unknown, depth: number): boolean {
  switch (typeof item) {
    case 'string':
      left -= item.length + 2;
      return left >= 0;
    case 'number':
      left -= 8;
      return Number.isFinite(item) && !Object.is(item, -0);
    case 'boolean':
      left -= 5;
      return true;
    case 'object': {
      left -= 4;
      if (item === null) return true;
      if (depth > MAX_DEPTH || seen.length >= MAX_OBJECTS || seen.includes(item) || types.isProxy(item)) {
        return false;
      }
      seen.push(item);
      const prototype: unknown = Object.getPrototypeOf(item);
      if (Array.isArray(item)) {
        // Dense, and nothing else: holes and extra properties do not survive JSON.
        if (prototype !== Array.prototype || item.length > left || Object.keys(item).length !== item.length) {
          return false;
        }
        for (let i = 0; i < item.length; i++) {
          const element = Object.getOwnPropertyDescriptor(item, i);
          if (element === undefined || !('value' in element) || !check(element.value, depth + 1)) return false;
        }
        return true;
      }
      if (prototype !== Object.prototype && prototype !== null) return false;
      for (const key of Object.keys(item)) {
        const property = Object.getOwnPropertyDescriptor(item, key);
        if (property === undefined || !('value' in property)) return false;
        left -= key.length + 3;
        if (left < 0 || !check(property.value, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/**
 * The JSON text of `value` if the lane carries it as plain data, in at most `room`
 * units; or undefined.
 */
function dataText(value: object, room: number): string | undefined {
  if (!isPlainData(value, room)) return undefined;
  const text = toJson(value);
  return text.length <= room ? text : undefined;
}

/** Views of a channel's shared buffer. */
export class Lane {
  readonly sig: Int32Array;
  /** Numbers: the arguments' at 0-3, the reply's at {@link LANE_ARGS}. */
  readonly #numbers: Float64Array;
  /** The text areas, as UTF-16 units and as bytes (for native copies). */
  readonly #units: Uint16Array;
  readonly #bytes: TextBuffer;

  /** Where the box's wide areas begin, or 0 if it has none. */
  readonly #wide: number;
  /**
   * The wide areas as far as the box has grown when last looked at (from {@link #wide}),
   * kept so that a call need not ask the memory its length or make a view.
   */
  #wideBytes: TextBuffer | undefined;

  constructor(sig: Int32Array) {
    this.sig = sig;
    this.#wide = wideBase(sig.buffer);
    this.#numbers = new Float64Array(sig.buffer, ARG_NUMBERS, LANE_ARGS);
    this.#reply = new Float64Array(sig.buffer, REPLY_NUMBER, 1);
    this.#units = new Uint16Array(sig.buffer, LANE_STRINGS, LANE_TEXT * 2);
    this.#bytes = textView(sig.buffer, LANE_STRINGS, LANE_TEXT * 4);
  }

  readonly #reply: Float64Array;

  /** Whether a channel's buffer has room for a lane. */
  static fits(sig: Int32Array): boolean {
    return sig.byteLength >= BOX_BYTES;
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

  /**
   * Caller: writes the arguments of the next request into the slot, if the lane can
   * carry them all; returns whether it did. Call only while the slot is free; nothing is
   * visible to the reactor until `publish()`.
   */
  stage(args: readonly unknown[]): boolean {
    if (args.length > LANE_ARGS) return false;
    const sig = this.sig;
    let text = 0;
    let wide = 0;
    for (let i = 0; i < args.length; i++) {
      const value = args[i];
      if (typeof value === 'string' && value.length > LANE_TEXT - text) {
        // Too long for the text area: the wide area, where the box has one.
        const flags = this.#writeWide(0, wide, value);
        if (flags < 0) return false;
        sig[ARG_KINDS + i] = WIDE | flags | (value.length << 8);
        wide += value.length;
        continue;
      }
      const kind = this.#write(i, text, LANE_TEXT - text, value);
      if (kind < 0) return false;
      sig[ARG_KINDS + i] = kind;
      text += kind >>> 8;
    }
    sig[REQUEST_ARGC] = args.length;
    return true;
  }

  /** Caller: makes the staged request visible as request `id` of function `fn`. */
  publish(id: number, fn: number): void {
    this.sig[REQUEST_FN] = fn;
    // The messages posted before this request, which the reactor must take in first.
    this.sig[REQUEST_AFTER] = Atomics.load(this.sig, CH_SENT);
    Atomics.store(this.sig, REQUEST_ID, id);
  }

  /** The id of the latest lane request. */
  requestId(): number {
    return Atomics.load(this.sig, REQUEST_ID);
  }

  /** Reactor: how many messages the caller had posted before the latest request. */
  requestAfter(): number {
    return this.sig[REQUEST_AFTER] as number;
  }

  /** Reactor: the caller's number for the function of the latest request. */
  requestFn(): number {
    return this.sig[REQUEST_FN] as number;
  }

  /** Reactor: reads the arguments of request `id` (call after `requestId()` showed it). */
  readArgs(id: number): unknown[] {
    const sig = this.sig;
    const argc = sig[REQUEST_ARGC] as number;
    const args: unknown[] = [];
    let text = 0;
    let wide = 0;
    try {
      for (let i = 0; i < argc; i++) {
        const kind = sig[ARG_KINDS + i] as number;
        if ((kind & TYPE) === WIDE) {
          args.push(this.#readWide(0, wide, kind));
          wide += kind >>> 8;
          continue;
        }
        args.push(this.#read(i, text, kind));
        text += kind >>> 8;
      }
    } finally {
      // Only now may the caller write the slot again (also when the arguments could not be
      // read: the call then fails, and the slot is free for the next).
      Atomics.store(sig, TAKEN_ID, id);
    }
    return args;
  }

  /**
   * Reactor: writes the reply to request `id` (value first, id last), if the lane can
   * carry it; returns whether it did.
   */
  writeReply(id: number, value: unknown): boolean {
    let kind: number;
    if (typeof value === 'string' && value.length > LANE_TEXT) {
      const flags = this.#writeWide(1, 0, value);
      if (flags < 0) return false;
      kind = WIDE | flags | (value.length << 8);
    } else {
      kind = this.#write(LANE_ARGS, LANE_TEXT, LANE_TEXT, value);
    }
    if (kind < 0) return false;
    this.sig[REPLY_KIND] = kind;
    Atomics.store(this.sig, REPLY_ID, id);
    return true;
  }

  /** The id of the latest lane reply. */
  replyId(): number {
    return Atomics.load(this.sig, REPLY_ID);
  }

  /** Caller: reads the latest reply (call after `replyId()` showed a new id). */
  readReply(): unknown {
    const kind = this.sig[REPLY_KIND] as number;
    if ((kind & TYPE) === WIDE) return this.#readWide(1, 0, kind);
    return this.#read(LANE_ARGS, LANE_TEXT, kind);
  }

  /** The byte offset of unit `at` of wide area `side` (0: the arguments', 1: the reply's). */
  #wideOffset(side: 0 | 1, at: number): number {
    return this.#wide + side * WIDE_TEXT * 2 + at * 2;
  }

  /**
   * A view of the wide areas that reaches `end` (a byte offset in the box), growing the box
   * as far as that when `grow` is set; undefined if the box is not (or cannot be) that long.
   */
  #wideTo(end: number, grow: boolean): TextBuffer | undefined {
    const view = this.#wideBytes;
    if (view !== undefined && this.#wide + view.length >= end) return view;
    const memory = this.sig.buffer as ArrayBufferLike & Growable;
    if (grow && memory.byteLength < end) {
      try {
        memory.grow?.(end);
      } catch {
        // The other side grew it meanwhile (a box never shrinks), or the memory is refused.
      }
    }
    const length = memory.byteLength;
    if (length < end) return undefined;
    return (this.#wideBytes = textView(memory, this.#wide, length - this.#wide));
  }

  /**
   * Writes `text` at unit `at` of wide area `side`, growing the box as far as it needs;
   * returns the kind's flags for it ({@link LATIN1} or 0), or -1 if the box has no wide
   * area, or the text does not fit it.
   */
  #writeWide(side: 0 | 1, at: number, text: string): number {
    if (this.#wide === 0 || text.length > WIDE_TEXT - at) return -1;
    const start = this.#wideOffset(side, at);
    const view = this.#wideTo(start + text.length * 2, true);
    if (view === undefined) return -1;
    const offset = start - this.#wide;
    if (latin1(text)) {
      view.latin1Write(text, offset, text.length);
      return LATIN1;
    }
    view.ucs2Write(text, offset, text.length * 2);
    return 0;
  }

  /** Reads the text of `kind` (its length, and how it is written) at unit `at` of wide area `side`. */
  #readWide(side: 0 | 1, at: number, kind: number): string {
    const start = this.#wideOffset(side, at);
    const length = kind >>> 8;
    // (Grown by the other side before it wrote the id that made this side read it.)
    const view = this.#wideTo(start + length * 2, false);
    if (view === undefined) {
      throw new RangeError(`The lane's text (${length} units) lies past the end of its shared memory`);
    }
    const offset = start - this.#wide;
    return (kind & LATIN1) === 0
      ? view.ucs2Slice(offset, offset + length * 2)
      : view.latin1Slice(offset, offset + length);
  }

  /**
   * Writes `value`'s payload to `slot`, text at unit `text` of the text areas, `room`
   * units at most; returns its kind (with the length of its text in the bits above the
   * type), or -1 if the lane cannot carry it.
   */
  #write(slot: number, text: number, room: number, value: unknown): number {
    switch (typeof value) {
      case 'undefined':
        return UNDEFINED;
      case 'boolean':
        return value ? TRUE : FALSE;
      case 'number':
        if (slot === LANE_ARGS) this.#reply[0] = value;
        else this.#numbers[slot] = value;
        return NUMBER;
      case 'string':
        if (value.length > room) return -1;
        return STRING | this.#writeText(text, value) | (value.length << 8);
      case 'object': {
        if (value === null) return NULL;
        if (isMarked(value)) return -1;
        const json = dataText(value, Math.min(room, LANE_DATA));
        if (json === undefined) return -1;
        return DATA | this.#writeText(text, json) | (json.length << 8);
      }
      default:
        return -1;
    }
  }

  /** Writes `text` at unit `at` of the text areas; returns the kind's flags for it. */
  #writeText(at: number, text: string): number {
    const length = text.length;
    if (length > TINY_TEXT && latin1(text)) {
      const bytes = this.#bytes;
      const start = at * 2;
      if (length <= SHORT_TEXT) for (let i = 0; i < length; i++) bytes[start + i] = text.charCodeAt(i);
      else bytes.latin1Write(text, start, length);
      return LATIN1;
    }
    if (length <= SHORT_TEXT) {
      const units = this.#units;
      for (let i = 0; i < length; i++) units[at + i] = text.charCodeAt(i);
    } else {
      // UTF-16LE copies the units as they are, lone surrogates included.
      this.#bytes.ucs2Write(text, at * 2, length * 2);
    }
    return 0;
  }

  /** Reads the text of `kind` (its length, and how it is written) at unit `at` of the text areas. */
  #readText(at: number, kind: number): string {
    // Never past the text areas, whatever the kinds say (nothing at all when earlier kinds
    // said more than the areas hold).
    const length = Math.min(kind >>> 8, LANE_TEXT * 2 - at);
    if (!(length > 0)) return '';
    if ((kind & LATIN1) !== 0) return this.#bytes.latin1Slice(at * 2, at * 2 + length);
    if (length <= TINY_TEXT) {
      const units = this.#units;
      let text = '';
      for (let i = 0; i < length; i++) text += String.fromCharCode(units[at + i] as number);
      return text;
    }
    return this.#bytes.ucs2Slice(at * 2, (at + length) * 2);
  }

  #read(slot: number, text: number, kind: number): unknown {
    switch (kind & TYPE) {
      case NULL:
        return null;
      case FALSE:
        return false;
      case TRUE:
        return true;
      case NUMBER:
        return slot === LANE_ARGS ? this.#reply[0] : this.#numbers[slot];
      case STRING:
        return this.#readText(text, kind);
      case DATA:
        return fromJson(this.#readText(text, kind)) as unknown;
      default:
        return undefined;
    }
  }
}
