// Start-up contender: import crochet/synckit, createSyncFn(worker file), one call, exit.
import { createSyncFn } from '../../dist/synckit.js';

const f = createSyncFn(new URL('./crochet-synckit-worker.mjs', import.meta.url).href);
const value = f();
if (value !== 42) process.exit(1);
process.stdout.write(`${value}\n`);
