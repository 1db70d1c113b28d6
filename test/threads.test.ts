import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { CancelledError, retrieveResult, setup } from 'crochet';
import { Driven, fixture, gate } from './helpers.js';
import * as shared from './fixtures/shared.js';

function threads(): number {
  return readdirSync('/proc/self/task').length;
}

function open(g: Int32Array, value: number): void {
  Atomics.store(g, 0, value);
  Atomics.notify(g, 0);
}

/** Resolves once slot 0 of `g` is non-zero, without blocking this thread's loop. */
async function opened(g: Int32Array): Promise<void> {
  const result = Atomics.waitAsync(g, 0, 0, 10_000);
  if (result.async) await result.value;
}

const drivers: Driven[] = [];
function driven(options?: { setupFirst?: boolean }): Driven {
  const d = new Driven(options);
  drivers.push(d);
  return d;
}

after(async () => {
  await Promise.all(drivers.map((d) => d.close()));
});

describe('any thread can call: setup() mode', () => {
  // Created before setup(): it inherits no hint and must ask the directory.
  const early = driven();
  let reactor: unknown;

  it('lets a worker created before setup() find the reactor through the directory', async () => {
    setup();
    reactor = shared.reactorThread();
    assert.deepEqual(await early.ask('reactorThread'), reactor);
    assert.equal(await early.ask('increment', 1), 2);
  });

  it('lets a worker created after setup() use the reactor without calling setup()', async () => {
    const late = driven();
    assert.deepEqual(await late.ask('reactorThread'), reactor);
    assert.equal(await late.ask('bump', 5), shared.count());
  });

  it('makes setup() in a worker use the existing reactor instead of starting another', async () => {
    const before = threads();
    const worker = driven({ setupFirst: true });
    assert.deepEqual(await worker.ask('reactorThread'), reactor);
    await worker.ask('setup');
    // (Bun starts threads of its own now and then: there the count says nothing.)
    if (!('Bun' in globalThis)) assert.equal(threads() - before, 1, 'only the worker itself was added');
    assert.deepEqual(await worker.ask('reactorThread'), reactor);
  });

  it('lets a worker created by another worker use the reactor', async () => {
    const nested = new Worker(fixture('nested-worker.js'));
    const message = await new Promise((resolve) => nested.once('message', resolve));
    await nested.terminate();
    assert.deepEqual(message, { where: reactor, value: 42 });
  });

  it('retrieves a result stashed in one worker, and waits on it, in another', async () => {
    const a = driven();
    const b = driven();
    const key = await a.ask('startDelayed', 'across', 20);
    const id = (await a.ask('stash', key)) as string;
    const there = await b.ask('retrieve', id);
    assert.equal(await b.ask('wait', there, 10_000), 'across');
    assert.equal(await a.ask('wait', key, 10_000), 'across', 'the stashing handle stays usable');
  });

  it('moves results between the main thread and workers both ways', async () => {
    const worker = driven();
    const fromMain = shared.startDelayed({ from: 'main' }, 1).stash();
    const key = await worker.ask('retrieve', fromMain);
    assert.deepEqual(await worker.ask('wait', key, 10_000), { from: 'main' });
    const g = gate();
    const pending = await worker.ask('startWhenOpen', g);
    const fromWorker = (await worker.ask('stash', pending)) as string;
    const here = retrieveResult<number>(fromWorker);
    open(g, 77);
    assert.equal(here.wait(10_000), 77);
    assert.equal(await worker.ask('wait', pending, 10_000), 77);
  });

  it('keeps settled values and failures when a result is stashed after it settled', async () => {
    const a = driven();
    const b = driven();
    const ok = await a.ask('startDelayed', [1, 2], 0);
    await a.ask('wait', ok, 10_000);
    const failing = gate();
    const bad = await a.ask('startWhenOpen', failing);
    open(failing, -1);
    await a.tryAsk('wait', bad, 10_000);
    const ids = [(await a.ask('stash', ok)) as string, (await a.ask('stash', bad)) as string];
    assert.deepEqual(await b.ask('wait', await b.ask('retrieve', ids[0]), 0), [1, 2]);
    const failure = await b.tryAsk('wait', await b.ask('retrieve', ids[1]), 0);
    assert.equal(failure.ok, false);
    assert.equal(failure.error?.name, 'RangeError');
    assert.equal(failure.error?.message, 'the gate said fail');
  });

  it('returns the very same handle when the stashing thread retrieves it, once', async () => {
    const worker = driven();
    const other = driven();
    const key = await worker.ask('startDelayed', 1, 0);
    const id = await worker.ask('stash', key);
    const again = await worker.ask('retrieve', id);
    assert.equal(await worker.ask('same', key, again), true);
    const second = await other.tryAsk('retrieve', id);
    assert.equal(second.ok, false);
    assert.equal(second.error?.code, 'ERR_CROCHET_UNKNOWN_RESULT');
    const inMain = shared.startDelayed(2, 0);
    assert.equal(retrieveResult(inMain.stash()), inMain);
  });

  it('fails a second retrieve in another thread with ERR_CROCHET_UNKNOWN_RESULT', async () => {
    const worker = driven();
    const id = shared.startDelayed(3, 0).stash();
    assert.equal(retrieveResult(id).wait(10_000), 3);
    const second = await worker.tryAsk('retrieve', id);
    assert.equal(second.error?.code, 'ERR_CROCHET_UNKNOWN_RESULT');
  });

  it('lets cancel() from any holder cancel the call for every holder', async () => {
    const a = driven();
    const b = driven();
    const aborted = gate();
    const key = await a.ask('startHang', aborted);
    const there = await b.ask('retrieve', await a.ask('stash', key));
    await b.ask('cancel', there);
    await opened(aborted);
    assert.equal(Atomics.load(aborted, 0), 1, "the call's signal was aborted");
    const inA = await a.tryAsk('wait', key, 10_000);
    assert.equal(inA.error?.name, 'CancelledError', 'the other holder sees the cancellation');
    const inB = await b.tryAsk('wait', there, 0);
    assert.equal(inB.error?.name, 'CancelledError');
    // And from the main thread, on a result a worker started.
    const again = gate();
    const started = await a.ask('startHang', again);
    const mine = retrieveResult((await a.ask('stash', started)) as string);
    mine.cancel();
    await opened(again);
    assert.equal((await a.tryAsk('wait', started, 10_000)).error?.name, 'CancelledError');
    assert.throws(() => mine.wait(0), CancelledError);
  });

  it('lets several threads wait on the same result at once', async () => {
    const waiters = [driven(), driven(), driven()];
    const g = gate();
    const original = shared.startWhenOpen(g);
    let id = original.stash();
    const keys: unknown[] = [];
    for (const waiter of waiters) {
      const key = await waiter.ask('retrieve', id);
      keys.push(key);
      id = (await waiter.ask('stash', key)) as string;
    }
    const waits = waiters.map((waiter, i) => waiter.ask('wait', keys[i], 10_000));
    open(g, 345);
    assert.deepEqual(await Promise.all(waits), [345, 345, 345]);
    assert.equal(original.wait(10_000), 345);
    assert.equal(retrieveResult(id).wait(10_000), 345);
  });

  it('gives every reply to its own caller with many threads making many calls', async () => {
    const ci = process.env['CI'] !== undefined;
    const workers = Array.from({ length: ci ? 8 : 4 }, () => driven());
    const calls = ci ? 3000 : 300;
    const loops = workers.map((worker, i) => worker.ask('loop', calls, i + 1));
    // The main thread calls too, at the same time.
    let right = 0;
    for (let i = 0; i < calls; i++) if (shared.increment(-i) === 1 - i) right++;
    assert.equal(right, calls);
    assert.deepEqual(
      await Promise.all(loops),
      workers.map(() => calls),
    );
  });

  it('detaches a buffer a worker sends with transfer(), even where it must be copied', async () => {
    const worker = driven();
    assert.deepEqual(await worker.ask('transferOut', 4096), { seen: 4096, left: 0 });
  });

  it('stays healthy when a caller thread is terminated while blocked', async () => {
    const doomed = driven();
    const blocking = gate();
    void doomed.tryAsk('blockForever', blocking);
    await opened(blocking);
    await doomed.close();
    assert.equal(shared.increment(1), 2);
    const survivor = driven();
    assert.equal(await survivor.ask('increment', 2), 3);
    const before = shared.count();
    assert.equal(await survivor.ask('bump', 1), before + 1);
  });
});
