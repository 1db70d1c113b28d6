// Runs one of the compiled examples: `npm run example -- <name> [args...]`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const directory = fileURLToPath(new URL('../build/examples/', import.meta.url));
const [name, ...args] = process.argv.slice(2);
const available = existsSync(directory)
  ? readdirSync(directory)
      .filter((file) => file.endsWith('.js') && !file.endsWith('.test.js'))
      .map((file) => file.slice(0, -3))
  : [];
if (name === undefined || !available.includes(name)) {
  console.error(`Usage: npm run example -- <name> [args...]\nExamples: ${available.join(', ') || '(none built)'}`);
  process.exit(2);
}
const result = spawnSync(process.execPath, [`${directory}${name}.js`, ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
