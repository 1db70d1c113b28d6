/**
 * Finding the process's reactor from a thread that was not handed a port to it: a hello on
 * the directory, an answer in shared memory, then a private channel (see
 * wire/handshake.ts). Works the same on every runtime: the blocked thread only waits on
 * shared memory.
 */
import { performance } from 'node:perf_hooks';
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { trace } from '../common/diagnostics.js';
import { encodeThrown } from '../wire/codec.js';
import { stopBox } from '../wire/control.js';
import { callerRingEndpoint } from '../wire/endpoint.js';
import { DIRECTORY, Hello, type OpenMessage } from '../wire/handshake.js';
import { Answer, ANS_STATE, CH_BEAT, CH_STATE, ChannelState, RING_BOX_BYTES } from '../wire/layout.js';
import { allocateBox } from '../wire/lane.js';
import { Connection, type Transport } from './connection.js';

/** How long a thread waits for the reactor to open its channel before it asks again. */
const OPEN_WAIT_MS = 2000;
const MAX_ATTEMPTS = 5;
/** How long a thread connecting sees no beat of the supervisor that took its box before it gives up on it. */
const GONE_MS = 1500;
/** How long a thread waits before it says hello again (doubling, up to 100 ms). */
const HELLO_RETRY_MS = 2;

/** What a hello found. */
export type Found =
  | { readonly kind: 'none' }
  /** This very thread serves the reactor (noSetup(), or another copy of crochet here). */
  | { readonly kind: 'self' }
  /** A channel to the reactor whose thread is `reactorThread`. */
  | { readonly kind: 'channel'; readonly transport: Transport; readonly reactorThread: number };

/**
 * Asks the directory for the reactor and opens a channel to it, waiting at most `limit` ms
 * for an answer (and as long again for the reactor to open the channel).
 */
export function discover(limit: number, attempt = 1): Found {
  const started = performance.now();
  const hello = new Hello();
  const directory = directoryChannel();
  {
    let retry = HELLO_RETRY_MS;
    const deadline = started + limit;
    // A hello posted before anyone listens is lost: say it again until answered.
    while (hello.state === Answer.Waiting || hello.state === Answer.Writing) {
      const left = deadline - performance.now();
      if (hello.state === Answer.Writing && left > 0) {
        // Being answered right now: the key follows at once.
        Atomics.wait(hello.answer, ANS_STATE, Answer.Writing, 1);
        continue;
      }
      directory.postMessage(hello.message);
      if (!(left > 0)) {
        trace('no reactor answered within %d ms', limit);
        return { kind: 'none' };
      }
      Atomics.wait(hello.answer, ANS_STATE, Answer.Waiting, Math.min(retry, left));
      retry = Math.min(retry * 2, 100);
    }
    // A stale or foreign answer (not a key of ours) is no answer.
    const names = hello.names();
    if (names === undefined || hello.state === Answer.Refused) return { kind: 'none' };
    if (hello.reactorThread === threadId) return { kind: 'self' };
    const box = allocateBox(RING_BOX_BYTES);
    const endpoint = callerRingEndpoint(box, names);
    const open: OpenMessage = { k: 'open', box: box.buffer as SharedArrayBuffer };
    endpoint.post(open);
    // The reactor opens the channel when its loop gets to it: it may be busy for a while.
    // Its supervisor, whose loop is never blocked, takes the box at once, and from then on
    // beats in it (and marks it stopped if the reactor stops): then wait for the reactor
    // as long as for its start-up. (A directory flooded with hellos may also have let this
    // handshake go: no beat comes, and this thread asks again.)
    const asked = performance.now();
    let beat = Atomics.load(box, CH_BEAT);
    let beatSeen = asked;
    let taken = false;
    while (hello.state === Answer.Answered) {
      if (Atomics.load(box, CH_STATE) === ChannelState.Stopped) break;
      const now = performance.now();
      if (Atomics.load(box, CH_BEAT) !== beat) {
        beat = Atomics.load(box, CH_BEAT);
        beatSeen = now;
        taken = true;
      } else if (taken && now - beatSeen > GONE_MS) {
        // The supervisor vanished without a word (its threads were ended with the thread
        // that started them): no reactor will open the channel.
        const cause = new Error(
          'The reactor’s threads ended while this thread connected to it (its supervisor stopped beating): the thread that started it may have been terminated; call setup() to start a new one',
        );
        stopBox(box, encodeThrown(cause), false);
        break;
      }
      const left =
        (taken ? asked + Connection.startupLimit : asked + Math.max(Math.min(limit, OPEN_WAIT_MS), 1000)) - now;
      if (!(left > 0)) break;
      Atomics.wait(hello.answer, ANS_STATE, Answer.Answered, Math.min(left, 100));
    }
    if (Atomics.load(box, CH_STATE) === ChannelState.Stopped) {
      // The reactor stopped meanwhile: the connection reports why.
      trace('the reactor stopped while it opened this thread’s channel');
      return {
        kind: 'channel',
        transport: { box, endpoint, beats: true, ring: true, starter: hello.starterThread },
        reactorThread: hello.reactorThread,
      };
    }
    if (hello.state !== Answer.Ready) {
      endpoint.close();
      const left = started + limit - performance.now();
      if (left > OPEN_WAIT_MS && attempt < MAX_ATTEMPTS) return discover(left, attempt + 1);
      trace('the reactor answered but did not open the channel');
      return { kind: 'none' };
    }
    trace('found the reactor (thread %d) in %s ms', hello.reactorThread, (performance.now() - started).toFixed(2));
    const starter = hello.starterThread;
    return {
      kind: 'channel',
      transport: { box, endpoint, beats: starter !== -1, ring: true, starter },
      reactorThread: hello.reactorThread,
    };
  }
}

let poster: BroadcastChannel | undefined;

/**
 * This thread's sender on the directory: one for the thread's life, never closed (on Deno,
 * a broadcast channel that posted and was closed leaves later ones of the same name in its
 * thread deaf, and the `noSetup()` main thread listens on the directory too).
 */
export function directoryChannel(): BroadcastChannel {
  if (poster === undefined) {
    poster = new BroadcastChannel(DIRECTORY);
    poster.unref();
  }
  return poster;
}
