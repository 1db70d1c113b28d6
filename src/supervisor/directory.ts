/**
 * The directory: what answers threads looking for the reactor, on the process-wide
 * directory channel (see wire/handshake.ts). It runs in a thread whose event loop is never
 * blocked: the supervisor of a reactor `setup()` started, or the main thread after
 * `noSetup()`.
 *
 * A supervisor first takes part in the election: it claims with a random rank and serves
 * only if, within {@link ELECTION_MS}, it heard of no reactor already serving and of no
 * better claim. Threads that call `setup()` at the same moment (a pool's workers, say) so
 * start one reactor between them. A claim beaten by a better one waits for the winner to
 * say it serves; if that never comes (the winner's thread ended), it claims again.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { debuglog } from 'node:util';
import {
  answerHello,
  claim,
  DIRECTORY,
  parseDirectory,
  parseOpen,
  type ChannelNames,
  type HelloMessage,
} from '../wire/handshake.js';

const trace = debuglog('crochet');

/** How long a claim waits for a better claim or a serving reactor before it wins. */
export const ELECTION_MS = 20;
/** How long a beaten claim waits for the winner to say it serves before it claims again. */
const RECLAIM_MS = ELECTION_MS * 5;
/** How long a thread that was answered may take to send its box. */
const OPEN_MS = 10_000;
/** The most handshakes waiting for a box at once (more hellos are ignored; they are repeated). */
const MAX_PENDING = 256;

export interface DirectoryOptions {
  /** The reactor's thread id, told to threads that say hello (so the reactor's own thread knows itself). */
  readonly reactorThread: number;
  /** The id of the thread that started the reactor, or -1 for the main thread after noSetup(). */
  readonly starterThread: number;
  /** Claim with this rank first; without it, serve at once (noSetup()). */
  readonly rank?: number;
  /** Keeps this thread's loop alive while it listens. */
  readonly keepAlive: boolean;
  /** Whether the reactor still takes new channels (not once it is stopping). */
  readonly open?: () => boolean;
  onWon?(): void;
  onLost?(): void;
  /** A thread sent its box over the channel named `names`; `answer` is its hello's answer box. */
  onOpen(names: ChannelNames, box: Int32Array, answer: SharedArrayBuffer): void;
}

type Phase = 'electing' | 'beaten' | 'serving' | 'lost' | 'closed';

export class Directory {
  readonly #options: DirectoryOptions;
  readonly #channel = new BroadcastChannel(DIRECTORY);
  readonly #rank: number;
  #phase: Phase;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Handshakes waiting for the thread's box, by the hello's nonce. */
  readonly #pending = new Map<string, () => void>();

  constructor(options: DirectoryOptions) {
    this.#options = options;
    this.#rank = options.rank ?? 0;
    if (!options.keepAlive) this.#channel.unref();
    this.#channel.onmessage = (event) => {
      this.#receive((event as MessageEvent).data);
    };
    if (options.rank === undefined) {
      this.#phase = 'serving';
      this.#post('leader');
    } else {
      this.#phase = 'electing';
      this.#claim();
    }
  }

  get serving(): boolean {
    return this.#phase === 'serving';
  }

  close(): void {
    this.#phase = 'closed';
    clearTimeout(this.#timer);
    for (const cancel of [...this.#pending.values()]) cancel();
    this.#channel.close();
  }

  #post(k: 'claim' | 'leader'): void {
    try {
      this.#channel.postMessage(claim(k, this.#rank));
    } catch {
      // Closed meanwhile.
    }
  }

  #claim(): void {
    this.#phase = 'electing';
    this.#post('claim');
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (this.#phase === 'electing') {
        this.#phase = 'serving';
        this.#post('leader');
        trace('directory: elected (rank %d)', this.#rank);
        this.#options.onWon?.();
      } else if (this.#phase === 'beaten') {
        this.#waitForWinner();
      }
    }, ELECTION_MS);
  }

  #waitForWinner(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      // The better claim never said it serves: its thread may have ended. Claim again.
      if (this.#phase === 'beaten') this.#claim();
    }, RECLAIM_MS);
  }

  #lose(): void {
    clearTimeout(this.#timer);
    this.#phase = 'lost';
    trace('directory: another reactor serves; this one stands down');
    this.#options.onLost?.();
  }

  #receive(data: unknown): void {
    const message = parseDirectory(data);
    if (message === undefined) {
      trace('directory: ignored a message that is not one of crochet’s');
      return;
    }
    switch (message.k) {
      case 'hello':
        if (this.#phase === 'serving' && this.#options.open?.() !== false) this.#answer(message);
        return;
      case 'leader':
        if (this.#phase === 'electing' || this.#phase === 'beaten') this.#lose();
        else if (this.#phase === 'serving' && message.rank !== this.#rank) {
          trace('directory: another directory says it serves too (rank %d)', message.rank);
        }
        return;
      case 'claim':
        if (this.#phase === 'serving') {
          this.#post('leader');
        } else if (this.#phase === 'electing' || this.#phase === 'beaten') {
          if (message.rank < this.#rank) this.#phase = 'beaten';
          else if (message.rank > this.#rank) this.#post('claim');
        }
        return;
    }
  }

  #answer(hello: HelloMessage): void {
    // A thread repeats its hello until it is answered: answer each once.
    if (this.#pending.has(hello.nonce) || this.#pending.size >= MAX_PENDING) return;
    const answer = answerHello(hello, this.#options.reactorThread, this.#options.starterThread);
    if (answer === undefined) {
      trace('directory: ignored a hello with an invalid key');
      return;
    }
    // Listen on the channel before the thread can know its name.
    const listener = new BroadcastChannel(answer.names.toReactor);
    listener.unref();
    const timing: { timer?: ReturnType<typeof setTimeout> } = {};
    const done = (): void => {
      clearTimeout(timing.timer);
      listener.close();
      this.#pending.delete(hello.nonce);
    };
    listener.onmessage = (event) => {
      const open = parseOpen((event as MessageEvent).data);
      if (open === undefined) {
        trace('directory: ignored a malformed message on a channel being opened');
        return;
      }
      done();
      this.#options.onOpen(answer.names, new Int32Array(open.box), hello.box);
    };
    timing.timer = setTimeout(done, OPEN_MS);
    timing.timer.unref();
    this.#pending.set(hello.nonce, done);
    if (!answer.publish()) done();
  }
}
