// make-synchronized's module form: the default export is the synchronized function; its
// worker imports this module to run the implementation.
import makeSynchronized from 'make-synchronized';

export default makeSynchronized(import.meta, async () => 42);
