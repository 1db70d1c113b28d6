// One fault, in a process of its own (see ../faults.mjs): argv[2] names it. The reactor (or
// the thread that started it) stamps the moment of the fault in shared memory; the blocked
// caller measures from there to the error it gets. Writes one JSON line to the file argv[3]
// (stdout may be flooded by the fault itself), or prints it.
import { writeFileSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { isReactorThread, setup, waitFor } from '../../dist/index.js';

/** Shared: [0] the fault's time (ms since the epoch, as a float in a Float64Array view). */
const stamp = (memory) => {
  new Float64Array(memory)[0] = performance.timeOrigin + performance.now();
};

export const exitNow = waitFor({ timeout: Infinity })((memory) => {
  stamp(memory);
  process.exit(3);
});
export const throwOutside = waitFor({ timeout: Infinity })((memory) => {
  process.removeAllListeners('uncaughtException');
  setTimeout(() => {
    stamp(memory);
    throw new Error('nothing handles this');
  }, 1);
  return new Promise(() => undefined);
});
export const exhaust = waitFor({ timeout: Infinity })((memory) => {
  const hoard = [];
  for (;;) {
    hoard.push(new Array(100_000).fill(hoard.length));
    stamp(memory);
  }
});
export const never = waitFor({ timeout: Infinity })(() => new Promise(() => undefined));
export const ping = waitFor({ timeout: 10_000 })(() => 1);
export const printForever = waitFor({ timeout: 1000 })(() => {
  for (;;) console.log('x'.repeat(100));
});
export const deep = waitFor({ timeout: 10_000 })(() => {
  let list = null;
  for (let i = 0; i < 20_000; i++) list = { next: list };
  return list;
});
export const badGetter = waitFor({ timeout: 10_000 })(() => {
  const error = new Error('outer');
  Object.defineProperty(error, 'cause', {
    get() {
      throw new Error('cause getter throws');
    },
  });
  throw error;
});

function report(result) {
  const out = process.argv[3];
  if (out === undefined) console.log(JSON.stringify(result));
  else writeFileSync(out, JSON.stringify(result));
}

const now = () => performance.timeOrigin + performance.now();
const fault = process.argv[2] ?? workerData?.fault;

function measure(run, memory) {
  const started = now();
  try {
    run();
    return { fault, ok: true };
  } catch (error) {
    const at = memory === undefined ? started : new Float64Array(memory)[0] || started;
    return { fault, ok: false, code: error.code, ms: Number((now() - at).toFixed(2)) };
  }
}

if (isMainThread && !isReactorThread()) {
  const memory = new SharedArrayBuffer(8);
  const limits = fault === 'oom' ? { resourceLimits: { maxOldGenerationSizeMb: 64 } } : {};
  if (fault === 'starter-exit' || fault === 'starter-terminate') {
    // A worker starts the reactor; this thread blocks in a call; the worker ends.
    const starter = new Worker(new URL(import.meta.url), { workerData: { fault: 'starter', memory } });
    await new Promise((resolve) => starter.once('message', resolve));
    // A caller thread blocks in a call that never ends; then the starter ends.
    const caller = new Worker(new URL(import.meta.url), { workerData: { fault: 'caller', memory } });
    const outcome = new Promise((resolve) =>
      caller.on('message', (message) => message !== 'blocking' && resolve(message)),
    );
    await new Promise((resolve) => caller.once('message', resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    stamp(memory);
    if (fault === 'starter-exit') starter.postMessage('exit');
    else void starter.terminate();
    report({ ...(await outcome), fault });
    process.exit(0);
  }
  setup(limits);
  ping();
  const result =
    fault === 'exit'
      ? measure(() => exitNow(memory), memory)
      : fault === 'uncaught'
        ? measure(() => throwOutside(memory), memory)
        : fault === 'oom'
          ? measure(() => exhaust(memory), memory)
          : fault === 'print'
            ? measure(() => printForever())
            : fault === 'deep'
              ? measure(() => deep())
              : fault === 'getter'
                ? measure(() => badGetter())
                : { fault, error: 'unknown fault' };
  report(result);
  process.exit(0);
} else if (!isReactorThread() && workerData?.fault === 'starter') {
  setup();
  ping();
  parentPort.on('message', () => process.exit(0));
  parentPort.postMessage('up');
} else if (!isReactorThread() && workerData?.fault === 'caller') {
  ping();
  parentPort.postMessage('blocking');
  parentPort.postMessage(measure(() => never(), workerData.memory));
}
