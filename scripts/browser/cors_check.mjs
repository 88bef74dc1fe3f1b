// CORS as a browser sees it: headless Chromium loads a page from one loopback origin and calls the
// API, served from another, with fetch.
//
//   node cors_check.mjs API_BASE_URL ALLOWED_PORT OTHER_PORT     (the key in env CORS_API_KEY)
//
// The API must run with CORS_ALLOWED_ORIGINS=http://127.0.0.1:ALLOWED_PORT and a rate limit of 2
// a minute. This script serves an empty page on ALLOWED_PORT and OTHER_PORT itself (127.0.0.1),
// then checks from the allowed page: a 200, a 403 and a 429, each with its body and its headers
// (RateLimit, Retry-After, X-Request-Id) readable by the page; and from the other page that the
// browser lets it read nothing. Exit code 0 = all passed, 1 = a check failed, 2 = bad usage.

import { launchChromium } from './chromium.mjs';
import http from 'node:http';

const [apiBase, allowedPort, otherPort] = process.argv.slice(2);
const apiKey = process.env.CORS_API_KEY || '';
if (!apiBase || !allowedPort || !otherPort || !apiKey) {
  console.error('usage: CORS_API_KEY=... node cors_check.mjs API_BASE_URL ALLOWED_PORT OTHER_PORT');
  process.exit(2);
}

const STEP_MS = 15_000;
const hardStop = setTimeout(() => {
  console.error('FAIL cors check still running after 120s; giving up');
  process.exit(1);
}, 120_000);
hardStop.unref();

const failures = [];
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
  return ok;
}

// The two pages: each is an empty document on its own origin.
function servePage(port) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>cors check</title>');
  });
  return new Promise((resolve) => server.listen(Number(port), '127.0.0.1', () => resolve(server)));
}

// Runs in the page: one call, and what of its answer the page can read.
async function call(page, key) {
  return page.evaluate(
    async ({ apiBase, key }) => {
      try {
        const res = await fetch(`${apiBase}/predict?text=I%20love%20it`, {
          method: 'POST',
          headers: key ? { 'X-API-Key': key } : {},
        });
        const h = (name) => res.headers.get(name);
        return {
          status: res.status,
          body: await res.json(),
          ratelimit: h('RateLimit'),
          policy: h('RateLimit-Policy'),
          retryAfter: h('Retry-After'),
          requestId: h('X-Request-Id'),
        };
      } catch (e) {
        return { blocked: String(e) };
      }
    },
    { apiBase, key },
  );
}

const pages = [await servePage(allowedPort), await servePage(otherPort)];
const browser = await launchChromium(2 * STEP_MS);
try {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_MS);
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${allowedPort}/`);
  const ok = await call(page, apiKey);
  check(ok.status === 200 && ok.body.sentiment === 'positive', `allowed origin: 200 readable (${JSON.stringify(ok)})`);
  check(Boolean(ok.ratelimit && ok.policy && ok.requestId), 'allowed origin: RateLimit and X-Request-Id readable on the 200');
  const wrong = await call(page, 'a-wrong-key-0123456789');
  check(wrong.status === 403 && wrong.body.detail === 'Invalid API key', `allowed origin: 403 readable (${JSON.stringify(wrong)})`);
  check(Boolean(wrong.requestId), 'allowed origin: X-Request-Id readable on the 403');
  await call(page, apiKey); // the second of two units a minute
  const limited = await call(page, apiKey);
  check(limited.status === 429 && limited.body.detail === 'Rate limit exceeded', `allowed origin: 429 readable (${JSON.stringify(limited)})`);
  check(Boolean(limited.retryAfter && limited.ratelimit), 'allowed origin: Retry-After and RateLimit readable on the 429');

  const other = await context.newPage();
  await other.goto(`http://127.0.0.1:${otherPort}/`);
  const blocked = await call(other, apiKey);
  check(Boolean(blocked.blocked) && blocked.status === undefined, `other origin: nothing readable (${JSON.stringify(blocked)})`);
} finally {
  await browser.close();
  for (const p of pages) p.close();
}
if (failures.length) {
  console.error(`${failures.length} CORS check(s) failed`);
  process.exit(1);
}
console.log('all CORS checks passed');
