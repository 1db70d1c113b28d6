/**
 * Entry of the bundle (`dist/crochet.js`): the public API and the reactor thread's entry
 * point, in one module, so that each thread loads one file and, within a thread, user
 * code and crochet's own threads share one instance of every module.
 */
export * from './index.js';
export { startReactor } from './reactor/start.js';
