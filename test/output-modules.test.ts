/**
 * Reactor output (endless, binary) and how the reactor loads modules: a module whose
 * import never ends, a module one thread sees by path and the reactor by URL, and load
 * failures explained. Each runs in a child process, bounded by a failsafe.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fixture, lastJson, runFixture } from './helpers.js';

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** How long the child ran, in ms. */
  readonly took: number;
  readonly stdout: Buffer;
  readonly stdoutBytes: number;
  readonly stderr: string;
}

/**
 * Runs a fixture with its stdout piped here: kept whole (`keep`), or only counted (a
 * flood). `pauseFor`: the pipe is not read for that long at first (ms). A failsafe kills
 * the child after `killAfter` ms.
 */
function run(
  name: string,
  args: readonly string[],
  options: { keep?: boolean; pauseFor?: number; killAfter?: number } = {},
): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [fixture(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stdoutBytes = 0;
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdoutBytes += chunk.length;
    if (options.keep === true) chunks.push(chunk);
  });
  if (options.pauseFor !== undefined) {
    child.stdout.pause();
    setTimeout(() => child.stdout.resume(), options.pauseFor);
  }
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const failsafe = setTimeout(() => child.kill('SIGKILL'), options.killAfter ?? 20_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(failsafe);
      resolve({ code, signal, took: Date.now() - started, stdout: Buffer.concat(chunks), stdoutBytes, stderr });
    });
  });
}

/** The JSON lines a flood fixture wrote to stderr. */
function reports(stderr: string): { what: string; name?: string; took: number; rss: number }[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { what: string; name?: string; took: number; rss: number });
}

/** How a step of a fixture ended (see fixtures/one-kit.ts), and how long it took. */
interface Step {
  readonly ok?: boolean;
  readonly name?: string;
  readonly message?: string;
  readonly value?: unknown;
  readonly took: number;
}

const nodeMajor = Number(process.versions.node.split('.')[0]);

describe(
  'reactor output that never ends',
  { skip: 'Deno' in globalThis || 'Bun' in globalThis ? 'Node only' : false },
  () => {
    it('times out a call whose reactor code prints in an endless loop, and lets the process exit after its main module ends (stdout a pipe)', async () => {
      const exit = await run('om-flood.js', []);
      assert.equal(exit.signal, null, `the process did not exit by itself:\n${exit.stderr}`);
      assert.equal(exit.code, 0, exit.stderr);
      const [call] = reports(exit.stderr);
      assert.equal(call?.name, 'TimeoutError');
      assert.ok((call?.took ?? Infinity) < 5000, `the 1 s timeout held (${call?.took} ms)`);
      assert.ok(exit.took < 15_000, `the process exited (${exit.took} ms)`);
      assert.ok(exit.stdoutBytes > 0, 'the output went out');
    });

    it('keeps memory bounded while reactor code prints without end into a pipe nobody reads, says how much output was dropped, and exits when the application is done', async () => {
      // The pipe is not read for 6 s: long enough for the flood to fill crochet's 16 MiB and
      // stall for its 1 s even on a machine so loaded that the flood runs at a few MB/s.
      const exit = await run('om-flood.js', ['linger', '7000'], { pauseFor: 6000, killAfter: 30_000 });
      assert.equal(exit.signal, null, `the process did not exit by itself:\n${exit.stderr}`);
      assert.equal(exit.code, 0, exit.stderr);
      const [call, linger] = reports(exit.stderr);
      assert.equal(call?.name, 'TimeoutError');
      assert.ok((call?.took ?? Infinity) < 5000, `the 1 s timeout held (${call?.took} ms)`);
      assert.equal(linger?.what, 'linger', exit.stderr);
      assert.ok((linger?.rss ?? Infinity) < 700, `memory stayed bounded (rss ${linger?.rss} MiB)`);
      assert.match(exit.stderr, /crochet: output dropped: \d+ bytes/);
    });
  },
);

