/**
 * Background scheduling: the main demo (`npm start`), after the original Crochet's
 * `scheduling.py`.
 *
 * The reactor downloads the EUR/USD exchange rate from a feed every few seconds, in the
 * background. A web server with a plain synchronous request handler shows the latest
 * value: the page never waits for the feed.
 *
 *     npm start                                     # http://127.0.0.1:8080/
 *     npm run example -- exchange-rate --port 3000 --every 2
 *     npm run example -- exchange-rate --feed https://example.com/rates.csv
 *
 * With no `--feed`, the example starts a local stand-in feed (in the reactor), so it
 * runs offline. A feed answers `GET <feed>?pair=EURUSD` with `EURUSD,1.0842`.
 *
 * The code comes in three layers (see docs/best-practices.md): asynchronous code that
 * only the reactor runs, a thin blocking layer of wrapped functions, and an
 * application that sees an ordinary synchronous API.
 */
import { createServer } from 'node:http';
import { isReactorThread, onShutdown, setup, waitFor } from 'crochet';
import { parseOptions } from './support/cli.js';
import { startRateFeed } from './support/stand-ins.js';
import { serve } from './support/serve.js';

setup();

// ---- reactor code: plain asynchronous Node ------------------------------------------

/** Keeps one exchange rate up to date by downloading it on a schedule. */
class RateFeed {
  #value: number | undefined;
  #updated: Date | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly pair: string;
  readonly feed: string;

  constructor(pair: string, feed: string) {
    this.pair = pair;
    this.feed = feed;
  }

  /** The latest rate and when it arrived; undefined until the first download. */
  latest(): { value: number; updated: string } | undefined {
    if (this.#value === undefined || this.#updated === undefined) return undefined;
    return { value: this.#value, updated: this.#updated.toISOString() };
  }

  /** Downloads now, then every `everyMs` ms, until the reactor shuts down. */
  start(everyMs: number): void {
    void this.#download();
    this.#timer = setInterval(() => void this.#download(), everyMs);
    onShutdown(() => {
      clearInterval(this.#timer);
    });
  }

  async #download(): Promise<void> {
    try {
      const url = new URL(this.feed);
      url.searchParams.set('pair', this.pair);
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (!response.ok) throw new Error(`the feed answered ${response.status} ${response.statusText}`);
      const text = (await response.text()).trim();
      const value = Number(text.split(',')[1]);
      if (!Number.isFinite(value)) throw new Error(`the feed sent ${JSON.stringify(text)}, not "PAIR,rate"`);
      this.#value = value;
      this.#updated = new Date();
      console.log(`${this.pair} is now ${value} (from ${url.host})`);
    } catch (error) {
      // Keep the last good value; the next download may succeed.
      console.error(`${this.pair}: download failed:`, error instanceof Error ? error.message : error);
    }
  }
}

const feeds = new Map<string, RateFeed>();

// ---- the blocking layer ---------------------------------------------------------------

const startFeed = waitFor({ timeout: 5000 })(async (pair: string, feed: string | null, everyMs: number) => {
  if (feeds.has(pair)) return feeds.get(pair)?.feed;
  let url = feed;
  if (url === null) {
    const standIn = await startRateFeed();
    onShutdown(() => standIn.close());
    url = standIn.url;
  }
  const rateFeed = new RateFeed(pair, url);
  feeds.set(pair, rateFeed);
  rateFeed.start(everyMs);
  return url;
});

const latestRate = waitFor({ timeout: 1000 })((pair: string) => feeds.get(pair)?.latest());

/** A blocking API for an exchange rate kept up to date in the background. */
export class ExchangeRate {
  readonly pair: string;

  constructor(pair: string) {
    this.pair = pair;
  }

  /** Starts the background downloads (from a local stand-in if `feed` is null); returns the feed's URL. */
  start(feed: string | null, everySeconds: number): string | undefined {
    return startFeed(this.pair, feed, everySeconds * 1000);
  }

  /** The latest rate, or undefined if none has arrived yet. Never waits for the feed. */
  latestValue(): { value: number; updated: string } | undefined {
    return latestRate(this.pair);
  }
}

// ---- the application: synchronous code ---------------------------------------------

function page(pair: string, rate: { value: number; updated: string } | undefined): string {
  const shown =
    rate === undefined
      ? '<p class="rate">unavailable, please refresh the page</p>'
      : `<p class="rate" id="rate">${rate.value.toFixed(4)}</p><p class="when">updated <time id="updated">${rate.updated}</time></p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="1">
<title>${pair} exchange rate</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; min-height: 100vh; display: grid; place-items: center; background: #f4f1ea; color: #222; }
  main { background: white; padding: 2.5rem 3.5rem; border-radius: 12px; box-shadow: 0 2px 12px #0002; text-align: center; }
  h1 { font-size: 1.1rem; font-weight: 600; margin: 0 0 1rem; color: #555; }
  .rate { font-size: 3.5rem; font-weight: 700; margin: 0; font-variant-numeric: tabular-nums; }
  .when, footer { color: #777; font-size: 0.9rem; }
  footer { margin-top: 1.5rem; }
</style>
</head>
<body>
<main>
<h1>Current ${pair.slice(0, 3)}/${pair.slice(3)} exchange rate</h1>
${shown}
<footer>Served by a synchronous handler; the rate is refreshed in the background by the reactor.</footer>
</main>
</body>
</html>
`;
}

if (!isReactorThread()) {
  const { values } = parseOptions({
    options: {
      port: { type: 'string', default: '8080' },
      feed: { type: 'string' },
      every: { type: 'string', default: '5' },
    },
  });
  const every = Number(values.every);
  if (!(every > 0)) {
    console.error(`--every must be a number of seconds above 0, got ${JSON.stringify(values.every)}.`);
    process.exit(2);
  }

  const eurusd = new ExchangeRate('EURUSD');
  const feed = eurusd.start(values.feed ?? null, every);

  const server = createServer((request, response) => {
    // A synchronous handler: a blocking call that returns at once with the latest value.
    if (request.url === '/rate.json') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(eurusd.latestValue() ?? null));
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(page(eurusd.pair, eurusd.latestValue()));
  });
  serve(server, values.port, (url) => {
    console.log(`Downloading EURUSD from ${feed} every ${every} s`);
    console.log(`listening on ${url} (Ctrl-C to stop)`);
  });
}
