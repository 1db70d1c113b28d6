export { registerError } from './codec.js';
export { abortSignal, transfer } from './context.js';
export { CancelledError, CrochetError, ReactorStoppedError, TimeoutError, type CrochetErrorCode } from './errors.js';
export { EventualResult, retrieveResult } from './eventual.js';
export { noSetup, setup, type SetupOptions } from './lifecycle.js';
export { isReactorThread } from './thread.js';
export { runInReactor, waitFor, type BlockingFunction, type ReactorFunction, type WaitForOptions } from './wrappers.js';
