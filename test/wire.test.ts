/**
 * The wire's pieces in one thread, without a reactor: the ring that carries replies to
 * threads without a port, and the handshake that names a private channel.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RingReader, RingWriter } from '../src/wire/ring.js';
import { answerHello, Hello, parseDirectory, parseOpen } from '../src/wire/handshake.js';
import { RING_BOX_BYTES, RING_BYTES } from '../src/wire/layout.js';
import { parseReply, parseRequest } from '../src/wire/messages.js';

function box(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(RING_BOX_BYTES));
}

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

describe('the ring', () => {
  it('delivers messages of every size whole and in order, across the end of the ring', () => {
    const shared = box();
    const writer = new RingWriter(shared);
    const reader = new RingReader(shared);
    const sizes = [0, 1, 15, 16, 17, 1000, 4095, 4096, 7, 12_000, 3, 9000, 0, 5];
    const sent: Uint8Array[] = [];
    const got: { id: number; bytes: Uint8Array }[] = [];
    // Many rounds, so that records start at every kind of offset and wrap around.
    for (let round = 0; round < 40; round++) {
      for (const [i, size] of sizes.entries()) {
        const message = bytes(size, round * 100 + i);
        sent.push(message);
        assert.equal(writer.write(sent.length, message), true, 'fits while the reader keeps up');
        got.push(...reader.read().messages);
      }
    }
    assert.equal(got.length, sent.length);
    for (const [i, message] of got.entries()) {
      assert.equal(message.id, i + 1);
      assert.deepEqual(message.bytes, sent[i]);
    }
  });

  it('carries a message larger than the ring in parts, asking the reader for room', () => {
    const shared = box();
    const writer = new RingWriter(shared);
    const reader = new RingReader(shared);
    const big = bytes(RING_BYTES * 3 + 123, 7);
    assert.equal(writer.write(9, big), false, 'the rest waits for room');
    const messages = [];
    for (let turn = 0; turn < 10 && messages.length === 0; turn++) {
      const { messages: read, wanted } = reader.read();
      messages.push(...read);
      if (wanted) writer.flush();
    }
    assert.equal(messages.length, 1);
    assert.equal(messages[0]?.id, 9);
    assert.deepEqual(messages[0]?.bytes, big);
    assert.equal(writer.backlog, false);
  });

  it('keeps later messages behind one that waits for room', () => {
    const shared = box();
    const writer = new RingWriter(shared);
    const reader = new RingReader(shared);
    writer.write(1, bytes(RING_BYTES, 1));
    writer.write(2, bytes(10, 2));
    const ids: number[] = [];
    for (let turn = 0; turn < 10 && ids.length < 2; turn++) {
      const { messages, wanted } = reader.read();
      ids.push(...messages.map((message) => message.id));
      if (wanted) writer.flush();
    }
    assert.deepEqual(ids, [1, 2]);
  });

  it('reads only what was written when it began, so a writer cannot hold the reader', () => {
    const shared = box();
    const writer = new RingWriter(shared);
    const reader = new RingReader(shared);
    for (let i = 1; i <= 5; i++) writer.write(i, bytes(100, i));
    const first = reader.read().messages.length;
    assert.equal(first, 5);
    assert.equal(reader.read().messages.length, 0);
  });
});

describe('the handshake', () => {
  it('lets the two ends, and only they, compute the same channel names', () => {
    const hello = new Hello();
    const answer = answerHello(hello.message, 7, 3);
    assert.ok(answer !== undefined);
    assert.equal(answer.publish(), true);
    assert.deepEqual(hello.names(), answer.names);
    assert.equal(hello.reactorThread, 7);
    assert.equal(hello.starterThread, 3);
    // The names are not in anything posted on the directory.
    const posted = JSON.stringify({ ...hello.message, key: [...hello.message.key] });
    assert.equal(posted.includes(answer.names.toReactor.slice(8, 40)), false);
    // A second answer to the same hello changes nothing.
    const again = answerHello(hello.message, 9, 9);
    assert.equal(again?.publish(), false);
    assert.equal(hello.reactorThread, 7);
  });

  it('gives different names to different hellos', () => {
    const a = new Hello();
    const b = new Hello();
    assert.notDeepEqual(answerHello(a.message, 1, 1)?.names, answerHello(b.message, 1, 1)?.names);
  });

  it('refuses a hello whose key is not a point on the curve', () => {
    const hello = new Hello();
    const forged = { ...hello.message, key: new Uint8Array(65).fill(4) };
    assert.equal(answerHello(forged, 1, 1), undefined);
  });

  it('ignores every directory message that is not exactly one of its shapes', () => {
    const hello = new Hello().message;
    const foreign: unknown[] = [
      null,
      undefined,
      9,
      'hello',
      [],
      { k: 9 },
      { crochet: 'crochet:1', k: 'hello' },
      { ...hello, key: new Uint8Array(64) },
      { ...hello, key: [...hello.key] },
      { ...hello, box: new ArrayBuffer(96) },
      { ...hello, box: new SharedArrayBuffer(1 << 20) },
      { ...hello, nonce: 'not hex' },
      { crochet: 'crochet:2', k: 'claim', rank: -1 },
      { crochet: 'crochet:2', k: 'leader', rank: Number.NaN },
      { crochet: 'crochet:2', k: 'leader', rank: '0' },
      { crochet: 'crochet:2', k: 'elect', rank: 0.5 },
    ];
    for (const message of foreign) assert.equal(parseDirectory(message), undefined, JSON.stringify(message));
    assert.equal(parseDirectory(hello)?.k, 'hello');
    assert.equal(parseDirectory({ crochet: 'crochet:2', k: 'claim', rank: 0.5 })?.k, 'claim');
  });

  it('checks the box a thread sends and every message on a channel', () => {
    assert.equal(parseOpen({ k: 'open', box: new SharedArrayBuffer(8) }), undefined);
    assert.equal(parseOpen({ k: 'open', box: new SharedArrayBuffer(RING_BOX_BYTES) })?.k, 'open');
    for (const message of [
      null,
      { k: 0, id: -1, fn: 0, args: [] },
      { k: 0, id: 1, fn: 0 },
      { k: 5, id: 1 },
      { k: 99 },
    ]) {
      assert.equal(parseRequest(message), undefined, JSON.stringify(message));
    }
    assert.equal(parseRequest({ k: 0, id: 1, fn: 0, args: [] })?.k, 0);
    for (const message of [null, { k: 2 }, { k: 3, id: 1, error: null }, { k: 12, level: 1, fd: 3, text: '' }]) {
      assert.equal(parseReply(message), undefined, JSON.stringify(message));
    }
  });
});
