/**
 * Type tests: the inference users rely on. Most are checked when the tests compile; the
 * runtime tests compile small programs with the TypeScript compiler to see what an editor
 * shows and what the compiler says about values that cannot cross threads.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import ts from 'typescript';
import { expectTypeOf } from 'expect-type';
import {
  CancelledError,
  CrochetError,
  EventualResult,
  ReactorStoppedError,
  retrieveResult,
  runInReactor,
  TimeoutError,
  transfer,
  waitFor,
  type BlockingFunction,
  type CrochetErrorCode,
  type Logger,
  type ReactorFunction,
  type SetupOptions,
  type Unchecked,
  onShutdown,
  setup,
  shutdown,
} from 'crochet';

class Thing {
  readonly size = 1;
}

/** A class with a method: its instances would arrive as plain objects, without it. */
class Counter {
  count = 0;
  increment(): number {
    return ++this.count;
  }
}

function identity<T>(value: T): T {
  return value;
}

function parse(text: string): number;
function parse(text: string, radix: number): string;
function parse(text: string, radix?: number): number | string {
  return radix === undefined ? Number(text) : String(parseInt(text, radix));
}

// These wrappers are only type-checked, never called.
const blockingAsync = waitFor({ timeout: 1 })(async (_x: number, _y: string) => new Thing());
const blockingSync = waitFor({ timeout: 1 })((flag: boolean) => flag);
const blockingRest = waitFor({ timeout: 1 })((first: string, ...rest: number[]) => rest.length + first.length);
const startingAsync = runInReactor(async (_x: number, _y: string) => new Thing());
const startingNested = runInReactor(() => Promise.resolve(Promise.resolve(3)));
const startingVoid = runInReactor(() => undefined);
// TypeScript cannot carry a type parameter through a wrapper (see docs/api.md): it becomes
// unknown. An instantiation expression wraps one instantiation, fully checked.
const blockingGeneric = waitFor({ timeout: 1 })(<T>(value: T) => value);
const blockingIdentity = waitFor({ timeout: 1 })(identity<string>);
// Of overloads, inference keeps the last; an annotation picks another, checked.
const blockingOverloaded = waitFor({ timeout: 1 })(parse);
const parseNumber: (text: string) => number = parse;
const blockingFirstOverload = waitFor({ timeout: 1 })(parseNumber);
// What crosses as its class (errors), or as the same plain data (a class without methods).
const blockingError = waitFor({ timeout: 1 })(async () => new RangeError('x'));
const blockingData = waitFor({ timeout: 1 })(async (bytes: Uint8Array, when: Date) => ({
  bytes,
  when,
  map: new Map([[1, new Set(['a'])]]),
  thing: new Thing(),
}));
// Values the check cannot judge pass: unknown, and what is marked Unchecked.
const blockingUnknown = waitFor({ timeout: 1 })((value: unknown) => value);
const blockingPort = waitFor({ timeout: 1 })((port: Unchecked<MessagePort>) => port.close());
const startingUnchecked = runInReactor(async (): Promise<Unchecked<Counter>> => new Counter());
// A recursive type is checked to some depth, and compiles.
interface Tree {
  readonly name: string;
  readonly children: readonly Tree[];
}
const blockingTree = waitFor({ timeout: 1 })((tree: Tree) => tree.children.length);

