export { registerError } from './codec.js';
export { abortSignal, transfer } from './context.js';
export { CancelledError, CrochetError, ReactorStoppedError, TimeoutError, type CrochetErrorCode } from './errors.js';
export { EventualResult, retrieveResult } from './eventual.js';
export { noSetup, onShutdown, setup, shutdown, type SetupOptions, type ShutdownOptions } from './lifecycle.js';
export type { Logger } from './report.js';
export { isReactorThread } from './thread.js';
export { runInReactor, waitFor, type BlockingFunction, type ReactorFunction, type WaitForOptions } from './wrappers.js';
