/**
 * TypeScript runners and loaders: what this process runs TypeScript under, and which
 * options a worker thread needs to load TypeScript the same way.
 *
 * A worker thread inherits its parent's Node options, preloads included (`--require`,
 * `--import`, `--loader`), and runs them again itself; that is how most runners reach
 * worker threads. Some cases need more:
 *
 * - a worker started with options of its own (`execArgv`) gets only those, so the
 *   runner's preload must be among them ({@link runnerExecArgv}), and some options must
 *   not be ({@link workerExecArgv}: Node refuses to start a worker from a file with
 *   `--input-type`);
 * - tsx, on Node versions before 22.22.3 (and 24.11.1, 25.1; so all of Node 20), registers
 *   its ES module hooks only in the main thread, although its preload runs in every
 *   thread: a worker must register them itself before it imports a `.ts` module
 *   ({@link threadHooks}, {@link registerThreadHooks});
 * - the `ts-node` command registers ts-node without any Node option, so a worker inherits
 *   nothing of it ({@link missingPreloads}).
 *
 * Runners are named as synckit names them (its `TsRunner`), so that its `tsRunner` option
 * can be taken as it is. Everything here reads the process through a
 * {@link RunnerEnvironment}, the current one by default, so that tests can pass their own.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { describe } from '../api/options.js';

/** The TypeScript runners known here, by synckit's names for them (`TsRunner`). */
export const TS_RUNNERS = [
  'node',
  'bun',
  'ts-node',
  'tsx',
  'esbuild-register',
  'esbuild-runner',
  'swc',
  'oxc',
] as const;

/**
 * A TypeScript runner: `node` (Node's own type stripping), `bun` (Bun's own), or a loader
 * package: `ts-node`, `tsx`, `esbuild-register`, `esbuild-runner`, `swc` (@swc-node/register),
 * `oxc` (@oxc-node/core).
 */
export type TsRunner = (typeof TS_RUNNERS)[number];

/** What the functions here read of a process. {@link currentEnvironment} reads this one. */
export interface RunnerEnvironment {
  /** The runtime: Bun and Deno load TypeScript by themselves. */
  readonly runtime: 'node' | 'bun' | 'deno';
  /** Node's version (`process.versions.node`; Bun and Deno give one too). */
  readonly nodeVersion: string;
  /** The process's Node options (`process.execArgv`). */
  readonly execArgv: readonly string[];
  /** `NODE_OPTIONS`, or `''`. */
  readonly nodeOptions: string;
  /**
   * `process.features.typescript` (Node 22.10+): `'strip'`, `'transform'` or `false`;
   * `undefined` where Node does not say.
   */
  readonly typescript: 'strip' | 'transform' | false | undefined;
  /** Whether ts-node registered itself in this thread (its `ts-node` command does so without any option). */
  readonly tsNodeRegistered: boolean;
  /**
   * When ts-node registered itself: the file that registers it the same way in another
   * thread (`…/ts-node/register/transpile-only.js` if it was told `--transpile-only`), from
   * the copy of ts-node this thread loaded.
   */
  readonly tsNodeRegister?: string | undefined;
  /** The directory bare preload specifiers are resolved from (`process.cwd()`). */
  readonly cwd: string;
  /** Whether this is the main thread. */
  readonly mainThread: boolean;
}

/** The environment of the current process, as the functions here read it. */
export function currentEnvironment(): RunnerEnvironment {
  const versions = process.versions as Partial<Record<string, string>>;
  const features = process.features as { readonly typescript?: unknown };
  const typescript = features.typescript;
  const tsNode = (process as unknown as Record<symbol, unknown>)[Symbol.for('ts-node.register.instance')] as
    { readonly options?: { readonly transpileOnly?: unknown } } | null | undefined;
  return {
    runtime: typeof versions['bun'] === 'string' ? 'bun' : 'Deno' in globalThis ? 'deno' : 'node',
    nodeVersion: versions['node'] ?? '0.0.0',
    execArgv: [...process.execArgv],
    nodeOptions: process.env['NODE_OPTIONS'] ?? '',
    typescript: typescript === 'strip' || typescript === 'transform' || typescript === false ? typescript : undefined,
    tsNodeRegistered: tsNode != null,
    tsNodeRegister: tsNode == null ? undefined : tsNodeRegister(tsNode.options?.transpileOnly === true),
    cwd: process.cwd(),
    mainThread: isMainThread,
  };
}

