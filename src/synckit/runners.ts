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
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

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

const STRIP_TYPES_FLAG = '--experimental-strip-types';
const TRANSFORM_TYPES_FLAG = '--experimental-transform-types';
const NO_STRIP_TYPES_FLAG = '--no-experimental-strip-types';
const IMPORT_FLAG = '--import';
const REQUIRE_FLAGS = new Set(['--require', '-r']);
const LOADER_FLAGS = new Set(['--loader', '--experimental-loader']);

/** Compares this Node's version with `version` ('22.6'): negative if older. */
function compareNode(version: string): number {
  const mine = process.versions.node.split('.').map(Number);
  const theirs = version.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const difference = (mine[i] ?? 0) - (theirs[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

function isFile(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isFile() === true;
  } catch {
    return false;
  }
}

/** The `type` of the nearest package.json above `path`. */
function packageType(path: string): unknown {
  for (let directory = dirname(path); ; directory = dirname(directory)) {
    const file = join(directory, 'package.json');
    if (existsSync(file)) {
      try {
        return (JSON.parse(readFileSync(file, 'utf8')) as { type?: unknown } | null)?.type;
      } catch {
        return undefined;
      }
    }
    if (dirname(directory) === directory) return undefined;
  }
}

/** Whether `name` can be required from the working directory (synckit's `isPkgAvailable`). */
function available(name: string): boolean {
  try {
    createRequire(join(process.cwd(), 'noop.js')).resolve(`${name}/package.json`);
    return true;
  } catch {
    try {
      createRequire(join(process.cwd(), 'noop.js')).resolve(name);
      return true;
    } catch {
      return false;
    }
  }
}

/** Whether Node's type stripping is turned off, explicitly, for a thread started with `execArgv`. */
function typesStrippedOff(execArgv: readonly string[]): boolean {
  const strip = execArgv.lastIndexOf(STRIP_TYPES_FLAG);
  const transform = execArgv.lastIndexOf(TRANSFORM_TYPES_FLAG);
  const off = execArgv.lastIndexOf(NO_STRIP_TYPES_FLAG);
  if (off > strip || off > transform) return true;
  if (strip !== -1 || transform !== -1) return false;
  const features = process.features as { typescript?: unknown };
  return (
    (process.execArgv.includes(NO_STRIP_TYPES_FLAG) ||
      (process.env['NODE_OPTIONS'] ?? '').includes(NO_STRIP_TYPES_FLAG)) &&
    (compareNode('22.10') >= 0
      ? features.typescript === false
      : !process.execArgv.includes(STRIP_TYPES_FLAG) && !process.execArgv.includes(TRANSFORM_TYPES_FLAG))
  );
}

/** A TypeScript loader the host process already runs under (its hooks reach the worker). */
function hostLoadsTypeScript(): boolean {
  return process.execArgv.some((arg) =>
    /(?:^|[/\\@])(?:tsx|ts-node|swc-node|esbuild-register|esbuild-runner|oxc-node)\b/.test(arg),
  );
}

/**
 * The flags `runner` needs in a thread started with `execArgv`, for an ES module (`esm`)
 * or a CommonJS one, as synckit gives them. Throws synckit's errors for a runner that
 * cannot load the file on this Node.
 */
export function runnerFlags(runner: TsRunner, esm: boolean, execArgv: readonly string[], stripOff: boolean): string[] {
  const has = (flags: Set<string>): boolean => execArgv.some((arg) => flags.has(arg));
  switch (runner) {
    case TsRunner.Bun:
      return [];
    case TsRunner.Node:
      if (compareNode('22.6') < 0) throw new Error('type stripping is not supported in this node version');
      if (stripOff) throw new Error('type stripping is disabled explicitly');
      if (compareNode('23.6') >= 0) return [];
      if (compareNode('22.7') >= 0) return execArgv.includes(TRANSFORM_TYPES_FLAG) ? [] : [TRANSFORM_TYPES_FLAG];
      return execArgv.includes(STRIP_TYPES_FLAG) ? [] : [STRIP_TYPES_FLAG];
    case TsRunner.TsNode:
      if (esm) return execArgv.includes('--loader') ? [] : ['--loader', 'ts-node/esm'];
      return has(REQUIRE_FLAGS) ? [] : ['-r', 'ts-node/register'];
    case TsRunner.EsbuildRegister:
      if (esm) return has(LOADER_FLAGS) ? [] : ['--loader', 'esbuild-register/loader'];
      return has(REQUIRE_FLAGS) ? [] : ['-r', 'esbuild-register'];
    case TsRunner.EsbuildRunner:
      return has(REQUIRE_FLAGS) ? [] : ['-r', 'esbuild-runner/register'];
    case TsRunner.OXC:
      return execArgv.includes(IMPORT_FLAG) ? [] : [IMPORT_FLAG, '@oxc-node/core/register'];
    case TsRunner.SWC:
      if (esm) return execArgv.includes(IMPORT_FLAG) ? [] : [IMPORT_FLAG, '@swc-node/register/esm-register'];
      return has(REQUIRE_FLAGS) ? [] : ['-r', '@swc-node/register'];
    case TsRunner.TSX:
      return execArgv.includes(IMPORT_FLAG) ? [] : [IMPORT_FLAG, 'tsx'];
    default:
      throw new Error(`Unknown ts runner: ${String(runner)}`);
  }
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
  let esm: boolean;
  if (isTs) esm = ext === '.mts' || (ext !== '.cts' && packageType(path) === 'module');
  else esm = ext === '.mjs' || (ext !== '.cjs' && packageType(path) === 'module');

  const inherited = [...process.execArgv, ...execArgv];
  let runner = tsRunner;
  let flags: string[] = [];
  if (isTs) {
    const stripOff = typesStrippedOff(inherited);
    if (runner === undefined) {
      if (typeof process.versions['bun'] === 'string') runner = TsRunner.Bun;
      else if (!stripOff && compareNode('22.6') >= 0) runner = TsRunner.Node;
      else if (hostLoadsTypeScript()) runner = undefined;
      else if (available(TsRunner.TsNode)) runner = TsRunner.TsNode;
      else if (available(TsRunner.TSX)) runner = TsRunner.TSX;
    }
    if (runner !== undefined) flags = runnerFlags(runner, esm, inherited, stripOff);
    if (/\.[cm]ts$/.test(path)) {
      if (runner === undefined && !hostLoadsTypeScript()) {
        throw new Error('No ts runner specified, ts worker path is not supported');
      }
      const refused: TsRunner[] = [TsRunner.EsbuildRegister, TsRunner.EsbuildRunner, ...(esm ? [TsRunner.TSX] : [])];
      if (runner !== undefined && refused.includes(runner)) {
        throw new Error(
          `${runner} is not supported for ${ext} files yet` +
            (esm
              ? ', you can try [oxc](https://github.com/oxc-project/oxc-node) or [swc](https://github.com/swc-project/swc-node/tree/master/packages/register) instead'
              : ', you can try [tsx](https://github.com/esbuild-kit/tsx) instead'),
        );
      }
    } else if (runner === undefined && !hostLoadsTypeScript()) {
      throw new Error(
        `No ts runner specified, ts worker path is not supported: ${path} needs a TypeScript runner on Node ${process.versions.node}; install one (tsx, ts-node…) and pass it as the tsRunner option or SYNCKIT_TS_RUNNER, or use Node 22.6+`,
      );
    }
  }
  const all = [...flags, ...inherited];
  return { path, ext, isTs, esm, runner, execArgv: [...pnpFlags(all), ...all] };
}
