// The workloads users run, side by side with the peers:
//
//   npm run build && node benchmarks/workloads.mjs
//
// Environment: ROUNDS (default 5: about 5 minutes on a 2-core machine), BUSY=0 to skip the busy-core condition, TINY_CALLS
// (default 100000), WORKLOADS to run only some of them (a comma-separated list of prettier, eslint, tiny, payloads).
//
// 1. prettier: format the first 250 `.js` files of the installed date-fns (sorted by path,
//    its cdn bundles left out) synchronously, one call per file; a plain worker thread
//    driven by postMessage/await does the same work for reference.
// 2. eslint: ESLint 9 over the same files with eslint-plugin-prettier's `prettier/prettier`
//    (synckit) or a rule of ours that calls prettier through crochet
//    (workloads/prettier-rule.mjs); without and with `--concurrency 2`.
// 3. tiny: 100,000 lookups in a Map kept in the reactor or worker.
// 4. payloads: source text of 2 KiB, 2 KiB + 1, 20 KiB, 200 KiB and 2 MiB echoed back; the
//    reference is two structuredClone()s of the same string plus 3 µs.
// (Whole-process start-up is benchmarks/startup.mjs.)
//
// Each workload runs in a fresh process per contender (workloads/case.mjs), under bash's
// `time` and coreutils' `timeout`, as in startup.mjs: wall time from spawn to exit, CPU
// time user + system of the whole process, all threads. Every round runs each contender
// once, in an order that rotates from round to round. Both conditions: a quiet machine,
// and one core kept busy by a spinning process this script starts (and always kills).
// The outputs of every contender are digested and compared: a workload whose outputs
// differ is reported as failed, and the script exits with code 1 after writing its results.
//
// Prints the results as markdown on stdout (progress goes to stderr) and writes
// benchmarks/workloads-results.json.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PAYLOADS } from './workloads/payloads.mjs';
import { machine, mean, median, procCpu, quantile, sleep, startHog } from './measure.mjs';

const ROUNDS = Number(process.env.ROUNDS || 5);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1)
  throw new RangeError(`ROUNDS must be a whole number >= 1, got ${process.env.ROUNDS}`);
const BUSY = process.env.BUSY !== '0';
const CORPUS_FILES = 250;
/** A run that takes longer than this has hung: it is killed and reported. */
const RUN_TIMEOUT_S = 180;
const caseScript = fileURLToPath(new URL('./workloads/case.mjs', import.meta.url));
const out = new URL('./workloads-results.json', import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));

// ---- the corpus: copied out of node_modules (which ESLint ignores) ---------------------

const corpusDir = mkdtempSync(join(os.tmpdir(), 'crochet-workloads-'));
const source = join(root, 'node_modules', 'date-fns');
const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
// The cdn bundles (cdn.js, cdn.min.js) are built files, not sources; a minified bundle is
// also a pathological case for the rule's diff (minutes per file).
const corpus = walk(source)
  .map((path) => relative(source, path).split(sep).join('/'))
  .filter((path) => path.endsWith('.js') && !/(^|\/)cdn(\.min)?\.js$/.test(path))
  .sort()
  .slice(0, CORPUS_FILES);
for (const path of corpus) {
  mkdirSync(dirname(join(corpusDir, path)), { recursive: true });
  copyFileSync(join(source, path), join(corpusDir, path));
}
writeFileSync(join(corpusDir, 'corpus.json'), JSON.stringify(corpus));
// The prettier options of the lint workload, found by both rules: date-fns is formatted with
// prettier's defaults, so other options make differences to report.
writeFileSync(join(corpusDir, '.prettierrc'), '{ "singleQuote": true, "printWidth": 100 }\n');
const dateFnsVersion = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')).version;

// ---- what runs ---------------------------------------------------------------------------

