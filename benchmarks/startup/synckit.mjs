// Start-up contender: import synckit, createSyncFn(worker file), one call, exit.
import { createSyncFn } from 'synckit';

const f = createSyncFn(new URL('./synckit-worker.mjs', import.meta.url).href);
const value = f();
if (value !== 42) process.exit(1);
process.stdout.write(`${value}\n`);
