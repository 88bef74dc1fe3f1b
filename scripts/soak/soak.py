#!/usr/bin/env python3
"""The soak run (scripts/soak.sh starts it in its venv): the release binary under mixed traffic on
loopback for DURATION seconds, a keys-file rewrite and SIGHUP every 10 s, RSS and open file
descriptors sampled every 10 s, then a verdict and a plot.

Passes when: no 5xx; no connection dropped but those the load generator closes itself; no
refusal (403) of a key that every reload keeps; RSS at the end within 1.2x of RSS at 2 minutes;
open file descriptors back to their count before the load once it has stopped.

The traffic, by connection (of CONNECTIONS, default 256):
  62%  POST /predict, query or JSON, ASCII and non-ASCII texts, both models, with stable keys
  16%  POST /predict/batch, 1-32 texts
   6%  POST /analyze_batch, then GET /jobs/<id> until done (results checked)
   6%  wrong keys (403, then 429 once the failed-key throttle blocks the address) and no key (401)
   5%  the rotating key: replaced at every reload, so 200, or 403 while a client holds the old one
   5%  a key with a low, reloaded rate limit (200 and 429), and malformed bodies (422)
Each client sends its own X-Forwarded-For (TRUSTED_PROXIES=127.0.0.1), so the throttle blocks the
wrong-key clients' addresses and no other.
"""
import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import aiohttp

TEXTS = [
    "I absolutely loved this little cafe: the coffee was rich, the staff were friendly, "
    "and the prices felt very fair.",
    "The soup was not good at all.",
    "Meh.",
    "Worst. Service. Ever!!!",
    "Great job 👍",
    "Crying 😭 but happy 🙂",
    "C'est vraiment génial, merci !",
    "The plot was kind of boring, but the acting was AMAZING :)",
]
SAMPLE_EVERY = 10
RELOAD_EVERY = 10
STABLE_KEYS = 8


def new_key():
    return "sk_soak_" + secrets.token_urlsafe(24)


def sha(key):
    return hashlib.sha256(key.encode()).hexdigest()


class Keys:
    """The keys file: stable keys every reload keeps, one key replaced at every reload, and one
    whose rate limit changes at every reload."""

    def __init__(self, path):
        self.path = path
        self.stable = [new_key() for _ in range(STABLE_KEYS)]
        self.metered = new_key()
        self.rotating = new_key()
        self.generation = 0

    def write(self):
        entries = [(f"stable-{i}", k, 1_000_000_000) for i, k in enumerate(self.stable)]
        entries.append(("metered", self.metered, 120 if self.generation % 2 else 240))
        entries.append((f"rotating-{self.generation}", self.rotating, 1_000_000_000))
        text = "".join(
            f'[[keys]]\nid = "{id}"\nsha256 = "{sha(key)}"\n'
            f"rate_limit_per_minute = {limit}\nrate_limit_burst = {min(limit, 1000)}\n"
            for id, key, limit in entries
        )
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.path)

    def rotate(self):
        self.generation += 1
        self.rotating = new_key()
        self.write()


class Tally:
    """What the clients saw; shared by the coroutines of one event loop."""

    def __init__(self, start):
        self.start = start
        self.statuses = Counter()  # (role, status)
        self.per_second = Counter()  # second since start -> responses
        self.drops = Counter()  # exception type -> count
        self.problems = []  # the first few failures, for the report
        self.jobs_done = 0

    def record(self, role, status):
        self.statuses[(role, status)] += 1
        self.per_second[int(time.monotonic() - self.start)] += 1
        if status >= 500:
            self.problem(f"{role}: {status}")
        if role == "stable" and status == 403:
            self.problem("a stable key was refused (403) after a reload")

    def problem(self, what):
        if len(self.problems) < 20:
            self.problems.append(what)


def body_texts(rng, n):
    return [rng.choice(TEXTS) for _ in range(n)]


