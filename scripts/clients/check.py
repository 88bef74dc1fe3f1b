#!/usr/bin/env python3
"""Generated clients work as written: generates a Python client (openapi-python-client) and
TypeScript types (openapi-typescript) from the running server's /openapi.json, and uses both.

    python3 scripts/clients/check.py [--binary target/debug/sentiment-api]

The server runs on a free loopback port with a key of its own and a second, `tiny`, key limited
to one request a minute (for a 429). Nothing generated is committed: the Python client goes to
target/clients/python, the TypeScript types to scripts/clients/ts/generated (git-ignored), fresh
on every run, so the check follows the document. The Python tools live in target/clients-venv
(requirements.txt, pinned); the TypeScript ones are installed by `npm ci` (package-lock.json).

Exit status: 0 when generation gave no warning and every use passed; 1 otherwise.
"""

import argparse
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
from api_checks import Server  # noqa: E402  (the path above must be set first)

TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
TARGET = TARGET if TARGET.is_absolute() else REPO / TARGET
VENV = TARGET / "clients-venv"
PY_OUT = TARGET / "clients" / "python"
TS_DIR = HERE / "ts"
TIMEOUT = 300


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run(cmd, timeout=TIMEOUT, text=True, capture_output=True, **kw)


def venv_python() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / "requirements.sha256"
    want = hashlib.sha256((HERE / "requirements.txt").read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        return python
    shutil.rmtree(VENV, ignore_errors=True)
    venv.create(VENV, with_pip=True)
    r = run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-r", HERE / "requirements.txt"])
    if r.returncode != 0:
        sys.exit(f"clients: cannot install the Python tools:\n{r.stdout}{r.stderr}")
    stamp.write_text(want)
    return python


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", type=Path, default=TARGET / "debug" / "sentiment-api")
    args = ap.parse_args()
    if not args.binary.exists():
        sys.exit(f"clients: {args.binary} is missing; run `cargo build` first")
    python = venv_python()
    bin_dir = python.parent
    failures = []

    key, tiny = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="sentiment-api-clients-") as work:
        keys = Path(work) / "keys.toml"
        keys.write_text(
            f'[[keys]]\nid = "tiny"\nsha256 = "{hashlib.sha256(tiny.encode()).hexdigest()}"\n'
            "rate_limit_per_minute = 1\nrate_limit_burst = 1\n")
        server = Server(args.binary.resolve(), key, Path(work), TARGET / "clients" / "server.log",
                        {"API_KEYS_FILE": str(keys)})
        try:
            print(server.start(), flush=True)
            url = f"{server.base_url}/openapi.json"

            # Python: generate (no warning allowed), then use.
            shutil.rmtree(PY_OUT, ignore_errors=True)
            PY_OUT.parent.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
            r = run([bin_dir / "openapi-python-client", "generate", "--url", url,
                     "--output-path", PY_OUT], env=env)
            print(r.stdout + r.stderr, end="")
            if r.returncode != 0 or "Warning" in r.stdout + r.stderr:
                failures.append("openapi-python-client: generation failed or warned")
            else:
                r = run([python, HERE / "use_python_client.py", server.base_url],
                        env={**env, "PYTHONPATH": str(PY_OUT), "CLIENT_API_KEY": key,
                             "CLIENT_TINY_KEY": tiny})
                print((r.stdout + r.stderr).replace(key, "[redacted]"), end="")
                if r.returncode != 0:
                    failures.append("the generated Python client")

            # TypeScript: types generated, compiled with tsc --strict, used with fetch.
            steps = [
                ["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
                ["npx", "--no-install", "openapi-typescript", url, "-o", "generated/api.d.ts"],
                ["npx", "--no-install", "tsc", "-p", "."],
            ]
            for step in steps:
                r = run(step, cwd=TS_DIR)
                print(r.stdout + r.stderr, end="")
                if r.returncode != 0:
                    failures.append(" ".join(step[:3]))
                    break
            else:
                r = run(["node", "dist/check.js", server.base_url], cwd=TS_DIR,
                        env={**os.environ, "CLIENT_API_KEY": key})
                print((r.stdout + r.stderr).replace(key, "[redacted]"), end="")
                if r.returncode != 0:
                    failures.append("the TypeScript types with fetch")
        finally:
            server.stop()
    if failures:
        print("clients: FAILED: " + "; ".join(failures))
        return 1
    print("clients: both generated clients work as written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
