import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as crochet from 'crochet';
import { CancelledError, CrochetError, ReactorStoppedError, TimeoutError } from 'crochet';

describe('the public API', () => {
  it('exports exactly the documented names', () => {
    // A new export is a deliberate change: add it here and to the docs.
    assert.deepEqual(Object.keys(crochet).sort(), [
      'CancelledError',
      'CrochetError',
      'EventualResult',
      'ReactorStoppedError',
      'TimeoutError',
      'abortSignal',
      'isReactorThread',
      'noSetup',
      'onShutdown',
      'registerError',
      'retrieveResult',
      'runInReactor',
      'setup',
      'shutdown',
      'transfer',
      'waitFor',
    ]);
  });

  it('gives every error class its code, name and place in the hierarchy', () => {
    const cases = [
      [new TimeoutError(), 'TimeoutError', 'ERR_CROCHET_TIMEOUT'],
      [new ReactorStoppedError(), 'ReactorStoppedError', 'ERR_CROCHET_REACTOR_STOPPED'],
      [new CancelledError(), 'CancelledError', 'ERR_CROCHET_CANCELLED'],
      [new CrochetError('ERR_CROCHET_NOT_SET_UP', 'm'), 'CrochetError', 'ERR_CROCHET_NOT_SET_UP'],
    ] as const;
    for (const [error, name, code] of cases) {
      assert.ok(error instanceof CrochetError);
      assert.ok(error instanceof Error);
      assert.equal(error.name, name);
      assert.equal(error.code, code);
      assert.equal(String(error).startsWith(`${name}: `), true);
    }
    assert.ok(!(new TimeoutError() instanceof CancelledError));
    assert.ok(!(new Error('plain') instanceof CrochetError));
  });

  it('recognises errors made by another copy of the package by their brand', () => {
    // Simulate a second copy: an error of an unrelated class carrying the same brand.
    class OtherCopyTimeout extends Error {
      readonly code = 'ERR_CROCHET_TIMEOUT';
    }
    const foreign = new OtherCopyTimeout('from another copy');
    Object.defineProperty(foreign, Symbol.for('crochet.error.code'), { value: 'ERR_CROCHET_TIMEOUT' });
    assert.ok(foreign instanceof CrochetError);
    assert.ok(foreign instanceof TimeoutError);
    assert.ok(!(foreign instanceof CancelledError));
  });

  it('lets applications subclass crochet errors as usual', () => {
    class MyTimeout extends TimeoutError {}
    assert.ok(new MyTimeout() instanceof TimeoutError);
    assert.ok(new MyTimeout() instanceof MyTimeout);
    assert.ok(!(new TimeoutError() instanceof MyTimeout));
  });
});
