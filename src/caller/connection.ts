/**
 * A caller thread's connection to the reactor: its channel (an endpoint + a
 * notification counter) and the reactor's control block. Sends calls and requests,
 * takes in replies, and blocks.
 *
 * Every blocking wait here is bounded: the caller parks in slices of at most
 * {@link SLICE_MS}, and between slices checks the control block, so even a reactor that
 * died without anyone bumping the counter is noticed.
 */
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import type { Transferable } from 'node:worker_threads';
import { dataCloneError, decodeThrown, encodeThrown } from '../wire/codec.js';
import { Backoff } from '../common/backoff.js';
import { takeTransfer } from '../api/context.js';
import type { Endpoint } from '../wire/endpoint.js';
import { Lane, LANE_HOT } from '../wire/lane.js';
import { CrochetError, ReactorStoppedError, TimeoutError } from '../api/errors.js';
import { channels, trace } from '../common/diagnostics.js';
import {
  CTL_SHUT_DOWN,
  CTL_STATE,
  CTL_WORK,
  Kind,
  LEVELS,
  SIG_COUNTER,
  SIG_PARKED,
  SIG_POSTED,
  SIG_REQUESTS,
  State,
  markStopped,
  readCause,
  type AnswerMessage,
  type CallMessage,
  type Outcome,
  type ReplyMessage,
  type RequestMessage,
} from '../wire/messages.js';
import type { WrapperId } from '../api/registry.js';
import { deliver } from '../common/report.js';

/** The longest a caller parks before it checks the reactor's state again. */
const SLICE_MS = 250;
/** How long a thread waits for its channel to open before it says hello again (doubling). */
const HELLO_RETRY_MS = 10;
/**
 * How long the supervisor thread may take to start. It runs only crochet's own small
 * module, so running out of this means threads cannot start at all.
 */
const BOOT_LIMIT_MS = 60_000;
/** How long `stash()` and `retrieveResult()` wait for the reactor to answer. */
export const REQUEST_LIMIT_MS = 10_000;
/** How much longer than its hooks' time a shutdown may take before it is forced. */
const SHUTDOWN_GRACE_MS = 1000;

/** Whoever waits for a call's outcome. */
export type Receiver = (ok: boolean, value: unknown) => void;

export class Connection {
  #control: Int32Array | undefined;
  readonly #sig: Int32Array;
  readonly #endpoint: Endpoint;
  /** The direct lane of this channel, for blocking calls with small values. */
  readonly #lane: Lane | undefined;
  #lastLaneReply = 0;
  /** The id of the last lane request while no outcome of it has come (0: none). */
  #laneOpen = 0;
  /** The reply doorbell's value when the port was last read (-1: read it next time). */
  #posted = -1;
  readonly #pending = new Map<number, Receiver>();
  /** The channel's numbers for the wrappers called over it. */
  readonly #wrappers = new Map<WrapperId, number>();
  readonly #answers = new Map<number, AnswerMessage>();
  /** Results this thread stashed, by stash id, until retrieved here or elsewhere. */
  readonly #stashed = new Map<string, unknown>();
  readonly #bootDeadline: number;
  /** Requests held until the reactor has opened this channel (broadcast channels only). */
  #outbox: { message: RequestMessage; transfer: Transferable[] }[] | undefined;
  /**
   * Says hello to the directory again (broadcast channels only). A hello posted before
   * the directory listens is lost, so it is repeated until the channel opens.
   */
  readonly #hello: (() => void) | undefined;
  #helloAfter = HELLO_RETRY_MS;
  #nextId = 1;
  readonly #spin = new Spin();
  #stopped: unknown = undefined;
  #isStopped = false;

  /**
   * `control` may come later (with the directory's welcome); `ready` is false for a
   * broadcast channel the reactor has yet to open.
   */
  constructor(
    control: Int32Array | undefined,
    sig: Int32Array,
    endpoint: Endpoint,
    ready: boolean,
    hello?: () => void,
  ) {
    this.#control = control;
    this.#hello = hello;
    this.#sig = sig;
    this.#endpoint = endpoint;
    this.#lane = Lane.fits(sig) ? new Lane(sig) : undefined;
    this.#outbox = ready ? undefined : [];
    this.#bootDeadline = performance.now() + BOOT_LIMIT_MS;
    // Replies that arrive while this thread's loop is free are taken in at once; the
    // channel never keeps the process alive.
    endpoint.listen((message) => {
      this.#dispatch(message as ReplyMessage);
    }, false);
    // While this thread's loop is free, say hello again on a timer; while it blocks, the
    // wait does (see block()).
    if (hello !== undefined && !ready) this.#scheduleHello();
  }

