import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setup } from 'crochet';
import { failOutside, logMany, warn, writeEverything } from './fixtures/loud.js';
import { runFixture } from './helpers.js';

const records: [string, string][] = [];
let throwOnWarn = false;
let slowInfo = 0;
const logger = {
  debug: (message: string) => records.push(['debug', message]),
  info: (message: string) => {
    const until = performance.now() + slowInfo;
    while (performance.now() < until) {
      // A slow logger.
    }
    records.push(['info', message]);
  },
  warn: (message: string) => {
    if (throwOnWarn) throw new Error('this logger is broken');
    records.push(['warn', message]);
  },
  error: (message: string) => records.push(['error', message]),
};
setup({ logger });

function take(): [string, string][] {
  return records.splice(0);
}

describe('the logging bridge', () => {
  it(
    'gives the logger one record per write, at its level, formatted as console would',
    {
      skip:
        ('Bun' in globalThis && "Bun's console.trace() does not write Node's 'Trace: <message>' header") ||
        ('Deno' in globalThis &&
          'Deno’s console writes to the file descriptors itself, not through process.stdout and process.stderr, so crochet does not capture it there yet'),
    },
    () => {
      take();
      assert.equal(writeEverything(), 'written');
      const got = take();
      const trace = got[1];
      assert.deepEqual(got.slice(0, 1), [['debug', 'debug line']]);
      assert.equal(trace?.[0], 'debug');
      assert.match(trace?.[1] ?? '', /^Trace: traced\n {4}at /);
      assert.deepEqual(got.slice(2), [
        ['info', 'log 1'],
        ['info', 'info { a: 1 }'],
        ['info', 'raw stdout'],
        ['warn', 'warned'],
        ['error', 'errored'],
        ['error', 'raw stderr'],
      ]);
    },
  );

  it(
    'logs warnings at warn level',
    {
      skip: 'Bun' in globalThis && "Bun prints a warning in two writes of its own, not from a 'warning' listener",
    },
    () => {
      take();
      assert.equal(warn(), 'warned');
      const got = take();
      assert.equal(got.length, 1);
      assert.equal(got[0]?.[0], 'warn');
      assert.match(got[0]?.[1] ?? '', /ExperimentalWarning: careful now/);
    },
  );

  it(
    'logs errors outside any call at error level, and the reactor keeps serving',
    {
      skip:
        'Bun' in globalThis &&
        'under bun test, an unhandled rejection ends the worker it happens in, whatever its listeners (plain bun does not: see the logging-libraries test)',
    },
    () => {
      take();
      assert.equal(failOutside(), 'survived');
      const got = take();
      assert.deepEqual(
        got.map(([level]) => level),
        ['error', 'error', 'error'],
      );
      const text = got.map(([, message]) => message).join('\n');
      assert.match(text, /timer threw/);
      assert.match(text, /nobody handled this rejection/);
      assert.match(text, /nobody listened to this error event/);
    },
  );

  it(
    'never lets a slow logger hold the reactor up',
    {
      skip:
        'Deno' in globalThis &&
        'Deno’s console writes to the file descriptors itself, not through process.stdout and process.stderr, so crochet does not capture it there yet',
    },
    () => {
      take();
      slowInfo = 20;
      try {
        const reactorMs = logMany(10);
        assert.ok(reactorMs < 100, `the reactor spent ${reactorMs} ms logging 10 lines at 20 ms each`);
        assert.equal(take().length, 10, 'every record still arrived before the call returned');
      } finally {
        slowInfo = 0;
      }
    },
  );

  it(
    'survives a logger that throws: later records still arrive',
    {
      skip:
        'Deno' in globalThis &&
        'Deno’s console writes to the file descriptors itself, not through process.stdout and process.stderr, so crochet does not capture it there yet',
    },
    () => {
      take();
      throwOnWarn = true;
      try {
        assert.equal(writeEverything(), 'written');
      } finally {
        throwOnWarn = false;
      }
      assert.equal(writeEverything(), 'written');
      const got = take();
      assert.equal(
        got.filter(([level]) => level === 'warn').length,
        1,
        'the thrown-away warn is gone, the next one came',
      );
      assert.equal(got.filter(([level]) => level === 'info').length, 6);
    },
  );

  it('rejects a logger that lacks a level method', () => {
    assert.throws(() => setup({ logger: { info: () => undefined } as never }), {
      name: 'TypeError',
      message: /`options.logger`.*\(missing: debug, warn, error\)/,
    });
  });
});

describe('reactor output without a logger', () => {
  for (const mode of ['drain', 'exit']) {
    it(`keeps order with the application's output and loses nothing at exit (${mode})`, async () => {
      const exit = await runFixture('proc-output.js', { args: [mode] });
      assert.equal(exit.code, 0, exit.stderr);
      assert.equal(exit.stdout, 'A\nB\nC\nwritten after the call returned\n');
      assert.equal(exit.stderr, 'a\nb\nc\n');
    });
  }
});
