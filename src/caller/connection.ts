/**
 * A caller thread's connection to the reactor: its channel (a box of shared memory and an
 * endpoint), through which it sends calls and requests, takes in replies, and blocks.
 *
 * Every blocking wait here is bounded: the caller parks in slices of at most
 * {@link SLICE_MS}, and between slices checks its box: a reactor that stopped says so
 * there, and one whose threads vanished without a word (the thread that started them was
 * terminated) stops beating there.
 *
 * The thread that starts the reactor gets its connection at once, before the reactor
 * runs: what it sends meanwhile waits in an outbox, which goes to the reactor once it
 * serves, or, if another thread's reactor won the election, to that one (the connection
 * then opens a channel to it, and keeps its identity, so handles made meanwhile still work).
 */
import { performance } from 'node:perf_hooks';
import { bundled, home } from '../common/home.js';
import { inspect } from 'node:util';
import type { Transferable } from 'node:worker_threads';
import { dataCloneError, decodeThrown, encodeFailure, encodeThrown, type WireValue } from '../wire/codec.js';
import { Backoff } from '../common/backoff.js';
import { checkTransferList, takeTransfer } from '../api/context.js';
import { Undecodable, type Endpoint } from '../wire/endpoint.js';
import { Lane } from '../wire/lane.js';
import { CrochetError, ReactorStoppedError, TimeoutError } from '../api/errors.js';
import { channels, trace } from '../common/diagnostics.js';
import { readBoxCause, readControlCause, stopBox } from '../wire/control.js';
import {
  CH_BEAT,
  CH_CONTENDED,
  CH_BLOCKING,
  CH_COUNTER,
  CH_HOT,
  CH_BACKLOG,
  CH_DROPPED,
  CH_LEASE,
  CH_OUTPUT,
  CH_PARKED,
  CH_POSTED,
  CH_SENT,
  CH_SHUT_DOWN,
  CH_STATE,
  ChannelState,
  CTL_SHUT_DOWN,
  CTL_STATE,
  CTL_WORK,
  Hot,
  State,
} from '../wire/layout.js';
import {
  Kind,
  LEVELS,
  parseReply,
  type AnswerMessage,
  type CallMessage,
  type LogMessage,
  type Outcome,
  type ReplyMessage,
  type RequestMessage,
} from '../wire/messages.js';
import type { WrapperId } from '../api/registry.js';
import { deliver, onlyOutputAlive, outputBacklog, reportError, watchBacklog } from '../common/report.js';
import { isMainThread } from 'node:worker_threads';

/** The longest a caller parks before it checks the reactor's state again. */
const SLICE_MS = 250;
/** How long a caller may see no beat from the supervisor before it suspects the reactor is gone. */
const SILENT_MS = 1000;
/** How much longer it then watches for a beat (the whole process may just have been paused). */
const CONFIRM_MS = 400;
/** How long `stash()` and `retrieveResult()` wait for the reactor to answer. */
export const REQUEST_LIMIT_MS = 10_000;
/** How much longer than its hooks' time a shutdown may take before it is forced. */
const SHUTDOWN_GRACE_MS = 1000;
/** How long a caller waits for the reactor to decide whether it closes the caller's channel. */
const CLOSING_MS = 1000;
/** How often a thread whose loop is free says its channel is still in use (ms); see CH_LEASE. */
const LEASE_MS = 1500;
/** How often a thread whose loop is free looks whether its application has anything left to do (ms). */
const IDLE_LOOK_MS = 50;
/** While the reactor imports a module for a call, the caller looks again this often (ms). */
const LOADING_LOOK_MS = 20;

/** Whoever waits for a call's outcome. */
export type Receiver = (ok: boolean, value: unknown) => void;

/** A channel to the reactor: its box and its endpoint. */
export interface Transport {
  readonly box: Int32Array;
  readonly endpoint: Endpoint;
  /** Whether a supervisor beats in the box (not after noSetup(): the main thread cannot vanish alone). */
  readonly beats: boolean;
  /** Whether replies come through the ring (no port): the caller says when it blocks. */
  readonly ring: boolean;
  /** The id of the thread that started the reactor (for the message when it vanished). */
  readonly starter: number;
  /** Opens a new channel when the reactor closed this one (it seemed gone); undefined: none answers. */
  readonly reopen?: () => Transport | undefined;
  /**
   * The control block of the reactor this channel reaches, when this thread has it. It is
   * marked stopped before any channel is told: a thread that heard from another that the
   * reactor stopped sees it there even while its own channel still says nothing.
   */
  readonly control?: Int32Array;
}

/** What the starting thread's connection needs while the reactor boots. */
export interface Booting {
  /** The control block, whose state says when the reactor serves (or stood down). */
  readonly control: Int32Array;
  /** Opens a channel to the reactor that won the election instead; undefined if none answers. */
  readonly rediscover: () => Transport | undefined;
  /** How long the reactor may take to start, in ms. */
  readonly limit: number;
}

