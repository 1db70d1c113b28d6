import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

function runExample(
  name: string,
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = fileURLToPath(new URL(`../examples/${name}.js`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const failsafe = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(failsafe);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('examples', () => {
  it('blocking-dns looks up localhost offline', async () => {
    const result = await runExample('blocking-dns', ['localhost']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^localhost -> (127\.0\.0\.1|::1)\n$/);
  });

  it('blocking-dns reports a name that does not resolve as an error, without hanging', async () => {
    const result = await runExample('blocking-dns', ['no-such-host.invalid']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no-such-host\.invalid/);
  });
});
