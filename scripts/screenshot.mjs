// Takes the README's screenshot of the demo page: `node scripts/screenshot.mjs` after
// `npm run build:test` (needs Chromium: apt-get install chromium, or CHROMIUM_PATH).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const demo = fileURLToPath(new URL('../build/examples/exchange-rate.js', import.meta.url));
const out = fileURLToPath(new URL('../docs/demo.png', import.meta.url));
const child = spawn(process.execPath, [demo, '--port', '0', '--every', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
let text = '';
child.stdout.setEncoding('utf8');
while (!/EURUSD is now/.test(text)) {
  const [chunk] = await once(child.stdout, 'data');
  text += chunk;
}
const url = /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(text)[1];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 420 } });
  await page.goto(url);
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  child.kill('SIGINT');
}
