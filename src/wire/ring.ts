/**
 * The ring: messages from the reactor to a calling thread that has no port to it, through
 * the channel box's shared memory. One writer (the reactor), one reader (the caller).
 *
 * Design note. A thread that did not start the reactor cannot be handed a `MessagePort`
 * (ports travel only through ports it already has), and only Node can read a
 * `BroadcastChannel` synchronously; but a blocked caller must take its replies in without
 * its event loop, on every runtime. So the reactor serializes each message and appends it
 * to a ring in the box, and the caller reads it out with plain loads.
 *
 * Records are 16-byte aligned: a 16-byte header (payload length, the call id the message
 * is about or 0, flags) and the payload. A record that would run past the end of the ring
 * is preceded by a PAD record that fills the rest. A message larger than what fits is cut
 * into parts (FIRST … LAST). Positions are byte counts since the start, modulo 2^32 (a
 * multiple of the ring's size): the writer publishes `written` after the record, the
 * reader publishes `read` after taking it, both with atomic stores.
 *
 * When the ring is full the writer keeps the rest in memory, sets RING_WANT, and looks
 * again when the reader says it made room. (Writer: set WANT, then read `read`; reader:
 * store `read`, then read WANT. One of them sees the other.)
 */
import { CH_RING_READ, CH_RING_WANT, CH_RING_WRITTEN, RING_BYTES, RING_OFFSET } from './layout.js';

const HEADER = 16;
const FIRST = 1;
const LAST = 2;
const PAD = 4;
/** Header fields (Int32 offsets within a record). */
const LENGTH = 0;
const ID = 1;
const FLAGS = 2;

function align(bytes: number): number {
  return (bytes + 15) & ~15;
}

/** Whether a box has a ring. */
export function hasRing(box: Int32Array): boolean {
  return box.byteLength >= RING_OFFSET + RING_BYTES;
}

/** The reactor's end: appends messages, keeping what does not fit yet. */
export class RingWriter {
  readonly #box: Int32Array;
  readonly #bytes: Uint8Array;
  /** Parts waiting for room: [id, bytes, first, last]. */
  readonly #waiting: { id: number; bytes: Uint8Array; first: boolean }[] = [];

  constructor(box: Int32Array) {
    this.#box = box;
    this.#bytes = new Uint8Array(box.buffer, RING_OFFSET, RING_BYTES);
  }

  /** Whether messages wait for room. */
  get backlog(): boolean {
    return this.#waiting.length > 0;
  }

  /** Appends a message about call `id` (0: none); returns false if some of it must wait. */
  write(id: number, payload: Uint8Array): boolean {
    this.#waiting.push({ id, bytes: payload, first: true });
    return this.flush();
  }

