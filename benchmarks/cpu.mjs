import { setup } from 'crochet';
import { sleep10, increment } from './crochet-calls.mjs';
setup();
increment(1);
sleep10();
let cpu = process.cpuUsage();
let t = performance.now();
for (let i = 0; i < 100; i++) sleep10();
let used = process.cpuUsage(cpu);
let wall = performance.now() - t;
console.log(
  '10 ms calls: CPU %',
  (((used.user + used.system) / 1000 / wall) * 100).toFixed(2),
  'of one core; wall per call ms',
  (wall / 100).toFixed(2),
);
cpu = process.cpuUsage();
t = performance.now();
await new Promise((r) => setTimeout(r, 500));
used = process.cpuUsage(cpu);
wall = performance.now() - t;
console.log('idle: CPU %', (((used.user + used.system) / 1000 / wall) * 100).toFixed(2));