export class Connection {
  #box!: Int32Array;
  #endpoint!: Endpoint;
  /** The direct lane of this channel, for blocking calls with small values. */
  #lane: Lane | undefined;
  #beats = false;
  #ring = false;
  #starter = -1;
  #lastLaneReply = 0;
  /** The id of the last lane request while no outcome of it has come (0: none). */
  #laneOpen = 0;
  /** The reply doorbell's value when the port was last read (-1: read it next time). */
  #posted = -1;
  readonly #pending = new Map<number, Receiver>();
  /**
   * The calls and requests posted and not answered yet, by their message's number on the
   * channel (as CH_SENT counts them), and those numbers by id: a message the reactor could
   * not decode is named by its number (see `Kind.Lost`).
   */
  readonly #sentAs = new Map<number, number>();
  readonly #numberOf = new Map<number, number>();
  /** Requests whose message the reactor could not decode, with why. */
  readonly #lostRequests = new Map<number, unknown>();
  /** The channel's numbers for the wrappers called over it, and the wrappers by number. */
  readonly #wrappers = new Map<WrapperId, number>();
  #numbered: WrapperId[] = [];
  /**
   * The wrappers (by number) the reactor surely knows: a reply came to a call that named
   * them. Until then every call names its wrapper in full (the message that named it may
   * not have been decoded), and none goes by the lane.
   */
  readonly #named = new Set<number>();
  /** Calls that named their wrapper, by id, with its number, until a reply comes. */
  readonly #naming = new Map<number, number>();
  #reopen: (() => Transport | undefined) | undefined;
  #lease: ReturnType<typeof setInterval> | undefined;
  readonly #answers = new Map<number, AnswerMessage>();
  /** Results this thread stashed, by stash id, until retrieved here or elsewhere. */
  readonly #stashed = new Map<string, unknown>();
  /** Requests held until the reactor serves (the starting thread, while it boots). */
  #outbox: { message: RequestMessage; transfer: Transferable[] }[] | undefined;
  #booting: (Booting & { readonly deadline: number }) | undefined;
  #bootTimer: ReturnType<typeof setTimeout> | undefined;
  #nextId = 1;
  readonly #spin = new Spin();
  #stopped: unknown = undefined;
  #isStopped = false;
  /** Whether the reactor stopped because it was shut down (not because it died). */
  #shutDown = false;
  /** The control block of the reactor this channel reaches, if known (see `Transport.control`). */
  #control: Int32Array | undefined;
  /** The last beat seen, and when (performance.now()). */
  #beat = 0;
  #beatSeen = 0;

  constructor(transport: Transport, booting?: Booting) {
    this.#bind(transport);
    if (booting !== undefined) {
      this.#outbox = [];
      this.#booting = { ...booting, deadline: performance.now() + booting.limit };
      this.#watchBoot();
    }
  }

