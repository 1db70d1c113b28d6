import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelledError, CrochetError, registerError, TimeoutError, transfer } from 'crochet';
import {
  echo,
  inspectBuffer,
  makeBuffer,
  QuotaError,
  raise,
  raiseError,
  returnFunction,
  startEcho,
  startReturnFunction,
  throwFunction,
  throwQuota,
  throwWithUncloneableField,
  type UnregisteredError,
} from './fixtures/calls.js';
import { thrown } from './helpers.js';

describe('failures cross threads faithfully', () => {
  it('keeps built-in classes, name, message and the reactor-side stack', () => {
    for (const Ctor of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]) {
      const error = thrown(() => raiseError({ ctor: Ctor.name, message: `a ${Ctor.name}` }, true));
      assert.ok(error instanceof Ctor, Ctor.name);
      assert.equal(Object.getPrototypeOf(error), Ctor.prototype);
      assert.equal(error.name, Ctor.name);
      assert.equal(error.message, `a ${Ctor.name}`);
      assert.match(error.stack ?? '', /fixtures[/\\]calls/);
    }
  });

  it('keeps code, own fields and a changed name', () => {
    const fields = { code: 'E_FIELDS', count: 3, nested: { deep: [1] } };
    const error = thrown(() =>
      raiseError({ ctor: 'Error', message: 'with fields', name: 'CustomName', fields }, false),
    ) as Error & typeof fields;
    assert.equal(error.code, 'E_FIELDS');
    assert.equal(error.count, 3);
    assert.deepEqual(error.nested, { deep: [1] });
    assert.equal(error.name, 'CustomName');
    assert.deepEqual(Object.keys(error).sort(), ['code', 'count', 'name', 'nested']);
    assert.equal(Object.getOwnPropertyDescriptor(error, 'message')?.enumerable, false);
  });

  it('keeps cause chains, recursively', () => {
    const root = { ctor: 'TypeError', message: 'root', fields: { code: 'E_ROOT' } };
    const middle = { ctor: 'RangeError', message: 'middle', cause: root };
    const error = thrown(() => raiseError({ ctor: 'Error', message: 'top', cause: middle }, true)) as Error;
    assert.ok(error.cause instanceof RangeError);
    assert.equal(error.cause.message, 'middle');
    assert.ok(error.cause.cause instanceof TypeError);
    assert.equal((error.cause.cause as Error & { code: string }).code, 'E_ROOT');
    const plainCause = thrown(() =>
      raiseError({ ctor: 'Error', message: 'top', cause: { value: { reason: 'plain' } } }, true),
    ) as Error;
    assert.deepEqual(plainCause.cause, { reason: 'plain' });
  });

  it('keeps AggregateError.errors', () => {
    const error = thrown(() =>
      raiseError(
        { ctor: 'AggregateError', message: 'many', errors: [{ ctor: 'TypeError', message: 'one' }, { value: 'two' }] },
        true,
      ),
    );
    assert.ok(error instanceof AggregateError);
    assert.equal(error.message, 'many');
    assert.ok(error.errors[0] instanceof TypeError);
    assert.equal(error.errors[1], 'two');
  });

  it('brings back registered classes as themselves, with their methods', () => {
    const error = thrown(() => throwQuota(10));
    assert.ok(error instanceof QuotaError);
    assert.equal(error.limit, 10);
    assert.equal(error.describe(), 'quota 10');
    assert.equal(error.name, 'QuotaError');
    assert.equal(error.message, 'over the quota of 10');
  });

  it('brings back an unregistered class as its built-in base with its name and fields', () => {
    const error = thrown(() => raiseError({ ctor: 'UnregisteredError', message: 'unknown here' }, false));
    assert.equal(Object.getPrototypeOf(error), Error.prototype);
    assert.equal((error as Error).name, 'UnregisteredError');
    assert.equal((error as UnregisteredError).extra, 'field');
  });

  it("brings back crochet's own errors as themselves", () => {
    const expected = [
      [TimeoutError, 'ERR_CROCHET_TIMEOUT'],
      [CancelledError, 'ERR_CROCHET_CANCELLED'],
      [CrochetError, 'ERR_CROCHET_NOT_SET_UP'],
    ] as const;
    for (const [Ctor, code] of expected) {
      const back = thrown(() => raiseError({ ctor: Ctor.name, message: 'own' }, true));
      assert.equal(Object.getPrototypeOf(back), Ctor.prototype);
      assert.ok(back instanceof Ctor);
      assert.equal(back.code, code);
    }
  });

  it(
    'keeps the stack a thrown error had in the reactor',
    {
      skip: 'Deno' in globalThis && 'Deno maps stack traces to the TypeScript sources, so the frame names the .ts file',
    },
    () => {
      const error = thrown(() => raiseError({ ctor: 'Error', message: 'where' }, false)) as Error;
      assert.match(error.stack ?? '', /^Error: where\n\s+at build \(.*fixtures[/\\]calls\.js/);
    },
  );

  it('throws thrown non-errors as they were thrown', () => {
    assert.equal(
      thrown(() => raise('a string', false)),
      'a string',
    );
    assert.equal(
      thrown(() => raise(42, true)),
      42,
    );
    assert.equal(
      thrown(() => raise(undefined, false)),
      undefined,
    );
    assert.deepEqual(
      thrown(() => raise({ plain: 'object' }, true)),
      { plain: 'object' },
    );
  });

  it('sends an error field that cannot be cloned as text instead of failing', () => {
    const error = thrown(() => throwWithUncloneableField()) as Error & { callback: unknown };
    assert.equal(error.message, 'has a function field');
    assert.equal(typeof error.callback, 'string');
  });

  it('fails with ERR_CROCHET_DATA_CLONE for a thrown value that cannot be cloned', () => {
    const error = thrown(() => throwFunction());
    assert.ok(error instanceof CrochetError);
    assert.equal(error.code, 'ERR_CROCHET_DATA_CLONE');
  });

  it('fails with ERR_CROCHET_DATA_CLONE, cause attached, for an argument that cannot cross', () => {
    const error = thrown(() => echo(() => 1));
    assert.ok(error instanceof CrochetError);
    assert.equal(error.code, 'ERR_CROCHET_DATA_CLONE');
    assert.match(error.message, /Argument 1 /);
    assert.ok(error.cause instanceof Error);
    assert.equal(error.cause.name, 'DataCloneError');
    assert.equal(echo('still working'), 'still working');
  });

  it('gives runInReactor a failed result, not a throw, for an argument that cannot cross', () => {
    const result = startEcho(Symbol('no'));
    const error = thrown(() => result.wait(0));
    assert.ok(error instanceof CrochetError);
    assert.equal(error.code, 'ERR_CROCHET_DATA_CLONE');
  });

  it('fails with ERR_CROCHET_DATA_CLONE for a result that cannot cross, and keeps serving', () => {
    const error = thrown(() => returnFunction());
    assert.ok(error instanceof CrochetError);
    assert.equal(error.code, 'ERR_CROCHET_DATA_CLONE');
    assert.ok(error.cause instanceof Error);
    assert.equal(thrown(() => startReturnFunction().wait(10_000)) instanceof CrochetError, true);
    assert.equal(echo('still working'), 'still working');
  });

  it('moves an ArrayBuffer argument with transfer(), detaching it here', () => {
    const buffer = new ArrayBuffer(1 << 20);
    new Uint8Array(buffer).fill(9);
    assert.deepEqual(inspectBuffer(transfer(buffer, [buffer])), { size: 1 << 20, first: 9 });
    assert.equal(buffer.byteLength, 0, 'the sender no longer has it');
    const copied = new ArrayBuffer(8);
    inspectBuffer(copied);
    assert.equal(copied.byteLength, 8, 'without transfer() it is copied');
  });

  it('moves an ArrayBuffer result with transfer()', () => {
    const buffer = makeBuffer(1 << 20, 7);
    assert.equal(buffer.byteLength, 1 << 20);
    assert.equal(new Uint8Array(buffer)[100], 7);
  });

  it('validates registerError() and transfer() arguments', () => {
    assert.throws(
      () =>
        registerError(
          class NotAnError {
            readonly field = 1;
          } as never,
        ),
      {
        name: 'TypeError',
        message: /subclass of Error/,
      },
    );
    class QuotaError extends Error {}
    assert.throws(() => registerError(QuotaError), { name: 'TypeError', message: /already registered/ });
    assert.throws(() => transfer(1, []), { name: 'TypeError', message: /`value` of transfer\(\)/ });
    assert.throws(() => transfer({}, 'x' as never), { name: 'TypeError', message: /`list`/ });
  });
});
