// crochet/synckit worker of the prettier workload: synckit-format.mjs with the import changed.
import prettier from 'prettier';
import { runAsWorker } from '../../dist/synckit.js';

runAsWorker((text, options) => prettier.format(text, options));
