/**
 * Request handlers, run in the server's worker pool. They are plain synchronous
 * functions: the calls into the main thread block this worker, never the server.
 */
import { threadId } from 'node:worker_threads';
import { countVisit, resolveName, visitCounts } from './server-resources.js';

export interface Request {
  readonly method: string;
  readonly url: string;
}

export interface Response {
  readonly status: number;
  readonly body: unknown;
}

export default function handle(request: Request): Response {
  const url = new URL(request.url, 'http://localhost');
  if (request.method !== 'GET') return { status: 405, body: { error: 'only GET is supported' } };
  switch (url.pathname) {
    case '/lookup': {
      const name = url.searchParams.get('name');
      if (name === null) return { status: 400, body: { error: 'add ?name=<hostname>' } };
      try {
        return { status: 200, body: { name, ...resolveName(name), worker: threadId } };
      } catch (error) {
        return { status: 502, body: { name, error: (error as Error).message } };
      }
    }
    case '/stats':
      return { status: 200, body: { visits: visitCounts(), worker: threadId } };
    default:
      return { status: 200, body: { path: url.pathname, visits: countVisit(url.pathname), worker: threadId } };
  }
}
