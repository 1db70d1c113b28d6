import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { fixture, lastJson, runFixture } from './helpers.js';

describe('process-level behaviour', () => {
  it(
    'wakes a blocked caller with ReactorStoppedError when reactor code calls process.exit()',
    {
      skip:
        ('Bun' in globalThis &&
          "Bun drops the frames of calls in tail position: the fixture's timer callback calls process.exit() in one") ||
        ('Deno' in globalThis && 'Deno maps stack traces to the TypeScript sources, so the frame names the .ts file'),
    },
    async () => {
      const exit = await runFixture('proc-exit.js');
      assert.equal(exit.code, 0, exit.stderr);
      const { first, later, laterResult, settledAfter, pendingAfter } = lastJson(exit) as Record<
        string,
        Record<string, unknown>
      >;
      assert.equal(first?.['stopped'], true);
      assert.equal(first?.['code'], 'ERR_CROCHET_REACTOR_STOPPED');
      assert.equal(first?.['cause'], 'Reactor code called process.exit(3)');
      assert.match(String(first?.['causeStack']), /proc-exit\.js/);
      assert.match(String(first?.['message']), /process\.exit\(3\)/);
      assert.deepEqual(later, first === undefined ? undefined : { ...first }, 'later calls fail the same way');
      assert.equal(laterResult?.['stopped'], true, 'runInReactor throws once the reactor has stopped');
      assert.deepEqual(settledAfter, { returned: 'pong' }, 'a result known before the stop keeps its value');
      assert.equal(pendingAfter?.['stopped'], true, 'a result pending at the stop fails with ReactorStoppedError');
      assert.equal(pendingAfter?.['cause'], 'Reactor code called process.exit(3)');
    },
  );

  it(
    'wakes a blocked caller with ReactorStoppedError when the reactor runs out of memory',
    {
      skip:
        ('Bun' in globalThis && '--max-old-space-size is a V8 flag, which Bun ignores') ||
        ('Deno' in globalThis &&
          'Deno does not end a worker that runs out of memory with ERR_WORKER_OUT_OF_MEMORY: the process dies'),
    },
    async () => {
      const exit = await runFixture('proc-oom.js', { execArgv: ['--max-old-space-size=64'], killAfter: 60_000 });
      assert.equal(exit.code, 0, exit.stderr);
      assert.deepEqual(lastJson(exit), {
        stopped: true,
        causeCode: 'ERR_WORKER_OUT_OF_MEMORY',
        causeMessage: 'Worker terminated due to reaching memory limit: JS heap out of memory',
      });
    },
  );

  it(
    'fails calls with ReactorStoppedError when the reactor cannot start',
    {
      skip: ('Bun' in globalThis || 'Deno' in globalThis) && '--import preloads, which Node runs in worker threads too',
    },
    async () => {
      const preload = pathToFileURL(fixture('fail-in-reactor.js')).href;
      const exit = await runFixture('proc-start-failure.js', { execArgv: ['--import', preload] });
      assert.equal(exit.code, 0, exit.stderr);
      const outcomes = lastJson(exit) as { stopped: boolean; cause: string }[];
      assert.equal(outcomes.length, 2);
      for (const outcome of outcomes) {
        assert.equal(outcome.stopped, true);
        assert.equal(outcome.cause, 'the reactor preload failed on purpose');
      }
    },
  );

  for (const mode of ['waitFor', 'wait']) {
    it(`ends a program blocked in ${mode === 'wait' ? 'EventualResult.wait()' : 'a waitFor call'} promptly on Ctrl-C`, async () => {
      const exit = await runFixture('proc-sigint.js', {
        args: [mode],
        onLine: {
          line: 'blocking',
          then: (child) => {
            child.kill('SIGINT');
          },
        },
        killAfter: 10_000,
      });
      assert.equal(exit.signal, 'SIGINT', `stdout: ${exit.stdout}\nstderr: ${exit.stderr}`);
      assert.doesNotMatch(exit.stdout, /returned/);
    });
  }

  it('exits when the main code is done, even with reactor work and timers pending', async () => {
    const exit = await runFixture('proc-pending.js', { killAfter: 10_000 });
    assert.equal(exit.signal, null, 'it exited by itself, not by the failsafe kill');
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stdout, 'ticking\nmain done\n');
  });

  it('keeps waitFor timeouts and the process exit working while reactor code loops for ever', async () => {
    const exit = await runFixture('proc-spin.js', { killAfter: 10_000 });
    assert.equal(exit.signal, null, 'it exited by itself, not by the failsafe kill');
    assert.equal(exit.code, 0, exit.stderr);
    assert.deepEqual(lastJson(exit), ['TimeoutError', 'TimeoutError']);
  });

  it(
    'explains a call into an entry module that lacks the isReactorThread() guard',
    {
      skip:
        ('Bun' in globalThis || 'Deno' in globalThis) &&
        "expects Node's report of an uncaught error, with its own properties",
    },
    async () => {
      const exit = await runFixture('proc-unguarded.js');
      assert.equal(exit.code, 1);
      assert.match(exit.stderr, /code: 'ERR_CROCHET_UNKNOWN_FUNCTION'/);
      assert.match(exit.stderr, /code: 'ERR_CROCHET_REACTOR_THREAD'/);
      assert.match(exit.stderr, /if \(!isReactorThread\(\)\)/);
    },
  );

  it('reports errors thrown in the reactor outside any call, and keeps serving', async () => {
    const exit = await runFixture('proc-outside-call.js');
    assert.equal(exit.code, 0, exit.stderr);
    assert.deepEqual(lastJson(exit), ['timer call done', 'rejection call done', 'still serving']);
    assert.match(exit.stderr, /thrown from a reactor timer/);
    assert.match(exit.stderr, /rejected in the reactor and not handled/);
  });
});