const peers = ['crochet', 'crochet/synckit', 'synckit', 'make-synchronized', 'make-synchronous'];
/** Each group's contenders alternate within a round; `option` is passed to case.mjs. */
const groups = [
  { workload: 'prettier', contenders: [...peers, 'plain-worker'] },
  {
    workload: 'eslint',
    option: 'off',
    contenders: ['crochet', 'eslint-plugin-prettier on crochet/synckit', 'eslint-plugin-prettier'],
  },
  {
    workload: 'eslint',
    option: '2',
    contenders: ['crochet', 'eslint-plugin-prettier on crochet/synckit', 'eslint-plugin-prettier'],
  },
  { workload: 'tiny', contenders: peers },
  { workload: 'payloads', contenders: [...peers, 'structuredClone'] },
];
const only = process.env.WORKLOADS?.split(',')
  .map((name) => name.trim())
  .filter(Boolean);
if (only !== undefined) {
  const unknown = only.filter((name) => !groups.some((group) => group.workload === name));
  if (unknown.length > 0)
    throw new RangeError(
      `WORKLOADS names ${unknown.join(', ')}: the workloads are prettier, eslint, tiny and payloads`,
    );
  groups.splice(0, groups.length, ...groups.filter((group) => only.includes(group.workload)));
}
const groupName = ({ workload, option }) => (option === undefined ? workload : `${workload} --concurrency ${option}`);

// ---- running one process: bash's time, as in startup.mjs -------------------------------

// bash's `time` keyword reports the kernel's rusage of the child (every thread, exec to
// exit); coreutils' timeout, inside, bounds the child itself (a shell killed at the
// timeout would leave it running).
const BASH = ['/bin/bash', '/usr/bin/bash'].find((path) => existsSync(path));
if (BASH === undefined) throw new Error('bash is needed to measure CPU time');
const timeoutBin = ['/usr/bin/timeout', '/bin/timeout'].find((path) => existsSync(path));
const MARK = 'WORKLOAD-CPU';
const childEnv = { ...process.env };
delete childEnv.NODE_EXTRA_CA_CERTS; // see startup.mjs
delete childEnv.ROUNDS;

