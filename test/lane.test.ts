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
import { allocateBox, Lane } from '../src/wire/lane.js';
import {
  ARG_KINDS,
  BOX_BYTES,
  boxView,
  REPLY_KIND,
  RING_BOX_BYTES,
  WIDE_BYTES,
  WIDE_TEXT,
} from '../src/wire/layout.js';

/** The code of what `fn` throws. */
function errorCode(fn: () => unknown): unknown {
  return (thrown(fn) as { code?: unknown }).code;
}

/** The lane's limit on text each way, in UTF-16 units (LANE_TEXT in src/lane.ts). */
const LANE_TEXT = 2 * 1024;
/** The kind's flag for text written one byte per unit (LATIN1 in src/wire/lane.ts). */
const LATIN1 = 0x40;

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

  it('carries Latin-1 text (every unit below 256) exactly at every length, alone and beside other text', () => {
    // Such text goes one byte per unit: around each switch of how text is copied, with the
    // units at the ends of the range, and in a string that holds only such units but is
    // stored two bytes per unit (cut out of one that was not).
    const unit = 'a\u0000é\u00ffz\u0080 ~';
    const twoByteStored = `😀${'bé'.repeat(LANE_TEXT)}`.slice(2);
    for (const length of [1, 8, 9, 47, 48, 49, 64, 1000, LANE_TEXT - 1, LANE_TEXT]) {
      const text = unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
      assert.equal(echo(text), text, `a Latin-1 string of ${length} units`);
      const stored = twoByteStored.slice(0, length);
      assert.equal(echo(stored), stored, `a Latin-1 string of ${length} units stored two bytes per unit`);
    }
    // Latin-1 and other text share the request's area: each is read back from its place.
    const latin = 'l'.repeat(700);
    const other = 'ő'.repeat(300);
    assert.deepEqual(four(latin, other, 'é'.repeat(20), 'x'), [latin, other, 'é'.repeat(20), 'x']);
    assert.deepEqual(four(other, latin, 'ő', { a: 'é', b: ['ÿ'] }), [other, latin, 'ő', { a: 'é', b: ['ÿ'] }]);
  });

  it('carries plain data (objects and arrays) as a structured clone would', () => {
    const nullPrototype = Object.assign(Object.create(null) as object, { a: 1 });
    const values: unknown[] = [
      {},
      [],
      { a: 1, b: 'two', c: [true, false, null], d: { e: { f: [1.5, -2, 1e21, 5e-324] } } },
      [[], [[]], {}, { '': '' }],
      { '2': 'b', '1': 'a', z: 0, 'é😀': 'k\ud800', ['__proto__']: { own: true } },
      nullPrototype,
      { text: 'y'.repeat(900) },
      [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0],
    ];
    for (const value of values) {
      const back = echo(value);
      assert.deepStrictEqual(back, structuredClone(value));
      assert.deepStrictEqual(Object.keys(back as object), Object.keys(value as object), 'the keys keep their order');
    }
    assert.deepEqual(four({ a: 1 }, [2], 'x', 3), [{ a: 1 }, [2], 'x', 3]);
  });

  it('carries plain data the same when the application has patched JSON', () => {
    const { stringify, parse } = JSON;
    JSON.stringify = () => 'patched';
    JSON.parse = () => 'patched';
    try {
      assert.deepEqual(echo({ a: [1, 'b'] }), { a: [1, 'b'] });
    } finally {
      JSON.stringify = stringify;
      JSON.parse = parse;
    }
  });

  it('leaves to the port the data JSON would not copy exactly, which arrives as a structured clone', () => {
    class Point {
      x = 1;
      y = 2;
    }
    const shared = { s: 1 };
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    // A hole: an array of length 3 with no element 1.
    const holes: number[] = [];
    holes[0] = 1;
    holes[2] = 3;
    const extra = Object.assign([1, 2], { note: 'kept' });
    const values: unknown[] = [
      { zero: -0, nan: Number.NaN, inf: Infinity, none: undefined },
      [undefined, -0],
      holes,
      extra,
      new Point(),
      { when: new Date(0), map: new Map([[1, 2]]), set: new Set([3]), re: /x/g, big: 10n, bytes: new Uint8Array([1]) },
      { text: 'z'.repeat(2000) },
      Array.from({ length: 300 }, (_, i) => ({ i })),
    ];
    for (const value of values) assert.deepStrictEqual(echo(value), structuredClone(value));
    // Shared references and cycles keep their shape.
    const both = echo({ a: shared, b: shared }) as { a: object; b: object };
    assert.equal(both.a, both.b);
    const self = echo(cyclic) as { self: unknown };
    assert.equal(self.self, self);
    // A getter runs once, as for any structured clone.
    let reads = 0;
    const lazy = {
      get value() {
        reads++;
        return 7;
      },
    };
    assert.deepEqual(echo(lazy), { value: 7 });
    assert.equal(reads, 1);
    // What cannot be cloned at all still fails as before.
    assert.equal(
      errorCode(() => echo({ toJSON: () => 1 })),
      'ERR_CROCHET_DATA_CLONE',
    );
    assert.equal(
      errorCode(() => echo(new Proxy({}, {}))),
      'ERR_CROCHET_DATA_CLONE',
    );
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
      // The reactor is busy for 200 ms: the next lane call times out (after 5 ms) before it
      // is taken, so the call after it must not write over its slot. (A caller thread
      // descheduled for longer than the reactor is busy would find the reply there, and
      // rightly take it: hence a long busy spell.)
      assert.ok(thrown(() => busyFor(200)) instanceof TimeoutError);
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

describe("the lane's wide areas (text longer than the lane's own area)", () => {
  const unit = 'a\ud800b\udc00😀é';
  const text = (length: number): string => unit.repeat(Math.ceil(length / unit.length)).slice(0, length);

  it('carries text of any length up to the wide limit exactly, both ways, lone surrogates included', () => {
    for (const length of [LANE_TEXT + 1, 20 * 1024, 200 * 1024, 2 * 1024 * 1024]) {
      const value = text(length);
      assert.equal(echo(value), value, `a string of ${length} units`);
    }
    // Long and short strings in one call: the short ones keep to the lane's own area.
    const long = text(3 * LANE_TEXT);
    assert.deepEqual(four(long, 'x', long, 7), [long, 'x', long, 7]);
  });

  for (const [name, bytes] of [
    ['the starting thread', BOX_BYTES],
    ['other threads', RING_BOX_BYTES],
  ] as const) {
    it(`grows the box of ${name} only as far as the text needs, and never past its wide areas`, () => {
      const box = allocateBox(bytes);
      const memory = box.buffer as SharedArrayBuffer & { growable?: boolean };
      assert.equal(memory.byteLength, bytes);
      assert.equal(memory.growable, true, 'this runtime can grow shared memory');
      const lane = new Lane(box);
      const long = text(5000);
      assert.ok(lane.stage([long, 'short', 1]));
      assert.equal(memory.byteLength, bytes + 5000 * 2);
      lane.publish(1, 1);
      assert.deepEqual(lane.readArgs(1), [long, 'short', 1]);
      const reply = text(WIDE_TEXT);
      assert.ok(lane.writeReply(1, reply));
      assert.equal(memory.byteLength, bytes + WIDE_BYTES);
      assert.equal(lane.readReply(), reply);
      // Past the wide areas: the lane cannot carry it (the call goes by the port).
      assert.equal(lane.stage([text(WIDE_TEXT + 1)]), false);
      assert.equal(lane.writeReply(2, text(WIDE_TEXT + 1)), false);
    });
  }

  it('carries long Latin-1 text exactly, both ways, beside long text of other units', () => {
    const latin = (length: number): string => 'abé\u00ff\u0000 '.repeat(Math.ceil(length / 6)).slice(0, length);
    for (const length of [LANE_TEXT + 1, 20 * 1024, 200 * 1024, 2 * 1024 * 1024]) {
      const value = latin(length);
      assert.equal(echo(value), value, `a Latin-1 string of ${length} units`);
    }
    const a = latin(3 * LANE_TEXT);
    const b = text(2 * LANE_TEXT + 7);
    assert.deepEqual(four(a, b, a, b), [a, b, a, b]);
    assert.deepEqual(four(b, a, 'x', a), [b, a, 'x', a]);
  });

  it("reads text that the other side's box grew for, however far it grew since this side last looked", () => {
    // Each side keeps a view of the wide areas as far as it last saw them grown.
    const box = allocateBox(BOX_BYTES);
    const caller = new Lane(box);
    const reactor = new Lane(boxView(box.buffer as SharedArrayBuffer));
    let id = 0;
    for (const length of [LANE_TEXT + 1, 3000, 40_000, 2500, WIDE_TEXT]) {
      for (const value of [text(length), 'é'.repeat(length)]) {
        id++;
        assert.ok(caller.stage([value]));
        caller.publish(id, 1);
        assert.deepEqual(reactor.readArgs(id), [value], `${length} units to the reactor`);
        assert.ok(reactor.writeReply(id, value));
        assert.equal(caller.readReply(), value, `${length} units back`);
      }
    }
  });

  it('frees the request slot when the arguments cannot be read (text said to lie past the shared memory)', () => {
    const box = allocateBox(BOX_BYTES);
    const caller = new Lane(box);
    const reactor = new Lane(boxView(box.buffer as SharedArrayBuffer));
    assert.ok(caller.stage([text(LANE_TEXT + 1)]));
    // A kind that claims the whole wide area, which the box never grew to.
    box[ARG_KINDS] = (box[ARG_KINDS]! & 0xff) | (WIDE_TEXT << 8);
    caller.publish(1, 1);
    assert.throws(() => reactor.readArgs(1), RangeError);
    assert.equal(caller.free(), true, 'the next call can use the slot');
  });

  it('reads no further than its text areas when a kind claims more text than they hold', () => {
    // UTF-16 and Latin-1 (100 units, checked whole, so surely written one byte per unit).
    for (const [reply, latin1] of [
      ['😀'.repeat(300), false],
      ['é'.repeat(100), true],
    ] as const) {
      const box = allocateBox(BOX_BYTES);
      const caller = new Lane(box);
      const reactor = new Lane(boxView(box.buffer as SharedArrayBuffer));
      assert.ok(reactor.writeReply(1, reply));
      assert.equal((box[REPLY_KIND]! & LATIN1) !== 0, latin1, 'written as expected');
      // The same kind (string, how it is written) with a length past the reply's text area.
      box[REPLY_KIND] = (box[REPLY_KIND]! & 0xff) | ((LANE_TEXT * 3) << 8);
      const read = caller.readReply();
      assert.equal(typeof read, 'string');
      assert.ok((read as string).startsWith(reply), 'the text written comes first');
      assert.ok((read as string).length <= LANE_TEXT, 'no more than the reply area holds');
    }
    // Arguments whose kinds together claim more than the text area: the later ones read
    // as empty text, and the call's arguments are still read.
    const box = allocateBox(BOX_BYTES);
    const caller = new Lane(box);
    const reactor = new Lane(boxView(box.buffer as SharedArrayBuffer));
    assert.ok(caller.stage(['é'.repeat(100), 'é'.repeat(100), 'é'.repeat(100), 'é'.repeat(100)]));
    for (let i = 0; i < 4; i++) box[ARG_KINDS + i] = (box[ARG_KINDS + i]! & 0xff) | ((LANE_TEXT * 2) << 8);
    caller.publish(1, 1);
    const args = reactor.readArgs(1);
    assert.equal(args.length, 4);
    assert.ok(args.every((arg) => typeof arg === 'string'));
    assert.equal(args.at(-1), '');
    assert.equal(caller.free(), true);
  });

  it('keeps the views of a box to its fixed part, however far the box grows', () => {
    // A view that followed the memory's length would make every Atomics operation on it
    // slower; the wide areas are reached through views of their own.
    const box = allocateBox(BOX_BYTES);
    const lane = new Lane(box);
    assert.ok(lane.stage([text(WIDE_TEXT)]));
    assert.equal(box.buffer.byteLength > BOX_BYTES, true);
    assert.equal(box.byteLength, BOX_BYTES);
    assert.equal(boxView(box.buffer as SharedArrayBuffer).byteLength, BOX_BYTES);
  });

  it('leaves long text to the port where shared memory cannot grow', () => {
    const lane = new Lane(new Int32Array(new SharedArrayBuffer(BOX_BYTES)));
    assert.equal(lane.stage([text(LANE_TEXT + 1)]), false);
    assert.equal(lane.writeReply(1, text(LANE_TEXT + 1)), false);
    assert.ok(lane.stage([text(LANE_TEXT)]));
  });
});