describe('binary output of reactor code', () => {
  const expected = Buffer.concat([
    Buffer.from('start\na'),
    Buffer.from([0xff, 0xfe, 0, 0x80, 0xff, 0x00, 0xc3, 0xe9]),
    Buffer.from('|\nbz\nend\n'),
  ]);
  for (const mode of ['main', 'worker', 'noSetup']) {
    // After noSetup() reactor code writes with the main thread's own stdout, which on Bun
    // writes a string's text whatever the encoding given.
    const skip = mode === 'noSetup' && 'Bun' in globalThis && "Bun's process.stdout.write() ignores the encoding";
    it(
      `writes Buffers, Uint8Arrays and hex/latin1 strings from reactor code to stdout byte for byte, in order (${mode === 'main' ? 'setup() on the main thread' : mode === 'worker' ? 'setup() in a worker thread' : 'noSetup(), called from a worker'})`,
      { skip },
      async () => {
        const exit = await run('om-bytes.js', [mode], { keep: true });
        assert.equal(exit.code, 0, exit.stderr);
        let seen = exit.stdout;
        let wanted = expected;
        if ('Deno' in globalThis && mode !== 'noSetup') {
          // Deno's console writes to the file descriptors itself, not through
          // process.stdout, so what reactor code logs with console.log is not captured and
          // reaches stdout out of order with the rest (see docs/runtimes.md): it must be
          // there once; the rest, byte for byte and in order.
          const logged = Buffer.from('|\n');
          const at = seen.indexOf(logged);
          assert.notEqual(at, -1, `stdout: ${seen.toString('hex')}`);
          seen = Buffer.concat([seen.subarray(0, at), seen.subarray(at + logged.length)]);
          const there = expected.indexOf(logged);
          wanted = Buffer.concat([expected.subarray(0, there), expected.subarray(there + logged.length)]);
        }
        assert.deepEqual([...seen], [...wanted], `stdout: ${exit.stdout.toString('hex')}`);
      },
    );
  }
});

describe('a module whose top-level await never settles in the reactor', () => {
  it('fails calls into it with a TimeoutError naming it at the start-up limit, while calls into other modules from the same threads work, and shutdown({ timeout: 500 }) returns promptly', async () => {
    const exit = await runFixture('om-stuck.js', { args: ['setup'], killAfter: 20_000 });
    assert.equal(exit.code, 0, exit.stderr);
    const seen = lastJson(exit) as {
      mainStuck?: Step;
      mainOther?: Step;
      shutdownTook?: number;
      worker?: Record<string, Step>;
    };
    const mainStuck = seen.mainStuck;
    assert.equal(mainStuck?.name, 'TimeoutError');
    assert.match(String(mainStuck?.message), /still importing .*om-stuck-module\.js/);
    assert.match(String(mainStuck?.message), /startupTimeout/);
    assert.match(String(mainStuck?.message), /isReactorThread/);
    assert.ok(mainStuck !== undefined && mainStuck.took >= 900 && mainStuck.took < 5000, `took ${mainStuck?.took} ms`);
    const worker = seen.worker ?? {};
    assert.equal(worker['stuck']?.name, 'TimeoutError', 'a worker thread’s call into it times out too');
    assert.match(String(worker['stuck']?.message), /om-stuck-module\.js/);
    assert.ok((worker['stuck']?.took ?? Infinity) < 5000);
    assert.equal(worker['other']?.ok, true, JSON.stringify(worker['other']));
    assert.equal((worker['other']?.value as { doubled: number }).doubled, 42);
    assert.equal(seen.mainOther?.ok, true, JSON.stringify(seen.mainOther));
    assert.ok(Number(seen.shutdownTook) < 1300, `shutdown took ${String(seen.shutdownTook)} ms`);
  });

  it('fails a worker thread’s calls into it after noSetup() at the start-up limit, while its calls into other modules work', async () => {
    const exit = await runFixture('om-stuck.js', { args: ['noSetup'], killAfter: 20_000 });
    assert.equal(exit.code, 0, exit.stderr);
    const seen = lastJson(exit) as { worker?: Record<string, Step> };
    const worker = seen.worker;
    assert.equal(worker?.['stuck']?.name, 'TimeoutError', JSON.stringify(worker?.['stuck']));
    assert.match(String(worker?.['stuck']?.message), /still importing .*om-stuck-module\.js/);
    assert.ok((worker?.['stuck']?.took ?? Infinity) < 5000);
    assert.equal(worker?.['other']?.ok, true, JSON.stringify(worker?.['other']));
  });
});