async def client(i, role, session, base, keys, tally, deadline):
    rng = random.Random(i)
    forwarded = f"198.51.100.{i % 250}" if role == "wrong" else f"203.0.113.{i % 250}"

    async def call(method, path, key=None, json_type=False, **kw):
        headers = {"X-Forwarded-For": forwarded}
        if key is not None:
            headers["X-API-Key"] = key
        if json_type:
            headers["Content-Type"] = "application/json"
        try:
            async with session.request(method, base + path, headers=headers, **kw) as r:
                body = await r.read()
                tally.record(role, r.status)
                return r.status, body
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            tally.drops[type(e).__name__] += 1
            tally.problem(f"{role}: {method} {path}: {type(e).__name__}: {e}")
            return None, b""

    while time.monotonic() < deadline:
        if role == "stable":
            key = keys.stable[i % STABLE_KEYS]
            model = rng.choice(["vader", "vader", "tfidf"])
            if rng.random() < 0.5:
                await call("POST", "/predict", key, params={"text": rng.choice(TEXTS), "model": model})
            else:
                await call("POST", "/predict", key, json={"text": rng.choice(TEXTS), "model": model})
        elif role == "batch":
            texts = body_texts(rng, rng.randint(1, 32))
            await call("POST", "/predict/batch", keys.stable[i % STABLE_KEYS], json={"texts": texts})
        elif role == "jobs":
            key = keys.stable[i % STABLE_KEYS]
            texts = body_texts(rng, rng.randint(1, 16))
            status, body = await call("POST", "/analyze_batch", key, json={"texts": texts})
            if status != 202:
                continue
            job = json.loads(body)["job_id"]
            while time.monotonic() < deadline + 30:
                status, body = await call("GET", f"/jobs/{job}", key)
                if status != 200:
                    break
                answer = json.loads(body)
                if answer["status"] == "done":
                    if len(answer["results"]) != len(texts):
                        tally.problem(f"job {job}: {len(answer['results'])} results for {len(texts)} texts")
                    tally.jobs_done += 1
                    break
                await asyncio.sleep(0.05)
        elif role == "wrong":
            if rng.random() < 0.2:
                await call("POST", "/predict", None, json={"text": "no key"})
            else:
                await call("POST", "/predict", new_key(), json={"text": "a guess"})
            await asyncio.sleep(0.05)
        elif role == "rotating":
            await call("POST", "/predict", keys.rotating, json={"text": rng.choice(TEXTS)})
        elif role == "metered":
            if rng.random() < 0.3:
                bad = rng.choice([b'{"text": ', b'{"texts": []}', b'[1,]', b'{"text": 5}'])
                await call("POST", "/predict", keys.metered, data=bad, json_type=True)
            else:
                await call("POST", "/predict/batch", keys.metered, json={"texts": body_texts(rng, 4)})


def roles(n):
    shares = [("stable", 0.62), ("batch", 0.16), ("jobs", 0.06), ("wrong", 0.06), ("rotating", 0.05)]
    out = []
    for role, share in shares:
        out += [role] * round(n * share)
    out += ["metered"] * (n - len(out))
    return out[:n]


async def load(base, keys, tally, connections, duration):
    deadline = time.monotonic() + duration
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(i, role, session, base, keys, tally, deadline)
                               for i, role in enumerate(roles(connections))))
    # The session is closed here: the connections this generator closes itself.


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def start(binary, workdir, keys_file):
    env = {
        "PATH": os.environ["PATH"],
        "HOST": "127.0.0.1",
        "PORT": "0",
        "API_KEYS_FILE": str(keys_file),
        "TRUSTED_PROXIES": "127.0.0.1",
        # Finished jobs are kept 30 s rather than an hour, so the job store reaches its steady
        # state within the run instead of filling up (MAX_STORED_JOBS would then answer 503).
        "JOB_TTL_SECONDS": "30",
        # Access, refusal and job lines would write hundreds of MB in ten minutes; start, stop,
        # reloads and every error are kept.
        "RUST_LOG": "warn,sentiment_api=info,sentiment_api::access=error,sentiment_api::auth=error,"
                    "sentiment_api::auth::source=info,sentiment_api::routes=warn,sentiment_api::http=error",
    }
    log = open(workdir / "server.log", "w")
    proc = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    for _ in range(300):
        text = (workdir / "server.log").read_text()
        m = re.search(r"listening on (http://[0-9.:]+)", text)
        if m:
            return proc, m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"soak: the server did not start:\n{(workdir / 'server.log').read_text()}")


