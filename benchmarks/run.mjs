// The benchmark suite: `npm run bench` (ROUNDS=n to change the number of rounds).
// Every case runs in a fresh process; contenders alternate within each round, and the
// figures reported are medians over rounds. Writes benchmarks/results.json and
// BENCHMARKS.md (with a chart, benchmarks/latency.svg). Nothing here is a test: timings
// never fail a build. Ends with benchmarks/startup.mjs (whole-process start-up; its
// rounds: STARTUP_ROUNDS), benchmarks/workloads.mjs (prettier, ESLint, tiny calls and
// payloads against the peers, quiet and with one core busy; its rounds: WORKLOAD_ROUNDS,
// default 5, about 5 minutes on a 2-core machine), benchmarks/context.mjs (what the call
// context costs) and benchmarks/residue.mjs (what 2000 threads leave behind), whose sections
// are appended to BENCHMARKS.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const CALLS = Number(process.env.CALLS ?? 5000);
const MILLION = Number(process.env.MILLION ?? 1_000_000);
const WARMUP = Number(process.env.WARMUP ?? 5000);
const cases = fileURLToPath(new URL('./cases.mjs', import.meta.url));
const root = new URL('../', import.meta.url);

function run(name, args = [], execArgv = []) {
  const out = execFileSync(process.execPath, [...execArgv, cases, name, ...args], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  return JSON.parse(out.trim().split('\n').pop());
}

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
const trivial = [
  'crochet-waitFor',
  'crochet-runInReactor',
  'crochet-synckit',
  'synckit',
  'make-synchronized',
  'make-synchronous',
  'raw-postMessage',
  'raw-atomics',
  'await',
];
const rounds = {
  trivial: Object.fromEntries(trivial.map((name) => [name, []])),
  payloads: [],
  cpu: [],
  startup: [],
  two: [],
  noSetup: [],
  contended: [],
};

for (let round = 0; round < ROUNDS; round++) {
  process.stderr.write(`round ${round + 1}/${ROUNDS}\n`);
  for (const name of trivial) rounds.trivial[name].push(run(name, [String(CALLS)]));
  rounds.payloads.push(run('payloads'));
  rounds.cpu.push(run('cpu'));
  rounds.startup.push({
    crochet: run('startup-crochet').ms,
    'crochet/synckit': run('startup-crochet-synckit').ms,
    synckit: run('startup-synckit').ms,
  });
  rounds.two.push(run('two-callers', [String(CALLS)]));
  rounds.noSetup.push(run('worker-to-noSetup', [String(CALLS)]).median);
  rounds.contended.push(run('contended', [String(CALLS)]));
}
process.stderr.write('one million calls\n');
const million = run('million', [String(MILLION)], ['--expose-gc']);

const combine = (list, key) => median(list.map((item) => item[key]));
const trivialResults = Object.fromEntries(
  trivial.map((name) => {
    const list = rounds.trivial[name];
    return [
      name,
      {
        median: combine(list, 'median'),
        p90: combine(list, 'p90'),
        p99: combine(list, 'p99'),
        samples: list[0].samples.map((_, i) => median(list.map((item) => item.samples[i]))),
        rounds: list.map((item) => item.median),
        first:
          list[0].first === undefined
            ? undefined
            : {
                median: combine(
                  list.map((item) => item.first),
                  'median',
                ),
                p90: combine(
                  list.map((item) => item.first),
                  'p90',
                ),
              },
      },
    ];
  }),
);
const synckit = trivialResults.synckit.median;
const payloadResults = Object.fromEntries(
  Object.keys(rounds.payloads[0]).map((label) => [
    label,
    Object.fromEntries(
      Object.keys(rounds.payloads[0][label]).map((key) => [key, median(rounds.payloads.map((r) => r[label][key]))]),
    ),
  ]),
);
const results = {
  date: new Date().toISOString(),
  machine: `${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}`,
  node: process.version,
  rounds: ROUNDS,
  calls: CALLS,
  trivial: trivialResults,
  payloads: payloadResults,
  cpu: Object.fromEntries(Object.keys(rounds.cpu[0]).map((key) => [key, median(rounds.cpu.map((r) => r[key]))])),
  startup: {
    crochet: median(rounds.startup.map((r) => r.crochet)),
    'crochet/synckit': median(rounds.startup.map((r) => r['crochet/synckit'])),
    synckit: median(rounds.startup.map((r) => r.synckit)),
  },
  twoCallers: {
    'main thread': median(rounds.two.map((r) => r['main thread'])),
    worker: median(rounds.two.map((r) => r.worker)),
  },
  workerToNoSetup: median(rounds.noSetup),
  contended: {
    crochet: median(rounds.contended.map((r) => r.crochet)),
    synckit: median(rounds.contended.map((r) => r.synckit)),
  },
  million,
};
writeFileSync(new URL('benchmarks/results.json', root), `${JSON.stringify(results, null, 2)}\n`);

// ---- report ------------------------------------------------------------------------

const f = (value, digits = 1) => (value >= 100 ? value.toFixed(0) : value.toFixed(digits));
const lines = [];
lines.push('# Benchmarks', '');
lines.push(
  `Measured by \`npm run bench\` on ${results.date.slice(0, 10)}: ${results.machine}, Node ${results.node}.`,
  `Each case ran in a fresh process, ${ROUNDS} rounds with the contenders alternating; figures are`,
  'medians over rounds. The machine is a shared 2-core VM: compare ratios within one run, not absolute',
  'times across runs.',
  '',
  '## A trivial call',
  '',
  `\`async x => x + 1\`, called synchronously ${CALLS} times after ${WARMUP} warm-up calls (the JIT has compiled`,
  'the hot paths by then); µs per call. The last two columns are the warm-up calls themselves, the first',
  `${WARMUP} calls of a fresh process: while V8 compiles in background threads, a 2-core machine is short of`,
  'cores for two spinning threads.',
  '',
  `| contender | median | p90 | p99 | vs synckit | first ${WARMUP}: median | p90 |`,
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
);
for (const [name, r] of Object.entries(trivialResults)) {
  const first = r.first === undefined ? '| — | — |' : `| ${f(r.first.median)} | ${f(r.first.p90)} |`;
  lines.push(`| ${name} | ${f(r.median)} | ${f(r.p90)} | ${f(r.p99)} | ${(synckit / r.median).toFixed(2)}× ${first}`);
}
lines.push(
  '',
  '`raw-postMessage` is a hand-written `postMessage` + `Atomics.wait` loop against a worker running an event',
  'loop; `raw-atomics` two threads exchanging a number through shared memory, parking each time (the floor',
  'for a parked caller); `await` the same function awaited in one thread, for reference.',
  '',
  '![Latency distributions](benchmarks/latency.svg)',
  '',
  '## Payloads',
  '',
  'A value echoed back (so cloned twice); µs per call. `structuredClone` is one in-thread clone.',
  '',
  '| value | crochet | synckit | structuredClone |',
  '| --- | ---: | ---: | ---: |',
);
for (const label of ['1 KiB', '64 KiB', '1 MiB']) {
  const r = payloadResults[label];
  lines.push(`| object with a ${label} string | ${f(r.crochet)} | ${f(r.synckit)} | ${f(r.structuredClone)} |`);
}
const text = payloadResults['1 KiB text'];
lines.push(`| a 1 KiB string alone | ${f(text.crochet)} | ${f(text.synckit)} | ${f(text.structuredClone)} |`);
const record = payloadResults['small object'];
lines.push(
  `| a small object of plain data (5 fields) | ${f(record.crochet)} | ${f(record.synckit)} | ${f(record.structuredClone)} |`,
);
const buffer = payloadResults['1 MiB ArrayBuffer'];
lines.push(
  '',
  `A 1 MiB \`ArrayBuffer\` sent to the reactor: ${f(buffer.copied)} µs copied, ${f(buffer.transferred)} µs moved with \`transfer()\`.`,
  '',
  '## CPU, start-up, threads, memory',
  '',
  '| measurement | value |',
  '| --- | ---: |',
  `| CPU while a 10 ms call runs, crochet (whole process, % of one core) | ${f(results.cpu['crochet 10 ms call'])} % |`,
  `| the same, synckit | ${f(results.cpu['synckit 10 ms call'])} % |`,
  `| CPU of an idle process with a reactor | ${f(results.cpu['crochet idle (process)'])} % |`,
  `| start-up: import + setup() + first call, crochet | ${f(results.startup.crochet)} ms |`,
  `| start-up: import + createSyncFn() + first call, crochet/synckit | ${f(results.startup['crochet/synckit'])} ms |`,
  `| start-up: import + createSyncFn() + first call, synckit | ${f(results.startup.synckit)} ms |`,
  `| two callers at once: the main thread | ${f(results.twoCallers['main thread'])} µs |`,
  `| two callers at once: a worker | ${f(results.twoCallers.worker)} µs |`,
  `| a worker calling a noSetup() main thread | ${f(results.workerToNoSetup)} µs |`,
  `| trivial call with another process keeping a core busy: crochet | ${f(results.contended.crochet)} µs |`,
  `| the same, synckit | ${f(results.contended.synckit)} µs |`,
  `| ${million.calls.toLocaleString('en')} calls: time | ${f(million.seconds)} s |`,
  `| ${million.calls.toLocaleString('en')} calls: caller heap before → after (after GC) | ${f(million['heap before (MiB)'])} → ${f(million['heap after (MiB)'])} MiB |`,
  `| ${million.calls.toLocaleString('en')} calls: reactor heap before → after (after GC) | ${f(million['reactor heap before (MiB)'])} → ${f(million['reactor heap after (MiB)'])} MiB |`,
  `| ${million.calls.toLocaleString('en')} calls: RSS before → after | ${f(million['rss before (MiB)'])} → ${f(million['rss after (MiB)'])} MiB |`,
  '',
  'Raw figures: [benchmarks/results.json](benchmarks/results.json).',
  '',
);
writeFileSync(new URL('BENCHMARKS.md', root), lines.join('\n'));

// ---- chart: latency distributions on a log scale ----------------------------------

const width = 760;
const rowHeight = 34;
const left = 190;
const right = 30;
const top = 40;
const height = top + trivial.length * rowHeight + 40;
const min = 0.1;
const max = 1000;
const x = (us) =>
  left +
  ((Math.log10(Math.max(min, Math.min(max, us))) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) *
    (width - left - right);
const svg = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
  `<rect width="100%" height="100%" fill="white"/>`,
  `<text x="${left}" y="20" font-size="14">Trivial blocking call, µs (log scale): p5–p95 bar, p25–p75 box, median line</text>`,
];
for (const tick of [0.1, 1, 10, 100, 1000]) {
  svg.push(`<line x1="${x(tick)}" y1="${top - 8}" x2="${x(tick)}" y2="${height - 30}" stroke="#ddd"/>`);
  svg.push(`<text x="${x(tick)}" y="${height - 12}" text-anchor="middle">${tick}</text>`);
}
trivial.forEach((name, row) => {
  const s = trivialResults[name].samples; // p5 p10 p25 p50 p75 p90 p95 p99
  const y = top + row * rowHeight + rowHeight / 2;
  const color = name.startsWith('crochet')
    ? '#2a7ab0'
    : name.startsWith('raw') || name === 'await'
      ? '#999'
      : '#d08a2a';
  svg.push(`<text x="${left - 10}" y="${y + 4}" text-anchor="end">${name}</text>`);
  svg.push(`<line x1="${x(s[0])}" y1="${y}" x2="${x(s[6])}" y2="${y}" stroke="${color}" stroke-width="2"/>`);
  svg.push(
    `<rect x="${x(s[2])}" y="${y - 8}" width="${Math.max(1, x(s[4]) - x(s[2]))}" height="16" fill="${color}" opacity="0.5"/>`,
  );
  svg.push(`<line x1="${x(s[3])}" y1="${y - 10}" x2="${x(s[3])}" y2="${y + 10}" stroke="black" stroke-width="2"/>`);
});
svg.push('</svg>');
writeFileSync(new URL('benchmarks/latency.svg', root), `${svg.join('\n')}\n`);

console.log(`trivial call, median µs (vs synckit):`);
for (const [name, r] of Object.entries(trivialResults))
  console.log(`  ${name.padEnd(22)} ${f(r.median).padStart(7)}  ${(synckit / r.median).toFixed(2)}×`);
console.log('wrote benchmarks/results.json, BENCHMARKS.md, benchmarks/latency.svg');

// ---- whole-process start-up: benchmarks/startup.mjs, appended as its own section ------

process.stderr.write('whole-process start-up\n');
const startupSection = execFileSync(process.execPath, [fileURLToPath(new URL('./startup.mjs', import.meta.url))], {
  encoding: 'utf8',
  timeout: 1_800_000,
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, ROUNDS: process.env.STARTUP_ROUNDS ?? '' },
});
appendFileSync(new URL('BENCHMARKS.md', root), `\n${startupSection}`);
console.log('wrote benchmarks/startup-results.json, appended its section to BENCHMARKS.md');

