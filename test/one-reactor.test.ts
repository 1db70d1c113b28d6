/**
 * One reactor per process: how threads find it, elect it, share it between two copies of
 * the package, survive foreign traffic on its directory, and what happens when the thread
 * that started it, or the reactor itself, goes away. Each test runs a bounded child
 * process: all of this is process-wide.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lastJson, runFixture, type Exit } from './helpers.js';

/** The JSON a fixture printed last, after checking that it exited by itself with code 0. */
function report(exit: Exit): Record<string, unknown> {
  assert.equal(exit.signal, null, `killed by the failsafe\nstdout: ${exit.stdout}\nstderr: ${exit.stderr}`);
  assert.equal(exit.code, 0, `stdout: ${exit.stdout}\nstderr: ${exit.stderr}`);
  return lastJson(exit) as Record<string, unknown>;
}

const STOPPED = 'ERR_CROCHET_REACTOR_STOPPED';

/** Bun and Deno run threads of their own: the process's thread count says nothing of crochet's there. */
const countsThreads = !('Bun' in globalThis) && !('Deno' in globalThis);
const onDeno = 'Deno' in globalThis;
const piscinaSkip = onDeno && 'piscina’s worker is CommonJS without a "type" field, which Deno does not load';

describe('a reactor started by a worker thread', () => {
  for (const [how, bSetup, next] of [
    ['end', 'none', 'peer'],
    ['exit', 'setup', 'main'],
    ['end', 'setup', 'main'],
    ['exit', 'none', 'peer'],
  ] as const) {
    const ending = how === 'end' ? 'reaches the end of its script' : 'calls process.exit()';
    const caller = bSetup === 'setup' ? 'called setup() after it' : 'never called setup()';
    const restarter = next === 'peer' ? 'that worker' : 'the main thread';
    it(`stops when the worker that started it ${ending}, failing at once the blocked call of a worker that ${caller}, with a cause naming the thread; then ${restarter} starts a new one`, async () => {
      const seen = report(await runFixture('one-starter.js', { args: [how, bSetup, next], killAfter: 20_000 }));
      assert.equal(seen['sameReactor'], true, 'both workers used the one reactor');
      assert.equal(seen['entered'], true);
      // (Deno reports exit code 1 for a worker that ends with workers of its own.)
      if (!onDeno) assert.equal(seen['aExitCode'], 0);
      assert.deepEqual(
        seen['failed'],
        { name: 'ReactorStoppedError', code: STOPPED, causeNamesStarter: true },
        String(seen['cause']),
      );
      assert.ok((seen['failedWithin'] as number) < 3000, `failed ${String(seen['failedWithin'])} ms after`);
      assert.deepEqual(seen['fresh'], { ok: true, newReactor: true });
      if (next === 'main') assert.deepEqual(seen['bAfter'], { ok: true, same: true }, 'the worker finds it too');
    });
  }
});

describe('a piscina pool whose task module calls setup()', () => {
  it(
    'hangs no call when idle workers, the one that started the reactor among them, are retired: each call succeeds or fails with ReactorStoppedError within seconds',
    { skip: piscinaSkip },
    async () => {
      const seen = report(await runFixture('one-pool.js', { killAfter: 40_000 }));
      assert.deepEqual(seen['rejected'], [], 'no task threw');
      assert.equal(seen['unfinished'], 0, 'every task got a working reactor in the end');
      assert.deepEqual(seen['kinds'], [STOPPED, 'ok']);
      assert.deepEqual(
        seen['blockedWhenRetired'],
        [true, true, true, true],
        'the calls blocked when the starting worker was retired failed',
      );
      assert.ok((seen['longest'] as number) < 4000, `the longest attempt took ${String(seen['longest'])} ms`);
      assert.deepEqual(seen['retiredBetween'], [true, true]);
      const bystander = seen['bystander'] as { counts: Record<string, number>; longest: number };
      for (const kind of Object.keys(bystander.counts)) assert.ok(['ok', STOPPED].includes(kind), kind);
      assert.ok((bystander.counts['ok'] ?? 0) > 0, 'the worker outside the pool had calls served');
      assert.ok(bystander.longest < 4000, `its longest call took ${bystander.longest} ms`);
      assert.deepEqual(seen['final'], [true, true, true]);
    },
  );
});

