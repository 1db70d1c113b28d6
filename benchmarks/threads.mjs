// The cost of a trivial blocking call made from a worker thread: into a setup() reactor,
// and into a noSetup() main thread, each in its own process, alternating over rounds.
// Usage: node benchmarks/threads.mjs
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const CALLS = 5000;
const WARMUP = 500;

/** The median time of a call of `fn`, in µs. */
function medianOf(fn) {
  for (let i = 0; i < WARMUP; i++) fn(i);
  const times = new Float64Array(CALLS);
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    fn(i);
    times[i] = performance.now() - t;
  }
  times.sort();
  return times[CALLS >> 1] * 1000;
}

if (isMainThread && process.argv[2] === undefined) {
  const rounds = Number(process.env.ROUNDS ?? 5);
  const results = { setup: [], noSetup: [], 'setup, from the main thread': [] };
  for (let round = 0; round < rounds; round++) {
    for (const mode of Object.keys(results)) {
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), mode], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(child.stderr);
      results[mode].push(Number(child.stdout.trim()));
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
  console.log(`node ${process.version}; median over ${rounds} processes of the per-process median, µs per call`);
  for (const [mode, values] of Object.entries(results)) {
    console.log(
      `${mode.padEnd(30)} ${median(values).toFixed(1).padStart(7)}   (runs: ${values.map((v) => v.toFixed(1)).join(', ')})`,
    );
  }
} else if (isMainThread) {
  const mode = process.argv[2];
  const crochet = await import('crochet');
  const { increment } = await import('./crochet-calls.mjs');
  const measure = () => medianOf(increment);
  if (mode === 'setup, from the main thread') {
    crochet.setup();
    console.log(measure());
  } else {
    if (mode === 'setup') crochet.setup();
    else crochet.noSetup();
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: 'measure' });
    worker.once('message', (median) => {
      console.log(median);
      void worker.terminate();
    });
  }
} else if (workerData === 'measure') {
  const { increment } = await import('./crochet-calls.mjs');
  parentPort.postMessage(medianOf(increment));
}
