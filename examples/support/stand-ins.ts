/**
 * Local stand-ins for the remote services the original examples talk to, so that every
 * example runs offline. Each listens on 127.0.0.1 on a free port and says where.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandIn {
  /** The base URL, ending in `/`. */
  readonly url: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<StandIn> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/**
 * An exchange-rate feed: `GET /?pair=EURUSD` answers `EURUSD,1.0842` as CSV, the rate
 * moving a little with every request, like a market would.
 */
export function startRateFeed(): Promise<StandIn> {
  let requests = 0;
  return listen(
    createServer((request, response) => {
      const pair = new URL(request.url ?? '/', 'http://feed/').searchParams.get('pair') ?? 'EURUSD';
      requests++;
      const rate = 1.08 + 0.004 * Math.sin(requests / 3) + 0.0001 * requests;
      response.writeHead(200, { 'content-type': 'text/csv' });
      response.end(`${pair},${rate.toFixed(4)}\n`);
    }),
  );
}

/**
 * A slow web site: `GET /page` sends a page of `chunks` parts, one every `delay` ms, so
 * that a download takes a while; `GET /broken` sends a part and then cuts the
 * connection, so that a download fails.
 */
export function startSlowSite(chunks = 20, delay = 100): Promise<StandIn> {
  return listen(
    createServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://site/').pathname;
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      let sent = 0;
      const timer = setInterval(() => {
        if (path === '/broken' && sent === 1) {
          clearInterval(timer);
          response.destroy();
          return;
        }
        sent++;
        response.write(`<p>Part ${sent} of ${chunks} of a slow page.</p>\n`);
        if (sent === chunks) {
          clearInterval(timer);
          response.end();
        }
      }, delay);
      response.on('close', () => {
        clearInterval(timer);
      });
    }),
  );
}

/**
 * A slow service: `GET /?ms=N` answers `done after N ms` after N ms. It logs when a
 * client hangs up before its answer, to show that cancelling reaches the network.
 */
export function startSlowService(): Promise<StandIn> {
  return listen(
    createServer((request, response) => {
      const ms = Number(new URL(request.url ?? '/', 'http://service/').searchParams.get('ms') ?? 0);
      const timer = setTimeout(() => {
        response.end(`done after ${ms} ms`);
      }, ms);
      response.on('close', () => {
        if (response.writableEnded) return;
        clearTimeout(timer);
        console.log(`  (the slow service saw its client hang up after asking for ${ms} ms)`);
      });
    }),
  );
}
