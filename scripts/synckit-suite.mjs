// synckit's own test suite against crochet/synckit (after `npm run build`):
//
//   node scripts/synckit-suite.mjs <synckit git directory or checkout> [work directory]
//
// None of synckit's code is kept in this repository: its `test/` folder is taken from a
// checkout of github.com/un-ts/synckit, into a work directory (a fresh temporary one by
// default), where the package named `synckit` is a shim: `lib/index.js` and `lib/index.cjs`
// (what synckit's tests and worker files import) re-export crochet/synckit, plus the few
// feature flags the tests read to decide which of them apply to this Node (synckit's own
// constants, not its contract). Jest then runs as synckit runs it (ts-jest, ES modules,
// `--experimental-vm-modules`), with no retries, and with `CI=1` so that the reliability
// test (1,000,000 calls) runs too. Its dev dependencies (jest, the TypeScript runners) are
// installed there with npm.
//
// Left out, with the reason:
// - fn.spec.ts "handling of outdated message from worker", "propagation of undefined
//   timeout", "reduction of waiting time", "unexpected message from worker": they mock
//   `receiveMessageOnPort` and `Atomics.wait` to drive synckit's own message loop;
// - helpers.spec.ts, utils.spec.ts, common.spec.ts: unit tests of synckit's internal helpers
//   (flag parsing, `setupTsRunner`, code generation of global shims, version comparison),
//   which crochet/synckit does not export;
// - fixtures/fixtures.spec.ts: runs synckit's fixtures under Yarn PnP and Bun against the
//   synckit package those fixtures install themselves.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const [source, target] = process.argv.slice(2);
if (source === undefined) {
  console.error('usage: node scripts/synckit-suite.mjs <synckit git directory or checkout> [work directory]');
  process.exit(2);
}
const work = target === undefined ? mkdtempSync(join(tmpdir(), 'synckit-suite-')) : resolve(target);
mkdirSync(join(work, 'lib'), { recursive: true });
const step = (text) => process.stderr.write(`synckit suite: ${text}\n`);

step(`synckit's tests from ${source} into ${work}`);
const archive = execFileSync('git', ['-C', source, 'archive', 'HEAD', 'test'], { maxBuffer: 1 << 28 });
execFileSync('tar', ['-x', '-C', work], { input: archive });
const commit = execFileSync('git', ['-C', source, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();

const flags = `// The feature flags synckit's tests read (synckit's own constants, not its contract).
const compareNodeVersion = (version) => {
  const mine = process.versions.node.split('.').map(Number);
  const theirs = version.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const difference = (mine[i] ?? 0) - (theirs[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
};
module.exports = {
  compareNodeVersion,
  TS_ESM_PARTIAL_SUPPORTED: compareNodeVersion('16') >= 0 && compareNodeVersion('18.19') < 0,
  MTS_SUPPORTED: compareNodeVersion('20.8') >= 0,
  STRIP_TYPES_NODE_VERSION: '22.6',
  NO_STRIP_TYPES_FLAG: '--no-experimental-strip-types',
};
`;
const types = `export * from 'crochet/synckit';
export declare const compareNodeVersion: (version: string) => number;
export declare const TS_ESM_PARTIAL_SUPPORTED: boolean;
export declare const MTS_SUPPORTED: boolean;
export declare const STRIP_TYPES_NODE_VERSION = '22.6';
export declare const NO_STRIP_TYPES_FLAG = '--no-experimental-strip-types';
export type StdioChunk = unknown;
export type WorkerToMainMessage<T> = { id: number; result?: T };
`;
writeFileSync(join(work, 'lib', 'flags.cjs'), flags);
writeFileSync(
  join(work, 'lib', 'index.js'),
  `export { createSyncFn, runAsWorker, TsRunner } from 'crochet/synckit';
import flags from './flags.cjs';
export const { compareNodeVersion, TS_ESM_PARTIAL_SUPPORTED, MTS_SUPPORTED, STRIP_TYPES_NODE_VERSION, NO_STRIP_TYPES_FLAG } = flags;
`,
);
writeFileSync(
  join(work, 'lib', 'index.cjs'),
  `module.exports = { ...require('crochet/synckit'), ...require('./flags.cjs') };\n`,
);
writeFileSync(join(work, 'lib', 'index.d.ts'), types);
writeFileSync(join(work, 'lib', 'index.d.cts'), types);
writeFileSync(
  join(work, 'tsconfig.json'),
  JSON.stringify(
    {
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        isolatedModules: true,
        esModuleInterop: true,
        strict: false,
        skipLibCheck: true,
        types: ['jest', 'node'],
        paths: { synckit: ['./lib/index'] },
      },
    },
    null,
    2,
  ),
);
writeFileSync(
  join(work, 'package.json'),
  JSON.stringify(
    {
      name: 'synckit',
      private: true,
      type: 'module',
      exports: {
        import: { types: './lib/index.d.ts', default: './lib/index.js' },
        require: { types: './lib/index.d.cts', default: './lib/index.cjs' },
      },
      jest: {
        preset: 'ts-jest',
        testEnvironment: 'node',
        extensionsToTreatAsEsm: ['.ts'],
        moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1', '^synckit$': '<rootDir>/lib/index.js' },
        transform: { '^.+\\.tsx?$': ['ts-jest', { useESM: true }] },
      },
    },
    null,
    2,
  ),
);

if (!existsSync(join(work, 'node_modules', 'jest'))) {
  step('npm install (jest, ts-jest, the TypeScript runners synckit tests)');
  execFileSync(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '-D',
      'jest@29',
      'ts-jest@29',
      '@jest/globals@29',
      '@types/jest@29',
      'typescript@5',
      '@types/node@20',
      '@pkgr/core',
      'eslint@9',
      'ts-node',
      'tsx',
      'esbuild',
      'esbuild-register',
      'esbuild-runner',
      '@swc-node/register',
      '@swc/core',
      '@oxc-node/core',
    ],
    { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}
const link = join(work, 'node_modules', 'crochet');
if (!existsSync(link)) symlinkSync(root, link);

const leftOut = [
  'handling of outdated message from worker',
  'propagation of undefined timeout',
  'reduction of waiting time',
  'unexpected message from worker',
];
step(`jest, synckit ${commit.slice(0, 12)}, Node ${process.version}`);
const result = spawnSync(
  process.execPath,
  [
    '--experimental-vm-modules',
    join(work, 'node_modules', 'jest', 'bin', 'jest.js'),
    'test/fn.spec.ts',
    'test/ts-runner.spec.ts',
    'test/reliability.spec.ts',
    '--verbose',
    '-t',
    `^(?!(${leftOut.join('|')})$)`,
  ],
  { cwd: work, stdio: 'inherit', env: { ...process.env, CI: '1' } },
);
process.exitCode = result.status ?? 1;
