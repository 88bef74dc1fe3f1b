#!/usr/bin/env python3
"""Polls of big finished jobs by several keys cannot take a Redis replica out for other keys.

    python3 scripts/poll_storm_check.py --binary PATH [--rounds 2] [--polls 600]

The attack of the review of issue 24 (finding F1), against a release binary: one replica on a
redis-server (Debian's, started here, stopped by PID) with the default REDIS_TIMEOUT_MS (50 ms)
and REDIS_FAILURE_MODE=closed. Six keys with the `jobs` scope each make a job of 256 texts of
4,000 characters (a megabyte of results), then, per round, `--polls` polls of those jobs are sent
at once while four clients keep asking `POST /predict` with another key and `/health/ready`.
Each key stays within its own poll limit or gets 429; the other key and readiness must get 200
every time: no 503 `Rate limit backend unavailable`, no `redis_unavailable`. A debug build is
too slow to judge this (a hundred requests at once keep Redis's answers waiting on the worker for
longer than 50 ms), hence a release binary (.ci/run passes the container image's).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures as futures
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ATTACKERS = [f"poll-storm-key-{i}-0123456789abcdef" for i in range(6)]
OTHER = "poll-storm-other-key-0123456789abcdef"
PROCS: list[subprocess.Popen] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, key: str | None = None,
            body: object = None) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"X-API-Key": key} if key else {}
    data = None
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read().decode()
    finally:
        conn.close()


def start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
    PROCS.append(proc)
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--polls", type=int, default=600)
    args = parser.parse_args()
    subprocess.run(["bash", str(REPO / "scripts/redis/install.sh")], check=True)
    binary = args.binary.resolve()
    work = Path(tempfile.mkdtemp(prefix="poll-storm-"))
    failures: list[str] = []
    try:
        redis_port = free_port()
        start(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no"], work / "redis.log")
        keys = ""
        for i, secret in enumerate([*ATTACKERS, OTHER]):
            keys += subprocess.run([str(binary), "keys", "hash", "--id", f"k{i}"], input=secret,
                                   capture_output=True, text=True, check=True).stdout
        (work / "keys.toml").write_text(keys)
        env = {"PATH": os.environ["PATH"], "API_KEYS_FILE": str(work / "keys.toml"),
               "HOST": "127.0.0.1", "PORT": "0", "REDIS_URL": f"redis://127.0.0.1:{redis_port}",
               "RATE_LIMIT_PER_MINUTE": "100000", "RATE_LIMIT_BURST": "100000",
               "RUST_LOG": "info,sentiment_api::access=warn"}
        log = work / "server.log"
        server = start([str(binary)], log, env)
        port = 0
        deadline = time.monotonic() + 30
        while not port and time.monotonic() < deadline and server.poll() is None:
            m = re.search(r"listening on http://[0-9.]+:(\d+)", log.read_text(errors="replace"))
            port = int(m.group(1)) if m else 0
            time.sleep(0.05)
        while port and time.monotonic() < deadline and request(port, "GET", "/health/ready")[0] != 200:
            time.sleep(0.1)
        if not port:
            sys.exit(f"FAIL: the server did not start:\n{log.read_text(errors='replace')}")
        text = "good " + "y" * 3990
        jobs = []
        for key in ATTACKERS:
            status, headers, body = request(port, "POST", "/analyze_batch", key, {"texts": [text] * 256})
            if status != 202:
                sys.exit(f"FAIL: a job got {status}: {body}")
            jobs.append((key, headers["location"]))
        for key, location in jobs:
            while json.loads(request(port, "GET", location, key)[2]).get("status") == "processing":
                time.sleep(0.2)
        time.sleep(3)  # every key's poll burst full again
        for round_ in range(args.rounds):
            polls: collections.Counter = collections.Counter()
            others: collections.Counter = collections.Counter()
            stop = threading.Event()

            def other() -> None:
                while not stop.is_set():
                    for name, method, path, key in (("predict", "POST", "/predict?text=good", OTHER),
                                                    ("ready", "GET", "/health/ready", None)):
                        status, _, body = request(port, method, path, key)
                        others[f"{name} {status}"] += 1
                        if status != 200:
                            others[f"{name} {body[:60]}"] += 1

            def poll(i: int) -> None:
                key, location = jobs[i % len(jobs)]
                status, _, body = request(port, "GET", location, key)
                polls[status if status in (200, 429) else f"{status} {body[:60]}"] += 1

            started = time.monotonic()
            with futures.ThreadPoolExecutor(4) as watchers:
                for _ in range(4):
                    watchers.submit(other)
                with futures.ThreadPoolExecutor(args.polls) as pool:
                    list(pool.map(poll, range(args.polls)))
                stop.set()
            print(f"round {round_ + 1}: {args.polls} polls in {time.monotonic() - started:.1f} s: "
                  f"{dict(polls)}; meanwhile {dict(others)}", flush=True)
            bad = {k: v for k, v in others.items() if not k.endswith(" 200")}
            if bad:
                failures.append(f"round {round_ + 1}: another key or readiness refused: {bad}")
            if any(k not in (200, 429) for k in polls):
                failures.append(f"round {round_ + 1}: polls answered {dict(polls)}")
            time.sleep(2)
        tripped = [line for line in log.read_text(errors="replace").splitlines()
                   if "Redis call failed" in line]
        if tripped:
            failures.append(f"the circuit breaker opened {len(tripped)} time(s): {tripped[0][:160]}")
    finally:
        for proc in PROCS:
            proc.terminate()
        for proc in PROCS:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        sys.exit("FAIL: " + "\n".join(failures))
    print("OK: polls of big jobs by six keys left another key and readiness at 200 throughout")


if __name__ == "__main__":
    main()
