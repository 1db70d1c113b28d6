/**
 * Finding a wrapped function in the reactor: importing the module that created the
 * wrapper (once), then taking the wrapper in the same position there.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, isAbsolute, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CrochetError } from '../api/errors.js';
import { isImportable, lookupWrapper, moduleKey, onNode } from '../api/registry.js';
import type { WrapperDescriptor } from '../wire/messages.js';
import { registerThreadHooks } from '../common/runners.js';

/**
 * Modules imported (or tried) here, by {@link moduleKey}: `true`, or the error that
 * stopped the import.
 */
const imported = new Map<string, true | { readonly error: unknown }>();

/**
 * Whether the reactor must import `wrapper`'s module before it can find the function:
 * it has not imported it yet and the function is not there, or that import is still under
 * way (a module whose top-level `await` has not settled has created some of its wrappers
 * already, but has not finished loading).
 */
export function needsImport(wrapper: WrapperDescriptor): boolean {
  const key = moduleKey(wrapper.module);
  if (imported.has(key)) return false;
  if (importing.has(key)) return true;
  return isImportable(wrapper.module) && !lookupWrapper(wrapper.module, wrapper.index, wrapper.fingerprint).found;
}

/**
 * Imports `module` once; a failure is remembered and becomes the cause of calls into it.
 * Calls of several channels into one module share its import.
 *
 * A file URL is imported. A path is what Node reports for CommonJS, but also what a
 * runner that evaluates ES modules itself reports for them (jest's ESM mode, with the
 * module's path as its name), while this thread loads the same file as an ES module and
 * reports it by URL (registry.ts keys both alike). So a path is imported by its URL when
 * it names an ES module (`.mjs`, or `.js` under a package.json of `"type": "module"`, or
 * a file `require()` refuses as one); otherwise it is required the way the calling thread
 * required it (with the same require hooks: a preloaded compiler may have no ES module
 * hooks at all). Other runtimes do not tell ES modules from CommonJS in stack traces
 * (registry.ts gives their modules as URLs), and their `import()` loads either kind,
 * sharing instances with `require()`, so there a path is imported by its URL too.
 */
export function importModule(module: string): Promise<void> {
  const key = moduleKey(module);
  let attempt = importing.get(key);
  if (attempt === undefined) {
    attempt = load(module).then(
      () => {
        imported.set(key, true);
      },
      (error: unknown) => {
        imported.set(key, { error });
      },
    );
    importing.set(key, attempt);
  }
  return attempt;
}

/** Imports under way (or done), by module key: one import per module. */
const importing = new Map<string, Promise<void>>();

/** Whether the reactor has started importing `module` (it may still be loading). */
export function isImporting(module: string): boolean {
  const key = moduleKey(module);
  return importing.has(key) && !imported.has(key);
}

/**
 * The application's TypeScript runner's hooks, registered in this thread before its first
 * import when the runner does not register them in worker threads itself (tsx on Node 20;
 * see common/runners.ts). A failed import is remembered by Node, so this must come first.
 */
let hooked: Promise<unknown> | undefined;

function load(module: string): Promise<unknown> {
  hooked ??= registerThreadHooks();
  return hooked.then(() => loadNow(module));
}

function loadNow(module: string): Promise<unknown> {
  const url = module.startsWith('file:') ? module : pathToFileURL(module).href;
  if (module.startsWith('file:') || !onNode || isModulePath(module)) return import(url);
  return Promise.resolve().then(() => {
    try {
      createRequire(module)(module);
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      // An ES module that require() cannot load (top-level await, or a Node without
      // require(esm)): import it instead.
      if (code === 'ERR_REQUIRE_ESM' || code === 'ERR_REQUIRE_ASYNC_MODULE') return import(url);
      throw error;
    }
    return undefined;
  });
}

