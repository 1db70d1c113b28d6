// Part of `npm run build`, after tsc: keeps only the type declarations that the public
// API reaches from dist/index.d.ts and dist/synckit.d.ts, and checks that they import nothing but each other.
//
// tsc leaves the internals out of the public modules' declarations (`@internal`, with
// `stripInternal`), so what users' compilers read never mentions `node:` modules: a
// TypeScript consumer needs no `@types/node` for crochet's types. The declarations of
// internal modules are deleted, since nothing public reaches them and they may refer to
// what was left out.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const reached = new Set();
const problems = [];
// The entry points: crochet, and crochet/synckit.
const pending = [join(dist, 'index.d.ts'), join(dist, 'synckit.d.ts')];
while (pending.length > 0) {
  const file = pending.pop();
  if (reached.has(file)) continue;
  reached.add(file);
  const text = readFileSync(file, 'utf8')
    // Examples in doc comments import things too.
    .replace(/\/\*[\s\S]*?\*\//g, '');
  for (const [, specifier] of text.matchAll(/(?:\bfrom|\bimport\s*\(|\bimport)\s*['"]([^'"]+)['"]/g)) {
    if (specifier.startsWith('.')) {
      pending.push(join(dirname(file), specifier.replace(/\.js$/, '.d.ts')));
    } else {
      problems.push(`${relative(dist, file)} imports '${specifier}'`);
    }
  }
  if (/\/\/\/\s*<reference\s+types=/.test(text)) problems.push(`${relative(dist, file)} references a types package`);
  if (/\bNodeJS\./.test(text)) problems.push(`${relative(dist, file)} uses the NodeJS namespace of @types/node`);
}
if (problems.length > 0) {
  console.error(
    `The public type declarations must stand alone (users need not install @types/node):\n  ${problems.join('\n  ')}\nMark internal exports of public modules \`@internal\`, and spell out the few Node types the API shows.`,
  );
  process.exit(1);
}

const remove = (directory) => {
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) remove(path);
    else if (path.endsWith('.d.ts') && !reached.has(path)) {
      rmSync(path);
      rmSync(`${path}.map`, { force: true });
    }
  }
};
remove(dist);
