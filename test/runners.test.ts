import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import {
  checkTsRunner,
  compareVersions,
  currentEnvironment,
  defaultRunner,
  detectRunner,
  detectRunners,
  isEsmPath,
  isTypeScriptPath,
  missingPreloads,
  mustFilterExecArgv,
  preloadsOf,
  runnerExecArgv,
  runnerOfSpecifier,
  splitNodeOptions,
  threadHooks,
  TS_RUNNERS,
  typeStripping,
  workerExecArgv,
  type RunnerEnvironment,
} from '../src/common/runners.js';
import { thrown } from './helpers.js';

/** A Node 20 process with no options, in a worker thread; `changes` override. */
function environment(changes: Partial<RunnerEnvironment> = {}): RunnerEnvironment {
  return {
    runtime: 'node',
    nodeVersion: '20.19.0',
    execArgv: [],
    nodeOptions: '',
    typescript: undefined,
    tsNodeRegistered: false,
    cwd: process.cwd(),
    mainThread: false,
    ...changes,
  };
}

describe('runner names and versions', () => {
  it("names the runners as synckit's TsRunner does", () => {
    assert.deepEqual(
      [...TS_RUNNERS].sort(),
      ['bun', 'esbuild-register', 'esbuild-runner', 'node', 'oxc', 'swc', 'ts-node', 'tsx'].sort(),
    );
  });

  it('rejects an unknown runner with a message that names the option, the runners known and what it got', () => {
    const error = thrown(() => checkTsRunner('tsc', 'options.tsRunner')) as TypeError;
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /^Unknown ts runner: expected `options\.tsRunner` to be one of 'node', 'bun', /);
    assert.match(error.message, /got `'tsc'` \(string\)$/);
    assert.equal(checkTsRunner('swc'), 'swc');
  });

  it('compares versions part by part, with or without a v, missing parts counting as 0', () => {
    assert.ok(compareVersions('20.19.0', '22.6') < 0);
    assert.ok(compareVersions('v22.10.1', '22.6') > 0);
    assert.equal(compareVersions('22.6.0', '22.6'), 0);
    assert.ok(compareVersions('22.22.3', '22.9.0') > 0);
  });

  it('splits NODE_OPTIONS at white space, keeping double-quoted text with its escapes together', () => {
    assert.deepEqual(splitNodeOptions('  --import tsx   -r "a b\\"c" --no-warnings'), [
      '--import',
      'tsx',
      '-r',
      'a b"c',
      '--no-warnings',
    ]);
    assert.deepEqual(splitNodeOptions(''), []);
  });
});