describe('one reactor per process', () => {
  for (const n of [2, 4]) {
    it(`is what ${n} workers calling setup() at the same moment share: one reactor thread and one supervisor`, async () => {
      const seen = report(await runFixture('one-election.js', { args: ['together', String(n)], killAfter: 20_000 }));
      assert.equal(seen['allWaiting'], true);
      assert.deepEqual(seen['failures'], []);
      assert.equal(seen['reactors'], 1, 'every worker got the same reactor thread id');
      assert.equal(seen['inReactor'], true);
      if (countsThreads)
        assert.equal(seen['added'], 2, 'threads added besides the workers: a reactor and its supervisor');
      assert.equal(seen['stillOne'], true);
    });
  }

  it('stays one when many workers call setup() at the same moment in several busy processes', async () => {
    for (let round = 0; round < 2; round++) {
      const exits = await Promise.all(
        Array.from({ length: 4 }, () => runFixture('one-election.js', { args: ['together', '8'], killAfter: 30_000 })),
      );
      for (const exit of exits) {
        const seen = report(exit);
        // Almost always one from the start; when threads starved of CPU missed each other,
        // two served for a moment, one stood down, and its callers moved to the other.
        assert.equal(seen['settledOne'], true, `reactor threads in one process: ${JSON.stringify(seen)}`);
        assert.equal(seen['stoodDown'], true, `failures other than a stand-down: ${JSON.stringify(seen)}`);
        if (countsThreads) assert.equal(seen['added'], 2);
      }
    }
  });

  it('is the worker’s when the main thread calls setup() after a worker did', async () => {
    const seen = report(await runFixture('one-election.js', { args: ['main-setup'], killAfter: 20_000 }));
    assert.equal(seen['same'], true, JSON.stringify(seen['mine']));
    if (countsThreads) assert.equal(seen['added'], 2);
  });

  it('is found by a wrapper called on the main thread without setup() there, after a worker’s setup()', async () => {
    const seen = report(await runFixture('one-election.js', { args: ['main-call'], killAfter: 20_000 }));
    assert.equal(seen['same'], true, JSON.stringify(seen['mine']));
    if (countsThreads) assert.equal(seen['added'], 2);
  });

  it('makes noSetup() on the main thread throw ERR_CROCHET_ALREADY_SET_UP after a worker’s setup()', async () => {
    const seen = report(await runFixture('one-election.js', { args: ['main-noSetup'], killAfter: 20_000 }));
    assert.deepEqual(seen['noSetup'], { name: 'CrochetError', code: 'ERR_CROCHET_ALREADY_SET_UP' });
    assert.equal(seen['isCrochetError'], true);
    assert.equal(seen['same'], true, 'the main thread still calls the worker’s reactor');
    if (countsThreads) assert.equal(seen['added'], 2);
  });

  it('makes noSetup() in a worker throw a CrochetError with code ERR_CROCHET_MAIN_THREAD_ONLY, starting nothing', async () => {
    const seen = report(await runFixture('one-election.js', { args: ['worker-noSetup'], killAfter: 20_000 }));
    assert.deepEqual(seen['noSetup'], { name: 'CrochetError', code: 'ERR_CROCHET_MAIN_THREAD_ONLY' });
    if (countsThreads) assert.equal(seen['added'], 0);
  });
});

describe('two copies of the package in one process', () => {
  it('run the calls of both copies, and of a worker using one, in one reactor thread, where isReactorThread() is true for both', async () => {
    const seen = report(await runFixture('one-copies.js', { killAfter: 20_000 }));
    assert.deepEqual(
      { ...seen, added: countsThreads ? seen['added'] : 2 },
      {
        sameThread: true,
        reactorForBoth: true,
        twoCopiesInReactor: true,
        copies: ['/a/node_modules/crochet/dist/index.js', '/b/node_modules/crochet/dist/index.js'],
        notReactorHere: true,
        added: 2,
        workerSameThread: true,
      },
    );
  });
});

describe('foreign traffic on the directory', () => {
  const debug = { ...process.env, NODE_DEBUG: 'crochet' };

  it('is ignored, and reported under NODE_DEBUG, before and after setup(), from the main thread and a worker: calls keep working', async () => {
    const exit = await runFixture('one-foreign.js', { args: ['setup', 'junk'], env: debug, killAfter: 20_000 });
    const seen = report(exit);
    assert.equal(seen['postingBefore'], true);
    assert.equal(seen['bursts'], true);
    assert.deepEqual(seen['failures'], []);
    assert.equal(seen['reactors'], 1);
    assert.match(exit.stderr, /directory: ignored a message that is not one of crochet/);
    assert.match(exit.stderr, /directory: ignored a hello with an invalid key/);
  });

  // Deno carries every BroadcastChannel message of the process through one queue of 256,
  // and a thread that falls further behind loses messages of any channel silently. This
  // flood (40 messages every 5 ms) outruns a busy noSetup() main thread, which then loses
  // a worker's request (see docs/runtimes.md).
  const flooded = 'Deno' in globalThis && "Deno's broadcast queue drops messages for a thread that lags under a flood";
  it(
    'leaves a noSetup() server serving its workers, an impostor’s leader claim included',
    { skip: flooded },
    async () => {
      const exit = await runFixture('one-foreign.js', { args: ['noSetup', 'impostor'], env: debug, killAfter: 20_000 });
      const seen = report(exit);
      assert.equal(seen['bursts'], true);
      assert.deepEqual(seen['failures'], []);
      assert.equal(seen['reactors'], 1);
      assert.match(exit.stderr, /directory: ignored a message that is not one of crochet/);
      assert.match(exit.stderr, /directory: ignored a hello with an invalid key/);
    },
  );

  it('leaves setup() working while an impostor that never answers claims to lead', async () => {
    const exit = await runFixture('one-foreign.js', { args: ['setup', 'impostor'], killAfter: 20_000 });
    const seen = report(exit);
    assert.deepEqual(seen['failures'], [], `${String(seen['failed'])} calls failed`);
    assert.equal(seen['reactors'], 1);
  });

  it('never shows a passive listener shared memory beyond a 96-byte answer box, a stash id or a result', async () => {
    const seen = report(await runFixture('one-listener.js', { killAfter: 20_000 }));
    // Four threads found the reactor by the directory; a hello not answered at once is said again.
    assert.ok((seen['hellos'] as number) >= 4, `the listener heard ${String(seen['hellos'])} hellos`);
    assert.deepEqual(
      { ...seen, hellos: undefined },
      {
        results: [true, true, true],
        hellos: undefined,
        largestBuffer: 96,
        canarySeen: true,
        idSeen: false,
        resultSeen: false,
      },
    );
  });
});

