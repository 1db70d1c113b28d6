// The reference of the prettier workload: a plain worker thread that formats what it is
// sent and posts the result back; the main thread awaits each reply.
import { parentPort } from 'node:worker_threads';
import prettier from 'prettier';

parentPort.on('message', async ({ id, text, options }) => {
  parentPort.postMessage({ id, output: await prettier.format(text, options) });
});
