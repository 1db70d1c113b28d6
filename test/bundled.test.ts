/**
 * crochet bundled into an application's own file (esbuild, crochet not external), as a
 * command-line tool ships: its thread entry files are then missing, and it starts its
 * threads from the application's bundle and from source kept in its own bundle.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { exitOf, fixture, lastJson } from './helpers.js';
import { spawn } from 'node:child_process';

const onNode = !('Bun' in globalThis) && !('Deno' in globalThis);
const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

describe(
  'an application bundled with crochet inside',
  { skip: !onNode && 'bundles are built and run with Node' },
  () => {
    let dir: string;
    /** Bundles the module `entry` (a path) into `dir`, as `out`, crochet inside. */
    const bundle = async (entry: string, format: 'esm' | 'cjs', out: string): Promise<void> => {
      await build({
        entryPoints: [entry],
        outfile: join(dir, out),
        bundle: true,
        format,
        platform: 'node',
        target: 'node20',
        alias: { crochet: dist },
        logLevel: 'silent',
        // CommonJS has no import.meta.url: the module's own URL, for its worker.
        ...(format === 'cjs'
          ? {
              define: { 'import.meta.url': '__crochetUrl' },
              banner: { js: 'const __crochetUrl = require("node:url").pathToFileURL(__filename).href;' },
            }
          : {}),
      });
    };
    /** A module of test/fixtures/bundled-src (plain JavaScript, bundled as it is). */
    const source = (name: string): string =>
      fileURLToPath(new URL(`../../test/fixtures/bundled-src/${name}`, import.meta.url));
    before(async () => {
      dir = mkdtempSync(join(os.tmpdir(), 'crochet-bundled-'));
      await bundle(fixture('bundled-app.js'), 'esm', 'app.mjs');
      await bundle(fixture('bundled-app.js'), 'cjs', 'app.cjs');
    });
    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('runs the wrapper of the command a bundled CLI loaded lazily, never another of the same source text', async () => {
      await bundle(source('multi.cjs'), 'cjs', 'multi.cjs');
      for (const [command, expected] of [
        ['b', 'cmd b -> B handled 1'],
        ['a', 'cmd a -> A handled 1'],
      ] as const) {
        const exit = await run('multi.cjs', command);
        assert.equal(exit.code, 0, exit.stderr);
        assert.equal(exit.stdout.trim(), expected);
      }
    });

    it('starts one reactor engine when a bundle loads a plugin bundled on its own with crochet inside too', async () => {
      await bundle(source('host.mjs'), 'esm', 'host.mjs');
      await bundle(source('plugin.mjs'), 'esm', 'plugin.mjs');
      const exits = await Promise.all(Array.from({ length: 4 }, () => run('host.mjs', '')));
      for (const exit of exits) {
        assert.equal(exit.code, 0, exit.stderr);
        assert.deepEqual(lastJson(exit), { plugin: 1, sum: 1225 });
      }
    });

    const run = (file: string, mode: string) =>
      exitOf(spawn(process.execPath, [join(dir, file), mode], { stdio: ['ignore', 'pipe', 'pipe'] }), 30_000);

    for (const file of ['app.mjs', 'app.cjs']) {
      for (const mode of ['main', 'limits', 'worker']) {
        it(`runs calls from the main thread and a worker in one reactor (${file === 'app.mjs' ? 'ESM' : 'CommonJS'} bundle, reactor started by ${mode === 'worker' ? 'a worker' : mode === 'limits' ? 'the supervisor, for resource limits' : 'the main thread'})`, async () => {
          const exit = await run(file, mode);
          assert.equal(exit.code, 0, `stdout: ${exit.stdout}\nstderr: ${exit.stderr}`);
          const seen = lastJson(exit) as {
            doubled: number;
            reactor: number;
            fromWorker: { doubled: number; reactor: number };
            inMain: number;
          };
          assert.equal(seen.doubled, 42);
          assert.equal(seen.fromWorker.doubled, 10);
          assert.equal(seen.fromWorker.reactor, seen.reactor, 'one reactor serves both threads');
          assert.notEqual(seen.reactor, seen.inMain);
          // (What the reactor prints goes to the thread that started it: a worker's output
          // may not be written out before the process exits.)
          if (mode !== 'worker') assert.match(exit.stdout, /^said in the reactor$/m);
          assert.equal(exit.stderr, '');
        });
      }
    }
  },
);
