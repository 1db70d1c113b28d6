/**
 * Whether the machine leaves this process's threads a core each: the supervisor's view of
 * the load, which tells callers and the reactor whether spinning can pay.
 *
 * A caller that spins for its reply, or a reactor that polls for the next call, wins a few
 * tens of microseconds only while the thread on the other side runs on another core. When
 * other processes keep all but one core busy, the two share that one: the spinner holds
 * the core that the other side needs to answer, and a call waits for the scheduler (a
 * tail of hundreds of microseconds). Parking is then the fast way: a futex wake-up on the
 * same core is a direct hand-over.
 *
 * Every beat the supervisor compares the CPU time the whole machine used since the last
 * beat with what this process used: the difference is what other processes take. When it
 * leaves fewer than about 2 cores (see {@link thresholds}), the machine is contended; it
 * stops being so when clearly more are left again.
 * This process's own threads are left out on purpose: its own spinning must not talk it
 * out of spinning. Where the machine's CPU time cannot be read (not Linux), the answer is
 * always "not contended", which is how crochet behaved before it looked.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import os from 'node:os';
import { CH_SENT, REQUEST_ID } from '../wire/layout.js';

/**
 * The thresholds on `cores` cores: contended when other processes leave this one fewer
 * cores than `busyBelow`; no longer contended once they leave more than `quietAbove`.
 *
 * What others take is measured while this process runs too, and the scheduler shares the
 * cores among all runnable threads. With k busy processes on n cores and a caller and a
 * reactor that both spin: while k + 2 <= n, every thread has a core, and n - k >= 2 cores
 * look free; once k = n - 1, the n + 1 threads share n cores, others get n(n - 1)/(n + 1),
 * and only 2n/(n + 1) look free (1.33 on 2 cores, 1.6 on 4, 1.78 on 8). `busyBelow` lies
 * halfway between that and 2 (1.67 on 2 cores), but no higher than {@link BUSY_AT_MOST}.
 *
 * Parked, this process takes little, so others get what they ask for: n - 1 busy
 * processes leave 1 core, n - 2 leave 2. `quietAbove` lies halfway between `busyBelow` and
 * 2, but no higher than {@link QUIET_AT_MOST} (the gap keeps the answer from flickering).
 */
export function thresholds(cores: number): { busyBelow: number; quietAbove: number } {
  const n = Math.max(2, cores);
  const busyBelow = Math.min(n / (n + 1) + 1, BUSY_AT_MOST);
  return { busyBelow, quietAbove: Math.min((busyBelow + 2) / 2, QUIET_AT_MOST) };
}

/**
 * The highest the thresholds go. `/proc/stat` counts in ticks of 10 ms, so a reading over
 * a 100 ms beat is only good to about 0.1 core, whatever the number of cores; and a
 * machine's own background (a test runner's coordinator, the system) takes a little. So
 * the lines stay a clear 0.2 and 0.1 core below 2: a machine with two cores to spare is not
 * taken for a contended one, and is seen to be free again. The price: from about 9 cores
 * up, a busy process on every core but one leaves more than 1.8 cores looking free while
 * this process spins, and is not seen; each of the n + 1 threads then still gets n/(n + 1)
 * of a core (90 % or more), so spinning costs little there.
 */
const BUSY_AT_MOST = 1.8;
const QUIET_AT_MOST = 1.9;

/** One reading: CPU time of the machine (busy and all, in clock ticks) and of this process (µs). */
export interface LoadSample {
  readonly busyTicks: number;
  readonly totalTicks: number;
  readonly processMicros: number;
  readonly wallMs: number;
}

/**
 * Reads the first line of `/proc/stat` (`cpu  user nice system idle iowait irq softirq
 * steal …`, in clock ticks): busy and total ticks. Undefined if the text is not that.
 */
export function parseProcStat(text: string): { busy: number; total: number } | undefined {
  const line = /^cpu\s+([\d\s]+)/.exec(text)?.[1];
  if (line === undefined) return undefined;
  const fields = line.trim().split(/\s+/).map(Number);
  if (fields.length < 4 || fields.some((n) => !Number.isFinite(n))) return undefined;
  // user nice system idle iowait irq softirq steal (guest time is counted in user already).
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.slice(0, 8).reduce((sum, n) => sum + n, 0);
  return { busy: total - idle, total };
}

/**
 * How many cores other processes left to this one between two readings (0 to `cores`),
 * or undefined when the readings tell nothing (too close together, or a clock moved back).
 */
export function coresLeft(before: LoadSample, after: LoadSample, cores: number): number | undefined {
  const ticks = after.totalTicks - before.totalTicks;
  const wall = after.wallMs - before.wallMs;
  if (!(ticks > 0) || !(wall > 0)) return undefined;
  const busyCores = ((after.busyTicks - before.busyTicks) / ticks) * cores;
  const ownCores = (after.processMicros - before.processMicros) / 1000 / wall;
  const others = Math.max(0, busyCores - Math.max(0, ownCores));
  return Math.max(0, Math.min(cores, cores - others));
}

