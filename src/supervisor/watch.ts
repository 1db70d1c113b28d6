/**
 * The supervisor thread's watch over the reactor. Its own event loop is never blocked, so
 * it sees the reactor end in any way (an exit, a crash, running out of memory, failing to
 * start) and wakes every blocked caller with the reason. It is also the reactor's
 * directory (see directory.ts): it takes part in the election, answers threads looking for
 * the reactor, and hands their channels to it. And it beats: callers that see no beat for
 * a while know that the reactor's threads are gone without a word (the thread that started
 * them was terminated).
 */
import { debuglog } from 'node:util';
import { parentPort } from 'node:worker_threads';
import { encodeThrown } from '../wire/codec.js';
import { markStopped } from '../wire/control.js';
import {
  Answer,
  ANS_STATE,
  CH_BEAT,
  CH_CONTENDED,
  CH_COUNTER,
  CTL_ACK,
  CTL_CONTENDED,
  CTL_REACTOR,
  CTL_STATE,
  State,
} from '../wire/layout.js';
import type { Forget, OpenChannel, SupervisorData } from '../wire/messages.js';
import { Directory } from './directory.js';
import type { Early, ReactorLink } from './link.js';
import { callsSince, pace } from './load.js';

const trace = debuglog('crochet');

/**
 * How long each round of the election lasts: short when the main thread starts the
 * reactor (a CLI's start-up), longer for a worker (a pool's workers tend to call setup()
 * all at once, on a machine busy booting them).
 */
const MAIN_ROUND_MS = 20;
/**
 * The shortest round: the main thread's round counts from its hello (a reactor already
 * serving has had this thread's boot to answer it), but still takes in what arrives once
 * this thread claims.
 */
const MIN_ROUND_MS = 4;
const WORKER_ROUND_MS = 40;
/** Ranks below this are the main thread's. */
const MAIN_RANKS = 1e-6;

