/**
 * Entry of the supervisor thread when crochet was bundled into an application: built into
 * one CommonJS script (see scripts/bundle.mjs), kept as text in crochet's bundle, and run
 * with `new Worker(source, { eval: true })`. The application's bundle has no file of it.
 */
import * as watcher from './watch.js';
import { supervise } from './start.js';

void supervise(() => Promise.resolve(watcher));
