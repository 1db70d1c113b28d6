/**
 * Crochet in a server that runs its own event loop: the main thread serves HTTP and is
 * the reactor (noSetup()); request handlers are synchronous functions run in a piscina
 * worker pool, and they use resources the main thread owns (a visit counter, a DNS
 * cache) through blocking wrapped calls. The Node version of the original's "use
 * Crochet from a Twisted application" example.
 *
 *     npm run example -- server-with-pool               # http://127.0.0.1:8083/
 *     npm run example -- server-with-pool --port 3000
 *
 * Then open /page (a visit counter), /stats, or /lookup?name=localhost.
 */
import { createServer } from 'node:http';
import { noSetup } from 'crochet';
import { Piscina } from 'piscina';
import { parseOptions } from './support/cli.js';
import { serve } from './support/serve.js';
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

const { values } = parseOptions({ options: { port: { type: 'string', default: '8083' } } });
serve(server, values.port, (address) => {
  console.log(`listening on ${address} (Ctrl-C to stop)`);
});
// serve() closes the server on Ctrl-C or SIGTERM; the pool's threads end with it.
const stop = (): void => void pool.destroy();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
