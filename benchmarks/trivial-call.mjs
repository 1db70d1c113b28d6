// A rough first benchmark: the median cost of a trivial blocking call
// (`async x => x + 1`) with crochet and with synckit, measured in one process,
// alternating the contenders over several rounds. Usage: npm run bench
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { createSyncFn } from 'synckit';
import { setup } from 'crochet';
import { increment, startIncrement } from './crochet-calls.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const CALLS = Number(process.env.CALLS ?? 5000);
const WARMUP = 500;

let started = performance.now();
setup();
increment(0);
const crochetStartup = performance.now() - started;

started = performance.now();
const synckitIncrement = createSyncFn(new URL('./synckit-worker.mjs', import.meta.url).href);
synckitIncrement(0);
const synckitStartup = performance.now() - started;

const contenders = {
  'crochet waitFor': (x) => increment(x),
  'crochet runInReactor + wait': (x) => startIncrement(x).wait(10_000),
  synckit: (x) => synckitIncrement(x),
};

function measure(fn) {
  for (let i = 0; i < WARMUP; i++) fn(i);
  const times = new Float64Array(CALLS);
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    const value = fn(i);
    times[i] = performance.now() - t;
    if (value !== i + 1) throw new Error(`wrong result ${value} for ${i}`);
  }
  times.sort();
  return {
    median: times[CALLS >> 1] * 1000,
    p90: times[Math.floor(CALLS * 0.9)] * 1000,
    p99: times[Math.floor(CALLS * 0.99)] * 1000,
  };
}

const results = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, fn] of Object.entries(contenders)) results[name].push(measure(fn));
}

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
const synckitMedian = median(results.synckit.map((r) => r.median));
console.log(`node ${process.version}, ${os.cpus()[0]?.model} x${os.cpus().length}, ${new Date().toISOString()}`);
console.log(`${ROUNDS} rounds x ${CALLS} calls; µs per call (median of per-round values)\n`);
console.log('contender                       median      p90      p99   vs synckit');
for (const [name, rounds] of Object.entries(results)) {
  const m = median(rounds.map((r) => r.median));
  const p90 = median(rounds.map((r) => r.p90));
  const p99 = median(rounds.map((r) => r.p99));
  const ratio = synckitMedian / m;
  console.log(
    `${name.padEnd(30)} ${m.toFixed(1).padStart(7)} ${p90.toFixed(1).padStart(8)} ${p99.toFixed(1).padStart(8)}   ${ratio.toFixed(2)}x faster`,
  );
}
console.log(
  `\nstartup (first setup + first call): crochet ${crochetStartup.toFixed(1)} ms, synckit ${synckitStartup.toFixed(1)} ms`,
);
