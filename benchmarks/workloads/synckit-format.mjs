// synckit worker of the prettier workload: prettier.format.
import prettier from 'prettier';
import { runAsWorker } from 'synckit';

runAsWorker((text, options) => prettier.format(text, options));
