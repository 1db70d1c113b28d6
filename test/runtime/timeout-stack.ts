// The stack of a TimeoutError starts at the code that made the call, here, on every runtime
// (Bun drops frames in tail position, which once left it starting inside crochet). The
// calls below are not in tail position, so their frames exist everywhere. Prints one JSON
// line: for each kind of timeout, whether the first frame is in this file.
import { isReactorThread, runInReactor, setup, waitFor } from 'crochet';

setup();

export const hang = waitFor({ timeout: 20 })(() => new Promise<never>(() => undefined));
export const start = runInReactor(() => new Promise<never>(() => undefined));

/** Whether the first frame of what `call` throws is in this module (compiled or not). */
function startsHere(call: () => void): boolean | string {
  try {
    call();
  } catch (error) {
    const first = ((error as Error).stack ?? '').split('\n')[1] ?? '';
    return /timeout-stack\.(js|ts)/.test(first) || first;
  }
  return 'did not throw';
}

if (!isReactorThread()) {
  const result = start();
  const waitFor = startsHere(() => {
    hang();
  });
  const wait = startsHere(() => {
    result.wait(20);
  });
  result.cancel();
  console.log(JSON.stringify({ waitFor, wait }));
}
