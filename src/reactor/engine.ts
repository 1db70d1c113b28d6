/**
 * The reactor's engine: serves calls from every channel on this thread's event loop,
 * and keeps stashed results. It runs in the reactor thread `setup()` starts, or on the
 * main thread after `noSetup()`.
 *
 * Design note. Each call the engine runs is a *record* with a list of *subscribers*:
 * the channel and reply id of every thread that holds a handle on it (the caller, and
 * any thread that retrieved it from the stash), or a function for handles in this
 * thread. When the call settles, every subscriber gets the outcome; a stash entry that
 * refers to the record keeps it. `cancel()` from any subscriber cancels the call for
 * everyone: the others get a `CancelledError`.
 *
 * Messages from one channel are handled in the order they were sent. A call into a
 * module the engine has not imported yet waits for that import (its record exists at
 * once, so a `cancel()` or `stash()` sent right after it still finds it); the channel's
 * other messages, calls into other modules among them, go on meanwhile, so a module whose
 * import never ends holds up only the calls into it.
 */
import { performance } from 'node:perf_hooks';
import type { Transferable } from 'node:worker_threads';
import { dataCloneError, decodeThrown, encodeFailure, encodeThrown, type WireValue } from '../wire/codec.js';
import { Backoff } from '../common/backoff.js';
import { CallContext, checkTransferList, isMarked, runAsCall, takeTransfer } from '../api/context.js';
import { reactorRingEndpoint, Undecodable, type Endpoint } from '../wire/endpoint.js';
import { settleAnswer, type ChannelNames } from '../wire/handshake.js';
import {
  Answer,
  CH_COUNTER,
  CH_HOT,
  CH_LEASE,
  CH_BACKLOG,
  CH_DROPPED,
  CH_LOADING,
  CH_OUTPUT,
  CH_PARKED,
  CH_POSTED,
  CH_SENT,
  CH_STATE,
  ChannelState,
  CTL_CONTENDED,
  CTL_WORK,
  Hot,
} from '../wire/layout.js';
import { closeBox, markStopped } from '../wire/control.js';
import { Lane } from '../wire/lane.js';
import { CancelledError, TimeoutError } from '../api/errors.js';
import { trace } from '../common/diagnostics.js';
import {
  Kind,
  LEVELS,
  parseRequest,
  type Level,
  type CallMessage,
  type Outcome,
  type ReplyMessage,
  type RequestMessage,
  type RetrieveMessage,
  type StashMessage,
  type WrapperDescriptor,
} from '../wire/messages.js';
import { findFunction, importModule, needsImport } from './lookup.js';
import { deliver, reportError, writeStderr } from '../common/report.js';

/** Who holds a handle on a call: a remote thread (channel + reply id) or a local function. */
type Subscriber =
  | { readonly channel: Channel; readonly id: number; readonly lane?: boolean }
  | { readonly channel: null; readonly settle: (ok: boolean, value: unknown) => void };

/** A call the engine is running; it is also the call's context (its abort signal). */
export class CallRecord extends CallContext {
  /** Who gets the outcome; emptied once the call has settled. */
  subscribers: Subscriber[];
  /** Stash entries waiting for this call's outcome (made on first use: most calls have none). */
  entries: Set<StashEntry> | undefined;

  keep(entry: StashEntry): void {
    (this.entries ??= new Set()).add(entry);
  }
  settled = false;

  constructor(first: Subscriber) {
    super();
    this.subscribers = [first];
  }
}

/** The subscribers of a settled call. */
const NONE: Subscriber[] = [];

/** A stashed result: a pending call, or an outcome. */
interface StashEntry {
  record: CallRecord | undefined;
  outcome: Outcome | undefined;
  /** The channel of the thread that stashed it, or null for this thread. */
  readonly origin: Channel | null;
  /** For a result stashed in this thread: the handle itself, returned on retrieve here. */
  readonly handle: unknown;
}

/** How long one turn of the hot loop watches the doorbells, in ms. */
const WATCH_MS = 0.01;
/** The most calls one turn of the hot loop takes by watching after replies. */
const CHAIN_LIMIT = 64;
/**
 * After a lane reply the engine stays hot this many times {@link Engine.hotMs} longer, for
 * the caller's next call. It must outlast the time a caller that parked takes to wake
 * and call again (tens of microseconds, more on a busy machine): a reactor that has gone
 * cold by then makes that call slow too, the caller parks again, and so on, call after
 * call.
 */
const REPLY_HOT = 3;
/**
 * How often the engine looks for channels whose thread seems gone (see `reclaimIfIdle()`):
 * a channel quiet for a whole period is closed, so the residue of a terminated thread
 * lasts one to two periods.
 */
const SWEEP_MS = 5000;
/**
 * A lane call that ran longer than this (ms), and whose caller parked meanwhile, is not
 * followed by a hot wait for the caller's next call. That call comes only once the caller
 * has woken (tens of microseconds); waiting for it hot costs about the CPU time it saves in
 * wall time, which against a call this long is a few percent either way (measured with
 * Prettier: 2.5 % more CPU time for no gain in wall time). A thread that sleeps in its event
 * loop, as a plain worker does, is the cheaper way.
 */
const LONG_CALL_MS = 0.5;
/** Calls further apart than this (ms) are sparse: keeping hot for them is a waste. */
const SPARSE_MS = 1;
/**
 * How much reactor output (characters of text, or bytes) the thread that called setup()
 * may have not yet written out before reactor code's writes wait for it.
 */
