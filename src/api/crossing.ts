/**
 * What crosses threads, in types: the compile-time check that a wrapped function's
 * parameters and result can be copied into another thread (by structured clone), so that
 * a function, a symbol or an object with methods is rejected where it is written rather
 * than failing with `ERR_CROCHET_DATA_CLONE`, or arriving stripped of its methods, at run
 * time. Types only: nothing here exists at run time.
 *
 * The check cannot see everything a structured clone does: a getter or a field declared
 * with `#` looks like a plain field here but does not cross, and an object whose class
 * has no methods arrives as a plain object with the same fields. docs/api.md ("What
 * crosses threads") lists what crosses and what it becomes.
 */

declare const unchecked: unique symbol;

/**
 * Marks a parameter or result type that crochet's compile-time check lets through
 * unchecked, as it is: for values that cross threads in ways the check cannot see (a
 * `MessagePort` or a stream moved with `transfer()`, an object whose methods you do not
 * need on the other side). Values of type `T` are accepted where an `Unchecked<T>` is
 * expected, so callers need no cast.
 *
 * @example
 * ```ts
 * export const listen = waitFor({ timeout: 1000 })((port: Unchecked<MessagePort>) => {
 *   port.on('message', handle);
 * });
 * const { port1, port2 } = new MessageChannel();
 * listen(transfer(port2, [port2]));
 * ```
 */
export type Unchecked<T> = T & {
  /** A mark for the type checker only: no value has it. */
  readonly [unchecked]?: never;
};

/** A `Blob` or a `File`, told by its shape (the ES library has no `Blob` type). */
interface BlobLike {
  readonly size: number;
  readonly type: string;
  arrayBuffer(): Promise<ArrayBuffer>;
  slice(start?: number, end?: number, contentType?: string): unknown;
}

/** What a function without a return value returns. */
type VoidResult = ReturnType<() => void>;

/** Up to this many levels of nested objects are checked (a recursive type would not end). */
type Depth = [unknown, unknown, unknown, unknown, unknown, unknown, unknown, unknown];

/**
 * Why a value of type `T`, found at `where`, cannot cross threads; `never` if it can (or
 * if its type says too little to tell: `any` and `unknown` pass).
 */
type Issue<T, Where extends string, Level extends unknown[] = []> = 0 extends 1 & T
  ? never
  : unknown extends T
    ? never
    : T extends string | number | boolean | bigint | null | undefined | VoidResult
      ? never
      : T extends symbol
        ? `${Where} is a symbol`
        : typeof unchecked extends keyof T
          ? never
          : Deeper<T, Where, Level>;

type Deeper<T, Where extends string, Level extends unknown[]> = T extends (...args: never[]) => unknown
  ? `${Where} is a function`
  : T extends PromiseLike<unknown>
    ? `${Where} is a promise (pass what it resolves to)`
    : // Errors cross as their class (registered with registerError(), or built in).
      T extends Error | Date | RegExp | ArrayBuffer | SharedArrayBuffer | DataView | BlobLike
      ? never
      : T extends ArrayBufferView
        ? T extends { readUInt8: unknown }
          ? `${Where} is a Buffer, which arrives as a plain Uint8Array`
          : never
        : Level['length'] extends Depth['length']
          ? never
          : T extends ReadonlyMap<infer K, infer V>
            ? Issue<K, `a key of ${Where}`, [...Level, unknown]> | Issue<V, `a value of ${Where}`, [...Level, unknown]>
            : T extends ReadonlySet<infer V>
              ? Issue<V, `a member of ${Where}`, [...Level, unknown]>
              : T extends readonly unknown[]
                ? Issue<T[number], `an element of ${Where}`, [...Level, unknown]>
                : {
                    // Symbol keys are left behind silently, not an error.
                    [K in keyof T]-?: K extends string | number
                      ? T[K] extends (...args: never[]) => unknown
                        ? `${Where}.${K} is a function (an object crosses as plain data, without methods)`
                        : Issue<T[K], `${Where}.${K}`, [...Level, unknown]>
                      : never;
                  }[keyof T];

/** Why some argument in `A` cannot cross threads; `N` counts the arguments before it. */
type ArgumentsIssue<A extends readonly unknown[], N extends unknown[] = [unknown]> = A extends readonly []
  ? never
  : number extends A['length']
    ? A extends readonly [infer Head, ...infer Tail]
      ? Issue<Head, `argument ${N['length']}`> | ArgumentsIssue<Tail, [...N, unknown]>
      : Issue<A[number], `argument ${N['length']} or a later one`>
    : A extends readonly [(infer Head)?, ...infer Tail]
      ? Issue<Head, `argument ${N['length']}`> | ArgumentsIssue<Tail, [...N, unknown]>
      : never;

/**
 * `unknown` (no constraint) when the arguments `A` and the awaited result of `R` can
 * cross threads; otherwise an object type whose one property names what cannot, which a
 * function does not have: the compiler's error on the wrapped function then ends with
 * `{ readonly 'cannot cross threads': "argument 1 is a function"; }`.
 */
export type Crossing<A extends readonly unknown[], R> = [ArgumentsIssue<A> | Issue<Awaited<R>, 'the result'>] extends [
  never,
]
  ? unknown
  : { readonly 'cannot cross threads': ArgumentsIssue<A> | Issue<Awaited<R>, 'the result'> };
