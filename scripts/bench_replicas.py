#!/usr/bin/env python3
"""How throughput scales with 1, 2 and 3 replicas sharing one Redis behind nginx (loopback only).

    python3 scripts/bench_replicas.py [--binary target/release/sentiment-api] [--seconds 8]

Starts a redis-server and, for N = 1, 2, 3, N replicas of the binary (REDIS_URL, WORKERS=1, limits out
of reach) behind nginx round-robin (docs/nginx.conf), plus, as the reference, one replica
without REDIS_URL behind the same nginx; drives each with wrk (POST /predict, a 20-word review,
32 connections, 2 threads) and prints req/s and p99. Everything shares this machine's cores with
nginx, Redis and wrk: the figures show the cost of the hops, not a cluster's scaling. Every process
started is stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import replicas_check as rc  # noqa: E402  (the same start-up code as the e2e check)

REVIEW = ("I absolutely loved this little cafe: the coffee was rich, the staff were friendly, "
          "and the prices felt very fair.")


def wrk(port: int, seconds: int, work: Path) -> tuple[float, str]:
    script = work / "predict.lua"
    script.write_text(f"""wrk.method = "POST"
wrk.body = '{{"text":"{REVIEW}"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "{rc.KEY}"
""")
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(script),
                          f"http://127.0.0.1:{port}/predict"], capture_output=True, text=True,
                         timeout=seconds + 30).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        rc.fail(f"wrk saw errors:\n{out}", work)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
    return rps, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", type=Path, default=rc.REPO / "target/release/sentiment-api")
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    rc.install()
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
    binary = args.binary.resolve()
    work = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    work.chmod(0o755)
    (work / "keys.toml").write_text("")
    unlimited = {"RATE_LIMIT_PER_MINUTE": "1000000000", "RATE_LIMIT_BURST": "1000000000",
                 "RUST_LOG": "warn,sentiment_api=info,sentiment_api::access=warn"}
    rows = []
    try:
        redis = rc.Redis(work)
        for n, shared in [(1, False), (1, True), (2, True), (3, True)]:
            started = []
            ports = []
            for i in range(n):
                proc, port = rc.start_replica(binary, work, f"r{n}-{i}-{shared}",
                                              redis.port if shared else None, "closed", 50, **unlimited)
                started.append(proc)
                ports.append(port)
            nginx, port = rc.start_nginx(work, ports)
            started.append(nginx)
            wrk(port, 2, work)  # warm-up
            rps, p99 = wrk(port, args.seconds, work)
            label = f"{n} replica{'s' if n > 1 else ''}, {'Redis' if shared else 'in memory'}"
            rows.append((label, rps, p99))
            print(f"{label:28} {rps:10.0f} req/s   p99 {p99}", flush=True)
            for proc in reversed(started):
                rc.stop(proc)
                rc.PROCS.remove(proc)
        base = rows[0][1]
        print("\nbehind nginx, WORKERS=1 each, 32 connections; ratio to 1 replica in memory:")
        for label, rps, p99 in rows:
            print(f"  {label:28} {rps:10.0f} req/s  {rps / base:5.2f}x   p99 {p99}")
    finally:
        rc.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
