/**
 * Fault injection: each fault gives a clear error, nothing hangs, and later calls behave
 * as documented (docs/faults.md lists what each fault produces). Faults that end the
 * reactor or the process (process.exit, running out of memory, failing to start, Ctrl-C,
 * infinite loops) are tested in subprocesses in process.test.ts; caller threads
 * terminated mid-call in threads.test.ts; values that cannot be cloned in
 * failures.test.ts; errors thrown at load in modules.test.ts.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { CancelledError, CrochetError, setup, TimeoutError } from 'crochet';
import { increment } from './fixtures/calls.js';
import {
  echoLarge,
  hangAtOnce,
  hangBriefly,
  hangStats,
  makeLarge,
  startHanging,
  sumBytes,
} from './fixtures/faults/storms.js';
import { lastJson, runFixture, thrown } from './helpers.js';

const CI = process.env['CI'] !== undefined;

/** Waits (bounded) until `condition()` holds, asking again after each reactor round trip. */
function eventually(condition: () => boolean, what: string): void {
  for (let tries = 0; tries < 10_000; tries++) if (condition()) return;
  assert.fail(`never: ${what}`);
}

describe('fault injection', () => {
  it(
    'fails calls into a module that has a syntax error in the reactor, naming the file',
    {
      skip:
        ('Bun' in globalThis &&
          'Bun reports a module that does not parse as an AggregateError of build errors, not a SyntaxError') ||
        ('Deno' in globalThis && 'Deno reports a module that does not parse as a TypeError, not a SyntaxError'),
    },
    async () => {
      writeFileSync(new URL('./fixtures/faults/syntax-error.mjs', import.meta.url), 'export const = ;\n');
      const { viaSyntaxError } = await import('./fixtures/faults/syntax.js');
      const error = thrown(() => viaSyntaxError());
      assert.ok(error instanceof CrochetError);
      assert.equal(error.code, 'ERR_CROCHET_UNKNOWN_FUNCTION');
      assert.ok(error.cause instanceof SyntaxError, String(error.cause));
      assert.equal(increment(1), 2, 'the reactor keeps serving');
    },
  );

  it('fails calls into a module that imports a missing module in the reactor, naming it', async () => {
    const { viaMissingModule } = await import('./fixtures/faults/missing.js');
    const error = thrown(() => viaMissingModule());
    assert.ok(error instanceof CrochetError);
    assert.equal(error.code, 'ERR_CROCHET_UNKNOWN_FUNCTION');
    assert.equal((error.cause as { code?: string }).code, 'ERR_MODULE_NOT_FOUND');
    assert.match((error.cause as Error).message, /no-such-module\.mjs/);
    assert.equal(increment(2), 3, 'the reactor keeps serving');
  });

  it('survives a thousand timeouts in a row: every call times out, every one is aborted, later calls are exact', () => {
    const count = CI ? 3000 : 1000;
    const before = hangStats();
    for (let i = 0; i < count; i++) {
      const error = thrown(() => (i % 2 === 0 ? hangBriefly() : hangAtOnce()));
      assert.ok(error instanceof TimeoutError, `call ${i}: ${String(error)}`);
      if (i % 100 === 0) assert.equal(increment(i), i + 1);
    }
    eventually(() => hangStats().aborted - before.aborted === count, 'every timed-out call aborted');
    assert.equal(hangStats().running, before.running, 'none still running in the reactor');
    for (let i = 0; i < 100; i++) assert.equal(increment(i), i + 1);
  });

  it('survives a cancel storm: every result fails with CancelledError, every call is aborted', () => {
    const count = CI ? 3000 : 1000;
    const before = hangStats();
    const results = Array.from({ length: count }, () => startHanging());
    for (const result of results) result.cancel();
    for (const result of results) {
      const error = thrown(() => result.wait(0));
      assert.ok(error instanceof CancelledError);
    }
    eventually(() => hangStats().aborted - before.aborted === count, 'every cancelled call aborted');
    assert.equal(hangStats().running, before.running);
    for (let i = 0; i < 100; i++) assert.equal(increment(i), i + 1);
  });

  it('carries huge payloads both ways: 64 MiB copied and moved, a 32 MiB string', () => {
    const size = 64 * 1024 * 1024;
    const bytes = new Uint8Array(size).fill(3);
    const back = echoLarge(bytes) as Uint8Array;
    assert.equal(back.byteLength, size);
    assert.equal(back[size - 1], 3);
    const moved = makeLarge(size, 7);
    assert.equal(moved.byteLength, size);
    assert.equal(moved[12345], 7);
    assert.equal(sumBytes(moved), size * 7);
    const text = 'x'.repeat(32 * 1024 * 1024);
    assert.equal((echoLarge(text) as string).length, text.length);
    assert.equal(increment(5), 6);
  });

  it(
    'ends only the reactor when its code exhausts the memory setup({ resourceLimits }) allows',
    {
      skip:
        ('Bun' in globalThis && 'Bun does not apply resourceLimits to worker threads') ||
        ('Deno' in globalThis &&
          'on Deno the end of a reactor that ran out of its resourceLimits is not always seen (a known gap)'),
    },
    async () => {
      const exit = await runFixture('proc-limits.js', { killAfter: 60_000 });
      assert.equal(exit.code, 0, exit.stderr);
      const stopped = { stopped: true, causeCode: 'ERR_WORKER_OUT_OF_MEMORY' };
      assert.deepEqual(lastJson(exit), {
        before: { returned: 'pong' },
        exhausted: stopped,
        after: stopped,
        big: 10_000_000,
      });
    },
  );

  it('rejects resource limits that are not positive numbers of megabytes, naming the limit', () => {
    assert.throws(() => {
      setup({ resourceLimits: { maxOldGenerationSizeMb: -1 } });
    }, /`options\.resourceLimits\.maxOldGenerationSizeMb` to be a finite number of megabytes above 0, got `-1` \(number\)/);
    assert.throws(() => {
      setup({ resourceLimits: { heapMb: 10 } as never });
    }, /Unknown option `heapMb` in `options\.resourceLimits`/);
    assert.throws(() => {
      setup({ resourceLimits: 64 as never });
    }, /Expected `options\.resourceLimits` to be an object/);
  });

  it('stays healthy when caller threads are terminated in the middle of calls, again and again', async () => {
    const rounds = CI ? 20 : 8;
    const code = `
      const { workerData } = require('node:worker_threads');
      import(workerData.module).then(({ hangOpening }) => {
        // Blocks in the middle of a call (the reactor opens the gate) until terminated.
        hangOpening(workerData.gate);
      });
    `;
    const module = new URL('./fixtures/faults/storms.js', import.meta.url).href;
    for (let round = 0; round < rounds; round++) {
      const gate = new Int32Array(new SharedArrayBuffer(4));
      const worker = new Worker(code, { eval: true, workerData: { module, gate } });
      const waiting = Atomics.waitAsync(gate, 0, 0, 30_000);
      if (waiting.async) await waiting.value;
      assert.equal(Atomics.load(gate, 0), 1, 'the call was running');
      await worker.terminate();
      assert.equal(increment(round), round + 1);
    }
  });
});