describe('lifecycle', () => {
  it(
    'starts nothing on import, starts the reactor once on setup(), and refuses noSetup() after it',
    { skip: 'Bun' in globalThis && "counts the process's threads, and Bun starts threads of its own" },
    async () => {
      const exit = await runFixture('proc-lifecycle.js', { args: ['setup'] });
      assert.equal(exit.code, 0, exit.stderr);
      assert.deepEqual(lastJson(exit), {
        threadsAddedByImport: 0,
        notSetUp: 'ERR_CROCHET_NOT_SET_UP',
        isReactorBefore: false,
        ping: 'pong',
        threadsAddedBySetup: 2,
        noSetupAfterSetup: 'ERR_CROCHET_ALREADY_SET_UP',
        isReactorAfter: false,
        badOptions:
          'TypeError: Unknown option `lgger` in `options` (known options: `logger`, `spin`, `hot`, `resourceLimits`, `startupTimeout`)',
        badSpin:
          'RangeError: Expected `options.spin` to be a finite number of milliseconds >= 0, got `Infinity` (number)',
        badHot: 'RangeError: Expected `options.hot` to be a finite number of milliseconds >= 0, got `-1` (number)',
      });
    },
  );

  it(
    'makes the main thread the reactor after noSetup(), where setup() does nothing',
    { skip: 'Bun' in globalThis && "counts the process's threads, and Bun starts threads of its own" },
    async () => {
      const exit = await runFixture('proc-lifecycle.js', { args: ['noSetup'] });
      assert.equal(exit.code, 0, exit.stderr);
      assert.deepEqual(lastJson(exit), {
        threadsAddedByImport: 0,
        threadsAddedBySetup: 0,
        isReactorAfter: true,
        waitForOnReactor: 'ERR_CROCHET_REACTOR_THREAD',
      });
    },
  );
});

describe('noSetup()', () => {
  it(
    'serves workers, pools included, on the main thread against its live state',
    { skip: 'Deno' in globalThis && 'piscina’s worker is CommonJS without a "type" field, which Deno does not load' },
    async () => {
      const exit = await runFixture('proc-nosetup.js', { killAfter: 60_000 });
      assert.equal(exit.code, 0, exit.stderr);
      const where = { threadId: 0, reactor: true };
      assert.deepEqual(lastJson(exit), {
        isReactor: true,
        mainCall: 'ERR_CROCHET_REACTOR_THREAD',
        earlyWhere: where,
        lateWhere: where,
        loops: [200, 200],
        mainLoopRan: true,
        piscinaWhere: [JSON.stringify(where)],
        tinypoolWhere: [JSON.stringify(where)],
        count: 160,
      });
    },
  );
});