describe('module identity', () => {
  it('finds the wrapper of an ES module with top-level await that the calling thread reports by its path while the reactor loads it by URL, also in a directory whose name needs percent-encoding', async () => {
    const plain = fixture('om-path-module.js');
    const odd = join(dirname(plain), 'om odd %20 dir é', 'om-path-module.js');
    mkdirSync(dirname(odd), { recursive: true });
    cpSync(plain, odd);
    try {
      for (const file of [plain, odd]) {
        const exit = await runFixture('om-path-url.js', { args: [file], killAfter: 20_000 });
        assert.equal(exit.code, 0, exit.stderr);
        assert.deepEqual(
          (({ ok, value, code, message }) => ({ ok, value, code, message }))(lastJson(exit) as Record<string, unknown>),
          { ok: true, value: 5, code: undefined, message: undefined },
        );
      }
    } finally {
      rmSync(dirname(odd), { recursive: true, force: true });
    }
  });
});

describe('modules that fail to load in the reactor', () => {
  it(
    'fails a call into a TypeScript module the reactor cannot load with a message that names the function and its line, says Node cannot load TypeScript in worker threads and what to do, and keeps the load error as cause',
    { skip: nodeMajor >= 22 && 'Node 22.6+ may load TypeScript in worker threads by itself' },
    async () => {
      const file = join(dirname(fixture('om-typescript.js')), 'om-generated', 'rate.ts');
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(
        file,
        "// A TypeScript module (its text is JavaScript too).\nimport { waitFor } from 'crochet';\nexport const fetchRate = waitFor({ timeout: 5000 })(function fetchRate(currency) { return currency.length; });\n",
      );
      try {
        const exit = await runFixture('om-typescript.js', { args: [file], killAfter: 20_000 });
        assert.equal(exit.code, 0, exit.stderr);
        const result = lastJson(exit) as Record<string, unknown>;
        assert.equal(result['code'], 'ERR_CROCHET_UNKNOWN_FUNCTION');
        assert.match(
          String(result['message']),
          /^Could not load \S*rate\.ts in the reactor to run fetchRate\(\) \(rate\.ts:3\b/,
        );
        assert.match(String(result['message']), /cannot load TypeScript in worker threads/);
        assert.match(String(result['message']), /compile it/);
        assert.match(String(result['message']), /Node 22\.6\+/);
        // Hooks registered by module.register() in another thread do not reach the reactor on
        // Node 20; a TypeScript runner's preload, which runs in every thread, does.
        assert.match(String(result['message']), /TypeScript runner/);
        assert.equal(result['causeCode'], 'ERR_UNKNOWN_FILE_EXTENSION');
      } finally {
        rmSync(dirname(file), { recursive: true, force: true });
      }
    },
  );

  it('explains a call into a module whose top-level code calls a wrapper when the reactor runs it again: names the function and its line, says to guard it with if (!isReactorThread()), and keeps the ERR_CROCHET_REACTOR_THREAD error as cause', async () => {
    const exit = await runFixture('proc-unguarded.js', { killAfter: 20_000 });
    assert.equal(exit.code, 1);
    assert.match(
      exit.stderr,
      /Could not load \S*proc-unguarded\.js in the reactor to run an anonymous function \(proc-unguarded\.js:\d+\b/,
    );
    assert.match(exit.stderr, /top-level code runs again in the reactor thread/);
    assert.match(exit.stderr, /if \(!isReactorThread\(\)\)/);
    if ('Deno' in globalThis) {
      // Deno prints an uncaught error's cause as `Caused by: ` and its stack, without its
      // fields: the cause is told by its message (its code is kept all the same).
      assert.match(
        exit.stderr,
        /Caused by: CrochetError: A wrapped function is a waitFor\(\) wrapper and was called in the reactor thread/,
      );
    } else {
      // (Node prints the cause as `[cause]: CrochetError … code: '…'`, Bun on its own with double quotes.)
      assert.match(exit.stderr, /CrochetError[^]*code: ['"]ERR_CROCHET_REACTOR_THREAD['"]/);
    }
  });
});
