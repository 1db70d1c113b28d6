/**
 * Lifecycle faults and result handles: how the reactor ends and is replaced, what shutdown
 * hooks get, what reactor code may not do, and what a handle takes in. Each scenario runs
 * in a child process (test/fixtures/lifecycle-faults.ts), bounded by a failsafe, on every
 * path a call takes: the main thread (port), worker threads (ring), and `noSetup()`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setup, shutdown } from 'crochet';
import { lastJson, runFixture, type Exit } from './helpers.js';

const onBun = 'Bun' in globalThis;
const onDeno = 'Deno' in globalThis;

/** What the fixture reports, by name. */
type Report = Readonly<Record<string, unknown>>;

/** What a call gave, as the fixture reports it: its value, or what it threw. */
interface Outcome {
  readonly value?: unknown;
  readonly thrown?: string;
  readonly code?: string;
  readonly message?: string;
  readonly took?: number;
  readonly cause?: { readonly name?: string; readonly message?: string; readonly stack?: string };
}

/** The outcome reported under `key`. */
function outcome(report: Report, key: string): Outcome {
  return report[key] ?? {};
}

/** Runs a scenario of the fixture; fails on a non-zero exit. */
async function scenario(args: string[], execArgv: string[] = []): Promise<{ exit: Exit; json: Report }> {
  const exit = await runFixture('lifecycle-faults.js', { args, execArgv, killAfter: 60_000 });
  assert.equal(exit.signal, null, `killed by the failsafe\nstdout: ${exit.stdout}\nstderr: ${exit.stderr}`);
  assert.equal(exit.code, 0, `stdout: ${exit.stdout}\nstderr: ${exit.stderr}`);
  return { exit, json: lastJson(exit) as Report };
}

describe('result handles', () => {
  it('leaves a result stashed when retrieveResult() times out on a busy reactor: a retry gets it, and so does the stashing thread (setup() and noSetup())', async () => {
    const [withSetup, withNoSetup] = await Promise.all([
      scenario(['retrieveBusy', 'setup']),
      scenario(['retrieveBusy', 'noSetup']),
    ]);
    for (const { json } of [withSetup, withNoSetup]) {
      const first = json['first'] as Report;
      const timeouts = ['w1', 'w2', 'w3'].map((worker) => outcome(first, worker).value as Outcome);
      if (first['main'] !== undefined) timeouts.push(outcome(first, 'main'));
      for (const timedOut of timeouts) {
        assert.equal(timedOut.code, 'ERR_CROCHET_TIMEOUT', JSON.stringify(timedOut));
        assert.match(String(timedOut.message), /the result stays stashed under its id: retrieve it again later/);
        assert.ok(Number(timedOut.took) >= 9000, `it waited its limit: ${String(timedOut.took)} ms`);
      }
      assert.deepEqual(json['retryOwn'], { value: { own: true, value: 'one' } }, 'the stashing thread retries');
      assert.deepEqual(json['retryOther'], { value: { own: false, value: 'two' } }, 'another thread retries');
      assert.deepEqual(
        json['stasherAfterOther'],
        { value: { own: true, value: 'three' } },
        'the stashing thread gets its own handle after another thread gave up on it',
      );
      assert.equal(outcome(json, 'secondTime').code, 'ERR_CROCHET_UNKNOWN_RESULT', 'still handed over once only');
    }
    assert.deepEqual(withSetup.json['mainRetryOwn'], { own: true, value: 'zero' }, 'the main thread retries');
    assert.equal(outcome(withSetup.json, 'mainSecondTime').code, 'ERR_CROCHET_UNKNOWN_RESULT');
  });

  for (const mode of ['setup', 'noSetup']) {
    it(`returns from originalFailure() a failure that arrived while the thread was busy, also after cancel(), and reports nothing when the result is collected (${mode}())`, async () => {
      const { exit, json } = await scenario(['originalFailure', mode], ['--expose-gc']);
      const expected = {
        name: 'RangeError',
        message: 'failed while the caller was busy',
        again: true,
        afterCancel: 'RangeError',
        collected: true,
      };
      assert.deepEqual(json['worker'], expected, 'in a worker thread');
      if (mode === 'setup') assert.deepEqual(json['main'], expected, 'in the main thread');
      assert.doesNotMatch(exit.stderr, /garbage-collected|failed while the caller was busy/);
    });
  }
});

