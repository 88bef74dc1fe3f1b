// Uses the types openapi-typescript generated from the running server's /openapi.json
// (generated/api.d.ts, made fresh by scripts/clients/check.py) with plain fetch, as a TypeScript
// client would: POST /predict with a key, and a 403 with a wrong one.
//
//   CLIENT_API_KEY=... node dist/check.js BASE_URL

import type { components, paths } from './generated/api.js';

type PredictOk = paths['/predict']['post']['responses']['200']['content']['application/json'];
type PredictBody = components['schemas']['PredictRequest'];
type ErrorBody = components['schemas']['ErrorDetail'];
type Models = paths['/models']['get']['responses']['200']['content']['application/json'];

const base = process.argv[2];
const key = process.env.CLIENT_API_KEY;
if (!base || !key) {
  console.error('usage: CLIENT_API_KEY=... node dist/check.js BASE_URL');
  process.exit(2);
}

const failures: string[] = [];
function check(ok: boolean, what: string): void {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

async function predict(body: PredictBody, apiKey: string): Promise<[number, unknown]> {
  const res = await fetch(`${base}/predict`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': apiKey },
    body: JSON.stringify(body),
  });
  return [res.status, await res.json()];
}

const [status, answer] = await predict({ text: 'I love it' }, key);
const ok = answer as PredictOk;
check(status === 200 && ok.sentiment === 'positive' && ok.status === 'success', `POST /predict: ${status} ${JSON.stringify(ok)}`);
check(ok.scores.positive > 0 && ok.model === 'vader', 'the typed fields hold what the document says');

const chosen: PredictBody = { text: 'I hate it', model: 'vader' };
const [chosenStatus, chosenAnswer] = await predict(chosen, key);
check(chosenStatus === 200 && (chosenAnswer as PredictOk).sentiment === 'negative', 'POST /predict with a model');

const [denied, refusal] = await predict({ text: 'I love it' }, 'a-wrong-key-0123456789');
check(denied === 403 && (refusal as ErrorBody).detail === 'Invalid API key', `a wrong key: ${denied} ${JSON.stringify(refusal)}`);

const list = (await (await fetch(`${base}/models`, { headers: { 'X-API-Key': key } })).json()) as Models;
check(list.models.some((m) => m.default && m.name === 'vader'), 'GET /models lists the default');

if (failures.length) {
  console.error(`${failures.length} TypeScript client check(s) failed`);
  process.exit(1);
}
console.log('all TypeScript client checks passed');
