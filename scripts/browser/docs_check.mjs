// Drives Swagger UI at /docs in Debian's Chromium, as a person would, against a running server.
//
//   node docs_check.mjs BASE_URL [API_KEY]        (or env DOCS_BASE_URL, DOCS_API_KEY)
//
// Installs nothing: scripts/api_checks.py runs `npm ci` here and installs /usr/bin/chromium.
// Checks, in order: every operation of /openapi.json is rendered (method + path), Authorize takes
// the key for APIKeyHeader, POST /predict?text=I love it executed from the page answers 200 with
// sentiment "positive", and the page never requested anything but loopback. Saves a screenshot
// (env DOCS_SCREENSHOT, default <repo>/target/docs-screenshot.png) and prints its path.
// Exit code 0 = all passed, 1 = a check failed, 2 = bad usage.

import { launchChromium } from './chromium.mjs';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');

const baseUrl = (process.argv[2] || process.env.DOCS_BASE_URL || '').replace(/\/+$/, '');
const apiKey = process.argv[3] || process.env.DOCS_API_KEY || '';
const screenshotPath = path.resolve(
  process.env.DOCS_SCREENSHOT || path.join(REPO, 'target', 'docs-screenshot.png'),
);

if (!baseUrl || !apiKey) {
  console.error('usage: node docs_check.mjs BASE_URL API_KEY  (or DOCS_BASE_URL / DOCS_API_KEY)');
  process.exit(2);
}

// Bounded timeouts: every wait below has one, and the whole run has a hard ceiling.
const STEP_MS = 15_000;
const TOTAL_MS = 120_000;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

const failures = [];
const offHost = new Set(); // URLs the page tried to reach outside loopback
const pageErrors = []; // uncaught exceptions in the page

function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
  return ok;
}

function isLoopback(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  // data: and blob: URLs never leave the page (Swagger UI inlines its SVG icons as data:).
  if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return true;
  return LOOPBACK.has(u.hostname);
}

const hardStop = setTimeout(() => {
  console.error(`FAIL docs check still running after ${TOTAL_MS / 1000}s; giving up`);
  process.exit(1);
}, TOTAL_MS);
hardStop.unref();

// The operations the document declares, as "METHOD /path".
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
async function expectedOperations() {
  const res = await fetch(`${baseUrl}/openapi.json`, { signal: AbortSignal.timeout(STEP_MS) });
  if (!res.ok) throw new Error(`GET /openapi.json answered ${res.status}`);
  const doc = await res.json();
  const ops = [];
  for (const [p, item] of Object.entries(doc.paths || {})) {
    for (const m of Object.keys(item)) {
      if (HTTP_METHODS.includes(m)) ops.push(`${m.toUpperCase()} ${p}`);
    }
  }
  return ops.sort();
}

// The full page. The generated curl command shows the key, so it is masked (the key is a
// throwaway one for this run, but screenshots end up in CI artifacts).
async function screenshot(page, note) {
  mkdirSync(path.dirname(screenshotPath), { recursive: true });
  await page.screenshot({
    path: screenshotPath,
    fullPage: true,
    timeout: STEP_MS,
    mask: [page.locator('.curl-command')],
    maskColor: '#3b4151',
  });
  console.log(`screenshot: ${screenshotPath}${note}`);
}

const browser = await launchChromium(2 * STEP_MS);