describe('setup() and shutdown() cycles', () => {
  it('add no exit listener after the first, on the main thread and in a worker, and a worker that called setup() reaches each new reactor', async () => {
    // (About 28 s on Deno, where a worker's first call into a reactor it started takes a second.)
    const seen = report(await runFixture('one-leaks.js', { killAfter: 60_000 }));
    for (const where of ['main', 'worker']) {
      const { before, counts } = seen[where] as { before: number; counts: number[] };
      assert.equal(counts.length, 20);
      assert.ok(counts[0]! <= before + 1, `${where}: ${before} before, ${counts[0]!} after one cycle`);
      assert.deepEqual(new Set(counts), new Set([counts[0]]), `${where}: ${JSON.stringify(counts)}`);
    }
    assert.equal(seen['workerUsedMain'], true);
    const after = seen['afterRestart'] as { ok: boolean; newReactor: boolean; failuresFirst: string[] };
    assert.equal(after.ok, true);
    assert.equal(after.newReactor, true);
    assert.ok(after.failuresFirst.length <= 1, 'only the call that meets the stop fails');
    assert.deepEqual(seen['between'], [STOPPED, STOPPED]);
    const recovered = seen['recovered'] as { ok: boolean; newReactor: boolean; failuresFirst: string[] };
    assert.equal(recovered.ok, true, 'not ReactorStoppedError for ever');
    assert.equal(recovered.newReactor, true);
    assert.deepEqual(
      [...new Set(recovered.failuresFirst)].filter((code) => code !== STOPPED),
      [],
    );
  });
});

describe('a reactor that crashes', () => {
  it('wakes a caller blocked in another worker at once when reactor code calls process.exit()', async () => {
    const seen = report(await runFixture('one-crash.js', { args: ['exit'], killAfter: 20_000 }));
    assert.equal(seen['entered'], true);
    assert.deepEqual(seen['here'], { name: 'ReactorStoppedError', code: STOPPED });
    assert.deepEqual(seen['there'], {
      name: 'ReactorStoppedError',
      code: STOPPED,
      cause: 'Reactor code called process.exit(3)',
    });
    assert.ok((seen['afterFatal'] as number) < 2000, `woke ${String(seen['afterFatal'])} ms after process.exit()`);
  });

  it(
    'wakes a caller blocked in another worker at once when the reactor runs out of memory',
    {
      skip: ('Bun' in globalThis || onDeno) && 'resourceLimits, which Bun and Deno do not apply to workers',
    },
    async () => {
      const seen = report(await runFixture('one-crash.js', { args: ['oom'], killAfter: 60_000 }));
      assert.equal(seen['entered'], true);
      assert.deepEqual(seen['here'], { name: 'ReactorStoppedError', code: STOPPED });
      const there = seen['there'] as Record<string, unknown>;
      assert.equal(there['code'], STOPPED);
      assert.equal(there['causeCode'], 'ERR_WORKER_OUT_OF_MEMORY');
      assert.ok(
        Math.abs(seen['afterHere'] as number) < 2000,
        `woke ${String(seen['afterHere'])} ms after the caller here`,
      );
    },
  );
});

describe('start-up is not the call’s time', () => {
  it('lets the first call right after setup() into a module that takes 400 ms to import return within its 100 ms timeout', async () => {
    const seen = report(await runFixture('one-slow.js', { args: ['default'], killAfter: 20_000 }));
    assert.deepEqual({ ok: seen['ok'], value: seen['value'] }, { ok: true, value: 42 }, String(seen['message']));
  });

  it('fails a call whose module is still loading when the start-up limit runs out, naming the module', async () => {
    const seen = report(await runFixture('one-slow.js', { args: ['short'], killAfter: 20_000 }));
    assert.equal(seen['ok'], false);
    assert.equal(seen['code'], 'ERR_CROCHET_TIMEOUT');
    assert.match(String(seen['message']), /one-slow-long-module\.js/);
    assert.ok((seen['took'] as number) < 3000, 'it failed before the module was loaded');
  });
});
