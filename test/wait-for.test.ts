import assert from 'node:assert/strict';
import { threadId } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { CancelledError, CrochetError, isReactorThread, TimeoutError, waitFor } from 'crochet';
import {
  args,
  callCount,
  countCall,
  echo,
  hangFor0,
  hangFor50,
  increment,
  named,
  nested,
  raiseError,
  whereAmI,
} from './fixtures/calls.js';
import { awaitGate, gate, thrown } from './helpers.js';

describe('waitFor', () => {
  it('runs the function in the reactor thread and returns its awaited value', () => {
    // test_api.py: test_wait_for_reactor_thread, test_async_function
    assert.equal(isReactorThread(), false);
    const where = whereAmI();
    assert.notEqual(where.threadId, threadId);
    assert.equal(where.reactor, true);
    assert.equal(increment(16), 17);
    assert.equal(increment(16), 17);
  });

  it('passes every argument through, in order', () => {
    // test_api.py: test_arguments
    assert.deepEqual(args(1, 'two', { three: [3] }, undefined, null), [1, 'two', { three: [3] }, undefined, null]);
  });

  it('returns a plain (non-promise) value as is', () => {
    // test_api.py: test_regular_result, test_deferred_success_result
    assert.equal(echo(123), 123);
    assert.deepEqual(echo(new Map([[1, new Date(0)]])), new Map([[1, new Date(0)]]));
  });

  it('throws the error the function threw, synchronously or by rejecting', () => {
    // test_api.py: test_exception_result, test_deferred_failure_result
    const sync = thrown(() => raiseError({ ctor: 'RangeError', message: 'sync' }, false));
    assert.ok(sync instanceof RangeError);
    assert.equal(sync.message, 'sync');
    const async = thrown(() => raiseError({ ctor: 'RangeError', message: 'async' }, true));
    assert.ok(async instanceof RangeError);
    assert.equal(async.message, 'async');
  });

  it('keeps the name, length and wrapped function of the original', () => {
    // test_api.py: test_name, test_signature, test_wrapped_function
    assert.equal(named.name, 'named');
    assert.equal(named.length, 2);
    assert.equal(typeof named.wrapped, 'function');
    assert.equal(named.wrapped(1, 2), 6);
    assert.equal(named(1, 2), 6);
    assert.equal(named(1, 2, 10), 13);
  });

  it('returns a synchronous function even for an async one', () => {
    // test_api.py: test_async_function (iscoroutinefunction is False)
    const value: unknown = increment(1);
    assert.equal(value, 2);
    assert.equal(Object.prototype.toString.call(increment), '[object Function]');
  });

  it(
    'throws TimeoutError after the timeout, created in the calling thread',
    {
      skip:
        ('Bun' in globalThis &&
          'Bun drops the frames of calls in tail position, and this test calls the wrapper in one') ||
        ('Deno' in globalThis && 'Deno maps stack traces to the TypeScript sources, so the frame names the .ts file'),
    },
    () => {
      // test_api.py: test_timeoutRaises
      const g = gate();
      const started = performance.now();
      const error = thrown(() => hangFor50(g));
      assert.ok(performance.now() - started >= 49);
      assert.ok(error instanceof TimeoutError);
      assert.equal(error.code, 'ERR_CROCHET_TIMEOUT');
      assert.match(error.message, /timed out after 50 ms/);
      // The stack starts at the caller of the wrapper, in this file.
      const firstFrame = (error.stack ?? '').split('\n')[1] ?? '';
      assert.match(firstFrame, /wait-for\.test\.js/);
    },
  );

  it('aborts the call signal with a TimeoutError when it times out', () => {
    // test_api.py: test_timeoutCancels
    const g = gate();
    assert.ok(thrown(() => hangFor0(g)) instanceof TimeoutError);
    assert.equal(awaitGate(g), 2, 'the reactor saw its abortSignal() aborted by a timeout');
  });

  it('gives a timeout of 0 only an outcome that is already there', () => {
    const g = gate();
    assert.ok(thrown(() => hangFor0(g)) instanceof TimeoutError);
    awaitGate(g);
  });

  it('never hands a late reply of a timed-out call to a later call', () => {
    const gates = [gate(), gate(), gate()];
    for (const g of gates) assert.ok(thrown(() => hangFor50(g)) instanceof TimeoutError);
    for (let i = 0; i < 100; i++) assert.equal(increment(i), i + 1);
    for (const g of gates) assert.equal(awaitGate(g), 2);
    for (let i = 0; i < 100; i++) assert.equal(echo(`value ${i}`), `value ${i}`);
  });

  it('brings back a CancelledError the function threw itself as a CancelledError', () => {
    const error = thrown(() => raiseError({ ctor: 'CancelledError', message: 'thrown by the function' }, false));
    assert.ok(error instanceof CancelledError);
    assert.equal(error.message, 'thrown by the function');
  });

  it('runs calls from one thread in call order', () => {
    const before = callCount();
    const results = [countCall(), countCall(), countCall()];
    assert.deepEqual(
      results.map((result) => result.wait(10_000)),
      [before + 1, before + 2, before + 3],
    );
  });

  it('refuses to block in the reactor thread, before scheduling anything', () => {
    // test_api.py: test_reactor_thread_disallowed
    assert.equal(nested(), 'ERR_CROCHET_REACTOR_THREAD');
  });

  it('rejects options that are not an object with a timeout >= 0', () => {
    assert.throws(() => waitFor(undefined as never), { name: 'TypeError', message: /`options`.*got `undefined`/ });
    assert.throws(() => waitFor({} as never), { name: 'TypeError', message: /`options.timeout`/ });
    assert.throws(() => waitFor({ timeout: -1 }), {
      name: 'RangeError',
      message: 'Expected `options.timeout` to be a number of milliseconds >= 0 or Infinity, got `-1` (number)',
    });
    assert.throws(() => waitFor({ timeout: '5' as never }), { name: 'TypeError', message: /got `'5'` \(string\)/ });
    assert.throws(() => waitFor({ timeout: Number.NaN }), { name: 'TypeError', message: /got `NaN`/ });
    assert.throws(() => waitFor({ timeout: 5, timout: 5 } as never), {
      name: 'TypeError',
      message: /Unknown option `timout`/,
    });
    assert.throws(() => waitFor({ timeout: 5 })('not a function' as never), {
      name: 'TypeError',
      message: /`fn` to be a function/,
    });
    assert.equal(typeof waitFor({ timeout: Infinity }), 'function');
  });

  it('marks its errors as CrochetError with a stable code', () => {
    const error = thrown(() => hangFor0(gate()));
    assert.ok(error instanceof CrochetError);
    assert.ok(error instanceof Error);
  });
});
