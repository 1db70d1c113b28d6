/**
 * Faithful failures across threads.
 *
 * Structured clone keeps an error's built-in class, message and stack but drops its
 * own fields, and turns custom classes into plain `Error`. So a thrown value is sent as
 * a {@link WireValue}: errors are taken apart (class, name, message, stack, every own
 * property, `cause`, `AggregateError.errors`, recursively) and rebuilt on the other
 * side, as an instance of the class passed to {@link registerError} when there is one.
 * Anything else that was thrown crosses as itself.
 */
import { inspect, types } from 'node:util';
import { CrochetError, crochetErrorClasses } from '../api/errors.js';
import { describe } from '../api/options.js';
import { thread } from '../common/thread.js';

/** A thrown value on the wire: an error taken apart, or any other value as is. @internal */
export type WireValue = { readonly v: unknown } | { readonly err: WireError };

/** An error taken apart. @internal */
export interface WireError {
  /** The nearest built-in constructor: `Error`, `TypeError`, … */
  readonly builtin: string;
  /** The registered class it was an instance of, if any. */
  readonly registered?: string;
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** Own properties other than message, stack, cause and errors: [key, value, enumerable]. */
  readonly props: readonly (readonly [string, WireValue, boolean])[];
  readonly cause?: WireValue;
  readonly errors?: readonly WireValue[];
}

type ErrorClass = abstract new (...args: never[]) => Error;

const builtins: ReadonlyMap<string, ErrorClass> = new Map<string, ErrorClass>([
  ['Error', Error],
  ['TypeError', TypeError],
  ['RangeError', RangeError],
  ['SyntaxError', SyntaxError],
  ['ReferenceError', ReferenceError],
  ['EvalError', EvalError],
  ['URIError', URIError],
  ['AggregateError', AggregateError],
]);
const builtinByPrototype = new Map<object, string>([...builtins].map(([name, ctor]) => [ctor.prototype, name]));

/** Prefix for crochet's own classes, so they never clash with an application's names. */
const OWN = 'crochet:';
// Shared with other copies of crochet in this thread (see common/thread.ts).
const registeredByName: Map<string, ErrorClass> = thread.errorsByName;
const nameByPrototype: Map<object, string> = thread.errorNames;
for (const ctor of Object.values(crochetErrorClasses)) {
  registeredByName.set(OWN + ctor.name, ctor);
  nameByPrototype.set(ctor.prototype, OWN + ctor.name);
}
registeredByName.set(OWN + 'DOMException', DOMException);
nameByPrototype.set(DOMException.prototype, OWN + 'DOMException');

/**
 * Makes failures of `ErrorClass` come back from the reactor as instances of
 * `ErrorClass` (with its prototype, so `instanceof` and methods work), instead of as
 * the nearest built-in class.
 *
 * Call it at the top level of a module that both the caller and the reactor import, so
 * that both threads know the class. Classes are matched by name, which must be unique
 * among registered classes. The constructor is not called when the error is rebuilt;
 * its fields are copied as they were in the reactor.
 *
 * @throws {TypeError} if `ErrorClass` is not a subclass of `Error`, has no name, or
 *   another registered class has the same name.
 * @example
 * ```ts
 * export class QuotaError extends Error { constructor(readonly limit: number) { super('over quota') } }
 * registerError(QuotaError);
 * ```
 */
export function registerError(ErrorClass: abstract new (...args: never[]) => Error): void {
  if (typeof ErrorClass !== 'function' || !(ErrorClass.prototype instanceof Error)) {
    throw new TypeError(`Expected \`ErrorClass\` to be a subclass of Error, got ${describe(ErrorClass)}`);
  }
  const name = ErrorClass.name;
  if (name === '') {
    throw new TypeError('Expected `ErrorClass` to have a name: registered classes are matched by name');
  }
  const existing = registeredByName.get(name);
  if (existing === ErrorClass) return;
  if (existing !== undefined) {
    throw new TypeError(
      `Another error class named \`${name}\` is already registered; registered classes are matched by name, so give one of them another name`,
    );
  }
  registeredByName.set(name, ErrorClass);
  nameByPrototype.set(ErrorClass.prototype, name);
}

function isError(value: unknown): value is Error {
  // A Proxy is never taken apart: its traps could throw, or say anything.
  return !types.isProxy(value) && (types.isNativeError(value) || value instanceof Error);
}

