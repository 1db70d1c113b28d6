/**
 * Finding the reactor, and opening a private channel to it, from a thread that was not
 * handed a port.
 *
 * Design note. The only thing every thread of a process can reach is a named
 * `BroadcastChannel`, and everything posted there is readable by any code in the process.
 * So the process-wide *directory* channel carries nothing secret: a thread says hello with
 * a fresh public key (P-256) and a small public *answer box* (shared memory it can wait on
 * while it blocks); whoever serves the reactor answers by writing its own fresh public key
 * into the box. Both ends then derive the same secret, and from it the name of the
 * channel's own broadcast channels, which nobody else can compute. The caller posts its
 * channel box (the shared memory of its lane and ring) only there.
 *
 * The directory also carries the election among threads that would start a reactor at the
 * same time: each posts a claim with a random rank, and the lowest rank that hears of no
 * better one, nor of a reactor already serving, starts it and says so.
 *
 * Every message received here is checked before use, and ignored if it is not exactly one
 * of these shapes: the directory is open to any code in the process.
 */
import { home } from '../common/home.js';
import { createRequire } from 'node:module';
import {
  ANS_KEY_LENGTH,
  ANS_KEY_OFFSET,
  ANS_STARTER,
  ANS_STATE,
  ANS_THREAD,
  ANSWER_BYTES,
  Answer,
  RING_BOX_BYTES,
} from './layout.js';

/**
 * Node's crypto module, loaded on first use: loading it costs a few milliseconds, and most
 * threads (the one that starts the reactor, the reactor itself) never shake hands.
 */
let crypto: typeof import('node:crypto') | undefined;
function nodeCrypto(): typeof import('node:crypto') {
  crypto ??= createRequire(home)('node:crypto') as typeof import('node:crypto');
  return crypto;
}

/** Name of the process-wide broadcast channel where threads look for the reactor. */
export const DIRECTORY = 'crochet:directory:v2';
/** The protocol's mark on every directory message. */
const MARK = 'crochet:2';

/** A thread asks for a channel to the reactor. */
export interface HelloMessage {
  readonly crochet: typeof MARK;
  readonly k: 'hello';
  /** The asking thread's public key (an uncompressed P-256 point). */
  readonly key: Uint8Array;
  /** Where the answer goes (ANSWER_BYTES of shared memory). */
  readonly box: SharedArrayBuffer;
  /** Mixed into the channel's name, so that two hellos never share one. */
  readonly nonce: string;
}

/** A thread would start a reactor (`claim`), or is starting or serving one (`leader`); the lowest rank wins. */
export interface ClaimMessage {
  readonly crochet: typeof MARK;
  readonly k: 'claim' | 'leader';
  readonly rank: number;
  /** For a leader that serves: since when (ms since the epoch); 0 while it only claims to lead. */
  readonly since: number;
}

/**
 * Is there really a leader? Anyone can post a `leader` message; a real one answers this
 * by writing its rank into the box (PROBE_BYTES of shared memory: Int32 0 set to 1 once
 * answered, Float64 at byte 8 the rank).
 */
export interface ProbeMessage {
  readonly crochet: typeof MARK;
  readonly k: 'probe';
  readonly box: SharedArrayBuffer;
}

export type DirectoryMessage = HelloMessage | ClaimMessage | ProbeMessage;

/** Byte length of a probe's box. */
export const PROBE_BYTES = 16;

export function probe(box: SharedArrayBuffer): ProbeMessage {
  return { crochet: MARK, k: 'probe', box };
}

/** Answers a probe with `rank` (once). */
export function answerProbe(message: ProbeMessage, rank: number): void {
  const flag = new Int32Array(message.box, 0, 1);
  if (Atomics.compareExchange(flag, 0, 0, 2) !== 0) return;
  new Float64Array(message.box, 8, 1)[0] = rank;
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

/** The rank a probe's box was answered with, or undefined. */
export function probeAnswer(box: SharedArrayBuffer): number | undefined {
  return Atomics.load(new Int32Array(box, 0, 1), 0) === 1 ? new Float64Array(box, 8, 1)[0] : undefined;
}

const KEY_BYTES = 65;

/** Checks a message received on the directory; undefined if it is not one of ours. */
export function parseDirectory(data: unknown): DirectoryMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const message = data as Record<string, unknown>;
  if (message['crochet'] !== MARK) return undefined;
  switch (message['k']) {
    case 'hello': {
      const { key, box, nonce } = message;
      if (!(key instanceof Uint8Array) || key.byteLength !== KEY_BYTES) return undefined;
      if (!(box instanceof SharedArrayBuffer) || box.byteLength !== ANSWER_BYTES) return undefined;
      if (typeof nonce !== 'string' || !/^[0-9a-f]{32}$/.test(nonce)) return undefined;
      return { crochet: MARK, k: 'hello', key, box, nonce };
    }
    case 'probe': {
      const { box } = message;
      if (!(box instanceof SharedArrayBuffer) || box.byteLength !== PROBE_BYTES) return undefined;
      return { crochet: MARK, k: 'probe', box };
    }
    case 'claim':
    case 'leader': {
      const rank = message['rank'];
      const since = message['since'] ?? 0;
      if (typeof rank !== 'number' || !(rank >= 0 && rank <= 1)) return undefined;
      if (typeof since !== 'number' || !(since >= 0) || since === Infinity) return undefined;
      return { crochet: MARK, k: message['k'], rank, since };
    }
    default:
      return undefined;
  }
}

