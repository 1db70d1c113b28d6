/**
 * What this thread is to crochet, and the state every copy of crochet loaded in this
 * thread shares.
 *
 * Two copies of the package can be loaded in one process (two versions side by side, or
 * a bundled copy next to an installed one). They find one reactor through the directory;
 * but within a thread they must also agree on what the thread is (the reactor or a
 * caller), on the wrappers its modules created, on the current call's abort signal, on
 * transfer marks and on registered error classes. So that state lives in one object per
 * thread, under a global symbol named after the protocol's version.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import type { Transferable } from 'node:worker_threads';
import type { Engine } from '../reactor/engine.js';

/** `caller`: blocks on a reactor elsewhere; `reactor`: runs the reactor's loop. @internal */
export type Role = 'caller' | 'reactor';

/** The state all copies of crochet in this thread share. @internal */
export interface ThreadState {
  role: Role;
  engine: Engine | undefined;
  /** Wrapped functions by the module that created them (see registry.ts). */
  readonly wrappers: Map<string, { readonly fn: (...args: never[]) => unknown; readonly fingerprint: number }[]>;
  /** The running call's context (see context.ts); made by the first copy that needs it. */
  calls: AsyncLocalStorage<unknown> | undefined;
  /** Values marked with transfer(). */
  readonly transfers: WeakMap<object, Transferable[]>;
  /** Error classes passed to registerError(), by name and by prototype. */
  readonly errorsByName: Map<string, abstract new (...args: never[]) => Error>;
  readonly errorNames: Map<object, string>;
}

const KEY = Symbol.for('crochet.thread.v2');

function shared(): ThreadState {
  const holder = globalThis as { [KEY]?: ThreadState };
  holder[KEY] ??= {
    role: 'caller',
    engine: undefined,
    wrappers: new Map(),
    calls: undefined,
    transfers: new WeakMap(),
    errorsByName: new Map(),
    errorNames: new Map(),
  };
  return holder[KEY];
}

/** This thread's shared state. @internal */
export const thread: ThreadState = shared();

/** @internal */
export function currentRole(): Role {
  return thread.role;
}

/** @internal */
export function becomeReactor(): void {
  thread.role = 'reactor';
}

/** The engine of this thread, when it is the reactor. @internal */
export function currentEngine(): Engine | undefined {
  return thread.engine;
}

/** @internal */
export function setEngine(value: Engine): void {
  thread.engine = value;
}

/**
 * Whether this thread runs the reactor: inside the thread `setup()` started, or on the
 * main thread after `noSetup()`. Code that must not run in the reactor when its module
 * is imported there (an application's entry point, say) goes under
 * `if (!isReactorThread())`.
 */
export function isReactorThread(): boolean {
  return thread.role === 'reactor';
}
