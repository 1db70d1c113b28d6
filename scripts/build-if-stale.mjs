// Before `npm start` and `npm run example`: builds the library (`npm run build`) and the
// examples (`npm run build:test`) only when their sources are newer than the last build,
// so that starting a demo on a built tree takes a second, not two compilations.
//
// Each build leaves a stamp in build/ (which is never published) when it succeeds; a build
// is stale when its stamp is missing or older than any of its inputs. `npm test` and
// `npm run build` always build in full, whatever the stamps say.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamps = join(root, 'build', '.stamps');

/** The newest modification time among `paths` (files, or folders searched whole). */
function newest(paths) {
  let latest = 0;
  const visit = (path) => {
    if (!existsSync(path)) return;
    const stats = statSync(path);
    if (stats.isDirectory()) {
      for (const entry of readdirSync(path)) visit(join(path, entry));
    } else {
      latest = Math.max(latest, stats.mtimeMs);
    }
  };
  for (const path of paths) visit(join(root, path));
  return latest;
}

function stampTime(name) {
  const path = join(stamps, name);
  return existsSync(path) ? statSync(path).mtimeMs : -1;
}

/**
 * Runs `npm run <script>` unless its stamp is newer than `inputs` and `output` exists;
 * says whether it ran.
 */
function buildIfStale(script, inputs, output, force) {
  const name = `${script.replace(':', '-')}.stamp`;
  if (!force && existsSync(join(root, output)) && stampTime(name) > newest(inputs)) return false;
  process.stderr.write(`Sources changed since the last build: npm run ${script}\n`);
  const started = new Date();
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', '--silent', script], {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  mkdirSync(stamps, { recursive: true });
  writeFileSync(join(stamps, name), `${started.toISOString()}\n`);
  // The stamp's time is the build's start: a file saved while the build ran is newer.
  utimesSync(join(stamps, name), started, started);
  return true;
}

const config = ['package.json', 'tsconfig.base.json'];
const library = buildIfStale(
  'build',
  ['src', 'scripts/bundle.mjs', 'scripts/declarations.mjs', 'tsconfig.json', ...config],
  'dist/index.js',
  false,
);
// The examples and tests compile against the library's declarations in dist/.
buildIfStale(
  'build:test',
  ['test', 'examples', 'src', 'tsconfig.test.json', ...config],
  'build/examples/exchange-rate.js',
  library,
);
