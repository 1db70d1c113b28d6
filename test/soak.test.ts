/**
 * The soak: a million calls when CI is set (fifty thousand otherwise), every path mixed,
 * every result checked; the main thread's heap must not grow. The figures are printed as
 * test diagnostics.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lastJson, runFixture } from './helpers.js';

const CALLS = process.env['CI'] === undefined ? 50_000 : 1_000_000;

interface Soak {
  readonly calls: number;
  readonly seconds: number;
  readonly microsecondsPerCall: number;
  readonly timeouts: number;
  readonly heapBeforeMiB: number;
  readonly heapAfterMiB: number;
  readonly rssBeforeMiB: number;
  readonly rssAfterMiB: number;
}

describe('soak', () => {
  it(`makes ${CALLS.toLocaleString('en')} calls with no stale reply and no memory growth`, async (t) => {
    const exit = await runFixture('proc-soak.js', {
      execArgv: ['--expose-gc'],
      args: [String(CALLS)],
      killAfter: 300_000,
    });
    assert.equal(exit.code, 0, exit.stderr);
    const soak = lastJson(exit) as Soak;
    t.diagnostic(
      `${soak.calls} calls in ${soak.seconds} s (${soak.microsecondsPerCall} µs each), ${soak.timeouts} timeouts; ` +
        `heap ${soak.heapBeforeMiB} → ${soak.heapAfterMiB} MiB, rss ${soak.rssBeforeMiB} → ${soak.rssAfterMiB} MiB`,
    );
    assert.equal(soak.calls, CALLS);
    assert.equal(soak.timeouts, Math.floor(CALLS / 50_000));
    assert.ok(
      soak.heapAfterMiB - soak.heapBeforeMiB < 2,
      `the heap grew from ${soak.heapBeforeMiB} to ${soak.heapAfterMiB} MiB`,
    );
  });
});