  /** Writes what waits, as far as there is room; returns whether everything went. */
  flush(): boolean {
    const box = this.#box;
    while (this.#waiting.length > 0) {
      const item = this.#waiting[0] as { id: number; bytes: Uint8Array; first: boolean };
      const read = Atomics.load(box, CH_RING_READ) >>> 0;
      // Only this side writes `written`; every record keeps it 16-byte aligned.
      let written = Atomics.load(box, CH_RING_WRITTEN) >>> 0;
      let free = RING_BYTES - ((written - read) >>> 0);
      let offset = written % RING_BYTES;
      let contiguous = RING_BYTES - offset;
      if (contiguous < HEADER * 2) {
        // Too little before the end for a header and a part: pad to the start.
        if (free < contiguous) {
          if (this.#madeRoom(read)) continue;
          return false;
        }
        this.#header(offset, 0, 0, PAD);
        written = (written + contiguous) >>> 0;
        free -= contiguous;
        offset = 0;
        contiguous = RING_BYTES;
        Atomics.store(box, CH_RING_WRITTEN, written | 0);
      }
      const room = Math.min(free, contiguous) - HEADER;
      const size = Math.min(room, item.bytes.byteLength);
      if (room < 0 || (size < item.bytes.byteLength && room < HEADER)) {
        if (this.#madeRoom(read)) continue;
        return false;
      }
      const last = size === item.bytes.byteLength;
      this.#bytes.set(item.bytes.subarray(0, size), offset + HEADER);
      this.#header(offset, size, item.id, (item.first ? FIRST : 0) | (last ? LAST : 0));
      Atomics.store(box, CH_RING_WRITTEN, (written + HEADER + align(size)) | 0);
      if (last) {
        this.#waiting.shift();
      } else {
        item.bytes = item.bytes.subarray(size);
        item.first = false;
      }
    }
    return true;
  }

  /**
   * The ring is full: asks the reader to say when it made room. Returns true if it made
   * room meanwhile (then try again at once).
   */
  #madeRoom(read: number): boolean {
    Atomics.store(this.#box, CH_RING_WANT, 1);
    return Atomics.load(this.#box, CH_RING_READ) >>> 0 !== read;
  }

  #header(offset: number, length: number, id: number, flags: number): void {
    const header = new Int32Array(this.#bytes.buffer, this.#bytes.byteOffset + offset, 4);
    header[LENGTH] = length;
    header[ID] = id;
    header[FLAGS] = flags;
  }
}

/** A whole message read from the ring: its call id (or 0) and its bytes (unshared). */
export interface RingMessage {
  readonly id: number;
  readonly bytes: Uint8Array;
}

/** The caller's end. */
export class RingReader {
  readonly #box: Int32Array;
  readonly #bytes: Uint8Array;
  #parts: Uint8Array[] = [];

  constructor(box: Int32Array) {
    this.#box = box;
    this.#bytes = new Uint8Array(box.buffer, RING_OFFSET, RING_BYTES);
  }

  /** Whether anything is there to read. */
  get ready(): boolean {
    return Atomics.load(this.#box, CH_RING_WRITTEN) !== Atomics.load(this.#box, CH_RING_READ);
  }

  /**
   * Reads the whole messages there are now (not those written while it reads: the loop is
   * bounded). Returns them, and whether the writer waits for room (the reader must then
   * tell it, by a message, that room was made).
   */
  read(): { readonly messages: RingMessage[]; readonly wanted: boolean } {
    const box = this.#box;
    const end = Atomics.load(box, CH_RING_WRITTEN) >>> 0;
    let read = Atomics.load(box, CH_RING_READ) >>> 0;
    const messages: RingMessage[] = [];
    // At most one ring's worth of records: a writer that misbehaves cannot hold us here.
    let budget = RING_BYTES / HEADER;
    while (read !== end && budget-- > 0) {
      const offset = read % RING_BYTES;
      const header = new Int32Array(this.#bytes.buffer, this.#bytes.byteOffset + offset, 4);
      const flags = header[FLAGS] as number;
      if ((flags & PAD) !== 0) {
        read = (read + RING_BYTES - offset) >>> 0;
        continue;
      }
      const length = Math.min(Math.max(0, header[LENGTH] as number), RING_BYTES - offset - HEADER);
      const id = header[ID] as number;
      // slice() copies into an ordinary (unshared) buffer, which deserializers need.
      const part = this.#bytes.slice(offset + HEADER, offset + HEADER + length);
      read = (read + HEADER + align(length)) >>> 0;
      if ((flags & FIRST) !== 0) this.#parts = [];
      this.#parts.push(part);
      if ((flags & LAST) !== 0) {
        const parts = this.#parts;
        this.#parts = [];
        messages.push({ id, bytes: parts.length === 1 ? (parts[0] as Uint8Array) : concat(parts) });
      }
    }
    Atomics.store(box, CH_RING_READ, read | 0);
    const wanted = Atomics.load(box, CH_RING_WANT) === 1 && Atomics.exchange(box, CH_RING_WANT, 0) === 1;
    return { messages, wanted };
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const whole = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.byteLength;
  }
  return whole;
}
