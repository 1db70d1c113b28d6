/**
 * Every index and offset of crochet's shared memory, in one module with no imports, so
 * that every thread (the supervisor first of all, before it loads anything else) reads
 * the same layout.
 *
 * There are three kinds of shared buffers.
 *
 * ```
 * control block (one per reactor; the reactor, its supervisor and the thread that started it)
 *   Int32 0  CTL_STATE        life-cycle state (State), moves forward only
 *   Int32 1  CTL_CAUSE_LENGTH byte length of the serialized stop cause
 *   Int32 2  CTL_WORK         onShutdown hooks + stashed results (0: an exit need not wait)
 *   Int32 3  CTL_SHUT_DOWN    1 once stopped by a shutdown, not by dying
 *   Int32 4  CTL_ACK          bumped by the supervisor when it has passed a stop on to every channel
 *   Int32 5  CTL_CONTENDED    1 while other processes leave this one fewer than two cores (see supervisor/load.ts)
 *   Int32 6  CTL_REACTOR      the reactor thread's id plus one (0: not known yet)
 *   bytes 32…                 the stop cause (v8-serialized), CTL_CAUSE_CAPACITY bytes
 *
 * channel box (one per calling thread, held only by that thread, the reactor and the supervisor)
 *   bytes    0-63   flags line: rarely written
 *     Int32 0  CH_STATE       Opening → Ready → Stopped, or Ready → Closing → Ready / Closed
 *     Int32 1  CH_SENT        messages the caller posted to the reactor (bumped after each)
 *     Int32 2  CH_HOT         1 while the reactor polls (the caller need not poke it)
 *     Int32 3  CH_BEAT        bumped by the supervisor on every tick: the reactor's watcher lives
 *     Int32 4  CH_PARKED      1 while the caller is parked in Atomics.wait
 *     Int32 5  CH_POSTED      bumped after every message sent to the caller other than by the lane
 *     Int32 6  CH_RING_WANT   1 while the reactor waits for room in the ring
 *     Int32 7  CH_SHUT_DOWN   1 once the reactor stopped by a shutdown
 *     Int32 8  CH_RING_READ   bytes of the ring the caller has read (mod 2^32)
 *     Int32 9  CH_BLOCKING    1 while the caller blocks (it reads the ring itself, no wake-up post needed)
 *     Int32 10 CH_NUDGED      1 while a wake-up post to the caller's free loop is on its way
 *     Int32 11 CH_CAUSE_LENGTH byte length of the stop cause in the cause area
 *     Int32 12 CH_LOADING     calls of this channel that wait for the reactor to import their module
 *     Int32 13 CH_LEASE       bumped by the caller now and then: a channel whose lease stops moving
 *                             and that has nothing under way is closed (its thread was terminated)
 *     Int32 14 CH_CONTENDED   the supervisor's CTL_CONTENDED, copied at every beat
 *   bytes 64-127   output line (the box of the thread that called setup(), which writes out
 *                  what reactor code writes): written by both
 *     Int32 16 CH_OUTPUT      characters/bytes of output the reactor posted that this thread has not taken in
 *     Int32 17 CH_BACKLOG     what this thread's stdout and stderr hold, not yet written out
 *     Int32 18 CH_DROPPED     bytes of output the reactor dropped and has not reported yet
 *   bytes 128-191  lane request line: written by the caller (TAKEN_ID by the reactor)
 *     Int32 32 REQUEST_ID, 33 REQUEST_FN, 34 REQUEST_ARGC, 35 TAKEN_ID, 36-39 ARG_KINDS
 *     bytes 160-191 the arguments' numbers (4 × Float64)
 *     Int32 48 REQUEST_AFTER  CH_SENT when the request was written: messages it must follow
 *   bytes 256-319  reply line: written by the reactor
 *     Int32 64 CH_COUNTER     notification counter: callers wait on it; only ever incremented
 *     Int32 65 REPLY_ID, 66 REPLY_KIND, 67 CH_RING_WRITTEN (bytes of the ring written, mod 2^32)
 *     bytes 272-279 the reply's number (Float64)
 *   bytes 384…     lane text: the arguments' (LANE_TEXT units), then the reply's (LANE_TEXT units)
 *   then           the stop cause (CH_CAUSE_BYTES)
 *   then           the reply ids (REPLY_IDS pairs of Int32: message number, call id): for each message
 *                  the reactor posts to a port, the call it is about, so that a caller that cannot
 *                  decode a reply knows which call failed
 *   then           the ring (RING_BYTES, only for channels without a port): messages to the caller
 *   then           where shared memory can grow: the wide areas, WIDE_TEXT units each (the arguments'
 *                  text, then the reply's, of lane calls whose text does not fit the lane text);
 *                  the box grows into them as far as a call needs
 *
 * answer box (one per hello; public, carries nothing secret)
 *   Int32 0  ANS_STATE        0 waiting, 4 being written, 1 answered, 2 channel ready, 3 refused
 *   Int32 1  ANS_KEY_LENGTH   length of the answerer's public key
 *   Int32 2  ANS_THREAD       the reactor's thread id
 *   Int32 3  ANS_STARTER      the id of the thread that started it (-1: noSetup())
 *   bytes 16…                 the answerer's public key
 * ```
 */

