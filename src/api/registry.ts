/**
 * How a wrapped function is found in the reactor.
 *
 * Functions cannot cross threads, so each wrapper is named by the module that created
 * it and its position among that module's wrappers. The reactor imports the same module,
 * whose top level creates the same wrappers in the same order, and so finds the same
 * function. A hash of the function's source guards against a position that happens to
 * hold a different function.
 */
import { fileURLToPath } from 'node:url';

/** Where a wrapper came from. */
export interface WrapperId {
  /** A file URL (ESM), an absolute path (CommonJS), or something else that cannot be imported. */
  readonly module: string;
  readonly index: number;
  readonly fingerprint: number;
}

interface Entry {
  readonly fn: (...args: never[]) => unknown;
  readonly fingerprint: number;
}

const byModule = new Map<string, Entry[]>();

const ownDirectory = new URL('.', import.meta.url).href;
const ownPath = fileURLToPath(ownDirectory);

interface CallSite {
  getFileName(): string | null | undefined;
}

/**
 * The module whose code called `caller` (a public wrapper factory). Read from V8's
 * structured stack trace: a file URL for ES modules, a path for CommonJS.
 */
export function callerModule(caller: (...args: never[]) => unknown): string {
  const previousPrepare = Error.prepareStackTrace;
  const previousLimit = Error.stackTraceLimit;
  Error.prepareStackTrace = (_error, sites) => sites;
  Error.stackTraceLimit = 8;
  const holder: { stack?: unknown } = {};
  try {
    Error.captureStackTrace(holder, caller);
    const sites = holder.stack as CallSite[] | undefined;
    for (const site of sites ?? []) {
      const file = site.getFileName();
      if (file === null || file === undefined) continue;
      // Skip crochet's own frames (a wrapper factory calling another).
      if (file.startsWith(ownDirectory) || file.startsWith(ownPath)) continue;
      return file;
    }
    return '<unknown>';
  } finally {
    Error.prepareStackTrace = previousPrepare;
    Error.stackTraceLimit = previousLimit;
  }
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

/** Records a new wrapper of `fn` created by `module`, and returns its id. */
export function registerWrapper(module: string, fn: (...args: never[]) => unknown): WrapperId {
  let entries = byModule.get(module);
  if (entries === undefined) {
    entries = [];
    byModule.set(module, entries);
  }
  const fingerprint = fingerprintOf(fn);
  entries.push({ fn, fingerprint });
  return { module, index: entries.length - 1, fingerprint };
}

/** Outcome of looking a wrapper up in this thread. */
export type Lookup =
  | { readonly found: true; readonly fn: (...args: unknown[]) => unknown }
  | { readonly found: false; readonly mismatch: boolean };

/** Finds the function of wrapper `index` of `module` in this thread. */
export function lookupWrapper(module: string, index: number, fingerprint: number): Lookup {
  const entry = byModule.get(module)?.[index];
  if (entry === undefined) return { found: false, mismatch: false };
  if (entry.fingerprint !== fingerprint) return { found: false, mismatch: true };
  return { found: true, fn: entry.fn as (...args: unknown[]) => unknown };
}

/** Whether a module key names something the reactor can import. */
export function isImportable(module: string): boolean {
  return module.startsWith('file:') || module.startsWith('/') || /^[A-Za-z]:[\\/]/.test(module);
}
