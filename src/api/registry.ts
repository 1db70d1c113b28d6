/**
 * How a wrapped function is found in the reactor.
 *
 * Functions cannot cross threads, so each wrapper is named by the module that created
 * it and its position among that module's wrappers. The reactor imports the same module,
 * whose top level creates the same wrappers in the same order, and so finds the same
 * function. A hash of the function's source guards against a position that happens to
 * hold a different function.
 */
import { bundled, home } from '../common/home.js';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { thread } from '../common/thread.js';

/** Where a wrapper came from. */
export interface WrapperId {
  /**
   * The module that created the wrapper, as the reactor should load it: on Node, a file URL
   * for an ES module and an absolute path for CommonJS (as Node reports them); on other
   * runtimes always a file URL. Anything else names code the reactor cannot import.
   */
  readonly module: string;
  readonly index: number;
  readonly fingerprint: number;
  /** The wrapped function's name (empty: anonymous), for messages. */
  readonly name: string;
  /** The line of `module` where the wrapper was created (0: unknown), for messages. */
  readonly line: number;
}

interface Entry {
  readonly fn: (...args: never[]) => unknown;
  readonly fingerprint: number;
}

/**
 * Wrappers by the key of their module (see {@link moduleKey}), in the order they were made;
 * shared with other copies of crochet in this thread (see common/thread.ts).
 */
const byModule: Map<string, Entry[]> = thread.wrappers;

/**
 * Crochet's own directory, whose frames are skipped (a wrapper factory calling another);
 * nothing is skipped when crochet was bundled into an application's own file.
 */
const ownDirectory = bundled ? undefined : new URL('.', home).href;
const ownPath = ownDirectory === undefined ? undefined : fileURLToPath(ownDirectory);

const versions = process.versions as Partial<Record<string, string>>;
/**
 * Whether this is Node, whose stack traces tell ES modules (file URLs) from CommonJS
 * (paths). Bun reports both as paths and Deno both as URLs, so elsewhere the reported form
 * says nothing about how the module was loaded.
 */
export const onNode = versions['bun'] === undefined && versions['deno'] === undefined;

interface CallSite {
  getFileName(): string | null | undefined;
  getLineNumber?(): number | null | undefined;
  getColumnNumber?(): number | null | undefined;
  getScriptNameOrSourceURL?(): string | null | undefined;
}

/**
 * The file a call site's code was loaded from. Deno maps `getFileName()` through source
 * maps (compiled JavaScript next to its `.js.map` is reported as the `.ts` source, a file
 * the reactor would then import instead), but not the script's own name. On Node and Bun
 * the two agree, except for code that names itself with a `sourceURL` comment, which is
 * used only when it names a file.
 */
function fileOf(site: CallSite): string | undefined {
  const script = typeof site.getScriptNameOrSourceURL === 'function' ? site.getScriptNameOrSourceURL() : undefined;
  if (typeof script === 'string' && isImportable(script)) return script;
  return site.getFileName() ?? undefined;
}

/**
 * The module whose code called `caller` (a public wrapper factory), read from V8's
 * structured stack trace, in the form the reactor loads it by (see {@link WrapperId}),
 * and the line of that call (0 if unknown).
 */
export function callerSite(caller: (...args: never[]) => unknown): {
  readonly module: string;
  readonly line: number;
  readonly column: number;
} {
  const previousPrepare = Error.prepareStackTrace;
  const previousLimit = Error.stackTraceLimit;
  Error.prepareStackTrace = (_error, sites) => sites;
  Error.stackTraceLimit = 8;
  const holder: { stack?: unknown } = {};
  try {
    Error.captureStackTrace(holder, caller);
    const sites = holder.stack as CallSite[] | undefined;
    for (const site of sites ?? []) {
      const file = fileOf(site);
      // Bun names built-in functions (Array.prototype.map…) [native code]; V8 gives them no file.
      if (file === undefined || file === '[native code]') continue;
      // Skip crochet's own frames (a wrapper factory calling another).
      if (
        ownDirectory !== undefined &&
        ownPath !== undefined &&
        (file.startsWith(ownDirectory) || file.startsWith(ownPath))
      )
        continue;
      const line = typeof site.getLineNumber === 'function' ? site.getLineNumber() : undefined;
      const column = typeof site.getColumnNumber === 'function' ? site.getColumnNumber() : undefined;
      return {
        module: onNode ? file : moduleKey(file),
        line: typeof line === 'number' && Number.isSafeInteger(line) && line > 0 ? line : 0,
        column: typeof column === 'number' && Number.isSafeInteger(column) && column > 0 ? column : 0,
      };
    }
    return { module: '<unknown>', line: 0, column: 0 };
  } finally {
    Error.prepareStackTrace = previousPrepare;
    Error.stackTraceLimit = previousLimit;
  }
}