const OUTPUT_LIMIT = 16 * 1024 * 1024;
/** Once output is being dropped, it flows again when what is not yet written out is down to this. */
const OUTPUT_RESUME = 4 * 1024 * 1024;
/** How long a write waits for the application to take any output in before it is dropped, in ms. */
const OUTPUT_STALL_MS = 1000;
/** How often a waiting write looks again, in ms. */
const OUTPUT_LOOK_MS = 20;
/** The longest delay a timer can hold (2^31 - 1 ms, about 24.8 days); longer ones would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const settled = Promise.resolve();

export class Channel {
  readonly #engine: Engine;
  readonly #endpoint: Endpoint;
  /** The channel's box: its lane, its flags, its stop record (and its ring, if any). */
  readonly sig: Int32Array;
  readonly #queue: RequestMessage[] = [];
  /** The wrappers this channel's caller has named, by the caller's numbers for them. */
  readonly #wrappers = new Map<number, WrapperDescriptor>();
  /** The functions found for them. */
  readonly #functions = new Map<number, (...args: unknown[]) => unknown>();
  /**
   * Calls this channel holds a handle on, by the channel's id for them; the latest lane
   * call is kept apart (most calls are lane calls, one at a time), see `#laneCall`.
   */
  readonly #active = new Map<number, CallRecord>();
  /** The ids in `#active` of calls whose caller blocks until they end (`waitFor` calls). */
  readonly #blocking = new Set<number>();
  /** The latest lane call, while it runs, its id, and when it started (performance.now()). */
  #laneCall: CallRecord | undefined;
  #laneCallId = 0;
  #laneCallStarted = 0;
  #closed = false;
  /** Messages received from the caller (it counts those it posted in CH_SENT). */
  #received = 0;
  /** The channel's direct lane, and the id of the last lane request taken. */
  readonly #lane: Lane | undefined;
  #laneSeen = 0;
  readonly #onClose: ((channel: Channel) => void) | undefined;
  /**
   * Stashed results handed over by Retrieve requests (by request id), until the caller
   * says whether it kept them; `reply` is undefined for the stashing thread's own.
   */
  readonly #handedOver = new Map<number, { stashId: string; entry: StashEntry; reply: number | undefined }>();

  constructor(
    engine: Engine,
    endpoint: Endpoint,
    sig: Int32Array,
    keepAlive: boolean,
    onClose?: (channel: Channel) => void,
  ) {
    this.#engine = engine;
    this.#endpoint = endpoint;
    this.sig = sig;
    this.#onClose = onClose;
    this.#lane = Lane.fits(sig) ? new Lane(sig) : undefined;
    this.ports = endpoint.flush === undefined;
    endpoint.listen((message) => {
      try {
        this.#take(message);
      } catch (error) {
        // Nothing a caller sends may end the reactor's thread (the application's, after noSetup()).
        reportError('crochet failed to take in a message from a calling thread', error);
      }
      engine.keepHot();
    }, keepAlive);
  }

  /** Whether this channel is a port (it can move buffers and ports), not a ring. */
  readonly ports: boolean;

  #take(data: unknown): void {
    if (this.#closed) return;
    this.#received++;
    // A lane request written before this message was posted goes first. (The caller
    // counts the messages it posted; the lane request says how many it followed.)
    this.#takeLane(this.#received - 1);
    const message = data instanceof Undecodable ? undefined : parseRequest(data);
    if (data instanceof Undecodable) {
      // A message that could not be decoded here (nested too deeply, say): the caller
      // fails the call it carried, which it knows by the message's number.
      this.answer({ k: Kind.Lost, seq: this.#received, error: encodeFailure(data.error) });
    } else if (message === undefined) {
      trace('ignored a malformed message on a channel');
    } else if (message.k === Kind.Space) {
      // The caller made room in its ring: write what waited, and wake it to read on.
      if (this.#endpoint.flush?.() === true) {
        Atomics.add(this.sig, CH_POSTED, 1);
        this.#wake();
      }
    } else if (message.k !== Kind.Poke) {
      this.#queue.push(message);
    }
    this.#takeLane(this.#received);
    this.#pump();
  }

  /**
   * Takes the lane's request, if there is a new one that follows at most `received`
   * messages: runs it at once when nothing waits ahead of it, or queues it. Returns
   * whether it took one.
   */
  #takeLane(received = this.#received): boolean {
    const lane = this.#lane;
    if (lane === undefined) return false;
    const id = lane.requestId();
    if (id === this.#laneSeen || lane.requestAfter() > received) return false;
    this.#laneSeen = id;
    const fn = lane.requestFn();
    let args: unknown[];
    try {
      args = lane.readArgs(id);
    } catch (error) {
      // Arguments that cannot be read fail their call, which would otherwise wait forever.
      this.send(id, false, encodeFailure(error));
      return true;
    }
    const known = this.#queue.length === 0 ? this.#functions.get(fn) : undefined;
    if (known === undefined) this.#queue.push({ k: Kind.Call, id, fn, args, lane: true });
    else this.#start(id, known, args, true);
    return true;
  }

  /** Takes in the messages waiting on the endpoint, without the event loop. Returns how many. */
  poll(): number {
    if (this.#closed) return 0;
    let count = 0;
    // Look at the port only when the caller posted something not taken in yet. (Broadcast
    // channels deliver only through the event loop: then this reads nothing.)
    if (Atomics.load(this.sig, CH_SENT) !== this.#received) {
      // A goodbye taken in this loop closes the channel: stop reading it then.
      while (!this.#closed) {
        const received = this.#endpoint.receive();
        if (received === undefined) break;
        count++;
        this.#take(received.message);
      }
    }
    if (this.#takeLane()) {
      count++;
      this.#pump();
    }
    return count;
  }

  /** Whether the caller sent something not taken in yet. */
  get rang(): boolean {
    return (
      Atomics.load(this.sig, CH_SENT) !== this.#received ||
      (this.#lane !== undefined && this.#lane.requestId() !== this.#laneSeen)
    );
  }

  /** What the caller did last, as the reactor can see it: lease, posts, lane requests. */
  #activity = '';

  /**
   * Closes a channel opened by the directory whose caller seems gone: its lease has not
   * moved since the last look, and nothing is under way. (A thread ended by `terminate()`
   * never says goodbye.) The caller finds the channel closed if it was only quiet, and opens
   * a new one. Returns whether it closed.
   *
   * Race with a caller that posts just now: this side marks the channel Closing, then looks
   * at the posts again; the caller posts, then looks at the state. One of them sees the
   * other: either this side reopens, or the caller knows its message was not taken.
   */
  reclaimIfIdle(): boolean {
    const box = this.sig;
    const lane = this.#lane;
    const activity = `${Atomics.load(box, CH_LEASE)}:${Atomics.load(box, CH_SENT)}:${lane?.requestId() ?? 0}`;
    const quiet = activity === this.#activity;
    this.#activity = activity;
    if (quiet && !this.#closed) this.#abandonBlockingCalls();
    if (
      !quiet ||
      this.#closed ||
      this.#active.size > 0 ||
      this.#laneCall !== undefined ||
      this.#queue.length > 0 ||
      Atomics.load(box, CH_SENT) !== this.#received ||
      (lane !== undefined && lane.requestId() !== this.#laneSeen) ||
      // Replies waiting for room in the ring. (Replies written but not read yet do not
      // keep the channel: they stay in the caller's box, where a thread that was only busy
      // reads them before it opens a new channel; a terminated thread never will.)
      this.#endpoint.flush?.() === true ||
      this.#engine.isOrigin(this)
    ) {
      return false;
    }
    // A caller that writes a lane request from now on must poke: then it posts, and counts.
    this.setHot(false);
    if (Atomics.compareExchange(box, CH_STATE, ChannelState.Ready, ChannelState.Closing) !== ChannelState.Ready) {
      return false;
    }
    if (Atomics.load(box, CH_SENT) !== this.#received || (lane !== undefined && lane.requestId() !== this.#laneSeen)) {
      Atomics.store(box, CH_STATE, ChannelState.Ready);
      Atomics.notify(box, CH_STATE);
      return false;
    }
    trace('closed a quiet channel whose thread seems gone');
    this.close();
    closeBox(box);
    return true;
  }

  /**
   * A caller blocked in a `waitFor` call says that it lives at every slice of its wait (a
   * few hundred ms): one that said nothing for a whole sweep period has gone (terminated in
   * the middle of the call). Its blocking calls are cancelled as if they had timed out
   * (their abort signals fire), and no longer keep the channel.
   */
  #abandonBlockingCalls(): void {
    const ids = [...this.#blocking];
    if (this.#laneCall !== undefined && !this.#laneCall.settled) ids.push(this.#laneCallId);
    if (ids.length > 0) trace('cancelled %d call(s) whose thread is gone', ids.length);
    for (const id of ids) {
      this.#cancel(id, true, new TimeoutError('The thread that made this call is gone (it ended while it waited)'));
    }
  }

  /** Tells the caller whether the engine is polling (so it need not poke). */
  setHot(hot: boolean): void {
    Atomics.store(this.sig, CH_HOT, hot ? Hot.Polling : Hot.Cold);
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const message = this.#queue.shift() as RequestMessage;
      if (message.k === Kind.Call) {
        if (message.wrapper !== undefined) this.#wrappers.set(message.fn, message.wrapper);
        const wrapper = this.#wrappers.get(message.fn);
        if (wrapper !== undefined && !this.#functions.has(message.fn) && needsImport(wrapper)) {
          this.#park(message, wrapper);
          continue;
        }
      }
      this.#handle(message);
    }
  }

  /**
   * Call `message` needs its module imported first: it waits for that import (shared with
   * every other call into the module), while this channel's other messages go on. Its
   * record exists at once, so that a `cancel()` or `stash()` sent after it finds it. The
   * caller hears that the call waits for an import, which its timeout does not count,
   * and when it no longer does. Calls into one module start in the order they were made.
   */
  #park(message: CallMessage, wrapper: WrapperDescriptor): void {
    const id = message.id;
    const record = this.#record(id, message.lane === true);
    Atomics.add(this.sig, CH_LOADING, 1);
    this.answer({ k: Kind.Loading, id, done: false });
    if (message.blocking === true && message.lane !== true) this.#blocking.add(id);
    void importModule(wrapper.module).then(() => {
      Atomics.sub(this.sig, CH_LOADING, 1);
      if (this.#closed || record.settled) return;
      try {
        this.#runParked(message, record, wrapper);
      } catch (error) {
        reportError('crochet failed to take in a message from a calling thread', error);
      }
    });
  }

  /** Runs a call that waited for its module's import. */
  #runParked(message: CallMessage, record: CallRecord, wrapper: WrapperDescriptor): void {
    this.answer({ k: Kind.Loading, id: message.id, done: true });
    const found = findFunction(wrapper);
    let fn: (...args: unknown[]) => unknown;
    if ('error' in found) {
      const error = found.error;
      fn = () => {
        throw error;
      };
    } else {
      fn = found.fn;
      this.#functions.set(message.fn, fn);
    }
    this.#engine.run(record, fn, message.args);
  }

  #handle(message: RequestMessage): void {
    switch (message.k) {
      case Kind.Call:
        this.#call(message);
        break;
      case Kind.Cancel:
        this.#cancel(message.id, message.timeout);
        break;
      case Kind.Stash:
        this.#stash(message);
        break;
      case Kind.Retrieve:
        this.#retrieve(message);
        break;
      case Kind.Retrieved:
        this.#retrieved(message.id, message.kept);
        break;
      case Kind.Goodbye:
        this.close();
        break;
      case Kind.Shutdown:
        void this.#engine.shutdown(message.timeout);
        break;
      case Kind.Report:
        this.#engine.emit('error', 2, message.text);
        break;
    }
  }

  #call(message: CallMessage): void {
    let fn = this.#functions.get(message.fn);
    if (fn === undefined) {
      const found = findFunction(this.#wrappers.get(message.fn) ?? { module: '<unknown>', index: -1, fingerprint: 0 });
      if ('error' in found) {
        this.send(message.id, false, encodeFailure(found.error));
        return;
      }
      fn = found.fn;
      this.#functions.set(message.fn, fn);
    }
    if (message.blocking === true && message.lane !== true) this.#blocking.add(message.id);
    this.#start(message.id, fn, message.args, message.lane === true);
  }

  /** Runs call `id` of `fn`; `lane`: whether its reply may go by the lane. */
  #start(id: number, fn: (...args: unknown[]) => unknown, args: readonly unknown[], lane: boolean): void {
    this.#engine.run(this.#record(id, lane), fn, args);
  }

  /** A new record for call `id` of this channel, findable by its id while it runs. */
  #record(id: number, lane: boolean): CallRecord {
    const record = new CallRecord(lane ? { channel: this, id, lane: true } : { channel: this, id });
    if (lane) {
      // The lane call before it may still run (its caller timed out): keep it findable.
      if (this.#laneCall !== undefined) {
        this.#active.set(this.#laneCallId, this.#laneCall);
        this.#blocking.add(this.#laneCallId);
      }
      this.#laneCall = record;
      this.#laneCallId = id;
      this.#laneCallStarted = performance.now();
    } else {
      this.#active.set(id, record);
    }
    return record;
  }

  #cancel(id: number, timeout: boolean, reason?: Error): void {
    const record = this.#activeCall(id);
    if (record === undefined) return;
    this.release(id);
    this.#engine.cancel(record, this, id, timeout, reason);
  }

  /** The call this channel holds a handle on under `id`, if it still runs. */
  #activeCall(id: number): CallRecord | undefined {
    return id === this.#laneCallId && this.#laneCall !== undefined ? this.#laneCall : this.#active.get(id);
  }

  /** Drops this channel's handle `id` (its call settled, or was cancelled here). */
  release(id: number): void {
    if (id === this.#laneCallId && this.#laneCall !== undefined) this.#laneCall = undefined;
    else this.#active.delete(id);
    this.#blocking.delete(id);
  }

  #stash(message: StashMessage): void {
    if (message.outcome !== undefined) {
      this.#engine.store(message.stashId, { record: undefined, outcome: message.outcome, origin: this, handle: null });
    } else {
      const record = message.call === undefined ? undefined : this.#activeCall(message.call);
      if (record === undefined || record.settled) {
        // The outcome is on its way to the caller already: it stashes the outcome instead.
        this.answer({ k: Kind.Answer, id: message.id, retry: true });
        return;
      }
      const entry: StashEntry = { record, outcome: undefined, origin: this, handle: null };
      record.keep(entry);
      this.#engine.store(message.stashId, entry);
    }
    this.answer({ k: Kind.Answer, id: message.id, found: true });
  }

  /**
   * Hands the result stashed under an id over to this channel's caller. Until the caller
   * says it kept it (it may have given up waiting, the reactor being busy), the entry stays
   * whole: the stashing thread keeps its handle, and a pending call keeps the entry up to
   * date; a caller that gave up gets it put back (see `#retrieved()`).
   */
  #retrieve(message: RetrieveMessage): void {
    const entry = this.#engine.take(message.stashId);
    if (entry === undefined) {
      this.answer({ k: Kind.Answer, id: message.id, found: false });
      return;
    }
    if (entry.origin === this) {
      this.#handedOver.set(message.id, { stashId: message.stashId, entry, reply: undefined });
      this.answer({ k: Kind.Answer, id: message.id, found: true, yours: true });
      return;
    }
    // A known outcome goes first, so that it is there when retrieveResult() returns (the
    // caller listens for the reply id before it asks).
    if (entry.outcome !== undefined) {
      this.sendOutcome(message.reply, entry.outcome);
    } else if (entry.record !== undefined) {
      entry.record.subscribers.push({ channel: this, id: message.reply });
      this.#active.set(message.reply, entry.record);
    }
    this.#handedOver.set(message.id, { stashId: message.stashId, entry, reply: message.reply });
    this.answer({ k: Kind.Answer, id: message.id, found: true });
  }

  /**
   * The caller kept what Retrieve request `id` handed over (the stashing thread may drop
   * its handle now), or gave up waiting for the answer: then the result is stashed again,
   * as it was, for a later retrieve (from that thread, or the stashing one).
   */
  #retrieved(id: number, kept: boolean): void {
    const handed = this.#handedOver.get(id);
    if (handed === undefined) return;
    this.#handedOver.delete(id);
    const { stashId, entry, reply } = handed;
    if (kept) {
      if (reply === undefined) entry.record?.entries?.delete(entry);
      else this.#engine.released(entry, stashId);
      return;
    }
    if (reply !== undefined) {
      // This caller no longer waits for the outcome under `reply`.
      const record = entry.record;
      if (record !== undefined && !record.settled) {
        const index = record.subscribers.findIndex((s) => s.channel === this && s.id === reply);
        if (index >= 0) record.subscribers.splice(index, 1);
      }
      this.release(reply);
    }
    this.#engine.store(stashId, entry);
    trace('put a stashed result back: its retrieve was given up');
  }

  /** Posts a reply, then bumps the counter (see the protocol's design note). */
  answer(message: ReplyMessage, transfer?: readonly Transferable[]): void {
    if (this.#closed) return;
    this.#endpoint.post(message, transfer, 'id' in message ? message.id : 0);
    Atomics.add(this.sig, CH_POSTED, 1);
    this.#wake();
  }

  /** Bumps the counter, and wakes the caller if it is parked (not spinning); returns whether it was. */
  #wake(): boolean {
    Atomics.add(this.sig, CH_COUNTER, 1);
    if (Atomics.load(this.sig, CH_PARKED) === 0) return false;
    Atomics.notify(this.sig, CH_COUNTER);
    return true;
  }

  /** Sends call `id`'s outcome: a value (moved if `transfer` lists buffers) or a failure. */
  send(id: number, ok: boolean, payload: unknown, transfer?: readonly Transferable[], lane = false): void {
    if (this.#closed) return;
    // A value the lane carries, for the caller's latest lane request, goes back by the
    // lane (unless buffers in it are to be moved).
    if (
      ok &&
      lane &&
      this.#lane !== undefined &&
      (transfer === undefined || transfer.length === 0) &&
      this.#lane.requestId() === id &&
      this.#lane.writeReply(id, payload)
    ) {
      // A caller that had parked for a long call is a wake-up away from its next call:
      // waiting hot for that would cost about as much CPU time as it saves.
      const parked = this.#wake();
      this.#engine.replied(parked && performance.now() - this.#laneCallStarted > LONG_CALL_MS);
      return;
    }
    try {
      if (ok) this.answer({ k: Kind.Success, id, value: payload }, transfer);
      else this.answer({ k: Kind.Failure, id, error: payload as WireValue });
    } catch (error) {
      try {
        this.answer({
          k: Kind.Failure,
          id,
          error: encodeFailure(dataCloneError(ok ? 'The result' : 'The error thrown', error)),
        });
      } catch (again) {
        reportError(`crochet could not send the outcome of a call to its thread`, again);
      }
    }
  }

  sendOutcome(id: number, outcome: Outcome): void {
    if (outcome.ok) this.send(id, true, outcome.value);
    else this.send(id, false, outcome.error);
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    // Results handed over that the caller never said it kept (it went away waiting for
    // them) are stashed again.
    for (const id of [...this.#handedOver.keys()]) this.#retrieved(id, false);
    this.#closed = true;
    this.#endpoint.close();
    this.#engine.forget(this);
    this.#onClose?.(this);
  }
}

export class Engine {
  readonly #control: Int32Array;
  readonly #channels = new Set<Channel>();
  /** The channels opened through the directory, which are closed when their thread seems gone. */
  readonly #opened = new Set<Channel>();
  #sweep: ReturnType<typeof setInterval> | undefined;
  readonly #stash = new Map<string, StashEntry>();
  readonly #hooks: (() => unknown)[] = [];
  #logTo: Channel | undefined;
  #shutdown: Promise<void> | undefined;
  /** Until when (performance.now()) the engine polls its channels instead of sleeping. */
  #hotUntil = 0;
  #polling = false;
  #onStopped: (() => void) | undefined;

  /** `onStopped` runs once a shutdown has finished. */
  constructor(control: Int32Array, onStopped?: () => void) {
    this.#control = control;
    this.#onStopped = onStopped;
  }

  /**
   * Keeps the engine hot for a moment after a message: waking a thread that sleeps in
   * the event loop costs tens of microseconds, and a caller making call after call
   * sends the next one within a few. So for {@link Engine.hotMs} after the last message,
   * the loop does not sleep: it polls the channels between turns (timers and I/O still
   * run), then goes back to sleeping.
   */
  keepHot(): void {
    if (Engine.hotMs <= 0) return;
    // Polling would hold the core the callers need: messages wake the loop instead, and
    // after a lane reply the engine parks for the next call (see replied()).
    if (this.#contended()) return;
    if (this.#hotBackoff.skip()) return;
    const now = performance.now();
    if (this.#coldSince >= 0) {
      // The last hot spell caught nothing. It was a waste only if calls really come far
      // apart; a call that came soon after it merely missed it.
      if (now - this.#coldSince < SPARSE_MS) this.#hotBackoff.hit();
      else this.#hotBackoff.miss();
      this.#coldSince = -1;
    }
    this.#hotUntil = now + Engine.hotMs;
    this.#sawCall();
    if (this.#polling) {
      // A message while hot, even if the loop's own listener took it: hot pays.
      this.#caught = true;
      return;
    }
    this.#polling = true;
    this.#caught = false;
    for (const channel of this.#channels) channel.setHot(true);
    setImmediate(this.#poll);
  }

  /** How long the engine stays hot after a message, in ms (0: never). */
  static hotMs = 0.1;
  /**
   * After 4 hot spells in a row that caught nothing (calls come too far apart to gain),
   * the next 32 messages are taken without going hot.
   */
  readonly #hotBackoff = new Backoff(4, 32);
  /** When the last hot spell ended without catching anything (-1: it caught something). */
  #coldSince = -1;
  #caught = false;

  readonly #poll = (): void => {
    try {
      this.#pollTurn();
    } catch (error) {
      // Whatever went wrong, the engine must not stay marked as polling with nothing
      // scheduled: its callers would wait for a poll that never comes.
      reportError('crochet failed while it looked for calls', error);
      setImmediate(this.#poll);
    }
  };

  #pollTurn(): void {
    let found = 0;
    this.#chained = 0;
    for (const channel of this.#channels) found += channel.poll();
    if (found === 0) found = this.#watch();
    const now = performance.now();
    if (found > 0) {
      this.#hotUntil = Math.max(this.#hotUntil, now + Engine.hotMs);
      this.#caught = true;
      this.#sawCall();
    }
    if (now < this.#hotUntil) {
      setImmediate(this.#poll);
      return;
    }
    // Going cold: say so, then look once more, so that a caller that wrote to the lane
    // just before it saw the flag drop is not left unheard (it pokes when the flag is 0).
    for (const channel of this.#channels) channel.setHot(false);
    let rang = false;
    for (const channel of this.#channels) if (channel.rang) rang = true;
    if (rang) {
      for (const channel of this.#channels) channel.setHot(true);
      this.#hotUntil = now + Engine.hotMs;
      setImmediate(this.#poll);
      return;
    }
    this.#polling = false;
    // Adapt: when calls come too far apart for the hot spell to catch them, stop burning
    // CPU on it for a while (judged when the next call comes).
    if (this.#caught) this.#hotBackoff.hit();
    else this.#coldSince = now;
    // The same for the wait after a reply: it ended without the caller's next call.
    if (this.#awaitingNext) {
      this.#awaitingNext = false;
      this.#replyBackoff.miss();
    }
  }

  /** Whether the engine waits, hot, for the next call after a reply. */
  #awaitingNext = false;
  /** After 4 waits in a row that ended without a call, no wait after the next 32 replies. */
  readonly #replyBackoff = new Backoff(4, 32);

  /** A call (or any message) came in: the wait after the last reply, if any, paid off. */
  #sawCall(): void {
    if (!this.#awaitingNext) return;
    this.#awaitingNext = false;
    this.#replyBackoff.hit();
  }

  /** Calls taken in this turn of the loop by watching right after a reply. */
  #chained = 0;

  /** Whether a lane reply went out since the last look for the next call. */
  #replied = false;

  /**
   * A lane reply went out. The caller's next call usually comes within a microsecond or
   * two, sooner than this turn of the loop would end; so the engine watches for it right
   * after the reply (a bounded number of times per turn, so timers and I/O still get
   * theirs).
   */
  replied(long = false): void {
    // (On a contended machine the engine does not poll: it takes the next call when the
    // caller's poke wakes its loop, and leaves the core to the caller meanwhile. Nor after
    // a long call whose caller parked: see LONG_CALL_MS.)
    if (long || this.#contended()) return;
    this.#waitForNext();
  }

  /** After a lane reply, while polling: watch for the caller's next call a little longer. */
  #waitForNext(): void {
    if (!this.#polling) return;
    if (this.#chained < CHAIN_LIMIT) this.#replied = true;
    if (this.#replyBackoff.skip()) return;
    this.#awaitingNext = true;
    this.#hotUntil = Math.max(this.#hotUntil, performance.now() + Engine.hotMs * REPLY_HOT);
  }

  /** Whether the supervisor finds the machine contended (see supervisor/load.ts). */
  #contended(): boolean {
    return Atomics.load(this.#control, CTL_CONTENDED) === 1;
  }

  /** After a call settled in a microtask: watch for the next call if a lane reply went out. */
  #afterReply(): void {
    if (!this.#replied) return;
    this.#replied = false;
    this.#next();
  }

  readonly #next = (): void => {
    try {
      if (this.#watch() > 0) {
        this.#chained++;
        this.#sawCall();
      }
    } catch (error) {
      reportError('crochet failed while it looked for calls', error);
    }
  };

  /**
   * Watches the doorbells for a few microseconds without leaving this turn of the loop:
   * a caller making call after call rings again sooner than a turn of the loop takes.
   */
  #watch(): number {
    const until = performance.now() + WATCH_MS;
    do {
      for (let i = 0; i < 32; i++) {
        for (const channel of this.#channels) if (channel.rang) return channel.poll();
      }
    } while (performance.now() < until);
    return 0;
  }

  /** Sends records of reactor code to `channel` (the thread that called setup()). */
  logTo(channel: Channel): void {
    this.#logTo = channel;
  }

  /**
   * Passes one write of reactor code on to the thread that called setup(). When that
   * thread has more than {@link OUTPUT_LIMIT} of it not yet written out, the write waits
   * for it to catch up (backpressure); if it takes nothing in for {@link OUTPUT_STALL_MS},
   * the write is dropped, and so is what follows until it has caught up: then a line says
   * how much was dropped.
   */
  emit(level: Level, fd: 1 | 2, text: string | Uint8Array): void {
    const channel = this.#logTo;
    if (channel === undefined || channel.closed) {
      // No other thread to send it to: this thread is the application's (noSetup()).
      if (channel === undefined) deliver(level, fd, text);
      else writeStderr(text);
      return;
    }
    const box = channel.sig;
    const size = typeof text === 'string' ? text.length : text.byteLength;
    if (!this.#roomFor(channel, size)) {
      Atomics.add(box, CH_DROPPED, typeof text === 'string' ? Buffer.byteLength(text) : size);
      return;
    }
    this.#post(channel, level, fd, text, size);
  }

  #post(channel: Channel, level: Level, fd: 1 | 2, text: string | Uint8Array, size: number): void {
    try {
      channel.answer({ k: Kind.Log, level: LEVELS.indexOf(level), fd, text });
      Atomics.add(channel.sig, CH_OUTPUT, size);
    } catch {
      writeStderr(text);
    }
  }

  /** Whether reactor output is being dropped (the application took none in for too long). */
  #dropping = false;

  /** Waits until the thread that called setup() has room for `size` more output; false: drop it. */
  #roomFor(channel: Channel, size: number): boolean {
    const box = channel.sig;
    const outstanding = (): number => Atomics.load(box, CH_OUTPUT) + Atomics.load(box, CH_BACKLOG);
    let before = outstanding();
    if (this.#dropping) {
      if (before > OUTPUT_RESUME) return false;
      this.#dropping = false;
      const dropped = Atomics.exchange(box, CH_DROPPED, 0);
      if (dropped > 0) {
        const note = `crochet: output dropped: ${dropped} bytes that reactor code wrote were dropped, because the application took none of its output in for ${OUTPUT_STALL_MS} ms while ${OUTPUT_LIMIT / 1024 / 1024} MiB of it were waiting (its thread was blocked or busy, or nothing read its stdout)\n`;
        this.#post(channel, 'error', 2, note, note.length);
        before = outstanding();
      }
    }
    if (before === 0 || before + size <= OUTPUT_LIMIT) return true;
    // Backpressure, bounded: wait while the application takes output in.
    let until = performance.now() + OUTPUT_STALL_MS;
    for (;;) {
      Atomics.wait(box, CH_OUTPUT, Atomics.load(box, CH_OUTPUT), OUTPUT_LOOK_MS);
      if (channel.closed || Atomics.load(box, CH_STATE) !== ChannelState.Ready) return true;
      const now = performance.now();
      const current = outstanding();
      if (current === 0 || current + size <= OUTPUT_LIMIT) return true;
      if (current < before) {
        before = current;
        until = now + OUTPUT_STALL_MS;
      } else if (now >= until) {
        this.#dropping = true;
        return false;
      }
    }
  }

  /** Registers a shutdown hook. */
  addHook(hook: () => unknown): void {
    this.#hooks.push(hook);
    this.#countWork();
  }

  #countWork(): void {
    Atomics.store(this.#control, CTL_WORK, this.#hooks.length + this.#stash.size);
  }

  /**
   * Stops the reactor in order: runs the shutdown hooks (last registered first, all
   * within `timeout` ms), reports stashed failures nobody retrieved, then marks the
   * reactor stopped, which fails every pending call with `ReactorStoppedError`.
   */
  shutdown(timeout: number): Promise<void> {
    this.#shutdown ??= this.#stop(timeout);
    return this.#shutdown;
  }

  async #stop(timeout: number): Promise<void> {
    trace('shutting down: %d hook(s), %d ms at most', this.#hooks.length, timeout);
    const hooks = this.#hooks.splice(0).reverse();
    const deadline = performance.now() + timeout;
    for (let i = 0; i < hooks.length; i++) {
      // Each hook may use its share of the time left, so a stuck one cannot starve the rest.
      const budget = Math.max(0, (deadline - performance.now()) / (hooks.length - i));
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        Promise.resolve()
          .then(hooks[i])
          .then(
            () => 'done' as const,
            (error: unknown) => ({ error }),
          ),
        // A budget beyond what a timer can hold (Infinity, or more than about 24.8 days)
        // is no limit: the hook takes as long as it takes.
        new Promise<'late'>((resolve) => {
          if (budget > MAX_TIMER_MS) return;
          timer = setTimeout(() => {
            resolve('late');
          }, budget);
        }),
      ]);
      clearTimeout(timer);
      if (outcome === 'late') {
        reportError(`an onShutdown hook did not finish within its ${Math.round(budget)} ms; shutting down without it`);
      } else if (outcome !== 'done') {
        reportError('an onShutdown hook failed', outcome.error);
      }
    }
    for (const entry of this.#stash.values()) {
      if (entry.outcome !== undefined && !entry.outcome.ok) {
        reportError('a stashed result failed and was never retrieved', decodeThrown(entry.outcome.error));
      }
    }
    this.#stash.clear();
    this.#countWork();
    clearInterval(this.#sweep);
    markStopped(this.#control, encodeThrown(new Error('The reactor was shut down')), this.sigs(), false, true);
    trace('shut down');
    this.#onStopped?.();
  }

  /** Serves a new channel. `keepAlive`: whether it keeps this thread's loop alive. */
  addChannel(endpoint: Endpoint, sig: Int32Array, keepAlive: boolean): Channel {
    const channel = new Channel(this, endpoint, sig, keepAlive);
    Atomics.store(sig, CH_STATE, ChannelState.Ready);
    this.#channels.add(channel);
    return channel;
  }

  /**
   * Serves a channel that a thread opened through the directory: `box` is its shared
   * memory, `names` its broadcast channels; marks `answer` (the hello's box) ready.
   * `onClose` hears when the channel closes (its thread said goodbye).
   */
  openRing(
    names: ChannelNames,
    box: Int32Array,
    answer: SharedArrayBuffer,
    keepAlive: boolean,
    onClose?: (channel: Channel) => void,
  ): void {
    const channel = new Channel(this, reactorRingEndpoint(box, names), box, keepAlive, onClose);
    this.#channels.add(channel);
    this.#opened.add(channel);
    this.#sweep ??= setInterval(() => {
      for (const quiet of this.#opened) if (quiet.reclaimIfIdle()) this.#opened.delete(quiet);
    }, SWEEP_MS).unref();
    if (this.#polling) channel.setHot(true);
    Atomics.store(box, CH_STATE, ChannelState.Ready);
    settleAnswer(answer, Answer.Ready);
  }

  /** Every channel's notification counter, to wake them all. */
  sigs(): Int32Array[] {
    return [...this.#channels].map((channel) => channel.sig);
  }

  forget(channel: Channel): void {
    this.#channels.delete(channel);
    this.#opened.delete(channel);
  }

  /** Runs a call of `fn` in this thread for a local handle; returns its record. */
  runLocal(
    fn: (...args: unknown[]) => unknown,
    args: readonly unknown[],
    settle: (ok: boolean, value: unknown) => void,
  ): CallRecord {
    const record = new CallRecord({ channel: null, settle });
    this.run(record, fn, args);
    return record;
  }

  run(record: CallRecord, fn: (...args: unknown[]) => unknown, args: readonly unknown[]): void {
    let value: unknown;
    let then: unknown;
    try {
      value = runAsCall(record, fn, args);
      // Read once: a getter (or a Proxy's trap) runs once, and may throw.
      then = thenOf(value);
    } catch (error) {
      this.#settle(record, false, error);
      return;
    }
    if (typeof then === 'function') {
      try {
        (then as PromiseLike<unknown>['then']).call(
          value,
          (resolved: unknown) => {
            this.#settle(record, true, resolved);
            this.#afterReply();
          },
          (error: unknown) => {
            this.#settle(record, false, error);
          },
        );
      } catch (error) {
        // As `await` does: a `then` that throws rejects.
        this.#settle(record, false, error);
      }
    } else {
      this.#settle(record, true, value);
      // Watching for the next call must wait for a microtask here (see replied()).
      if (this.#replied) {
        this.#replied = false;
        void settled.then(this.#next);
      }
    }
  }

  #settle(record: CallRecord, ok: boolean, value: unknown): void {
    if (record.settled) return;
    record.settled = true;
    let remote: Channel | undefined;
    let remotes = 0;
    for (const subscriber of record.subscribers) {
      if (subscriber.channel === null) continue;
      remote = subscriber.channel;
      remotes++;
    }
    const entries = record.entries?.size ?? 0;
    const kept = entries > 0 || record.subscribers.length > 1;
    let transfer: Transferable[] | undefined;
    if (ok && typeof value === 'object' && value !== null && isMarked(value)) {
      const list: Transferable[] = [];
      takeTransfer(value, list);
      // Only one thread gets this value: the objects marked with transfer() can move.
      const moving = remotes === 1 && !kept ? remote : undefined;
      try {
        checkTransferList(list, moving?.ports ?? true);
        if (moving !== undefined) transfer = list;
      } catch (error) {
        ok = false;
        value = dataCloneError('The transfer() list of the result', error);
      }
    }
    const payload: unknown = !ok && (remotes > 0 || entries > 0) ? encodeFailure(value) : value;
    for (const subscriber of record.subscribers) {
      try {
        if (subscriber.channel === null) {
          subscriber.settle(ok, value);
        } else {
          subscriber.channel.release(subscriber.id);
          subscriber.channel.send(subscriber.id, ok, payload, transfer, subscriber.lane === true);
        }
      } catch (error) {
        reportError('crochet could not deliver the outcome of a call', error);
      }
    }
    record.subscribers = NONE;
    if (record.entries === undefined) return;
    for (const entry of record.entries) {
      entry.record = undefined;
      entry.outcome = keepable(ok, value, payload);
    }
    record.entries = undefined;
  }

  /**
   * One subscriber gave up on `record` (`cancel()` or a `waitFor` timeout). The call is
   * cancelled: its signal aborts, and every other holder gets a `CancelledError`.
   */
  cancel(
    record: CallRecord,
    holder: Channel | ((ok: boolean, value: unknown) => void),
    id: number,
    timeout: boolean,
    reason?: Error,
  ): void {
    const index = record.subscribers.findIndex((s) =>
      s.channel === null ? s.settle === holder : s.channel === holder && s.id === id,
    );
    if (index >= 0) record.subscribers.splice(index, 1);
    if (record.settled) return;
    reason ??= timeout
      ? new TimeoutError('The caller stopped waiting: its waitFor() timeout ran out')
      : new CancelledError('The result was cancelled with cancel() before it was known');
    record.abort(reason);
    // A timeout leaves no other holder (waitFor calls have no handle); a cancel() tells
    // every other holder that the call is cancelled.
    if (timeout) record.settled = true;
    else this.#settle(record, false, reason);
  }

  /** Whether results stashed through `channel` are still kept (its thread would get its own handle back). */
  isOrigin(channel: Channel): boolean {
    for (const entry of this.#stash.values()) if (entry.origin === channel) return true;
    return false;
  }

  store(stashId: string, entry: StashEntry): void {
    this.#stash.set(stashId, entry);
    this.#countWork();
  }

  take(stashId: string): StashEntry | undefined {
    const entry = this.#stash.get(stashId);
    if (entry !== undefined) {
      this.#stash.delete(stashId);
      this.#countWork();
    }
    return entry;
  }

  /** A thread other than the stashing one took `entry`: the stasher drops its own reference. */
  released(entry: StashEntry, stashId: string): void {
    entry.record?.entries?.delete(entry);
    if (entry.origin === null) this.#onLocalRelease?.(stashId);
    else entry.origin.answer({ k: Kind.Unstash, stashId });
  }

  #onLocalRelease: ((stashId: string) => void) | undefined;

  /** Tells this thread's result store when a result it stashed was retrieved elsewhere. */
  onLocalRelease(callback: (stashId: string) => void): void {
    this.#onLocalRelease = callback;
  }

  /** Stashes a result of this thread: a pending record, or an outcome. */
  stashLocal(stashId: string, handle: unknown, record: CallRecord | undefined, outcome: Outcome | undefined): void {
    const entry: StashEntry = { record, outcome, origin: null, handle };
    record?.keep(entry);
    this.store(stashId, entry);
  }

  /**
   * Retrieves a stash entry for this thread: its own handle, or a pending record to
   * subscribe to, or an outcome.
   */
  retrieveLocal(
    stashId: string,
  ):
    | { readonly kind: 'unknown' }
    | { readonly kind: 'own'; readonly handle: unknown }
    | { readonly kind: 'outcome'; readonly ok: boolean; readonly value: unknown }
    | { readonly kind: 'pending'; readonly record: CallRecord } {
    const entry = this.take(stashId);
    if (entry === undefined) return { kind: 'unknown' };
    if (entry.origin === null) {
      entry.record?.entries?.delete(entry);
      return { kind: 'own', handle: entry.handle };
    }
    this.released(entry, stashId);
    if (entry.outcome !== undefined) {
      return entry.outcome.ok
        ? { kind: 'outcome', ok: true, value: entry.outcome.value }
        : { kind: 'outcome', ok: false, value: decodeThrown(entry.outcome.error) };
    }
    return { kind: 'pending', record: entry.record as CallRecord };
  }

  /** Adds a local handle to a pending record. */
  subscribeLocal(record: CallRecord, settle: (ok: boolean, value: unknown) => void): void {
    record.subscribers.push({ channel: null, settle });
  }
}

/** An outcome as the stash keeps it: values as they are, failures taken apart. */
function keepable(ok: boolean, value: unknown, payload: unknown): Outcome {
  if (ok) return { ok: true, value };
  return { ok: false, error: payload === value ? encodeFailure(value) : (payload as WireValue) };
}

/** The `then` of `value` if it may have one (read once: it may be a getter, or a trap). */
function thenOf(value: unknown): unknown {
  return (typeof value === 'object' || typeof value === 'function') && value !== null
    ? (value as { then?: unknown }).then
    : undefined;
}