/**
 * The file that registers the copy of ts-node this thread loaded (found among the modules
 * `require()` loaded), as it was registered here, or `undefined`.
 */
function tsNodeRegister(transpileOnly: boolean): string | undefined {
  let loaded: string[];
  try {
    loaded = Object.keys(createRequire(join(process.cwd(), 'noop.js')).cache);
  } catch {
    return undefined;
  }
  const pattern = /^(.*[\\/]ts-node)[\\/]dist[\\/]index\.js$/;
  for (const file of loaded) {
    const root = pattern.exec(file)?.[1];
    if (root === undefined) continue;
    const entry = join(root, 'register', transpileOnly ? 'transpile-only.js' : 'index.js');
    if (existsSync(entry)) return entry;
  }
  return undefined;
}

/**
 * Compares two versions (`'22.6'`, `'v20.19.0'`) part by part: negative when `a` is
 * older than `b`, 0 when they are equal (missing parts count as 0), positive when newer.
 */
export function compareVersions(a: string, b: string): number {
  const parse = (version: string): number[] =>
    version
      .replace(/^v/, '')
      .split(/[.+-]/)
      .slice(0, 3)
      .map((part) => Number.parseInt(part, 10) || 0);
  const left = parse(a);
  const right = parse(b);
  for (let index = 0; index < 3; index++) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/**
 * Splits `NODE_OPTIONS` into options the way Node does: at white space, except inside
 * double quotes, where a backslash escapes the next character.
 */
export function splitNodeOptions(text: string): string[] {
  const options: string[] = [];
  let current = '';
  let quoted = false;
  let started = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index] ?? '';
    if (quoted && char === '\\' && index + 1 < text.length) {
      current += text[++index] ?? '';
    } else if (char === '"') {
      quoted = !quoted;
      started = true;
    } else if (!quoted && /\s/.test(char)) {
      if (started) options.push(current);
      current = '';
      started = false;
    } else {
      current += char;
      started = true;
    }
  }
  if (started) options.push(current);
  return options;
}

/** The options that preload a module, in any of their spellings. */
const PRELOAD_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);

/** A module preloaded by a Node option: `--import tsx` is `{ flag: '--import', specifier: 'tsx' }`. */
export interface Preload {
  readonly flag: '--import' | '--require' | '--loader';
  readonly specifier: string;
}

/** The modules `args` preload (`--import x`, `--import=x`, `-r x`, `--experimental-loader x`…), in order. */
export function preloadsOf(args: readonly string[]): Preload[] {
  const found: Preload[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    const equals = arg.indexOf('=');
    const flag = equals === -1 ? arg : arg.slice(0, equals);
    if (!PRELOAD_FLAGS.has(flag)) continue;
    const specifier = equals === -1 ? args[++index] : arg.slice(equals + 1);
    if (specifier === undefined) break;
    found.push({
      flag: flag === '-r' ? '--require' : flag === '--experimental-loader' ? '--loader' : (flag as Preload['flag']),
      specifier,
    });
  }
  return found;
}

/** Each runner's package name, and the entry points of it that are preloaded. */
const RUNNER_PACKAGES: readonly (readonly [Exclude<TsRunner, 'node' | 'bun'>, string])[] = [
  ['tsx', 'tsx'],
  ['ts-node', 'ts-node'],
  ['esbuild-register', 'esbuild-register'],
  ['esbuild-runner', 'esbuild-runner'],
  ['swc', '@swc-node/register'],
  ['oxc', '@oxc-node/core'],
];

/**
 * The runner a preloaded module belongs to: by its package name (`tsx`, `tsx/esm`,
 * `ts-node/esm`, `@swc-node/register/esm-register`…) or by a path or URL into that package
 * (`file:///…/node_modules/tsx/dist/loader.mjs`, as the `tsx` command preloads it).
 */
