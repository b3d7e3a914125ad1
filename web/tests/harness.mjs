// What the browser tests share: their arguments (the client's URL and a screenshot path),
// headless Debian Chromium driven by Playwright (which gives it a fresh, empty profile), a
// page that records console errors and requests to other origins, and checks that print
// `ok`/`FAIL` lines. The script exits 0 when every check passed, else 1.
import { chromium } from 'playwright-core';

/** `node SCRIPT URL SCREENSHOT.png`: the two arguments, or the usage and exit 2. */
export function args(script) {
  const [url, screenshot] = process.argv.slice(2);
  if (!url || !screenshot) {
    console.error(`usage: node ${script} URL SCREENSHOT.png`);
    process.exit(2);
  }
  return { url, screenshot };
}

/**
 * Opens a 1280×800 page and calls `run({page, check})`; then checks that the page logged no
 * console error and fetched nothing from another origin than `url`'s, closes the browser and
 * exits.
 */
export async function session(url, run) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const failures = [];
  const check = (ok, what) => {
    if (!ok) failures.push(what);
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  };
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const consoleErrors = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(String(error)));
    const offsite = [];
    page.on('request', (request) => {
      const target = new URL(request.url());
      if (target.protocol !== 'data:' && target.origin !== new URL(url).origin) offsite.push(request.url());
    });
    await run({ page, check });
    check(consoleErrors.length === 0, `no console errors${consoleErrors.length ? `: ${consoleErrors.join(' | ')}` : ''}`);
    check(offsite.length === 0, `nothing is fetched from another origin${offsite.length ? `: ${offsite.join(', ')}` : ''}`);
  } catch (error) {
    check(false, `the checks ran to their end (${error.stack || error})`);
  } finally {
    await browser.close();
  }
  if (failures.length) {
    console.error(`${failures.length} check(s) failed`);
    process.exit(1);
  }
  console.log('every check passed');
}
