/**
 * Finding a wrapped function in the reactor: importing the module that created the
 * wrapper (once), then taking the wrapper in the same position there.
 */
import { createRequire } from 'node:module';
import { CrochetError } from '../api/errors.js';
import { isImportable, lookupWrapper } from '../api/registry.js';
import type { WrapperDescriptor } from '../wire/messages.js';

/** Modules imported (or tried) here: `true`, or the error that stopped the import. */
const imported = new Map<string, true | { readonly error: unknown }>();

/** Whether the reactor must import `wrapper`'s module before it can find the function. */
export function needsImport(wrapper: WrapperDescriptor): boolean {
  return (
    !imported.has(wrapper.module) &&
    isImportable(wrapper.module) &&
    !lookupWrapper(wrapper.module, wrapper.index, wrapper.fingerprint).found
  );
}

/** Imports `module` once; a failure is remembered and becomes the cause of calls into it. */
export function importModule(module: string): Promise<void> {
  const attempt = module.startsWith('file:')
    ? import(module).then(() => undefined)
    : Promise.resolve().then(() => {
        createRequire(module)(module);
      });
  return attempt.then(
    () => {
      imported.set(module, true);
    },
    (error: unknown) => {
      imported.set(module, { error });
    },
  );
}

/** The function of `wrapper`, or the error a call into it fails with. */
export function findFunction(
  wrapper: WrapperDescriptor,
): { readonly fn: (...args: unknown[]) => unknown } | { readonly error: CrochetError } {
  const lookup = lookupWrapper(wrapper.module, wrapper.index, wrapper.fingerprint);
  // A module whose import failed may have created some wrappers before it threw; it is
  // still a module that failed to load.
  const attempt = imported.get(wrapper.module);
  if (lookup.found && (attempt === undefined || attempt === true)) return { fn: lookup.fn };
  return { error: unknownFunction(wrapper, !lookup.found && lookup.mismatch) };
}

function unknownFunction(message: WrapperDescriptor, mismatch: boolean): CrochetError {
  const attempt = imported.get(message.module);
  const loadError = attempt !== undefined && attempt !== true ? attempt.error : undefined;
  const where = `wrapper #${message.index + 1} created by ${message.module}`;
  let why: string;
  if (loadError !== undefined) {
    why = `that module failed to load in the reactor thread (see cause)`;
  } else if (!isImportable(message.module)) {
    why = 'it was created by code that has no module file (eval, a REPL, or a string), which the reactor cannot import';
  } else if (mismatch) {
    why = 'the wrapper in that position in the reactor wraps a different function';
  } else {
    why = 'importing that module in the reactor thread did not create it';
  }
  return new CrochetError(
    'ERR_CROCHET_UNKNOWN_FUNCTION',
    `The reactor cannot find the function of ${where}: ${why}. The reactor finds a wrapped function by importing the module that created the wrapper and taking the wrapper created in the same order there, so create wrappers with waitFor()/runInReactor() unconditionally at the top level of a module file that is safe to import again, never inside a function at run time`,
    loadError === undefined ? undefined : { cause: loadError },
  );
}
