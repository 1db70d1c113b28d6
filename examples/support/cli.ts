/** Reading an example's command line. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * `parseArgs(config)`, except that a mistake on the command line (an unknown option, a
 * missing value, a stray argument) is explained in one line on stderr, and the process
 * exits with 2, instead of a stack trace.
 */
export function parseOptions<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    const options = Object.keys(config.options ?? {}).map((name) => `--${name}`);
    console.error(
      `${error instanceof Error ? error.message : String(error)}${options.length > 0 ? ` (options: ${options.join(', ')})` : ''}`,
    );
    process.exit(2);
  }
}
