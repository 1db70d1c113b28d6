/**
 * The direct lane: blocking calls with primitive arguments and results (text up to
 * LANE_TEXT units each way) go through shared memory. These tests pin its edges: every
 * value kind, text at and past its limits, values it cannot carry, order against calls
 * that go by the port, timeouts and late replies.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimeoutError } from 'crochet';
import {
  busyFor,
  callCount,
  countCall,
  echo,
  echoAfter,
  four,
  hangTagged,
  increment,
  slowEcho,
  startDelayed,
  wasAborted,
} from './fixtures/calls.js';
import { thrown } from './helpers.js';

/** The lane's limit on text each way, in UTF-16 units (LANE_TEXT in src/lane.ts). */
const LANE_TEXT = 8 * 1024;

describe('the direct lane', () => {
  it('carries every small primitive both ways exactly', () => {
    const long = 'y'.repeat(64);
    const values = [0, -0, 1.5, -1e308, Number.NaN, Infinity, -Infinity, true, false, null, undefined, '', 'é😀', long];
    for (const value of values) assert.ok(Object.is(echo(value), value), String(value));
    assert.deepEqual(four(1, 'two', null, undefined), [1, 'two', null, undefined]);
  });

  it('carries text of every length up to its limit exactly, lone surrogates included', () => {
    // Around the switch from unit-by-unit copies to native ones, and up to the limit.
    const unit = 'a\ud800b\udc00😀é';
    for (const length of [47, 48, 49, 50, 64, 65, 1000, LANE_TEXT - 1, LANE_TEXT]) {
      const text = unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
      assert.equal(text.length, length);
      assert.equal(echo(text), text, `a string of ${length} units`);
    }
    // Several strings share the request's text area, one after the other.
    const half = 'h'.repeat(LANE_TEXT / 2 - 1);
    assert.deepEqual(four(half, 'x', half, 'yz'), [half, 'x', half, 'yz']);
    assert.deepEqual(four('a'.repeat(60), 1, 'b'.repeat(3), 'c'.repeat(100)), [
      'a'.repeat(60),
      1,
      'b'.repeat(3),
      'c'.repeat(100),
    ]);
  });

  it('sends what it cannot carry by the port, unchanged', () => {
    const long = 'z'.repeat(LANE_TEXT + 1);
    assert.equal(echo(long), long);
    // Each string fits, but not all of them together.
    const half = 'h'.repeat(LANE_TEXT / 2);
    assert.deepEqual(four(half, half, 'x', 1), [half, half, 'x', 1]);
    assert.equal(echo(10n), 10n);
    assert.deepEqual(echo({ a: [1] }), { a: [1] });
    assert.deepEqual(four(1, 2, 3, 4), [1, 2, 3, 4]);
  });

  it('keeps call order with calls sent by the port', () => {
    // Many rounds: the reactor goes cold and hot in between, so pokes arrive late too.
    const rounds = process.env['CI'] === undefined ? 500 : 5000;
    for (let i = 0; i < rounds; i++) {
      const started = countCall(); // by the port
      const seen = callCount(); // by the lane, after it
      assert.equal(started.wait(10_000), seen);
    }
  });

  it('never hands a late reply to a later call', () => {
    for (let i = 0; i < 20; i++) {
      assert.ok(thrown(() => slowEcho(-1 - i, 20)) instanceof TimeoutError);
      for (let j = 0; j < 10; j++) assert.equal(increment(i * 100 + j), i * 100 + j + 1);
    }
    // The late replies arrive while the calls below wait; none may be taken for theirs.
    const late = startDelayed(7, 10);
    for (let j = 0; j < 200; j++) assert.equal(echo(j), j);
    assert.equal(late.wait(10_000), 7);
  });

  it('answers every later call correctly when lane calls time out before the reactor takes them', () => {
    for (let i = 0; i < 5; i++) {
      // The reactor is busy for 40 ms: the next lane call times out before it is taken,
      // so the call after it must not write over its slot.
      assert.ok(thrown(() => busyFor(40)) instanceof TimeoutError);
      assert.ok(thrown(() => slowEcho(-1, 1)) instanceof TimeoutError);
      assert.equal(increment(i), i + 1);
      assert.equal(echo(`after ${i}`), `after ${i}`);
    }
  });

  it('wakes a caller that parked, whether its reply comes by the lane or by the port', () => {
    // Replies after 0, 1 or 2 ms: the caller spins for the first and parks for the
    // others (and, after many parked calls in a row, stops spinning for a while). The
    // reactor must wake it exactly when it is parked, and it must read its port
    // whenever a reply was posted there.
    for (let i = 0; i < 60; i++) {
      const ms = i % 3;
      if (i % 2 === 0) assert.equal(echoAfter(i, ms), i);
      else assert.deepEqual(echoAfter({ i }, ms), { i });
      assert.equal(increment(i), i + 1);
    }
  });

  it('aborts the signal of a lane call that times out', () => {
    for (let tag = 1; tag <= 10; tag++) {
      assert.ok(thrown(() => hangTagged(tag)) instanceof TimeoutError);
      let aborted = false;
      for (let tries = 0; tries < 1000 && !aborted; tries++) aborted = wasAborted(tag);
      assert.ok(aborted, `call ${tag} saw its signal abort`);
    }
  });
});
