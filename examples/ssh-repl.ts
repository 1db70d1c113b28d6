/**
 * SSH into your running process: the original Crochet's `ssh.py`. A small web server
 * runs as usual, and an SSH server in the reactor gives whoever logs in a JavaScript
 * prompt (`node:repl`) inside the process, to look at its live state.
 *
 *     npm run example -- ssh-repl --password secret
 *     ssh admin@127.0.0.1 -p 5022         # then, at the prompt: stats, process.memoryUsage()
 *
 * The prompt runs in the reactor thread, so it sees what lives there: here `stats`,
 * which the web server's synchronous handler updates with a blocking call on every
 * request, and `app`, a description of the application. Objects of the main thread are
 * not shared memory: hand the prompt what it should see by keeping it in the reactor,
 * as `stats` is. The server listens on 127.0.0.1 only and uses a host key made at
 * start-up; the password is given on the command line.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual, createHash } from 'node:crypto';
import { start as startRepl } from 'node:repl';
import { Transform } from 'node:stream';
import { isReactorThread, onShutdown, setup, waitFor } from 'crochet';
import { parseOptions } from './support/cli.js';
import ssh2 from 'ssh2';
import { serve } from './support/serve.js';

setup();

// ---- reactor code ----------------------------------------------------------------------

/** Live state of the application, kept in the reactor where the prompt can see it. */
const stats = { requests: 0, lastPath: '', startedAt: new Date().toISOString() };

const countRequest = waitFor({ timeout: 1000 })((path: string) => {
  stats.requests++;
  stats.lastPath = path;
});

/** Compares two secrets in constant time (hashing first makes the lengths equal). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** A fresh ed25519 host key. ssh2 now and then makes one it cannot read back: make another. */
function makeHostKey(): string {
  for (let attempt = 0; attempt < 10; attempt++) {
    const key = ssh2.utils.generateKeyPairSync('ed25519').private;
    if (!(ssh2.utils.parseKey(key) instanceof Error)) return key;
  }
  throw new Error('could not make an SSH host key');
}

/**
 * Starts an SSH server on 127.0.0.1:`port` for `username`/`password`, giving each
 * login a JavaScript prompt whose globals include `namespace`. Returns its port.
 */
const startSshServer = waitFor({ timeout: 10_000 })(async (
  port: number,
  username: string,
  password: string,
  namespace: Record<string, unknown>,
) => {
  const hostKey = makeHostKey();
  const clients = new Set<ssh2.Connection>();
  const server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('authentication', (context) => {
      if (context.method === 'password' && context.username === username && sameSecret(context.password, password)) {
        context.accept();
      } else {
        context.reject(['password']);
      }
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('pty', (accept) => {
          accept();
        });
        session.on('shell', (accept) => {
          const stream = accept();
          // A terminal wants \r\n line ends; the prompt writes \n.
          const output = new Transform({
            transform(chunk: Buffer, _encoding, done) {
              done(null, chunk.toString().replace(/\r?\n/g, '\r\n'));
            },
          });
          output.pipe(stream);
          const prompt = startRepl({ input: stream, output, terminal: true, prompt: '> ', useGlobal: false });
          Object.assign(prompt.context, namespace, { stats });
          prompt.on('exit', () => {
            stream.exit(0);
            stream.end();
          });
        });
      });
    });
    client.on('error', () => {
      // A client that went away: nothing to do.
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  onShutdown(
    () =>
      new Promise<void>((resolve) => {
        for (const client of clients) client.end();
        server.close(() => {
          resolve();
        });
      }),
  );
  return (server.address() as AddressInfo).port;
});

// ---- the application: synchronous code ---------------------------------------------

if (!isReactorThread()) {
  const { values } = parseOptions({
    options: {
      port: { type: 'string', default: '8082' },
      'ssh-port': { type: 'string', default: '5022' },
      user: { type: 'string', default: 'admin' },
      password: { type: 'string' },
    },
  });
  if (values.password === undefined || values.password === '') {
    console.error('Give the SSH password with --password <secret>.');
    process.exit(2);
  }

  const web = createServer((request, response) => {
    countRequest(request.url ?? '/');
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('Welcome to my boring web server!\n');
  });
  serve(web, values.port, (url) => {
    const sshPort = startSshServer(Number(values['ssh-port']), values.user ?? 'admin', values.password ?? '', {
      app: { name: 'boring web server', url, pid: process.pid },
    });
    console.log(`listening on ${url} (Ctrl-C to stop)`);
    console.log(`ssh server on 127.0.0.1:${sshPort}: ssh ${values.user}@127.0.0.1 -p ${sshPort}`);
  });
}
