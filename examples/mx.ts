/**
 * A command-line tool that asks DNS for a domain's mail servers (an MX query): the
 * original Crochet's `mxquery.py`.
 *
 *     npm run example -- mx example.org                      # a local DNS server it starts
 *     npm run example -- mx example.org --server 1.1.1.1     # a real one
 *
 * The DNS work is asynchronous code that runs in the reactor; the application calls it
 * as a plain blocking function. With no `--server`, the example starts a small DNS
 * server of its own on 127.0.0.1 (in the reactor too), so it runs offline.
 */
import { Resolver } from 'node:dns/promises';
import { abortSignal, isReactorThread, onShutdown, setup, waitFor } from 'crochet';
import { parseOptions } from './support/cli.js';
import { startLocalDns } from './support/local-dns.js';

setup();

// ---- reactor code: plain asynchronous Node -------------------------------------------

/** The mail servers of `domain`, best (lowest priority number) first. */
async function lookupMailServers(domain: string, server: string): Promise<[number, string][]> {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([server]);
  // If the caller gives up (its timeout), stop the query instead of leaving it running.
  abortSignal().addEventListener('abort', () => {
    resolver.cancel();
  });
  const records = await resolver.resolveMx(domain);
  return records.map((record): [number, string] => [record.priority, record.exchange]).sort((a, b) => a[0] - b[0]);
}

// ---- the blocking layer ---------------------------------------------------------------

/** Returns the `[priority, mail server]` pairs of `domain`; throws after 5 seconds. */
export const mx = waitFor({ timeout: 5000 })(lookupMailServers);

/** Starts the local stand-in DNS server in the reactor; returns its `host:port`. */
export const startStandIn = waitFor({ timeout: 5000 })(async () => {
  const dns = await startLocalDns();
  onShutdown(() => dns.close());
  return dns.address;
});

// ---- the application: blocking code ---------------------------------------------------

if (!isReactorThread()) {
  const { values, positionals } = parseOptions({
    options: { server: { type: 'string' } },
    allowPositionals: true,
  });
  const domain = positionals[0] ?? 'example.org';
  const server = values.server ?? startStandIn();
  console.log(`Mail servers for ${domain} (asking ${server}):`);
  for (const [priority, exchange] of mx(domain, server)) console.log(priority, exchange);
}
