import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { hangFor50, increment, raiseError, startHang } from './fixtures/calls.js';
import { gate, runFixture, thrown } from './helpers.js';

function recording(...names: string[]): { events: [string, Record<string, unknown>][]; stop: () => void } {
  const events: [string, Record<string, unknown>][] = [];
  const handlers = names.map((name) => {
    const handler = (message: unknown): void => {
      events.push([name, message as Record<string, unknown>]);
    };
    diagnostics.subscribe(name, handler);
    return [name, handler] as const;
  });
  return {
    events,
    stop: () => {
      for (const [name, handler] of handlers) diagnostics.unsubscribe(name, handler);
    },
  };
}

describe('observability', () => {
  it('publishes call start and end on diagnostics channels', () => {
    const { events, stop } = recording('crochet:call:start', 'crochet:call:end');
    try {
      increment(1);
      thrown(() => raiseError({ ctor: 'Error', message: 'observed' }, false));
    } finally {
      stop();
    }
    assert.deepEqual(
      events.map(([name, message]) => [name, message['ok']]),
      [
        ['crochet:call:start', undefined],
        ['crochet:call:end', true],
        ['crochet:call:start', undefined],
        ['crochet:call:end', false],
      ],
    );
    const [, start] = events[0]!;
    const [, end] = events[1]!;
    assert.equal(start['id'], end['id']);
    assert.match(String(start['module']), /fixtures\/calls\.js$/);
    assert.equal(typeof end['duration'], 'number');
  });

  it('publishes timeouts and cancellations', () => {
    const { events, stop } = recording('crochet:call:timeout', 'crochet:call:cancel');
    try {
      thrown(() => hangFor50(gate()));
      startHang(gate()).cancel();
    } finally {
      stop();
    }
    assert.deepEqual(
      events.map(([name]) => name),
      ['crochet:call:timeout', 'crochet:call:cancel'],
    );
    assert.equal(events[0]?.[1]['timeout'], 50);
  });

  it('prints a readable trace with NODE_DEBUG=crochet', async () => {
    const exit = await runFixture('proc-spin.js', { env: { ...process.env, NODE_DEBUG: 'crochet' } });
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stderr, /CROCHET \d+: setup\(\): reactor starting/);
    assert.match(exit.stderr, /CROCHET \d+: call 1 anonymous \(wrapper #1 of file:.*proc-spin\.js\)/);
    assert.match(exit.stderr, /CROCHET \d+: call 1 anonymous timed out after 100 ms/);
  });
});