export function runnerOfSpecifier(specifier: string): TsRunner | undefined {
  let path = specifier;
  if (specifier.startsWith('file:')) {
    try {
      path = fileURLToPath(specifier);
    } catch {
      return undefined;
    }
  }
  const slashed = path.split(sep).join('/');
  for (const [runner, name] of RUNNER_PACKAGES) {
    if (slashed === name || slashed.startsWith(`${name}/`)) return runner;
    if (slashed.includes(`/node_modules/${name}/`)) return runner;
  }
  return undefined;
}

/**
 * What Node does with TypeScript by itself in this environment: `'strip'` or `'transform'`
 * (it loads `.ts` files, stripping or transforming types), `'off'` (it could, but was told
 * not to: `--no-experimental-strip-types`, or Node 22.6–23.5 without the flag), or
 * `'unsupported'` (Node before 22.6). Bun and Deno load TypeScript themselves: `'strip'`.
 */
export function typeStripping(
  environment: RunnerEnvironment = currentEnvironment(),
): 'strip' | 'transform' | 'off' | 'unsupported' {
  if (environment.runtime !== 'node') return 'strip';
  if (compareVersions(environment.nodeVersion, STRIP_TYPES_VERSION) < 0) return 'unsupported';
  if (environment.typescript !== undefined) return environment.typescript === false ? 'off' : environment.typescript;
  // Before Node 22.10, the options say (the last of them wins).
  const args = [...splitNodeOptions(environment.nodeOptions), ...environment.execArgv];
  let state: 'strip' | 'transform' | 'off' =
    compareVersions(environment.nodeVersion, DEFAULT_STRIP_VERSION) >= 0 ? 'strip' : 'off';
  for (const arg of args) {
    if (arg === '--experimental-strip-types') state = state === 'transform' ? 'transform' : 'strip';
    else if (arg === '--experimental-transform-types') state = 'transform';
    else if (arg === '--no-experimental-strip-types') state = 'off';
  }
  return state;
}

/** The first Node with type stripping (behind `--experimental-strip-types`). */
const STRIP_TYPES_VERSION = '22.6';
/** The first Node with `--experimental-transform-types`. */
const TRANSFORM_TYPES_VERSION = '22.7';
/** The first Node that strips types without being asked. */
const DEFAULT_STRIP_VERSION = '23.6';

/** A runner this process runs TypeScript under, and how it was seen. */
export interface DetectedRunner {
  readonly runner: TsRunner;
  /**
   * Where it was seen: a preload in `process.execArgv` or in `NODE_OPTIONS`, the
   * `runtime` itself (Bun, or Node's type stripping), or a `marker` the runner left
   * (ts-node registered in this thread by its `ts-node` command, with no option).
   */
  readonly source: 'execArgv' | 'NODE_OPTIONS' | 'runtime' | 'marker';
  /**
   * The preloads that load it, as options (`['--import', 'tsx']`); empty for the runtime
   * and for a marker.
   */
  readonly flags: readonly string[];
}

/**
 * The TypeScript runners this process runs under, in the order Node applies them: the
 * preloads of `NODE_OPTIONS`, then those of `process.execArgv` (one entry per runner,
 * with all of its preloads), then ts-node's marker if no option loads it, then the
 * runtime's own (`bun`, or `node` when Node strips types). Empty under plain Node 20, and
 * under Deno (which loads TypeScript by itself, and has no name in synckit's list).
 */
