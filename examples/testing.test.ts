/**
 * Unit tests of reactor code through `.wrapped`: no reactor thread, no blocking. Run
 * with `node --test build/examples/testing.test.js` after `npm run build:test`.
 *
 * The wrappers live in a module that does not call `setup()`, so no reactor starts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { add, slowDouble } from './support/adder.js';

describe('the reactor code of examples/testing, called directly', () => {
  it('adds', () => {
    assert.equal(add.wrapped(1, 2), 3);
  });

  it('doubles, asynchronously', async () => {
    assert.equal(await slowDouble.wrapped(21), 42);
  });
});
