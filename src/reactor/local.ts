/**
 * The reactor as its own thread sees it: calls and stashed results go straight to the
 * engine (see api/access.ts).
 */
import type { PendingCall, ReactorAccess, Retrieved, Settle } from '../api/access.js';
import type { WrapperId } from '../api/registry.js';
import type { Outcome } from '../wire/messages.js';
import type { CallRecord, Engine } from './engine.js';
import { checkTransferList, takeTransfer } from '../api/context.js';
import { dataCloneError } from '../wire/codec.js';

class LocalCall implements PendingCall {
  readonly id = undefined;
  readonly #engine: Engine;
  readonly #record: CallRecord;
  readonly #settle: Settle;

  constructor(engine: Engine, record: CallRecord, settle: Settle) {
    this.#engine = engine;
    this.#record = record;
    this.#settle = settle;
  }

  block(): boolean {
    // Blocking here would deadlock the reactor; the handle refuses before it gets here.
    return false;
  }

  poll(): void {
    // Outcomes reach handles in this thread as they happen.
  }

  cancel(): void {
    this.#engine.cancel(this.#record, this.#settle, 0, false);
  }

  stash(stashId: string, handle: unknown): boolean {
    if (this.#record.settled) return false;
    this.#engine.stashLocal(stashId, handle, this.#record, undefined);
    return true;
  }
}

export class LocalAccess implements ReactorAccess {
  readonly #engine: Engine;

  constructor(engine: Engine) {
    this.#engine = engine;
  }

  start(_wrapper: WrapperId, fn: (...args: unknown[]) => unknown, args: unknown[], settle: Settle): PendingCall {
    // Nothing crosses threads here, but transfer() lists follow the same rules everywhere.
    const list: unknown[] = [];
    for (const arg of args) takeTransfer(arg, list as never[]);
    try {
      checkTransferList(list, true);
    } catch (error) {
      throw dataCloneError(
        `The transfer() list of the arguments of ${fn.name === '' ? 'the wrapped function' : `${fn.name}()`}`,
        error,
      );
    }
    return new LocalCall(this.#engine, this.#engine.runLocal(fn, args, settle), settle);
  }

  stashOutcome(stashId: string, handle: unknown, outcome: Outcome): void {
    this.#engine.stashLocal(stashId, handle, undefined, outcome);
  }

  retrieve(stashId: string, settle: Settle): Retrieved | undefined {
    const found = this.#engine.retrieveLocal(stashId);
    switch (found.kind) {
      case 'unknown':
        return undefined;
      case 'own':
        return { kind: 'own', handle: found.handle };
      case 'outcome':
        return { kind: 'settled', ok: found.ok, value: found.value };
      case 'pending':
        this.#engine.subscribeLocal(found.record, settle);
        return { kind: 'pending', call: new LocalCall(this.#engine, found.record, settle) };
    }
  }

  shutdown(timeout: number): void {
    void this.#engine.shutdown(timeout);
  }
}
