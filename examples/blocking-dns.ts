/**
 * A blocking DNS lookup with a timeout: the first example of the original Crochet
 * (`blockingdns.py` and `async.py`).
 *
 *     npm run example -- blocking-dns localhost                      # the system's resolver
 *     npm run example -- blocking-dns example.org --server 1.1.1.1   # ask a DNS server
 *
 * The lookup is asynchronous code that runs in the reactor; the application calls it as
 * a plain blocking function, which throws crochet's `TimeoutError` if no answer came
 * within 5 seconds.
 */
import { lookup, Resolver } from 'node:dns/promises';
import { abortSignal, isReactorThread, setup, waitFor } from 'crochet';
import { parseOptions } from './support/cli.js';

setup();

/**
 * Looks up the IPv4 address of `name`: with the system's resolver, or by asking the DNS
 * server at `server` (`host` or `host:port`).
 *
 * Unlike a plain synchronous lookup, which can take any amount of time, this one throws
 * `TimeoutError` if no answer arrived within 5 seconds.
 */
export const gethostbyname = waitFor({ timeout: 5000 })(async function gethostbyname(
  name: string,
  server?: string,
): Promise<string> {
  if (server === undefined) {
    const { address } = await lookup(name, { family: 4 });
    return address;
  }
  const resolver = new Resolver({ timeout: 30_000, tries: 1 });
  resolver.setServers([server]);
  // When the caller gives up, stop asking.
  abortSignal().addEventListener('abort', () => {
    resolver.cancel();
  });
  const [address] = await resolver.resolve4(name);
  if (address === undefined) throw new Error(`${name} has no IPv4 address`);
  return address;
});

// The application: plain blocking code, with no event loop in sight. Guarded, because
// the reactor imports this module too, to find gethostbyname.
if (!isReactorThread()) {
  const { values, positionals } = parseOptions({ options: { server: { type: 'string' } }, allowPositionals: true });
  const name = positionals[0] ?? 'localhost';
  try {
    const ip = gethostbyname(name, values.server);
    console.log(`${name} -> ${ip}`);
  } catch (error) {
    // A failed lookup is an answer too: say it in a line, not a stack trace.
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const hint = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED/.test(reason) ? ' (no such name, or no network?)' : '';
    console.error(`Cannot look up ${name}: ${reason}${hint}`);
    process.exitCode = 1;
  }
}