/** Reads `/proc/stat`'s first line; undefined where there is none. */
function readProcStat(buffer: Buffer): { busy: number; total: number } | undefined {
  let fd: number | undefined;
  try {
    fd = openSync('/proc/stat', 'r');
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    return parseProcStat(buffer.toString('latin1', 0, length));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Where a {@link LoadWatch} takes its readings (tests give their own). */
export interface LoadSources {
  /** How many cores the machine has (what /proc/stat's first line sums over). */
  readonly cores?: () => number;
  /** The machine's busy and total clock ticks so far, or undefined where they cannot be read. */
  readonly machine?: () => { busy: number; total: number } | undefined;
  /** CPU time this process has used so far, in µs. */
  readonly own?: () => number;
  /** A clock in ms. */
  readonly now?: () => number;
}

/** Watches the machine's load, one reading per {@link LoadWatch.sample} call. */
export class LoadWatch {
  readonly #sources: Required<LoadSources>;
  #cores: number | undefined;
  #thresholds: { busyBelow: number; quietAbove: number } | undefined;
  #last: LoadSample | undefined;
  #contended = false;
  #broken = false;

  constructor(sources: LoadSources = {}) {
    const buffer = Buffer.alloc(512);
    this.#sources = {
      cores: sources.cores ?? availableCores,
      machine: sources.machine ?? (() => readProcStat(buffer)),
      own: sources.own ?? processMicros,
      now: sources.now ?? (() => performance.now()),
    };
  }

  /** Whether the machine was contended at the last reading. */
  get contended(): boolean {
    return this.#contended;
  }

  /**
   * Takes a reading; returns whether the machine is contended now. With `sinceFirst`, the
   * reading is compared with the first one, not the last, and does not replace it: the
   * early beats come 20 ms apart, where a burst of a few milliseconds by some other process
   * would look like a busy core.
   */
  sample(sinceFirst = false): boolean {
    if (this.#broken) return this.#contended;
    let now: LoadSample;
    try {
      const stat = this.#sources.machine();
      if (stat === undefined) throw new Error('no reading');
      now = {
        busyTicks: stat.busy,
        totalTicks: stat.total,
        processMicros: this.#sources.own(),
        wallMs: this.#sources.now(),
      };
    } catch {
      // Nothing to go by here (not Linux, or a runtime without process.cpuUsage()): spin as
      // crochet always did.
      this.#broken = true;
      return (this.#contended = false);
    }
    const last = this.#last;
    if (!sinceFirst || last === undefined) this.#last = now;
    if (last === undefined) return this.#contended;
    // (Counted at the second reading: the first is taken at start-up, where every
    // millisecond counts.)
    this.#cores ??= this.#sources.cores();
    // On one core, the other side never runs while this one spins.
    if (this.#cores < 2) return (this.#contended = true);
    const left = coresLeft(last, now, this.#cores);
    if (left === undefined) return this.#contended;
    this.#thresholds ??= thresholds(this.#cores);
    if (left < this.#thresholds.busyBelow) this.#contended = true;
    else if (left > this.#thresholds.quietAbove) this.#contended = false;
    return this.#contended;
  }
}

function processMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** The cores the machine has (what /proc/stat's first line sums over). */
function availableCores(): number {
  try {
    return os.cpus().length || os.availableParallelism();
  } catch {
    return 1;
  }
}

/** How often the supervisor beats (and looks at the load) while calls are made, in ms. */
const BEAT_MS = 100;
/**
 * How often it beats while no call is made (ms): each beat wakes a thread, which costs a
 * few hundred microseconds of CPU time on its own. Callers blocked in a long call need a
 * beat only every second or so (see caller/connection.ts).
 */
const IDLE_BEAT_MS = 250;
/**
 * The first beats come this often (ms), {@link EARLY_BEATS} of them: a busy machine must be
 * seen while a short process (a CLI, a lint run) still makes its first calls, not 200 ms
 * later. (Later beats, further apart, correct a wrong early answer.)
 */
const EARLY_BEAT_MS = 20;
const EARLY_BEATS = 5;

/**
 * Calls `beat` at the supervisor's pace: every {@link EARLY_BEAT_MS} ms at first, then every
 * {@link BEAT_MS} while `beat` says calls were made since the last beat, every
 * {@link IDLE_BEAT_MS} while it says none were. Returns what stops it.
 */
export function pace(beat: () => boolean): () => void {
  let beats = 0;
  let timer: ReturnType<typeof setTimeout>;
  const next = (): void => {
    let active = true;
    try {
      active = beat();
    } finally {
      // Even if the beat failed: callers take a silent supervisor for a dead one.
      timer = setTimeout(next, ++beats < EARLY_BEATS ? EARLY_BEAT_MS : active ? BEAT_MS : IDLE_BEAT_MS);
    }
  };
  timer = setTimeout(next, EARLY_BEAT_MS);
  return () => {
    clearTimeout(timer);
  };
}

/**
 * A number that changes whenever a call is sent over any of `boxes`: the sum of their lane
 * request ids and of the messages posted to them (each only grows).
 */
export function callActivity(boxes: Iterable<Int32Array>): number {
  let sum = 0;
  for (const box of boxes) sum += Atomics.load(box, REQUEST_ID) + Atomics.load(box, CH_SENT);
  return sum;
}

/** What tells, at each call, whether a call was sent over any of `boxes()` since the last. */
export function callsSince(boxes: () => Iterable<Int32Array>): () => boolean {
  let last = callActivity(boxes());
  return () => {
    const now = callActivity(boxes());
    const changed = now !== last;
    last = now;
    return changed;
  };
}

/**
 * The supervisor's view of the load: takes the first reading now (the supervisor thread's
 * start, well before the reactor runs, so that the watch can answer as soon as it begins),
 * and returns what tells, at each beat, whether the machine is contended.
 * `CROCHET_CONTENDED=1` (or `0`) decides it instead, for tests of either way of waiting.
 */
export function contention(): () => boolean {
  const forced = process.env['CROCHET_CONTENDED'];
  if (forced === '1' || forced === '0') return () => forced === '1';
  const watch = new LoadWatch();
  watch.sample();
  // The watch's first answer and the early beats look at the whole time since this first
  // reading; later beats, each at the time since the last.
  let early = EARLY_BEATS + 1;
  return () => watch.sample(early-- > 0);
}
