/**
 * The reactor as a thread's handles see it, behind one interface: decided once per use,
 * in `lifecycle.ts`, so that results, wrappers and `retrieveResult()` never ask whether
 * the reactor is this thread or another.
 *
 * - In the reactor thread, `LocalAccess` (reactor/local.ts) starts calls on the engine and
 *   keeps stashed results there directly.
 * - Anywhere else, `RemoteAccess` (caller/remote.ts) sends them over this thread's
 *   connection.
 */
import type { WrapperId } from './registry.js';
import type { Outcome } from '../wire/messages.js';

/** Receives a call's outcome. */
export type Settle = (ok: boolean, value: unknown) => void;

/** A call whose outcome a handle waits for. */
export interface PendingCall {
  /** The call's id on this thread's channel (for diagnostics), or undefined for a call run here. */
  readonly id: number | undefined;
  /** Blocks until `isDone()` holds or `timeout` ms pass; false on timeout. Only for remote calls. */
  block(isDone: () => boolean, timeout: number): boolean;
  /** Takes in the outcome if it has arrived, without blocking (a stop of the reactor too). */
  poll(): void;
  /** This holder gives the call up: the reactor cancels it for every other holder too. */
  cancel(): void;
  /**
   * Keeps the call, still pending, under `stashId` (with `handle`, this thread's own handle
   * on it). False if its outcome turned out to be known already: stash the outcome instead.
   */
  stash(stashId: string, handle: unknown): boolean;
}

/** What a stash id held, as retrieved in this thread. */
export type Retrieved =
  | { readonly kind: 'own'; readonly handle: unknown }
  | { readonly kind: 'settled'; readonly ok: boolean; readonly value: unknown }
  | { readonly kind: 'pending'; readonly call: PendingCall };

/** The reactor, as this thread reaches it. */
export interface ReactorAccess {
  /**
   * Starts a call of `fn` (a `runInReactor` wrapper's function), whose outcome goes to
   * `settle`. Throws `ERR_CROCHET_DATA_CLONE` for arguments that cannot cross, and
   * `ReactorStoppedError` once the reactor has stopped.
   */
  start(wrapper: WrapperId, fn: (...args: unknown[]) => unknown, args: unknown[], settle: Settle): PendingCall;
  /** Keeps a known outcome under `stashId`, with `handle`, this thread's own handle on it. */
  stashOutcome(stashId: string, handle: unknown, outcome: Outcome): void;
  /** Takes the result kept under `stashId` (undefined: none); a pending one feeds `settle`. */
  retrieve(stashId: string, settle: Settle): Retrieved | undefined;
  /** Stops the reactor in order, its hooks given `timeout` ms. */
  shutdown(timeout: number): void;
}