def plot(samples, tally, duration, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_fd) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, height_ratios=[3, 1])
    seconds = range(int(duration))  # the last, partial second left out
    ax2 = ax.twinx()
    ax2.plot(list(seconds), [tally.per_second.get(s, 0) for s in seconds],
             color="tab:gray", linewidth=0.6, label="responses/s")
    ax2.set_ylabel("responses per second")
    ax.plot([s["t"] for s in samples], [s["rss_kib"] / 1024 for s in samples],
            color="tab:blue", marker="o", label="RSS")
    ax.set_ylabel("RSS (MiB)", color="tab:blue")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_ylim(bottom=0)
    ax.set_title("sentiment-api soak: RSS and responses/s (reload + SIGHUP every 10 s)")
    ax_fd.plot([s["t"] for s in samples], [s["fds"] for s in samples], color="tab:green", marker=".")
    ax_fd.set_ylabel("open fds")
    ax_fd.set_xlabel("seconds since the load started")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--duration", type=float, default=600)
    p.add_argument("--connections", type=int, default=256)
    p.add_argument("--out", type=Path, default=Path("target/soak"))
    args = p.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    keys = Keys(args.out / "keys.toml")
    keys.write()
    proc, base = start(os.path.abspath(args.binary), args.out, keys.path)
    try:
        verdict = run(proc, base, keys, args)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
    sys.exit(0 if verdict else 1)


def run(proc, base, keys, args):
    pid = proc.pid
    time.sleep(1)
    fds_before = fds(pid)
    start = time.monotonic()
    tally = Tally(start)
    samples = []
    stop = threading.Event()

    def sampler():
        n = 0
        while True:
            samples.append({"t": round(time.monotonic() - start, 1), "rss_kib": rss_kib(pid),
                            "fds": fds(pid), "responses": sum(tally.per_second.values())})
            n += 1
            if stop.wait(max(0.0, start + n * SAMPLE_EVERY - time.monotonic())):
                return

    def reloader():
        while not stop.wait(RELOAD_EVERY):
            keys.rotate()
            proc.send_signal(signal.SIGHUP)

    threads = [threading.Thread(target=sampler), threading.Thread(target=reloader)]
    for t in threads:
        t.start()
    asyncio.run(load(base, keys, tally, args.connections, args.duration))
    load_seconds = time.monotonic() - start
    stop.set()
    for t in threads:
        t.join()
    rss_end = rss_kib(pid)
    # The server closes its side of each connection once the generator has closed its own.
    fds_after = fds(pid)
    for _ in range(100):
        if fds_after <= fds_before:
            break
        time.sleep(0.1)
        fds_after = fds(pid)
    log = (args.out / "server.log").read_text()
    reloaded = len(re.findall(r"keys reloaded from .* \(SIGHUP\)", log))
    rejected = log.count("keys file rejected")
    at_2min = [s for s in samples if s["t"] >= 120]
    rss_2min = at_2min[0]["rss_kib"] if at_2min else None
    statuses = Counter()
    for (_, status), n in tally.statuses.items():
        statuses[status] += n
    responses = sum(statuses.values())
    checks = {
        "no 5xx": sum(n for s, n in statuses.items() if s >= 500) == 0,
        "no dropped connection": sum(tally.drops.values()) == 0,
        "no stable key refused": tally.statuses.get(("stable", 403), 0) == 0,
        "RSS at the end <= 1.2x RSS at 2 min": rss_2min is not None and rss_end <= 1.2 * rss_2min,
        "fds back to their count before the load": fds_after <= fds_before,
        "the server is still running": proc.poll() is None,
        "every rewrite reloaded (SIGHUP), none rejected": reloaded >= keys.generation and rejected == 0,
    }
    result = {
        "duration_s": round(load_seconds, 1),
        "connections": args.connections,
        "responses": responses,
        "mean_rps": round(responses / load_seconds),
        "statuses": {str(s): n for s, n in sorted(statuses.items())},
        "by_role": {f"{r} {s}": n for (r, s), n in sorted(tally.statuses.items())},
        "jobs_done": tally.jobs_done,
        "rewrites": keys.generation,
        "reloads_on_sighup": reloaded,
        "drops": dict(tally.drops),
        "rss_kib": {"start": samples[0]["rss_kib"], "at_2min": rss_2min, "end": rss_end,
                    "max": max(s["rss_kib"] for s in samples)},
        "fds": {"before": fds_before, "max": max(s["fds"] for s in samples), "after": fds_after},
        "checks": checks,
        "problems": tally.problems,
        "samples": samples,
        "load_average": os.getloadavg(),
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=1))
    plot(samples, tally, load_seconds, args.out / "soak.png")
    print(json.dumps({k: v for k, v in result.items() if k not in ("samples", "by_role")}, indent=1))
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print(f"plot: {args.out / 'soak.png'}; everything: {args.out / 'result.json'}")
    return all(checks.values())


if __name__ == "__main__":
    main()