const special = new Set(['message', 'stack', 'cause', 'errors']);

/** The name of the built-in error class `value` descends from, or undefined. */
function builtinOf(value: Error): { builtin: string; registered: string | undefined } {
  let registered: string | undefined;
  for (let proto: unknown = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
    if (registered === undefined) registered = nameByPrototype.get(proto as object);
    const found = builtinByPrototype.get(proto as object);
    if (found !== undefined) return { builtin: found, registered };
  }
  // An error made in another realm (a `vm` context, say): its prototypes are that
  // realm's, so they are told by their constructors' names.
  if (types.isNativeError(value)) {
    for (let proto: unknown = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
      const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
      const name = typeof ctor === 'function' ? safeRead(() => ctor.name) : undefined;
      if (typeof name === 'string' && builtins.has(name)) return { builtin: name, registered };
    }
  }
  return { builtin: 'Error', registered };
}

/**
 * Takes a thrown value apart for the wire. With `safe`, property values that cannot be
 * cloned are replaced by their `util.inspect` text (used after a first attempt to send
 * the error failed).
 *
 * An error met twice (two fields holding one error, `AggregateError([x, x])`, a `cause`
 * that leads back to the error) is taken apart once: its wire form appears twice in the
 * result, and structured clone keeps that, so the rebuilt errors are shared the same way.
 *
 * Reading the error runs its getters; one that throws gives its field as text. Values
 * nested too deeply for this thread's stack make it throw a `RangeError`.
 * @internal
 */