let page = null;
try {
  const expected = await expectedOperations();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  // Any request for another host is recorded and refused, so nothing leaves the machine.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLoopback(url)) return route.continue();
    offHost.add(url);
    return route.abort('blockedbyclient');
  });
  // Routing does not see the hops of a redirect; the request event does.
  context.on('request', (req) => {
    if (!isLoopback(req.url())) offHost.add(req.url());
  });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(String(err)));

  // /docs redirects (308) to /docs/; Swagger UI then loads /openapi.json and renders.
  const response = await page.goto(`${baseUrl}/docs`, { waitUntil: 'load' });
  check(response && response.ok(), `GET /docs loads (${response && response.status()} at ${page.url()})`);
  await page.locator('.swagger-ui .info .title').waitFor({ state: 'visible' });
  await page.locator('.swagger-ui .opblock').first().waitFor({ state: 'visible' });

  // Every declared operation is rendered once: count the blocks and match method + path.
  // The path text has zero-width spaces for wrapping; data-path carries the clean one.
  const rendered = (
    await page.locator('.swagger-ui .opblock').evaluateAll((blocks) =>
      blocks.map((b) => {
        const method = (b.querySelector('.opblock-summary-method')?.textContent || '').trim();
        const p = b.querySelector('.opblock-summary-path')?.getAttribute('data-path') || '';
        return `${method.toUpperCase()} ${p}`;
      }),
    )
  ).sort();
  check(
    rendered.length === expected.length &&
      rendered.every((op, i) => op === expected[i]),
    `${rendered.length} operations rendered, ${expected.length} in /openapi.json` +
      (rendered.join() === expected.join() ? '' : `: rendered [${rendered}] vs [${expected}]`),
  );

  // Authorize: the dialog lists one block per scheme; fill the APIKeyHeader one.
  await page.locator('.swagger-ui .auth-wrapper button.authorize').click();
  const modal = page.locator('.swagger-ui .dialog-ux .modal-ux');
  await modal.waitFor({ state: 'visible' });
  const scheme = modal.locator('.auth-container').filter({ hasText: 'APIKeyHeader' });
  check((await scheme.count()) === 1, 'Authorize dialog shows the APIKeyHeader scheme');
  const bearer = modal.locator('.auth-container').filter({ hasText: 'HTTPBearer' });
  check((await bearer.count()) === 1, 'Authorize dialog also offers the HTTPBearer scheme');
  await scheme.locator('input').first().fill(apiKey);
  await scheme.locator('button.authorize').click();
  // Once authorized, the block offers "Logout" instead of "Authorize".
  await scheme.locator('button', { hasText: 'Logout' }).waitFor({ state: 'visible' });
  check(true, 'key accepted in the Authorize dialog');
  // Each scheme's block has its own Close button: the APIKeyHeader one's.
  await scheme.locator('button.btn-done').click();
  await modal.waitFor({ state: 'hidden' });

  // Expand POST /predict.
  const op = page
    .locator('.swagger-ui .opblock.opblock-post')
    .filter({ has: page.locator('.opblock-summary-path[data-path="/predict"]') });
  await op.locator('.opblock-summary').first().click();
  await op.locator('.opblock-body').waitFor({ state: 'visible' });

  // The server enables try-it-out by default (the button then reads "Cancel"); click it only
  // when it still offers "Try it out".
  const tryOut = op.locator('button.try-out__btn');
  if ((await tryOut.innerText()).trim().toLowerCase() === 'try it out') await tryOut.click();

  await op.locator('tr[data-param-name="text"][data-param-in="query"] input').fill('I love it');
  // The request body is optional and pre-filled with an example; the server refuses text in
  // both places (422), so empty it and Swagger UI sends no body.
  const bodyEditor = op.locator('textarea.body-param__text');
  if (await bodyEditor.count()) await bodyEditor.fill('');

  await op.locator('button.execute').click();
  const live = op.locator('.live-responses-table');
  await live.waitFor({ state: 'visible' });
  const status = (await live.locator('.response .response-col_status').first().innerText()).trim();
  const bodyText = await live.locator('.response-col_description .microlight, .response-col_description pre').first().innerText();
  const requestUrl = (await op.locator('.request-url pre').first().innerText().catch(() => '')).trim();
  let sentiment = null;
  try {
    sentiment = JSON.parse(bodyText).sentiment;
  } catch {
    /* reported below */
  }
  check(status === '200', `Execute POST /predict from the page: status ${status} (${requestUrl})`);
  check(sentiment === 'positive', `live response says sentiment "${sentiment}"` +
    (sentiment === 'positive' ? '' : `: ${bodyText.slice(0, 300)}`));

  await live.scrollIntoViewIfNeeded();
  await screenshot(page, '');
  await context.close();
} catch (err) {
  check(false, `docs check stopped: ${err && err.message ? err.message.split('\n')[0] : err}`);
  // Show where it stopped.
  if (page) await screenshot(page, ' (taken after the failure)').catch(() => {});
} finally {
  await browser.close().catch(() => {});
}

check(offHost.size === 0, `no request left loopback${offHost.size ? `: ${[...offHost].join(', ')}` : ''}`);
check(pageErrors.length === 0, `no uncaught page errors${pageErrors.length ? `: ${pageErrors.join(' | ')}` : ''}`);

clearTimeout(hardStop);
console.log(failures.length ? `docs check: ${failures.length} failed` : 'docs check: all passed');
process.exit(failures.length ? 1 : 0);
