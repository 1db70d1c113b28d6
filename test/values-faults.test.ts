/**
 * Values and errors crossing threads that are hard to carry: outcomes crochet cannot
 * encode as they are, values nested deeper than the receiving thread decodes, errors
 * that share parts, argument getters, and transfer() lists. Each runs in a child process
 * (fixtures/proc-values.ts), from every kind of calling thread: the main thread that
 * started the reactor (a port), a worker (a ring), a worker after noSetup() (the main
 * thread is the reactor), and a worker that started the reactor itself (a port).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { lastJson, runFixture } from './helpers.js';

const MODES = ['main', 'worker', 'nosetup', 'starter'] as const;
type Mode = (typeof MODES)[number];

interface Seen {
  readonly ok: boolean;
  readonly ms: number;
  readonly value?: string;
  readonly code?: string;
  readonly name?: string;
  readonly message?: string;
  readonly causeName?: string;
  readonly causeMessage?: string;
}

interface Report {
  readonly getters: { firstStart: Seen; startRuns: number; firstWait: Seen; waitRuns: number };
  readonly faults: Record<string, { now: Seen; later: Seen; start: Seen; fields: Record<string, string> }>;
  readonly laterCalls: number;
  readonly deep: Record<
    'result' | 'resultStarted' | 'resultFree' | 'argument' | 'argumentStarted' | 'cause' | 'after',
    Seen
  >;
  readonly shapes: Record<string, unknown>;
  readonly transfer: Record<string, Seen> & { bufferLeft: number; heard?: string };
  readonly function: Seen;
  readonly patient: Seen;
}

/** Calls fail this long after they start, at most (their timeout is 10 s). */
const PROMPT_MS = 5000;

const reports = new Map<Mode, Report>();

function report(mode: Mode): Report {
  const found = reports.get(mode);
  assert.ok(found !== undefined, `no report from mode ${mode}`);
  return found;
}

function assertNested(seen: Seen, what: string): void {
  // Bun copies values nested to any depth: there they arrive (promptly).
  if ('Bun' in globalThis && seen.ok) {
    assert.ok(seen.ms < PROMPT_MS, `${what} took ${seen.ms} ms`);
    return;
  }
  assert.equal(seen.ok, false, `${what}: ${JSON.stringify(seen)}`);
  assert.equal(seen.code, 'ERR_CROCHET_DATA_CLONE', `${what}: ${JSON.stringify(seen)}`);
  assert.match(
    String(seen.message),
    /nested too deeply to be copied|cannot be copied between threads: the value is nested too deeply/,
    what,
  );
  assert.equal(seen.causeName, 'RangeError', what);
  assert.ok(seen.ms < PROMPT_MS, `${what} took ${seen.ms} ms`);
}

