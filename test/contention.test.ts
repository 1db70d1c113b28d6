/**
 * Waiting on a contended machine: when other processes leave this one less than two cores,
 * callers park at once and the reactor does not poll (see src/supervisor/load.ts). The supervisor's reading of the load is checked here with given
 * readings; the calls themselves are checked by running the call suites with the
 * contended way of waiting forced on (`CROCHET_CONTENDED=1`).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it, mock } from 'node:test';
import { callActivity, coresLeft, LoadWatch, pace, parseProcStat, thresholds } from '../src/supervisor/load.js';
import { BOX_BYTES, CH_SENT, REQUEST_ID } from '../src/wire/layout.js';
import { exitOf } from './helpers.js';

const onNode = !('Bun' in globalThis) && !('Deno' in globalThis);

describe("the supervisor's reading of the load", () => {
  it("reads busy and total clock ticks from /proc/stat's first line", () => {
    const text = 'cpu  100 5 50 800 20 3 2 1 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\nintr 12345\n';
    // busy: user + nice + system + irq + softirq + steal; idle: idle + iowait.
    assert.deepEqual(parseProcStat(text), { busy: 161, total: 981 });
  });

  it('reads nothing from text that is not /proc/stat', () => {
    assert.equal(parseProcStat(''), undefined);
    assert.equal(parseProcStat('cpu0 1 2 3 4\n'), undefined);
    assert.equal(parseProcStat('cpu  1 2\n'), undefined);
  });

  it('counts what other processes used, leaving out what this process used itself', () => {
    const before = { busyTicks: 0, totalTicks: 0, processMicros: 0, wallMs: 0 };
    // 2 cores for 100 ms: 200 ticks of 0.5 ms. Busy 150 (1.5 cores), this process 1 core.
    const after = { busyTicks: 150, totalTicks: 200, processMicros: 100_000, wallMs: 100 };
    assert.equal(coresLeft(before, after, 2), 1.5);
    // Nothing of it this process's own: 0.5 core left.
    assert.equal(coresLeft(before, { ...after, processMicros: 0 }, 2), 0.5);
  });

  it('tells nothing from two readings with no time between them', () => {
    const reading = { busyTicks: 10, totalTicks: 20, processMicros: 5, wallMs: 7 };
    assert.equal(coresLeft(reading, reading, 2), undefined);
  });

  const { busyBelow: BUSY_BELOW, quietAbove: QUIET_ABOVE } = thresholds(2);

  /**
   * A watch over a machine of `cores` cores (2 unless given) whose other processes use
   * `others[i]` cores in interval i, and this process `own[i]`; `sinceFirst[i]` is passed
   * to the reading that ends interval i.
   */
  function watchOver(
    others: readonly number[],
    sinceFirst: readonly boolean[] = [],
    { cores = 2, own = [] }: { cores?: number; own?: readonly number[] } = {},
  ): boolean[] {
    let i = -1;
    let busy = 0;
    let total = 0;
    let ownMicros = 0;
    const watch = new LoadWatch({
      cores: () => cores,
      machine: () => {
        if (i >= 0) {
          busy += ((others[i] ?? 0) + (own[i] ?? 0)) * 100;
          ownMicros += (own[i] ?? 0) * 100_000;
          total += cores * 100;
        }
        i++;
        return { busy, total };
      },
      own: () => ownMicros,
      now: () => i * 100,
    });
    return [watch.sample(), ...others.map((_, k) => watch.sample(sinceFirst[k] ?? false))];
  }

  it('judges the early readings over the whole time since the first, so that a short burst is not a busy core', () => {
    // A burst in the second interval alone: reading by reading it would look contended.
    const burst = 2 - BUSY_BELOW + 0.2;
    assert.deepEqual(watchOver([0, burst, 0], [true, true, true]), [false, false, false, false]);
    assert.deepEqual(watchOver([0, burst, 0]), [false, false, true, false]);
    // A busy process from the start is seen at once all the same.
    assert.deepEqual(watchOver([1, 1, 1], [true, true, true]), [false, true, true, true]);
  });

  it('finds the machine contended once other processes leave fewer cores than the threshold', () => {
    const otherBusy = 2 - BUSY_BELOW + 0.1;
    assert.deepEqual(watchOver([0, otherBusy, 1]), [false, false, true, true]);
  });

  it('sees every core but one busy against this process spinning on two threads, on 2, 4 and 8 cores', () => {
    for (const cores of [2, 4, 8]) {
      // The scheduler shares the cores among n - 1 busy processes and this process's two
      // spinning threads: this process gets 2n / (n + 1) cores, the others the rest.
      const mine = (2 * cores) / (cores + 1);
      const oversubscribed = watchOver([0, cores - mine], [], { cores, own: [2, mine] });
      assert.deepEqual(oversubscribed, [false, false, true], `${cores} cores, ${cores - 1} busy`);
      // n - 2 busy processes leave this one its two cores.
      const roomy = watchOver([0, cores - 2], [], { cores, own: [2, 2] });
      assert.deepEqual(roomy, [false, false, false], `${cores} cores, ${cores - 2} busy`);
      // Parked, this process takes little: n - 1 busy processes leave it one core, which
      // is still contended; n - 2 leave it two, and it spins again.
      assert.deepEqual(
        watchOver([cores - mine, cores - 1, cores - 2], [], { cores, own: [mine, 0.05, 0.05] }),
        [false, true, true, false],
        `${cores} cores, parked`,
      );
    }
  });

  it("takes neither a reading's tick nor light background load for a busy core, however many cores", () => {
    for (const cores of [2, 4, 16, 64]) {
      const { busyBelow, quietAbove } = thresholds(cores);
      // A reading over a 100 ms beat is good to about a tenth of a core.
      assert.ok(2 - quietAbove >= 0.1 && quietAbove - busyBelow >= 0.05, `${cores} cores`);
      // n - 2 busy processes and a coordinator taking a twentieth of a core: two cores are
      // to spare, so this process spins; and once contended, it comes back to spinning.
      const background = cores - 2 + 0.05;
      assert.deepEqual(watchOver([0, background], [], { cores, own: [2, 1.95] }), [false, false, false]);
      assert.deepEqual(
        watchOver([cores - 1, background], [], { cores, own: [0.05, 0.05] }),
        [false, true, false],
        `${cores} cores, back from contended`,
      );
    }
  });

  it('stays contended until clearly more cores are free again (no flicker)', () => {
    const between = 2 - (BUSY_BELOW + QUIET_ABOVE) / 2;
    assert.deepEqual(watchOver([1, between, 0.1]), [false, true, true, false]);
  });

  it('never finds the machine contended where its CPU time cannot be read', () => {
    const watch = new LoadWatch({ cores: () => 2, machine: () => undefined });
    assert.equal(watch.sample(), false);
    assert.equal(watch.sample(), false);
    const failing = new LoadWatch({
      cores: () => 2,
      machine: () => ({ busy: 0, total: 0 }),
      own: () => {
        throw new Error('process.cpuUsage() is not implemented');
      },
    });
    assert.equal(failing.sample(), false);
    assert.equal(failing.sample(), false);
  });

  it('finds a machine of one core always contended', () => {
    let ticks = 0;
    const watch = new LoadWatch({ cores: () => 1, machine: () => ({ busy: 0, total: (ticks += 100) }) });
    watch.sample();
    assert.equal(watch.sample(), true);
  });
});

