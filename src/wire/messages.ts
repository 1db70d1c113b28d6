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
import type { MessagePort, ResourceLimits } from 'node:worker_threads';
import type { WireValue } from './codec.js';

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
  /** caller → reactor: the caller read the ring and made room in it. */
  Space: 8,
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
  /** reactor → caller: a call waits for its module's import (or no longer does). */
  Loading: 16,
  /** reactor → caller: a message of the caller's could not be decoded (its call fails). */
  Lost: 17,
  /** caller → reactor: the caller kept what a Retrieve handed over, or gave up waiting for it. */
  Retrieved: 18,
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
  /**
   * Set for a `waitFor` call: its caller blocks until it ends, and so says that it lives
   * (CH_LEASE) every few hundred ms. (Lane calls are all such calls.)
   */
  readonly blocking?: true;
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
  /** The wrapped function's name, for messages (absent or empty: anonymous). */
  readonly name?: string;
  /** The line of the module where the wrapper was created, for messages (0: unknown). */
  readonly line?: number;
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

/**
 * Caller → reactor: what Retrieve request `id` handed over was `kept` (the caller got the
 * answer in time), or not (it gave up waiting: the reactor puts the result back).
 */
export interface RetrievedMessage {
  readonly k: typeof Kind.Retrieved;
  readonly id: number;
  readonly kept: boolean;
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

/**
 * Reactor → caller: the caller's message number `seq` on this channel (counted as
 * `CH_SENT` counts them) could not be decoded in the reactor; `error` says why.
 */
export interface LostMessage {
  readonly k: typeof Kind.Lost;
  readonly seq: number;
  readonly error: WireValue;
}

export interface UnstashMessage {
  readonly k: typeof Kind.Unstash;
  readonly stashId: string;
}

export interface SpaceMessage {
  readonly k: typeof Kind.Space;
}

/** Reactor → the thread that called setup(): one write of reactor code. */
export interface LogMessage {
  readonly k: typeof Kind.Log;
  /** Index in {@link LEVELS}. */
  readonly level: number;
  /** 1: it went to stdout; 2: to stderr. */
  readonly fd: 1 | 2;
  /**
   * Exactly what was written, trailing newline included: text, or bytes (a `Buffer`, a
   * `Uint8Array`, or a string written with another encoding than UTF-8).
   */
  readonly text: string | Uint8Array;
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
  | RetrievedMessage
  | GoodbyeMessage
  | ShutdownMessage
  | ReportMessage
  | PokeMessage
  | SpaceMessage;
/**
 * Reactor → caller: call `id` waits until the reactor has imported its module (`done`:
 * it no longer does). That time is start-up, not the call's own: see
 * `setup({ startupTimeout })`.
 */
export interface LoadingMessage {
  readonly k: typeof Kind.Loading;
  readonly id: number;
  readonly done: boolean;
}

export type ReplyMessage =
  LogMessage | SuccessMessage | FailureMessage | AnswerMessage | UnstashMessage | LoadingMessage | LostMessage;

/** Key of the environment data that tells threads created later that a reactor exists. */
export const ENVIRONMENT_KEY = 'crochet:reactor:v2';

/**
 * What threads created after `setup()`/`noSetup()` inherit (`getEnvironmentData`): a hint
 * that a reactor exists, so that they wait for its answer longer before concluding there
 * is none. It carries nothing that reaches the reactor.
 */
export interface ReactorHint {
  /** The reactor's control block, to tell whether it still runs. */
  readonly control: Int32Array;
  /** How long callers spin before parking, in ms (the `spin` option of setup()). */
  readonly spin: number;
}

/** What the supervisor thread is started with. */
export interface SupervisorData {
  readonly control: Int32Array;
  /** The starting thread's box (and, when the supervisor starts the reactor, its port). */
  readonly box: Int32Array;
  readonly port?: MessagePort;
  /** The starting thread's id. */
  readonly starter: number;
  /** A reactor the starting thread started beside the supervisor: a port to it, and its thread id. */
  readonly reactor?: { readonly port: MessagePort; readonly threadId: number };
  /** Whether to boot the reactor while the election runs (the main thread's setup()). */
  readonly speculative: boolean;
  /**
   * The answer box of a hello the starting thread posted as it started the supervisor: if a
   * reactor already serves, its answer there beats this one's election.
   */
  readonly asked?: SharedArrayBuffer;
  /** When that hello was posted (`Date.now()`). */
  readonly askedAt?: number;
  /** Whether crochet was bundled into an application (see {@link ReactorData.bundled}). */
  readonly bundled?: true;
  /** Then the application's arguments, for the reactor thread it starts from that bundle. */
  readonly argv?: readonly string[];
  /** URL of the reactor's entry module. */
  readonly reactorEntry: string;
  /** How long the reactor stays hot after a message, in ms (the `hot` option of setup()). */
  readonly hot: number;
  /** The reactor thread's resource limits (the `resourceLimits` option of setup()). */
  readonly resourceLimits?: ResourceLimits;
  /**
   * The reactor thread's Node options, when it needs more than it would inherit from the
   * supervisor (a TypeScript runner's preload: see common/runners.ts).
   */
  readonly execArgv?: readonly string[];
}

/** What the reactor thread is started with. */
export interface ReactorData {
  readonly control: Int32Array;
  /** The starting thread's port and box. */
  readonly port: MessagePort;
  readonly box: Int32Array;
  readonly hot: number;
  /** A port to the supervisor, when it did not start this thread (else its parent port). */
  readonly supervisor?: MessagePort;
  /**
   * Set when crochet was bundled into an application: the application's bundle is this
   * thread's entry, and starts the reactor as it loads (see common/home.ts).
   */
  readonly bundled?: true;
  /** Set for an isolated reactor (one per synckit worker file): what it serves. */
  readonly isolated?: IsolatedData;
}

/** A global an isolated reactor sets before it loads its module (synckit's `globalShims`). */
export interface GlobalShimData {
  /** The module to import: a file URL or a bare specifier it resolves itself. */
  readonly specifier: string;
  /** Load it with `require()` (a CommonJS worker) rather than `import()`. */
  readonly require: boolean;
  readonly globalName: string | undefined;
  /** The export to take (null: the whole namespace; undefined or '': the default export). */
  readonly named: string | null | undefined;
  /** Set the global only where it is missing (the default), or always. */
  readonly conditional: boolean;
}

/**
 * What an isolated reactor serves: one module (a synckit worker file), loaded as soon as
 * the reactor starts, whose `runAsWorker()` function answers every call.
 */
export interface IsolatedData {
  /** The module, as the reactor loads it (see WrapperId.module). */
  readonly module: string;
  readonly shims: readonly GlobalShimData[];
  /** Objects moved to the thread as it starts (synckit's `transferList`). */
  readonly moved: readonly unknown[];
}

/** Caller → the isolated reactors' supervisor: watch this reactor, started beside it. */
export interface WatchIsolated {
  readonly k: 'watch';
  readonly control: Int32Array;
  readonly box: Int32Array;
  readonly port: MessagePort;
  readonly threadId: number;
}

/** Supervisor → reactor: serve a channel a thread opened by the directory. */
export interface OpenChannel {
  readonly k: 'open';
  readonly toReactor: string;
  readonly toCaller: string;
  readonly box: Int32Array;
  /** The hello's answer box, to mark the channel ready once it is served. */
  readonly answer: SharedArrayBuffer;
}

/** Supervisor → reactor: the election is won, serve (the reactor waits for it before it says it runs). */
export interface Elected {
  readonly k: 'elected';
}

/** Reactor → supervisor: a channel closed; stop watching its box. */
export interface Forget {
  readonly k: 'forget';
  readonly box: Int32Array;
}

/** Starting thread → supervisor: this thread is exiting, and the reactor with it. */
export interface StarterExiting {
  readonly k: 'exiting';
}

const isId = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isText = (value: unknown): value is string => typeof value === 'string';

function isWrapper(value: unknown): value is WrapperDescriptor {
  if (typeof value !== 'object' || value === null) return false;
  const { module, index, fingerprint, name, line } = value as Record<string, unknown>;
  return (
    isText(module) &&
    Number.isSafeInteger(index) &&
    Number.isSafeInteger(fingerprint) &&
    (name === undefined || isText(name)) &&
    (line === undefined || isId(line))
  );
}

function isOutcome(value: unknown): value is Outcome {
  if (typeof value !== 'object' || value === null) return false;
  const { ok } = value as Record<string, unknown>;
  return ok === true ? 'value' in value : ok === false && typeof (value as { error?: unknown }).error === 'object';
}

/**
 * Checks a message received from a caller; undefined if it is not exactly one of the
 * request shapes. (Only the two ends know a channel's names, but nothing that arrives is
 * trusted blindly.)
 */
export function parseRequest(data: unknown): RequestMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const m = data as Record<string, unknown>;
  switch (m['k']) {
    case Kind.Call:
      return isId(m['id']) &&
        isId(m['fn']) &&
        Array.isArray(m['args']) &&
        (m['wrapper'] === undefined || isWrapper(m['wrapper'])) &&
        (m['blocking'] === undefined || m['blocking'] === true)
        ? (data as CallMessage)
        : undefined;
    case Kind.Cancel:
      return isId(m['id']) && typeof m['timeout'] === 'boolean' ? (data as CancelMessage) : undefined;
    case Kind.Stash:
      return isId(m['id']) &&
        isText(m['stashId']) &&
        (m['call'] === undefined || isId(m['call'])) &&
        (m['outcome'] === undefined || isOutcome(m['outcome']))
        ? (data as StashMessage)
        : undefined;
    case Kind.Retrieve:
      return isId(m['id']) && isText(m['stashId']) && isId(m['reply']) ? (data as RetrieveMessage) : undefined;
    case Kind.Retrieved:
      return isId(m['id']) && typeof m['kept'] === 'boolean' ? (data as RetrievedMessage) : undefined;
    case Kind.Goodbye:
    case Kind.Space:
      return data as GoodbyeMessage | SpaceMessage;
    case Kind.Shutdown:
      return typeof m['timeout'] === 'number' && m['timeout'] >= 0 ? (data as ShutdownMessage) : undefined;
    case Kind.Report:
      return isText(m['text']) ? (data as ReportMessage) : undefined;
    case Kind.Poke:
      return isId(m['id']) ? (data as PokeMessage) : undefined;
    default:
      return undefined;
  }
}

/**
 * Checks a message received from the reactor; undefined if it is not exactly one of the
 * reply shapes.
 */
export function parseReply(data: unknown): ReplyMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const m = data as Record<string, unknown>;
  switch (m['k']) {
    case Kind.Success:
      return isId(m['id']) && 'value' in m ? (data as SuccessMessage) : undefined;
    case Kind.Failure:
      return isId(m['id']) && typeof m['error'] === 'object' && m['error'] !== null
        ? (data as FailureMessage)
        : undefined;
    case Kind.Answer:
      return isId(m['id']) ? (data as AnswerMessage) : undefined;
    case Kind.Unstash:
      return isText(m['stashId']) ? (data as UnstashMessage) : undefined;
    case Kind.Loading:
      return isId(m['id']) && typeof m['done'] === 'boolean' ? (data as LoadingMessage) : undefined;
    case Kind.Lost:
      return isId(m['seq']) && typeof m['error'] === 'object' && m['error'] !== null
        ? (data as LostMessage)
        : undefined;
    case Kind.Log:
      return Number.isSafeInteger(m['level']) &&
        (m['fd'] === 1 || m['fd'] === 2) &&
        (isText(m['text']) || m['text'] instanceof Uint8Array)
        ? (data as LogMessage)
        : undefined;
    default:
      return undefined;
  }
}