function typeChecks(): void {
  // waitFor keeps the parameters and unwraps the promise.
  expectTypeOf(blockingAsync).parameters.toEqualTypeOf<[number, string]>();
  expectTypeOf(blockingAsync).returns.toEqualTypeOf<Thing>();
  expectTypeOf(blockingAsync).toExtend<(x: number, y: string) => Thing>();
  expectTypeOf(blockingAsync).toEqualTypeOf<BlockingFunction<[_x: number, _y: string], Promise<Thing>>>();
  expectTypeOf(blockingAsync.wrapped).toEqualTypeOf<(_x: number, _y: string) => Promise<Thing>>();
  expectTypeOf(blockingSync).returns.toEqualTypeOf<boolean>();
  expectTypeOf(blockingRest).parameters.toEqualTypeOf<[string, ...number[]]>();
  expectTypeOf(blockingRest).returns.toEqualTypeOf<number>();
  expectTypeOf(blockingAsync).returns.not.toBeAny();

  // runInReactor returns an EventualResult of the awaited value.
  expectTypeOf(startingAsync).parameters.toEqualTypeOf<[number, string]>();
  expectTypeOf(startingAsync).returns.toEqualTypeOf<EventualResult<Thing>>();
  expectTypeOf(startingAsync).toEqualTypeOf<ReactorFunction<[_x: number, _y: string], Promise<Thing>>>();
  expectTypeOf(startingNested).returns.toEqualTypeOf<EventualResult<number>>();
  expectTypeOf(startingVoid).returns.toEqualTypeOf<EventualResult<undefined>>();
  expectTypeOf(startingAsync.wrapped).returns.toEqualTypeOf<Promise<Thing>>();

  // Generics become unknown; instantiations and annotations keep what they say.
  expectTypeOf(blockingGeneric).parameters.toEqualTypeOf<[unknown]>();
  expectTypeOf(blockingGeneric).returns.toEqualTypeOf<unknown>();
  expectTypeOf(blockingIdentity).toEqualTypeOf<BlockingFunction<[value: string], string>>();
  expectTypeOf(blockingOverloaded).parameters.toEqualTypeOf<[string, number]>();
  expectTypeOf(blockingOverloaded).returns.toEqualTypeOf<string>();
  expectTypeOf(blockingFirstOverload).parameters.toEqualTypeOf<[string]>();
  expectTypeOf(blockingFirstOverload).returns.toEqualTypeOf<number>();

  // Values that cross threads.
  expectTypeOf(blockingError).returns.toEqualTypeOf<RangeError>();
  expectTypeOf(blockingData).returns.toHaveProperty('map').toEqualTypeOf<Map<number, Set<string>>>();
  expectTypeOf(blockingData).returns.toHaveProperty('thing').toEqualTypeOf<Thing>();
  expectTypeOf(blockingUnknown).returns.toEqualTypeOf<unknown>();
  expectTypeOf(blockingPort).toBeCallableWith(new MessageChannel().port1);
  expectTypeOf(startingUnchecked).returns.toEqualTypeOf<EventualResult<Unchecked<Counter>>>();
  expectTypeOf(blockingTree).returns.toEqualTypeOf<number>();

  // EventualResult methods.
  const result = startingAsync(1, 'a');
  expectTypeOf(result.wait).toEqualTypeOf<(timeout: number) => Thing>();
  expectTypeOf(result.cancel).toEqualTypeOf<() => void>();
  expectTypeOf(result.stash).toEqualTypeOf<() => string>();
  expectTypeOf(result.originalFailure).toEqualTypeOf<() => unknown>();
  // Covariant enough to be used as a result of a wider type.
  expectTypeOf(result).toExtend<EventualResult<object>>();
  expectTypeOf(result).not.toExtend<EventualResult<number>>();

  // retrieveResult is unknown unless told.
  expectTypeOf(retrieveResult('id')).toEqualTypeOf<EventualResult<unknown>>();
  expectTypeOf(retrieveResult<Thing>('id')).toEqualTypeOf<EventualResult<Thing>>();

  // transfer() returns its value's type.
  const bytes = new Uint8Array(1);
  expectTypeOf(transfer(bytes, [bytes.buffer])).toEqualTypeOf<typeof bytes>();

  // Errors carry literal codes.
  expectTypeOf(new TimeoutError().code).toEqualTypeOf<CrochetErrorCode>();
  expectTypeOf<TimeoutError>().toExtend<CrochetError>();
  expectTypeOf<ReactorStoppedError>().toExtend<Error>();
  expectTypeOf<CancelledError>().toExtend<CrochetError>();
  expectTypeOf<'ERR_CROCHET_TIMEOUT'>().toExtend<CrochetErrorCode>();
  expectTypeOf<'ERR_SOMETHING_ELSE'>().not.toExtend<CrochetErrorCode>();

  // Options of the life cycle.
  expectTypeOf(setup).parameter(0).toEqualTypeOf<SetupOptions | undefined>();
  expectTypeOf(console).toExtend<Logger>();
  expectTypeOf({ logger: console, spin: 0.05, hot: 0.1 }).toExtend<SetupOptions>();
  expectTypeOf(shutdown).toBeCallableWith({ timeout: 100 });
  expectTypeOf(shutdown).toBeCallableWith();
  expectTypeOf(onShutdown).toBeCallableWith(async () => undefined);
  expectTypeOf(onShutdown).toBeCallableWith(() => undefined);

  // Misuse that must not compile.
  // @ts-expect-error: a logger needs debug, info, warn and error
  setup({ logger: { info: () => undefined } });
  // @ts-expect-error: spin is a number of milliseconds
  setup({ spin: 'fast' });
  // @ts-expect-error: shutdown takes options, not a number
  shutdown(100);
  // @ts-expect-error: wrong argument type
  blockingAsync('1', 'a');
  // @ts-expect-error: missing argument
  blockingAsync(1);
  // @ts-expect-error: too many arguments
  blockingSync(true, false);
  // @ts-expect-error: the result is a Thing, not a promise
  expectTypeOf(blockingAsync(1, 'a').then);
  // @ts-expect-error: the timeout is required
  waitFor({});
  // @ts-expect-error: the timeout is a number
  waitFor({ timeout: '5' });
  // @ts-expect-error: waitFor takes options, not a number
  waitFor(5);
  // @ts-expect-error: wait() needs a timeout
  result.wait();
  // @ts-expect-error: a wrapped function's result is not an EventualResult
  expectTypeOf(blockingSync(true).wait);
  // @ts-expect-error: EventualResult cannot be constructed
  new EventualResult();
  // @ts-expect-error: error codes are a closed set
  new CrochetError('ERR_MADE_UP', 'message');

  // Values that cannot cross threads are rejected where the wrapper is made.
  // @ts-expect-error: a function argument cannot cross threads
  waitFor({ timeout: 1 })((callback: () => void) => callback());
  // @ts-expect-error: nor can a function result
  waitFor({ timeout: 1 })(() => () => 1);
  // @ts-expect-error: a symbol cannot
  waitFor({ timeout: 1 })((key: symbol) => String(key));
  // @ts-expect-error: a class instance with methods would arrive without them
  waitFor({ timeout: 1 })(async () => new Counter());
  // @ts-expect-error: as an argument too, however deep
  runInReactor((options: { readonly nested: { readonly counter: Counter } }) => options.nested.counter.count);
  // @ts-expect-error: a Buffer arrives as a plain Uint8Array
  runInReactor(async (text: string) => Buffer.from(text));
  // @ts-expect-error: nothing in a rest parameter can be a function
  waitFor({ timeout: 1 })((first: string, ...rest: (() => void)[]) => first + String(rest.length));
  // @ts-expect-error: an optional parameter is checked too
  waitFor({ timeout: 1 })((first: string, second?: symbol) => first + String(second));
  // @ts-expect-error: a promise inside a result is not awaited, and cannot cross
  waitFor({ timeout: 1 })(async () => ({ later: Promise.resolve(1) }));
  // @ts-expect-error: a map's values are checked
  waitFor({ timeout: 1 })(() => new Map([['a', () => 1]]));
}
export { typeChecks };

