"""Uses the Python client openapi-python-client generated from the running server's /openapi.json,
as a user would, calling every operation the natural way and parsing every error into the
generated models. Run by scripts/clients/check.py under its venv, with the generated package on
sys.path:

    python use_python_client.py BASE_URL        (keys in CLIENT_API_KEY and CLIENT_TINY_KEY)

CLIENT_TINY_KEY must have a rate limit of 1 a minute. Exit status 0 when every check passed.
"""

import os
import sys
import time

from sentiment_api_client import AuthenticatedClient, Client
from sentiment_api_client.api.jobs import analyze_batch, get_job
from sentiment_api_client.api.keys import me
from sentiment_api_client.api.monitoring import health, ready
from sentiment_api_client.api.sentiment import models, predict, predict_batch
from sentiment_api_client.models import (
    BatchRequest,
    BatchResponse,
    ErrorDetail,
    HTTPValidationError,
    JobView,
    Me,
    ModelList,
    PredictRequest,
    PredictResponse,
)

FAILURES = []


def check(ok: bool, what: str) -> None:
    shown = what if len(what) <= 300 else what[:300] + "..."
    print(f"{'ok  ' if ok else 'FAIL'} {shown}", flush=True)
    if not ok:
        FAILURES.append(what)


def keyed(base: str, key: str) -> AuthenticatedClient:
    return AuthenticatedClient(base_url=base, token=key, prefix="", auth_header_name="X-API-Key")


def main() -> int:
    base = sys.argv[1]
    client = keyed(base, os.environ["CLIENT_API_KEY"])

    r = predict.sync_detailed(client=client, text="I love it")
    check(r.status_code == 200 and isinstance(r.parsed, PredictResponse), f"predict by query: {r.status_code}")
    check(r.parsed.sentiment.value == "positive" and r.parsed.status == "success", f"  {r.parsed}")

    r = predict.sync_detailed(client=client, body=PredictRequest(text="The food was cold and awful."))
    check(r.status_code == 200 and r.parsed.sentiment.value == "negative", f"predict by body: {r.status_code}")

    batch = predict_batch.sync(client=client, body=BatchRequest(texts=["good", "bad", "fine"]))
    check(isinstance(batch, BatchResponse) and len(batch.results) == 3, f"batch: {batch}")
    check([p.text for p in batch.results] == ["good", "bad", "fine"], "  answered in input order")

    r = analyze_batch.sync_detailed(client=client, body=BatchRequest(texts=["a great day", "a bad day"]))
    check(r.status_code == 202 and isinstance(r.parsed, JobView), f"job submitted: {r.status_code}")
    job_id = r.parsed.job_id
    deadline = time.monotonic() + 30
    job = get_job.sync(job_id=job_id, client=client)
    while isinstance(job, JobView) and job.status == "processing" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = get_job.sync(job_id=job_id, client=client)
    check(isinstance(job, JobView) and job.status == "done" and len(job.results) == 2, f"job polled to done: {job}")

    mine = me.sync(client=client)
    check(isinstance(mine, Me) and mine.key_id == "default", f"me: {mine}")
    listed = models.sync(client=client)
    check(isinstance(listed, ModelList) and any(m.default for m in listed.models), f"models: {listed}")
    check(health.sync(client=Client(base_url=base)).status == "ok", "health")
    check(ready.sync(client=Client(base_url=base)).status == "ready", "ready")

    # Errors, parsed into the generated models.
    r = predict.sync_detailed(client=keyed(base, ""), text="hi")
    check(r.status_code == 401 and isinstance(r.parsed, ErrorDetail) and r.parsed.detail == "Not authenticated",
          f"401: {r.status_code} {r.parsed}")
    r = predict.sync_detailed(client=keyed(base, "a-wrong-key-0123456789"), text="hi")
    check(r.status_code == 403 and isinstance(r.parsed, ErrorDetail) and r.parsed.detail == "Invalid API key",
          f"403: {r.status_code} {r.parsed}")
    r = predict.sync_detailed(client=client, body=PredictRequest(text="x" * 20_000))
    check(r.status_code == 422 and isinstance(r.parsed, HTTPValidationError)
          and r.parsed.detail[0].type_ == "string_too_long", f"422: {r.status_code} {r.parsed}")
    tiny = keyed(base, os.environ["CLIENT_TINY_KEY"])
    predict.sync_detailed(client=tiny, text="one")
    r = predict.sync_detailed(client=tiny, text="two")
    check(r.status_code == 429 and isinstance(r.parsed, ErrorDetail) and r.parsed.detail == "Rate limit exceeded"
          and int(r.headers["retry-after"]) >= 1, f"429: {r.status_code} {r.parsed}")

    # The generated client's own default: the key as `Authorization: Bearer` (HTTPBearer).
    bearer = AuthenticatedClient(base_url=base, token=os.environ["CLIENT_API_KEY"])
    r = predict.sync_detailed(client=bearer, text="I love it")
    check(r.status_code == 200 and r.parsed.sentiment.value == "positive", f"predict with Bearer: {r.status_code}")
    mine = me.sync(client=bearer)
    check(isinstance(mine, Me) and mine.key_id == "default", f"me with Bearer: {mine}")
    r = predict.sync_detailed(client=AuthenticatedClient(base_url=base, token="a-wrong-key-0123456789"), text="hi")
    check(r.status_code == 403 and isinstance(r.parsed, ErrorDetail) and r.parsed.detail == "Invalid API key",
          f"403 with Bearer: {r.status_code} {r.parsed}")

    if FAILURES:
        print(f"{len(FAILURES)} Python client check(s) failed", flush=True)
        return 1
    print("all Python client checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
