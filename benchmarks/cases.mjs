// One benchmark case, run in a process of its own: `node benchmarks/cases.mjs <case> [calls]`.
// Prints one JSON line with its measurements (times in µs unless named otherwise).
import {
  Worker,
  isMainThread,
  parentPort,
  workerData,
  MessageChannel,
  receiveMessageOnPort,
} from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';

const here = fileURLToPath(import.meta.url);
const [, , name = 'crochet-waitFor', callsArg] = process.argv;
const CALLS = Number(callsArg ?? 5000);
// Calls made before timing starts, so that the JIT has compiled the hot paths (in a
// 2-core machine, V8's compiler threads also compete for the cores in that phase). The
// warm-up calls are timed too, and reported as `first`.
const WARMUP = Number(process.env.WARMUP ?? 5000);

/** Times `call(i)` for `count` calls after `warmup` calls; checks every result. */
function measure(call, count = CALLS, check = (i, value) => value === i + 1, warmup = WARMUP) {
  const first = new Float64Array(warmup);
  for (let i = 0; i < warmup; i++) {
    const t = performance.now();
    call(i);
    first[i] = performance.now() - t;
  }
  const times = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    const value = call(i);
    times[i] = performance.now() - t;
    if (!check(i, value)) throw new Error(`wrong result for ${i}: ${String(value)}`);
  }
  return { ...summarize(times), first: warmup > 0 ? summarize(first) : undefined };
}

function summarize(times) {
  times.sort();
  const at = (q) => times[Math.min(times.length - 1, Math.floor(times.length * q))] * 1000;
  return {
    median: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    samples: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99].map(at),
  };
}

function cpuPercent(run) {
  const cpu = process.cpuUsage();
  const t = performance.now();
  run();
  const used = process.cpuUsage(cpu);
  return ((used.user + used.system) / 1000 / (performance.now() - t)) * 100;
}

const payload = (bytes) => ({ text: 'x'.repeat(bytes) });

async function crochet() {
  const lib = await import('crochet');
  const calls = await import('./crochet-calls.mjs');
  return { lib, calls };
}

