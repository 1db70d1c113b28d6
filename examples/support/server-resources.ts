/**
 * Resources the server's main thread owns, and blocking wrappers for them. Both the main
 * thread (the reactor, after noSetup()) and the pool's worker threads import this
 * module; the wrapped functions always run on the main thread, against its state.
 */
import { lookup } from 'node:dns/promises';
import { abortSignal, waitFor } from 'crochet';

/** Visits per path: plain in-memory state, living on the main thread only. */
const visits = new Map<string, number>();
/** Addresses looked up so far. */
const addresses = new Map<string, string>();

/** Counts a visit to `path` and returns how many there have been. */
export const countVisit = waitFor({ timeout: 1000 })((path: string): number => {
  const count = (visits.get(path) ?? 0) + 1;
  visits.set(path, count);
  return count;
});

/** Every path's visit count. */
export const visitCounts = waitFor({ timeout: 1000 })((): Record<string, number> => Object.fromEntries(visits));

/** Looks `name` up once, then answers from the cache; gives up after 5 seconds. */
export const resolveName = waitFor({ timeout: 5000 })(async (
  name: string,
): Promise<{ address: string; cached: boolean }> => {
  const known = addresses.get(name);
  if (known !== undefined) return { address: known, cached: true };
  const signal = abortSignal();
  const { address } = await lookup(name);
  signal.throwIfAborted();
  addresses.set(name, address);
  return { address, cached: false };
});
