/**
 * The election of the process's directory (src/supervisor/directory.ts), for a claim of
 * the main thread: it holds its decision until its own reactor is up, so that a reactor
 * already serving (a worker's) has the whole boot to answer the main thread's hello.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Directory, type DirectoryOptions } from '../src/supervisor/directory.js';

/** A main thread's claim (it needs no second round), with `options`; resolves with how it ended. */
function claim(options: Partial<DirectoryOptions>): { directory: Directory; outcome: Promise<'won' | 'lost'> } {
  let directory: Directory | undefined;
  const outcome = new Promise<'won' | 'lost'>((resolve) => {
    directory = new Directory({
      reactorThread: () => -1,
      starterThread: 0,
      keepAlive: true,
      rank: 1e-9,
      round: 4,
      confirm: false,
      onWon: () => {
        resolve('won');
      },
      onLost: () => {
        resolve('lost');
      },
      onOpen: () => undefined,
      ...options,
    });
  });
  return { directory: directory!, outcome };
}

describe("the directory's election, for the main thread's claim", () => {
  it('decides at the end of its round when nothing holds it', async () => {
    const { directory, outcome } = claim({});
    assert.equal(await outcome, 'won');
    directory.close();
  });

  it('loses to a reactor already serving that answered its hello after the round, while it waited for its own reactor', async () => {
    let answered = false;
    const { directory, outcome } = claim({ hold: () => true, answeredElsewhere: () => answered });
    // Well after the 4 ms round, well before the longest hold (150 ms).
    setTimeout(() => {
      answered = true;
      directory.resume();
    }, 30);
    assert.equal(await outcome, 'lost');
    directory.close();
  });

  it('serves once its own reactor is up, when no reactor answered', async () => {
    const { directory, outcome } = claim({ hold: () => true, answeredElsewhere: () => false });
    setTimeout(() => {
      directory.resume();
    }, 20);
    assert.equal(await outcome, 'won');
    directory.close();
  });

  it('serves anyway when its own reactor is not up within the longest hold', async () => {
    const started = performance.now();
    const { directory, outcome } = claim({ hold: () => true, answeredElsewhere: () => false });
    assert.equal(await outcome, 'won');
    assert.ok(performance.now() - started >= 140, 'it held for about 150 ms');
    directory.close();
  });
});
