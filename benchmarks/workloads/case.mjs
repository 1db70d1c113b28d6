// One workload with one contender, run in a process of its own:
//
//   node benchmarks/workloads/case.mjs <workload> <contender> <corpus dir> [option]
//
// Prints one JSON line: per-call times in µs (`times`, or `sizes` of them for the payload
// workload), the time of the whole measured part in ms, and a digest of every output, which
// ../workloads.mjs compares across contenders.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PAYLOADS } from './payloads.mjs';

const [, , workload, contender, corpusDir, option] = process.argv;
const here = new URL('./', import.meta.url);
const corpus = JSON.parse(readFileSync(join(corpusDir, 'corpus.json'), 'utf8')); // [relative path]
const texts = corpus.map((path) => readFileSync(join(corpusDir, path), 'utf8'));
const PRETTIER_OPTIONS = { parser: 'babel' };
const TINY_CALLS = Number(process.env.TINY_CALLS || 100_000);

/** Makes `fn(key)` synchronous the way users of `contender` do. */
async function synchronous(contender, fn) {
  switch (contender) {
    case 'crochet': {
      const { setup } = await import('crochet');
      setup();
      return (await import('./crochet-calls.mjs'))[fn];
    }
    case 'synckit': {
      const { createSyncFn } = await import('synckit');
      const file = { format: './synckit-format.mjs', lookup: './synckit-lookup.mjs', echo: '../synckit-echo.mjs' }[fn];
      return createSyncFn(new URL(file, here).href);
    }
    case 'crochet/synckit': {
      // synckit's worker files with the import changed: the one-line migration.
      const { createSyncFn } = await import('../../dist/synckit.js');
      const file = {
        format: './crochet-synckit-format.mjs',
        lookup: './crochet-synckit-lookup.mjs',
        echo: '../crochet-synckit-echo.mjs',
      }[fn];
      return createSyncFn(new URL(file, here).href);
    }
    case 'make-synchronized': {
      if (fn === 'format') return (await import('@prettier/sync')).default.format;
      const { default: makeSynchronized } = await import('make-synchronized');
      return makeSynchronized(new URL('./async-fns.mjs', here))[fn];
    }
    case 'make-synchronous': {
      // The function is stringified and run in make-synchronous's worker: no closures, so the
      // table is built there on the first call and kept on globalThis.
      const { default: makeSynchronous } = await import('make-synchronous');
      if (fn === 'format')
        return makeSynchronous(async (text, options) => {
          const prettier = await import('prettier');
          return prettier.format(text, options);
        });
      if (fn === 'lookup')
        return makeSynchronous(async (key) => {
          globalThis.table ??= new Map(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i * 3 + 1]));
          return globalThis.table.get(key);
        });
      return makeSynchronous(async (text) => text);
    }
    default:
      throw new Error(`unknown contender ${contender}`);
  }
}

const digest = () => {
  const hash = createHash('sha256');
  return { add: (value) => hash.update(`${JSON.stringify(value)}\n`), hex: () => hash.digest('hex').slice(0, 16) };
};

/** Calls `call(i)` `count` times, timing each; hands every result to `hash.add(value, i)`. */
function timed(count, call, hash) {
  const times = new Array(count);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    const value = call(i);
    times[i] = (performance.now() - t) * 1000;
    hash.add(value, i);
  }
  return { times, ms: performance.now() - t0 };
}

const workloads = {
  async prettier() {
    const hash = digest();
    if (contender === 'plain-worker') {
      // The same work driven asynchronously: postMessage, await the reply.
      const worker = new Worker(new URL('./plain-worker.mjs', here));
      const pending = new Map();
      worker.on('message', ({ id, output }) => pending.get(id)(output));
      const format = (id, text) =>
        new Promise((resolve) => {
          pending.set(id, resolve);
          worker.postMessage({ id, text, options: PRETTIER_OPTIONS });
        });
      const times = new Array(texts.length);
      const t0 = performance.now();
      for (let i = 0; i < texts.length; i++) {
        const t = performance.now();
        const output = await format(i, texts[i]);
        times[i] = (performance.now() - t) * 1000;
        hash.add(output);
      }
      const ms = performance.now() - t0;
      await worker.terminate();
      return { times, ms, digest: hash.hex() };
    }
    const format = await synchronous(contender, 'format');
    return { ...timed(texts.length, (i) => format(texts[i], PRETTIER_OPTIONS), hash), digest: hash.hex() };
  },

  async tiny() {
    const lookup = await synchronous(contender, 'lookup');
    const hash = digest();
    let sum = 0;
    lookup('k0'); // the first call (start-up, imports) is left out of the per-call figures
    const result = timed(TINY_CALLS, (i) => (sum += lookup(`k${i % 1000}`)), { add() {} });
    hash.add(sum);
    return { ...result, digest: hash.hex() };
  },

  async payloads() {
    // Real source text: the corpus laid end to end, cut to each size.
    let all = texts.join('\n');
    while (all.length < PAYLOADS.at(-1)[1]) all += `\n${all}`;
    const hash = digest();
    const sizes = {};
    let echo;
    if (contender === 'structuredClone') {
      // The reference: two in-thread clones (there and back) of the same string.
      echo = (text) => structuredClone(structuredClone(text));
    } else echo = await synchronous(contender, 'echo');
    for (const [label, length, calls] of PAYLOADS) {
      // Each call sends a distinct string (no cache can help), all of the same length.
      const inputs = Array.from({ length: calls }, (_, i) => all.slice(i, i + length));
      // The digest records whether every output equals its input.
      let same = 0;
      // The first call of each size is left out of the per-call figures (start-up, imports,
      // the first use of a path).
      echo(all.slice(calls, calls + length));
      const { times, ms } = timed(calls, (i) => echo(inputs[i]), {
        add: (value, i) => (same += value === inputs[i] ? 1 : 0),
      });
      hash.add([label, same === calls]);
      sizes[label] = { times, ms };
    }
    return { sizes, digest: hash.hex() };
  },

  async eslint() {
    // ESLint 9 over the corpus, with eslint-plugin-prettier's rule or ours (option: the
    // concurrency, "off" or a number of threads). The report is normalized (paths relative
    // to the corpus) and digested.
    const { ESLint } = await import('eslint');
    const config = {
      crochet: './eslint-crochet.config.mjs',
      'eslint-plugin-prettier': './eslint-prettier.config.mjs',
      'eslint-plugin-prettier on crochet/synckit': './eslint-prettier-crochet-synckit.config.mjs',
    }[contender];
    const concurrency = option === undefined || option === 'off' ? 'off' : Number(option);
    const eslint = new ESLint({
      cwd: corpusDir,
      overrideConfigFile: new URL(config, here).pathname,
      concurrency,
    });
    const t0 = performance.now();
    const results = await eslint.lintFiles(corpus);
    const ms = performance.now() - t0;
    const report = results
      .map(({ filePath, messages }) => ({ file: filePath.slice(corpusDir.length + 1), messages }))
      .sort((a, b) => (a.file < b.file ? -1 : 1));
    const hash = digest();
    hash.add(report);
    const problems = report.reduce((n, r) => n + r.messages.length, 0);
    return { ms, problems, digest: hash.hex() };
  },
};

if (!workloads[workload]) throw new Error(`unknown workload ${workload}`);
const result = await workloads[workload]();
process.stdout.write(`${JSON.stringify(result)}\n`);
