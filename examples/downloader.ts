/**
 * A web application that downloads a page in the background, one download per visitor
 * session: the original Crochet's `downloader.py`.
 *
 *     npm run example -- downloader                          # http://127.0.0.1:8081/
 *     npm run example -- downloader --url https://example.com/
 *
 * The first visit starts the download with a `runInReactor` function, which returns an
 * `EventualResult` at once, and keeps the result's stash id in the session. Each later
 * visit takes the result back with `retrieveResult()` and waits 100 ms for it: if it is
 * not there yet, the page says how far the download got and stashes the result again
 * (an id can be retrieved only once). A failed download shows the error as it was
 * thrown in the reactor, stack included, from `originalFailure()`.
 *
 * With no `--url`, the example starts a slow local site (in the reactor) so it runs
 * offline: `/page` takes about two seconds, `/broken` fails half-way
 * (`--url broken` picks it).
 */
import { createServer, type IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import {
  isReactorThread,
  onShutdown,
  retrieveResult,
  runInReactor,
  setup,
  TimeoutError,
  waitFor,
  type EventualResult,
} from 'crochet';
import { parseOptions } from './support/cli.js';
import { startSlowSite } from './support/stand-ins.js';
import { serve } from './support/serve.js';

setup();

// ---- reactor code ----------------------------------------------------------------------

/** Bytes received so far, by download key. */
const received = new Map<string, number>();

/** Downloads `url`, counting the bytes under `key` as they arrive. */
const downloadPage = runInReactor(async (url: string, key: string): Promise<string> => {
  received.set(key, 0);
  const response = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  if (!response.ok || response.body === null) throw new Error(`${url} answered ${response.status}`);
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
    received.set(key, (received.get(key) ?? 0) + chunk.byteLength);
  }
  return text + decoder.decode();
});

const bytesReceived = waitFor({ timeout: 1000 })((key: string) => received.get(key) ?? 0);

const startStandIn = waitFor({ timeout: 5000 })(async () => {
  const site = await startSlowSite();
  onShutdown(() => site.close());
  return site.url;
});

// ---- the application: synchronous code ---------------------------------------------

interface Session {
  /** The stash id of the download's result, while there is one to look at. */
  download?: string | undefined;
  /** The key its progress is counted under. */
  key?: string;
}
const sessions = new Map<string, Session>();

function sessionOf(request: IncomingMessage): { id: string; session: Session; isNew: boolean } {
  const id = /(?:^|;\s*)session=([\w-]+)/.exec(request.headers.cookie ?? '')?.[1];
  const session = id === undefined ? undefined : sessions.get(id);
  if (id !== undefined && session !== undefined) return { id, session, isNew: false };
  const fresh = randomUUID();
  const created: Session = {};
  sessions.set(fresh, created);
  return { id: fresh, session: created, isNew: true };
}

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page for one visit: synchronous, as a handler in a blocking web framework is. */
function visit(session: Session, url: string): string {
  if (session.download === undefined) {
    // Calling a runInReactor function returns an EventualResult at once.
    session.key = randomUUID();
    const result = downloadPage(url, session.key);
    session.download = result.stash();
    return `Starting the download of ${escape(url)}; refresh to see how it goes.`;
  }
  // Retrieval is one-time: the id in the session cannot be used again.
  const result: EventualResult<string> = retrieveResult(session.download);
  session.download = undefined;
  try {
    const page = result.wait(100);
    return `Downloaded ${page.length} characters:<pre>${escape(page.slice(0, 2000))}</pre>`;
  } catch (error) {
    if (error instanceof TimeoutError) {
      session.download = result.stash();
      return `Download in progress: ${bytesReceived(session.key ?? '')} bytes so far. Refresh to see more.`;
    }
    // The error as it was thrown in the reactor, with its stack there.
    return `Download failed:<pre>${escape(inspect(result.originalFailure() ?? error))}</pre>`;
  }
}

if (!isReactorThread()) {
  const { values } = parseOptions({
    options: { port: { type: 'string', default: '8081' }, url: { type: 'string' } },
  });
  const site = values.url === undefined || values.url === 'broken' ? startStandIn() : undefined;
  const url = site === undefined ? (values.url as string) : `${site}${values.url === 'broken' ? 'broken' : 'page'}`;

  const server = createServer((request, response) => {
    if (request.url !== '/') {
      response.writeHead(404).end();
      return;
    }
    const { id, session, isNew } = sessionOf(request);
    const body = visit(session, url);
    response.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      ...(isNew ? { 'set-cookie': `session=${id}; HttpOnly; SameSite=Lax; Path=/` } : {}),
    });
    response.end(`<!doctype html><title>Downloader</title><p>${body}</p>\n`);
  });
  serve(server, values.port, (address) => {
    console.log(`Each visitor downloads ${url}`);
    console.log(`listening on ${address} (Ctrl-C to stop)`);
  });
}
