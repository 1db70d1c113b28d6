/**
 * Validation at the public boundary. Messages name the option, what was expected and
 * what was received, e.g. ``Expected `timeout` to be a number of milliseconds >= 0 or
 * Infinity, got `-1` (number)``.
 */
import { inspect } from 'node:util';

/** Describes a received value for an error message: its short form and its type. */
export function describe(value: unknown): string {
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  const shown = inspect(value, { depth: 0, breakLength: Infinity, maxStringLength: 40, maxArrayLength: 5 });
  return `\`${shown}\` (${type})`;
}

/**
 * Checks a timeout in milliseconds: any number >= 0, including `Infinity`, which must be
 * given explicitly.
 */
export function checkTimeout(value: unknown, what: string): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`Expected \`${what}\` to be a number of milliseconds >= 0 or Infinity, got ${describe(value)}`);
  }
  if (value < 0) {
    throw new RangeError(
      `Expected \`${what}\` to be a number of milliseconds >= 0 or Infinity, got ${describe(value)}`,
    );
  }
  return value;
}

/** Checks that an options argument is a plain object (or absent) with only known keys. */
export function checkOptions(
  value: unknown,
  what: string,
  known: readonly string[],
  required: boolean,
): Record<string, unknown> {
  if (value === undefined && !required) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Expected \`${what}\` to be an object${required ? '' : ' or undefined'}, got ${describe(value)}`,
    );
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      const list =
        known.length === 0 ? 'it takes none yet' : `known options: ${known.map((k) => `\`${k}\``).join(', ')}`;
      throw new TypeError(`Unknown option \`${key}\` in \`${what}\` (${list})`);
    }
  }
  return value as Record<string, unknown>;
}

/** Checks that a value is a function. */
export function checkFunction(value: unknown, what: string): void {
  if (typeof value !== 'function') {
    throw new TypeError(`Expected \`${what}\` to be a function, got ${describe(value)}`);
  }
}