describe('detecting what the process runs under', () => {
  it('finds preloads in all their spellings', () => {
    assert.deepEqual(
      preloadsOf(['--import', 'a', '--import=b', '-r', 'c', '--require=d', '--experimental-loader', 'e']),
      [
        { flag: '--import', specifier: 'a' },
        { flag: '--import', specifier: 'b' },
        { flag: '--require', specifier: 'c' },
        { flag: '--require', specifier: 'd' },
        { flag: '--loader', specifier: 'e' },
      ],
    );
  });

  it('tells the runner of a preload by its package name or by a path or URL into its package', () => {
    assert.equal(runnerOfSpecifier('tsx'), 'tsx');
    assert.equal(runnerOfSpecifier('tsx/esm'), 'tsx');
    assert.equal(runnerOfSpecifier('file:///app/node_modules/tsx/dist/loader.mjs'), 'tsx');
    assert.equal(runnerOfSpecifier('/app/node_modules/tsx/dist/preflight.cjs'), 'tsx');
    assert.equal(runnerOfSpecifier('ts-node/esm'), 'ts-node');
    assert.equal(runnerOfSpecifier('ts-node/register/transpile-only'), 'ts-node');
    assert.equal(runnerOfSpecifier('@swc-node/register/esm-register'), 'swc');
    assert.equal(runnerOfSpecifier('esbuild-register/loader'), 'esbuild-register');
    assert.equal(runnerOfSpecifier('esbuild-runner/register'), 'esbuild-runner');
    assert.equal(runnerOfSpecifier('@oxc-node/core/register'), 'oxc');
    assert.equal(runnerOfSpecifier('tsxx'), undefined);
    assert.equal(runnerOfSpecifier('./hooks.mjs'), undefined);
  });

  it('detects what the tsx command preloads, with all its options', () => {
    const execArgv = [
      '--require',
      '/app/node_modules/tsx/dist/preflight.cjs',
      '--import',
      'file:///app/node_modules/tsx/dist/loader.mjs',
    ];
    assert.deepEqual(detectRunner(environment({ execArgv })), { runner: 'tsx', source: 'execArgv', flags: execArgv });
  });

  it('detects runners of NODE_OPTIONS before those of the command line, and ts-node registered by its command', () => {
    const found = detectRunners(
      environment({ nodeOptions: '--loader ts-node/esm', execArgv: ['--import=tsx'], tsNodeRegistered: true }),
    );
    assert.deepEqual(found, [
      { runner: 'ts-node', source: 'NODE_OPTIONS', flags: ['--loader', 'ts-node/esm'] },
      { runner: 'tsx', source: 'execArgv', flags: ['--import', 'tsx'] },
    ]);
    assert.deepEqual(detectRunners(environment({ tsNodeRegistered: true })), [
      { runner: 'ts-node', source: 'marker', flags: [] },
    ]);
  });

  it("detects Node's type stripping, Bun, and nothing under plain Node 20 or Deno", () => {
    assert.equal(detectRunner(environment()), undefined);
    assert.equal(detectRunner(environment({ runtime: 'deno', nodeVersion: '24.2.0' })), undefined);
    assert.deepEqual(detectRunner(environment({ runtime: 'bun', nodeVersion: '24.3.0' })), {
      runner: 'bun',
      source: 'runtime',
      flags: [],
    });
    assert.deepEqual(detectRunner(environment({ nodeVersion: '24.1.0', typescript: 'strip' })), {
      runner: 'node',
      source: 'runtime',
      flags: [],
    });
    // A loader comes first: it is what loads .ts files under it.
    assert.equal(
      detectRunner(environment({ nodeVersion: '24.1.0', typescript: 'strip', execArgv: ['--import', 'tsx'] }))?.runner,
      'tsx',
    );
  });

  it('tells whether Node strips types from its version, process.features.typescript, or the options before 22.10', () => {
    assert.equal(typeStripping(environment()), 'unsupported');
    assert.equal(typeStripping(environment({ nodeVersion: '22.6.0' })), 'off');
    assert.equal(
      typeStripping(environment({ nodeVersion: '22.6.0', execArgv: ['--experimental-strip-types'] })),
      'strip',
    );
    assert.equal(
      typeStripping(environment({ nodeVersion: '22.8.0', nodeOptions: '--experimental-transform-types' })),
      'transform',
    );
    assert.equal(typeStripping(environment({ nodeVersion: '24.0.0', typescript: false })), 'off');
    assert.equal(typeStripping(environment({ nodeVersion: '24.0.0', typescript: 'strip' })), 'strip');
    assert.equal(typeStripping(environment({ runtime: 'deno', nodeVersion: '20.11.1' })), 'strip');
  });

  it('reads the current process', () => {
    const current = currentEnvironment();
    assert.deepEqual(current.execArgv, process.execArgv);
    assert.equal(current.cwd, process.cwd());
    assert.equal(current.mainThread, true);
  });
});

