// How fast each fault reaches the blocked caller: `node benchmarks/faults.mjs` (after
// `npm run build`). Each fault runs ROUNDS times (default 5), each in a process of its own
// (benchmarks/faults/case.mjs), which measures from the moment of the fault (stamped where
// it happens: in the reactor, or by the thread that ends the reactor's starter) to the
// error the caller gets. Prints a markdown table and writes benchmarks/faults-results.json.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROUNDS = Number(process.env.ROUNDS || 5);
const FAULTS = {
  exit: 'reactor code calls process.exit()',
  uncaught: 'an error nothing handles ends the reactor',
  oom: 'the reactor runs out of memory (resourceLimits: 64 MB)',
  'starter-exit': 'the worker that started the reactor exits',
  'starter-terminate': 'the worker that started the reactor is terminated',
  print: 'reactor code prints without end (a 1 s waitFor timeout)',
  deep: 'a result nested 20,000 levels deep',
  getter: 'an error whose cause getter throws',
};
const script = fileURLToPath(new URL('./faults/case.mjs', import.meta.url));
const tmp = mkdtempSync(join(os.tmpdir(), 'crochet-faults-'));
const resultFile = join(tmp, 'result.json');
const rows = [];
for (const [fault, what] of Object.entries(FAULTS)) {
  const runs = [];
  for (let round = 0; round < ROUNDS; round++) {
    rmSync(resultFile, { force: true });
    const child = spawnSync(process.execPath, [script, fault, resultFile], { stdio: 'ignore', timeout: 60_000 });
    let line;
    try {
      line = readFileSync(resultFile, 'utf8');
    } catch {
      line = undefined;
    }
    const seen = line === undefined ? undefined : JSON.parse(line);
    runs.push(seen);
    process.stderr.write(`${fault}: ${line ?? `no result (exit ${child.status}, ${child.signal})`}\n`);
  }
  const ms = runs
    .filter((run) => run?.ok === false && typeof run.ms === 'number')
    .map((run) => run.ms)
    .sort((a, b) => a - b);
  const codes = [...new Set(runs.map((run) => run?.code ?? (run?.ok === false ? 'the error itself' : 'no error')))];
  rows.push({
    fault,
    what,
    codes,
    runs: runs.length,
    failedToMeasure: runs.length - ms.length,
    median: ms[Math.floor(ms.length / 2)],
    max: ms.at(-1),
  });
}
const results = {
  date: new Date().toISOString(),
  machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, os: `${os.platform()} ${os.release()}` },
  node: process.version,
  rounds: ROUNDS,
  units: 'ms from the fault to the error in the blocked caller',
  rows,
};
rmSync(tmp, { recursive: true, force: true });
// Laid out as the repository's prettier would (when it is installed), so that the file
// passes `npm run format:check` as written.
const out = new URL('./faults-results.json', import.meta.url);
let json = `${JSON.stringify(results, null, 2)}\n`;
try {
  const prettier = await import('prettier');
  json = await prettier.format(json, {
    ...(await prettier.resolveConfig(fileURLToPath(out))),
    filepath: fileURLToPath(out),
  });
} catch {
  // Plain JSON is fine too.
}
writeFileSync(out, json);
console.log(`| fault | the caller gets | median ms | slowest ms |\n| --- | --- | ---: | ---: |`);
for (const row of rows)
  console.log(
    `| ${row.what} | ${row.codes.join(', ')} | ${row.median?.toFixed(1) ?? '—'} | ${row.max?.toFixed(1) ?? '—'} |`,
  );