  /**
   * Takes `transport` as this connection's channel. `fresh`: wrappers are named afresh on it
   * (a reopened channel); otherwise the numbers stay (the outbox, sent over it, uses them).
   */
  #bind(transport: Transport, fresh = true): void {
    clearInterval(this.#lease);
    if (fresh) {
      this.#wrappers.clear();
      this.#numbered = [];
      this.#named.clear();
      this.#naming.clear();
    }
    this.#laneOpen = 0;
    this.#lastLaneReply = 0;
    this.#reopen = transport.reopen;
    this.#box = transport.box;
    this.#endpoint = transport.endpoint;
    this.#beats = transport.beats;
    this.#ring = transport.ring;
    this.#starter = transport.starter;
    this.#control = transport.control;
    this.#lane = Lane.fits(transport.box) ? new Lane(transport.box) : undefined;
    this.#beat = Atomics.load(transport.box, CH_BEAT);
    this.#beatSeen = performance.now();
    this.#posted = -1;
    // Replies that arrive while this thread's loop is free are taken in at once; the
    // channel never keeps the process alive.
    transport.endpoint.listen((message) => {
      this.#dispatch(message);
    }, false);
    if (transport.ring) {
      // Say now and then that this thread lives, while its loop is free (a blocked wait
      // says so at every slice): the reactor closes the channels of threads that do not.
      const box = transport.box;
      this.#lease = setInterval(() => {
        Atomics.add(box, CH_LEASE, 1);
      }, LEASE_MS);
      this.#lease.unref();
    }
  }

  /**
   * The reactor closed this channel, taking its thread for gone (it was quiet for long):
   * opens a new one. Returns false if none could be opened (this stops the connection).
   */
  #reopenChannel(): boolean {
    // Closing: the reactor is deciding; it reopens at once if it sees this thread's posts.
    // (It decides within one turn of its loop; a reactor that died in it never will.)
    const until = performance.now() + CLOSING_MS;
    while (Atomics.load(this.#box, CH_STATE) === ChannelState.Closing) {
      if (performance.now() > until) {
        this.#stopHere(new Error('The reactor left this thread’s channel half closed: it stopped answering'));
        return false;
      }
      Atomics.wait(this.#box, CH_STATE, ChannelState.Closing, 5);
    }
    if (Atomics.load(this.#box, CH_STATE) !== ChannelState.Closed) return true;
    const transport = this.#reopen?.();
    if (transport === undefined) {
      this.#stopHere(
        new Error('The reactor closed this thread’s channel, and did not answer when asked for a new one'),
      );
      return false;
    }
    trace('the reactor had closed this thread’s channel: opened a new one');
    // Replies the reactor wrote before it closed the channel are still in the old ring.
    this.#drain();
    this.#endpoint.close();
    this.#bind(transport);
    return true;
  }

  /** While the reactor boots and this thread's loop is free, look now and then whether it serves. */
  #watchBoot(): void {
    if (this.#outbox === undefined || this.#isStopped) return;
    this.#bootTimer = setTimeout(() => {
      this.#advance();
      this.#watchBoot();
    }, 2);
    this.#bootTimer.unref();
  }

  /**
   * While booting: sends the outbox once the reactor serves, or moves to the reactor that
   * won the election. Returns whether the channel is open.
   */
  #advance(): boolean {
    const booting = this.#booting;
    if (this.#outbox === undefined || booting === undefined) return true;
    const state = Atomics.load(booting.control, CTL_STATE);
    if (state === State.Deferred) {
      const transport = booting.rediscover();
      if (transport === undefined) {
        this.#stopHere(new Error("Another thread's reactor was serving, but it did not answer this thread"));
        return false;
      }
      trace('another reactor serves: this thread uses it');
      this.#endpoint.close();
      this.#bind(transport, false);
    } else if (state !== State.Running) {
      if (state < State.Running && performance.now() > booting.deadline) {
        this.#stopHere(
          new Error(
            `The reactor did not start within ${booting.limit} ms (the start-up limit: setup({ startupTimeout }))${
              bundled
                ? `. crochet is bundled into ${home}, whose reactor thread starts when that bundle loads crochet: load crochet, and the modules that create wrappers, when the bundle starts, not only through a require() or import() made later`
                : ''
            }`,
          ),
        );
      }
      return false;
    }
    const outbox = this.#outbox;
    this.#outbox = undefined;
    this.#booting = undefined;
    clearTimeout(this.#bootTimer);
    for (const { message, transfer } of outbox) {
      try {
        this.#send(message, transfer);
      } catch (error) {
        // It went in the outbox, but the channel it goes over now cannot carry it (another
        // thread's reactor won, and this thread reaches it without a port): its call fails.
        const id = message.k === Kind.Call ? message.id : 0;
        const receiver = this.#pending.get(id);
        if (receiver === undefined) {
          trace('could not send a request held while the reactor started: %s', error);
          continue;
        }
        this.#pending.delete(id);
        receiver(false, dataCloneError('The arguments of the call', error));
      }
    }
    return true;
  }

  /** Marks this channel stopped from this side, with `cause`, waking this thread. */
  #stopHere(cause: unknown): void {
    stopBox(this.#box, encodeThrown(cause), false);
    this.#checkStopped();
  }

  /**
   * Blocks until the reactor serves this channel (the start-up limit at most). Returns
   * false if it stopped instead.
   */
  ready(): boolean {
    if (this.#outbox === undefined) return true;
    const booting = this.#booting;
    const limit = booting === undefined ? 0 : Math.max(0, booting.deadline - performance.now()) + 1;
    this.block(() => this.#outbox === undefined, limit, false);
    return this.#outbox === undefined && !this.#checkStopped();
  }

  /**
   * Sends a call and returns its id; `receiver` gets the outcome. Throws
   * `ERR_CROCHET_DATA_CLONE` if an argument cannot cross, and `ReactorStoppedError`
   * if the reactor has stopped.
   */
  call(wrapper: WrapperId, name: string, args: unknown[], receiver: Receiver, direct = false): number {
    if (direct) {
      const id = this.sendByLane(wrapper, args);
      if (id !== 0) {
        this.#pending.set(id, receiver);
        return id;
      }
    }
    this.throwIfStopped();
    const id = this.#nextId++;
    const transferList: Transferable[] = [];
    for (const arg of args) takeTransfer(arg, transferList);
    try {
      checkTransferList(transferList, !this.#ring);
    } catch (error) {
      throw dataCloneError(
        `The transfer() list of the arguments of ${name === '' ? 'the wrapped function' : `${name}()`}`,
        error,
      );
    }
    // A wrapper is named in full until the reactor has surely taken it in, by number after.
    let fn = this.#wrappers.get(wrapper);
    const first = fn === undefined;
    fn ??= this.#wrappers.size;
    const named = this.#named.has(fn);
    const message: CallMessage = {
      k: Kind.Call,
      id,
      fn,
      ...(named ? {} : { wrapper }),
      args,
      ...(direct ? { blocking: true as const } : {}),
    };
    try {
      this.#post(message, transferList);
    } catch (error) {
      throw dataCloneError(describeArgument(args, name), error);
    }
    if (first) {
      this.#wrappers.set(wrapper, fn);
      this.#numbered[fn] = wrapper;
    }
    if (!named) this.#naming.set(id, fn);
    this.#pending.set(id, receiver);
    return id;
  }

  /**
   * Sends a blocking call by the lane, if it can go there: arguments the lane carries
   * (see lane.ts), a wrapper already named over this channel, and the slot free.
   * Returns its id, or 0 if it sent nothing. Its outcome comes to whoever `expect()`s
   * it, or to `quickReply()`.
   */
  sendByLane(wrapper: WrapperId, args: readonly unknown[]): number {
    // First: a channel the reactor closed is replaced here, lane and all.
    this.throwIfStopped();
    const lane = this.#lane;
    if (lane === undefined || this.#outbox !== undefined) return 0;
    const fn = this.#wrappers.get(wrapper);
    if (fn === undefined || !this.#named.has(fn)) return 0;
    // The slot is free once the reactor took the last request. An outcome of it proves
    // that; only after a timeout must the shared memory be asked.
    if (this.#laneOpen !== 0) {
      if (!lane.free()) return 0;
      this.#laneOpen = 0;
    }
    if (!lane.stage(args)) return 0;
    const id = this.#nextId++;
    this.#laneOpen = id;
    lane.publish(id, fn);
    // A reactor that is not polling must be woken; one that is sees the request id.
    if (Atomics.load(this.#box, CH_HOT) === Hot.Cold && this.#post({ k: Kind.Poke, id })) {
      // The reactor had just closed the channel, unseen request and all: it goes again
      // over the new channel, by message.
      this.#laneOpen = 0;
      return 0;
    }
    return id;
  }

  /**
   * Looks for a lane reply to call `id` for a few microseconds, the usual time of a short
   * call. Returns the value, or {@link NO_REPLY}: then the call is still pending, and
   * must be `expect()`ed. Gives up as soon as anything came by the port, which must be
   * taken in first.
   */
  quickReply(id: number): unknown {
    const lane = this.#lane;
    if (lane === undefined || Spin.limit === 0 || this.#contended()) return NO_REPLY;
    for (let i = 0; i < QUICK_SPINS; i++) {
      if (Atomics.load(this.#box, CH_POSTED) !== this.#posted) break;
      if (lane.replyId() !== id) continue;
      this.#lastLaneReply = id;
      this.#laneOpen = 0;
      this.#spin.record(true);
      return lane.readReply();
    }
    return NO_REPLY;
  }

  /** Gives the outcome of call `id` (sent by `sendByLane()`) to `receiver`. */
  expect(id: number, receiver: Receiver): void {
    this.#pending.set(id, receiver);
  }

  /** Stops waiting for call `id` and tells the reactor, which cancels it. */
  cancel(id: number, timeout: boolean): void {
    this.#pending.delete(id);
    this.#loadingCalls.delete(id);
    this.#answered(id);
    if (this.#isStopped) return;
    try {
      this.#post({ k: Kind.Cancel, id, timeout });
    } catch {
      // The channel is gone; so is the call.
    }
  }

  /**
   * Whether the reactor is importing a module for call `id` of this channel before it can
   * run it: time that the call's own timeout does not count.
   */
  loadingFor(id: number): boolean {
    return this.#loadingCalls.has(id);
  }

  /** Calls of this channel that wait for the reactor to import their module. */
  readonly #loadingCalls = new Set<number>();

  /**
   * Blocks until `isDone()` holds or `timeout` ms pass. Returns false on timeout. When
   * the reactor stops, every pending receiver is settled with `ReactorStoppedError`
   * first, so `isDone()` then holds for them. With `loadingId`, the id of the call waited
   * for, the time the reactor spends importing that call's module is not counted (up to
   * the start-up limit).
   */
  block(isDone: () => boolean, timeout: number, quick = true, loadingId = 0): boolean {
    const ring = this.#ring;
    if (ring) Atomics.store(this.#box, CH_BLOCKING, 1);
    const outer = this.#blocking;
    this.#blocking = true;
    if (this.#held !== undefined) this.#release();
    try {
      return this.#block(isDone, timeout, quick, loadingId);
    } finally {
      this.#blocking = outer;
      if (ring) {
        Atomics.store(this.#box, CH_BLOCKING, 0);
        // The reactor does not post a wake-up to a thread that blocks: what it wrote just as
        // this one stopped blocking is taken in once this thread's loop is free. The ring
        // tells (the reactor writes it, then looks at CH_BLOCKING: either it saw this
        // thread blocking no more and posts a wake-up, or the ring shows the write here);
        // the doorbell may be rung only later.
        if (Atomics.load(this.#box, CH_POSTED) !== this.#posted || this.#endpoint.waiting?.() === true) {
          queueMicrotask(() => {
            this.#posted = -1;
            this.#drain();
          });
        }
      }
    }
  }

  #block(isDone: () => boolean, timeout: number, quick: boolean, loadingId: number): boolean {
    // When other processes leave this one no core to spare, the reactor needs the core a
    // spin (even the quick look) would hold: park at once.
    const contended = this.#contended();
    let spin = contended ? 0 : this.#spin.budget();
    // Most short calls are answered within a few microseconds: look for that first,
    // before even reading the clock (unless the caller just did). This costs so little
    // that it is done even while the longer spin rests.
    if (quick && Spin.limit > 0 && !contended) {
      const seen = Atomics.load(this.#box, CH_COUNTER);
      this.#drain();
      if (isDone()) {
        this.#spin.record(true);
        return true;
      }
      for (let i = 0; i < QUICK_SPINS; i++) {
        if (Atomics.load(this.#box, CH_COUNTER) === seen) continue;
        this.#drain();
        if (isDone()) {
          this.#spin.record(true);
          return true;
        }
        break;
      }
    }
    const started = performance.now();
    let deadline = started + timeout;
    /** Whether the reactor was seen importing for this channel during the wait. */
    let sawLoading = false;
    for (;;) {
      // Read the counter before draining: a reply posted after the drain moves the
      // counter past `seen`, so the wait below returns at once instead of sleeping.
      const seen = Atomics.load(this.#box, CH_COUNTER);
      this.#drain();
      if (isDone()) {
        // Only a call that spun tells whether spinning pays.
        if (spin !== 0) this.#spin.record(spin > 0);
        return true;
      }
      if (this.#checkStopped()) return true;
      const now = performance.now();
      if (this.#outbox !== undefined && this.#advance()) continue;
      if (this.#beats && !this.#alive(now)) continue;
      let remaining = deadline - now;
      if (!(remaining > 0) && loadingId !== 0) {
        // A module the call needs is still being imported in the reactor: that is
        // start-up, not the call; its own time starts when the import is done. When the
        // start-up limit runs out first, the call times out at once.
        const loading = this.#loadingCalls.has(loadingId);
        if (loading && now - started < this.#loadingLimit()) {
          sawLoading = true;
          deadline = Math.min(now + Math.min(timeout, LOADING_LOOK_MS), started + this.#loadingLimit());
          remaining = Math.max(deadline - now, 0.001);
        } else if (!loading && sawLoading) {
          sawLoading = false;
          deadline = now + timeout;
          remaining = timeout;
        }
      }
      if (!(remaining > 0)) {
        this.timedOutLoading = loadingId !== 0 && this.#loadingCalls.has(loadingId);
        return false;
      }
      if (spin > 0) {
        // Waking a parked thread costs tens of microseconds; a short reply usually comes
        // sooner. Watch the counter for a bounded time before parking.
        if (spinFor(this.#box, seen, Math.min(spin, remaining))) continue;
        spin = -1;
      }
      // Say so before parking: the reactor wakes only parked callers. (It bumps the
      // counter, then reads the flag; so either it sees the flag, or the wait sees the
      // counter moved.)
      Atomics.store(this.#box, CH_PARKED, 1);
      if (this.#ring) Atomics.add(this.#box, CH_LEASE, 1);
      const booting = this.#outbox !== undefined;
      const slice = Math.min(remaining, booting ? 5 : SLICE_MS);
      const woke = Atomics.wait(this.#box, CH_COUNTER, seen, slice);
      Atomics.store(this.#box, CH_PARKED, 0);
      // After a slice that nothing ended, read the port even if its doorbell did not move.
      if (woke === 'timed-out') this.#posted = -1;
    }
  }

  /** Whether the supervisor finds the machine contended: then nothing spins (see supervisor/load.ts). */
  #contended(): boolean {
    return Atomics.load(this.#box, CH_CONTENDED) === 1;
  }

  /** The start-up limit, which bounds how long a call waits for imports. */
  #loadingLimit(): number {
    return Connection.startupLimit;
  }

  /** How long the reactor may take to start, or to import a module for a call, in ms. */
  static startupLimit = 30_000;

  /** Whether the last wait that timed out did so while the reactor was still importing a module. */
  timedOutLoading = false;

  /**
   * Whether the reactor's supervisor still beats. A caller that sees no beat for
   * {@link SILENT_MS} watches {@link CONFIRM_MS} longer (a paused process resumes with
   * stale beats everywhere); still none, and the reactor is gone: this marks it stopped.
   */
  #alive(now: number): boolean {
    const beat = Atomics.load(this.#box, CH_BEAT);
    if (beat !== this.#beat) {
      this.#beat = beat;
      this.#beatSeen = now;
      return true;
    }
    if (now - this.#beatSeen < SILENT_MS) return true;
    const confirmUntil = now + CONFIRM_MS;
    for (let left = CONFIRM_MS; left > 0; left = confirmUntil - performance.now()) {
      Atomics.wait(this.#box, CH_BEAT, beat, Math.min(left, 50));
      if (Atomics.load(this.#box, CH_BEAT) !== beat) {
        this.#beat = Atomics.load(this.#box, CH_BEAT);
        this.#beatSeen = performance.now();
        return true;
      }
    }
    const starter = this.#starter >= 0 ? ` (thread ${this.#starter})` : '';
    this.#stopHere(
      new Error(
        `The reactor's threads are gone without a word: the thread that started them${starter} was terminated, or the process is out of resources. Call setup() again, from any thread, to start a new reactor`,
      ),
    );
    return false;
  }

  /**
   * Keeps call `callId`, still pending, under `stashId` in the reactor, so that any thread
   * can retrieve it; `handle` is this thread's own handle on it. Blocks until the reactor
   * has it, so the id is usable anywhere once this returns. Returns false if the call's
   * outcome was on its way here already (it is taken in by then): stash that instead.
   */
  stashCall(stashId: string, handle: unknown, callId: number): boolean {
    this.#drain();
    if (!this.#pending.has(callId)) return false;
    const answer = this.#request({ k: Kind.Stash, id: this.#nextId++, stashId, call: callId });
    if (answer.retry === true) return false;
    this.#stashed.set(stashId, handle);
    return true;
  }

  /** Keeps a known outcome under `stashId` in the reactor (see {@link stashCall}). */
  stashOutcome(stashId: string, handle: unknown, outcome: Outcome): void {
    this.#request({ k: Kind.Stash, id: this.#nextId++, stashId, outcome });
    this.#stashed.set(stashId, handle);
  }

  /**
   * Takes the result stashed under `stashId`: this thread's own handle, or a new
   * subscription fed by `receiver` under a fresh reply id (returned).
   */
  retrieve(stashId: string, receiver: Receiver): { own: unknown } | { id: number } | undefined {
    const reply = this.#nextId++;
    this.#pending.set(reply, receiver);
    const id = this.#nextId++;
    let answer: AnswerMessage;
    try {
      answer = this.#request({ k: Kind.Retrieve, id, stashId, reply });
    } catch (error) {
      this.#pending.delete(reply);
      // Gave up waiting (the reactor is busy): the reactor puts the result back when it
      // comes to this request, so that a later retrieve still finds it.
      if (error instanceof TimeoutError) {
        this.#tell({ k: Kind.Retrieved, id, kept: false });
        throw new TimeoutError(`${error.message}; the result stays stashed under its id: retrieve it again later`);
      }
      throw error;
    }
    if (answer.found !== true || answer.yours === true) this.#pending.delete(reply);
    if (answer.found !== true) return undefined;
    // Kept: the reactor may now tell the stashing thread that its result was taken.
    this.#tell({ k: Kind.Retrieved, id, kept: true });
    if (answer.yours === true) {
      const own = this.#stashed.get(stashId);
      this.#stashed.delete(stashId);
      return { own };
    }
    return { id: reply };
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

  /** Marks the reactor stopped from this side (its supervisor died), waking this thread. */
  stopFromOutside(cause: unknown): void {
    // Only the starting thread's own channel depends on that supervisor.
    if (this.#ring) return;
    this.#stopHere(cause);
  }

  /**
   * Asks the reactor to shut down, giving its hooks `timeout` ms, and blocks until it
   * has stopped (a little longer than `timeout` at most). Returns whether it stopped by
   * itself in time.
   */
  shutdown(timeout: number): boolean {
    if (this.#checkStopped()) return true;
    try {
      this.#post({ k: Kind.Shutdown, timeout });
    } catch {
      return false;
    }
    return this.block(() => this.#isStopped, timeout + SHUTDOWN_GRACE_MS);
  }

  /** Marks the reactor stopped by a shutdown from this side, when it did not stop in time. */
  forceStopped(cause: unknown): void {
    stopBox(this.#box, encodeThrown(cause), true);
    this.#checkStopped();
  }

  /** Whether the reactor stopped because it was shut down (not because it died). */
  get stoppedByShutdown(): boolean {
    return this.#checkStopped() && this.#shutDown;
  }

  /**
   * Writes out (or logs) one write of reactor code, and says how much is still to be
   * written out, for the reactor's backpressure (see Engine.emit()). While this thread's
   * loop is free, output is held back once the application has nothing left to do but
   * write it (see {@link #idle}): so reactor code that writes without end cannot keep the
   * process alive. Held output is written out at the next blocking call, or as the
   * process exits.
   */
  #output(message: LogMessage): void {
    if (!this.#blocking && !this.#flushing && this.#idle()) {
      // Taken in later (it still counts as not taken in: the reactor waits, or drops).
      (this.#held ??= []).push(message);
      return;
    }
    this.#release();
    this.#write(message);
  }

  #write(message: LogMessage): void {
    deliver(LEVELS[message.level] ?? 'info', message.fd, message.text);
    const size = typeof message.text === 'string' ? message.text.length : message.text.byteLength;
    Atomics.sub(this.#box, CH_OUTPUT, size);
    Atomics.store(this.#box, CH_BACKLOG, outputBacklog());
    Atomics.notify(this.#box, CH_OUTPUT);
    watchBacklog(this.#box);
  }

  /** Writes out the output held back. */
  #release(): void {
    const held = this.#held;
    this.#held = undefined;
    for (const message of held ?? []) this.#write(message);
  }

  /** Output held back while this thread's application had nothing else to do. */
  #held: LogMessage[] | undefined;
  /** Whether this thread blocks (in a call, a wait, a request). */
  #blocking = false;
  /** Whether this thread is taking in the reactor's last output as it exits. */
  #flushing = false;
  /** When the application was last looked at (performance.now()), and whether it was idle. */
  #idleSeen = -Infinity;
  #idleWas = false;

  /**
   * Whether this thread's application has nothing left to do but write out what the
   * reactor wrote: nothing but output not yet written out (or held back) would keep the
   * process alive. Looked at only on the main thread, only while output is backed up or
   * held, and at most every {@link IDLE_LOOK_MS}.
   */
  #idle(): boolean {
    if (!isMainThread || (this.#held === undefined && outputBacklog() === 0)) return false;
    const now = performance.now();
    if (now - this.#idleSeen >= IDLE_LOOK_MS) {
      this.#idleSeen = now;
      this.#idleWas = onlyOutputAlive();
    }
    return this.#idleWas;
  }

  /** Whether the reactor has stopped, for whatever reason. */
  get stopped(): boolean {
    return this.#checkStopped();
  }

  /** How much a shutdown would have to do in the reactor (hooks + stashed results), if known here. */
  shutdownWork(control: Int32Array | undefined): number {
    return control === undefined ? 0 : Atomics.load(control, CTL_WORK);
  }

  /**
   * Takes in everything that has arrived: replies, and records to write out (those held
   * back too); as the thread exits, says how much output the reactor dropped, if any.
   */
  drainAll(exiting = false): void {
    this.#flushing = true;
    try {
      this.#release();
      this.#drain();
      if (exiting) {
        const dropped = Atomics.exchange(this.#box, CH_DROPPED, 0);
        if (dropped > 0) {
          deliver(
            'error',
            2,
            `crochet: output dropped: ${dropped} bytes that reactor code wrote were dropped, because the application did not take its output in (its thread was blocked or busy, or nothing read its stdout)\n`,
          );
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  /**
   * Takes in, without blocking, the outcomes that have arrived (and a stop of the
   * reactor, which fails what is pending): what `wait(0)` would see.
   */
  takeIn(): void {
    this.#drain();
    this.#checkStopped();
  }

  /** Sends an error report to the reactor, for the thread that called setup(). */
  report(text: string): void {
    if (this.#isStopped) throw this.stoppedError();
    this.#post({ k: Kind.Report, text });
  }

  /** Tells the reactor this thread is going away. */
  goodbye(): void {
    if (this.#isStopped || this.#outbox !== undefined) return;
    try {
      this.#post({ k: Kind.Goodbye });
    } catch {
      // The channel is closed already.
    }
  }

  /**
   * Sends a request (or holds it while the reactor boots). Returns true if it went over a
   * new channel because the reactor had just closed the old one (see `#send()`).
   */
  #post(message: RequestMessage, transfer: Transferable[] = []): boolean {
    if (this.#outbox !== undefined) {
      // The reactor does not serve yet: copy it now (what is sent is what the arguments
      // were at the call, and their getters run once), send the copy later. The copy's
      // transfer list is made of the copy's own objects (a clone keeps identities).
      const copy =
        transfer.length === 0
          ? { message: structuredClone(message), transfer }
          : structuredClone({ message, transfer }, { transfer });
      this.#outbox.push(copy);
      return false;
    }
    return this.#send(message, transfer);
  }

  #send(message: RequestMessage, transfer: Transferable[]): boolean {
    let moved = false;
    for (;;) {
      if (this.#ring && Atomics.load(this.#box, CH_STATE) !== ChannelState.Ready && !this.#reopenChannel()) {
        throw this.stoppedError();
      }
      const numbered = this.#numbered;
      const box = this.#box;
      this.#endpoint.post(message, transfer);
      // Counted after posting: a lane request written later says how many came before it.
      const number = Atomics.add(this.#box, CH_SENT, 1) + 1;
      if (message.k === Kind.Call || message.k === Kind.Stash || message.k === Kind.Retrieve) {
        this.#track(message.id, number);
      }
      if (!this.#ring) return moved;
      // The reactor may have been closing this channel just now (see reclaimIfIdle()).
      const state = Atomics.load(this.#box, CH_STATE);
      if (state === ChannelState.Ready || state === ChannelState.Stopped) return moved;
      if (!this.#reopenChannel()) throw this.stoppedError();
      // Reopened by the reactor (it saw this post): taken. Closed for good: not taken.
      if (this.#box === box) return moved;
      moved = true;
      // The message was not taken: send it again over the new channel, where wrappers
      // are named afresh.
      if (message.k === Kind.Call && message.wrapper === undefined) {
        const wrapper = numbered[message.fn];
        if (wrapper === undefined) return moved;
        const fn = this.#wrappers.size;
        this.#wrappers.set(wrapper, fn);
        this.#numbered[fn] = wrapper;
        this.#naming.set(message.id, fn);
        message = { ...message, fn, wrapper };
      } else if (message.k === Kind.Poke) {
        return moved;
      }
    }
  }

  /** Remembers that message number `number` on this channel carried call or request `id`. */
  #track(id: number, number: number): void {
    const before = this.#numberOf.get(id);
    if (before !== undefined) this.#sentAs.delete(before);
    this.#sentAs.set(number, id);
    this.#numberOf.set(id, number);
  }

  /** Call or request `id` was answered (or given up): its message number is forgotten. */
  #answered(id: number): void {
    const number = this.#numberOf.get(id);
    if (number === undefined) return;
    this.#numberOf.delete(id);
    this.#sentAs.delete(number);
  }

  /** Posts a message that needs no answer, if the channel is still open. */
  #tell(message: RequestMessage): void {
    if (this.#isStopped) return;
    try {
      this.#post(message);
    } catch {
      // The reactor stopped: nothing to tell any more.
    }
  }

  /** Requests given up on (timed out): their answers, if they come, are dropped. */
  readonly #givenUp = new Set<number>();

  /** Sends a request and blocks for its answer. */
  #request(message: RequestMessage & { readonly id: number }): AnswerMessage {
    this.throwIfStopped();
    this.#post(message);
    const id = message.id;
    const done = (): boolean => this.#answers.has(id) || this.#lostRequests.has(id);
    if (!this.block(done, REQUEST_LIMIT_MS)) {
      this.#answered(id);
      this.#givenUp.add(id);
      throw new TimeoutError(
        `The reactor did not answer within ${REQUEST_LIMIT_MS} ms (is reactor code running synchronously for that long?)`,
      );
    }
    if (this.#lostRequests.has(id)) {
      const error = this.#lostRequests.get(id);
      this.#lostRequests.delete(id);
      throw dataCloneError('The request (a result to stash)', error);
    }
    const answer = this.#answers.get(id);
    this.#answers.delete(id);
    if (answer === undefined) throw this.stoppedError();
    return answer;
  }

  #drain(): void {
    const lane = this.#lane;
    // The lane's reply id first: what the reactor posted before that reply is then
    // surely there to be read below, and comes first.
    const laneReply = lane === undefined ? this.#lastLaneReply : lane.replyId();
    // Read the port (or ring) only when something was posted to it since the last look.
    const posted = Atomics.load(this.#box, CH_POSTED);
    if (posted !== this.#posted) {
      this.#posted = posted;
      this.#receiveAll();
    }
    if (lane === undefined || laneReply === this.#lastLaneReply) return;
    this.#lastLaneReply = laneReply;
    let value: unknown;
    try {
      value = lane.readReply();
    } catch (error) {
      // A reply that cannot be read (text said to lie past the shared memory, data that
      // does not parse) fails its own call, not whichever call is waiting now.
      this.#dispatch({ k: Kind.Failure, id: laneReply, error: encodeFailure(error) });
      return;
    }
    this.#dispatch({ k: Kind.Success, id: laneReply, value });
  }

  #receiveAll(): void {
    // Bounded: what arrives while this runs waits for the next look, so that a reactor
    // that writes without end cannot hold this thread here.
    for (let budget = RECEIVE_BUDGET; budget > 0; budget--) {
      const received = this.#endpoint.receive();
      if (received === undefined) return;
      this.#dispatch(received.message);
    }
    // More is waiting: look again next time even if the doorbell does not move.
    this.#posted = -1;
  }

  /** A reply to call `id` came: the reactor took in the wrapper it named, if it named one. */
  #tookWrapper(id: number): void {
    const fn = this.#naming.get(id);
    if (fn === undefined) return;
    this.#naming.delete(id);
    this.#named.add(fn);
  }

  #dispatch(data: unknown): void {
    if (data instanceof Undecodable) {
      this.#tookWrapper(data.id);
      // A reply that could not be decoded here: it is the failure of its call.
      const receiver = this.#pending.get(data.id);
      if (receiver === undefined) {
        if (data.id === 0) reportError('crochet could not decode a reply from the reactor', data.error);
        return;
      }
      this.#pending.delete(data.id);
      this.#answered(data.id);
      if (data.id === this.#laneOpen) this.#laneOpen = 0;
      receiver(false, dataCloneError('The outcome of the call (its result, or the error it threw)', data.error));
      return;
    }
    const message = parseReply(data);
    if (message === undefined) {
      trace('ignored a malformed message from the reactor');
      return;
    }
    this.#take(message);
  }

  #take(message: ReplyMessage): void {
    switch (message.k) {
      case Kind.Success:
      case Kind.Failure: {
        if (message.id === this.#laneOpen) this.#laneOpen = 0;
        this.#loadingCalls.delete(message.id);
        this.#tookWrapper(message.id);
        const receiver = this.#pending.get(message.id);
        // Nobody waits for this id any more (timed out or cancelled): drop the reply.
        if (receiver === undefined) return;
        this.#pending.delete(message.id);
        this.#answered(message.id);
        if (message.k === Kind.Success) {
          receiver(true, message.value);
          return;
        }
        let error: unknown;
        try {
          error = decodeThrown(message.error);
        } catch (decodeError) {
          error = dataCloneError('The error thrown', decodeError);
        }
        receiver(false, error);
        return;
      }
      case Kind.Lost: {
        // The reactor could not decode message number `seq`: its call (or request) fails.
        const id = this.#sentAs.get(message.seq);
        if (id === undefined) return;
        this.#answered(id);
        this.#naming.delete(id);
        let cause: unknown;
        try {
          cause = decodeThrown(message.error);
        } catch (decodeError) {
          cause = decodeError;
        }
        const receiver = this.#pending.get(id);
        if (receiver === undefined) {
          this.#lostRequests.set(id, cause);
          return;
        }
        this.#pending.delete(id);
        receiver(false, dataCloneError('The arguments of the call', cause));
        return;
      }
      case Kind.Answer:
        this.#answered(message.id);
        if (this.#givenUp.delete(message.id)) return;
        this.#answers.set(message.id, message);
        return;
      case Kind.Unstash:
        this.#stashed.delete(message.stashId);
        return;
      case Kind.Loading:
        if (message.done || !this.#pending.has(message.id)) this.#loadingCalls.delete(message.id);
        else this.#loadingCalls.add(message.id);
        return;
      case Kind.Log:
        this.#output(message);
        return;
    }
  }

  /** Whether the reactor has stopped; on first noticing, fails every pending call. */
  #checkStopped(): boolean {
    if (this.#isStopped) return true;
    const state = Atomics.load(this.#box, CH_STATE);
    const control = this.#control;
    if (state !== ChannelState.Stopped && control !== undefined && Atomics.load(control, CTL_STATE) === State.Stopped) {
      // The reactor stopped, and this channel has not been told yet (whoever marked the stop
      // tells the channels one by one): the control block says why.
      trace('the reactor stopped before this thread’s channel was told: its control block says so');
      return this.#noticeStop(readControlCause(control), Atomics.load(control, CTL_SHUT_DOWN) === 1);
    }
    if (state === ChannelState.Ready) return false;
    if (state === ChannelState.Closed || state === ChannelState.Closing) {
      // Closed by the reactor as quiet: what it wrote before is still to be read; then a new
      // channel opens at the next call (this is no stop).
      if (this.#ring) this.#drain();
      if (this.#ring && this.#pending.size === 0 && this.#reopenChannel()) return false;
      if (Atomics.load(this.#box, CH_STATE) !== ChannelState.Stopped && this.#pending.size > 0) {
        // (Written here directly: stopBox() leaves a closed box as it is.)
        const cause = new Error('The reactor closed this thread’s channel while calls were under way');
        stopBox(this.#box, encodeThrown(cause), false, true);
      }
    }
    if (Atomics.load(this.#box, CH_STATE) !== ChannelState.Stopped) return false;
    return this.#noticeStop(readBoxCause(this.#box), Atomics.load(this.#box, CH_SHUT_DOWN) === 1);
  }

  /** Records that the reactor stopped, with `cause`, and fails every pending call. Returns true. */
  #noticeStop(cause: WireValue | undefined, shutDown: boolean): boolean {
    this.#isStopped = true;
    this.#shutDown = shutDown;
    clearTimeout(this.#bootTimer);
    this.#stopped = cause === undefined ? undefined : decodeThrown(cause);
    trace('the reactor stopped%s: %s', shutDown ? ' (shut down)' : '', this.#stopped);
    if (channels.reactorStop.hasSubscribers) channels.reactorStop.publish({ cause: this.#stopped, shutDown });
    // Replies that made it before the stop still count.
    this.#drain();
    const receivers = [...this.#pending.values()];
    this.#pending.clear();
    this.#sentAs.clear();
    this.#numberOf.clear();
    for (const receiver of receivers) {
      const error = this.stoppedError();
      // Results failed by an orderly shutdown are not failures anyone must look at.
      if (shutDown) expectedFailures.add(error);
      receiver(false, error);
    }
    return true;
  }
}

/** The most messages one look at the port or ring takes in. */
const RECEIVE_BUDGET = 4096;

/**
 * The adaptive spin of a caller before it parks. First a quick look of a few
 * microseconds, always; then a spin of up to {@link Spin.limit} ms. When replies keep
 * coming only after that spin (long calls, or more spinning threads than cores), the
 * spin rests for a while; a reply caught by the quick look ends the rest.
 */
class Spin {
  /** How long to spin before parking, in ms; 0 disables spinning. */
  static limit = 0.05;
  /**
   * Rests after 4 calls in a row whose reply came only after parking: 16 calls at first,
   * up to 256 while spinning keeps failing.
   */
  readonly #backoff = new Backoff(4, 16, 256);

  /** How long the next call may spin after the quick look, in ms: 0 while resting. */
  budget(): number {
    return this.#backoff.skip() ? 0 : Spin.limit;
  }

  /**
   * Records whether the reply came while spinning. One that did ends a rest: replies
   * are quick (again), so spinning pays.
   */
  record(hit: boolean): void {
    if (hit) this.#backoff.hit();
    else this.#backoff.miss();
  }
}

/** What `quickReply()` returns when no reply came quickly. */
export const NO_REPLY: unique symbol = Symbol('no reply');

/** Counter reads a caller makes before it first reads the clock (a few microseconds). */
const QUICK_SPINS = 128;

/** Sets how long a caller spins before it parks, in ms (0: never spin). */
export function setSpin(ms: number): void {
  Spin.limit = ms;
}

/** Watches `sig` for up to `ms` while it still holds `seen`; returns whether it moved. */
function spinFor(sig: Int32Array, seen: number, ms: number): boolean {
  const until = performance.now() + ms;
  for (;;) {
    for (let i = 0; i < 64; i++) if (Atomics.load(sig, CH_COUNTER) !== seen) return true;
    if (performance.now() >= until) return false;
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

/** Failures that need no report when nobody retrieves them (from an orderly shutdown). */
export const expectedFailures = new WeakSet<object>();

/** The error `retrieveResult()` throws for an id nobody stashed (or that was taken). */
export function unknownResult(id: string): CrochetError {
  return new CrochetError(
    'ERR_CROCHET_UNKNOWN_RESULT',
    `No result is stashed under id ${JSON.stringify(id)}: it was never stashed, or was already retrieved (each stash() id can be retrieved once; stash the result again to keep it)`,
  );
}