describe('values and errors crossing threads', () => {
  before(async () => {
    await Promise.all(
      MODES.map(async (mode) => {
        const exit = await runFixture('proc-values.js', { args: [mode], killAfter: 60_000 });
        assert.equal(exit.code, 0, `mode ${mode} ended with ${exit.code} ${exit.signal}:\n${exit.stderr}`);
        reports.set(mode, lastJson(exit) as Report);
      }),
    );
  });

  for (const mode of MODES) {
    describe(`calling from ${mode === 'main' ? 'the main thread' : mode === 'worker' ? 'a worker' : mode === 'nosetup' ? 'a worker after noSetup()' : 'a worker that started the reactor'}`, () => {
      it('fails a call whose error has a throwing cause or errors getter promptly, with the error and the getter’s failure as text', () => {
        const { faults } = report(mode);
        for (const [kind, field] of [
          ['cause getter', 'cause'],
          ['errors getter', 'errors'],
        ] as const) {
          const fault = faults[kind];
          assert.ok(fault !== undefined);
          for (const seen of [fault.now, fault.later, fault.start]) {
            assert.equal(seen.ok, false);
            assert.match(
              String(seen.message),
              kind === 'cause getter' ? /with a cause getter/ : /with an errors getter/,
            );
            assert.ok(seen.ms < PROMPT_MS, `${kind} took ${seen.ms} ms`);
          }
          assert.match(String(fault.fields[field]), new RegExp(`getter threw: Error: ${field} getter throws`));
        }
      });

      it('fails a call that throws a Proxy with ERR_CROCHET_DATA_CLONE, and sends a Proxy field of an error as text', () => {
        const { faults } = report(mode);
        for (const seen of Object.values(faults['proxy error'] ?? {}).slice(0, 3) as Seen[]) {
          assert.equal(seen.code, 'ERR_CROCHET_DATA_CLONE');
          assert.match(
            String(seen.message),
            /The error thrown cannot be sent between threads: A Proxy could not be cloned\. Only/,
          );
          assert.ok(seen.ms < PROMPT_MS);
        }
        const field = faults['proxy field'];
        assert.ok(field !== undefined);
        assert.equal(field.now.message, 'with a proxy field');
        // The field crosses as its util.inspect text, which names the Proxy on Node 26
        // (`Proxy({ secret: 1 })`) and not before.
        assert.equal(field.fields['detail'], inspect(new Proxy({ secret: 1 }, {})));
      });

      it('fails a call that returns a thenable whose then throws, or a Proxy whose trap throws, with that error', () => {
        const { faults } = report(mode);
        for (const [kind, message] of [
          ['throwing then', 'then throws'],
          ['then getter', 'then getter throws'],
          ['proxy result', 'trap throws'],
        ] as const) {
          for (const seen of Object.values(faults[kind] ?? {}).slice(0, 3) as Seen[]) {
            assert.equal(seen.ok, false, kind);
            assert.equal(seen.message, message, kind);
            assert.ok(seen.ms < PROMPT_MS, `${kind} took ${seen.ms} ms`);
          }
        }
      });

      it('keeps serving after outcomes it cannot encode: later calls, lane calls and a timeout: Infinity call answer', () => {
        const { laterCalls, patient, deep } = report(mode);
        assert.equal(laterCalls, 7);
        assert.equal(deep.after.value, '42');
        assert.deepEqual([patient.ok, patient.value], [true, '2']);
      });

      it('fails a result nested too deeply to be copied at once, by waitFor and runInReactor, blocked or not', () => {
        const { deep } = report(mode);
        assertNested(deep.result, 'waitFor');
        assertNested(deep.resultStarted, 'runInReactor, wait()');
        assertNested(deep.resultFree, 'runInReactor, loop free');
      });

      it('fails an argument nested too deeply to be copied at once, by waitFor and runInReactor', () => {
        const { deep } = report(mode);
        assertNested(deep.argument, 'waitFor');
        assertNested(deep.argumentStarted, 'runInReactor');
      });

      it('fails a call whose error has a cause chain too deep to be copied at once, with ERR_CROCHET_DATA_CLONE', () => {
        const seen = report(mode).deep.cause;
        // Bun copies errors nested to any depth: there the error itself arrives, whole.
        if ('Bun' in globalThis && seen.code === undefined) {
          assert.match(String(seen.message), /^cause \d+$/);
          assert.equal(seen.causeName, 'Error');
          assert.ok(seen.ms < PROMPT_MS, `took ${seen.ms} ms`);
          return;
        }
        assertNested(seen, 'deep cause chain');
      });

      it('rebuilds errors as native errors of their class, keeping shared errors and cycles', () => {
        assert.deepEqual(report(mode).shapes, {
          aggregateSame: true,
          aggregateInner: true,
          selfCause: true,
          fieldsSame: true,
          startedFieldsSame: true,
          native: [true, true, true, true, true, true],
          cloneKeepsClass: true,
          realmTypeError: true,
          registered: true,
          stack: true,
        });
      });

      it('runs argument getters once on the first calls, and the reactor gets that value', () => {
        const { getters } = report(mode);
        assert.deepEqual(
          [getters.firstStart.value, getters.startRuns, getters.firstWait.value, getters.waitRuns],
          ['{ n: 1 }', 1, '{ n: 1 }', 1],
        );
      });

      it('rejects a transfer() list with an object twice or a non-transferable with ERR_CROCHET_DATA_CLONE, the same everywhere', () => {
        const { transfer } = report(mode);
        for (const seen of [transfer['duplicate'], transfer['duplicateStarted'], transfer['result']] as Seen[]) {
          assert.equal(seen.code, 'ERR_CROCHET_DATA_CLONE');
          assert.match(String(seen.message), /The transfer\(\) list holds the same object twice \(items 0 and 1/);
        }
        const number = transfer['number'] as Seen;
        assert.equal(number.code, 'ERR_CROCHET_DATA_CLONE');
        assert.match(String(number.message), /holds `1` \(number\) \(item 0\), which cannot be transferred/);
        assert.equal(transfer.bufferLeft, 8, 'nothing was sent, nothing detached');
        assert.deepEqual([transfer['moved']?.ok, transfer['moved']?.value], [true, '{ seen: 13, left: 0 }']);
      });

      it(
        mode === 'main' || mode === 'starter'
          ? 'moves a MessagePort listed in transfer() to the reactor'
          : 'fails a MessagePort listed in transfer() clearly: only the thread that started the reactor can move one',
        () => {
          const { transfer } = report(mode);
          const port = transfer['port'] as Seen;
          if (mode === 'main' || mode === 'starter') {
            assert.deepEqual([port.ok, port.value, transfer.heard], [true, 'true', 'hello']);
          } else {
            assert.equal(port.code, 'ERR_CROCHET_DATA_CLONE');
            assert.match(
              String(port.message),
              /MessagePort \(item 0\), which can move only between the reactor and the thread that started it/,
            );
          }
        },
      );

      it('says a value cannot be cloned without a double period', () => {
        const message = String(report(mode).function.message);
        // (Node says "could not be cloned.", Bun "can not be cloned.".)
        assert.match(message, /cloned\. Only values/);
        assert.doesNotMatch(message, /\.\./);
      });
    });
  }
});