// ---- control block -------------------------------------------------------------------

/** Index of the life-cycle state ({@link State}). */
export const CTL_STATE = 0;
/** Life-cycle states, in the only order they can move in. */
export const State = {
  /** `setup()` created the supervisor thread, which has not run yet. */
  Booting: 0,
  /** The supervisor runs, starts the reactor and asks whether another one exists. */
  Supervised: 1,
  /** The reactor serves calls, and is the process's only one. */
  Running: 2,
  /** Another reactor was there first: this one was not started; connect to that one. */
  Deferred: 3,
  /** Someone is writing the stop cause; `Stopped` follows at once. */
  Stopping: 4,
  /** The reactor is gone; the cause is readable. */
  Stopped: 5,
} as const;
/** Index of the byte length of the serialized stop cause. */
export const CTL_CAUSE_LENGTH = 1;
/** Index of the work a shutdown has to do in the reactor: hooks plus stashed results. */
export const CTL_WORK = 2;
/** Index of a flag: 1 once the reactor stopped because it was shut down (not by dying). */
export const CTL_SHUT_DOWN = 3;
/** Index of a counter the supervisor bumps once it has told every channel of a stop. */
export const CTL_ACK = 4;
/**
 * Index of a flag the supervisor keeps: 1 while other processes leave this one fewer than
 * two cores, so that spinning only holds up the thread it waits for (see supervisor/load.ts).
 */
export const CTL_CONTENDED = 5;
/**
 * Index of the reactor thread's id plus one (0: not known yet), written before any thread
 * can find that reactor: a thread that holds this block and a channel to a reactor can tell
 * whether the block is that reactor's (see caller/connection.ts, `Transport.control`).
 */
export const CTL_REACTOR = 6;
/** Byte offset of the serialized stop cause. */
export const CTL_CAUSE_OFFSET = 32;
/** Room for the stop cause; a larger cause is cut down to its message. */
export const CTL_CAUSE_CAPACITY = 16 * 1024;
/** Byte length of a control block. */
export const CTL_BYTES = CTL_CAUSE_OFFSET + CTL_CAUSE_CAPACITY;

// ---- channel box: flags line ---------------------------------------------------------

/** Index of the channel's state ({@link Channel}). */
export const CH_STATE = 0;
/** Channel states. */
export const ChannelState = {
  /** The caller asked for the channel; the reactor has not opened it yet. */
  Opening: 0,
  /** The reactor serves the channel. */
  Ready: 1,
  /** The reactor stopped; the cause is in the cause area. */
  Stopped: 2,
  /** The reactor closed the channel (its thread seemed gone): open a new one to call again. */
  Closed: 3,
  /** The reactor is deciding whether to close it: wait for Ready or Closed. */
  Closing: 4,
} as const;
/** Index of the count of messages the caller posted (bumped after each post). */
export const CH_SENT = 1;
/** Index of the flag the reactor sets while it polls (a caller need not poke it then): {@link Hot}. */
export const CH_HOT = 2;
/** Values of {@link CH_HOT}. */
export const Hot = {
  /** The reactor sleeps in its event loop: a lane request must be followed by a poke. */
  Cold: 0,
  /** The reactor polls: it sees a lane request by itself. */
  Polling: 1,
} as const;
/** Index of the supervisor's heartbeat counter. */
export const CH_BEAT = 3;
/** Index of the flag a caller sets while it is parked in `Atomics.wait`. */
export const CH_PARKED = 4;
/** Index of the reply doorbell: bumped after every message sent to the caller other than by the lane. */
export const CH_POSTED = 5;
/** Index of the flag the reactor sets while messages wait for room in the ring. */
export const CH_RING_WANT = 6;
/** Index of a flag: 1 once the reactor stopped because it was shut down. */
export const CH_SHUT_DOWN = 7;
/** Index of the count of ring bytes the caller has read (mod 2^32). */
export const CH_RING_READ = 8;
/** Index of the flag a caller sets while it blocks (so the reactor need not post it a wake-up). */
export const CH_BLOCKING = 9;
/** Index of the flag set while a wake-up post to the caller is on its way. */
export const CH_NUDGED = 10;
/** Index of the byte length of the stop cause in the box. */
export const CH_CAUSE_LENGTH = 11;
/** Index of the count of this channel's calls that wait for the reactor to import their module. */
export const CH_LOADING = 12;
/** Index of the caller's lease: bumped while the calling thread lives and uses the channel. */
export const CH_LEASE = 13;
/** Index of the supervisor's contention flag ({@link CTL_CONTENDED}), copied into every box at each beat. */
export const CH_CONTENDED = 14;

// ---- channel box: the output line ----------------------------------------------------

/** Index of the amount of output the reactor posted to this thread that it has not taken in. */
export const CH_OUTPUT = 16;
/** Index of the amount of output this thread's stdout and stderr hold, not written out yet. */
export const CH_BACKLOG = 17;
/** Index of the amount of output the reactor dropped and has not reported yet. */
export const CH_DROPPED = 18;