// ---- the workloads users run: benchmarks/workloads.mjs, appended as its own section ----

process.stderr.write('workloads\n');
const workloadsRun = spawnSync(process.execPath, [fileURLToPath(new URL('./workloads.mjs', import.meta.url))], {
  encoding: 'utf8',
  timeout: 1_800_000,
  killSignal: 'SIGTERM', // it kills its busy-core process on SIGTERM
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, ROUNDS: process.env.WORKLOAD_ROUNDS || '5' },
});
// A workload whose outputs differ across contenders still gets its section (marked), then
// fails the run below.
if (workloadsRun.stdout) appendFileSync(new URL('BENCHMARKS.md', root), `\n${workloadsRun.stdout}`);
if (workloadsRun.status !== 0)
  throw new Error(
    `benchmarks/workloads.mjs failed: ${workloadsRun.error?.message ?? `exit ${workloadsRun.status ?? workloadsRun.signal}`}`,
  );
console.log('wrote benchmarks/workloads-results.json, appended its section to BENCHMARKS.md');

// ---- what the call context costs: benchmarks/context.mjs (CONTEXT_NODES: more Node binaries; CONTEXT_ROUNDS) ----

process.stderr.write('the call context\n');
const contextSection = execFileSync(
  process.execPath,
  [
    fileURLToPath(new URL('./context.mjs', import.meta.url)),
    process.execPath,
    ...(process.env.CONTEXT_NODES ?? '').split(/\s+/).filter(Boolean),
  ],
  {
    encoding: 'utf8',
    timeout: 1_800_000,
    stdio: ['ignore', 'pipe', 'inherit'],
    // Differences of a percent or two need many rounds on a shared machine.
    env: { ...process.env, ROUNDS: process.env.CONTEXT_ROUNDS || '16' },
  },
);
appendFileSync(new URL('BENCHMARKS.md', root), `\n${contextSection}`);
console.log('wrote benchmarks/context-results.json, appended its section to BENCHMARKS.md');

