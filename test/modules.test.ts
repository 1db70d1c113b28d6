import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { CrochetError } from 'crochet';
import { increment } from './fixtures/calls.js';
import { double, square, triple } from './fixtures/second.js';
import { makeAtRunTime, makeResultAtRunTime, topLevel } from './fixtures/runtime.js';
import { thrown } from './helpers.js';

const require = createRequire(import.meta.url);

describe('finding wrapped functions in the reactor', () => {
  it('finds several wrappers per ES module, each by its position', () => {
    assert.equal(double(5), 10);
    assert.equal(triple(5), 15);
    assert.equal(square(5), 25);
    assert.equal(increment(5), 6);
  });

  it('finds wrappers of a CommonJS module by requiring it', () => {
    const commonjs = require('./fixtures/commonjs.cjs') as {
      negate: (x: number) => number;
      kind: () => string;
    };
    assert.equal(commonjs.negate(4), -4);
    assert.equal(commonjs.kind(), 'object');
  });

  it(
    'fails with ERR_CROCHET_UNKNOWN_FUNCTION for a wrapper created at run time',
    {
      skip:
        'Bun' in globalThis &&
        'Bun drops the frames of calls in tail position: makeAtRunTime() returns the wrapper it makes, so the module that called it is named',
    },
    () => {
      assert.equal(topLevel(), 'top');
      const late = makeAtRunTime();
      const error = thrown(() => late());
      assert.ok(error instanceof CrochetError);
      assert.equal(error.code, 'ERR_CROCHET_UNKNOWN_FUNCTION');
      assert.match(error.message, /runtime\.js/);
      assert.match(error.message, /top level of a module/);
      const lateResult = makeResultAtRunTime();
      assert.equal((thrown(lateResult) as CrochetError).code, 'ERR_CROCHET_UNKNOWN_FUNCTION');
      assert.equal(topLevel(), 'top');
    },
  );

  it('fails calls into a module that cannot load in the reactor, with the load error as cause', async () => {
    const { unreachable } = await import('./fixtures/broken.js');
    const error = thrown(() => unreachable());
    assert.ok(error instanceof CrochetError);
    assert.equal(error.code, 'ERR_CROCHET_UNKNOWN_FUNCTION');
    assert.match(error.message, /failed to load in the reactor/);
    assert.ok(error.cause instanceof Error);
    assert.equal(error.cause.message, 'this module refuses to load in the reactor');
    assert.equal((thrown(() => unreachable()) as CrochetError).code, 'ERR_CROCHET_UNKNOWN_FUNCTION');
    assert.equal(increment(1), 2, 'the reactor keeps serving other modules');
  });
});
