// Headless Chromium driver for Portcullis end-to-end tests.
//
// Uses playwright-core with the system Chromium (never a downloaded browser). Given
// one JSON document (argv[2] or BROWSER_CONFIG) it opens a URL, fills and submits the
// IdP's login form when one appears, clicks the consent button when one appears,
// waits for the final page, saves a PNG screenshot and prints exactly one line:
//   RESULT {"final_url":...,"title":...,"text":...,"status":...,"navigations":[...],"logged_in":bool}
// Diagnostics go to stderr.
//
// Config:
//   url            (required) the first URL
//   username, password   credentials for the login form (skipped when absent)
//   screenshot     PNG path to write (required)
//   user_data_dir  profile directory (required; give a fresh one per run)
//   executable     Chromium binary, default $CHROMIUM_PATH or /usr/bin/chromium
//   timeout_ms     overall step timeout, default 20000
//   max_forms      how many login/consent pages to get through, default 4

import { chromium } from 'playwright-core';

const raw = process.argv[2] ?? process.env.BROWSER_CONFIG;
if (!raw) {
  console.error('usage: node browser.mjs \'<json config>\'');
  process.exit(2);
}
const cfg = JSON.parse(raw);
const timeout = cfg.timeout_ms ?? 20000;

const context = await chromium.launchPersistentContext(cfg.user_data_dir, {
  executablePath: cfg.executable ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--disable-extensions',
  ],
  viewport: { width: 1000, height: 700 },
  timeout,
});

let exitCode = 0;
try {
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(timeout);
  const navigations = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations.push(frame.url());
  });
  page.on('console', (msg) => console.error(`page console: ${msg.text()}`));

  let response = await page.goto(cfg.url, { waitUntil: 'load' });
  let loggedIn = false;
  for (let i = 0; i < (cfg.max_forms ?? 4); i += 1) {
    const user = page.locator('input[name="username"]');
    const allow = page.locator('button#allow');
    if (cfg.username !== undefined && await user.count() > 0 && !loggedIn) {
      await user.fill(cfg.username);
      await page.locator('input[name="password"]').fill(cfg.password ?? '');
      const [nav] = await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.locator('button[type="submit"], input[type="submit"]').first().click(),
      ]);
      response = nav ?? response;
      loggedIn = true;
    } else if (await allow.count() > 0) {
      const [nav] = await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        allow.click(),
      ]);
      response = nav ?? response;
    } else {
      break;
    }
  }
  await page.waitForLoadState('load');
  await page.screenshot({ path: cfg.screenshot, fullPage: true });
  const result = {
    final_url: page.url(),
    title: await page.title(),
    text: await page.evaluate(() => document.body?.innerText ?? ''),
    status: response?.status() ?? null,
    navigations,
    logged_in: loggedIn,
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
} catch (err) {
  console.error(`browser error: ${err.stack ?? err}`);
  exitCode = 1;
} finally {
  await context.close();
}
process.exit(exitCode);
