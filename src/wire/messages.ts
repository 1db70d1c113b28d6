/**
 * The wire protocol between caller threads and the reactor.
 *
 * Design note. Every caller thread owns one *channel*: a `MessagePort` to the reactor
 * and a `SharedArrayBuffer` holding a notification counter (and the direct lane). A
 * caller posts a request on its port, then parks in `Atomics.wait` on the counter. The
 * reactor posts the reply on the same port *first* and bumps the counter *second*, so a
 * caller that reads the counter, drains its port, and then waits for the counter to move
 * can never miss a reply (the esbuild#590 race). Requests carry ids that are never reused; a reply
 * whose id nobody waits for any more (after a timeout or `cancel()`) is dropped, so a
 * late reply never reaches a later call.
 *
 * A second shared buffer, the *control block*, is one per reactor. It holds the
 * reactor's life-cycle state and, once it has stopped, why (a serialized error). Both
 * the reactor and its supervisor (a small thread whose event loop is always free, so
 * it sees the reactor die even of out-of-memory) can mark it stopped; whoever marks it
 * bumps every channel's counter, so every blocked caller wakes at once.
 */
import { deserialize, serialize } from 'node:v8';
import type { MessagePort, ResourceLimits } from 'node:worker_threads';
import { BroadcastChannel } from 'node:worker_threads';
import type { WireValue } from './codec.js';
import { channelNames } from './endpoint.js';
import { LANE_BYTES } from './lane.js';

// ---- channel: the caller thread's shared buffer -------------------------------------
// Int32 indexes 1, 4, 5 and 64 are the protocol's; the rest is the direct lane's (see
// lane.ts for the layout).

/**
 * Index of the notification counter in a channel's buffer. Only ever incremented. It
 * sits in the lane's reply line: a lane reply writes its id and bumps it together.
 */
export const SIG_COUNTER = 64;
/**
 * Index of the request doorbell: bumped by the caller after each request it posts (never
 * waited on). A hot reactor polls it, which is far cheaper than polling the port.
 */
export const SIG_REQUESTS = 1;
/**
 * Index of the flag a caller sets while it is parked in `Atomics.wait`. The reactor
 * wakes it (`Atomics.notify`) only then; a caller that spins sees the counter move.
 */
export const SIG_PARKED = 4;
/**
 * Index of the reply doorbell: bumped after every message posted to the caller, before
 * the counter. A caller reads its port only when this moved, since most replies come by
 * the lane.
 */
export const SIG_POSTED = 5;
/** Byte length of a channel's shared buffer. */
export const SIG_BYTES = LANE_BYTES;

// ---- control block: one per reactor ------------------------------------------------

export { CTL_STATE, State } from './layout.js';
import { CTL_STATE, State } from './layout.js';

/** Index of the byte length of the serialized stop cause. */
export const CTL_CAUSE_LENGTH = 1;
/**
 * Index of the amount of work a shutdown has to do in the reactor: registered
 * `onShutdown` hooks plus stashed results. While it is 0, an exiting process need not
 * wait for the reactor.
 */
export const CTL_WORK = 2;
/** Index of a flag: 1 once the reactor stopped because it was shut down (not by dying). */
export const CTL_SHUT_DOWN = 3;
/** Byte offset of the serialized stop cause. */
const CTL_CAUSE_OFFSET = 16;
/** Room for the stop cause; a larger cause is cut down to its message. */
const CTL_CAUSE_CAPACITY = 32 * 1024;
/** Byte length of a control block. */
export const CTL_BYTES = CTL_CAUSE_OFFSET + CTL_CAUSE_CAPACITY;

/**
 * Marks the reactor stopped with `cause` and wakes every channel. Only the first
 * caller writes its cause; later ones change nothing. `force` lets the supervisor
 * finish a stop whose writer died half-way; `shutDown` says it was an orderly stop.
 */
export function markStopped(
  control: Int32Array,
  cause: WireValue,
  channels: Iterable<Int32Array>,
  force = false,
  shutDown = false,
): void {
  for (;;) {
    const state = Atomics.load(control, CTL_STATE);
    if (state === State.Stopped) return;
    if (state === State.Stopping && !force) return;
    if (Atomics.compareExchange(control, CTL_STATE, state, State.Stopping) === state) break;
  }
  writeCause(control, cause);
  if (shutDown) Atomics.store(control, CTL_SHUT_DOWN, 1);
  Atomics.store(control, CTL_STATE, State.Stopped);
  Atomics.notify(control, CTL_STATE);
  for (const sig of channels) {
    Atomics.add(sig, SIG_COUNTER, 1);
    Atomics.notify(sig, SIG_COUNTER);
  }
}