export function encodeThrown(value: unknown, safe = false, seen = new Map<object, WireValue>()): WireValue {
  // In safe mode only values inside an error are replaced: a thrown value that cannot
  // be cloned is itself a data-clone failure.
  if (!isError(value)) return { v: safe && seen.size > 0 ? cloneable(value) : value };
  const known = seen.get(value);
  if (known !== undefined) return known;
  const { builtin, registered } = builtinOf(value);
  const wire: {
    -readonly [K in keyof WireError]: WireError[K];
  } = {
    builtin,
    name: safeString(() => value.name),
    message: safeString(() => value.message),
    props: [],
  };
  const encoded: WireValue = { err: wire };
  seen.set(value, encoded);
  if (registered !== undefined) wire.registered = registered;
  const stack = safeString(() => value.stack);
  if (stack !== '') wire.stack = stack;
  const props = wire.props as (readonly [string, WireValue, boolean])[];
  for (const key of Object.getOwnPropertyNames(value)) {
    if (special.has(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    const enumerable = descriptor?.enumerable ?? false;
    props.push([key, encodeThrown(readField(value, key), safe, seen), enumerable]);
  }
  // Some runtimes (Bun) keep an error's `code` on its prototype: it is part of what the
  // error says all the same.
  if (!Object.hasOwn(value, 'code')) {
    const code = safeRead(() => (value as { code?: unknown }).code);
    if (typeof code === 'string') props.push(['code', { v: code }, false]);
  }
  if ('cause' in value) wire.cause = encodeThrown(readField(value, 'cause'), safe, seen);
  if (value instanceof AggregateError || (builtin === 'AggregateError' && Object.hasOwn(value, 'errors'))) {
    const errors = readField(value, 'errors');
    if (Array.isArray(errors)) {
      wire.errors = (errors as unknown[]).map((inner) => encodeThrown(inner, safe, seen));
    } else if (errors !== undefined) {
      props.push(['errors', encodeThrown(errors, safe, seen), false]);
    }
  }
  return encoded;
}

/** Reads a field of an error; a getter that throws gives text saying so. */
function readField(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch (error) {
    const said = isError(error)
      ? `${safeString(() => error.name)}: ${safeString(() => error.message)}`
      : safeString(() => error);
    return `[getter threw: ${said}]`;
  }
}

function safeRead(read: () => unknown): unknown {
  try {
    return read();
  } catch {
    return undefined;
  }
}

function safeString(read: () => unknown): string {
  try {
    const value = read();
    return typeof value === 'string' ? value : value === undefined ? '' : inspectSafely(value);
  } catch {
    return '';
  }
}

function inspectSafely(value: unknown): string {
  try {
    return inspect(value);
  } catch {
    return `[a value that cannot be shown: ${typeof value}]`;
  }
}

function cloneable(value: unknown): unknown {
  if (typeof value !== 'object' && typeof value !== 'function') return value;
  try {
    structuredClone(value);
    return value;
  } catch {
    return inspectSafely(value);
  }
}

/**
 * Rebuilds a thrown value sent with {@link encodeThrown}. Errors are made with their
 * built-in constructor (so they are native errors, of the right class), with the
 * registered class's prototype if there is one; its constructor is not run.
 * @internal
 */
export function decodeThrown(wire: WireValue, seen = new Map<object, unknown>()): unknown {
  if ('v' in wire) return wire.v;
  const w = wire.err;
  const known = seen.get(w);
  if (known !== undefined) return known;
  const Registered = w.registered === undefined ? undefined : registeredByName.get(w.registered);
  const error = construct(w, Registered);
  seen.set(w, error);
  if (w.stack !== undefined) define(error, 'stack', w.stack, false);
  else Reflect.deleteProperty(error, 'stack');
  if (w.cause !== undefined) define(error, 'cause', decodeThrown(w.cause, seen), false);
  if (w.errors !== undefined) {
    define(
      error,
      'errors',
      w.errors.map((inner) => decodeThrown(inner, seen)),
      false,
    );
  }
  for (const [key, value, enumerable] of w.props) {
    if (error instanceof DOMException && (key === 'name' || key === 'code')) continue;
    define(error, key, decodeThrown(value, seen), enumerable);
  }
  if (error.name !== w.name) define(error, 'name', w.name, false);
  return error;
}

/** A new native error for `w`: its built-in class, or `Registered`'s prototype on it. */
function construct(w: WireError, Registered: ErrorClass | undefined): Error {
  // No stack is captured here: the reactor's stack replaces it.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    if (Registered === DOMException) return new DOMException(w.message, w.name);
    const Builtin = (builtins.get(w.builtin) ?? Error) as new (...args: unknown[]) => Error;
    const args = Builtin === (AggregateError as unknown) ? [[], w.message] : [w.message];
    return Reflect.construct<unknown[], Error>(Builtin, args, (Registered ?? Builtin) as new () => unknown);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function define(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, enumerable, writable: true, configurable: true });
}

/** Whether `error` is the stack overflow of a structured clone of a value nested too deeply. @internal */
export function isTooDeep(error: unknown): boolean {
  return (
    error instanceof RangeError && /call stack|stack size|too much recursion/i.test(safeString(() => error.message))
  );
}

/**
 * A data-clone failure as crochet reports it: `what` (an argument, the result, the error
 * thrown) could not cross, because of `cause` (the clone error, kept as `cause`).
 * @internal
 */
export function dataCloneError(what: string, cause: unknown): CrochetError {
  if (isTooDeep(cause)) {
    return new CrochetError(
      'ERR_CROCHET_DATA_CLONE',
      `${what} cannot be copied between threads: the value is nested too deeply, and copying it ran out of stack (${safeString(() => (cause as Error).message)}). Send it in a flatter shape (an array of nodes that refer to each other by index, say, or JSON text)`,
      { cause },
    );
  }
  const detail = (isError(cause) ? safeString(() => cause.message) : safeString(() => cause)).replace(/\.+$/, '');
  return new CrochetError(
    'ERR_CROCHET_DATA_CLONE',
    `${what} cannot be sent between threads: ${detail}. Only values that structuredClone() accepts can cross (plain objects, arrays, primitives, Map, Set, Date, RegExp, ArrayBuffer and typed arrays, errors); pass data, not functions, class instances with behaviour, proxies or handles`,
    { cause },
  );
}

/**
 * Takes a failure apart so that it surely crosses threads: fields that cannot be cloned
 * are sent as text, and a thrown value that cannot be cloned (or taken apart) becomes a
 * data-clone error. Never throws.
 * @internal
 */
export function encodeFailure(error: unknown): WireValue {
  let failure: unknown;
  for (const safe of [false, true]) {
    try {
      const wire = encodeThrown(error, safe);
      structuredClone(wire);
      return wire;
    } catch (cloneError) {
      failure = cloneError;
    }
  }
  if (types.isProxy(error)) failure = new TypeError('A Proxy could not be cloned', { cause: failure });
  try {
    const wire = encodeThrown(dataCloneError('The error thrown', failure));
    structuredClone(wire);
    return wire;
  } catch {
    return encodeThrown(dataCloneError('The error thrown', new TypeError(safeString(() => failure))));
  }
}
