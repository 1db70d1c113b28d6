/**
 * Type tests: the inference users rely on. They are checked when the tests compile;
 * the one runtime test keeps the file in the suite.
 */
import { it } from 'node:test';
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
  onShutdown,
  setup,
  shutdown,
} from 'crochet';

class Thing {
  readonly size = 1;
}

// These wrappers are only type-checked, never called.
const blockingAsync = waitFor({ timeout: 1 })(async (_x: number, _y: string) => new Thing());
const blockingSync = waitFor({ timeout: 1 })((flag: boolean) => flag);
const blockingRest = waitFor({ timeout: 1 })((first: string, ...rest: number[]) => rest.length + first.length);
const startingAsync = runInReactor(async (_x: number, _y: string) => new Thing());
const startingNested = runInReactor(() => Promise.resolve(Promise.resolve(3)));
const startingVoid = runInReactor(() => undefined);

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
}
export { typeChecks };

it('type checks pass when the test files compile', () => {
  // Everything above is checked by the compiler; this file must compile for the suite to run.
});
