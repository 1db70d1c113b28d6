/**
 * Finding a wrapped function in the reactor: importing the module that created the
 * wrapper (once), then taking the wrapper in the same position there.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { CrochetError } from '../api/errors.js';
import { isImportable, lookupWrapper, moduleKey, onNode } from '../api/registry.js';
import type { WrapperDescriptor } from '../wire/messages.js';

/**
 * Modules imported (or tried) here, by {@link moduleKey}: `true`, or the error that
 * stopped the import.
 */
const imported = new Map<string, true | { readonly error: unknown }>();

/** Whether the reactor must import `wrapper`'s module before it can find the function. */
export function needsImport(wrapper: WrapperDescriptor): boolean {
  return (
    !imported.has(moduleKey(wrapper.module)) &&
    isImportable(wrapper.module) &&
    !lookupWrapper(wrapper.module, wrapper.index, wrapper.fingerprint).found
  );
}

/**
 * Imports `module` once; a failure is remembered and becomes the cause of calls into it.
 *
 * A file URL is imported. A path is a CommonJS module as Node reports it, and is required
 * the way the calling thread required it (with the same require hooks: a preloaded
 * compiler may have no ES module hooks at all). Other runtimes do not tell ES modules from
 * CommonJS in stack traces (registry.ts gives their modules as URLs), and their `import()`
 * loads either kind, sharing instances with `require()`; `require()` there cannot load an
 * ES module with top-level `await`, so a path is imported by its URL.
 */
export function importModule(module: string): Promise<void> {
  const attempt =
    module.startsWith('file:') || !onNode
      ? import(module.startsWith('file:') ? module : pathToFileURL(module).href).then(() => undefined)
      : Promise.resolve().then(() => {
          createRequire(module)(module);
        });
  const key = moduleKey(module);
  return attempt.then(
    () => {
      imported.set(key, true);
    },
    (error: unknown) => {
      imported.set(key, { error });
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
  const attempt = imported.get(moduleKey(wrapper.module));
  if (lookup.found && (attempt === undefined || attempt === true)) return { fn: lookup.fn };
  return { error: unknownFunction(wrapper, !lookup.found && lookup.mismatch) };
}

function unknownFunction(message: WrapperDescriptor, mismatch: boolean): CrochetError {
  const attempt = imported.get(moduleKey(message.module));
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