describe('shutdown', () => {
  for (const [who, timeout] of [
    ['main', 'Infinity'],
    ['worker', 'Infinity'],
    ['noSetup-main', 'Infinity'],
    ['noSetup-worker', 'Infinity'],
    ['main', '6e9'],
    ['worker', '6e9'],
  ] as const) {
    const from = {
      main: 'the main thread',
      worker: 'a worker thread',
      'noSetup-main': 'the noSetup() main thread',
      'noSetup-worker': 'a worker thread, after noSetup()',
    }[who];
    it(`gives onShutdown hooks all the time they take with shutdown({ timeout: ${timeout} }) from ${from}`, async () => {
      const { exit, json } = await scenario(['unbounded', who, timeout]);
      assert.equal(json['slowHookFinished'], true);
      assert.equal(json['nextHookSawItFinished'], true, 'the slow hook was not given up on');
      // shutdown() on the noSetup() main thread only starts the shutdown.
      const took = Number(json['took']);
      if (who !== 'noSetup-main') assert.ok(took >= 250, `shutdown() waited for the hook: ${took} ms`);
      assert.doesNotMatch(exit.stderr, /TimeoutOverflowWarning|did not finish/);
    });
  }
});

describe('reactor code', () => {
  it('refuses noSetup() in the reactor thread with ERR_CROCHET_REACTOR_THREAD, and hooks registered afterwards still run', async () => {
    const { json } = await scenario(['noSetupInReactor', 'setup']);
    assert.equal(outcome(json, 'tried').code, 'ERR_CROCHET_REACTOR_THREAD');
    assert.match(String(outcome(json, 'tried').message), /noSetup\(\) was called in the reactor thread/);
    assert.equal(json['hookRan'], true);
  });

  it('refuses noSetup() in a wrapped function on the noSetup() main thread with ERR_CROCHET_REACTOR_THREAD; at top level it stays idempotent', async () => {
    const { json } = await scenario(['noSetupInReactor', 'noSetup']);
    assert.deepEqual(json['again'], {}, 'noSetup() again at top level does nothing');
    assert.equal(outcome(json, 'tried').code, 'ERR_CROCHET_REACTOR_THREAD');
    assert.match(
      String(outcome(json, 'tried').message),
      /noSetup\(\) was called in a wrapped function running in the reactor/,
    );
    assert.equal(json['hookRan'], true);
  });
});