export function watch(
  data: SupervisorData,
  started: ReactorLink | undefined,
  early: Early,
  launch: () => ReactorLink | undefined,
  failed: { cause?: unknown },
  load: () => boolean,
): void {
  let reactor = started;
  const { control } = data;
  /** Every channel's box, by its buffer. */
  const boxes = new Map<SharedArrayBuffer, Int32Array>([[data.box.buffer as SharedArrayBuffer, data.box]]);
  /** What runs once the reactor is watched, to be stopped when it ends. */
  const running: { directory?: Directory; stopBeat?: () => void } = {};
  let won = false;

  const wake = (box: Int32Array): void => {
    Atomics.add(box, CH_COUNTER, 1);
    Atomics.notify(box, CH_COUNTER);
  };
  const finish = (): void => {
    running.stopBeat?.();
    running.directory?.close();
    // (Deno's parent port cannot be closed: unref'd, it keeps nothing alive either.)
    if (typeof parentPort?.close === 'function') parentPort.close();
  };
  const stop = (cause: unknown): void => {
    // A reactor that died while writing its own cause leaves `Stopping`: finish for it.
    markStopped(control, encodeThrown(cause), boxes.values(), Atomics.load(control, CTL_STATE) === State.Stopping);
    finish();
  };
  const serve = (): void => {
    if (!won || early.up !== true) return;
    if (Atomics.compareExchange(control, CTL_STATE, State.Supervised, State.Running) === State.Supervised) {
      wake(data.box);
    }
  };

  /** Watches the reactor thread; false if it could not be started. */
  const attach = (link: ReactorLink | undefined): link is ReactorLink => {
    if (link === undefined) {
      stop(failed.cause ?? new Error('The reactor thread could not be started'));
      return false;
    }
    // Before the directory names it to anyone: a thread that holds this control block can
    // then tell whether the reactor it reaches is this one.
    Atomics.store(control, CTL_REACTOR, link.threadId + 1);
    link.onMessage((message) => {
      if (message.k === 'up') {
        running.directory?.resume();
        serve();
      } else if (message.k === 'forget' && message.box instanceof Int32Array) {
        boxes.delete((message as Forget).box.buffer as SharedArrayBuffer);
      }
    });
    link.onEnd(stop);
    // It may have said it runs before this listened (see link.ts).
    queueMicrotask(serve);
    return true;
  };
  if (reactor !== undefined || data.speculative || data.reactor !== undefined) {
    if (!attach(reactor)) return;
  }

  // The starting thread tells us when it exits: the reactor ends with it (its threads are
  // its children), so every caller must hear of it now, before that happens.
  parentPort?.on('message', (message: { k?: unknown }) => {
    if (message.k !== 'exiting') return;
    stop(
      new Error(
        `The thread that started the reactor (thread ${data.starter}) exited, and the reactor's threads end with it; call setup() again, from any thread, to start a new reactor`,
      ),
    );
    Atomics.add(control, CTL_ACK, 1);
    Atomics.notify(control, CTL_ACK);
  });
  parentPort?.unref();

  running.directory = new Directory({
    reactorThread: () => reactor?.threadId ?? -1,
    starterThread: data.starter,
    // The main thread's claim beats any worker's (its reactor lives as long as the process);
    // only a reactor already serving beats it, and answers within the first round.
    rank: data.speculative ? Math.random() * MAIN_RANKS : MAIN_RANKS + Math.random() * (1 - MAIN_RANKS),
    round: data.speculative
      ? Math.max(MIN_ROUND_MS, MAIN_ROUND_MS - (Date.now() - (data.askedAt ?? Date.now())))
      : WORKER_ROUND_MS,
    confirm: !data.speculative,
    // A reactor booting beside this thread: serving before it is up gains nothing, so the
    // main thread's claim waits for it, and a reactor already serving (a worker's) has the
    // whole boot to answer the main thread's hello.
    hold: () => data.speculative && early.up !== true,
    // The starting thread said hello as it started this thread: a reactor already serving
    // has had this thread's boot, and the round, to answer it.
    answeredElsewhere: () =>
      data.asked !== undefined && Atomics.load(new Int32Array(data.asked), ANS_STATE) !== Answer.Waiting,
    keepAlive: false,
    open: () => Atomics.load(control, CTL_STATE) === State.Running,
    gone: () => {
      const state = Atomics.load(control, CTL_STATE);
      return state === State.Stopping || state === State.Stopped;
    },
    onWon() {
      won = true;
      if (reactor === undefined) {
        reactor = launch();
        if (!attach(reactor)) return;
      }
      serve();
    },
    onLost() {
      if (Atomics.load(control, CTL_STATE) === State.Running) {
        // Two reactors served at once (their supervisors missed each other on a machine too
        // busy for the election): this one stops, so that every thread ends up on the other.
        stop(
          new Error(
            'Another reactor serves this process: two were started at once, on a machine too busy for them to hear of each other in time, and this one stood down. Call again: the next call finds the other',
          ),
        );
        reactor?.end();
        return;
      }
      // Another reactor serves: this one never served anything. Let the starting thread
      // find that one, and end.
      Atomics.compareExchange(control, CTL_STATE, State.Supervised, State.Deferred);
      wake(data.box);
      finish();
      reactor?.end();
    },
    onOpen(names, box, answer) {
      boxes.set(box.buffer as SharedArrayBuffer, box);
      Atomics.store(box, CH_CONTENDED, Atomics.load(control, CTL_CONTENDED));
      const open: OpenChannel = { k: 'open', toReactor: names.toReactor, toCaller: names.toCaller, box, answer };
      reactor?.post(open);
    },
  });
  Atomics.store(control, CTL_CONTENDED, load() ? 1 : 0);
  if (Atomics.load(control, CTL_CONTENDED) === 1)
    trace('other processes leave this one less than two cores: park, do not spin');
  for (const box of boxes.values()) Atomics.store(box, CH_CONTENDED, Atomics.load(control, CTL_CONTENDED));
  const called = callsSince(() => boxes.values());
  running.stopBeat = pace(() => {
    const contended = load() ? 1 : 0;
    if (Atomics.exchange(control, CTL_CONTENDED, contended) !== contended) {
      trace(
        contended === 1
          ? 'other processes leave this one less than two cores: park, do not spin'
          : 'cores free again: spin',
      );
    }
    for (const box of boxes.values()) {
      Atomics.store(box, CH_CONTENDED, contended);
      Atomics.add(box, CH_BEAT, 1);
    }
    return called();
  });
}