export function detectRunners(environment: RunnerEnvironment = currentEnvironment()): DetectedRunner[] {
  const found = new Map<TsRunner, { source: DetectedRunner['source']; flags: string[] }>();
  const sources: readonly (readonly [DetectedRunner['source'], readonly string[]])[] = [
    ['NODE_OPTIONS', splitNodeOptions(environment.nodeOptions)],
    ['execArgv', environment.execArgv],
  ];
  for (const [source, args] of sources) {
    for (const preload of preloadsOf(args)) {
      const runner = runnerOfSpecifier(preload.specifier);
      if (runner === undefined) continue;
      const entry = found.get(runner) ?? { source, flags: [] };
      entry.flags.push(preload.flag, preload.specifier);
      found.set(runner, entry);
    }
  }
  if (environment.tsNodeRegistered && !found.has('ts-node')) found.set('ts-node', { source: 'marker', flags: [] });
  if (environment.runtime === 'bun') found.set('bun', { source: 'runtime', flags: [] });
  else if (environment.runtime === 'node') {
    const stripping = typeStripping(environment);
    if ((stripping === 'strip' || stripping === 'transform') && !found.has('node')) {
      found.set('node', { source: 'runtime', flags: [] });
    }
  }
  return [...found].map(([runner, { source, flags }]) => ({ runner, source, flags }));
}

/**
 * The runner this process loads TypeScript with: the first loader package it preloads
 * (or that registered itself), else the runtime's own (`bun`, or `node` when Node strips
 * types), else `undefined` (plain Node 20, where `.ts` files do not load; and Deno).
 */
export function detectRunner(environment: RunnerEnvironment = currentEnvironment()): DetectedRunner | undefined {
  return detectRunners(environment)[0];
}

/**
 * Whether `runner` is one of {@link TS_RUNNERS}. (To check a user's option with a clear
 * error, see {@link checkTsRunner}.)
 */
export function isTsRunner(runner: unknown): runner is TsRunner {
  return typeof runner === 'string' && (TS_RUNNERS as readonly string[]).includes(runner);
}

/**
 * Checks a runner given by a user (`what` names the option in the message).
 *
 * @throws {TypeError} ``Unknown ts runner: expected `tsRunner` to be one of 'node', 'bun', …, got `'x'` (string)``.
 */
export function checkTsRunner(runner: unknown, what = 'tsRunner'): TsRunner {
  if (isTsRunner(runner)) return runner;
  throw new TypeError(
    `Unknown ts runner: expected \`${what}\` to be one of ${TS_RUNNERS.map((name) => `'${name}'`).join(', ')}, got ${describe(runner)}`,
  );
}

/** Options of {@link runnerExecArgv}. */
export interface RunnerExecArgvOptions {
  /**
   * Whether the TypeScript the worker loads is an ES module (`.mts`, or `.ts` under a
   * `package.json` of `"type": "module"`; see {@link isEsmPath}). Decides, for runners with
   * both, between their ES module hook and their `require` hook.
   * @default true
   */
  readonly esm?: boolean;
  /**
   * The worker's own options; the runner's preload is put before them unless they have
   * one of that kind already (synckit's rule).
   * @default []
   */
  readonly execArgv?: readonly string[];
  /** The environment to decide for. @default currentEnvironment() */
  readonly environment?: RunnerEnvironment;
}

/**
 * The options (`execArgv`) a worker thread needs to load TypeScript with `runner`: the
 * given options with the runner's preload in front, as synckit adds them:
 *
 * | runner | ES module | CommonJS |
 * |---|---|---|
 * | `node` | `--experimental-transform-types` on Node 22.7–23.5, `--experimental-strip-types` on 22.6, nothing from 23.6 | same |
 * | `bun` | nothing | nothing |
 * | `ts-node` | `--loader ts-node/esm` | `-r ts-node/register` |
 * | `tsx` | `--import tsx` | `--import tsx` |
 * | `esbuild-register` | `--loader esbuild-register/loader` | `-r esbuild-register` |
 * | `esbuild-runner` | `-r esbuild-runner/register` | same |
 * | `swc` | `--import @swc-node/register/esm-register` | `-r @swc-node/register` |
 * | `oxc` | `--import @oxc-node/core/register` | same |
 *
 * An option of the same kind already there (any `--import` for tsx, any `-r` for a
 * `require` hook…) is taken to be the runner's, and nothing is added.
 *
 * @throws {Error} for `node` where Node cannot strip types: "type stripping is not
 *   supported in this node version …" (before 22.6) or "type stripping is disabled
 *   explicitly …" (`--no-experimental-strip-types`, or 22.6–23.5 told nothing).
 * @throws {TypeError} for a runner not in {@link TS_RUNNERS}.
 * @example
 * ```ts
 * runnerExecArgv('ts-node', { esm: false }); // ['-r', 'ts-node/register']
 * ```
 */
