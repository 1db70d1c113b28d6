// Whole-process start-up, side by side with the peers:
//
//   npm run build && node benchmarks/startup.mjs
//
// Environment: ROUNDS (default 12, at least 10 is sensible), CROCHET_DIST (a directory
// holding another build of dist/, e.g. a copy made earlier, to benchmark instead of
// ./dist), BUSY=0 to skip the busy-core condition.
//
// Each contender is a whole process that sets up, makes one trivial call, checks its
// answer and exits (scripts in benchmarks/startup/); `bare` is `node -e 0`. Every round
// runs each contender once, in an order that rotates from round to round, so that slow
// phases of a noisy machine hit them all alike; "over bare" is the contender minus `bare`
// in the same round. The whole set runs twice: on a quiet machine, and with one core
// kept busy by a spinning process this script starts (and always kills).
//
// Prints the results as markdown on stdout (progress goes to stderr) and writes
// benchmarks/startup-results.json. A run whose exit code or output is wrong is reported
// and left out of the figures.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { machine, mean, median, procCpu, quantile, sleep, sorted, startHog } from './measure.mjs';

const ROUNDS = Number(process.env.ROUNDS || 12);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1)
  throw new RangeError(`ROUNDS must be a whole number >= 1, got ${process.env.ROUNDS}`);
const BUSY = process.env.BUSY !== '0';
/** A contender that takes longer than this has hung: it is killed and reported. */
const RUN_TIMEOUT_S = 30;
const here = new URL('./startup/', import.meta.url);
const out = new URL('./startup-results.json', import.meta.url);

// CPU time of a child: Node cannot read a child's rusage, so the child runs under bash's
// `time` keyword, which reports the kernel's own accounting (getrusage of the children it
// waited for) for the whole process: every thread, from exec to exit, including the
// teardown of worker threads after the 'exit' event that no in-process counter can see,
// and without changing what the child loads. It prints milliseconds. (GNU /usr/bin/time
// reads the same figures but prints them truncated to 10 ms, a third of `node -e 0`.)
// Without bash the child is run with `--import` of a tiny module that prints
// process.resourceUsage() at 'exit' (blind to the teardown after it; every contender,
// bare included, then pays for loading it). Either way the wall time is measured here,
// around spawnSync; bash's ~2 ms are paid by every contender alike, so they cancel in
// "over bare".
//
// A shell killed at the timeout would leave its child running and spawnSync waiting on
// its pipes: coreutils' timeout, inside, bounds the child itself.
const BASH = ['/bin/bash', '/usr/bin/bash'].find((path) => existsSync(path));
const useTime = BASH !== undefined;
const timeoutBin = ['/usr/bin/timeout', '/bin/timeout'].find((path) => existsSync(path));
const MARK = 'STARTUP-CPU';
// NODE_EXTRA_CA_CERTS makes every Node process read and parse that file as it starts
// (some sandboxes point it at the whole system bundle: ~40 ms a process on a 2-core VM),
// which would swamp what is measured here; the children run without it.
const childEnv = { ...process.env };
const removedEnv = 'NODE_EXTRA_CA_CERTS' in childEnv ? ['NODE_EXTRA_CA_CERTS'] : [];
delete childEnv.NODE_EXTRA_CA_CERTS;
let tmp;
const tempDir = () => (tmp ??= mkdtempSync(join(os.tmpdir(), 'crochet-startup-')));
let preload;
if (!useTime) {
  preload = join(tempDir(), 'cpu.mjs');
  writeFileSync(
    preload,
    `process.on('exit', () => { const r = process.resourceUsage(); process.stderr.write(\`\\n${MARK} \${r.userCPUTime / 1e6} \${r.systemCPUTime / 1e6}\\n\`); });\n`,
  );
}

/** The crochet contender, against CROCHET_DIST if given (a copy with the import rewritten). */
function crochetScript() {
  const script = fileURLToPath(new URL('crochet.mjs', here));
  const dist = process.env.CROCHET_DIST;
  if (!dist) return script;
  const copy = join(tempDir(), 'crochet.mjs');
  const target = pathToFileURL(join(dist, 'index.js')).href;
  writeFileSync(copy, readFileSync(script, 'utf8').replace("'../../dist/index.js'", JSON.stringify(target)));
  return copy;
}

