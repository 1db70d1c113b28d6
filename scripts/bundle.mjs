// Part of `npm run build`, after tsc: bundles the library into dist/crochet.js, so that a
// thread loads one module instead of twenty (start-up is dominated by module loading),
// and points the entry points at it. dist/index.js re-exports the public API from the
// bundle, and dist/reactor-main.js starts the reactor from it: every thread that runs
// user code shares the one instance. The supervisor thread (which runs no user code) gets
// a bundle of its own; the other compiled modules stay for the type declarations.
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
/**
 * How every bundle is built: minified (names kept, for stacks and error classes), since
 * parsing is a good part of a thread's start-up.
 */
const bundled = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  minify: true,
  keepNames: true,
  logLevel: 'warning',
};
const publicNames = Object.keys(await import(pathToFileURL(`${dist}index.js`).href)).sort();

// The supervisor thread's code as one CommonJS script, kept as text in the bundle below:
// an application bundled with crochet inside has no file of it, and starts the thread with
// `new Worker(source, { eval: true })` (see src/common/home.ts).
const embedded = await build({
  entryPoints: [`${dist}supervisor/embedded.js`],
  write: false,
  format: 'cjs',
  ...bundled,
});
const supervisorSource = embedded.outputFiles[0].text;

// Every thread that runs user code loads this.
await build({
  entryPoints: [`${dist}bundle-entry.js`],
  outfile: `${dist}crochet.js`,
  format: 'esm',
  define: { CROCHET_SUPERVISOR: JSON.stringify(supervisorSource) },
  ...bundled,
});

// The supervisor's watcher, loaded by supervisor/main.js once the reactor thread is on its
// way, and the supervisor of isolated reactors (crochet/synckit): each in one file too, one
// module to load instead of nine.
for (const name of ['watch', 'isolated']) {
  await build({
    entryPoints: [`${dist}supervisor/${name}.js`],
    outfile: `${dist}supervisor/${name}.js`,
    allowOverwrite: true,
    format: 'esm',
    ...bundled,
  });
}

const synckitNames = Object.keys(await import(pathToFileURL(`${dist}synckit.js`).href)).sort();
writeFileSync(
  `${dist}synckit.js`,
  `// crochet/synckit; the code is in the bundle (see scripts/bundle.mjs).\nimport { synckit } from './crochet.js';\nexport const { ${synckitNames.join(', ')} } = synckit;\n`,
);
writeFileSync(
  `${dist}index.js`,
  `// The public API; the code is in the bundle (see scripts/bundle.mjs).\nexport { ${publicNames.join(', ')} } from './crochet.js';\n`,
);
writeFileSync(
  `${dist}reactor-main.js`,
  `// Entry module of the reactor thread.\nimport { workerData } from 'node:worker_threads';\nimport { startReactor } from './crochet.js';\nstartReactor(workerData);\n`,
);
