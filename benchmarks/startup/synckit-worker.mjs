// The worker file of the synckit start-up contender.
import { runAsWorker } from 'synckit';

runAsWorker(() => 42);
