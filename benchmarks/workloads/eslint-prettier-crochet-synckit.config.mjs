// ESLint flat config of the lint workload: eslint-plugin-prettier as it is, with its two
// imports of synckit changed to crochet/synckit (the one-line migration), in a copy made in a
// temporary directory (its other imports point at the installed packages).
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const original = dirname(require.resolve('eslint-plugin-prettier'));
const synckit = fileURLToPath(new URL('../../dist/synckit.js', import.meta.url));
const copy = mkdtempSync(join(tmpdir(), 'eslint-plugin-prettier-crochet-'));
copyFileSync(join(original, 'package.json'), join(copy, 'package.json'));
const plugin = readFileSync(join(original, 'eslint-plugin-prettier.js'), 'utf8')
  .replace("require('synckit')", `require(${JSON.stringify(synckit)})`)
  .replace(
    "require('prettier-linter-helpers')",
    `require(${JSON.stringify(require.resolve('prettier-linter-helpers'))})`,
  );
const worker = readFileSync(join(original, 'worker.mjs'), 'utf8')
  .replace("from 'synckit'", `from ${JSON.stringify(pathToFileURL(synckit).href)}`)
  .replace(
    "import prettier from 'prettier'",
    `import prettier from ${JSON.stringify(import.meta.resolve('prettier'))}`,
  );
if (!plugin.includes(synckit) || !worker.includes('dist/synckit.js') || worker.includes("from 'prettier';")) {
  throw new Error('eslint-plugin-prettier no longer imports synckit as this benchmark expects');
}
writeFileSync(join(copy, 'eslint-plugin-prettier.js'), plugin);
writeFileSync(join(copy, 'worker.mjs'), worker);
const { default: prettierPlugin } = await import(pathToFileURL(join(copy, 'eslint-plugin-prettier.js')).href);

export default [{ files: ['**/*.js'], plugins: { prettier: prettierPlugin }, rules: { 'prettier/prettier': 'error' } }];
