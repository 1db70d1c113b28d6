// What benchmarks/startup.mjs and benchmarks/workloads.mjs share: the process that keeps
// one core busy, CPU time from /proc, and the statistics of their tables.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** A process that keeps one core busy. It also ends by itself if this process dies. */
export function startHog() {
  const code = `const parent = ${process.pid}, end = Date.now() + 3_600_000;
for (let i = 1; ; i++) if ((i & 0xfffff) === 0) { if (Date.now() > end) break; try { process.kill(parent, 0); } catch { break; } }`;
  return spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
}

/** CPU time a process has used so far, in ms, from /proc (Linux), or undefined. */
export function procCpu(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / 100) * 1000; // utime, stime in USER_HZ ticks
  } catch {
    return undefined;
  }
}

/** Blocks this thread for `ms` milliseconds. */
export const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** The numbers among `values` (runs that failed are undefined), ascending. */
export const sorted = (values) => values.filter((v) => v !== undefined && !Number.isNaN(v)).sort((a, b) => a - b);

/** The value at quantile `q` of `values`, by nearest rank (NaN if none). */
export const quantile = (values, q) => {
  const s = sorted(values);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};

export const median = (values) => {
  const s = sorted(values);
  const n = s.length;
  return n === 0 ? NaN : n % 2 === 1 ? s[n >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

export const mean = (values) => {
  const s = sorted(values);
  return s.length === 0 ? NaN : s.reduce((a, b) => a + b, 0) / s.length;
};

/** The machine the figures were measured on, as every results file records it. */
export const machine = () => ({
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  memGiB: Math.round(os.totalmem() / 2 ** 30),
  os: `${os.platform()} ${os.release()}`,
});