  #helloTimer: NodeJS.Timeout | undefined;

  #scheduleHello(): void {
    this.#helloTimer = setTimeout(() => {
      this.#greetAgain();
      if (this.#outbox !== undefined) this.#scheduleHello();
    }, this.#helloAfter).unref();
  }

  /** Says hello again, if the channel has not opened yet; the next try comes later. */
  #greetAgain(): void {
    if (this.#outbox === undefined) return;
    this.#hello?.();
    this.#helloAfter = Math.min(this.#helloAfter * 2, SLICE_MS);
  }

  /** Whether the directory's welcome (the control block) has arrived. */
  get welcomed(): boolean {
    return this.#control !== undefined;
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
    // A wrapper is named in full on its first call over this channel, by number after.
    let fn = this.#wrappers.get(wrapper);
    const first = fn === undefined;
    fn ??= this.#wrappers.size;
    const message: CallMessage = first ? { k: Kind.Call, id, fn, wrapper, args } : { k: Kind.Call, id, fn, args };
    try {
      this.#post(message, transferList);
    } catch (error) {
      throw dataCloneError(describeArgument(args, name), error);
    }
    if (first) this.#wrappers.set(wrapper, fn);
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
    const lane = this.#lane;
    if (lane === undefined || this.#outbox !== undefined) return 0;
    const fn = this.#wrappers.get(wrapper);
    if (fn === undefined) return 0;
    // The slot is free once the reactor took the last request. An outcome of it proves
    // that; only after a timeout must the shared memory be asked.
    if (this.#laneOpen !== 0) {
      if (!lane.free()) return 0;
      this.#laneOpen = 0;
    }
    if (!lane.stage(args)) return 0;
    this.throwIfStopped();
    const id = this.#nextId++;
    this.#laneOpen = id;
    lane.publish(id, fn);
    // A reactor that is not polling must be woken; one that is sees the request id.
    if (Atomics.load(this.#sig, LANE_HOT) === 0) this.#endpoint.post({ k: Kind.Poke, id });
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
    if (lane === undefined || Spin.limit === 0) return NO_REPLY;
    for (let i = 0; i < QUICK_SPINS; i++) {
      if (Atomics.load(this.#sig, SIG_POSTED) !== this.#posted) break;
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
    if (this.#isStopped) return;
    this.#post({ k: Kind.Cancel, id, timeout });
  }

  /**
   * Blocks until `isDone()` holds or `timeout` ms pass. Returns false on timeout. When
   * the reactor stops, every pending receiver is settled with `ReactorStoppedError`
   * first, so `isDone()` then holds for them.
   */
  block(isDone: () => boolean, timeout: number, quick = true): boolean {
    let spin = this.#spin.budget();
    // Most short calls are answered within a few microseconds: look for that first,
    // before even reading the clock (unless the caller just did). This costs so little
    // that it is done even while the longer spin rests.
    if (quick && Spin.limit > 0) {
      const seen = Atomics.load(this.#sig, SIG_COUNTER);
      this.#drain();
      if (isDone()) {
        this.#spin.record(true);
        return true;
      }
      for (let i = 0; i < QUICK_SPINS; i++) {
        if (Atomics.load(this.#sig, SIG_COUNTER) === seen) continue;
        this.#drain();
        if (isDone()) {
          this.#spin.record(true);
          return true;
        }
        break;
      }
    }
    const deadline = performance.now() + timeout;
    for (;;) {
      // Read the counter before draining: a reply posted after the drain moves the
      // counter past `seen`, so the wait below returns at once instead of sleeping.
      const seen = Atomics.load(this.#sig, SIG_COUNTER);
      this.#drain();
      if (isDone()) {
        // Only a call that spun tells whether spinning pays.
        if (spin !== 0) this.#spin.record(spin > 0);
        return true;
      }
      if (this.#checkStopped()) return true;
      const remaining = deadline - performance.now();
      if (!(remaining > 0)) return false;
      if (spin > 0) {
        // Waking a parked thread costs tens of microseconds; a short reply usually comes
        // sooner. Watch the counter for a bounded time before parking.
        if (spinFor(this.#sig, seen, Math.min(spin, remaining))) continue;
        spin = -1;
      }
      // Say so before parking: the reactor wakes only parked callers. (It bumps the
      // counter, then reads the flag; so either it sees the flag, or the wait sees the
      // counter moved.)
      Atomics.store(this.#sig, SIG_PARKED, 1);
      const greeting = this.#outbox !== undefined && this.#hello !== undefined;
      const slice = Math.min(remaining, greeting ? this.#helloAfter : SLICE_MS);
      const woke = Atomics.wait(this.#sig, SIG_COUNTER, seen, slice);
      Atomics.store(this.#sig, SIG_PARKED, 0);
      if (greeting && woke === 'timed-out') this.#greetAgain();
      // After a slice that nothing ended, read the port even if its doorbell did not move.
      if (woke === 'timed-out') this.#posted = -1;
    }
  }

  /**
   * Keeps a result under `stashId` in the reactor, so that any thread can retrieve it.
   * `state()` tells the result's state now: pending with its call id, or its outcome.
   * Blocks until the reactor has it, so the id is usable anywhere once this returns.
   */
  stash(stashId: string, handle: unknown, state: () => { callId: number } | Outcome): void {
    this.#drain();
    for (;;) {
      const now = state();
      const answer =
        'callId' in now
          ? this.#request({ k: Kind.Stash, id: this.#nextId++, stashId, call: now.callId })
          : this.#request({ k: Kind.Stash, id: this.#nextId++, stashId, outcome: now });
      // The outcome was on its way here already: take it in, then stash the outcome.
      if (answer.retry === true) continue;
      this.#stashed.set(stashId, handle);
      return;
    }
  }

  /**
   * Takes the result stashed under `stashId`: this thread's own handle, or a new
   * subscription fed by `receiver` under a fresh reply id (returned).
   */
  retrieve(stashId: string, receiver: Receiver): { own: unknown } | { id: number } | undefined {
    const reply = this.#nextId++;
    this.#pending.set(reply, receiver);
    const answer = this.#request({ k: Kind.Retrieve, id: this.#nextId++, stashId, reply });
    if (answer.found !== true || answer.yours === true) this.#pending.delete(reply);
    if (answer.found !== true) return undefined;
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
    if (this.#control !== undefined) markStopped(this.#control, encodeThrown(cause), [this.#sig]);
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
    if (this.#control !== undefined) markStopped(this.#control, encodeThrown(cause), [this.#sig], false, true);
    this.#checkStopped();
  }

  /** Whether the reactor stopped because it was shut down (not because it died). */
  get stoppedByShutdown(): boolean {
    return this.#checkStopped() && this.#control !== undefined && Atomics.load(this.#control, CTL_SHUT_DOWN) === 1;
  }

  /** How much a shutdown would have to do in the reactor (hooks + stashed results). */
  get shutdownWork(): number {
    return this.#control === undefined ? 0 : Atomics.load(this.#control, CTL_WORK);
  }

  /** Takes in everything that has arrived: replies, and records to write out. */
  drainAll(): void {
    this.#drain();
  }

  /** Sends an error report to the reactor, for the thread that called setup(). */
  report(text: string): void {
    if (this.#isStopped) throw this.stoppedError();
    this.#post({ k: Kind.Report, text });
  }

  /** Tells the reactor this thread is going away. */
  goodbye(): void {
    if (this.#isStopped) return;
    try {
      this.#post({ k: Kind.Goodbye });
    } catch {
      // The channel is closed already.
    }
  }

  #post(message: RequestMessage, transfer: Transferable[] = []): void {
    if (this.#outbox !== undefined) {
      // Not open yet on the reactor's side: check it can be cloned now, send it later.
      structuredClone(message);
      this.#outbox.push({ message, transfer });
      return;
    }
    this.#endpoint.post(message, transfer);
    Atomics.add(this.#sig, SIG_REQUESTS, 1);
  }

  /** Sends a request and blocks for its answer. */
  #request(message: RequestMessage & { readonly id: number }): AnswerMessage {
    this.throwIfStopped();
    this.#post(message);
    const id = message.id;
    if (!this.block(() => this.#answers.has(id), REQUEST_LIMIT_MS)) {
      throw new TimeoutError(
        `The reactor did not answer within ${REQUEST_LIMIT_MS} ms (is reactor code running synchronously for that long?)`,
      );
    }
    const answer = this.#answers.get(id);
    this.#answers.delete(id);
    if (answer === undefined) throw this.stoppedError();
    return answer;
  }

  #drain(): void {
    // Read the port only when something was posted to it since the last look.
    const posted = Atomics.load(this.#sig, SIG_POSTED);
    if (posted !== this.#posted) {
      this.#posted = posted;
      this.#receiveAll();
    }
    // After the port: what the reactor posted before a lane reply comes first.
    const lane = this.#lane;
    if (lane === undefined) return;
    const id = lane.replyId();
    if (id === this.#lastLaneReply) return;
    this.#lastLaneReply = id;
    this.#dispatch({ k: Kind.Success, id, value: lane.readReply() });
  }

  #receiveAll(): void {
    for (;;) {
      const received = this.#endpoint.receive();
      if (received === undefined) break;
      this.#dispatch(received.message as ReplyMessage);
    }
  }

  #dispatch(message: ReplyMessage): void {
    switch (message.k) {
      case Kind.Success:
      case Kind.Failure: {
        if (message.id === this.#laneOpen) this.#laneOpen = 0;
        const receiver = this.#pending.get(message.id);
        // Nobody waits for this id any more (timed out or cancelled): drop the reply.
        if (receiver === undefined) return;
        this.#pending.delete(message.id);
        if (message.k === Kind.Success) receiver(true, message.value);
        else receiver(false, decodeThrown(message.error));
        return;
      }
      case Kind.Answer:
        this.#answers.set(message.id, message);
        return;
      case Kind.Unstash:
        this.#stashed.delete(message.stashId);
        return;
      case Kind.Welcome:
        this.#control ??= message.control;
        return;
      case Kind.Log:
        deliver(LEVELS[message.level] ?? 'info', message.fd, message.text);
        return;
      case Kind.Ready: {
        const outbox = this.#outbox ?? [];
        this.#outbox = undefined;
        clearTimeout(this.#helloTimer);
        for (const { message: held, transfer } of outbox) this.#endpoint.post(held, transfer);
        Atomics.add(this.#sig, SIG_REQUESTS, 1);
        return;
      }
    }
  }

  /** Whether the reactor has stopped; on first noticing, fails every pending call. */
  #checkStopped(): boolean {
    if (this.#isStopped) return true;
    const control = this.#control;
    if (control === undefined) return false;
    const state = Atomics.load(control, CTL_STATE);
    if (state === State.Booting && performance.now() > this.#bootDeadline) {
      const cause = new Error(`The reactor's supervisor thread did not start within ${BOOT_LIMIT_MS} ms`);
      markStopped(control, encodeThrown(cause), [this.#sig]);
    } else if (state !== State.Stopped) {
      return false;
    }
    if (Atomics.load(control, CTL_STATE) !== State.Stopped) return false;
    this.#isStopped = true;
    const cause = readCause(control);
    this.#stopped = cause === undefined ? undefined : decodeThrown(cause);
    const shutDown = Atomics.load(control, CTL_SHUT_DOWN) === 1;
    trace('the reactor stopped%s: %s', shutDown ? ' (shut down)' : '', this.#stopped);
    if (channels.reactorStop.hasSubscribers) channels.reactorStop.publish({ cause: this.#stopped, shutDown });
    // Replies that made it before the stop still count.
    this.#drain();
    const receivers = [...this.#pending.values()];
    this.#pending.clear();
    for (const receiver of receivers) {
      const error = this.stoppedError();
      // Results failed by an orderly shutdown are not failures anyone must look at.
      if (shutDown) expectedFailures.add(error);
      receiver(false, error);
    }
    return true;
  }
}

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
    for (let i = 0; i < 64; i++) if (Atomics.load(sig, SIG_COUNTER) !== seen) return true;
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
