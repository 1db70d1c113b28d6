/**
 * Observability: `diagnostics_channel` channels, and a `NODE_DEBUG=crochet` trace.
 *
 * Channels (subscribe with `diagnostics_channel.subscribe(name, handler)` in the thread
 * you want to observe; messages are published in the thread where the event happens):
 *
 * - `crochet:reactor:start` `{ mode: 'setup' | 'noSetup' }`: a reactor was started.
 * - `crochet:reactor:stop` `{ cause, shutDown }`: this thread saw the reactor stop.
 * - `crochet:call:start` `{ id, name, module, index }`: a wrapped function was called.
 * - `crochet:call:end` `{ id, name, ok, duration }`: its outcome arrived (ms).
 * - `crochet:call:timeout` `{ id, name, timeout }`: a `waitFor` call timed out.
 * - `crochet:call:cancel` `{ id, name }`: a result was cancelled.
 */
import diagnostics from 'node:diagnostics_channel';
import { debuglog } from 'node:util';

export const channels = {
  reactorStart: diagnostics.channel('crochet:reactor:start'),
  reactorStop: diagnostics.channel('crochet:reactor:stop'),
  callStart: diagnostics.channel('crochet:call:start'),
  callEnd: diagnostics.channel('crochet:call:end'),
  callTimeout: diagnostics.channel('crochet:call:timeout'),
  callCancel: diagnostics.channel('crochet:call:cancel'),
} as const;

/** Writes a trace line when `NODE_DEBUG` includes `crochet`. */
export const trace = debuglog('crochet');

/**
 * Whether tracing is on. (`debuglog()` functions say so in `.enabled` on Node; Bun's have
 * no such property, so NODE_DEBUG is read as Node reads it.)
 */
export const tracing: boolean =
  (trace as { enabled?: unknown }).enabled === true ||
  (process.env['NODE_DEBUG'] ?? '').split(/[\s,]+/).some((name) => name.toLowerCase() === 'crochet');