describe('failures nobody looked at', () => {
  it('reports each once, with its stack, when collected or still stashed at shutdown', async () => {
    const exit = await runFixture('proc-gc.js', { execArgv: ['--expose-gc'] });
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stdout, 'collected\n');
    const count = (text: string): number => exit.stderr.split(text).length - 1;
    assert.equal(count('RangeError: never waited for\n    at '), 1);
    assert.equal(count('RangeError: waited for too briefly\n    at '), 1);
    assert.equal(count('RangeError: stashed and never retrieved\n    at '), 1);
    assert.equal(count('a failed EventualResult was garbage-collected'), 2);
    assert.equal(count('a stashed result failed and was never retrieved'), 1);
    for (const quiet of [
      'succeeded',
      'Cancelled',
      'waited for properly',
      'looked at with',
      'TimeoutError',
      'rejected',
    ]) {
      assert.equal(count(quiet), 0, `nothing about ${quiet}`);
    }
  });
});

describe('shutdown', () => {
  const hookOutput = (exit: { stdout: string; stderr: string }): void => {
    assert.deepEqual(
      exit.stdout.split('\n').filter((line) => line.startsWith('hook')),
      ['hook 4 started', 'hook 3', 'hook 1'],
      'hooks run last registered first, and every one runs',
    );
    assert.match(exit.stderr, /crochet: an onShutdown hook did not finish within its \d+ ms/);
    assert.match(exit.stderr, /crochet: an onShutdown hook failed:\nError: hook 2 is broken/);
  };

  for (const mode of ['drain', 'exit']) {
    it(`runs the hooks in order, bounded, when the process ends by ${mode === 'drain' ? 'draining' : 'process.exit()'}`, async () => {
      const exit = await runFixture('proc-shutdown.js', { args: [mode] });
      assert.equal(exit.code, 0, exit.stderr);
      hookOutput(exit);
      assert.deepEqual(JSON.parse(exit.stdout.split('\n')[0] ?? ''), {
        onShutdownOutside: 'ERR_CROCHET_REACTOR_THREAD',
        installed: 'installed',
      });
    });
  }

  for (const mode of ['explicit', 'worker']) {
    it(`stops the reactor on shutdown() from ${mode === 'explicit' ? 'the main thread' : 'a worker'}, failing pending calls, and setup() starts afresh`, async () => {
      const exit = await runFixture('proc-shutdown.js', { args: [mode] });
      assert.equal(exit.code, 0, exit.stderr);
      hookOutput(exit);
      const stopped = { name: 'ReactorStoppedError', cause: 'The reactor was shut down' };
      assert.deepEqual(lastJson(exit), {
        onShutdownOutside: 'ERR_CROCHET_REACTOR_THREAD',
        installed: 'installed',
        ...(mode === 'worker' ? { workerShutdown: true } : {}),
        pending: stopped,
        later: stopped,
        blockedWorker: 'ReactorStoppedError',
        fresh: true,
        workerAfter: 3,
      });
    });
  }
});

describe('the fast path', () => {
  for (const tuning of ['off', 'long']) {
    it(`gives every call its own reply with spinning and polling ${tuning === 'off' ? 'turned off' : 'made long'}`, async () => {
      const exit = await runFixture('proc-tuning.js', { args: [tuning] });
      assert.equal(exit.code, 0, exit.stderr);
      assert.deepEqual(lastJson(exit), { right: 2000, timeouts: 20 });
    });
  }
  it('closes the channel of a worker that exits while the reactor is busy with calls, without an error', async () => {
    const exit = await runFixture('proc-goodbye.js', { killAfter: 60_000 });
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stderr, '');
    assert.deepEqual(lastJson(exit), { results: [500, 500, 500, 500, 500, 500] });
  });
  it('lets workers started right after setup() find the reactor promptly', async () => {
    const exit = await runFixture('proc-early-worker.js');
    assert.equal(exit.code, 0, exit.stderr);
    const found = { value: 42, promptly: true };
    assert.deepEqual(lastJson(exit), [found, found, found]);
  });
});
