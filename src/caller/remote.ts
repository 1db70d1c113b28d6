/**
 * The reactor as any other thread sees it: calls and stashed results go over this
 * thread's connection (see api/access.ts).
 */
import type { PendingCall, ReactorAccess, Retrieved, Settle } from '../api/access.js';
import type { WrapperId } from '../api/registry.js';
import type { Outcome } from '../wire/messages.js';
import type { Connection } from './connection.js';

class RemoteCall implements PendingCall {
  readonly id: number;
  readonly #connection: Connection;

  constructor(connection: Connection, id: number) {
    this.#connection = connection;
    this.id = id;
  }

  block(isDone: () => boolean, timeout: number): boolean {
    return this.#connection.block(isDone, timeout, true, this.id);
  }

  poll(): void {
    this.#connection.takeIn();
  }

  cancel(): void {
    this.#connection.cancel(this.id, false);
  }

  stash(stashId: string, handle: unknown): boolean {
    return this.#connection.stashCall(stashId, handle, this.id);
  }
}

export class RemoteAccess implements ReactorAccess {
  readonly #connection: Connection;
  /** Shuts the reactor down from this thread (forcing it if it does not stop in time). */
  readonly #shutdown: (connection: Connection, timeout: number) => void;

  constructor(connection: Connection, shutdown: (connection: Connection, timeout: number) => void) {
    this.#connection = connection;
    this.#shutdown = shutdown;
  }

  start(wrapper: WrapperId, fn: (...args: unknown[]) => unknown, args: unknown[], settle: Settle): PendingCall {
    return new RemoteCall(this.#connection, this.#connection.call(wrapper, fn.name, args, settle));
  }

  stashOutcome(stashId: string, handle: unknown, outcome: Outcome): void {
    this.#connection.stashOutcome(stashId, handle, outcome);
  }

  retrieve(stashId: string, settle: Settle): Retrieved | undefined {
    const taken = this.#connection.retrieve(stashId, settle);
    if (taken === undefined) return undefined;
    if ('own' in taken) return { kind: 'own', handle: taken.own };
    return { kind: 'pending', call: new RemoteCall(this.#connection, taken.id) };
  }

  shutdown(timeout: number): void {
    this.#shutdown(this.#connection, timeout);
  }
}