export function runnerExecArgv(runner: TsRunner, options: RunnerExecArgvOptions = {}): string[] {
  const checked = checkTsRunner(runner, 'runner');
  const environment = options.environment ?? currentEnvironment();
  const esm = options.esm ?? true;
  const execArgv = [...(options.execArgv ?? [])];
  const kinds = new Set(preloadsOf(execArgv).map((preload) => preload.flag));
  const add = (flag: Preload['flag'], specifier: string, short = false): string[] =>
    kinds.has(flag) ? execArgv : [short ? '-r' : flag, specifier, ...execArgv];
  switch (checked) {
    case 'bun':
      return execArgv;
    case 'node': {
      if (environment.runtime !== 'node') return execArgv;
      const stripping = typeStripping(environment);
      if (stripping === 'unsupported') {
        throw new Error(
          `type stripping is not supported in this node version (Node ${environment.nodeVersion}; it came with Node ${STRIP_TYPES_VERSION}): use a TypeScript runner such as 'tsx' instead, or compile to JavaScript`,
        );
      }
      if (compareVersions(environment.nodeVersion, DEFAULT_STRIP_VERSION) >= 0) {
        if (stripping === 'off' || execArgv.includes('--no-experimental-strip-types')) {
          throw new Error(
            "type stripping is disabled explicitly (--no-experimental-strip-types): remove that option, or use a TypeScript runner such as 'tsx'",
          );
        }
        return execArgv;
      }
      if (execArgv.includes('--experimental-strip-types') || execArgv.includes('--experimental-transform-types')) {
        return execArgv;
      }
      if (execArgv.includes('--no-experimental-strip-types')) {
        throw new Error(
          "type stripping is disabled explicitly (--no-experimental-strip-types): remove that option, or use a TypeScript runner such as 'tsx'",
        );
      }
      return compareVersions(environment.nodeVersion, TRANSFORM_TYPES_VERSION) >= 0
        ? ['--experimental-transform-types', ...execArgv]
        : ['--experimental-strip-types', ...execArgv];
    }
    case 'ts-node':
      return esm ? add('--loader', 'ts-node/esm') : add('--require', 'ts-node/register', true);
    case 'tsx':
      return add('--import', 'tsx');
    case 'esbuild-register':
      return esm ? add('--loader', 'esbuild-register/loader') : add('--require', 'esbuild-register', true);
    case 'esbuild-runner':
      return add('--require', 'esbuild-runner/register', true);
    case 'swc':
      return esm ? add('--import', '@swc-node/register/esm-register') : add('--require', '@swc-node/register', true);
    case 'oxc':
      return add('--import', '@oxc-node/core/register');
  }
}

/**
 * The runner a worker should use when none is given, as synckit chooses it: `bun` on Bun;
 * `node` where Node strips types (not turned off); else `ts-node` if it can be found from
 * `environment.cwd`; else `undefined`.
 */
export function defaultRunner(environment: RunnerEnvironment = currentEnvironment()): TsRunner | undefined {
  if (environment.runtime === 'bun') return 'bun';
  const stripping = typeStripping(environment);
  if (stripping === 'strip' || stripping === 'transform') return 'node';
  return isPackageAvailable('ts-node', environment.cwd) ? 'ts-node' : undefined;
}

