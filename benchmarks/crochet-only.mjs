import { setup } from 'crochet';
import { increment } from './crochet-calls.mjs';
setup({ spin: Number(process.env.SPIN ?? 0.05), hot: Number(process.env.HOT ?? 0.1) });
const N = 20000;
const meds = [];
for (let r = 0; r < 3; r++) {
  const ts = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    increment(i);
    ts[i] = performance.now() - t;
  }
  ts.sort();
  meds.push(ts[N >> 1] * 1000);
}
console.log(meds.map((m) => m.toFixed(1)).join(' '));
