/**
 * Timeouts and cancellation, layer by layer.
 *
 *     npm run example -- timeouts
 *
 * A slow service (a local stand-in, started in the reactor) answers after as many
 * milliseconds as it is asked to wait. The example shows what each layer does:
 *
 * 1. `waitFor({ timeout })`: the call throws `TimeoutError` when its time is up, and the
 *    reactor's work is told to stop (its `abortSignal()` aborts), which here closes the
 *    HTTP request.
 * 2. `runInReactor` + `wait(timeout)`: a `wait()` that times out leaves the work
 *    running; wait again, longer, and the result is there.
 * 3. `cancel()`: stops the work; every `wait()` then throws `CancelledError`.
 * 4. An application policy on top: a quick try, then a slower one, then a fallback
 *    value, with no event loop in sight.
 */
import {
  abortSignal,
  CancelledError,
  isReactorThread,
  onShutdown,
  runInReactor,
  setup,
  TimeoutError,
  waitFor,
} from 'crochet';
import { startSlowService } from './support/stand-ins.js';

setup();

// ---- reactor code ----------------------------------------------------------------------

let service: string | undefined;

async function ask(ms: number): Promise<string> {
  if (service === undefined) throw new Error('call startService() first');
  // abortSignal() aborts when the caller gives up: pass it on to what you await.
  const response = await fetch(`${service}?ms=${ms}`, { signal: abortSignal() });
  return await response.text();
}

// ---- the blocking layer ---------------------------------------------------------------

/** Starts the local slow service, and asks it once so that everything is loaded. */
export const startService = waitFor({ timeout: 10_000 })(async () => {
  const standIn = await startSlowService();
  onShutdown(() => standIn.close());
  service = standIn.url;
  return await ask(0);
});

/** Asks the slow service; gives up after 300 ms. */
export const askQuickly = waitFor({ timeout: 300 })(ask);
/** Asks the slow service; gives up after 3 seconds. */
export const askPatiently = waitFor({ timeout: 3000 })(ask);
/** Asks the slow service in the background. */
export const startAsking = runInReactor(ask);

// ---- the application ------------------------------------------------------------------

/** Layer 4: a policy built from plain blocking calls. */
function quote(ms: number): string {
  try {
    return askQuickly(ms);
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error;
  }
  try {
    return askPatiently(ms);
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error;
    return 'a cached answer (the service is too slow today)';
  }
}

function attempt(label: string, run: () => string): void {
  try {
    console.log(`${label}: ${run()}`);
  } catch (error) {
    const name = error instanceof Error ? error.name : 'Error';
    const message = error instanceof Error ? error.message : String(error);
    console.log(`${label}: ${name}: ${message}`);
  }
}

if (!isReactorThread()) {
  startService();
  console.log('1. waitFor with a timeout');
  attempt('   asking for 20 ms, 300 ms allowed', () => askQuickly(20));
  attempt('   asking for 1000 ms, 300 ms allowed', () => askQuickly(1000));

  console.log('2. runInReactor: a wait() that times out leaves the work running');
  const result = startAsking(500);
  attempt('   wait(100)', () => result.wait(100));
  attempt('   wait(2000)', () => result.wait(2000));

  console.log('3. cancel() stops the work');
  const cancelled = startAsking(5000);
  cancelled.cancel();
  attempt('   wait(1000) after cancel()', () => cancelled.wait(1000));
  console.log(`   a CancelledError: ${String(cancelled.originalFailure() instanceof CancelledError)}`);

  console.log('4. a policy: a quick try, a patient one, then a fallback');
  attempt('   a 100 ms answer', () => quote(100));
  attempt('   a 1000 ms answer', () => quote(1000));
  attempt('   a 5000 ms answer', () => quote(5000));
}
