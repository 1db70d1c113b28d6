export { registerError } from './wire/codec.js';
export { abortSignal, transfer } from './api/context.js';
export {
  CancelledError,
  CrochetError,
  ReactorStoppedError,
  TimeoutError,
  type CrochetErrorCode,
} from './api/errors.js';
export type { Unchecked } from './api/crossing.js';
export { EventualResult, retrieveResult } from './api/eventual.js';
export { noSetup, onShutdown, setup, shutdown, type SetupOptions, type ShutdownOptions } from './api/lifecycle.js';
export type { Logger } from './common/report.js';
export { isReactorThread } from './common/thread.js';
export {
  runInReactor,
  waitFor,
  type BlockingFunction,
  type ReactorFunction,
  type WaitForOptions,
} from './api/wrappers.js';
