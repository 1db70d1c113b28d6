/**
 * Applications run under TypeScript runners and other Node options that the threads crochet
 * starts must get right: each runs in a child process, with a TypeScript fixture run as it
 * is (not compiled), whose wrappers the reactor finds by importing it under the same runner.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { typeStripping } from '../src/common/runners.js';
import { exitOf, fixture, lastJson, type Exit } from './helpers.js';

const require = createRequire(import.meta.url);
const onNode = typeof process.versions['bun'] !== 'string' && !('Deno' in globalThis);
const notNode = !onNode && 'TypeScript runners are Node packages; Bun and Deno load TypeScript themselves';

/** The TypeScript sources of the fixtures (the build has only their compiled copies). */
const esmApp = fileURLToPath(new URL('../../test/fixtures/ts-app.ts', import.meta.url));
const cjsApp = fileURLToPath(new URL('../../test/fixtures/ts-cjs/app.ts', import.meta.url));

/** Runs `node ...args` in a child process (killed after a minute), with `env` added. */
function node(args: readonly string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<Exit> {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (input !== undefined) child.stdin?.end(input);
  return exitOf(child, 60_000);
}

/** Checks that the fixture's wrappers ran in the reactor: a waitFor call and a runInReactor result. */
function assertServed(exit: Exit): void {
  assert.equal(exit.code, 0, exit.stderr);
  assert.deepEqual(lastJson(exit), { length: 5, inReactor: true }, exit.stdout + exit.stderr);
}

// ts-node checks types unless told not to; these tests are about loading, and checking
// the fixtures against this package's own tsconfig.json would only be slow.
const transpileOnly = { TS_NODE_TRANSPILE_ONLY: 'true' };

describe('applications written in TypeScript, run as they are', { skip: notNode }, () => {
  it('serves an ES module application run with node --import tsx (on Node 20, tsx registers its hooks only in the main thread)', async () => {
    assertServed(await node(['--import', 'tsx', esmApp]));
  });

  it('serves an ES module application run by the tsx command', async () => {
    assertServed(await node([require.resolve('tsx/cli'), esmApp]));
  });

  it('serves an ES module application under node --import tsx whose reactor its supervisor starts (resource limits)', async () => {
    assertServed(await node(['--import', 'tsx', esmApp, 'limits']));
  });

  it('serves an ES module application run with node --loader ts-node/esm', async () => {
    assertServed(await node(['--no-warnings', '--loader', 'ts-node/esm', esmApp], transpileOnly));
  });

  it('serves a CommonJS application run with node --import tsx and by the tsx command', async () => {
    assertServed(await node(['--import', 'tsx', cjsApp]));
    assertServed(await node([require.resolve('tsx/cli'), cjsApp]));
  });

  it('serves a CommonJS application run with node -r ts-node/register', async () => {
    assertServed(await node(['-r', 'ts-node/register', cjsApp], transpileOnly));
  });

  it('serves a CommonJS application run by the ts-node command, which registers ts-node without any option a thread inherits', async () => {
    assertServed(await node([require.resolve('ts-node/dist/bin.js'), '--transpile-only', cjsApp]));
  });

  it(
    "serves an ES module application run with Node's own type stripping",
    {
      skip:
        onNode &&
        !['strip', 'transform'].includes(typeStripping()) &&
        `Node ${process.versions.node} does not strip types here`,
    },
    async () => {
      assertServed(await node([esmApp]));
    },
  );
});

describe('code run with node --input-type=module', { skip: notNode }, () => {
  // Node starts no worker thread from a file with --input-type among its inherited options.
  const code = `
    import { setup, shutdown } from 'crochet';
    import { negate } from ${JSON.stringify(new URL('./fixtures/input-type-module.js', import.meta.url).href)};
    setup({ startupTimeout: 20_000 });
    console.log(JSON.stringify({ negated: negate(4) }));
    shutdown();
    console.log('shut down');
  `;

  it('calls a wrapper of a module it imports, and shuts down, with -e', async () => {
    const exit = await node(['--input-type=module', '-e', code]);
    assert.equal(exit.code, 0, exit.stderr);
    assert.deepEqual(exit.stdout.trim().split('\n'), ['{"negated":-4}', 'shut down']);
  });

  it('calls a wrapper of a module it imports, and shuts down, from standard input, with a preload', async () => {
    const exit = await node(['--input-type=module', '--import', fixture('input-type-preload.js')], {}, code);
    assert.equal(exit.code, 0, exit.stderr);
    assert.deepEqual(exit.stdout.trim().split('\n'), ['preloaded', '{"negated":-4}', 'shut down']);
  });
});
