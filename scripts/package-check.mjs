// The package as users get it: `npm run test:package` (after `npm run build`).
//
// Packs the package with `npm pack`, installs the tarball into a fresh project in a
// temporary directory, and there runs an ES module consumer and a CommonJS consumer
// (each calls a wrapped function) and type-checks TypeScript consumers: one without
// @types/node (with the DOM library and with none), a CommonJS one (.cts) under
// `module` `nodenext`, and one with @types/node under `moduleResolution` `nodenext` and
// `bundler`. Then publint and attw check the package.
// The package is ES-module only on purpose: one module instance per process holds the
// wrapper registry and the reactor connection, which a dual CommonJS build would split.
// `require('crochet')` works through Node's require(esm) (Node 20.19+), which the
// CommonJS consumer below proves; so attw runs with its esm-only profile.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'crochet-package-'));
const step = (text) => process.stderr.write(`package check: ${text}\n`);
const run = (command, args, cwd = work) =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

try {
  step('npm pack');
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], root));
  const tarball = join(work, packed.filename);
  const files = packed.files.map((file) => file.path);
  for (const needed of [
    'dist/index.js',
    'dist/index.d.ts',
    'dist/supervisor/main.js',
    'dist/reactor-main.js',
    'dist/synckit.js',
    'dist/synckit.d.ts',
    'dist/supervisor/isolated.js',
    'README.md',
    'LICENSE',
  ]) {
    if (!files.includes(needed)) throw new Error(`the package lacks ${needed}`);
  }
  const stray = files.filter((file) => /^(src|test|build|examples|benchmarks)\//.test(file) || file.endsWith('.map'));
  if (stray.length > 0) throw new Error(`the package ships files users do not need: ${stray.join(', ')}`);

  step('install the tarball into a fresh project, without @types/node');
  const project = join(work, 'project');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }, null, 2));
  const typescript = JSON.parse(
    run('node', ['-p', 'JSON.stringify(require("typescript/package.json").version)'], root),
  );
  const typesNode = JSON.parse(
    run('node', ['-p', 'JSON.stringify(require("@types/node/package.json").version)'], root),
  );
  const install = (...packages) =>
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...packages], project);
  install(tarball, `typescript@${typescript}`);
  const tsc = (config) =>
    run('node', [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], project);
  const tsconfig = (name, files, options) =>
    writeFileSync(
      join(project, name),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, ...options }, files }),
    );

  // crochet's declarations import no `node:` module and use no Node-only global type, so a
  // program without @types/node type-checks, with the DOM library or with none.
  step('a TypeScript consumer without @types/node, with and without the DOM library');
  writeFileSync(
    join(project, 'bare.ts'),
    `import { abortSignal, type EventualResult, registerError, runInReactor, setup, TimeoutError, transfer, waitFor } from 'crochet';
class RateError extends Error {}
registerError(RateError);
setup({ resourceLimits: { maxOldGenerationSizeMb: 64 }, startupTimeout: 10000 });
export const length = waitFor({ timeout: 1000 })(async (text: string) => {
  const signal = abortSignal();
  if (signal.aborted) throw new RateError('aborted');
  return text.length;
});
export const start = runInReactor(async (size: number) => {
  const bytes = new Uint8Array(size);
  return transfer(bytes, [bytes.buffer]);
});
const n: number = length('abc');
const result: EventualResult<Uint8Array> = start(4);
export const outcome = [n, result, new TimeoutError('x') instanceof Error] as const;
`,
  );
  tsconfig('tsconfig.bare-dom.json', ['bare.ts'], { module: 'nodenext', moduleResolution: 'nodenext', types: [] });
  tsc('tsconfig.bare-dom.json');
  tsconfig('tsconfig.bare-es.json', ['bare.ts'], {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    lib: ['es2022'],
    types: [],
  });
  tsc('tsconfig.bare-es.json');

  // A CommonJS TypeScript module requires crochet (an ES module) under `module: nodenext`;
  // under `node16` TypeScript refuses it (TS1479), as the README says.
  step('a CommonJS TypeScript consumer (.cts) under module nodenext');
  writeFileSync(
    join(project, 'consumer.cts'),
    `import { setup, waitFor } from 'crochet';
setup();
export const double = waitFor({ timeout: 1000 })(async (x: number) => 2 * x);
const four: number = double(2);
export { four };
`,
  );
  tsconfig('tsconfig.cts.json', ['consumer.cts'], { module: 'nodenext', target: 'es2022', types: [] });
  tsc('tsconfig.cts.json');

  install(`@types/node@${typesNode}`);

  step('an ES module consumer');
  writeFileSync(
    join(project, 'esm.mjs'),
    `import { isReactorThread, setup, waitFor } from 'crochet';
setup();
export const double = waitFor({ timeout: 10000 })(async (x) => 2 * x);
if (!isReactorThread()) console.log(JSON.stringify({ esm: double(21) }));
`,
  );
  const esm = run('node', ['esm.mjs'], project).trim();
  if (esm !== '{"esm":42}') throw new Error(`the ES module consumer printed ${esm}`);

  step('a CommonJS consumer');
  writeFileSync(
    join(project, 'cjs.cjs'),
    `const { isReactorThread, setup, waitFor } = require('crochet');
setup();
const triple = waitFor({ timeout: 10000 })(async (x) => 3 * x);
module.exports = { triple };
if (!isReactorThread()) console.log(JSON.stringify({ cjs: triple(14) }));
`,
  );
  const cjs = run('node', ['cjs.cjs'], project).trim();
  if (cjs !== '{"cjs":42}') throw new Error(`the CommonJS consumer printed ${cjs}`);

  step('crochet/synckit consumers: ES module and CommonJS, with ES module and CommonJS workers');
  writeFileSync(
    join(project, 'worker.mjs'),
    `import { runAsWorker } from 'crochet/synckit';
runAsWorker(async (x) => x * 2);
`,
  );
  writeFileSync(
    join(project, 'worker.cjs'),
    `const { runAsWorker } = require('crochet/synckit');
runAsWorker(async (x) => x * 3);
`,
  );
  writeFileSync(
    join(project, 'synckit-esm.mjs'),
    `import { createSyncFn } from 'crochet/synckit';
const double = createSyncFn(new URL('./worker.mjs', import.meta.url));
const triple = createSyncFn(new URL('./worker.cjs', import.meta.url));
console.log(JSON.stringify({ esm: [double(21), triple(14)] }));
`,
  );
  writeFileSync(
    join(project, 'synckit-cjs.cjs'),
    `const { createSyncFn } = require('crochet/synckit');
const double = createSyncFn(require.resolve('./worker.mjs'));
const triple = createSyncFn(require.resolve('./worker.cjs'));
console.log(JSON.stringify({ cjs: [double(21), triple(14)] }));
`,
  );
  const synckitEsm = run('node', ['synckit-esm.mjs'], project).trim();
  if (synckitEsm !== '{"esm":[42,42]}') throw new Error(`the crochet/synckit ES module consumer printed ${synckitEsm}`);
  const synckitCjs = run('node', ['synckit-cjs.cjs'], project).trim();
  if (synckitCjs !== '{"cjs":[42,42]}') throw new Error(`the crochet/synckit CommonJS consumer printed ${synckitCjs}`);

  step('a TypeScript consumer, nodenext and bundler');
  writeFileSync(
    join(project, 'synckit-consumer.ts'),
    `import { type AnyFn, createSyncFn, type GlobalShim, runAsWorker, type Syncify, type SynckitOptions, TsRunner } from 'crochet/synckit';
const options: SynckitOptions = { timeout: 1000, tsRunner: TsRunner.TSX, globalShims: [] satisfies GlobalShim[] };
const fn: Syncify<(x: number) => Promise<string>> = createSyncFn<(x: number) => Promise<string>>('/abs/worker.js', options);
const text: string = fn(1);
const any: AnyFn = (a: number) => a;
runAsWorker(async (x: number) => String(x));
console.log(text, any);
`,
  );
  writeFileSync(
    join(project, 'synckit-consumer.cts'),
    `import synckit = require('crochet/synckit');
const fn = synckit.createSyncFn<(x: number) => Promise<string>>('/abs/worker.js', 1000);
const text: string = fn(1);
synckit.runAsWorker((x: number) => x);
console.log(text, synckit.TsRunner.Node);
`,
  );
  writeFileSync(
    join(project, 'consumer.ts'),
    `import { type EventualResult, runInReactor, setup, TimeoutError, waitFor } from 'crochet';
setup({ logger: console });
export const length = waitFor({ timeout: 1000 })(async (text: string) => text.length);
export const start = runInReactor(async (n: number) => [n, String(n)] as const);
const n: number = length('abc');
const result: EventualResult<readonly [number, string]> = start(1);
const error: unknown = new TimeoutError('x');
console.log(n, result, error instanceof TimeoutError);
`,
  );
  for (const resolution of ['nodenext', 'bundler']) {
    tsconfig(
      `tsconfig.${resolution}.json`,
      resolution === 'nodenext'
        ? ['consumer.ts', 'synckit-consumer.ts', 'synckit-consumer.cts']
        : ['consumer.ts', 'synckit-consumer.ts'],
      {
        module: resolution === 'nodenext' ? 'nodenext' : 'esnext',
        moduleResolution: resolution,
        target: 'es2022',
        types: ['node'],
      },
    );
    tsc(`tsconfig.${resolution}.json`);
  }

  step('publint');
  run('npx', ['publint', '--strict'], root);
  step('attw');
  run('npx', ['attw', '--pack', '.', '--profile', 'esm-only'], root);
  console.log(
    'package check: all good (ESM, CommonJS and TypeScript consumers of crochet and crochet/synckit, with and without @types/node; publint; attw)',
  );
} catch (error) {
  const output = [error.stdout, error.stderr].filter(Boolean).join('\n');
  console.error(`package check failed: ${error.message}\n${output}`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
