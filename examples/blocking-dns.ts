/**
 * A blocking DNS lookup with a timeout: the first example of the original Crochet.
 *
 * Run it with `npm run example -- blocking-dns <hostname>`; `localhost` works offline.
 */
import { lookup } from 'node:dns/promises';
import { abortSignal, isReactorThread, setup, waitFor } from 'crochet';

setup();

/**
 * Looks up the IP address of `name`.
 *
 * Unlike a plain synchronous lookup, which can take any amount of time, this one throws
 * crochet's `TimeoutError` if no answer arrived within 5 seconds.
 */
export const gethostbyname = waitFor({ timeout: 5000 })(async function gethostbyname(name: string): Promise<string> {
  const signal = abortSignal();
  const { address } = await lookup(name);
  signal.throwIfAborted();
  return address;
});

// The application: plain blocking code, with no event loop in sight. Guarded, because
// the reactor imports this module too, to find gethostbyname.
if (!isReactorThread()) {
  const name = process.argv[2] ?? 'localhost';
  const ip = gethostbyname(name);
  console.log(`${name} -> ${ip}`);
}