/** Whether the package `name` can be found from the directory `from`. */
export function isPackageAvailable(name: string, from: string): boolean {
  try {
    createRequire(join(from, 'noop.js')).resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
}

/** Whether `path` (or file URL) names a TypeScript file: `.ts`, `.mts`, `.cts`, `.tsx`. */
export function isTypeScriptPath(path: string): boolean {
  return /\.(?:[cm]?ts|tsx)$/i.test(path.replace(/[?#].*$/, ''));
}

/**
 * Whether the file at `path` (or file URL) is an ES module by Node's rules: `.mjs` or
 * `.mts`; `.cjs` and `.cts` are not; any other is if the nearest `package.json` says
 * `"type": "module"`.
 */
export function isEsmPath(path: string): boolean {
  const file = path.startsWith('file:') ? fileURLToPath(path) : path;
  const extension = extname(file).toLowerCase();
  if (extension === '.mjs' || extension === '.mts') return true;
  if (extension === '.cjs' || extension === '.cts') return false;
  for (let directory = dirname(file); ; directory = dirname(directory)) {
    const manifest = join(directory, 'package.json');
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: unknown } | null)?.type === 'module';
      } catch {
        // An unreadable package.json: look further up, as Node does not, but harmlessly.
      }
    }
    if (dirname(directory) === directory) return false;
  }
}

/**
 * Node options that a worker thread cannot be given, or refuses to inherit: the code of
 * `-e`/`--eval`/`-p`/`--print` (and `-i`, `-c`), and `--input-type`, with which Node refuses
 * to start a worker from a file (`--input-type can only be used with string input`).
 */
const NOT_FOR_WORKERS = new Set(['--input-type']);
const NOT_FOR_WORKERS_WITH_VALUE = new Set(['-e', '--eval', '-p', '--print']);
const NOT_FOR_WORKERS_ALONE = new Set(['-i', '--interactive', '-c', '--check']);

/**
 * `execArgv` without the options a worker thread started from a file cannot take:
 * `--input-type` (Node refuses to start such a worker when it is inherited), the code of
 * `-e`/`--eval`/`-p`/`--print`, `-i` and `-c`. The rest is kept in order.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let index = 0; index < execArgv.length; index++) {
    const arg = execArgv[index] ?? '';
    const equals = arg.indexOf('=');
    const flag = equals === -1 ? arg : arg.slice(0, equals);
    if (NOT_FOR_WORKERS.has(flag)) {
      if (equals === -1) index++;
      continue;
    }
    if (NOT_FOR_WORKERS_WITH_VALUE.has(flag)) {
      if (equals === -1) index++;
      continue;
    }
    if (NOT_FOR_WORKERS_ALONE.has(arg)) continue;
    kept.push(arg);
  }
  return kept;
}

/**
 * Whether a worker thread that inherits this process's options would be refused by Node
 * (`--input-type` among them): such a worker must be given {@link workerExecArgv}.
 */
export function mustFilterExecArgv(execArgv: readonly string[]): boolean {
  return execArgv.some((arg) => arg === '--input-type' || arg.startsWith('--input-type='));
}

/**
 * Preloads a worker thread needs, beyond the options it inherits from this thread, to load
 * TypeScript as this thread does: `-r …/ts-node/register/….js` when ts-node registered
 * itself here (its `ts-node` command, which loads it without any Node option a worker
 * would inherit). Empty in every other case: preloads given as options reach worker threads
 * by themselves (tsx on Node 20 also needs {@link registerThreadHooks} there).
 */
export function missingPreloads(environment: RunnerEnvironment = currentEnvironment()): string[] {
  if (environment.runtime !== 'node' || environment.tsNodeRegister === undefined) return [];
  const detected = detectRunners(environment).find((found) => found.runner === 'ts-node');
  return detected?.source === 'marker' ? ['--require', environment.tsNodeRegister] : [];
}

/** A module that registers a runner's ES module hooks, and the thread that must import it. */
export interface ThreadHooks {
  readonly runner: TsRunner;
  /** The file URL of the module that exports `register()`. */
  readonly module: string;
}

/**
 * Node versions from which tsx registers its ES module hooks in worker threads too (before
 * them, only in the main thread): one per release line, and every later line.
 */
const TSX_WORKER_HOOKS: readonly string[] = ['22.22.3', '24.11.1', '25.1.0', '26.0.0'];

