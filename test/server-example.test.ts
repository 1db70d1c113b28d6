import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

interface Body {
  readonly visits?: number | Record<string, number>;
  readonly worker?: number;
  readonly address?: string;
  readonly cached?: boolean;
  readonly error?: string;
}

async function get(base: string, path: string): Promise<{ status: number; body: Body }> {
  const response = await fetch(new URL(path, base));
  return { status: response.status, body: (await response.json()) as Body };
}

describe('examples/server-with-pool', () => {
  it(
    'serves requests from a piscina pool whose handlers use state owned by the main thread',
    { skip: 'Deno' in globalThis && 'piscina’s worker is CommonJS without a "type" field, which Deno does not load' },
    async () => {
      const file = fileURLToPath(new URL('../examples/server-with-pool.js', import.meta.url));
      const server = spawn(process.execPath, [file, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const failsafe = setTimeout(() => server.kill('SIGKILL'), 30_000);
      let stderr = '';
      server.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      try {
        server.stdout.setEncoding('utf8');
        const [line] = (await once(server.stdout, 'data')) as [string];
        const base = /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(line)?.[1];
        assert.ok(base !== undefined, `no address in ${line}`);

        // Concurrent requests, served by several pool threads, count into one counter.
        const pages = await Promise.all(Array.from({ length: 12 }, () => get(base, '/page')));
        const counts = pages.map((page) => page.body.visits as number).sort((a, b) => a - b);
        assert.deepEqual(
          counts,
          Array.from({ length: 12 }, (_, i) => i + 1),
        );
        const workers = new Set(pages.map((page) => page.body.worker));
        assert.ok(!workers.has(0), 'handlers ran in worker threads, not the main thread');

        const first = await get(base, '/lookup?name=localhost');
        assert.equal(first.status, 200);
        assert.match(first.body.address ?? '', /^(127\.0\.0\.1|::1)$/);
        assert.equal(first.body.cached, false);
        const second = await get(base, '/lookup?name=localhost');
        assert.equal(second.body.cached, true, 'the cache lives on the main thread, shared by every worker');

        const stats = await get(base, '/stats');
        assert.deepEqual(stats.body.visits, { '/page': 12 });
        assert.equal((await get(base, '/lookup')).status, 400);
      } finally {
        server.kill('SIGTERM');
        const [code, signal] = (await once(server, 'close')) as [number | null, string | null];
        clearTimeout(failsafe);
        assert.equal(signal, null, `the server stopped by itself on SIGTERM (stderr: ${stderr})`);
        assert.equal(code, 0);
      }
    },
  );
});
