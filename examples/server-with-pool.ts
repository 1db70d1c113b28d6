/**
 * Crochet in a server that runs its own event loop: the main thread serves HTTP and is
 * the reactor (noSetup()); request handlers are synchronous functions run in a piscina
 * worker pool, and they use resources the main thread owns (a visit counter, a DNS
 * cache) through blocking wrapped calls. The Node version of the original's "use
 * Crochet from a Twisted application" example.
 *
 * Run it with `npm run example -- server-with-pool [port]`, then open
 * http://127.0.0.1:8080/, /stats, or /lookup?name=localhost.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { noSetup } from 'crochet';
import { Piscina } from 'piscina';
import type { Request, Response } from './support/server-handlers.js';

noSetup();

const pool = new Piscina({ filename: new URL('./support/server-handlers.js', import.meta.url).href, maxThreads: 4 });

const server = createServer((request, response) => {
  const task: Request = { method: request.method ?? 'GET', url: request.url ?? '/' };
  (pool.run(task) as Promise<Response>).then(
    ({ status, body }) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(`${JSON.stringify(body)}\n`);
    },
    (error: unknown) => {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(`${JSON.stringify({ error: String(error) })}\n`);
    },
  );
});

const port = Number(process.argv[2] ?? 8080);
server.listen(port, '127.0.0.1', () => {
  const { port: actual } = server.address() as AddressInfo;
  console.log(`listening on http://127.0.0.1:${actual}/`);
});

function stop(): void {
  server.close();
  server.closeAllConnections();
  void pool.destroy();
}
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
