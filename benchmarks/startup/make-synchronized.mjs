// Start-up contender: a module whose default export is make-synchronized's wrapper of an
// async function (./make-synchronized-fn.mjs, which its worker imports), one call, exit.
import f from './make-synchronized-fn.mjs';

const value = f();
if (value !== 42) process.exit(1);
process.stdout.write(`${value}\n`);