// ---- what threads leave behind: benchmarks/residue.mjs (about 90 s for 2000 threads) ---

process.stderr.write('what threads leave behind\n');
execFileSync(process.execPath, [fileURLToPath(new URL('./residue.mjs', import.meta.url)), '2000'], {
  encoding: 'utf8',
  timeout: 1_800_000,
  stdio: ['ignore', 'ignore', 'inherit'],
});
appendFileSync(new URL('BENCHMARKS.md', root), `\n${residueSection()}`);
console.log('wrote benchmarks/residue-results.json, appended its section to BENCHMARKS.md');

/** The section of BENCHMARKS.md made from benchmarks/residue-results.json. */
function residueSection() {
  const r = JSON.parse(readFileSync(new URL('./residue-results.json', import.meta.url), 'utf8'));
  const bytes = (n) => (n < 0 ? `${n} (the heap shrank between the rounds)` : String(n));
  return [
    '## What threads leave behind',
    '',
    `\`node benchmarks/residue.mjs ${r.threads}\` (measured ${r.date.slice(0, 10)}: ${r.machine.cpu} × ${r.machine.cores}, Node ${r.node}, ${r.seconds} s):`,
    `${r.threads} worker threads, 40 at a time, each find the reactor and make a call over a channel of their own;`,
    'half then exit, the other half are terminated while blocked in a call (which ends 2 s later). After each of',
    `two rounds of ${r.threads / 2} threads, once the reactor has closed the channels of the terminated threads, the`,
    'inspector collects garbage in the reactor and supervisor threads and reads their heaps; the difference between',
    'the rounds, per thread:',
    '',
    '| thread | bytes left per thread |',
    '| --- | ---: |',
    `| reactor | ${bytes(r.bytesPerThread.reactor)} |`,
    `| supervisor | ${bytes(r.bytesPerThread.supervisor)} |`,
    '',
    'Raw figures: [benchmarks/residue-results.json](benchmarks/residue-results.json).',
    '',
  ].join('\n');
}
