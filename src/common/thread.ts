/**
 * What this thread is to crochet. Module state, so one per thread (per copy of the
 * package).
 */
import type { Engine } from '../reactor/engine.js';

/** `caller`: blocks on a reactor elsewhere; `reactor`: runs the reactor's loop. */
export type Role = 'caller' | 'reactor';

let role: Role = 'caller';
let engine: Engine | undefined;

export function currentRole(): Role {
  return role;
}

export function becomeReactor(): void {
  role = 'reactor';
}

/** The engine of this thread, when it is the reactor. */
export function currentEngine(): Engine | undefined {
  return engine;
}

export function setEngine(value: Engine): void {
  engine = value;
}

/**
 * Whether this thread runs the reactor: inside the thread `setup()` started, or on the
 * main thread after `noSetup()`. Code that must not run in the reactor when its module
 * is imported there (an application's entry point, say) goes under
 * `if (!isReactorThread())`.
 */
export function isReactorThread(): boolean {
  return role === 'reactor';
}
