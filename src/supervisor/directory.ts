/**
 * The directory: what answers threads looking for the reactor, on the process-wide
 * directory channel (see wire/handshake.ts). It runs in a thread whose event loop is never
 * blocked: the supervisor of a reactor `setup()` started, or the main thread after
 * `noSetup()`.
 *
 * A supervisor first takes part in the election, in two rounds (of 12 to 40 ms):
 *
 * 1. It claims with a random rank. A better claim, or a leader already there, beats it.
 * 2. Unbeaten, it says it leads, and listens one more round: two claimants that missed
 *    each other in the first round (a busy machine delays threads) hear each other here,
 *    and the worse rank stands down. Only then does it serve.
 *
 * Each round ends only once the messages that arrived meanwhile were taken in, and a round
 * whose timer fired late (this thread got no CPU) is run again: on a busy machine the
 * election takes longer instead of going wrong. A `leader` message is believed only once
 * the leader answers a probe: foreign code could post one and never serve. A claim beaten
 * by a better one waits for the winner to say it leads; if that never comes (the winner's
 * thread ended), it claims again.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { debuglog } from 'node:util';
import { callerRingEndpoint, type Endpoint } from '../wire/endpoint.js';
import { Answer, boxView, CH_SENT, RING_BOX_BYTES } from '../wire/layout.js';
import { Kind, type GoodbyeMessage } from '../wire/messages.js';
import {
  answerHello,
  answerProbe,
  claim,
  DIRECTORY,
  Hello,
  type OpenMessage,
  parseDirectory,
  parseOpen,
  probe,
  probeAnswer,
  PROBE_BYTES,
  type ChannelNames,
  type HelloMessage,
} from '../wire/handshake.js';

const trace = debuglog('crochet');

/** Now, in ms since the epoch, comparable between threads (a thread's performance clock is its own). */
function now(): number {
  return Date.now();
}

/** How long each round of the election lasts, unless told otherwise. */
const ELECTION_MS = 12;
/** A round whose timer fired later than a round's length was starved of CPU: it runs again (so many times at most). */
const MAX_LATE_ROUNDS = 20;
/** How long a beaten claim waits for the winner to say it leads before it claims again. */
const RECLAIM_MS = 250;
/** How long a leader has to answer a probe before it is taken for an impostor (a busy machine may delay it). */
const PROBE_MS = 1000;
/**
 * The longest a claim waits for its own reactor before serving (see DirectoryOptions.hold),
 * from its claim: well below {@link RECLAIM_MS}, so that a claim it beat still hears it lead
 * before that one claims again.
 */
const HOLD_MS = 150;
/**
 * How long a reactor that served first has to open a channel for a serving one that heard
 * of it: its directory answers at once, but its reactor may be busy in synchronous code.
 */
const PROVE_MS = 2000;
/** How long a leader that did not answer is ignored before it may be heard again. */
const IGNORE_MS = 3000;
/** How long a thread that was answered may take to send its box. */
const OPEN_MS = 5000;
/** The most handshakes waiting for a box at once (more hellos are ignored; they are repeated). */
const MAX_PENDING = 256;

export interface DirectoryOptions {
  /** The reactor's thread id, told to threads that say hello (so the reactor's own thread knows itself). */
  readonly reactorThread: () => number;
  /** How long each round of the election lasts, in ms. */
  readonly round?: number;
  /**
   * Whether the election needs its second round: not for a claim whose rank beats any other
   * but a reactor's already serving (the main thread's), which answers the first round.
   */
  readonly confirm?: boolean;
  /**
   * For a claim without a second round: whether it is to wait before serving, for as long as
   * this holds (its own reactor is not up yet, so serving now would gain nothing) and at
   * most {@link HOLD_MS}; `resume()` ends the wait. A reactor already serving has that much
   * longer to answer the hello, which on a loaded machine can take more than a round.
   */
  readonly hold?: () => boolean;
  /** The id of the thread that started the reactor, or -1 for the main thread after noSetup(). */
  readonly starterThread: number;
  /** Claim with this rank first; without it, serve at once (noSetup()). */
  readonly rank?: number;
  /** Keeps this thread's loop alive while it listens. */
  readonly keepAlive: boolean;
  /** Whether a reactor already serving answered the starting thread's own hello (then this one loses). */
  readonly answeredElsewhere?: () => boolean;
  /** Whether the reactor still takes new channels (not once it is stopping). */
  readonly open?: () => boolean;
  /**
   * Whether the reactor has stopped (it may have died a moment before this thread hears of
   * it): then this directory answers nothing, and leaves the election to others.
   */
  readonly gone?: () => boolean;
  onWon?(): void;
  onLost?(): void;
  /** A thread sent its box over the channel named `names`; `answer` is its hello's answer box. */
  onOpen(names: ChannelNames, box: Int32Array, answer: SharedArrayBuffer): void;
}