describe('the reactor dies', () => {
  const skip =
    (onBun || onDeno) && 'exercises the way Node ends a worker thread for an error nothing handled (process.exit())';
  for (const [how, limits, message, name] of [
    ['listener', 'no', 'thrown by an uncaughtException listener of reactor code', 'Error'],
    ['unlistened', 'no', 'thrown in a timer, with no listener left', 'TypeError'],
    ['listener', 'limits', 'thrown by an uncaughtException listener of reactor code', 'Error'],
  ] as const) {
    const what =
      how === 'listener'
        ? 'an uncaughtException listener of reactor code throws'
        : 'reactor code removed every uncaughtException listener';
    it(
      `fails blocked callers with ReactorStoppedError whose cause is the error that ended the reactor, when ${what}${limits === 'limits' ? ' (reactor started by the supervisor)' : ''}`,
      { skip },
      async () => {
        const { json } = await scenario(['fatal', how, limits]);
        for (const where of ['main', 'worker', 'later']) {
          const stopped = outcome(json, where);
          assert.equal(stopped.code, 'ERR_CROCHET_REACTOR_STOPPED', `${where}: ${JSON.stringify(stopped)}`);
          assert.equal(stopped.cause?.name, name, where);
          assert.equal(stopped.cause?.message, message, where);
          assert.match(String(stopped.cause?.stack), /lifecycle-faults\.js/, `${where}: the error's own stack`);
          assert.doesNotMatch(String(stopped.message), /process\.exit/, where);
        }
        const took = Number(json['took']);
        assert.ok(took < 5000, `the blocked caller woke promptly: ${took} ms`);
      },
    );
  }

  for (const [how, first, by] of [
    ['exit', 'none', 'main'],
    ['exit', 'shutdown', 'worker'],
    ['listener', 'none', 'worker'],
    ['oom', 'shutdown', 'main'],
  ] as const) {
    const skip =
      (how === 'oom' && (onBun || onDeno) && 'resourceLimits: see the out-of-memory tests') ||
      (how === 'listener' &&
        (onBun || onDeno) &&
        'exercises the way Node ends a worker thread for an error nothing handled');
    const death = { exit: 'process.exit()', listener: 'an uncaught error', oom: 'running out of memory' }[how];
    it(
      `replaces a reactor that died of ${death} when ${by === 'main' ? 'the main thread' : 'a worker thread'} calls setup()${first === 'shutdown' ? ' after shutdown()' : ''}: every thread finds the new one, results of the dead one stay failed`,
      { skip },
      async () => {
        const { json } = await scenario(['replace', how, first, by]);
        const died = outcome(json, 'died');
        assert.equal(died.code, 'ERR_CROCHET_REACTOR_STOPPED');
        assert.deepEqual(json['mainPing'], { value: 'pong' }, 'the main thread');
        assert.equal(json['fresh'], true, 'a new reactor thread');
        assert.deepEqual(json['oldWorkerPing'], { value: 'pong' }, 'a worker that used the dead reactor');
        assert.deepEqual(json['newWorkerPing'], { value: 'pong' }, 'a worker started afterwards');
        assert.equal(json['sameReactorForWorkers'], true);
        for (const where of ['pendingMain', 'pendingWorker']) {
          assert.equal(outcome(json, where).code, 'ERR_CROCHET_REACTOR_STOPPED', where);
          assert.equal(outcome(json, where).cause?.message, died.cause?.message, `${where}: failed by the death`);
        }
        const took = Number(json['took']);
        assert.ok(took < 10_000, `the new reactor served within ${took} ms`);
      },
    );
  }
});

describe('the environment', () => {
  for (const limits of ['no', 'limits']) {
    it(
      `shares process.env between the application and the reactor, both ways${limits === 'limits' ? ' (reactor started by the supervisor)' : ''}`,
      { skip: limits === 'limits' && onBun && 'Bun ignores resourceLimits' },
      async () => {
        const { json } = await scenario(['env', limits]);
        assert.deepEqual(json, {
          reactorSees: 'set after setup()',
          mainSees: 'set in the reactor',
          deleted: '<unset>',
        });
      },
    );
  }
});

describe('numeric options', () => {
  it('says exactly what each numeric option accepts: spin and hot are finite, timeouts may be Infinity', () => {
    for (const name of ['spin', 'hot'] as const) {
      for (const value of [-1, Infinity, Number.NaN, '1'] as const) {
        assert.throws(
          () => {
            setup({ [name]: value });
          },
          {
            name: typeof value === 'number' && !Number.isNaN(value) ? 'RangeError' : 'TypeError',
            message: new RegExp(
              `^Expected \`options\\.${name}\` to be a finite number of milliseconds >= 0, got \`${value === '1' ? "'1'" : String(value)}\``,
            ),
          },
        );
      }
    }
    assert.throws(
      () => {
        setup({ startupTimeout: -1 });
      },
      {
        name: 'RangeError',
        message: /^Expected `options\.startupTimeout` to be a number of milliseconds >= 0 or Infinity/,
      },
    );
    assert.throws(
      () => {
        shutdown({ timeout: -1 });
      },
      { name: 'RangeError', message: /^Expected `options\.timeout` to be a number of milliseconds >= 0 or Infinity/ },
    );
  });

  it('accepts setup({ startupTimeout: Infinity }), as its message says', async () => {
    const { json } = await scenario(['startupInfinity']);
    assert.deepEqual(json, { ping: 'pong' });
  });
});
