// A reactor module written in TypeScript, run without compiling it first: under tsx, or
// under Node's own type stripping. Prints one JSON line.
import { isReactorThread, setup, waitFor } from 'crochet';

setup();

interface Point {
  readonly x: number;
  readonly y: number;
}

export const length = waitFor({ timeout: 10_000 })(async (point: Point): Promise<number> => {
  await Promise.resolve();
  return Math.hypot(point.x, point.y);
});

export const where = waitFor({ timeout: 10_000 })((): boolean => isReactorThread());

if (!isReactorThread()) {
  console.log(JSON.stringify({ length: length({ x: 3, y: 4 }), inReactor: where() }));
}