/** Whether the file at `path` is an ES module by Node's rules: `.mjs`, or `.js` in a `"type": "module"` package. */
function isModulePath(path: string): boolean {
  const extension = extname(path);
  if (extension === '.mjs') return true;
  if (extension !== '.js') return false;
  for (let directory = dirname(path); ; directory = dirname(directory)) {
    try {
      const json = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as { type?: unknown } | null;
      return json?.type === 'module';
    } catch {
      // No (readable) package.json here: look further up.
    }
    if (dirname(directory) === directory) return false;
  }
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

/** How a module is named in messages: relative to the working directory when under it. */
function displayName(module: string): string {
  let path = module;
  try {
    if (module.startsWith('file:')) path = fileURLToPath(module);
  } catch {
    return module;
  }
  if (!isAbsolute(path)) return module;
  const relativePath = relative(process.cwd(), path);
  return relativePath === '' || relativePath.startsWith('..') || isAbsolute(relativePath)
    ? path
    : `./${relativePath.split(sep).join('/')}`;
}

/** The wrapped function and where its wrapper was made: `fetchRate() (x.ts:12)`. */
function describeWrapper(wrapper: WrapperDescriptor): string {
  const name = wrapper.name === undefined || wrapper.name === '' ? 'an anonymous function' : `${wrapper.name}()`;
  const file = basename(displayName(wrapper.module));
  const where = wrapper.line !== undefined && wrapper.line > 0 ? `${file}:${wrapper.line}` : file;
  return `${name} (${where}, wrapper #${wrapper.index + 1} of its module)`;
}

const TYPESCRIPT = /\.(?:[cm]?ts|tsx)$/i;

/** Whether `error` or an error in its `cause` chain has `code`. */
function hasCode(error: unknown, code: string): boolean {
  for (let depth = 0; depth < 8 && typeof error === 'object' && error !== null; depth++) {
    if ((error as { code?: unknown }).code === code) return true;
    error = (error as { cause?: unknown }).cause;
  }
  return false;
}

/** The first line of an error's description. */
function firstLine(error: unknown): string {
  let text: string;
  try {
    text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    text = 'an error that cannot be described';
  }
  return text.split('\n')[0] ?? text;
}

/** Why a module failed to load in the reactor, in words a user can act on. */
function loadFailure(module: string, error: unknown): string {
  const path = module.startsWith('file:') ? new URL(module).pathname : module;
  if (TYPESCRIPT.test(path) && hasCode(error, 'ERR_UNKNOWN_FILE_EXTENSION')) {
    return `Node ${process.versions.node} cannot load TypeScript in worker threads, where the reactor runs, with loader hooks that module.register() registered in another thread (they do not reach worker threads); run the application under a TypeScript runner (node --import tsx, the tsx or ts-node command, node --loader ts-node/esm), or register the hooks in a module preloaded with --import (Node runs preloads in every thread), or compile it to JavaScript, or use Node 22.6+, which strips types itself`;
  }
  if (hasCode(error, 'ERR_CROCHET_REACTOR_THREAD')) {
    return "the module's top-level code runs again in the reactor thread when the reactor imports it, and there it calls a waitFor() wrapper (or waits for a result), which would block the reactor; put the module's application code under `if (!isReactorThread())`";
  }
  return firstLine(error);
}

function unknownFunction(message: WrapperDescriptor, mismatch: boolean): CrochetError {
  const attempt = imported.get(moduleKey(message.module));
  const loadError = attempt !== undefined && attempt !== true ? attempt.error : undefined;
  const what = describeWrapper(message);
  if (loadError !== undefined) {
    return new CrochetError(
      'ERR_CROCHET_UNKNOWN_FUNCTION',
      `Could not load ${displayName(message.module)} in the reactor to run ${what}: ${loadFailure(message.module, loadError)}. The module failed to load in the reactor thread (its error is the cause), where the reactor imports the module that created a wrapper to find its function`,
      { cause: loadError },
    );
  }
  let why: string;
  if (!isImportable(message.module)) {
    why = 'it was created by code that has no module file (eval, a REPL, or a string), which the reactor cannot import';
  } else if (mismatch) {
    why = 'the wrapper in that position in the reactor wraps a different function';
  } else {
    why = 'importing that module in the reactor thread did not create it';
  }
  return new CrochetError(
    'ERR_CROCHET_UNKNOWN_FUNCTION',
    `The reactor cannot find the function of ${what}, created by ${message.module}: ${why}. The reactor finds a wrapped function by importing the module that created the wrapper and taking the wrapper created in the same order there, so create wrappers with waitFor()/runInReactor() unconditionally at the top level of a module file that is safe to import again, never inside a function at run time`,
  );
}
