/**
 * Every example, run as a program the way its users run it. Servers listen on
 * 127.0.0.1 only, and every process is killed after a bounded time whatever happens.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { startLocalDns, type LocalDns } from '../examples/support/local-dns.js';
import { runExample, serveExample, Visitor } from './example-helpers.js';
import { exitOf } from './helpers.js';

describe('examples/blocking-dns', () => {
  let dns: LocalDns;
  before(async () => {
    dns = await startLocalDns({ 'shop.example': '10.1.2.3' });
  });
  after(() => dns.close());

  it('looks up localhost with the system resolver', async () => {
    const result = await runExample('blocking-dns', ['localhost']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'localhost -> 127.0.0.1\n');
  });

  it('asks the DNS server given with --server', async () => {
    const result = await runExample('blocking-dns', ['shop.example', '--server', dns.address]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'shop.example -> 10.1.2.3\n');
  });

  it('fails with the DNS error of a name that does not exist, without hanging', async () => {
    const result = await runExample('blocking-dns', ['nothing.invalid', '--server', dns.address]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /ENOTFOUND/);
    assert.match(result.stderr, /nothing\.invalid/);
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'one line, no stack trace');
  });

  it(
    'throws TimeoutError after 5 seconds when the DNS server never answers',
    {
      skip:
        'Deno' in globalThis &&
        "Deno's dns Resolver ignores its timeout option and fails the query with ETIMEOUT first",
    },
    async () => {
      const result = await runExample('blocking-dns', ['never.slow', '--server', dns.address]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /TimeoutError/);
      assert.match(result.stderr, /gethostbyname\(\) timed out after 5000 ms/);
    },
  );
});

describe('examples/mx', () => {
  it('lists the mail servers of a domain, best first, from the DNS server it starts itself', async () => {
    const result = await runExample('mx', ['example.org']);
    assert.equal(result.code, 0, result.stderr);
    const [first, ...servers] = result.stdout.trim().split('\n');
    assert.match(first ?? '', /^Mail servers for example\.org \(asking 127\.0\.0\.1:\d+\):$/);
    assert.deepEqual(servers, ['10 mail.example.org', '20 backup-mail.example.org']);
  });

  it('asks the DNS server given with --server', async () => {
    const dns = await startLocalDns();
    try {
      const result = await runExample('mx', ['shop.example', '--server', dns.address]);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(result.stdout.startsWith(`Mail servers for shop.example (asking ${dns.address}):\n`));
      assert.match(result.stdout, /^10 mail\.shop\.example$/m);
    } finally {
      await dns.close();
    }
  });
});

describe('examples/timeouts', () => {
  it('shows each layer: a timeout that aborts the work, a longer wait, cancel(), a fallback', async () => {
    const result = await runExample('timeouts');
    assert.equal(result.code, 0, result.stderr);
    const expected = [
      'asking for 20 ms, 300 ms allowed: done after 20 ms',
      'asking for 1000 ms, 300 ms allowed: TimeoutError: ask() timed out after 300 ms',
      'wait(100): TimeoutError: EventualResult.wait() timed out after 100 ms',
      'wait(2000): done after 500 ms',
      'wait(1000) after cancel(): CancelledError: The result was cancelled with cancel() before it was known',
      'a CancelledError: true',
      'a 100 ms answer: done after 100 ms',
      'a 1000 ms answer: done after 1000 ms',
      'a 5000 ms answer: a cached answer (the service is too slow today)',
    ];
    const lines = result.stdout.split('\n').map((line) => line.trim());
    for (const line of expected) assert.ok(lines.includes(line), `missing: ${line}\n${result.stdout}`);
    // The abort reached the network: the service saw its client hang up.
    assert.match(result.stdout, /saw its client hang up after asking for 1000 ms/);
  });
});

describe('examples/testing', () => {
  it('shows an EventualResult from the wrapper and plain results from .wrapped', async () => {
    const result = await runExample('testing');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /EventualResult/);
    assert.match(result.stdout, /^ {4}3$/m);
    assert.match(result.stdout, /^which resolves to 42$/m);
  });

  it(
    'has unit tests that pass through .wrapped without any reactor',
    {
      skip:
        ('Bun' in globalThis || 'Deno' in globalThis) &&
        "runs the example's tests with node --test, Node's test runner command",
    },
    async () => {
      const file = fileURLToPath(new URL('../examples/testing.test.js', import.meta.url));
      // Without the variable that tells a test file it runs under this test runner.
      const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'NODE_TEST_CONTEXT'));
      const { code, stdout } = await exitOf(
        spawn(process.execPath, ['--test', '--test-reporter=tap', file], { stdio: ['ignore', 'pipe', 'pipe'], env }),
      );
      assert.equal(code, 0, stdout);
      assert.match(stdout, /^# pass 2$/m);
    },
  );
});

describe('examples/exchange-rate', () => {
  it(
    'serves the latest rate from a synchronous handler while the reactor refreshes it, and stops on Ctrl-C',
    { skip: 'Deno' in globalThis && 'Deno reports a child that exited by itself after SIGINT as killed by the signal' },
    async () => {
      const app = await serveExample('exchange-rate', ['--port', '0', '--every', '0.2']);
      try {
        const rate = async (): Promise<{ value: number; updated: string } | null> =>
          (await (await fetch(new URL('rate.json', app.url))).json()) as { value: number; updated: string } | null;
        await app.line(/^EURUSD is now \d\.\d{4} \(from 127\.0\.0\.1:\d+\)$/);
        const first = await rate();
        assert.ok(first !== null && first.value > 1 && first.value < 1.2, JSON.stringify(first));
        const html = await (await fetch(app.url)).text();
        assert.match(html, /Current EUR\/USD exchange rate/);
        assert.match(html, /id="rate">\d\.\d{4}</);
        // A later download brings a new value, and the page shows it.
        await app.next(new RegExp(`^EURUSD is now (?!${first.value.toFixed(4).replace('.', '\\.')} )`));
        const later = await rate();
        assert.ok(later !== null && later.updated > first.updated, JSON.stringify(later));
      } finally {
        const exit = await app.stop();
        assert.equal(exit.code, 0, exit.stderr);
      }
    },
  );

  it(
    'says which port is taken, and how to choose another, instead of crashing',
    { skip: 'Bun' in globalThis && "Bun's error for a port in use does not name EADDRINUSE in its message" },
    async () => {
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = taken.address() as AddressInfo;
        const result = await runExample('exchange-rate', ['--port', String(port)]);
        assert.equal(result.code, 1);
        assert.match(
          result.stderr,
          new RegExp(`Cannot serve on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.*--port <number>`),
        );
      } finally {
        taken.close();
      }
    },
  );

  it('reports a feed that cannot be reached and keeps serving', async () => {
    const app = await serveExample('exchange-rate', ['--port', '0', '--every', '0.2', '--feed', 'http://127.0.0.1:9/']);
    try {
      await app.line(/^EURUSD: download failed:/);
      const html = await (await fetch(app.url)).text();
      assert.match(html, /unavailable, please refresh the page/);
    } finally {
      await app.stop();
    }
  });
});

describe('example command lines', () => {
  it('explain a port that is not a port number in one line and exit with 2', async () => {
    for (const name of ['server-with-pool', 'downloader', 'exchange-rate']) {
      const result = await runExample(name, ['--port', 'eighty']);
      assert.equal(result.code, 2, `${name}: ${result.stderr}`);
      assert.match(result.stderr, /--port must be a port number from 0 to 65535 \(0: any free port\), got "eighty"/);
      assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
    }
  });

  it('explain an argument they do not take, naming their options', async () => {
    const result = await runExample('server-with-pool', ['18086']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /Unexpected argument '18086'.*\(options: --port\)/);
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
  });
});

describe('examples/downloader', () => {
  it(
    'starts a download per session, shows its progress on refresh, then the page',
    { skip: 'Deno' in globalThis && 'Deno reports a child that exited by itself after SIGINT as killed by the signal' },
    async () => {
      const app = await serveExample('downloader', ['--port', '0']);
      try {
        const announced = /Each visitor downloads (\S+)/.exec(await app.line(/Each visitor downloads/))?.[1];
        assert.match(
          announced ?? '',
          /^http:\/\/127\.0\.0\.1:\d+\/page$/,
          'the page it downloads, not its own address',
        );
        assert.notEqual(announced, app.url);
        const visitor = new Visitor();
        assert.match(await visitor.get(app.url), /Starting the download of http:\/\/127\.0\.0\.1:\d+\/page/);
        // Each visit waits 100 ms for the result, so a bounded number of refreshes sees it
        // finish (the page takes about two seconds).
        const seen: string[] = [];
        for (let visit = 0; visit < 100; visit++) {
          const page = await visitor.get(app.url);
          seen.push(page);
          if (/Downloaded/.test(page)) break;
        }
        assert.ok(
          seen.some((page) => /Download in progress: \d+ bytes so far/.test(page)),
          'progress shown',
        );
        const last = seen.at(-1) ?? '';
        assert.match(last, /Downloaded 731 characters/);
        assert.match(last, /Part 20 of 20 of a slow page/);
        // The result was retrieved: the next visit starts a new download.
        assert.match(await visitor.get(app.url), /Starting the download/);
        // Another visitor has a session of its own.
        assert.match(await new Visitor().get(app.url), /Starting the download/);
      } finally {
        const exit = await app.stop();
        assert.equal(exit.code, 0, exit.stderr);
      }
    },
  );

  it(
    'shows the failure as it was thrown in the reactor when the download fails',
    {
      skip:
        ('Bun' in globalThis || 'Deno' in globalThis) &&
        "expects the error of Node's fetch (undici): TypeError: terminated",
    },
    async () => {
      const app = await serveExample('downloader', ['--port', '0', '--url', 'broken']);
      try {
        const visitor = new Visitor();
        assert.match(await visitor.get(app.url), /Starting the download of http:\/\/127\.0\.0\.1:\d+\/broken/);
        let page = '';
        for (let visit = 0; visit < 100 && !/Download failed/.test(page); visit++) page = await visitor.get(app.url);
        assert.match(page, /Download failed:<pre>TypeError: terminated/);
        assert.match(page, /at .*undici/, 'with the stack from the reactor');
        assert.match(page, /other side closed/, 'and its cause');
      } finally {
        await app.stop();
      }
    },
  );
});

describe('examples/ssh-repl', () => {
  /** Logs in, types `input` at the prompt, and returns everything the session printed. */
  function session(port: number, password: string, input: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      client.on('error', reject);
      client.on('ready', () => {
        client.shell({ term: 'dumb' }, (error, stream) => {
          if (error !== undefined) {
            reject(error);
            return;
          }
          let output = '';
          stream.on('data', (chunk: Buffer) => {
            output += chunk.toString();
          });
          stream.on('close', () => {
            client.end();
            resolve(output);
          });
          stream.write(input);
        });
      });
      client.connect({ host: '127.0.0.1', port, username: 'admin', password, readyTimeout: 10_000 });
    });
  }

  it(
    'gives a JavaScript prompt over SSH that sees the live state kept in the reactor',
    { skip: 'Deno' in globalThis && 'Deno reports a child that exited by itself after SIGINT as killed by the signal' },
    async () => {
      const app = await serveExample('ssh-repl', ['--port', '0', '--ssh-port', '0', '--password', 'secret']);
      try {
        const port = Number(/127\.0\.0\.1:(\d+): ssh admin@/.exec(await app.line(/^ssh server on/))?.[1]);
        await fetch(new URL('one', app.url));
        await fetch(new URL('two', app.url));
        const output = await session(port, 'secret', 'stats.requests * 10\nstats.lastPath\napp.name\n.exit\n');
        assert.match(output, /\r\n20\r\n/);
        assert.match(output, /\r\n'\/two'\r\n/);
        assert.match(output, /\r\n'boring web server'\r\n/);
      } finally {
        const exit = await app.stop();
        assert.equal(exit.code, 0, exit.stderr);
      }
    },
  );

  it('refuses a wrong password', async () => {
    const app = await serveExample('ssh-repl', ['--port', '0', '--ssh-port', '0', '--password', 'secret']);
    try {
      const port = Number(/127\.0\.0\.1:(\d+): ssh admin@/.exec(await app.line(/^ssh server on/))?.[1]);
      await assert.rejects(session(port, 'guess', '.exit\n'), /authentication methods failed/);
    } finally {
      await app.stop();
    }
  });

  it('will not start without a password', async () => {
    const result = await runExample('ssh-repl', ['--port', '0', '--ssh-port', '0']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--password/);
  });
});