/** The module whose code called `caller`, as {@link callerSite} finds it. */
export function callerModule(caller: (...args: never[]) => unknown): string {
  return callerSite(caller).module;
}

/**
 * The key a module's wrappers are kept under: the file URL of a module that has a file
 * (whether it was reported by path or by URL, so that one module is one module in every
 * thread), and anything else as it is.
 */
export function moduleKey(module: string): string {
  try {
    if (module.startsWith('file:')) return pathToFileURL(fileURLToPath(module)).href;
    if (isAbsolute(module)) return pathToFileURL(module).href;
  } catch {
    // A file URL with a host, say: not a module file of this machine.
  }
  return module;
}

/** A cheap 32-bit FNV-1a hash of a function's source text. */
function fingerprintOf(fn: (...args: never[]) => unknown): number {
  const source = Function.prototype.toString.call(fn);
  let hash = 0x811c9dc5;
  for (let i = 0; i < source.length; i++) {
    hash ^= source.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Records a new wrapper of `fn` created by `module` (at `line` and `column`), and returns
 * its id. Within an application's bundle (crochet inside it), every module of the
 * application is one file, whose parts a thread may load lazily and in another order than
 * the reactor does (a `require()` chosen at run time): there a wrapper's place in the file
 * is part of its fingerprint, so that the reactor finds it by that place, never a wrapper
 * of the same source text elsewhere in the file.
 */
export function registerWrapper(module: string, fn: (...args: never[]) => unknown, line = 0, column = 0): WrapperId {
  const key = moduleKey(module);
  let entries = byModule.get(key);
  if (entries === undefined) {
    entries = [];
    byModule.set(key, entries);
  }
  const fingerprint =
    bundled && key === moduleKey(home) ? mixPlace(fingerprintOf(fn), line, column) : fingerprintOf(fn);
  entries.push({ fn, fingerprint });
  return { module, index: entries.length - 1, fingerprint, name: typeof fn.name === 'string' ? fn.name : '', line };
}

/** Outcome of looking a wrapper up in this thread. */
export type Lookup =
  | { readonly found: true; readonly fn: (...args: unknown[]) => unknown }
  | { readonly found: false; readonly mismatch: boolean };

/** Mixes a wrapper's place in its file into its fingerprint (see {@link registerWrapper}). */
function mixPlace(fingerprint: number, line: number, column: number): number {
  let hash = fingerprint;
  for (const part of [line, column]) {
    hash ^= part;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Finds the function of wrapper `index` of `module` in this thread. A wrapper made at
 * another index here (the module's parts loaded in another order) is found by its
 * fingerprint, if no other wrapper of the module has the same.
 */
export function lookupWrapper(module: string, index: number, fingerprint: number): Lookup {
  const entries = byModule.get(moduleKey(module));
  const entry = entries?.[index];
  if (entry !== undefined && entry.fingerprint === fingerprint) {
    return { found: true, fn: entry.fn as (...args: unknown[]) => unknown };
  }
  const same = entries?.filter((candidate) => candidate.fingerprint === fingerprint) ?? [];
  const only = same.length === 1 ? same[0] : undefined;
  if (only !== undefined) return { found: true, fn: only.fn as (...args: unknown[]) => unknown };
  return { found: false, mismatch: entry !== undefined };
}

/** Whether a module key names something the reactor can import. */
export function isImportable(module: string): boolean {
  return module.startsWith('file:') || module.startsWith('/') || /^[A-Za-z]:[\\/]/.test(module);
}

/**
 * The fingerprint of the one function an isolated reactor serves (see {@link registerSole}):
 * the calling thread has no copy of it to hash.
 */
export const SOLE_FINGERPRINT = 0x5c1e;

/**
 * Makes `fn` wrapper #1 of `module` in this thread, in place of any before it: the function
 * an isolated reactor serves (synckit's `runAsWorker(fn)`, whatever module called it).
 */
export function registerSole(module: string, fn: (...args: never[]) => unknown): void {
  byModule.set(moduleKey(module), [{ fn, fingerprint: SOLE_FINGERPRINT }]);
}