const contenders = {
  bare: { args: ['-e', '0'], expect: '' },
  crochet: { args: [crochetScript()], expect: '42\n' },
  'crochet/synckit': { args: [fileURLToPath(new URL('crochet-synckit.mjs', here))], expect: '42\n' },
  synckit: { args: [fileURLToPath(new URL('synckit.mjs', here))], expect: '42\n' },
  'make-synchronized': { args: [fileURLToPath(new URL('make-synchronized.mjs', here))], expect: '42\n' },
  'make-synchronous': { args: [fileURLToPath(new URL('make-synchronous.mjs', here))], expect: '42\n' },
};
const names = Object.keys(contenders);

/** Runs one contender once: { wall, cpu } in ms, or { error }. */
function runOnce(name) {
  const { args, expect } = contenders[name];
  const node = [process.execPath, ...(preload === undefined ? [] : ['--import', preload]), ...args];
  const bounded = timeoutBin === undefined ? node : [timeoutBin, '-k', '2', String(RUN_TIMEOUT_S), ...node];
  const command = useTime ? [BASH, '-c', `TIMEFORMAT='${MARK} %3U %3S'; time "$@"`, 'startup', ...bounded] : bounded;
  const t = performance.now();
  const result = spawnSync(command[0], command.slice(1), {
    encoding: 'utf8',
    env: childEnv,
    timeout: (RUN_TIMEOUT_S + 10) * 1000,
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const wall = performance.now() - t;
  const lines = (result.stderr ?? '').split('\n');
  const mark = lines.findLast((line) => line.startsWith(MARK));
  const stderr = lines.filter((line) => line !== '' && !line.startsWith(MARK)).join('\n');
  if (result.error !== undefined || result.status !== 0 || result.stdout !== expect || mark === undefined) {
    const why = result.error?.message ?? `exit ${result.status ?? result.signal}`;
    return { error: `${why}, stdout ${JSON.stringify(result.stdout)}, stderr ${JSON.stringify(stderr.slice(0, 300))}` };
  }
  // The time line is printed last; a child that also wrote to stderr is still fine.
  const [, user, sys] = mark.split(' ').map(Number);
  return { wall, cpu: (user + sys) * 1000 };
}

function measure(condition) {
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  const failures = [];
  // One run of each first, untimed: the file cache is warm for everyone.
  for (const name of names) {
    const r = runOnce(name);
    if (r.error !== undefined) failures.push({ round: 0, name, error: r.error });
  }
  for (let round = 1; round <= ROUNDS; round++) {
    process.stderr.write(`${condition}: round ${round}/${ROUNDS}\n`);
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length];
      const r = runOnce(name);
      if (r.error !== undefined) {
        failures.push({ round, name, error: r.error });
        process.stderr.write(`  ${name} failed: ${r.error}\n`);
        samples[name].push(undefined);
      } else samples[name].push(r);
    }
  }
  return { samples, failures };
}

// Statistics over a dozen samples: p90 is the 11th of 12 by nearest rank; a p99 would be
// just the maximum, so none is given.

function summarize({ samples, failures }) {
  const bare = samples.bare;
  const stats = {};
  for (const name of names) {
    const runs = samples[name];
    const wall = runs.map((r) => r?.wall);
    const cpu = runs.map((r) => r?.cpu);
    const overBare = runs.map((r, i) => (r === undefined || bare[i] === undefined ? undefined : r.wall - bare[i].wall));
    const cpuOverBare = runs.map((r, i) =>
      r === undefined || bare[i] === undefined ? undefined : r.cpu - bare[i].cpu,
    );
    stats[name] = {
      runs: sorted(wall).length,
      failed: runs.length - sorted(wall).length,
      wall: { median: median(wall), mean: mean(wall), p90: quantile(wall, 0.9), min: quantile(wall, 0) },
      overBare: { median: median(overBare) },
      cpu: { median: median(cpu), mean: mean(cpu) },
      cpuOverBare: { median: median(cpuOverBare) },
      samples: { wall, cpu },
    };
  }
  return { stats, failures };
}

const fmt = (v) => (Number.isNaN(v) ? '—' : v.toFixed(1));
function table(title, { stats }) {
  const lines = [
    `### ${title}`,
    '',
    '| contender | median | mean | p90 | min | over bare (median) | CPU median | CPU over bare |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [name, s] of Object.entries(stats)) {
    const failed = s.failed > 0 ? ` (${s.failed} failed)` : '';
    const over = name === 'bare' ? '—' : fmt(s.overBare.median);
    const cpuOver = name === 'bare' ? '—' : fmt(s.cpuOverBare.median);
    lines.push(
      `| ${name}${failed} | ${fmt(s.wall.median)} | ${fmt(s.wall.mean)} | ${fmt(s.wall.p90)} | ${fmt(s.wall.min)} | ${over} | ${fmt(s.cpu.median)} | ${cpuOver} |`,
    );
  }
  return lines.join('\n');
}