/** Whether tsx's preload registers its ES module hooks in a worker thread on this Node. */
function tsxHooksInWorkers(version: string): boolean {
  const major = Number.parseInt(version.replace(/^v/, ''), 10);
  for (const from of TSX_WORKER_HOOKS) {
    if (Number.parseInt(from, 10) === major) return compareVersions(version, from) >= 0;
  }
  const last = TSX_WORKER_HOOKS[TSX_WORKER_HOOKS.length - 1] ?? '0';
  return compareVersions(version, last) >= 0;
}

/**
 * The ES module hooks this thread must register itself before it imports TypeScript, if
 * any: under tsx, in a worker thread, on a Node where tsx's preload registers them only in
 * the main thread (all of Node 20; Node 22 before 22.22.3, 24 before 24.11.1). Its
 * `require` hooks are registered in every thread already. `undefined` in every other case,
 * and when tsx's API cannot be found.
 */
export function threadHooks(environment: RunnerEnvironment = currentEnvironment()): ThreadHooks | undefined {
  if (environment.runtime !== 'node' || environment.mainThread) return undefined;
  if (tsxHooksInWorkers(environment.nodeVersion)) return undefined;
  const tsx = detectRunners(environment).find((found) => found.runner === 'tsx' && found.flags.length > 0);
  if (tsx === undefined) return undefined;
  // Resolved from the preloaded file when it is a path into the package (the `tsx` command),
  // else from the working directory, as Node resolved the preload.
  const specifiers = preloadsOf(tsx.flags).map((preload) => preload.specifier);
  for (const specifier of specifiers) {
    const base = specifier.startsWith('file:')
      ? fileURLToPath(specifier)
      : specifier.startsWith('/') || /^[A-Za-z]:[\\/]/.test(specifier) || specifier.startsWith('.')
        ? join(environment.cwd, specifier)
        : join(environment.cwd, 'noop.js');
    const module = resolveImport('tsx', './esm/api', base);
    if (module !== undefined) return { runner: 'tsx', module };
  }
  return undefined;
}

/**
 * The file URL that `import 'name/subpath'` would load from the file `base`: the package
 * found as `require()` finds it, and the subpath through its `exports` with the conditions
 * of `import` (its `require` entry may be another file: tsx's CommonJS API registers hooks
 * that cannot be found from a worker thread). `undefined` if it cannot be found.
 */
function resolveImport(name: string, subpath: string, base: string): string | undefined {
  let manifest: string;
  let exports: unknown;
  try {
    manifest = createRequire(base).resolve(`${name}/package.json`);
    exports = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: unknown } | null)?.exports;
  } catch {
    return undefined;
  }
  let target: unknown =
    typeof exports === 'object' && exports !== null ? (exports as Record<string, unknown>)[subpath] : undefined;
  for (let depth = 0; depth < 8 && typeof target === 'object' && target !== null; depth++) {
    const conditions = target as Record<string, unknown>;
    const key = ['node', 'import', 'default'].find((condition) => condition in conditions);
    target = key === undefined ? undefined : conditions[key];
  }
  if (typeof target !== 'string' || !target.startsWith('./')) return undefined;
  const file = join(dirname(manifest), target);
  return existsSync(file) ? pathToFileURL(file).href : undefined;
}

/** Hooks registered in this thread already, by module URL. */
const registered = new Map<string, Promise<void>>();

/**
 * Registers the hooks {@link threadHooks} names in this thread, once; a no-op when there are
 * none. A failure to register is not thrown: the import that needed them fails instead,
 * with its own error.
 *
 * @returns the runner whose hooks were registered, or `undefined`.
 */
export async function registerThreadHooks(
  environment: RunnerEnvironment = currentEnvironment(),
): Promise<TsRunner | undefined> {
  const hooks = threadHooks(environment);
  if (hooks === undefined) return undefined;
  let registering = registered.get(hooks.module);
  if (registering === undefined) {
    registering = import(hooks.module).then(
      (api: { register?: unknown }) => {
        try {
          if (typeof api.register === 'function') (api.register as () => unknown)();
        } catch {
          // The import that needed the hooks fails with its own error.
        }
      },
      () => undefined,
    );
    registered.set(hooks.module, registering);
  }
  await registering;
  return hooks.runner;
}
