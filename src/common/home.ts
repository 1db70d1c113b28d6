/**
 * Where crochet's code runs from. Usually its package's `dist/crochet.js`, beside the entry
 * files of its threads. An application bundled with crochet inside (esbuild, webpack,
 * rollup…) takes the code into its own file and leaves those entry files out: then the
 * application's bundle is also the reactor thread's entry (see bundle-entry.ts), and the
 * supervisor thread runs from source kept in the bundle (see scripts/bundle.mjs).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The file URL of the file this code was loaded from. */
export const home: string = locate();

/**
 * Whether crochet was bundled into another file (its threads' entry files are not beside
 * it).
 */
export const bundled: boolean = !besideEntries(home);

/**
 * This very function's call site names the file. (Not `import.meta.url`: an application
 * bundled as CommonJS has no `import.meta`, and bundlers warn of every use.)
 */
function locate(): string {
  type Site = { getFileName(): string | null | undefined; getScriptNameOrSourceURL?(): string | null | undefined };
  const previous = Error.prepareStackTrace;
  const holder: { stack?: unknown } = {};
  let sites: unknown;
  try {
    Error.prepareStackTrace = (_error, callSites) => callSites;
    Error.captureStackTrace(holder);
    // (The stack is made when first read: while the hook is in place.)
    sites = holder.stack;
  } finally {
    Error.prepareStackTrace = previous;
  }
  const site = Array.isArray(sites) ? (sites[0] as Site | undefined) : undefined;
  if (typeof site?.getFileName !== 'function') return pathToFileURL(process.cwd()).href + '/';
  // Deno maps getFileName() through source maps, not the script's own name.
  const script = site?.getScriptNameOrSourceURL?.();
  const file = typeof script === 'string' && script !== '' ? script : site?.getFileName();
  if (typeof file !== 'string' || file === '') return pathToFileURL(process.cwd()).href + '/';
  if (file.startsWith('file:')) return file;
  return file.startsWith('/') || /^[A-Za-z]:[\\/]/.test(file) ? pathToFileURL(file).href : `file:///${file}`;
}

/** Whether `url` is crochet's own bundle, `crochet.js`, with its threads' entry files beside it. */
function besideEntries(url: string): boolean {
  if (!url.startsWith('file:')) return true;
  try {
    return (
      url.endsWith('/crochet.js') &&
      existsSync(fileURLToPath(new URL('./reactor-main.js', url))) &&
      existsSync(fileURLToPath(new URL('./supervisor/main.js', url)))
    );
  } catch {
    return true;
  }
}
