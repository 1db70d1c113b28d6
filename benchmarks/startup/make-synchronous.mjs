// Start-up contender: make-synchronous (worker mode) wrapping an async function, one call, exit.
import makeSynchronous from 'make-synchronous';

const f = makeSynchronous(async () => 42);
const value = f();
if (value !== 42) process.exit(1);
process.stdout.write(`${value}\n`);