let hog;
const killHog = () => {
  if (hog !== undefined && hog.exitCode === null && hog.signalCode === null) hog.kill('SIGKILL');
};
process.once('exit', () => {
  killHog();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killHog();
    process.exit(130);
  });
}

/** Which build was measured: the bundle's size and time, and the commit (with or without local changes). */
function buildInfo() {
  const info = {};
  try {
    const bundle = join(process.env.CROCHET_DIST || fileURLToPath(new URL('../dist/', import.meta.url)), 'crochet.js');
    const stat = statSync(bundle);
    Object.assign(info, { bundleBytes: stat.size, bundleModified: stat.mtime.toISOString() });
  } catch {
    // No bundle: the crochet runs failed, and say why.
  }
  try {
    const git = (...args) =>
      execFileSync('git', args, { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' });
    Object.assign(info, {
      commit: git('rev-parse', 'HEAD').trim(),
      localChanges: git('status', '--porcelain').trim() !== '',
    });
  } catch {
    // Not a git checkout.
  }
  return info;
}

const loadBefore = os.loadavg();
const results = {
  date: new Date().toISOString(),
  machine: machine(),
  node: process.version,
  rounds: ROUNDS,
  cpuMethod: useTime
    ? "bash's time keyword (%3U + %3S: rusage of the child, 1 ms resolution)"
    : 'process.resourceUsage() at exit, via --import',
  crochetDist: process.env.CROCHET_DIST || 'dist',
  crochetBuild: buildInfo(),
  removedFromChildEnv: removedEnv,
  units: 'ms',
  conditions: {},
};

results.conditions.quiet = summarize(measure('quiet'));
if (BUSY) {
  try {
    hog = startHog();
    sleep(300); // let it get going
    const before = procCpu(hog.pid);
    const t = performance.now();
    const busy = summarize(measure('one core busy'));
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
// Laid out as the repository's prettier would (when it is installed), so that the file
// passes `npm run format:check` as written.
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

const m = results.machine;
const p90Rank = Math.ceil(0.9 * ROUNDS);
const md = [
  '## Whole-process start-up',
  '',
  `Measured by \`node benchmarks/startup.mjs\` on ${results.date.slice(0, 10)}: ${m.cpu} × ${m.cores}, Node ${results.node}.`,
  'Each run is a fresh process that sets up, makes one trivial call and exits; `bare` is `node -e 0`.',
  `${ROUNDS} rounds with the contenders alternating; wall ms from spawn to exit. "Over bare" is the median`,
  "of the differences with the same round's `bare`. CPU is the process's user + system time, all threads,",
  `in ms, from ${useTime ? "bash's `time` (the kernel's rusage)" : 'process.resourceUsage() at exit'}.`,
  `With ${ROUNDS} samples the p90 is run ${p90Rank} of ${ROUNDS} from the fastest; a p99 would be the slowest run, so none is given.`,
  '',
];
const build = results.crochetBuild;
if (build.commit !== undefined)
  md.splice(
    -1,
    0,
    `crochet as built from ${build.commit.slice(0, 7)}${build.localChanges ? ' with local changes' : ''}.`,
  );
if (removedEnv.length > 0)
  md.splice(-1, 0, `The children ran without ${removedEnv.join(', ')}, which this machine sets (see the script).`);
md.push(table('No other load started by the benchmark', results.conditions.quiet));
if (results.conditions.busy !== undefined) {
  const share = results.conditions.busy.hogCorePercent;
  md.push(
    '',
    table(
      `One core of ${m.cores} kept busy by another process${share === undefined ? '' : ` (it got ${share.toFixed(0)} % of a core)`}`,
      results.conditions.busy,
    ),
  );
}
const failures = Object.entries(results.conditions).flatMap(([condition, r]) =>
  r.failures.map((f) => `- ${condition}, round ${f.round}, ${f.name}: ${f.error}`),
);
if (failures.length > 0) md.push('', 'Failed runs (left out of the figures):', '', ...failures);
md.push('', 'Raw figures: [benchmarks/startup-results.json](benchmarks/startup-results.json).', '');
process.stdout.write(md.join('\n'));
process.stderr.write(`wrote ${fileURLToPath(out)}\n`);
