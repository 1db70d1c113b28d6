import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelledError, TimeoutError } from 'crochet';
import { echo, greet, hangFor0, increment, shout, startDelayed, startGreet } from './fixtures/calls.js';
import { gate, thrown } from './helpers.js';

describe('many calls without mix-ups', () => {
  it('wraps bound methods and static members of module-level objects', () => {
    // test_api.py: test_wrap_method, test_classmethod (the TypeScript shapes of them)
    assert.equal(greet('Ada'), 'hello Ada from the reactor');
    assert.equal(startGreet('Bob').wait(10_000), 'hello Bob from the reactor');
    assert.equal(shout('quiet'), 'QUIET');
  });

  it('gives every result its own reply when replies come back out of order', () => {
    const count = process.env['CI'] === undefined ? 300 : 3000;
    const results = Array.from({ length: count }, (_, i) => startDelayed(i, (i * 7) % 13));
    for (let i = 0; i < count; i += 3) results[i]?.cancel();
    // Wait in reverse order, so most replies arrive while another result is waited on.
    let cancelled = 0;
    for (let i = count - 1; i >= 0; i--) {
      const result = results[i]!;
      if (i % 3 === 0) {
        // cancel() changes nothing for an outcome that had arrived already (the shortest
        // delays): that result keeps its own value.
        try {
          assert.equal(result.wait(10_000), i);
        } catch (error) {
          if (!(error instanceof CancelledError)) throw error;
          cancelled++;
        }
      } else {
        assert.equal(result.wait(10_000), i);
      }
    }
    assert.ok(cancelled > 0, `none of ${count / 3} results were cancelled`);
  });

  it('keeps blocking calls exact while timeouts and late replies interleave', () => {
    const rounds = process.env['CI'] === undefined ? 200 : 2000;
    for (let i = 0; i < rounds; i++) {
      if (i % 10 === 0) assert.ok(thrown(() => hangFor0(gate())) instanceof TimeoutError);
      const late = startDelayed(-i, 1);
      assert.equal(increment(i), i + 1);
      assert.equal(echo(`#${i}`), `#${i}`);
      if (i % 2 === 0) assert.equal(late.wait(10_000), -i);
    }
  });
});
