// The worker file of the crochet/synckit start-up contender.
import { runAsWorker } from '../../dist/synckit.js';

runAsWorker(() => 42);
