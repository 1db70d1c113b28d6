// The crochet wrappers of the workloads, created at the top level: the reactor imports
// this module to find them. No application code here, so no isReactorThread() guard is
// needed; setup() is called by whoever uses the wrappers.
import { waitFor } from 'crochet';

let prettier;
const loadPrettier = async () => (prettier ??= await import('prettier'));

/** prettier.format, run in the reactor. */
export const format = waitFor({ timeout: 60_000 })(async (text, options) =>
  (await loadPrettier()).format(text, options),
);

/**
 * What eslint-plugin-prettier's worker does for a plain .js file: the file's prettier
 * configuration, whether it is ignored, then format (undefined for an ignored file).
 */
export const formatForLint = waitFor({ timeout: 60_000 })(async (source, filepath) => {
  const p = await loadPrettier();
  const config = await p.resolveConfig(filepath, { editorconfig: true });
  const { ignored, inferredParser } = await p.getFileInfo(filepath, {
    resolveConfig: false,
    withNodeModules: false,
    ignorePath: '.prettierignore',
    ...config,
  });
  if (ignored) return undefined;
  return p.format(source, { parser: inferredParser ?? 'babel', ...config, filepath });
});

// The table of the tiny-call workload lives in the reactor.
const table = new Map(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i * 3 + 1]));
export const lookup = waitFor({ timeout: 10_000 })((key) => table.get(key));

/** Returns its argument: the payload workload. */
export const echo = waitFor({ timeout: 60_000 })((text) => text);
