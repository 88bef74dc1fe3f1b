// Debian's Chromium, headless, as the browser checks launch it (docs_check.mjs, cors_check.mjs).

import { chromium } from 'playwright-core';

// As root Chromium needs --no-sandbox; the rest stop its background calls to Google's hosts,
// which this machine's closed network refuses (and which would trip the loopback check).
// Playwright itself passes a fresh temporary --user-data-dir for every launch.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches Chromium (CHROMIUM_PATH, default /usr/bin/chromium); `timeoutMs` bounds the start. */
export function launchChromium(timeoutMs) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    timeout: timeoutMs, // a first start after install reads a cold disk
    args: ARGS,
  });
}