/** Runs one contender of one workload: { wall, cpu } in ms and the case's result, or { error }. */
function runOnce(workload, contender, option) {
  const node = [
    process.execPath,
    caseScript,
    workload,
    contender,
    corpusDir,
    ...(option === undefined ? [] : [option]),
  ];
  const bounded = timeoutBin === undefined ? node : [timeoutBin, '-k', '2', String(RUN_TIMEOUT_S), ...node];
  const command = [BASH, '-c', `TIMEFORMAT='${MARK} %3U %3S'; time "$@"`, 'workload', ...bounded];
  const t = performance.now();
  const result = spawnSync(command[0], command.slice(1), {
    encoding: 'utf8',
    env: childEnv,
    cwd: root,
    timeout: (RUN_TIMEOUT_S + 10) * 1000,
    killSignal: 'SIGKILL',
    maxBuffer: 256 * 2 ** 20,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const wall = performance.now() - t;
  const lines = (result.stderr ?? '').split('\n');
  const mark = lines.findLast((line) => line.startsWith(MARK));
  const stderr = lines.filter((line) => line !== '' && !line.startsWith(MARK)).join('\n');
  let parsed;
  try {
    parsed = JSON.parse(result.stdout.trim().split('\n').pop());
  } catch {
    // Reported below.
  }
  if (result.error !== undefined || result.status !== 0 || mark === undefined || parsed === undefined) {
    const why = result.error?.message ?? `exit ${result.status ?? result.signal}`;
    return { error: `${why}, stderr ${JSON.stringify(stderr.slice(0, 500))}` };
  }
  const [, user, sys] = mark.split(' ').map(Number);
  return { wall, cpu: (user + sys) * 1000, result: parsed };
}

function measure(condition) {
  const runs = groups.map(() => []); // per group: { round, contender, wall, cpu, result } | { error }
  for (let round = 1; round <= ROUNDS; round++) {
    groups.forEach((group, g) => {
      process.stderr.write(`${condition}: round ${round}/${ROUNDS}, ${groupName(group)}\n`);
      const { contenders } = group;
      for (let i = 0; i < contenders.length; i++) {
        const contender = contenders[(i + round) % contenders.length];
        const r = runOnce(group.workload, contender, group.option);
        if (r.error !== undefined) process.stderr.write(`  ${contender} failed: ${r.error}\n`);
        runs[g].push({ round, contender, ...r });
      }
    });
  }
  return runs;
}

// ---- statistics ----------------------------------------------------------------------

/** Per-call statistics over the calls of every round together, in µs. */
const perCall = (times) => ({
  median: median(times),
  mean: mean(times),
  p99: quantile(times, 0.99),
  calls: times.length,
});

function summarize(runs) {
  return groups.map((group, g) => {
    const list = runs[g];
    const failures = list
      .filter((r) => r.error !== undefined)
      .map(({ round, contender, error }) => ({ round, contender, error }));
    const ok = list.filter((r) => r.error === undefined);
    const digests = {};
    for (const r of ok) (digests[r.result.digest] ??= new Set()).add(r.contender);
    const outputsDiffer = Object.keys(digests).length > 1;
    const contenders = {};
    for (const name of group.contenders) {
      const mine = ok.filter((r) => r.contender === name);
      const stats = {
        runs: mine.length,
        wall: { median: median(mine.map((r) => r.wall)), mean: mean(mine.map((r) => r.wall)) },
        cpu: { median: median(mine.map((r) => r.cpu)), mean: mean(mine.map((r) => r.cpu)) },
        measured: { median: median(mine.map((r) => r.result.ms)) },
      };
      if (group.workload === 'payloads') {
        stats.sizes = Object.fromEntries(
          PAYLOADS.map(([label]) => [label, perCall(mine.flatMap((r) => r.result.sizes[label].times))]),
        );
      } else if (group.workload === 'eslint') {
        stats.problems = mine[0]?.result.problems;
      } else {
        stats.perCall = perCall(mine.flatMap((r) => r.result.times));
      }
      contenders[name] = stats;
    }
    return {
      workload: group.workload,
      option: group.option,
      outputsDiffer,
      digests: Object.fromEntries(Object.entries(digests).map(([d, names]) => [d, [...names]])),
      failures,
      contenders,
    };
  });
}

// ---- run -------------------------------------------------------------------------------

let hog;
const killHog = () => {
  if (hog !== undefined && hog.exitCode === null && hog.signalCode === null) hog.kill('SIGKILL');
};
process.once('exit', () => {
  killHog();
  rmSync(corpusDir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killHog();
    process.exit(130);
  });
}

const started = performance.now();
const loadBefore = os.loadavg();
const results = {
  date: new Date().toISOString(),
  machine: machine(),
  node: process.version,
  rounds: ROUNDS,
  corpus: { package: `date-fns@${dateFnsVersion}`, files: corpus.length, first: corpus[0], last: corpus.at(-1) },
  versions: Object.fromEntries(
    [
      'prettier',
      'eslint',
      'eslint-plugin-prettier',
      'synckit',
      'make-synchronized',
      'make-synchronous',
      '@prettier/sync',
    ].map((name) => [name, JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version]),
  ),
  units: 'per call: µs; wall, CPU, measured: ms',
  conditions: {},
};

results.conditions.quiet = { workloads: summarize(measure('quiet')) };
if (BUSY) {
  try {
    hog = startHog();
    sleep(300); // let it get going
    const before = procCpu(hog.pid);
    const t = performance.now();
    const busy = { workloads: summarize(measure('one core busy')) };
    const after = procCpu(hog.pid);
    if (hog.exitCode !== null || hog.signalCode !== null) throw new Error('the busy process ended early');
    busy.hogCorePercent =
      before === undefined || after === undefined ? undefined : ((after - before) / (performance.now() - t)) * 100;
    results.conditions.busy = busy;
  } finally {
    killHog();
  }
}
results.loadAverage = { before: loadBefore, after: os.loadavg() };
results.seconds = Math.round((performance.now() - started) / 1000);

// Laid out as the repository's prettier would, so that the file passes the format check.
const roundNumber = (key, value) => (typeof value === 'number' ? Math.round(value * 1000) / 1000 : value);
let json = `${JSON.stringify(results, roundNumber, 2)}\n`;
try {
  const prettier = await import('prettier');
  const config = await prettier.resolveConfig(fileURLToPath(out));
  json = await prettier.format(json, { ...config, filepath: fileURLToPath(out) });
} catch {
  // Plain JSON is fine too.
}
writeFileSync(out, json);

// ---- markdown --------------------------------------------------------------------------

const fmt = (v) => (v === undefined || Number.isNaN(v) ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const ratio = (v, base) => (Number.isNaN(v) || Number.isNaN(base) ? '—' : `${(v / base).toFixed(2)}×`);

function workloadTables(workloads) {
  const lines = [];
  const find = (workload, option) => workloads.find((w) => w.workload === workload && w.option === option);
  const problems = (w) => {
    const notes = [];
    if (w.outputsDiffer)
      notes.push(
        `**OUTPUTS DIFFER**: ${Object.entries(w.digests)
          .map(([d, names]) => `${names.join(', ')} → ${d}`)
          .join('; ')}`,
      );
    for (const f of w.failures) notes.push(`failed: round ${f.round}, ${f.contender}: ${f.error}`);
    return notes.length === 0 ? [] : ['', ...notes.map((n) => `- ${n}`)];
  };
  const perCallTable = (w, title) => {
    const base = w.contenders.crochet;
    lines.push(
      `#### ${title}`,
      '',
      '| contender | median µs | mean µs | p99 µs | wall ms | CPU ms | mean vs crochet | wall vs crochet | CPU vs crochet |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const [name, s] of Object.entries(w.contenders)) {
      lines.push(
        `| ${name} | ${fmt(s.perCall.median)} | ${fmt(s.perCall.mean)} | ${fmt(s.perCall.p99)} | ${fmt(s.wall.median)} | ${fmt(s.cpu.median)} | ${ratio(s.perCall.mean, base.perCall.mean)} | ${ratio(s.wall.median, base.wall.median)} | ${ratio(s.cpu.median, base.cpu.median)} |`,
      );
    }
    lines.push(...problems(w), '');
  };
  if (find('prettier') !== undefined) perCallTable(find('prettier'), `Prettier: ${corpus.length} files, one call each`);
  if (find('eslint', 'off') !== undefined) eslintTable();
  if (find('tiny') !== undefined)
    perCallTable(
      find('tiny'),
      `${(Number(process.env.TINY_CALLS) || 100_000).toLocaleString('en')} tiny calls (a Map lookup)`,
    );
  if (find('payloads') !== undefined) payloadTable(find('payloads'));
  return lines;

  function eslintTable() {
    lines.push(
      '#### ESLint with a prettier rule',
      '',
      '| rule | concurrency | lint ms | wall ms | CPU ms | problems reported | wall vs eslint-plugin-prettier | CPU vs eslint-plugin-prettier |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const option of ['off', '2']) {
      const w = find('eslint', option);
      const base = w.contenders['eslint-plugin-prettier'];
      for (const [name, s] of Object.entries(w.contenders))
        lines.push(
          `| ${name} | ${option} | ${fmt(s.measured.median)} | ${fmt(s.wall.median)} | ${fmt(s.cpu.median)} | ${s.problems ?? '—'} | ${ratio(s.wall.median, base.wall.median)} | ${ratio(s.cpu.median, base.cpu.median)} |`,
        );
    }
    lines.push(...problems(find('eslint', 'off')), ...problems(find('eslint', '2')), '');
  }

  function payloadTable(p) {
    const names = Object.keys(p.contenders).filter((name) => name !== 'structuredClone');
    lines.push(
      '#### Payload echoes (source text), µs per call: median / mean / p99',
      '',
      `| size (calls per round) | ${names.join(' | ')} | 2 × structuredClone + 3 µs |`,
      `| --- | ${names.map(() => '---:').join(' | ')} | ---: |`,
    );
    for (const [label, , calls] of PAYLOADS) {
      const cell = (s) => `${fmt(s.median)} / ${fmt(s.mean)} / ${fmt(s.p99)}`;
      const ref = p.contenders.structuredClone.sizes[label];
      lines.push(
        `| ${label} (${calls}) | ${names.map((name) => cell(p.contenders[name].sizes[label])).join(' | ')} | ${cell({ median: ref.median + 3, mean: ref.mean + 3, p99: ref.p99 + 3 })} |`,
      );
    }
    lines.push(
      '',
      `Whole process (all sizes): ${names.map((name) => `${name} ${fmt(p.contenders[name].wall.median)} ms wall, ${fmt(p.contenders[name].cpu.median)} ms CPU`).join('; ')}.`,
      ...problems(p),
      '',
    );
  }
}

const m = results.machine;
const md = [
  '## Workloads',
  '',
  `Measured by \`node benchmarks/workloads.mjs\` on ${results.date.slice(0, 10)}: ${m.cpu} × ${m.cores}, Node ${results.node}; ${ROUNDS} rounds, ${results.seconds} s in all.`,
  `The corpus is the first ${corpus.length} \`.js\` files of date-fns ${dateFnsVersion} sorted by path (${corpus[0]} to ${corpus.at(-1)}; the cdn bundles left out).`,
  `Versions: ${Object.entries(results.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ')}.`,
  'Each run is a fresh process; the contenders alternate within each round. Per-call figures are over the calls of',
  'every round together (for prettier the first call of a process, which loads prettier, included; the tiny calls and',
  'each payload size start with one untimed call); wall (spawn to exit) and CPU',
  "(user + system, all threads, bash's `time`) are medians over rounds, in ms. crochet: a `waitFor` wrapper;",
  'synckit: `createSyncFn` of a worker file; make-synchronized: `@prettier/sync` for prettier, else its module form;',
  'make-synchronous: its wrapper of a self-contained async function. `plain-worker` does the prettier work in a',
  'worker thread driven by `postMessage` and `await`. The lint workload runs `new ESLint()` (flat config) over the',
  'corpus with `{ singleQuote: true, printWidth: 100 }` in a `.prettierrc`; "lint ms" is `lintFiles()` alone.',
  'Outputs (formatted text, lint reports, lookups, echoes) are digested and compared across contenders.',
  '',
  '### No other load started by the benchmark',
  '',
  ...workloadTables(results.conditions.quiet.workloads),
];
if (results.conditions.busy !== undefined) {
  const share = results.conditions.busy.hogCorePercent;
  md.push(
    `### One core of ${m.cores} kept busy by another process${share === undefined ? '' : ` (it got ${share.toFixed(0)} % of a core)`}`,
    '',
    ...workloadTables(results.conditions.busy.workloads),
  );
}
md.push('Raw figures: [benchmarks/workloads-results.json](benchmarks/workloads-results.json).', '');
process.stdout.write(md.join('\n'));
process.stderr.write(`wrote ${fileURLToPath(out)}\n`);

const differ = Object.values(results.conditions).flatMap((c) => c.workloads.filter((w) => w.outputsDiffer));
if (differ.length > 0) {
  process.stderr.write(`OUTPUTS DIFFER in: ${differ.map((w) => groupName(w)).join(', ')}\n`);
  process.exitCode = 1;
}