it('type checks pass when the test files compile', () => {
  // Everything above is checked by the compiler; this file must compile for the suite to run.
});

/**
 * Compiles `source` as a module of this repository (so that 'crochet' is the package's
 * own declarations in dist/), and returns the type of each top-level constant as an
 * editor shows it, and the compiler's errors.
 */
function compile(source: string): { types: Map<string, string>; errors: string[] } {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const file = `${root}test/compiled-by-types-test.ts`;
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? source : readFile.call(host, name));
  host.getSourceFile = (name, version, ...rest) =>
    name === file ? ts.createSourceFile(name, source, version, true) : getSourceFile.call(host, name, version, ...rest);
  const program = ts.createProgram([file], options, host);
  const checker = program.getTypeChecker();
  const sourceFile = program.getSourceFile(file);
  assert.ok(sourceFile);
  const types = new Map<string, string>();
  for (const statement of sourceFile.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      const type = checker.getTypeAtLocation(declaration.name);
      types.set(declaration.name.getText(), checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation));
    }
  }
  const errors = ts
    .getPreEmitDiagnostics(program, sourceFile)
    .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
  return { types, errors };
}

it('editors show a wrapper as its parameters and result, not as an alias', () => {
  const { types, errors } = compile(`import { runInReactor, waitFor } from 'crochet';
export const download = waitFor({ timeout: 1000 })(async (url: string) => url.toUpperCase());
export const start = runInReactor(async (url: string, tries?: number) => url.length + (tries ?? 0));
`);
  assert.deepEqual(errors, []);
  assert.equal(
    types.get('download'),
    '((url: string) => string) & { readonly wrapped: (url: string) => Promise<string>; }',
  );
  assert.equal(
    types.get('start'),
    '((url: string, tries?: number | undefined) => EventualResult<number>) & { readonly wrapped: (url: string, tries?: number | undefined) => Promise<number>; }',
  );
});

it('the compiler names what cannot cross threads, and where', () => {
  const { errors } = compile(`import { waitFor } from 'crochet';
class Counter { count = 0; increment(): void { this.count++; } }
export const a = waitFor({ timeout: 1000 })((callback: () => void) => callback());
export const b = waitFor({ timeout: 1000 })(async (name: string, key: symbol) => name + String(key));
export const c = waitFor({ timeout: 1000 })(async () => ({ counter: new Counter() }));
`);
  assert.equal(errors.length, 3, errors.join('\n'));
  assert.match(errors[0] ?? '', /cannot cross threads.*"argument 1 is a function"/s);
  assert.match(errors[1] ?? '', /cannot cross threads.*"argument 2 is a symbol"/s);
  assert.match(
    errors[2] ?? '',
    /cannot cross threads.*"the result\.counter\.increment is a function \(an object crosses as plain data, without methods\)"/s,
  );
});
