/**
 * Entry module of the supervisor thread, when crochet runs from its package: its watcher
 * is a module of its own, loaded once the reactor thread is on its way (see start.ts).
 */
import { supervise } from './start.js';

await supervise(() => import('./watch.js'));
