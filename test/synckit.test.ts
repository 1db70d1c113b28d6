/**
 * crochet/synckit: synckit's API, with crochet underneath. Worker files are written into a
 * fresh directory per test (each path gets its own isolated reactor), and import
 * crochet/synckit by its file URL, since they live outside this package.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CrochetError, TimeoutError } from 'crochet';
import { expectTypeOf } from 'expect-type';
import { createSyncFn, runAsWorker, TsRunner, type AnyFn, type Syncify, type SynckitOptions } from 'crochet/synckit';
import { exitOf, thrown, type Exit } from './helpers.js';

const require = createRequire(import.meta.url);
const SYNCKIT_URL = import.meta.resolve('crochet/synckit');
const SYNCKIT_PATH = fileURLToPath(SYNCKIT_URL);
const CROCHET_URL = import.meta.resolve('crochet');
const onNode = !('Bun' in globalThis) && !('Deno' in globalThis);
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const stripsTypes = major > 22 || (major === 22 && minor >= 6);

const root = mkdtempSync(join(tmpdir(), 'crochet-synckit-'));
let counter = 0;
/** A fresh directory for one test's files, with a package.json of `type` if given. */
function directory(type?: 'module' | 'commonjs'): string {
  const dir = join(root, `t${++counter}`);
  mkdirSync(dir);
  if (type !== undefined) writeFileSync(join(dir, 'package.json'), JSON.stringify({ type }));
  return dir;
}
function write(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
/** An ES module worker serving `body` (the source of a function expression). */
const esmWorker = (body: string): string =>
  `import { runAsWorker } from ${JSON.stringify(SYNCKIT_URL)};\nrunAsWorker(${body});\n`;
/** A CommonJS worker serving `body`. */
const cjsWorker = (body: string): string =>
  `const { runAsWorker } = require(${JSON.stringify(SYNCKIT_PATH)});\nrunAsWorker(${body});\n`;
/** A worker that says what it is: how it was loaded, and its file. */
/** Workers that say how they were loaded: `this` at the top level is undefined only in an ES module. */
const WHO = `((topLevel) => () => ({ esm: topLevel === undefined }))(this)`;
const ECHO = `async (value, ms = 0) => { await new Promise((resolve) => setTimeout(resolve, ms)); return value; }`;

/** Runs an ES module script in a child Node process (bounded), from this package's directory. */
function runScript(source: string, options: { env?: NodeJS.ProcessEnv; execArgv?: string[] } = {}): Promise<Exit> {
  const dir = directory();
  const script = write(dir, 'main.mjs', source);
  const child = spawn(process.execPath, [...(options.execArgv ?? []), script], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return exitOf(child, 30_000);
}

describe('crochet/synckit: the module', () => {
  it('exports createSyncFn, runAsWorker and TsRunner, to import and to require', () => {
    const required = require('crochet/synckit') as Record<string, unknown>;
    for (const exports of [{ createSyncFn, runAsWorker, TsRunner }, required]) {
      assert.equal(typeof exports['createSyncFn'], 'function');
      assert.equal(typeof exports['runAsWorker'], 'function');
    }
    assert.deepEqual(Object.keys(required).sort(), ['TsRunner', 'createSyncFn', 'runAsWorker']);
    assert.equal(required['createSyncFn'], createSyncFn, 'one instance for import and require');
    assert.deepEqual(
      { ...TsRunner },
      {
        Node: 'node',
        Bun: 'bun',
        TsNode: 'ts-node',
        EsbuildRegister: 'esbuild-register',
        EsbuildRunner: 'esbuild-runner',
        OXC: 'oxc',
        SWC: 'swc',
        TSX: 'tsx',
      },
    );
  });

  it('types a function from the worker function’s type, as synckit does', () => {
    type Worker = (text: string, times?: number) => Promise<string[]>;
    expectTypeOf<Syncify<Worker>>().toEqualTypeOf<(text: string, times?: number) => string[]>();
    expectTypeOf(createSyncFn<Worker>).returns.toEqualTypeOf<Syncify<Worker>>();
    expectTypeOf<(a: number) => number>().toExtend<AnyFn>();
    expectTypeOf<SynckitOptions['tsRunner']>().toEqualTypeOf<TsRunner | undefined>();
    // @ts-expect-error: a runner synckit does not know
    const wrong: SynckitOptions = { tsRunner: 'deno' };
    assert.equal(typeof wrong, 'object');
  });

  it('runAsWorker() does nothing outside a worker file of createSyncFn()', () => {
    assert.equal(
      runAsWorker(() => 1),
      undefined,
    );
  });
});

describe('crochet/synckit: createSyncFn()', () => {
  it('takes an absolute path, a file: URL string or a URL, and returns what the worker returns', () => {
    const dir = directory('module');
    const byPath = createSyncFn<(value: unknown) => Promise<unknown>>(write(dir, 'a.js', esmWorker(ECHO)));
    const byString = createSyncFn<(value: unknown) => Promise<unknown>>(
      pathToFileURL(write(dir, 'b.js', esmWorker(ECHO))).href,
    );
    const byUrl = createSyncFn<(value: unknown) => Promise<unknown>>(
      pathToFileURL(write(dir, 'c.js', esmWorker(ECHO))),
    );
    assert.equal(byPath(1), 1);
    assert.deepEqual(byString({ nested: ['value', 2n] }), { nested: ['value', 2n] });
    assert.equal(byUrl('text'), 'text');
  });

  it("rejects a relative path and a URL that is not a file URL, with synckit's messages", () => {
    assert.throws(() => createSyncFn('./worker.js'), { message: '`workerPath` must be absolute' });
    assert.throws(() => createSyncFn(new URL('https://example.com/worker.js')), /The URL must be of scheme file/);
  });

  it('returns one function per path, and ignores the options of later calls for it', () => {
    const path = write(directory('module'), 'once.js', esmWorker(ECHO));
    const first = createSyncFn<(value: number, ms: number) => Promise<number>>(path);
    const again = createSyncFn<(value: number, ms: number) => Promise<number>>(path, { timeout: 1 });
    assert.equal(first, again);
    assert.equal(again(7, 30), 7, 'the first call’s options (no timeout) still hold');
  });

  it('rebuilds errors thrown in the worker with their class, code, fields and cause', () => {
    const path = write(
      directory('module'),
      'fail.js',
      esmWorker(
        `async () => { throw Object.assign(new RangeError('out of range', { cause: new Error('why') }), { code: 'E_RANGE', detail: { n: 1 } }); }`,
      ),
    );
    const fail = createSyncFn<() => Promise<never>>(path);
    const error = thrown(() => fail());
    assert.ok(error instanceof RangeError);
    assert.equal(error.message, 'out of range');
    assert.equal((error as { code?: unknown }).code, 'E_RANGE');
    assert.deepEqual((error as { detail?: unknown }).detail, { n: 1 });
    assert.ok(error.cause instanceof Error);
    assert.equal(error.cause.message, 'why');
  });

  it("times a call out after `timeout` ms with synckit's message, drops the late reply, and serves later calls", () => {
    const path = write(
      directory('module'),
      'slow.js',
      esmWorker(`async (gate, value) => {
        if (gate) while (Atomics.load(gate, 0) === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        return value;
      }`),
    );
    const call = createSyncFn<(gate: Int32Array | null, value: string) => Promise<string>>(path, { timeout: 50 });
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const error = thrown(() => call(gate, 'late'));
    assert.ok(error instanceof TimeoutError);
    assert.match(error.message, /^Internal error: Atomics\.wait\(\) failed: timed-out/);
    Atomics.store(gate, 0, 1);
    assert.equal(call(null, 'next'), 'next');
    assert.equal(call(null, 'and the next'), 'and the next');
  });

  it('takes the timeout as a number in place of the options', () => {
    const path = write(directory('module'), 'never.js', esmWorker(`() => new Promise(() => {})`));
    assert.ok(thrown(() => createSyncFn<() => Promise<never>>(path, 20)()) instanceof TimeoutError);
  });

  it('reads SYNCKIT_TIMEOUT when the function is made, and has no limit when it is unset', () => {
    const dir = directory('module');
    const previous = process.env['SYNCKIT_TIMEOUT'];
    try {
      process.env['SYNCKIT_TIMEOUT'] = '20';
      const limited = createSyncFn<() => Promise<never>>(
        write(dir, 'env-never.js', esmWorker(`() => new Promise(() => {})`)),
      );
      delete process.env['SYNCKIT_TIMEOUT'];
      const unlimited = createSyncFn<(value: number, ms: number) => Promise<number>>(
        write(dir, 'env-echo.js', esmWorker(ECHO)),
      );
      assert.ok(thrown(() => limited()) instanceof TimeoutError);
      assert.equal(unlimited(3, 100), 3);
      process.env['SYNCKIT_TIMEOUT'] = 'soon';
      assert.throws(() => createSyncFn(write(dir, 'env-bad.js', esmWorker(ECHO))), /SYNCKIT_TIMEOUT/);
    } finally {
      if (previous === undefined) delete process.env['SYNCKIT_TIMEOUT'];
      else process.env['SYNCKIT_TIMEOUT'] = previous;
    }
  });

  it('starts the worker with `execArgv`, or SYNCKIT_EXEC_ARGV, after the process’s own options', () => {
    const dir = directory('module');
    const argv = `() => process.execArgv`;
    const byOption = createSyncFn<() => Promise<string[]>>(write(dir, 'argv.js', esmWorker(argv)), {
      execArgv: ['--no-deprecation'],
    });
    const previous = process.env['SYNCKIT_EXEC_ARGV'];
    process.env['SYNCKIT_EXEC_ARGV'] = '--no-warnings,--no-deprecation';
    let byEnv: () => string[];
    try {
      byEnv = createSyncFn<() => Promise<string[]>>(write(dir, 'argv-env.js', esmWorker(argv)));
    } finally {
      if (previous === undefined) delete process.env['SYNCKIT_EXEC_ARGV'];
      else process.env['SYNCKIT_EXEC_ARGV'] = previous;
    }
    assert.ok(byOption().includes('--no-deprecation'));
    const fromEnv = byEnv();
    assert.ok(fromEnv.includes('--no-warnings') && fromEnv.includes('--no-deprecation'), String(fromEnv));
  });

  it('moves the objects of `transferList` to the worker as it starts', () => {
    const buffer = new ArrayBuffer(8);
    const path = write(directory('module'), 'moved.js', esmWorker(ECHO));
    const echo = createSyncFn<(value: number) => Promise<number>>(path, { transferList: [buffer] });
    assert.equal(buffer.byteLength, 0, 'detached here');
    assert.equal(echo(1), 1);
  });
});

describe('crochet/synckit: worker files', () => {
  it('serves a .js path from the .ts file beside it, .cjs from .cts and .mjs from .mts', () => {
    const dir = directory('module');
    write(dir, 'mapped.ts', esmWorker(`(): string => 'from .ts'`));
    write(dir, 'mapped.js', esmWorker(`() => 'from .js'`));
    write(dir, 'mapped.cts', cjsWorker(`(): string => 'from .cts'`));
    write(dir, 'mapped.cjs', cjsWorker(`() => 'from .cjs'`));
    write(dir, 'mapped.mts', esmWorker(`(): string => 'from .mts'`));
    write(dir, 'plain.js', esmWorker(`() => 'from plain .js'`));
    const tsx = { tsRunner: TsRunner.TSX };
    assert.equal(createSyncFn<() => Promise<string>>(join(dir, 'mapped.js'), tsx)(), 'from .ts');
    assert.equal(createSyncFn<() => Promise<string>>(join(dir, 'mapped.cjs'), tsx)(), 'from .cts');
    assert.equal(
      createSyncFn<() => Promise<string>>(join(dir, 'plain'))(),
      'from plain .js',
      'a path without extension',
    );
    // synckit refuses tsx for .mts files: the refusal shows the .mts file was chosen.
    assert.throws(() => createSyncFn(join(dir, 'mapped.mjs'), tsx), {
      message: /tsx is not supported for \.mts files yet/,
    });
  });

  it(
    'loads a worker as an ES module or CommonJS by its extension, then by package.json `type`',
    {
      skip:
        (('Bun' in globalThis || 'Deno' in globalThis) &&
          'Bun and Deno load ES modules and CommonJS alike: the kind cannot be seen from inside') ||
        false,
    },
    () => {
      const modules = directory('module');
      const commonjs = directory('commonjs');
      const bare = directory();
      const who = (path: string): { esm: boolean } => createSyncFn<() => Promise<{ esm: boolean }>>(path)();
      assert.equal(who(write(modules, 'who.js', esmWorker(WHO))).esm, true);
      assert.equal(who(write(modules, 'who.cjs', cjsWorker(WHO))).esm, false);
      assert.equal(who(write(commonjs, 'who.js', cjsWorker(WHO))).esm, false);
      assert.equal(who(write(commonjs, 'who.mjs', esmWorker(WHO))).esm, true);
      assert.equal(who(write(bare, 'who.js', cjsWorker(WHO))).esm, false);
    },
  );

  it('runs TypeScript workers with the tsx runner, ES module and CommonJS, on every Node', () => {
    const modules = directory('module');
    const commonjs = directory('commonjs');
    const esm = createSyncFn<(x: number) => Promise<number>>(
      write(modules, 'typed.ts', esmWorker(`async (x: number): Promise<number> => x * 2`)),
      { tsRunner: TsRunner.TSX },
    );
    const cjs = createSyncFn<(x: number) => Promise<number>>(
      write(commonjs, 'typed.ts', cjsWorker(`async (x: number): Promise<number> => x * 3`)),
      { tsRunner: TsRunner.TSX },
    );
    assert.equal(esm(2), 4);
    assert.equal(cjs(2), 6);
  });

  it('takes the runner from SYNCKIT_TS_RUNNER, and rejects unknown runners with synckit’s message', () => {
    const dir = directory('module');
    write(dir, 'runner.ts', esmWorker(`(): string => 'typed'`));
    assert.throws(() => createSyncFn(join(dir, 'runner.js'), { tsRunner: 'unknown' as TsRunner }), {
      message: 'Unknown ts runner: unknown',
    });
    const previous = process.env['SYNCKIT_TS_RUNNER'];
    process.env['SYNCKIT_TS_RUNNER'] = 'tsx';
    try {
      assert.equal(createSyncFn<() => Promise<string>>(join(dir, 'runner.ts'))(), 'typed');
    } finally {
      if (previous === undefined) delete process.env['SYNCKIT_TS_RUNNER'];
      else process.env['SYNCKIT_TS_RUNNER'] = previous;
    }
  });

  it(
    "uses Node's type stripping where Node has it, and says so where it does not",
    { skip: !onNode && 'Node only' },
    () => {
      const path = write(directory('module'), 'stripped.mts', esmWorker(`(): string => 'stripped'`));
      if (!stripsTypes) {
        assert.throws(() => createSyncFn(path, { tsRunner: TsRunner.Node }), {
          message: /^type stripping is not supported in this node version/,
        });
        return;
      }
      assert.equal(createSyncFn<() => Promise<string>>(path, { tsRunner: TsRunner.Node })(), 'stripped');
    },
  );

  it('runs CommonJS TypeScript workers with the ts-node runner', () => {
    const path = write(directory('commonjs'), 'ts-node.ts', cjsWorker(`(x: number): number => x + 1`));
    const previous = process.env['TS_NODE_TRANSPILE_ONLY'];
    process.env['TS_NODE_TRANSPILE_ONLY'] = '1';
    try {
      assert.equal(createSyncFn<(x: number) => Promise<number>>(path, { tsRunner: TsRunner.TsNode })(1), 2);
    } finally {
      if (previous === undefined) delete process.env['TS_NODE_TRANSPILE_ONLY'];
      else process.env['TS_NODE_TRANSPILE_ONLY'] = previous;
    }
  });

  it('sets `globalShims` in the worker before its file loads, leaving out modules it cannot find', () => {
    const dir = directory('module');
    const path = write(
      dir,
      'shims.js',
      `globalThis.seenAtLoad = typeof globalThis.shimmedFormat;\n${esmWorker(`() => ({ atLoad: globalThis.seenAtLoad, format: typeof globalThis.shimmedFormat, util: typeof globalThis.shimmedUtil?.inspect, missing: 'notThere' in globalThis })`)}`,
    );
    const shims = createSyncFn<() => Promise<Record<string, unknown>>>(path, {
      globalShims: [
        { moduleName: 'node:util', globalName: 'shimmedFormat', named: 'format' },
        { moduleName: 'node:util', globalName: 'shimmedUtil', named: null },
        { moduleName: 'no-such-module-anywhere', globalName: 'notThere' },
      ],
    });
    assert.deepEqual(shims(), { atLoad: 'function', format: 'function', util: 'function', missing: false });
  });

  it('sets synckit’s preset globals when SYNCKIT_GLOBAL_SHIMS is 1', () => {
    const path = write(directory('module'), 'preset.js', esmWorker(`() => typeof performance.now`));
    const previous = process.env['SYNCKIT_GLOBAL_SHIMS'];
    process.env['SYNCKIT_GLOBAL_SHIMS'] = '1';
    try {
      assert.equal(createSyncFn<() => Promise<string>>(path)(), 'function');
    } finally {
      if (previous === undefined) delete process.env['SYNCKIT_GLOBAL_SHIMS'];
      else process.env['SYNCKIT_GLOBAL_SHIMS'] = previous;
    }
  });

  it('gives each worker file its own globals and its own modules', () => {
    const dir = directory('module');
    write(dir, 'counter.js', `let count = 0;\nexport const next = () => ++count;\n`);
    const body = `async () => { const { next } = await import('./counter.js'); globalThis.mine = (globalThis.mine ?? 0) + 1; return [next(), globalThis.mine]; }`;
    const first = createSyncFn<() => Promise<number[]>>(write(dir, 'one.js', esmWorker(body)));
    const second = createSyncFn<() => Promise<number[]>>(write(dir, 'two.js', esmWorker(body)));
    assert.deepEqual(first(), [1, 1]);
    assert.deepEqual(first(), [2, 2]);
    assert.deepEqual(second(), [1, 1], 'a module cache and globals of its own');
  });

  it('fails calls with the load error when the worker file throws as it loads', () => {
    const path = write(directory('module'), 'broken.js', `throw new Error('this worker cannot load');\n`);
    const broken = createSyncFn<() => Promise<void>>(path);
    const error = thrown(() => broken());
    assert.ok(error instanceof CrochetError);
    assert.ok(error.cause instanceof Error);
    assert.equal(error.cause.message, 'this worker cannot load');
  });

  it('says so when the worker file never calls runAsWorker()', () => {
    const path = write(directory('module'), 'idle.js', `export const nothing = 1;\n`);
    const error = thrown(() => createSyncFn<() => Promise<void>>(path)());
    assert.ok(error instanceof CrochetError);
    assert.equal(error.code, 'ERR_CROCHET_UNKNOWN_FUNCTION');
    assert.match(error.message, /did not call runAsWorker\(fn\) from crochet\/synckit/);
  });
});

describe('crochet/synckit: failures and the process', () => {
  it('fails only the functions of a worker that exits, crashes or vanishes, never the others nor setup()’s reactor', async () => {
    const dir = directory('module');
    const worker = (name: string, body: string): string => JSON.stringify(write(dir, name, esmWorker(body)));
    const exit = await runScript(`
      import { createSyncFn } from ${JSON.stringify(SYNCKIT_URL)};
      import { setup, waitFor, isReactorThread } from ${JSON.stringify(CROCHET_URL)};
      setup();
      export const own = waitFor({ timeout: 10000 })(async () => 'setup reactor');
      if (!isReactorThread()) {
        const outcome = (fn) => { try { return { value: fn() }; } catch (e) { return { name: e.name, code: e.code, cause: e.cause?.message }; } };
        const healthy = createSyncFn(${worker('healthy.js', `(x) => x`)});
        const exits = createSyncFn(${worker('exits.js', `() => process.exit(3)`)});
        const crashes = createSyncFn(${worker('crashes.js', `() => { setTimeout(() => { throw new Error('crashed outside any call'); }); return new Promise(() => {}); }`)});
        const vanishes = createSyncFn(${worker('vanishes.js', `() => process.reallyExit(4)`)});
        const result = {
          before: outcome(() => healthy(1)),
          exits: outcome(() => exits()),
          exitsAgain: outcome(() => exits()),
          crashes: outcome(() => crashes()),
          vanishes: outcome(() => vanishes()),
          after: outcome(() => healthy(2)),
          own: outcome(() => own()),
        };
        console.log(JSON.stringify(result));
      }
    `);
    assert.equal(exit.code, 0, exit.stderr);
    const result = JSON.parse(exit.stdout.trim().split('\n').pop() ?? '') as Record<string, Record<string, unknown>>;
    assert.deepEqual(result['before'], { value: 1 });
    assert.deepEqual(result['exits'], {
      name: 'ReactorStoppedError',
      code: 'ERR_CROCHET_REACTOR_STOPPED',
      cause: 'Reactor code called process.exit(3)',
    });
    assert.deepEqual(result['exitsAgain'], result['exits'], 'later calls fail the same way');
    assert.equal(result['crashes']?.['code'], 'ERR_CROCHET_REACTOR_STOPPED');
    // (Bun ends the thread without telling the reactor why: the cause is then a guess.)
    if (onNode) assert.equal(result['crashes']?.['cause'], 'crashed outside any call');
    assert.equal(result['vanishes']?.['code'], 'ERR_CROCHET_REACTOR_STOPPED', 'a thread gone without a word');
    assert.deepEqual(result['after'], { value: 2 });
    assert.deepEqual(result['own'], { value: 'setup reactor' });
  });

  it('writes what the worker prints in order with the caller’s own output, before the call returns', async () => {
    const path = write(
      directory('module'),
      'loud.js',
      esmWorker(
        `async (n) => { for (let i = 0; i < n; i++) { console.log('worker line', i); process.stderr.write('worker error ' + i + '\\n'); } return n; }`,
      ),
    );
    const exit = await runScript(`
      import { createSyncFn } from ${JSON.stringify(SYNCKIT_URL)};
      const loud = createSyncFn(${JSON.stringify(path)});
      console.log('before');
      loud(3);
      console.log('after');
    `);
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stdout, 'before\nworker line 0\nworker line 1\nworker line 2\nafter\n');
    assert.equal(exit.stderr, 'worker error 0\nworker error 1\nworker error 2\n');
  });

  it(
    'leaves out the options of the process that Node refuses in worker threads (--max-old-space-size)',
    { skip: !onNode && 'Node only' },
    async () => {
      const path = write(directory('module'), 'argv-check.js', esmWorker(`() => process.execArgv`));
      const exit = await runScript(
        `
        import { createSyncFn } from ${JSON.stringify(SYNCKIT_URL)};
        console.log(JSON.stringify(createSyncFn(${JSON.stringify(path)}, { execArgv: ['--no-deprecation'] })()));
      `,
        { execArgv: ['--max-old-space-size=200'] },
      );
      assert.equal(exit.code, 0, exit.stderr);
      assert.deepEqual(JSON.parse(exit.stdout), ['--no-deprecation']);
    },
  );

  it('never keeps the process alive', async () => {
    const dir = directory('module');
    const path = write(
      dir,
      'idle-worker.js',
      esmWorker(`async () => { setInterval(() => {}, 1000); return 'served'; }`),
    );
    const unused = write(dir, 'unused-worker.js', esmWorker(ECHO));
    const exit = await runScript(`
      import { createSyncFn } from ${JSON.stringify(SYNCKIT_URL)};
      createSyncFn(${JSON.stringify(unused)});
      console.log(createSyncFn(${JSON.stringify(path)})());
    `);
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.signal, null);
    assert.equal(exit.stdout, 'served\n');
  });

  it(
    'works in a Yarn PnP project, under `yarn node` and with the PnP hooks given to node itself',
    { skip: !onNode && 'Node only' },
    async () => {
      const dir = directory();
      const yarn = require.resolve('@yarnpkg/cli-dist/bin/yarn.js');
      const packageRoot = fileURLToPath(new URL('../..', import.meta.url));
      write(
        dir,
        'package.json',
        JSON.stringify({
          name: 'pnp-app',
          private: true,
          type: 'module',
          dependencies: { crochet: `portal:${packageRoot}` },
        }),
      );
      write(dir, '.yarnrc.yml', 'nodeLinker: pnp\nenableTelemetry: false\nenableGlobalCache: false\n');
      write(dir, 'yarn.lock', '');
      // Bare imports, resolved by PnP alone (there is no node_modules).
      write(dir, 'worker.js', `import { runAsWorker } from 'crochet/synckit';\nrunAsWorker(async (x) => x * 2);\n`);
      write(
        dir,
        'main.js',
        `import { createSyncFn } from 'crochet/synckit';\nconsole.log(createSyncFn(new URL('./worker.js', import.meta.url))(21));\n`,
      );
      const env: NodeJS.ProcessEnv = { ...process.env, YARN_ENABLE_NETWORK: '0', YARN_ENABLE_IMMUTABLE_INSTALLS: '0' };
      delete env['NODE_OPTIONS'];
      const run = (args: string[]): Promise<Exit> =>
        exitOf(spawn(process.execPath, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] }), 60_000);
      const install = await run([yarn, 'install']);
      assert.equal(install.code, 0, install.stdout + install.stderr);
      const underYarn = await run([yarn, 'node', 'main.js']);
      assert.equal(underYarn.code, 0, underYarn.stderr);
      assert.equal(underYarn.stdout, '42\n');
      const plainNode = await run([
        '--require',
        join(dir, '.pnp.cjs'),
        '--experimental-loader',
        pathToFileURL(join(dir, '.pnp.loader.mjs')).href,
        '--no-warnings',
        'main.js',
      ]);
      assert.equal(plainNode.code, 0, plainNode.stderr);
      assert.equal(plainNode.stdout, '42\n');
    },
  );

  it(
    'gives TypeScript workers the loader the host runs under (node --import tsx) without a runner option',
    { skip: !onNode && 'Node only' },
    async () => {
      const path = write(directory('module'), 'host-typed.ts', esmWorker(`(x: number): number => x + 1`));
      const exit = await runScript(
        `
        import { createSyncFn } from ${JSON.stringify(SYNCKIT_URL)};
        console.log(createSyncFn(${JSON.stringify(path)})(41));
      `,
        { execArgv: ['--import', 'tsx'] },
      );
      assert.equal(exit.code, 0, exit.stderr);
      assert.equal(exit.stdout, '42\n');
    },
  );
});
