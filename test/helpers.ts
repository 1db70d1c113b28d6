/** Helpers shared by the tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly execArgv?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Called with the child once it prints `line` on stdout. */
  readonly onLine?: { readonly line: string; readonly then: (child: ReturnType<typeof spawn>) => void };
  /** A failsafe: the child is killed after this long (the test then fails on its exit). */
  readonly killAfter?: number;
}

/** The path of a compiled fixture, e.g. `fixture('proc-exit.js')`. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** Collects how a child process ends: its output and exit. A failsafe kills it after `killAfter` ms. */
export function exitOf(child: ChildProcess, killAfter = 30_000): Promise<Exit> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const failsafe = setTimeout(() => child.kill('SIGKILL'), killAfter);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(failsafe);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs a fixture script in a child Node process and collects how it ended. */
export function runFixture(name: string, options: RunOptions = {}): Promise<Exit> {
  const child = spawn(process.execPath, [...(options.execArgv ?? []), fixture(name), ...(options.args ?? [])], {
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exit = exitOf(child, options.killAfter);
  const onLine = options.onLine;
  if (onLine !== undefined) {
    let text = '';
    const watch = (chunk: string): void => {
      text += chunk;
      if (!text.split('\n').includes(onLine.line)) return;
      child.stdout.off('data', watch);
      onLine.then(child);
    };
    child.stdout.on('data', watch);
  }
  return exit;
}

/** Parses the last line of a child's stdout as JSON. */
export function lastJson(exit: Exit): unknown {
  const lines = exit.stdout.trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  try {
    return JSON.parse(last) as unknown;
  } catch {
    throw new Error(`Expected JSON on the last line of stdout.\nstdout:\n${exit.stdout}\nstderr:\n${exit.stderr}`);
  }
}

/** Calls `fn` and returns what it threw (failing if it did not throw). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('Expected the call to throw, but it returned');
}

/** A fresh one-slot gate in shared memory. */
export function gate(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** Blocks until slot 0 of `g` is non-zero, for at most `limit` ms, and returns it. */
export function awaitGate(g: Int32Array, limit = 10_000): number {
  Atomics.wait(g, 0, 0, limit);
  return Atomics.load(g, 0);
}

/** Drives a `fixtures/thread-worker.js` worker: each command is answered in order. */
export class Driven {
  readonly worker: Worker;
  #nextId = 1;
  readonly #waiting = new Map<number, (reply: DrivenReply) => void>();

  constructor(options: { readonly setupFirst?: boolean } = {}) {
    this.worker = new Worker(fixture('thread-worker.js'), { workerData: options });
    this.worker.on('message', (reply: DrivenReply) => {
      this.#waiting.get(reply.id)?.(reply);
      this.#waiting.delete(reply.id);
    });
  }

  /** Runs a command; resolves with its value, rejects with its error description. */
  async ask(cmd: string, ...args: unknown[]): Promise<unknown> {
    const reply = await this.tryAsk(cmd, ...args);
    if (!reply.ok) throw Object.assign(new Error(reply.error?.message), reply.error);
    return reply.value;
  }

  /** Runs a command; resolves with its whole reply. */
  tryAsk(cmd: string, ...args: unknown[]): Promise<DrivenReply> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.worker.postMessage({ id, cmd, args });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

export interface DrivenReply {
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: {
    readonly name: string;
    readonly code?: unknown;
    readonly message: string;
    readonly cause?: string;
  };
}
