/**
 * Unit-testing reactor code without the reactor: the original Crochet's `testing.py`.
 *
 *     npm run example -- testing
 *
 * Every wrapper keeps the function it wraps as `.wrapped`. A unit test can call that
 * directly, in its own thread, with no `setup()` and no blocking: it is the plain
 * (usually async) function. See `examples/testing.test.ts` for tests written that way,
 * of the wrappers in `examples/support/adder.ts`.
 */
import { isReactorThread, setup } from 'crochet';
import { add, slowDouble } from './support/adder.js';

setup();

if (!isReactorThread()) {
  console.log('add(1, 2) returns an EventualResult:');
  console.log('   ', add(1, 2));
  console.log('add.wrapped(1, 2) is the result of the function itself:');
  console.log('   ', add.wrapped(1, 2));
  console.log('slowDouble.wrapped(21) is a Promise, as the async function returns:');
  const promise = slowDouble.wrapped(21);
  console.log('   ', promise);
  void promise.then((value) => {
    console.log('which resolves to', value);
  });
}