export function claim(k: 'claim' | 'leader', rank: number, since = 0): ClaimMessage {
  return { crochet: MARK, k, rank, since };
}

/** Names of a channel's two broadcast channels. */
export interface ChannelNames {
  /** The caller posts here; the reactor listens. */
  readonly toReactor: string;
  /** The reactor posts wake-ups here for a caller whose loop is free. */
  readonly toCaller: string;
}

function namesFrom(secret: Uint8Array, nonce: string): ChannelNames {
  const base = `crochet:${nodeCrypto().createHash('sha256').update(secret).update(nonce).digest('hex')}`;
  return { toReactor: `${base}:in`, toCaller: `${base}:out` };
}

/** The asking side of a handshake. */
export class Hello {
  readonly #ecdh = nodeCrypto().createECDH('prime256v1');
  readonly #nonce = nodeCrypto().randomBytes(16).toString('hex');
  readonly answer = new Int32Array(new SharedArrayBuffer(ANSWER_BYTES));
  readonly message: HelloMessage;

  constructor() {
    const key = new Uint8Array(this.#ecdh.generateKeys());
    this.message = { crochet: MARK, k: 'hello', key, box: this.answer.buffer, nonce: this.#nonce };
  }

  /** The answer's state ({@link Answer}). */
  get state(): number {
    return Atomics.load(this.answer, ANS_STATE);
  }

  /** The reactor's thread id, once answered. */
  get reactorThread(): number {
    return Atomics.load(this.answer, ANS_THREAD);
  }

  /** The id of the thread that started the reactor (-1: none, the main thread serves it). */
  get starterThread(): number {
    return Atomics.load(this.answer, ANS_STARTER);
  }

  /** The channel's names, once answered; undefined if the answer is malformed. */
  names(): ChannelNames | undefined {
    const length = Atomics.load(this.answer, ANS_KEY_LENGTH);
    if (length !== KEY_BYTES) return undefined;
    const key = new Uint8Array(this.answer.buffer, ANS_KEY_OFFSET, KEY_BYTES).slice();
    try {
      return namesFrom(this.#ecdh.computeSecret(key), this.#nonce);
    } catch {
      // Not a point on the curve: not an answer of ours.
      return undefined;
    }
  }
}

/**
 * The P-256 curve's generator point, uncompressed: a valid public key that needs no key
 * generation (its private key is 1, so no secret derived from it is one).
 */
const GENERATOR = Uint8Array.from(
  '046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5'.match(
    /../g,
  ) as string[],
  (byte) => parseInt(byte, 16),
);

/**
 * A hello whose answer only tells whether a reactor already serves (no channel is opened
 * from it): it carries a fixed public key, so that the thread asking need not load its
 * crypto module, and costs almost nothing to post.
 */
export function inquiry(): { readonly message: HelloMessage; readonly answer: SharedArrayBuffer } {
  const answer = new SharedArrayBuffer(ANSWER_BYTES);
  let nonce = '';
  for (let i = 0; i < 4; i++)
    nonce += Math.floor(Math.random() * 2 ** 32)
      .toString(16)
      .padStart(8, '0');
  return { message: { crochet: MARK, k: 'hello', key: GENERATOR, box: answer, nonce }, answer };
}

/**
 * Answers a hello, in two steps: `names` are the channel's, which only the two ends can
 * compute (listen on them first); `publish()` then writes a fresh public key and the
 * reactor's thread ids into the hello's box. Undefined if the hello's key is not a valid
 * point.
 */
export function answerHello(
  hello: HelloMessage,
  reactorThread: number,
  starterThread: number,
): { readonly names: ChannelNames; publish(): boolean } | undefined {
  const ecdh = nodeCrypto().createECDH('prime256v1');
  const key = ecdh.generateKeys();
  let secret: Uint8Array;
  try {
    secret = ecdh.computeSecret(hello.key);
  } catch {
    return undefined;
  }
  return {
    names: namesFrom(secret, hello.nonce),
    publish() {
      const box = new Int32Array(hello.box);
      // Answer once: a box already answered (a repeated hello) keeps its first answer.
      if (Atomics.compareExchange(box, ANS_STATE, Answer.Waiting, Answer.Writing) !== Answer.Waiting) return false;
      new Uint8Array(hello.box, ANS_KEY_OFFSET, KEY_BYTES).set(key);
      Atomics.store(box, ANS_KEY_LENGTH, KEY_BYTES);
      Atomics.store(box, ANS_THREAD, reactorThread);
      Atomics.store(box, ANS_STARTER, starterThread);
      Atomics.store(box, ANS_STATE, Answer.Answered);
      Atomics.notify(box, ANS_STATE);
      return true;
    },
  };
}

/** Marks a hello's answer box: the channel is open (or refused). */
export function settleAnswer(box: SharedArrayBuffer, state: typeof Answer.Ready | typeof Answer.Refused): void {
  const view = new Int32Array(box);
  Atomics.store(view, ANS_STATE, state);
  Atomics.notify(view, ANS_STATE);
}

/** The caller's first message on its channel: its box. */
export interface OpenMessage {
  readonly k: 'open';
  readonly box: SharedArrayBuffer;
}

/** Checks an open message; undefined if malformed. */
export function parseOpen(data: unknown): OpenMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { k, box } = data as Record<string, unknown>;
  if (k !== 'open' || !(box instanceof SharedArrayBuffer) || box.byteLength !== RING_BOX_BYTES) return undefined;
  return { k: 'open', box };
}