describe("the supervisor's pace", () => {
  it(
    'looks every 20 ms while a process starts, then every 100 ms while calls are made and every 250 ms while none are, until stopped',
    { skip: !onNode && 'needs mock timers' },
    () => {
      mock.timers.enable({ apis: ['setTimeout'] });
      try {
        const at: number[] = [];
        let now = 0;
        let active = true;
        const stop = pace(() => {
          at.push(now);
          return active;
        });
        const advance = (ms: number): void => {
          for (let i = 0; i < ms; i++) {
            now++;
            mock.timers.tick(1);
          }
        };
        advance(100);
        assert.deepEqual(at, [20, 40, 60, 80, 100]);
        advance(300);
        assert.deepEqual(at.slice(5), [200, 300, 400]);
        active = false;
        advance(1000);
        assert.deepEqual(at.slice(8), [500, 750, 1000, 1250]);
        active = true;
        advance(400);
        assert.deepEqual(at.slice(12), [1500, 1600, 1700, 1800]);
        stop();
        advance(1000);
        assert.equal(at.length, 16);
      } finally {
        mock.timers.reset();
      }
    },
  );

  it('sees a call made over any box, by the lane or by a message', () => {
    const boxes = [new Int32Array(BOX_BYTES / 4), new Int32Array(BOX_BYTES / 4)];
    const before = callActivity(boxes);
    assert.equal(callActivity(boxes), before);
    Atomics.store(boxes[1]!, REQUEST_ID, 1);
    const afterLane = callActivity(boxes);
    assert.notEqual(afterLane, before);
    Atomics.add(boxes[0]!, CH_SENT, 1);
    assert.notEqual(callActivity(boxes), afterLane);
  });
});

describe('calls on a contended machine', () => {
  it(
    "keep every promise of the call suites (crochet/synckit's too) when callers park at once and the reactor does not poll",
    { skip: !onNode && 'runs the suites with node --test' },
    async () => {
      const suites = [
        'lane',
        'wait-for',
        'concurrency',
        'eventual-result',
        'threads',
        'api',
        'failures',
        'values-faults',
        'soak',
        'synckit',
      ].map((name) => fileURLToPath(new URL(`./${name}.test.js`, import.meta.url)));
      // (Without the variable through which a test runner talks to the one that started it.)
      const env = { ...process.env };
      delete env['NODE_TEST_CONTEXT'];
      const child = spawn(process.execPath, ['--test', '--test-reporter=tap', '--test-concurrency=2', ...suites], {
        env: { ...env, CROCHET_CONTENDED: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exit = await exitOf(child, 240_000);
      const failed = exit.stdout.split('\n').filter((line) => /^\s*not ok /.test(line));
      assert.deepEqual(failed, [], exit.stdout.slice(-4000));
      assert.equal(exit.code, 0, exit.stderr.slice(-2000));
      assert.match(exit.stdout, /^# pass [1-9]\d+$/m);
    },
  );
});
