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

/** A thrown value on the wire: an error taken apart, or any other value as is. */
export type WireValue = { readonly v: unknown } | { readonly err: WireError };

/** An error taken apart. */
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
  return types.isNativeError(value) || value instanceof Error;
}

const special = new Set(['message', 'stack', 'cause', 'errors']);

/**
 * Takes a thrown value apart for the wire. With `safe`, property values that cannot be
 * cloned are replaced by their `util.inspect` text (used after a first attempt to send
 * the error failed).
 */
export function encodeThrown(value: unknown, safe = false, seen = new Set<object>()): WireValue {
  // In safe mode only values inside an error are replaced: a thrown value that cannot
  // be cloned is itself a data-clone failure.
  if (!isError(value)) return { v: safe && seen.size > 0 ? cloneable(value) : value };
  if (seen.has(value)) return { v: '[Circular]' };
  seen.add(value);
  let builtin = 'Error';
  let registered: string | undefined;
  for (let proto: unknown = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
    if (registered === undefined) registered = nameByPrototype.get(proto as object);
    const found = builtinByPrototype.get(proto as object);
    if (found !== undefined) {
      builtin = found;
      break;
    }
  }
  const props: (readonly [string, WireValue, boolean])[] = [];
  for (const key of Object.getOwnPropertyNames(value)) {
    if (special.has(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    const enumerable = descriptor?.enumerable ?? false;
    let field: unknown;
    try {
      field = (value as unknown as Record<string, unknown>)[key];
    } catch (error) {
      field = `[getter threw: ${String(error)}]`;
    }
    props.push([key, encodeThrown(field, safe, seen), enumerable]);
  }
  // Some runtimes (Bun) keep an error's `code` on its prototype: it is part of what the
  // error says all the same.
  if (!Object.hasOwn(value, 'code')) {
    const code = safeRead(() => (value as { code?: unknown }).code);
    if (typeof code === 'string') props.push(['code', { v: code }, false]);
  }
  const wire: {
    -readonly [K in keyof WireError]: WireError[K];
  } = {
    builtin,
    name: safeString(() => value.name),
    message: safeString(() => value.message),
    props,
  };
  if (registered !== undefined) wire.registered = registered;
  const stack = safeString(() => value.stack);
  if (stack !== '') wire.stack = stack;
  if ('cause' in value) wire.cause = encodeThrown(value.cause, safe, seen);
  if (value instanceof AggregateError && Array.isArray(value.errors)) {
    wire.errors = (value.errors as unknown[]).map((inner) => encodeThrown(inner, safe, seen));
  }
  return { err: wire };
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
    return typeof value === 'string' ? value : value === undefined ? '' : inspect(value);
  } catch {
    return '';
  }
}

function cloneable(value: unknown): unknown {
  try {
    structuredClone(value);
    return value;
  } catch {
    return inspect(value);
  }
}

/** Rebuilds a thrown value sent with {@link encodeThrown}. */
export function decodeThrown(wire: WireValue): unknown {
  if ('v' in wire) return wire.v;
  const w = wire.err;
  const Registered = w.registered === undefined ? undefined : registeredByName.get(w.registered);
  let error: Error;
  if (Registered === DOMException) {
    error = new DOMException(w.message, w.name);
  } else {
    const Ctor = Registered ?? builtins.get(w.builtin) ?? Error;
    error = Object.create(Ctor.prototype as object) as Error;
    define(error, 'message', w.message, false);
  }
  if (w.stack !== undefined) define(error, 'stack', w.stack, false);
  if (w.cause !== undefined) define(error, 'cause', decodeThrown(w.cause), false);
  if (w.errors !== undefined) define(error, 'errors', w.errors.map(decodeThrown), false);
  for (const [key, value, enumerable] of w.props) {
    if (error instanceof DOMException && (key === 'name' || key === 'code')) continue;
    define(error, key, decodeThrown(value), enumerable);
  }
  if (error.name !== w.name) define(error, 'name', w.name, false);
  return error;
}

function define(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, enumerable, writable: true, configurable: true });
}

/** A data-clone failure as crochet reports it. */
export function dataCloneError(what: string, cause: unknown): CrochetError {
  const detail = isError(cause) ? cause.message : String(cause);
  return new CrochetError(
    'ERR_CROCHET_DATA_CLONE',
    `${what} cannot be sent between threads: ${detail}. Only values that structuredClone() accepts can cross (plain objects, arrays, primitives, Map, Set, Date, RegExp, ArrayBuffer and typed arrays, errors); pass data, not functions, class instances with behaviour or handles`,
    { cause },
  );
}

/**
 * Takes a failure apart so that it surely crosses threads: fields that cannot be cloned
 * are sent as text, and a thrown value that cannot be cloned becomes a data-clone error.
 */
export function encodeFailure(error: unknown): WireValue {
  for (const safe of [false, true]) {
    const wire = encodeThrown(error, safe);
    try {
      structuredClone(wire);
      return wire;
    } catch (cloneError) {
      if (safe) return encodeThrown(dataCloneError('The error thrown', cloneError));
    }
  }
  return encodeThrown(error);
}
