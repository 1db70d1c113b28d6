// Start-up contender: import crochet, setup(), one trivial call, exit. The wrapper is
// created at the top level, unconditionally: the reactor thread imports this module to
// find it. Prints 42 on success (checked by ../startup.mjs).
import { isReactorThread, setup, waitFor } from '../../dist/index.js';

setup();
export const f = waitFor({ timeout: 10_000 })(() => 42);

if (!isReactorThread()) {
  const value = f();
  if (value !== 42) process.exit(1);
  process.stdout.write(`${value}\n`);
}