type Phase = 'electing' | 'announcing' | 'beaten' | 'serving' | 'lost' | 'closed';

export class Directory {
  readonly #options: DirectoryOptions;
  readonly #channel = new BroadcastChannel(DIRECTORY);
  readonly #rank: number;
  #phase: Phase;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lateRounds = 0;
  /** Ranks whose leader messages did not hold up (no answer to a probe): ignored until then. */
  readonly #impostors = new Map<number, number>();
  /** The rank being probed, if any. */
  #probing: number | undefined;
  /** Since when this directory serves (ms since the epoch), or 0. */
  #since = 0;
  /**
   * Until when leader messages, and claims, are not believed (performance.now()): after a
   * leader that did not answer a probe, or a better claim that never led. Foreign code may
   * post either, with ever new ranks.
   */
  #distrustLeaders = 0;
  #distrustClaims = 0;
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
      this.#since = now();
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
    clearTimeout(this.#holdTimer);
    this.#held = undefined;
    for (const cancel of [...this.#pending.values()]) cancel();
    this.#channel.close();
  }

  #post(k: 'claim' | 'leader'): void {
    try {
      this.#channel.postMessage(claim(k, this.#rank, this.#since));
    } catch {
      // Closed meanwhile.
    }
  }

  /** A decision put off by `hold` (see {@link DirectoryOptions.hold}), and its time limit. */
  #held: (() => void) | undefined;
  #holdTimer: ReturnType<typeof setTimeout> | undefined;

  /** Takes the decision put off while `hold` held, if any. */
  resume(): void {
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    clearTimeout(this.#holdTimer);
    held();
  }

  #claim(): void {
    // A new claim replaces any decision put off for the last one.
    this.#held = undefined;
    clearTimeout(this.#holdTimer);
    this.#phase = 'electing';
    this.#post('claim');
    const holdUntil = performance.now() + HOLD_MS;
    const decide = (): void => {
      if (this.#phase === 'electing' && this.#options.answeredElsewhere?.() === true) {
        this.#lose();
      } else if (
        this.#phase === 'electing' &&
        this.#options.confirm === false &&
        this.#options.hold?.() === true &&
        performance.now() < holdUntil
      ) {
        this.#held = decide;
        clearTimeout(this.#holdTimer);
        this.#holdTimer = setTimeout(() => {
          this.resume();
        }, holdUntil - performance.now());
      } else if (this.#phase === 'electing' && this.#options.confirm === false) {
        this.#phase = 'serving';
        this.#since = now();
        this.#post('leader');
        trace('directory: elected (rank %d)', this.#rank);
        this.#options.onWon?.();
      } else if (this.#phase === 'electing') {
        this.#phase = 'announcing';
        this.#post('leader');
        this.#round(() => {
          if (this.#phase !== 'announcing') return;
          this.#phase = 'serving';
          this.#since = now();
          trace('directory: elected (rank %d)', this.#rank);
          this.#options.onWon?.();
        });
      } else if (this.#phase === 'beaten') {
        this.#waitForWinner();
      }
    };
    this.#round(decide);
  }

  /**
   * Runs `then` after a round: once the timer fired and the messages that came meanwhile
   * were taken in (they are, before the loop's check phase). A round whose timer fired
   * late runs again.
   */
  #round(then: () => void): void {
    clearTimeout(this.#timer);
    const length = this.#options.round ?? ELECTION_MS;
    const due = performance.now() + length;
    this.#timer = setTimeout(() => {
      setImmediate(() => {
        if (this.#phase === 'closed' || this.#phase === 'lost') return;
        if (performance.now() - due > length && this.#lateRounds++ < MAX_LATE_ROUNDS) {
          this.#round(then);
          return;
        }
        then();
      });
    }, length);
  }

  #waitForWinner(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      // The better claim never said it leads: its thread may have ended, or it was never
      // real. Claim again, heeding no claim for a while.
      if (this.#phase !== 'beaten' || this.#probing !== undefined) return;
      this.#distrustClaims = performance.now() + IGNORE_MS;
      this.#claim();
    }, RECLAIM_MS);
  }

  #lose(): void {
    clearTimeout(this.#timer);
    this.#phase = 'lost';
    trace('directory: another reactor serves; this one stands down');
    this.#options.onLost?.();
  }

  /** A leader spoke: believe it once a leader (not this one) answers a probe. */
  #verify(rank: number): void {
    if (this.#probing !== undefined) return;
    this.#probing = rank;
    const box = new SharedArrayBuffer(PROBE_BYTES);
    try {
      this.#channel.postMessage(probe(box));
    } catch {
      return;
    }
    const until = performance.now() + PROBE_MS;
    const look = (): void => {
      if (this.#phase === 'closed' || this.#phase === 'lost') return;
      const answered = probeAnswer(box);
      if (answered !== undefined) {
        this.#probing = undefined;
        this.#lose();
      } else if (performance.now() > until) {
        this.#probing = undefined;
        trace('directory: a leader (rank %d) did not answer: ignored for a while', rank);
        this.#ignore(rank);
        this.#distrustLeaders = performance.now() + IGNORE_MS;
        // The election goes on as if it had not spoken.
        if (this.#phase === 'beaten') this.#claim();
      } else {
        setTimeout(look, 2);
      }
    };
    setTimeout(look, 1);
  }

  /**
   * A serving reactor has callers: it stands down for another that says it served first
   * only once that one opens a channel for it, as it would for any thread (any code can
   * answer a probe). Its directory answers at once; its reactor opens the channel when its
   * loop is free. One whose directory does not answer is ignored for a while; one whose
   * reactor is busy is asked again on its next word.
   */
  #prove(rank: number): void {
    if (this.#probing !== undefined) return;
    this.#probing = rank;
    let hello: Hello;
    try {
      hello = new Hello();
      this.#channel.postMessage(hello.message);
    } catch {
      this.#probing = undefined;
      return;
    }
    const until = performance.now() + PROVE_MS;
    let endpoint: Endpoint | undefined;
    let box: Int32Array | undefined;
    const end = (): void => {
      this.#probing = undefined;
      if (endpoint !== undefined && box !== undefined) {
        const goodbye: GoodbyeMessage = { k: Kind.Goodbye };
        endpoint.post(goodbye);
        Atomics.add(box, CH_SENT, 1);
      }
      endpoint?.close();
    };
    const look = (): void => {
      if (this.#phase !== 'serving') {
        end();
        return;
      }
      const state = hello.state;
      if (state === Answer.Answered && endpoint === undefined) {
        const names = hello.names();
        if (names === undefined || hello.reactorThread === this.#options.reactorThread()) {
          end();
          this.#distrust(rank);
          return;
        }
        const memory = new SharedArrayBuffer(RING_BOX_BYTES);
        box = new Int32Array(memory);
        endpoint = callerRingEndpoint(box, names);
        const open: OpenMessage = { k: 'open', box: memory };
        endpoint.post(open);
      } else if (state === Answer.Ready && endpoint !== undefined) {
        end();
        trace('directory: the reactor that served first opened a channel: this one stands down');
        this.#lose();
        return;
      }
      if (performance.now() > until) {
        const answered = endpoint !== undefined;
        end();
        if (answered) {
          // Its next word (its answer to this one's) starts another try.
          trace('directory: the reactor that served first did not open a channel in time: asked again');
          this.#post('leader');
        } else {
          this.#distrust(rank);
        }
        return;
      }
      setTimeout(look, 2);
    };
    setTimeout(look, 1);
  }

  #distrust(rank: number): void {
    trace('directory: a leader (rank %d) did not prove itself: ignored for a while', rank);
    this.#ignore(rank);
  }

  /**
   * Ignores a rank's messages for a while. A reactor that serves speaks up again when that
   * ends: the rank may have been a real reactor's, whose answers a machine too busy delayed,
   * and two that serve must hear of each other again to settle which stays.
   */
  #ignore(rank: number): void {
    this.#impostors.set(rank, performance.now() + IGNORE_MS);
    setTimeout(() => {
      if (this.#phase === 'serving') this.#post('leader');
    }, IGNORE_MS + 10).unref();
  }

  /** Whether a rank's messages are ignored for now (its leader did not answer a probe). */
  #ignored(rank: number): boolean {
    const until = this.#impostors.get(rank);
    if (until === undefined) return false;
    if (performance.now() < until) return true;
    this.#impostors.delete(rank);
    return false;
  }

  #receive(data: unknown): void {
    const message = parseDirectory(data);
    if (message === undefined) {
      trace('directory: ignored a message that is not one of crochet’s');
      return;
    }
    if (this.#options.gone?.() === true) return;
    const phase = this.#phase;
    switch (message.k) {
      case 'hello':
        if (phase === 'serving' && this.#options.open?.() !== false) this.#answer(message);
        return;
      case 'probe':
        if (phase === 'serving' || phase === 'announcing') answerProbe(message, this.#rank);
        return;
      case 'leader':
        if (message.rank === this.#rank || this.#ignored(message.rank)) return;
        // A serving leader still hears others (two may serve at once); a claim does not,
        // for a while after a leader proved false.
        if (phase !== 'serving' && performance.now() < this.#distrustLeaders) return;
        if (phase === 'electing' || phase === 'beaten') {
          // A leader beats a claim (once it proves real).
          this.#phase = 'beaten';
          this.#verify(message.rank);
        } else if (phase === 'announcing') {
          // A reactor already serving beats this one, and so does a better claim to lead.
          if (message.since > 0 || message.rank < this.#rank) this.#verify(message.rank);
          else this.#post('leader');
        } else if (phase === 'serving') {
          // Two serve: they missed each other (a thread starved of CPU for longer than the
          // election). The one that served first stays; the other stands down.
          const first =
            message.since > 0 &&
            (message.since < this.#since || (message.since === this.#since && message.rank < this.#rank));
          if (first) {
            trace('directory: another directory says it serves too, and did first');
            this.#prove(message.rank);
          } else {
            this.#post('leader');
          }
        }
        return;
      case 'claim':
        if (message.rank === this.#rank || this.#ignored(message.rank)) return;
        if (message.rank < this.#rank && performance.now() < this.#distrustClaims) return;
        if (phase === 'serving' || phase === 'announcing') {
          this.#post('leader');
        } else if (phase === 'electing' || phase === 'beaten') {
          if (message.rank < this.#rank) this.#phase = 'beaten';
          else this.#post('claim');
        }
        return;
    }
  }

  #answer(hello: HelloMessage): void {
    // A thread repeats its hello until it is answered: answer each once.
    if (this.#pending.has(hello.nonce)) return;
    // A flood of hellos that never open a channel must not shut real threads out: the
    // oldest handshake gives way (a real thread sends its box within a millisecond or so).
    if (this.#pending.size >= MAX_PENDING) this.#pending.values().next().value?.();
    const answer = answerHello(hello, this.#options.reactorThread(), this.#options.starterThread);
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
      this.#options.onOpen(answer.names, boxView(open.box), hello.box);
    };
    timing.timer = setTimeout(done, OPEN_MS);
    timing.timer.unref();
    this.#pending.set(hello.nonce, done);
    if (!answer.publish()) done();
  }
}
