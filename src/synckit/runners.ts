/**
 * How a synckit worker file is found and started: the extension mapping (`.js` → `.ts`,
 * `.cjs` → `.cts`, `.mjs` → `.mts`), whether it is an ES module, and which `execArgv` lets
 * its thread load it (a TypeScript runner's flags, Yarn PnP's), with synckit's defaults
 * and its error messages.
 *
 * Unlike synckit, the worker's thread starts from the process's own `execArgv` (a host run
 * under `tsx`, `ts-node`, `--import` hooks keeps them in the worker), then adds the option's
 * or `SYNCKIT_EXEC_ARGV`'s, then the runner's.
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  currentEnvironment,
  detectRunners,
  isEsmPath,
  isPackageAvailable,
  isTsRunner,
  runnerExecArgv,
  typeStripping,
  workerExecArgv,
} from '../common/runners.js';

/** The TypeScript runners synckit knows, by the names its `tsRunner` option takes. */
export const TsRunner = {
  Node: 'node',
  Bun: 'bun',
  TsNode: 'ts-node',
  EsbuildRegister: 'esbuild-register',
  EsbuildRunner: 'esbuild-runner',
  OXC: 'oxc',
  SWC: 'swc',
  TSX: 'tsx',
} as const;

/** One of {@link TsRunner}'s values. */
export type TsRunner = (typeof TsRunner)[keyof typeof TsRunner];

/** A worker file, resolved. */
export interface WorkerFile {
  /** Its path, after the extension mapping. */
  readonly path: string;
  readonly ext: string;
  readonly isTs: boolean;
  /** Whether it loads as an ES module. */
  readonly esm: boolean;
  /** The runner that loads it, when it is TypeScript (undefined: the host's own hooks do). */
  readonly runner: TsRunner | undefined;
  /** Its thread's `execArgv`. */
  readonly execArgv: readonly string[];
}

function isFile(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isFile() === true;
  } catch {
    return false;
  }
}

/** Whether `name` can be required from the working directory (synckit's `isPkgAvailable`). */
function available(name: string): boolean {
  return isPackageAvailable(name, process.cwd());
}

/**
 * The runner for a TypeScript worker when none is given: synckit's choice (Bun's own, Node's
 * type stripping where it is on), else the loader the host process runs under (its
 * preloads reach the worker), else ts-node, else tsx, if installed.
 */
function chooseRunner(): TsRunner | undefined {
  const environment = currentEnvironment();
  if (environment.runtime === 'bun') return TsRunner.Bun;
  const stripping = typeStripping(environment);
  if (stripping === 'strip' || stripping === 'transform') return TsRunner.Node;
  const host = detectRunners(environment).find((found) => found.runner !== 'node' && found.runner !== 'bun');
  if (host !== undefined) return host.runner;
  if (available(TsRunner.TsNode)) return TsRunner.TsNode;
  if (available(TsRunner.TSX)) return TsRunner.TSX;
  return undefined;
}

/** Yarn PnP's flags for a worker thread, if this process runs under PnP and lacks them. */
function pnpFlags(execArgv: readonly string[]): string[] {
  if (typeof (process.versions as { pnp?: unknown }).pnp !== 'string') return [];
  let api: string;
  try {
    api = createRequire(join(process.cwd(), 'noop.js')).resolve('pnpapi');
  } catch {
    return [];
  }
  const flags: string[] = [];
  const mentioned = (value: string): boolean =>
    execArgv.some((arg) => arg === value || arg.endsWith(`=${value}`)) ||
    (process.env['NODE_OPTIONS'] ?? '').includes(value);
  if (!mentioned(api)) flags.push('-r', api);
  const loader = resolve(api, '../.pnp.loader.mjs');
  const loaderUrl = pathToFileURL(loader).href;
  if (isFile(loader) && !mentioned(loader) && !mentioned(loaderUrl)) flags.push('--experimental-loader', loaderUrl);
  return flags;
}

/**
 * Resolves a worker path as synckit does, and the `execArgv` of its thread: the process's,
 * then `execArgv`, then what the runner and Yarn PnP need.
 *
 * @throws {Error} synckit's messages for an unknown runner or one that cannot load the file.
 */
export function resolveWorker(
  workerPath: string,
  execArgv: readonly string[],
  tsRunner: TsRunner | undefined,
): WorkerFile {
  let path = workerPath;
  let ext = extname(path);
  if (!/([/\\])node_modules\1/.test(path) && (ext === '' || /^\.[cm]?js$/.test(ext))) {
    const base = ext === '' ? path : path.slice(0, -ext.length);
    const candidates = ext === '.cjs' ? ['.cts', '.cjs'] : ext === '.mjs' ? ['.mts', '.mjs'] : ['.ts', '.js'];
    const found = candidates.map((candidate) => base + candidate).find(isFile);
    if (found !== undefined) {
      path = found;
      ext = extname(found);
    }
  }
  const isTs = /\.[cm]?ts$/.test(path);
  // By the extension, then the nearest package.json's `type`.
  const esm = isEsmPath(path);

  const inherited = [...workerExecArgv(process.execArgv), ...execArgv];
  let runner = tsRunner;
  let all = inherited;
  if (isTs) {
    if (runner !== undefined && !isTsRunner(runner)) throw new Error(`Unknown ts runner: ${String(runner)}`);
    runner ??= chooseRunner();
    if (runner === undefined) {
      throw new Error(
        `No ts runner specified, ts worker path is not supported: ${path} needs a TypeScript runner on Node ${process.versions.node}; install one (tsx, ts-node…) and pass it as the tsRunner option or SYNCKIT_TS_RUNNER, or use Node 22.6+`,
      );
    }
    // Bun and Deno load TypeScript themselves, and refuse preloads in a worker's options.
    if (currentEnvironment().runtime === 'node') all = runnerExecArgv(runner, { esm, execArgv: inherited });
    if (/\.[cm]ts$/.test(path)) {
      const refused: TsRunner[] = [TsRunner.EsbuildRegister, TsRunner.EsbuildRunner, ...(esm ? [TsRunner.TSX] : [])];
      if (refused.includes(runner)) {
        throw new Error(
          `${runner} is not supported for ${ext} files yet` +
            (esm
              ? ', you can try [oxc](https://github.com/oxc-project/oxc-node) or [swc](https://github.com/swc-project/swc-node/tree/master/packages/register) instead'
              : ', you can try [tsx](https://github.com/esbuild-kit/tsx) instead'),
        );
      }
    }
  }
  return { path, ext, isTs, esm, runner, execArgv: [...pnpFlags(all), ...all] };
}