describe("a worker's options for a runner", () => {
  it("adds each loader's preload as synckit does, for ES modules and for CommonJS", () => {
    const cases: [Parameters<typeof runnerExecArgv>[0], boolean, string[]][] = [
      ['ts-node', true, ['--loader', 'ts-node/esm']],
      ['ts-node', false, ['-r', 'ts-node/register']],
      ['tsx', true, ['--import', 'tsx']],
      ['tsx', false, ['--import', 'tsx']],
      ['esbuild-register', true, ['--loader', 'esbuild-register/loader']],
      ['esbuild-register', false, ['-r', 'esbuild-register']],
      ['esbuild-runner', true, ['-r', 'esbuild-runner/register']],
      ['swc', true, ['--import', '@swc-node/register/esm-register']],
      ['swc', false, ['-r', '@swc-node/register']],
      ['oxc', false, ['--import', '@oxc-node/core/register']],
      ['bun', true, []],
    ];
    for (const [runner, esm, expected] of cases) {
      assert.deepEqual(runnerExecArgv(runner, { esm, environment: environment() }), expected, `${runner} esm=${esm}`);
    }
  });

  it('puts the preload before the given options, and adds none when one of its kind is there', () => {
    assert.deepEqual(runnerExecArgv('tsx', { execArgv: ['--no-warnings'], environment: environment() }), [
      '--import',
      'tsx',
      '--no-warnings',
    ]);
    assert.deepEqual(runnerExecArgv('tsx', { execArgv: ['--import=./x.mjs'], environment: environment() }), [
      '--import=./x.mjs',
    ]);
    assert.deepEqual(
      runnerExecArgv('ts-node', { esm: false, execArgv: ['--require', 'y'], environment: environment() }),
      ['--require', 'y'],
    );
  });

  it("gives Node's type stripping the option its version needs, and none from 23.6", () => {
    assert.deepEqual(runnerExecArgv('node', { environment: environment({ nodeVersion: '22.6.0' }) }), [
      '--experimental-strip-types',
    ]);
    assert.deepEqual(runnerExecArgv('node', { environment: environment({ nodeVersion: '22.9.0' }) }), [
      '--experimental-transform-types',
    ]);
    assert.deepEqual(
      runnerExecArgv('node', { environment: environment({ nodeVersion: '24.0.0', typescript: 'strip' }) }),
      [],
    );
    assert.deepEqual(
      runnerExecArgv('node', { environment: environment({ runtime: 'bun', nodeVersion: '24.3.0' }) }),
      [],
    );
  });

  it('fails for type stripping on a Node without it, or where it is turned off, saying what to do', () => {
    const old = thrown(() => runnerExecArgv('node', { environment: environment() })) as Error;
    assert.match(old.message, /^type stripping is not supported in this node version \(Node 20\.19\.0; /);
    assert.match(old.message, /'tsx'/);
    const off = thrown(() =>
      runnerExecArgv('node', { environment: environment({ nodeVersion: '24.0.0', typescript: false }) }),
    ) as Error;
    assert.match(off.message, /^type stripping is disabled explicitly/);
    const offHere = thrown(() =>
      runnerExecArgv('node', {
        execArgv: ['--no-experimental-strip-types'],
        environment: environment({ nodeVersion: '22.9.0' }),
      }),
    ) as Error;
    assert.match(offHere.message, /^type stripping is disabled explicitly/);
  });

  it("chooses synckit's default runner: bun on Bun, node where types are stripped, else ts-node if installed", () => {
    assert.equal(defaultRunner(environment({ runtime: 'bun', nodeVersion: '24.3.0' })), 'bun');
    assert.equal(defaultRunner(environment({ nodeVersion: '24.0.0', typescript: 'strip' })), 'node');
    // ts-node is a dev dependency of this package.
    assert.equal(defaultRunner(environment()), 'ts-node');
    assert.equal(defaultRunner(environment({ cwd: tmpdir() })), undefined);
  });

  it('leaves out the options a worker started from a file cannot take: --input-type and the code of -e/-p', () => {
    assert.deepEqual(workerExecArgv(['--input-type=module', '-e', 'code', '--no-warnings']), ['--no-warnings']);
    assert.deepEqual(workerExecArgv(['--input-type', 'module', '--print=1', '--import', 'tsx']), ['--import', 'tsx']);
    assert.equal(mustFilterExecArgv(['--input-type=module']), true);
    assert.equal(mustFilterExecArgv(['--input-type', 'commonjs']), true);
    assert.equal(mustFilterExecArgv(['--import', 'tsx', '-e', 'x']), false);
  });
});

describe('preloads a worker would not inherit', () => {
  const register = '/app/node_modules/ts-node/register/transpile-only.js';

  it('gives ts-node registered by its command (no option loads it) as a preload of its register file', () => {
    assert.deepEqual(missingPreloads(environment({ tsNodeRegistered: true, tsNodeRegister: register })), [
      '--require',
      register,
    ]);
  });

  it('gives none when an option loads ts-node already, when its file was not found, or off Node', () => {
    const loaded = { tsNodeRegistered: true, tsNodeRegister: register };
    assert.deepEqual(missingPreloads(environment({ ...loaded, execArgv: ['-r', 'ts-node/register'] })), []);
    assert.deepEqual(missingPreloads(environment({ ...loaded, nodeOptions: '--loader ts-node/esm' })), []);
    assert.deepEqual(missingPreloads(environment({ tsNodeRegistered: true })), []);
    assert.deepEqual(missingPreloads(environment({ ...loaded, runtime: 'bun', nodeVersion: '24.3.0' })), []);
    assert.deepEqual(missingPreloads(environment()), []);
  });
});

describe('files', () => {
  it('tells TypeScript files and ES modules by their extension and package.json', () => {
    const directory = mkdtempSync(join(tmpdir(), 'crochet-runners-'));
    try {
      mkdirSync(join(directory, 'esm'));
      writeFileSync(join(directory, 'esm', 'package.json'), '{"type":"module"}');
      writeFileSync(join(directory, 'package.json'), '{}');
      assert.equal(isTypeScriptPath('/a/b.ts'), true);
      assert.equal(isTypeScriptPath('file:///a/b.mts?x=1'), true);
      assert.equal(isTypeScriptPath('/a/b.tsx'), true);
      assert.equal(isTypeScriptPath('/a/b.js'), false);
      assert.equal(isEsmPath(join(directory, 'esm', 'a.ts')), true);
      assert.equal(isEsmPath(pathToFileURL(join(directory, 'esm', 'a.cts')).href), false);
      assert.equal(isEsmPath(join(directory, 'a.ts')), false);
      assert.equal(isEsmPath(join(directory, 'a.mts')), true);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('hooks a worker thread registers itself', () => {
  const tsx = ['--import', 'tsx'];

  it('names tsx’s register API for a worker thread on Node 20, and on 22 and 24 before tsx registers there itself', () => {
    for (const nodeVersion of ['20.19.0', '22.12.0', '24.11.0']) {
      const hooks = threadHooks(environment({ nodeVersion, execArgv: tsx }));
      assert.equal(hooks?.runner, 'tsx', nodeVersion);
      assert.match(
        hooks.module,
        /^file:.*\/tsx\/dist\/esm\/api\/index\.c?js|^file:.*\/tsx\/dist\/esm\/api\/index\.mjs/,
      );
    }
  });

  it('names none in the main thread, on a Node where tsx registers in workers, without tsx, or off Node', () => {
    assert.equal(threadHooks(environment({ execArgv: tsx, mainThread: true })), undefined);
    for (const nodeVersion of ['22.22.3', '24.11.1', '25.1.0', '26.0.0', '27.0.0']) {
      assert.equal(threadHooks(environment({ nodeVersion, execArgv: tsx })), undefined, nodeVersion);
    }
    assert.equal(threadHooks(environment({ execArgv: ['--loader', 'ts-node/esm'] })), undefined);
    assert.equal(threadHooks(environment({ runtime: 'bun', execArgv: tsx })), undefined);
    assert.equal(threadHooks(environment({ execArgv: tsx, cwd: tmpdir() })), undefined);
  });
});
