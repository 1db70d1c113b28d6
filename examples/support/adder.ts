/**
 * Reactor code for examples/testing.ts, in a module of its own: wrapping functions
 * needs no reactor, so a unit test can import this module and call `.wrapped` without
 * ever starting one.
 */
import { runInReactor, waitFor } from 'crochet';

export const add = runInReactor((x: number, y: number) => x + y);

export const slowDouble = waitFor({ timeout: 1000 })(async (x: number) => {
  await new Promise((resolve) => setTimeout(resolve, 10));
  return 2 * x;
});