// ---- channel box: the lane -----------------------------------------------------------

/** Index of the id of the latest lane request (0: none yet). Written last. */
export const REQUEST_ID = 32;
export const REQUEST_FN = 33;
export const REQUEST_ARGC = 34;
/** Index of the id of the last lane request the reactor took (read its arguments). */
export const TAKEN_ID = 35;
/** Indexes of the arguments' kinds (type, and the length of its text << 8). */
export const ARG_KINDS = 36;
/** Index of the count of messages the caller had posted when it wrote the lane request. */
export const REQUEST_AFTER = 48;
/** Index of the notification counter callers wait on. Only ever incremented. */
export const CH_COUNTER = 64;
/** Index of the id of the latest lane reply. Written last. */
export const REPLY_ID = 65;
export const REPLY_KIND = 66;
/** Index of the count of ring bytes the reactor has written (mod 2^32). */
export const CH_RING_WRITTEN = 67;
/** Byte offsets of the numbers: the arguments', then the reply's. */
export const ARG_NUMBERS = 160;
export const REPLY_NUMBER = 272;
/** Byte offset of the lane's text areas. */
export const LANE_STRINGS = 384;
/** The most arguments the lane carries. */
export const LANE_ARGS = 4;
/**
 * The most UTF-16 units of text the lane carries each way: in all the strings of a
 * call's arguments, and in its result.
 */
export const LANE_TEXT = 2 * 1024;
/** Byte offset of the reply's text. */
export const REPLY_TEXT = LANE_STRINGS + LANE_TEXT * 2;

// ---- channel box: cause area and ring ------------------------------------------------

/** Byte offset of the stop cause. */
export const CH_CAUSE_OFFSET = REPLY_TEXT + LANE_TEXT * 2;
/** Room for the stop cause in a box; a larger cause is cut down to its message. */
export const CH_CAUSE_BYTES = 4096;
/** Byte offset of the reply ids: pairs of Int32 (message number, call id or 0). */
export const REPLY_IDS_OFFSET = CH_CAUSE_OFFSET + CH_CAUSE_BYTES;
/**
 * How many recent port messages the reply ids cover: a message the caller could not decode
 * is named there unless the reactor has posted this many more since. A power of two.
 */
export const REPLY_IDS = 512;
/** Byte offset of the ring. */
export const RING_OFFSET = REPLY_IDS_OFFSET + REPLY_IDS * 8;
/** Byte length of the ring (a power of two; larger messages go through it in parts). */
export const RING_BYTES = 32 * 1024;
/** Byte length of a box without a ring (the channel of the thread that started the reactor). */
export const BOX_BYTES = RING_OFFSET;
/** Byte length of a box with a ring. */
export const RING_BOX_BYTES = RING_OFFSET + RING_BYTES;

// ---- channel box: the wide areas -----------------------------------------------------

/**
 * The most UTF-16 units of text the wide areas carry each way. Where the runtime has
 * growable shared memory, a box can grow past its end (BOX_BYTES or RING_BOX_BYTES) by two
 * areas of this size: the arguments' text of a lane request too long for the lane's own
 * text area, then the reply's. A box grows only as far as the longest text needs.
 */
export const WIDE_TEXT = 256 * 1024;
/** Byte length of the two wide areas together: what a box may grow by. */
export const WIDE_BYTES = WIDE_TEXT * 4;

// ---- answer box ----------------------------------------------------------------------

export const ANS_STATE = 0;
/** Answer states; `Writing` while the answerer writes its key (the asker waits on). */
export const Answer = { Waiting: 0, Answered: 1, Ready: 2, Refused: 3, Writing: 4 } as const;
export const ANS_KEY_LENGTH = 1;
export const ANS_THREAD = 2;
/** Index of the id of the thread that started the reactor (-1: the main thread runs it, after noSetup()). */
export const ANS_STARTER = 3;
export const ANS_KEY_OFFSET = 16;
/** Byte length of an answer box: room for an uncompressed P-256 public key. */
export const ANSWER_BYTES = ANS_KEY_OFFSET + 80;

/** Growable shared memory, where the runtime has it (ES2024). */
export interface Growable {
  readonly growable?: boolean;
  readonly maxByteLength?: number;
  grow?(length: number): void;
}

/**
 * An `Int32Array` of a box's shared memory (as sent to the other thread) over its fixed
 * part. A view of growable memory made without a length follows the memory's length, and
 * every access to it then reads that length: Atomics on it cost several times as much.
 */
export function boxView(memory: SharedArrayBuffer): Int32Array {
  const base = wideBase(memory);
  return new Int32Array(memory, 0, (base === 0 ? memory.byteLength : base) >>> 2);
}

/**
 * Where the wide areas of a box begin (its size without them), or 0 if it has none: a
 * growable box of one of the two sizes, with room to grow by both areas.
 */
export function wideBase(memory: ArrayBufferLike): number {
  const { growable, maxByteLength } = memory as Growable;
  if (growable !== true || typeof maxByteLength !== 'number') return 0;
  const base = maxByteLength - WIDE_BYTES;
  return base === BOX_BYTES || base === RING_BOX_BYTES ? base : 0;
}
