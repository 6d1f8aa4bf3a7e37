// Loads a test page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core),
// waits until the page shows a result or an error, and prints the page's HTML.
// Usage: node browser_page.js URL [TIMEOUT_MS]
'use strict';
const { chromium } = require('playwright-core');

async function main() {
  const [url, timeout = '30000'] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction(
      () => document.getElementById('result').textContent ||
            document.getElementById('error').textContent,
      null, { timeout: Number(timeout) });
    process.stdout.write(await page.content());
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