function writeCause(control: Int32Array, cause: WireValue): void {
  let bytes: Uint8Array;
  try {
    bytes = serialize(cause);
  } catch {
    bytes = serialize({ v: 'The reactor stopped (its cause could not be recorded)' });
  }
  if (bytes.byteLength > CTL_CAUSE_CAPACITY) {
    bytes = serialize({ v: 'The reactor stopped (its cause was too large to record)' });
  }
  new Uint8Array(control.buffer, CTL_CAUSE_OFFSET, bytes.byteLength).set(bytes);
  Atomics.store(control, CTL_CAUSE_LENGTH, bytes.byteLength);
}

/** Reads the stop cause of a stopped reactor, or `undefined` if none was written. */
export function readCause(control: Int32Array): WireValue | undefined {
  const length = Atomics.load(control, CTL_CAUSE_LENGTH);
  if (length === 0) return undefined;
  // deserialize() needs an unshared copy.
  const bytes = new Uint8Array(length);
  bytes.set(new Uint8Array(control.buffer, CTL_CAUSE_OFFSET, length));
  return deserialize(bytes) as WireValue;
}

// ---- messages ------------------------------------------------------------------------

/** Message kinds. */
export const Kind = {
  /** caller → reactor: run a wrapped function. */
  Call: 0,
  /** caller → reactor: the caller gave up on a call (cancel() or a waitFor timeout). */
  Cancel: 1,
  /** reactor → caller: a call succeeded. */
  Success: 2,
  /** reactor → caller: a call failed. */
  Failure: 3,
  /** caller → reactor: keep a result under a stash id (answered). */
  Stash: 4,
  /** caller → reactor: hand over the result stashed under an id (answered). */
  Retrieve: 5,
  /** reactor → caller: the answer to a Stash or Retrieve. */
  Answer: 6,
  /** reactor → caller: another thread retrieved a result this one stashed. */
  Unstash: 7,
  /** reactor → caller: the channel is open; requests sent from now on arrive. */
  Ready: 8,
  /** any thread → directory: open a channel for me. */
  Hello: 9,
  /** directory → caller: a reactor exists; here is its control block. */
  Welcome: 10,
  /** caller → reactor: this thread is ending; close its channel. */
  Goodbye: 11,
  /** reactor → the thread that called setup(): something reactor code wrote. */
  Log: 12,
  /** caller → reactor: run the shutdown hooks, then stop. */
  Shutdown: 13,
  /** caller → reactor: a report of the caller's, for the thread that called setup(). */
  Report: 14,
  /** caller → reactor: a request waits in the direct lane (wakes a reactor that is not hot). */
  Poke: 15,
} as const;

/** Levels of a {@link LogMessage}, as logger method names. */
export const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type Level = (typeof LEVELS)[number];

/** Caller → reactor: run wrapper number `index` of module `module` with `args`. */
export interface CallMessage {
  readonly k: typeof Kind.Call;
  readonly id: number;
  /** The channel's number for the wrapper; its first call also carries `wrapper`. */
  readonly fn: number;
  readonly wrapper?: WrapperDescriptor;
  readonly args: readonly unknown[];
  /** Set by the reactor for a call that came by the direct lane (its reply may go back by it). */
  readonly lane?: true;
}

/** Caller → reactor: look at the direct lane, for the request with this id. */
export interface PokeMessage {
  readonly k: typeof Kind.Poke;
  readonly id: number;
}

/** Where a wrapped function comes from: enough for the reactor to find it. */
export interface WrapperDescriptor {
  /** The module that created the wrapper: a file URL (ESM) or an absolute path (CommonJS). */
  readonly module: string;
  /** The wrapper's position among the wrappers that module created. */
  readonly index: number;
  /** A hash of the wrapped function's source, to catch a mismatched wrapper. */
  readonly fingerprint: number;
}

/** Caller → reactor: this caller stopped waiting for `id` and has settled it. */
export interface CancelMessage {
  readonly k: typeof Kind.Cancel;
  readonly id: number;
  /** True when a `waitFor` timeout caused the cancellation. */
  readonly timeout: boolean;
}

/** An outcome kept or sent as data: a value, or a failure taken apart. */
export type Outcome =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: WireValue };

/** Caller → reactor: keep call `call`'s outcome (or `outcome`, known already) under `stashId`. */
export interface StashMessage {
  readonly k: typeof Kind.Stash;
  readonly id: number;
  readonly stashId: string;
  readonly call?: number;
  readonly outcome?: Outcome;
}

/** Caller → reactor: hand over `stashId`, delivering its outcome under reply id `reply`. */
export interface RetrieveMessage {
  readonly k: typeof Kind.Retrieve;
  readonly id: number;
  readonly stashId: string;
  readonly reply: number;
}

