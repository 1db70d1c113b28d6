// What threads leave behind in crochet's threads: `node benchmarks/residue.mjs [threads]`
// (after `npm run build`). THREADS worker threads (2000 by default, 40 at a time) each make a
// call from a thread that did not start the reactor (so each opens a channel of its own);
// half of them then exit cleanly, the other half are terminated in the middle of a call.
// The heaps of the reactor and supervisor threads are measured through the inspector
// (after a full GC in each) once the reactor has closed the channels of the terminated
// threads (after 5 to 10 s of quiet), after each of two rounds of THREADS/2 threads: the
// difference, per thread, is what a thread leaves behind. Prints one JSON line, and keeps
// it in benchmarks/residue-results.json.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { isReactorThread, setup, waitFor } from '../dist/index.js';

export const ping = waitFor({ timeout: 10_000 })(() => 1);
// A call that outlives the thread that made it (terminated in the middle of it), then ends.
export const hang = waitFor({ timeout: Infinity })(() => new Promise((resolve) => setTimeout(resolve, 2000)));

if (!isReactorThread() && !isMainThread) {
  ping();
  if (workerData === 'exit') {
    parentPort.postMessage('done');
  } else {
    parentPort.postMessage('blocking');
    hang();
  }
} else if (!isReactorThread()) {
  const THREADS = Number(process.argv[2] ?? 2000);
  const BATCH = 40;
  setup();
  ping();
  let next = 0;
  async function one(i) {
    const kind = i % 2 === 0 ? 'exit' : 'terminate';
    const worker = new Worker(new URL(import.meta.url), { workerData: kind });
    // Listened for at once: Node emits a worker's last messages and its exit together.
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    await new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', () => resolve());
    });
    if (kind === 'terminate') await worker.terminate();
    await exited;
  }
  async function round(count) {
    const end = next + count;
    await Promise.all(
      Array.from({ length: BATCH }, async () => {
        while (next < end) await one(next++);
      }),
    );
    // The reactor closes the channels of threads that went quiet with nothing under way
    // (after 5 to 10 s; the last calls of terminated threads end 2 s after them).
    await new Promise((resolve) => setTimeout(resolve, 13_000));
    return heap();
  }
  /** The heap in use in crochet's two threads, after a full GC in each, by thread. */
  async function heap() {
    const session = new Session();
    session.connect();
    // The inspector does not keep the event loop alive while threads answer.
    const alive = setInterval(() => {}, 1000);
    const threads = [];
    session.on('NodeWorker.attachedToWorker', ({ params }) => threads.push(params));
    const waiting = new Map();
    session.on('NodeWorker.receivedMessageFromWorker', ({ params }) => {
      const message = JSON.parse(params.message);
      waiting.get(message.id)?.(message.result);
    });
    let id = 0;
    const ask = (sessionId, method) =>
      new Promise((resolve) => {
        waiting.set(++id, resolve);
        void session.post('NodeWorker.sendMessageToWorker', {
          sessionId,
          message: JSON.stringify({ id, method, params: {} }),
        });
      });
    await session.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
    const used = {};
    for (const { sessionId, workerInfo } of threads) {
      const name = /supervisor/.test(workerInfo.url) ? 'supervisor' : /reactor/.test(workerInfo.url) ? 'reactor' : '';
      if (name === '') continue;
      await ask(sessionId, 'HeapProfiler.collectGarbage');
      await ask(sessionId, 'HeapProfiler.collectGarbage');
      used[name] = (await ask(sessionId, 'Runtime.getHeapUsage')).usedSize;
    }
    await session.post('NodeWorker.disable');
    session.disconnect();
    clearInterval(alive);
    return used;
  }
  // A first round pays for what is made once (compiled code, pools); the second shows what
  // each thread leaves.
  const started = performance.now();
  const first = await round(THREADS / 2);
  const second = await round(THREADS / 2);
  const per = (key) => Math.round((second[key] - first[key]) / (THREADS / 2));
  if (first.reactor === undefined || first.supervisor === undefined)
    throw new Error('The inspector did not list both threads');
  const results = {
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30) },
    node: process.version,
    threads: THREADS,
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    heapAfterFirstRound: first,
    heapAfterSecondRound: second,
    bytesPerThread: { reactor: per('reactor'), supervisor: per('supervisor') },
  };
  console.log(JSON.stringify(results));
  // Kept for BENCHMARKS.md (benchmarks/run.mjs writes its section from this file).
  writeFileSync(new URL('./residue-results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
  process.exit(0);
}
