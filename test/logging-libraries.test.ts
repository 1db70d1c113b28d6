import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runFixture } from './helpers.js';

const expected = [
  ['debug', 'debug line'],
  ['debug', 'Trace: traced'],
  ['info', 'log 1'],
  ['info', 'info { a: 1 }'],
  ['info', 'raw stdout'],
  ['warn', 'warned'],
  ['error', 'errored'],
  ['error', 'raw stderr'],
  ['error', 'crochet: a promise was rejected in the reactor and nothing handled it:'],
  ['error', 'crochet: an error was thrown in the reactor outside any call:'],
  ['error', 'crochet: an error was thrown in the reactor outside any call:'],
];

async function records(kind: string): Promise<string[][]> {
  const exit = await runFixture('proc-logger.js', { args: [kind] });
  assert.equal(exit.code, 0, exit.stderr);
  const pinoLevels: Record<number, string> = { 20: 'debug', 30: 'info', 40: 'warn', 50: 'error' };
  return exit.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .map((record) => [
      typeof record['level'] === 'number' ? (pinoLevels[record['level']] ?? '?') : String(record['level']),
      String(record['msg'] ?? record['message']).split('\n')[0] ?? '',
    ]);
}

describe('the logging bridge with real loggers', () => {
  for (const kind of ['pino', 'winston']) {
    it(
      `feeds a ${kind} logger one record per write, at the level of the write`,
      {
        skip:
          ('Bun' in globalThis && "Bun's console.trace() does not write Node's 'Trace: <message>' header") ||
          ('Deno' in globalThis &&
            'Deno’s console writes to the file descriptors itself, not through process.stdout and process.stderr, so crochet does not capture it there yet'),
      },
      async () => {
        assert.deepEqual(await records(kind), expected);
      },
    );
  }
});
