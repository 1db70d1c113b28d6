/**
 * Property tests (fast-check): values and errors of any shape cross the thread boundary
 * as promised. Failing cases are shrunk and printed with their seed, so a failure can be
 * replayed exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { echo, four, raiseError, startEcho, UnregisteredError, type ErrorSpec } from './fixtures/calls.js';
import { thrown } from './helpers.js';

const RUNS = process.env['CI'] === undefined ? 150 : 400;

/**
 * Strings of any UTF-16 code units, lone surrogates included. The lane carries up to
 * 2048 units each way: some of these straddle that limit.
 */
const text = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', maxLength: 70 }), weight: 6 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1900, maxLength: 2200 }), weight: 1 },
);

const primitive = fc.oneof(
  fc.integer(),
  fc.double(), // NaN, -0 and the infinities included
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  text,
  fc.bigInt(),
);

/** Values structuredClone can copy: primitives, and containers of them. */
const { value: cloneable } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    primitive,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(text, tie('value'), { maxKeys: 4, noNullPrototype: true }),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => new Set(items)),
    fc.array(fc.tuple(primitive, tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
    // (An invalid Date crosses too, but deepStrictEqual never finds two of them equal.)
    fc.date({ noInvalidDate: true }),
    fc.uint8Array({ maxLength: 16 }),
    fc.float64Array({ maxLength: 4 }),
    fc.constantFrom(/a+b/giu, /x/y),
  ),
}));

describe('property: values of any shape cross unchanged', () => {
  it('returns every structured-cloneable value from a waitFor call equal to what it was sent', () => {
    fc.assert(
      fc.property(cloneable, (value) => {
        assert.deepStrictEqual(echo(value), value);
      }),
      { numRuns: RUNS },
    );
  });

  it('returns plain data exactly as a structured clone of it, by the lane as JSON or by the port', () => {
    const data = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 40 }),
      fc.dictionary(text, fc.oneof(fc.jsonValue({ maxDepth: 2 }), primitive), { maxKeys: 8 }),
    );
    fc.assert(
      fc.property(data, (value) => {
        assert.deepStrictEqual(echo(value), structuredClone(value));
      }),
      { numRuns: RUNS },
    );
  });

  it('returns every structured-cloneable value from a runInReactor result equal to what it was sent', () => {
    fc.assert(
      fc.property(cloneable, (value) => {
        assert.deepStrictEqual(startEcho(value).wait(10_000), value);
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps the order and identity of mixed calls, whichever path each takes', () => {
    // Small primitives go through shared memory, the rest by message: interleaved, every
    // call still gets its own value back.
    fc.assert(
      fc.property(fc.array(fc.oneof(primitive, cloneable), { minLength: 1, maxLength: 20 }), (values) => {
        for (const value of values) assert.deepStrictEqual(echo(value), value);
        const [a, b, c, d] = values;
        assert.deepStrictEqual(four(a, b, c, d), [a, b, c, d]);
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });
});

// ---- errors --------------------------------------------------------------------------

const builtIns = [
  'Error',
  'TypeError',
  'RangeError',
  'SyntaxError',
  'ReferenceError',
  'EvalError',
  'URIError',
] as const;
const prototypes: Readonly<Record<string, object>> = {
  Error: Error.prototype,
  TypeError: TypeError.prototype,
  RangeError: RangeError.prototype,
  SyntaxError: SyntaxError.prototype,
  ReferenceError: ReferenceError.prototype,
  EvalError: EvalError.prototype,
  URIError: URIError.prototype,
  AggregateError: AggregateError.prototype,
  // Not registered in this thread: comes back as its built-in base, with its name.
  UnregisteredError: Error.prototype,
};

/** Field names an application might set on an error (not the ones errors have by nature). */
const fieldName = fc
  .string({ minLength: 1, maxLength: 8 })
  .filter((key) => !['name', 'message', 'stack', 'cause', 'errors', '__proto__', 'extra'].includes(key));

const fieldValue = fc.oneof(
  primitive,
  fc.array(primitive, { maxLength: 3 }),
  fc.dictionary(text, primitive, { maxKeys: 2, noNullPrototype: true }),
);

const { spec: errorSpec } = fc.letrec<{ spec: ErrorSpec; cause: ErrorSpec | { value: unknown } }>((tie) => ({
  spec: fc
    .record(
      {
        ctor: fc.constantFrom(...builtIns, 'AggregateError', 'UnregisteredError'),
        message: text,
        name: text,
        fields: fc.dictionary(fieldName, fieldValue, { maxKeys: 3, noNullPrototype: true }),
        cause: tie('cause'),
        errors: fc.array(tie('cause'), { maxLength: 3 }),
      },
      { requiredKeys: ['ctor', 'message'] },
    )
    .map((spec) => {
      // Only an AggregateError has errors.
      if (spec.ctor === 'AggregateError') return spec;
      const rest = { ...spec };
      delete rest.errors;
      return rest;
    }),
  cause: fc.oneof({ depthSize: 'small' }, fc.record({ value: fieldValue }), tie('spec')),
}));

/** Asserts that `actual` is what the reactor built from `spec`, as DESIGN.md promises. */
function assertFaithful(actual: unknown, spec: ErrorSpec | { value: unknown }, path: string): void {
  if ('value' in spec) {
    assert.deepStrictEqual(actual, spec.value, `${path}: a non-error value`);
    return;
  }
  assert.ok(actual instanceof Error, `${path}: an error`);
  assert.equal(Object.getPrototypeOf(actual), prototypes[spec.ctor], `${path}: the class of ${spec.ctor}`);
  const defaultName = spec.ctor === 'UnregisteredError' ? UnregisteredError.name : spec.ctor;
  assert.equal(actual.name, spec.name ?? defaultName, `${path}: the name`);
  assert.equal(actual.message, spec.message, `${path}: the message`);
  for (const [key, expected] of Object.entries(spec.fields ?? {})) {
    assert.deepStrictEqual((actual as unknown as Record<string, unknown>)[key], expected, `${path}: field ${key}`);
  }
  assert.equal(typeof actual.stack, 'string', `${path}: a stack`);
  if (spec.cause !== undefined) assertFaithful(actual.cause, spec.cause, `${path}.cause`);
  else assert.equal('cause' in actual, false, `${path}: no cause`);
  if (spec.ctor === 'AggregateError') {
    const errors = (actual as AggregateError).errors;
    assert.equal(errors.length, spec.errors?.length ?? 0, `${path}: the number of errors`);
    (spec.errors ?? []).forEach((inner, i) => {
      assertFaithful(errors[i], inner, `${path}.errors[${i}]`);
    });
  }
}

describe('property: errors of any shape cross faithfully', () => {
  it('brings back class, name, message, fields, cause chains and AggregateError.errors of any thrown error', () => {
    fc.assert(
      fc.property(errorSpec, fc.boolean(), (spec, async) => {
        assertFaithful(
          thrown(() => raiseError(spec, async)),
          spec,
          'error',
        );
      }),
      { numRuns: RUNS },
    );
  });
});
