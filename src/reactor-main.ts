/** Entry module of the reactor thread. */
import { workerData } from 'node:worker_threads';
import type { ReactorData } from './protocol.js';
import { startReactor } from './reactor.js';

startReactor(workerData as ReactorData);
