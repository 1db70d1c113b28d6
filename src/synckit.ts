/**
 * `crochet/synckit`: a drop-in for synckit. Change `from 'synckit'` to `from 'crochet/synckit'`;
 * each worker file then runs in an isolated crochet reactor of its own.
 */
export {
  createSyncFn,
  runAsWorker,
  TsRunner,
  type AnyFn,
  type GlobalShim,
  type Syncify,
  type SynckitOptions,
} from './synckit/create.js';
