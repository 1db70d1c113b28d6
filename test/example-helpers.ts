/**
 * Running the compiled examples as their users do: as programs, in their own processes.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exitOf, type Exit } from './helpers.js';

export function exampleFile(name: string): string {
  return fileURLToPath(new URL(`../examples/${name}.js`, import.meta.url));
}

/** Runs an example to its end (killed after `limit` ms, which fails the test that waits). */
export function runExample(name: string, args: readonly string[] = [], limit = 30_000): Promise<Exit> {
  return exitOf(spawn(process.execPath, [exampleFile(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] }), limit);
}

/** An example that serves until it is stopped. */
export interface Serving {
  /** The first `http://127.0.0.1:<port>/` address it printed. */
  readonly url: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves when a line matching `pattern` has been printed (rejects on exit first). */
  line(pattern: RegExp): Promise<string>;
  /** Like `line()`, for lines printed from now on only. */
  next(pattern: RegExp): Promise<string>;
  /** Sends SIGINT (Ctrl-C) and resolves when it has exited. */
  stop(): Promise<Exit>;
}

/**
 * Starts a server example and resolves once it printed `listening on <url>`. It is
 * killed after `limit` ms whatever happens, so a test can never leave it running.
 */
export function serveExample(name: string, args: readonly string[], limit = 60_000): Promise<Serving> {
  const child = spawn(process.execPath, [exampleFile(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = exitOf(child, limit);
  let text = '';
  const waiting = new Set<{ pattern: RegExp; from: number; resolve: (line: string) => void }>();
  const check = (): void => {
    for (const waiter of waiting) {
      const lines = text.slice(waiter.from).split('\n').slice(0, -1);
      const line = lines.find((candidate) => waiter.pattern.test(candidate));
      if (line !== undefined) {
        waiting.delete(waiter);
        waiter.resolve(line);
      }
    }
  };
  // Lines are looked for in what it writes to stdout and to stderr alike.
  const take = (chunk: Buffer): void => {
    text += chunk.toString();
    check();
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const line = (pattern: RegExp, from = 0): Promise<string> =>
    Promise.race([
      new Promise<string>((resolve) => {
        waiting.add({ pattern, from, resolve });
        check();
      }),
      done.then((exit) => {
        throw new Error(`${name} exited (${exit.code ?? exit.signal}) before printing ${pattern}:\n${exit.stderr}`);
      }),
    ]);
  return line(/listening on http:\/\/127\.0\.0\.1:\d+\//).then((first) => ({
    url: /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(first)?.[1] ?? '',
    output: () => text,
    line: (pattern: RegExp) => line(pattern),
    next: (pattern: RegExp) => line(pattern, text.length),
    stop: () => {
      child.kill('SIGINT');
      return done;
    },
  }));
}

/** A tiny HTTP client that keeps its session cookie, as a browser does. */
export class Visitor {
  #cookie: string | undefined;

  async get(url: string): Promise<string> {
    const response = await fetch(url, { headers: this.#cookie === undefined ? {} : { cookie: this.#cookie } });
    const set = response.headers.get('set-cookie');
    if (set !== null) this.#cookie = set.split(';')[0];
    return await response.text();
  }
}