const cases = {
  async 'crochet-waitFor'() {
    const { lib, calls } = await crochet();
    lib.setup();
    return measure((i) => calls.increment(i));
  },
  async 'crochet-runInReactor'() {
    const { lib, calls } = await crochet();
    lib.setup();
    return measure((i) => calls.startIncrement(i).wait(10_000));
  },
  async synckit() {
    const { createSyncFn } = await import('synckit');
    const fn = createSyncFn(new URL('./synckit-worker.mjs', import.meta.url).href);
    return measure((i) => fn(i));
  },
  async 'crochet-synckit'() {
    const { createSyncFn } = await import('../dist/synckit.js');
    const fn = createSyncFn(new URL('./crochet-synckit-worker.mjs', import.meta.url).href);
    return measure((i) => fn(i));
  },
  async 'make-synchronized'() {
    const { default: makeSynchronized } = await import('make-synchronized');
    const fn = makeSynchronized(async (x) => x + 1);
    return measure((i) => fn(i));
  },
  async 'make-synchronous'() {
    const { default: makeSynchronous } = await import('make-synchronous');
    const fn = makeSynchronous(async (x) => x + 1);
    return measure((i) => fn(i));
  },
  async 'raw-postMessage'() {
    const sig = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(here, {
      workerData: { role: 'raw-postMessage', sig, port: port2 },
      transferList: [port2],
    });
    await new Promise((resolve) => worker.once('online', resolve));
    return measure((i) => {
      port1.postMessage(i);
      for (;;) {
        const seen = Atomics.load(sig, 0);
        const reply = receiveMessageOnPort(port1);
        if (reply !== undefined) return reply.message;
        Atomics.wait(sig, 0, seen, 1000);
      }
    });
  },
  async 'raw-atomics'() {
    // The floor: two threads exchanging a number through shared memory, parking each time.
    const shared = new Int32Array(new SharedArrayBuffer(16));
    const worker = new Worker(here, { workerData: { role: 'raw-atomics', shared } });
    await new Promise((resolve) => worker.once('online', resolve));
    let turn = 0;
    return measure((i) => {
      Atomics.store(shared, 1, i);
      turn += 2;
      Atomics.store(shared, 0, turn - 1);
      Atomics.notify(shared, 0);
      while (Atomics.load(shared, 0) !== turn) Atomics.wait(shared, 0, turn - 1, 1000);
      return Atomics.load(shared, 2);
    });
  },
  async await() {
    const fn = async (x) => x + 1;
    for (let i = 0; i < WARMUP; i++) await fn(i);
    const times = new Float64Array(CALLS);
    for (let i = 0; i < CALLS; i++) {
      const t = performance.now();
      await fn(i);
      times[i] = performance.now() - t;
    }
    return summarize(times);
  },
  async payloads() {
    const { lib, calls } = await crochet();
    const { createSyncFn } = await import('synckit');
    lib.setup();
    const echo = createSyncFn(new URL('./synckit-echo.mjs', import.meta.url).href);
    // Past the first calls of a fresh process first (see WARMUP), for both.
    for (let i = 0; i < WARMUP; i++) calls.increment(i);
    for (let i = 0; i < WARMUP; i++) echo(i);
    const results = {};
    // Small values first: the large ones leave much garbage behind for a while.
    // A string alone, 1 KiB: the lane carries text (up to 2048 units) as it carries numbers.
    const text = 'x'.repeat(1024);
    const sameText = (_i, got) => got.length === 1024;
    results['1 KiB text'] = {
      crochet: measure(() => calls.echo(text), 2000, sameText, WARMUP).median,
      synckit: measure(() => echo(text), 2000, sameText, WARMUP).median,
      structuredClone: measure(() => structuredClone(text), 2000, sameText, WARMUP).median,
    };
    // A small object of plain data: the lane carries it as JSON.
    const record = { id: 1, name: 'crochet', tags: ['sync', 'async'], size: 2.5, nested: { ok: true, at: null } };
    const sameRecord = (_i, got) => got.name === 'crochet';
    results['small object'] = {
      crochet: measure(() => calls.echo(record), 2000, sameRecord, WARMUP).median,
      synckit: measure(() => echo(record), 2000, sameRecord, WARMUP).median,
      structuredClone: measure(() => structuredClone(record), 2000, sameRecord, WARMUP).median,
    };
    for (const [label, bytes] of [
      ['1 KiB', 1024],
      ['64 KiB', 64 * 1024],
      ['1 MiB', 1024 * 1024],
    ]) {
      const value = payload(bytes);
      const count = bytes > 100_000 ? 200 : 2000;
      const warmup = bytes > 100_000 ? 100 : 2000;
      const same = (_i, got) => got.text.length === bytes;
      results[label] = {
        crochet: measure(() => calls.echo(value), count, same, warmup).median,
        synckit: measure(() => echo(value), count, same, warmup).median,
        structuredClone: measure(() => structuredClone(value), count, same, warmup).median,
      };
    }
    const size = 1024 * 1024;
    const copied = measure(
      () => calls.size(new ArrayBuffer(size)),
      300,
      (_i, got) => got === size,
      100,
    ).median;
    const moved = measure(
      () => {
        const buffer = new ArrayBuffer(size);
        return calls.size(lib.transfer(buffer, [buffer]));
      },
      300,
      (_i, got) => got === size,
      100,
    ).median;
    results['1 MiB ArrayBuffer'] = { copied, transferred: moved };
    return results;
  },
  async cpu() {
    const { lib, calls } = await crochet();
    const { createSyncFn } = await import('synckit');
    lib.setup();
    calls.sleep10();
    const sleep = createSyncFn(new URL('./synckit-sleep.mjs', import.meta.url).href);
    sleep();
    const crochetCpu = cpuPercent(() => {
      for (let i = 0; i < 100; i++) calls.sleep10();
    });
    const synckitCpu = cpuPercent(() => {
      for (let i = 0; i < 100; i++) sleep();
    });
    const cpu = process.cpuUsage();
    const t = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const used = process.cpuUsage(cpu);
    const idle = ((used.user + used.system) / 1000 / (performance.now() - t)) * 100;
    return { 'crochet 10 ms call': crochetCpu, 'synckit 10 ms call': synckitCpu, 'crochet idle (process)': idle };
  },
  async 'startup-crochet'() {
    const t = performance.now();
    const { lib, calls } = await crochet();
    lib.setup();
    calls.increment(0);
    return { ms: performance.now() - t };
  },
  async 'startup-synckit'() {
    const t = performance.now();
    const { createSyncFn } = await import('synckit');
    const fn = createSyncFn(new URL('./synckit-worker.mjs', import.meta.url).href);
    fn(0);
    return { ms: performance.now() - t };
  },
  async 'startup-crochet-synckit'() {
    const t = performance.now();
    const { createSyncFn } = await import('../dist/synckit.js');
    const fn = createSyncFn(new URL('./crochet-synckit-worker.mjs', import.meta.url).href);
    fn(0);
    return { ms: performance.now() - t };
  },
  async 'two-callers'() {
    const { lib, calls } = await crochet();
    lib.setup();
    const worker = new Worker(here, { workerData: { role: 'caller' } });
    const fromWorker = new Promise((resolve) => worker.once('message', resolve));
    const main = measure((i) => calls.increment(i));
    const other = await fromWorker;
    await worker.terminate();
    return { 'main thread': main.median, worker: other.median };
  },
  async 'worker-to-noSetup'() {
    const { lib } = await crochet();
    lib.noSetup();
    const worker = new Worker(here, { workerData: { role: 'caller' } });
    const result = await new Promise((resolve) => worker.once('message', resolve));
    await worker.terminate();
    return result;
  },
  async contended() {
    // The trivial call while another process keeps one of the cores busy (TUNE=off: with
    // setup({ spin: 0, hot: 0 })): more runnable
    // threads than cores, where spinning must back off instead of making things worse.
    const busy = spawn(process.execPath, ['-e', 'for (const end = Date.now() + 60_000; Date.now() < end; );'], {
      stdio: 'ignore',
    });
    try {
      const { lib, calls } = await crochet();
      const { createSyncFn } = await import('synckit');
      lib.setup(
        process.env.TUNE === 'off' ? { spin: 0, hot: 0 } : process.env.TUNE ? JSON.parse(process.env.TUNE) : {},
      );
      const fn = createSyncFn(new URL('./synckit-worker.mjs', import.meta.url).href);
      const count = Math.min(CALLS, 2000);
      return {
        crochet: measure((i) => calls.increment(i), count, undefined, 500).median,
        synckit: measure((i) => fn(i), count, undefined, 500).median,
      };
    } finally {
      busy.kill();
    }
  },
  async million() {
    const { lib, calls } = await crochet();
    lib.setup();
    for (let i = 0; i < 10_000; i++) calls.increment(i);
    globalThis.gc?.();
    const reactorBefore = calls.reactorHeap();
    const before = process.memoryUsage();
    const t = performance.now();
    for (let i = 0; i < CALLS; i++) if (calls.increment(i) !== i + 1) throw new Error(`stale reply at ${i}`);
    const seconds = (performance.now() - t) / 1000;
    globalThis.gc?.();
    const after = process.memoryUsage();
    const reactorAfter = calls.reactorHeap();
    const mib = (bytes) => bytes / 1024 / 1024;
    return {
      calls: CALLS,
      seconds,
      'rss before (MiB)': mib(before.rss),
      'rss after (MiB)': mib(after.rss),
      'heap before (MiB)': mib(before.heapUsed),
      'heap after (MiB)': mib(after.heapUsed),
      'reactor heap before (MiB)': mib(reactorBefore),
      'reactor heap after (MiB)': mib(reactorAfter),
    };
  },
};

if (isMainThread) {
  const run = cases[name];
  if (run === undefined) throw new Error(`no case ${name}; cases: ${Object.keys(cases).join(', ')}`);
  console.log(JSON.stringify(await run()));
  process.exit(0);
} else if (workerData.role === 'raw-postMessage') {
  const { sig, port } = workerData;
  port.on('message', (x) => {
    void Promise.resolve(x + 1).then((value) => {
      port.postMessage(value);
      Atomics.add(sig, 0, 1);
      Atomics.notify(sig, 0);
    });
  });
} else if (workerData.role === 'raw-atomics') {
  const { shared } = workerData;
  for (let turn = 1; ; turn += 2) {
    while (Atomics.load(shared, 0) !== turn) Atomics.wait(shared, 0, turn - 1);
    Atomics.store(shared, 2, Atomics.load(shared, 1) + 1);
    Atomics.store(shared, 0, turn + 1);
    Atomics.notify(shared, 0);
  }
} else if (workerData.role === 'caller') {
  const calls = await import('./crochet-calls.mjs');
  parentPort.postMessage(measure((i) => calls.increment(i)));
}