export interface GoodbyeMessage {
  readonly k: typeof Kind.Goodbye;
}

/** Reactor → caller: call `id` succeeded. */
export interface SuccessMessage {
  readonly k: typeof Kind.Success;
  readonly id: number;
  readonly value: unknown;
}

/** Reactor → caller: call `id` failed. */
export interface FailureMessage {
  readonly k: typeof Kind.Failure;
  readonly id: number;
  readonly error: WireValue;
}

/**
 * Reactor → caller: answer to request `id`. `found: false`: unknown stash id. `retry`:
 * the call's outcome was sent already; take it in and stash it as an outcome. `yours`:
 * this thread stashed it; use its own handle.
 */
export interface AnswerMessage {
  readonly k: typeof Kind.Answer;
  readonly id: number;
  readonly found?: boolean;
  readonly retry?: boolean;
  readonly yours?: boolean;
}

export interface UnstashMessage {
  readonly k: typeof Kind.Unstash;
  readonly stashId: string;
}

export interface ReadyMessage {
  readonly k: typeof Kind.Ready;
}

/** Any thread → directory, on the directory broadcast channel. */
export interface HelloMessage {
  readonly k: typeof Kind.Hello;
  /** Base name of the channel's two broadcast channels ({@link channelNames}). */
  readonly name: string;
  readonly sig: Int32Array;
}

/** Directory → caller, on the caller's broadcast channel. */
export interface WelcomeMessage {
  readonly k: typeof Kind.Welcome;
  readonly control: Int32Array;
}

/** Reactor → the thread that called setup(): one write of reactor code. */
export interface LogMessage {
  readonly k: typeof Kind.Log;
  /** Index in {@link LEVELS}. */
  readonly level: number;
  /** 1: it went to stdout; 2: to stderr. */
  readonly fd: 1 | 2;
  /** Exactly what was written, trailing newline included. */
  readonly text: string;
}

/** Caller → reactor: stop, giving the shutdown hooks at most `timeout` ms in all. */
export interface ShutdownMessage {
  readonly k: typeof Kind.Shutdown;
  readonly timeout: number;
}

/** Caller → reactor: an error-level report to pass on to the thread that called setup(). */
export interface ReportMessage {
  readonly k: typeof Kind.Report;
  readonly text: string;
}

export type RequestMessage =
  | CallMessage
  | CancelMessage
  | StashMessage
  | RetrieveMessage
  | GoodbyeMessage
  | ShutdownMessage
  | ReportMessage
  | PokeMessage;
export type ReplyMessage =
  LogMessage | SuccessMessage | FailureMessage | AnswerMessage | UnstashMessage | ReadyMessage | WelcomeMessage;

/** Name of the process-wide broadcast channel on which threads look for the reactor. */
export const DIRECTORY = 'crochet:directory:v1';
/** Key of the environment data that tells threads created later where the reactor is. */
export const ENVIRONMENT_KEY = 'crochet:reactor:v1';

/** What threads created after `setup()`/`noSetup()` inherit (`getEnvironmentData`). */
export interface ReactorHint {
  readonly control: Int32Array;
  /** How long callers spin before parking, in ms (the `spin` option of setup()). */
  readonly spin: number;
}

/** What the supervisor thread is started with. */
export interface SupervisorData {
  readonly control: Int32Array;
  /** The creating thread's channel: its port and notification counter. */
  readonly port: MessagePort;
  readonly sig: Int32Array;
  /** URL of the reactor's entry module. */
  readonly reactorEntry: string;
  /** How long the reactor stays hot after a message, in ms (the `hot` option of setup()). */
  readonly hot: number;
  /** The reactor thread's resource limits (the `resourceLimits` option of setup()). */
  readonly resourceLimits?: ResourceLimits;
}

/** What the reactor thread is started with. */
export interface ReactorData {
  readonly control: Int32Array;
  readonly port: MessagePort;
  readonly sig: Int32Array;
  readonly hot: number;
}

/** Supervisor → reactor: open a broadcast channel for a thread that said hello. */
export interface OpenChannel {
  readonly name: string;
  readonly sig: Int32Array;
}

/** Answers a hello: tells the thread where the reactor's control block is. */
export function welcome(hello: HelloMessage, control: Int32Array): void {
  const message: WelcomeMessage = { k: Kind.Welcome, control };
  const reply = new BroadcastChannel(channelNames(hello.name).toCaller);
  reply.postMessage(message);
  reply.close();
  Atomics.add(hello.sig, SIG_POSTED, 1);
  Atomics.add(hello.sig, SIG_COUNTER, 1);
  Atomics.notify(hello.sig, SIG_COUNTER);
}
