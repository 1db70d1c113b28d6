/**
 * The main demo in a real browser: headless Chromium (Debian's `chromium` package),
 * driven by playwright-core. `.ci/run` installs Chromium; on a machine without it this
 * test is skipped and says so.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { serveExample } from './example-helpers.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const missing = existsSync(CHROMIUM)
  ? false
  : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;

describe('the exchange-rate demo in a browser', () => {
  it(
    'shows the rate, and a new one after the page refreshes itself',
    {
      skip:
        missing ||
        ('Deno' in globalThis && 'Deno reports a child that exited by itself after SIGINT as killed by the signal'),
    },
    async () => {
      const app = await serveExample('exchange-rate', ['--port', '0', '--every', '0.2']);
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage();
        await app.line(/^EURUSD is now/);
        await page.goto(app.url);
        const heading = await page.textContent('h1');
        assert.equal(heading, 'Current EUR/USD exchange rate');
        const first = await page.textContent('#rate');
        assert.match(first ?? '', /^\d\.\d{4}$/);
        // The page reloads itself every second; the rate moves with each download.
        await page.waitForFunction(`document.querySelector('#rate')?.textContent !== ${JSON.stringify(first)}`, null, {
          timeout: 20_000,
        });
        assert.match((await page.textContent('#rate')) ?? '', /^\d\.\d{4}$/);
      } finally {
        await browser.close();
        const exit = await app.stop();
        assert.equal(exit.code, 0, exit.stderr);
      }
    },
  );
});
