// synckit worker: a call that takes 10 ms.
import { runAsWorker } from 'synckit';

runAsWorker(() => new Promise((resolve) => setTimeout(resolve, 10)));
