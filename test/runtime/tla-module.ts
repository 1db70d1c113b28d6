// A reactor module with a real top-level await, run from its compiled JavaScript (which has
// a .js.map next to it). The reactor must import it (require() cannot load a module that
// awaits at its top level) and find it under the compiled file, not its TypeScript source
// that a source map points to. Prints one JSON line.
import { isReactorThread, setup, waitFor } from 'crochet';

setup();

const base = await new Promise<number>((resolve) => setTimeout(() => resolve(40), 1));

export const add = waitFor({ timeout: 10_000 })((x: number): number => base + x);

// Wrappers made by a built-in function (Array.prototype.map calls the wrapper factory):
// the module that called map() made them.
export const [twice, thrice] = [(x: number): number => 2 * x, (x: number): number => 3 * x].map(
  waitFor({ timeout: 10_000 }),
);

export const where = waitFor({ timeout: 10_000 })(async (): Promise<boolean> => {
  await Promise.resolve();
  return isReactorThread();
});

if (!isReactorThread()) {
  console.log(JSON.stringify({ sum: add(2), twice: twice?.(5), thrice: thrice?.(5), inReactor: where() }));
}
