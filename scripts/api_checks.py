#!/usr/bin/env python3
"""End-to-end checks of a running sentiment-api, for CI after `cargo test`.

    python3 scripts/api_checks.py [--no-browser] [--max-examples N] [--seed N] [--binary PATH]

Sets up target/ci-venv from scripts/requirements-ci.txt (reused while it is intact), then starts
target/debug/sentiment-api (building it if missing) on a free loopback port, in an empty
temporary working directory, with a random key, then checks:

  openapi         /openapi.json is a valid OpenAPI 3.1 document (openapi-spec-validator) with the
                  APIKeyHeader scheme;
  schemathesis    every operation, fuzzed with the key: no 5xx, and status codes, content types,
                  headers and bodies as documented;
  metrics         /metrics parses as Prometheus text, has every expected family, and never shows the
                  key (nor a raw job id);
  key-not-logged  the server's own log never shows the key;
  browser         Swagger UI at /docs in Chromium: all operations rendered, Authorize, and a
                  live POST /predict from the page (scripts/browser/docs_check.mjs; skipped by
                  --no-browser). Installs Chromium with apt if missing, and runs `npm ci`.

The server is stopped at the end whatever happens. One summary line per step; exit 1 if any failed.

This file runs twice: as the outer script with only the standard library, and, for the parts that
need the pinned tools, re-run by the venv's Python with a hidden `--inner` subcommand.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "target"
BINARY = TARGET / "debug" / "sentiment-api"
VENV = TARGET / "ci-venv"
REQUIREMENTS = REPO / "scripts" / "requirements-ci.txt"
BROWSER_DIR = REPO / "scripts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = TARGET / "api-checks"  # openapi.json, metrics.txt, server.log, schemathesis report
SCREENSHOT = TARGET / "docs-screenshot.png"

# The modules the venv must import; the stamp holds a hash of the requirements and the Python.
VENV_IMPORTS = "import schemathesis, openapi_spec_validator, prometheus_client"
VENV_STAMP = VENV / ".requirements.sha256"

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]
OPTIONAL_CHECKS = ["response_headers_conformance"]  # used when this schemathesis has it

# name -> Prometheus type. prometheus_client's parser names a counter family without `_total`.
METRIC_FAMILIES = {
    "http_requests_total": "counter",
    "http_request_duration_seconds": "histogram",
    "auth_failures_total": "counter",
    "rate_limited_total": "counter",
    "overloaded_total": "counter",
    "inference_duration_seconds": "histogram",
    "http_requests_in_flight": "gauge",
    "jobs_pending": "gauge",
    "api_keys_loaded": "gauge",
}

# Every wait is bounded (seconds).
STARTUP_TIMEOUT = 30
HTTP_TIMEOUT = 10
SCHEMATHESIS_TIMEOUT = 900
BROWSER_TIMEOUT = 240
INSTALL_TIMEOUT = 900


# ---------------------------------------------------------------------------------------------
# Results


class Results:
    """One line per step: name, PASS/FAIL/SKIP, seconds, detail."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float, str]] = []

    def add(self, name: str, status: str, seconds: float, detail: str = "") -> None:
        self.rows.append((name, status, seconds, detail))
        print(f"--- {status} {name} ({seconds:.1f}s){': ' + detail if detail else ''}", flush=True)

    def run(self, name: str, fn, *args) -> bool:
        """Runs fn(*args) -> detail; an exception (CheckFailed or any other) is a FAIL."""
        print(f"\n=== {name}", flush=True)
        start = time.monotonic()
        try:
            detail = fn(*args) or ""
        except CheckFailed as e:
            self.add(name, "FAIL", time.monotonic() - start, str(e))
            return False
        except Exception as e:  # a crash of the check itself is a failure too, not a traceback
            self.add(name, "FAIL", time.monotonic() - start, f"{type(e).__name__}: {e}")
            return False
        self.add(name, "PASS", time.monotonic() - start, detail)
        return True

    def failed(self) -> bool:
        return any(status == "FAIL" for _, status, _, _ in self.rows)

    def summary(self) -> None:
        print("\n=== summary")
        width = max((len(name) for name, *_ in self.rows), default=0)
        for name, status, seconds, detail in self.rows:
            print(f"{status:4} {name:<{width}} {seconds:7.1f}s  {detail}")


class CheckFailed(Exception):
    pass


def tool_env(**extra: str) -> dict:
    """Our environment for a child tool, with loopback kept away from any configured proxy."""
    env = dict(os.environ, **extra)
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(filter(None, [env.get(name), "127.0.0.1,localhost"]))
    return env


def sh(cmd: list[str], *, timeout: float, cwd: Path | None = None,
       env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs a setup command with a time limit, its output going to ours."""
    print("$ " + " ".join(cmd), flush=True)
    try:
        return subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout, text=True,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"`{cmd[0]}` still running after {timeout:.0f}s; stopped") from None


def run_tool(cmd: list[str], *, timeout: float, cwd: Path | str, env: dict) -> tuple[int, str]:
    """Runs a test tool in its own process group and returns (exit code, output).

    On a time-out or an interrupt the whole group is killed: schemathesis and node (with the
    Chromium that playwright started) must not outlive this script.
    """
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, text=True, errors="replace",
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        return proc.returncode, output
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"`{Path(cmd[0]).name}` still running after {timeout:.0f}s; stopped") \
            from None
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# Setup: binary, venv, Chromium, node modules


def ensure_binary(binary: Path) -> str:
    if binary.exists():
        return f"{binary} exists"
    if binary != BINARY:
        raise CheckFailed(f"{binary} does not exist")
    r = sh(["cargo", "build", "--bin", "sentiment-api"], cwd=REPO, timeout=INSTALL_TIMEOUT)
    if r.returncode != 0 or not BINARY.exists():
        raise CheckFailed(f"cargo build failed ({r.returncode})")
    return "built with cargo build --bin sentiment-api"


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> str:
    stamp = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()
    if VENV_STAMP.exists() and VENV_STAMP.read_text().strip() == stamp:
        # Reuse it only if it still works (a half-finished install or a moved Python breaks it).
        probe = subprocess.run([str(venv_python()), "-c", VENV_IMPORTS], capture_output=True,
                               timeout=120, stdin=subprocess.DEVNULL)
        if probe.returncode == 0:
            return f"reused {VENV.relative_to(REPO)}"
        print(f"{VENV} is broken; rebuilding it", flush=True)
    if VENV.exists():
        shutil.rmtree(VENV)
    r = sh([sys.executable, "-m", "venv", str(VENV)], timeout=300)
    if r.returncode != 0:
        raise CheckFailed("python3 -m venv failed")
    pip = [str(venv_python()), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    r = sh(pip + ["install", "--quiet", "-r", str(REQUIREMENTS)], timeout=INSTALL_TIMEOUT)
    if r.returncode != 0:
        raise CheckFailed(f"pip install -r {REQUIREMENTS.name} failed")
    r = subprocess.run([str(venv_python()), "-c", VENV_IMPORTS], timeout=120,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise CheckFailed("the new venv cannot import its tools")
    # Written last, so an interrupted install is never taken for a good one.
    VENV_STAMP.write_text(stamp + "\n")
    return f"created {VENV.relative_to(REPO)} from {REQUIREMENTS.name}"


def ensure_chromium() -> str:
    if CHROMIUM.exists():
        return f"{CHROMIUM} present"
    if os.geteuid() != 0:
        raise CheckFailed(f"{CHROMIUM} missing; install it with `apt-get install chromium` as root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        if sh(cmd, env=env, timeout=INSTALL_TIMEOUT).returncode != 0:
            raise CheckFailed(f"`{' '.join(cmd)}` failed")
    if not CHROMIUM.exists():
        raise CheckFailed(f"apt installed chromium but {CHROMIUM} is still missing")
    return "installed with apt-get install chromium"


def ensure_node_modules() -> str:
    if shutil.which("npm") is None:
        raise CheckFailed("npm not found")
    # npm ci installs exactly package-lock.json (playwright-core only; it downloads no browser).
    # --prefer-offline: take the tarball from npm's cache when it is there (a rerun needs no fetch).
    r = sh(["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
           cwd=BROWSER_DIR, timeout=INSTALL_TIMEOUT)
    if r.returncode != 0:
        raise CheckFailed("npm ci failed")
    version = json.loads((BROWSER_DIR / "node_modules" / "playwright-core" / "package.json")
                         .read_text())["version"]
    return f"npm ci: playwright-core {version}"


# ---------------------------------------------------------------------------------------------
# The server


class Server:
    """The service on a free loopback port (PORT=0), in an empty temporary working directory."""

    LISTENING = re.compile(r"sentiment-api listening on (http://[0-9.]+:(\d+))")

    def __init__(self, binary: Path, key: str, workdir: Path, log_path: Path,
                 extra_env: dict | None = None) -> None:
        self.extra_env = extra_env or {}
        self.binary = binary
        self.key = key
        self.workdir = workdir
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.base_url: str | None = None
        self._found = threading.Event()

    def start(self) -> str:
        # A minimal environment, so nothing from the caller's (API_KEYS_FILE, HOST, ...) leaks in;
        # and the cwd has no .env for the server to read.
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "API_SECRET_KEY": self.key,
            "HOST": "127.0.0.1",
            "PORT": "0",
            "RUST_LOG": "info",
            # The fuzzer sends well over the default 60 requests a minute, and many bad inputs.
            "RATE_LIMIT_PER_MINUTE": "1000000",
            "RATE_LIMIT_BURST": "1000000",
            "AUTH_FAILURES_PER_MINUTE": "1000000",
            **self.extra_env,
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [str(self.binary)], cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace",
            start_new_session=True,  # its own process group, so stop() reaches all of it
        )
        threading.Thread(target=self._pump, daemon=True).start()
        if not self._found.wait(STARTUP_TIMEOUT) or self.base_url is None:
            code = self.proc.poll()
            raise CheckFailed(
                f"no 'listening on' line within {STARTUP_TIMEOUT}s"
                + (f" (server exited with {code})" if code is not None else "")
                + f"; see {self.log_path}")
        return f"{self.base_url} (pid {self.proc.pid}, log {self.log_path.relative_to(REPO)})"

    def _pump(self) -> None:
        """Copies the server's output to its log file, watching for the listening line."""
        assert self.proc is not None and self.proc.stdout is not None
        with open(self.log_path, "w") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                if self.base_url is None:
                    m = self.LISTENING.search(line)
                    if m:
                        self.base_url = m.group(1)
                        self._found.set()
        self._found.set()  # the server exited: stop waiting

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # SIGTERM first (a graceful actix shutdown), then SIGKILL to the whole group.
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass


# No proxy, whatever the environment says: every request here is for the local server.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method: str, url: str, *, key: str | None = None, body: object = None,
         headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One request; returns (status, headers, body) for any status, raises only on I/O errors."""
    data = None
    hdrs = dict(headers or {})
    if key is not None:
        hdrs["X-API-Key"] = key
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with _OPENER.open(req, timeout=HTTP_TIMEOUT) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


# ---------------------------------------------------------------------------------------------
# The checks (outer side)


def inner(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Re-runs this file under the venv's Python for work that needs the pinned tools."""
    return subprocess.run([str(venv_python()), str(Path(__file__).resolve()), "--inner", *args],
                          timeout=timeout, text=True, stdin=subprocess.DEVNULL,
                          capture_output=True)


def check_openapi(server: Server) -> str:
    status, headers, body = http("GET", f"{server.base_url}/openapi.json")
    if status != 200:
        raise CheckFailed(f"GET /openapi.json answered {status}")
    path = ARTIFACTS / "openapi.json"
    path.write_bytes(body)
    r = inner("validate", str(path))
    print(r.stdout + r.stderr, end="")
    if r.returncode != 0:
        raise CheckFailed((r.stdout.strip().splitlines() or ["validation failed"])[-1])
    return r.stdout.strip().splitlines()[-1]


def schemathesis_checks() -> list[str]:
    """The required checks, plus the optional ones this schemathesis version knows."""
    r = subprocess.run([str(VENV / "bin" / "schemathesis"), "run", "--help"],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    return CHECKS + [c for c in OPTIONAL_CHECKS if c in r.stdout]


def check_schemathesis(server: Server, max_examples: int, seed: int) -> str:
    checks = schemathesis_checks()
    report_dir = ARTIFACTS / "schemathesis"
    shutil.rmtree(report_dir, ignore_errors=True)
    cmd = [
        str(VENV / "bin" / "schemathesis"), "--no-color", "run", f"{server.base_url}/openapi.json",
        "--checks", ",".join(checks),
        "--max-examples", str(max_examples),
        "--seed", str(seed),
        # One worker and no example database: the same seed replays the same run.
        "--workers", "1",
        "--generation-database", "none",
        "--request-timeout", str(HTTP_TIMEOUT),
        "--report", "junit", "--report-dir", str(report_dir),
    ]
    print("$ " + " ".join(cmd), flush=True)
    # It runs in an empty directory of its own, so the only schemathesis.toml it finds is this
    # one, which adds the key to every request. The file names an environment variable, so the
    # key is in neither a file nor the command line (`ps`).
    with tempfile.TemporaryDirectory(prefix="schemathesis-") as cwd:
        Path(cwd, "schemathesis.toml").write_text(
            'headers = { "X-API-Key" = "${SENTIMENT_API_KEY}" }\n')
        env = tool_env(NO_COLOR="1", SENTIMENT_API_KEY=server.key)
        code, output = run_tool(cmd, cwd=cwd, env=env, timeout=SCHEMATHESIS_TIMEOUT)
    output = output.replace(server.key, "[redacted]")  # belt and braces: its sanitizer does too
    print(output, end="")
    if not server.alive():
        raise CheckFailed("the server died during the run")
    cases = re.search(r"Test cases:\s*\n\s*(.+)", output)
    detail = f"{','.join(checks)}; seed {seed}; " + (cases.group(1).strip() if cases else "")
    if code != 0:
        raise CheckFailed(f"schemathesis exited {code}: {detail}")
    # Guard against a green run that skipped operations (a filter or a schema it could not read).
    selected = re.search(r"Selected: \d+/(\d+)", output)
    tested = re.search(r"Tested: (\d+)", output)
    if not (selected and tested and tested.group(1) == selected.group(1)):
        raise CheckFailed(f"not every operation was tested: {detail}")
    return detail


def check_metrics(server: Server) -> str:
    base, key = server.base_url, server.key
    # Traffic that should touch every family we can reach without tripping a limit.
    expect = [
        (http("GET", f"{base}/health"), 200),
        (http("POST", f"{base}/predict?text=I%20love%20it", key=key), 200),
        (http("POST", f"{base}/predict", key=key, body={"text": "This is awful."}), 200),
        (http("POST", f"{base}/predict/batch", key=key, body={"texts": ["good", "bad"]}), 200),
        (http("GET", f"{base}/me", key=key), 200),
        (http("GET", f"{base}/me"), 401),  # no key: auth_failures_total{reason="missing"}
        (http("GET", f"{base}/me", key="not-the-key-0123456789"), 403),
    ]
    status, headers, body = http("POST", f"{base}/analyze_batch", key=key,
                                 body={"texts": ["fine", "terrible"]})
    expect.append(((status, headers, body), 202))
    job_id = json.loads(body).get("job_id") if status == 202 else None
    if job_id:
        expect.append((http("GET", f"{base}/jobs/{job_id}", key=key), 200))
    wrong = [f"{got[0]} (wanted {want})" for got, want in expect if got[0] != want]
    if wrong:
        raise CheckFailed(f"warm-up requests answered unexpectedly: {', '.join(wrong)}")

    status, headers, body = http("GET", f"{base}/metrics")
    if status != 200:
        raise CheckFailed(f"GET /metrics answered {status}")
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if not ctype.startswith("text/plain"):
        raise CheckFailed(f"GET /metrics Content-Type is {ctype!r}, not text/plain")
    text = body.decode()
    (ARTIFACTS / "metrics.txt").write_text(text.replace(key, "[KEY]"))
    problems = []
    if key in text:
        problems.append("the API key appears in the metrics text")
    if job_id and job_id in text:
        problems.append(f"a raw job id ({job_id}) appears in the metrics text (unbounded label)")
    r = inner("metrics", str(ARTIFACTS / "metrics.txt"))
    print(r.stdout + r.stderr, end="")
    if r.returncode != 0:
        problems.append(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip())
    if problems:
        raise CheckFailed("; ".join(problems))
    return r.stdout.strip().splitlines()[-1]


def check_key_not_logged(server: Server) -> str:
    log = server.log_path.read_text(errors="replace")
    if server.key in log:
        raise CheckFailed(f"the API key appears in the server log {server.log_path}")
    return f"{len(log.splitlines())} log lines, no key"


def check_browser(server: Server) -> str:
    env = tool_env(DOCS_API_KEY=server.key, DOCS_SCREENSHOT=str(SCREENSHOT))
    SCREENSHOT.unlink(missing_ok=True)
    # The key goes by environment, not argv, so `ps` does not show it.
    cmd = ["node", "docs_check.mjs", server.base_url]
    print("$ " + " ".join(cmd), flush=True)
    code, output = run_tool(cmd, cwd=BROWSER_DIR, env=env, timeout=BROWSER_TIMEOUT)
    output = output.replace(server.key, "[redacted]")
    print(output, end="")
    if code != 0:
        fails = [line[5:] for line in output.splitlines() if line.startswith("FAIL ")]
        raise CheckFailed("; ".join(fails) or f"docs_check.mjs exited {code}")
    shot = re.search(r"^screenshot: (.+)$", output, re.M)
    return f"Swagger UI rendered, authorized, executed; screenshot {shot.group(1) if shot else '?'}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_cors_browser(binary: Path, workdir: Path) -> str:
    """A second server with CORS for one page origin and 2 requests a minute; cors_check.mjs
    calls it from that origin and from another in Chromium."""
    allowed, other = free_port(), free_port()
    key = secrets.token_urlsafe(32)
    server = Server(binary, key, workdir, ARTIFACTS / "server-cors.log", {
        "CORS_ALLOWED_ORIGINS": f"http://127.0.0.1:{allowed}",
        "RATE_LIMIT_PER_MINUTE": "2",
        "RATE_LIMIT_BURST": "2",
    })
    try:
        server.start()
        cmd = ["node", "cors_check.mjs", server.base_url, str(allowed), str(other)]
        print("$ " + " ".join(cmd), flush=True)
        code, output = run_tool(cmd, cwd=BROWSER_DIR, env=tool_env(CORS_API_KEY=key),
                                timeout=BROWSER_TIMEOUT)
        print(output.replace(key, "[redacted]"), end="")
        if code != 0:
            fails = [line[5:] for line in output.splitlines() if line.startswith("FAIL ")]
            raise CheckFailed("; ".join(fails) or f"cors_check.mjs exited {code}")
        return "a page on another origin read a 200, a 403 and a 429; a third origin read nothing"
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# The checks (inner side, under the venv's Python)


def inner_validate(path: str) -> int:
    from openapi_spec_validator import OpenAPIV31SpecValidator

    spec = json.loads(Path(path).read_text())
    if not str(spec.get("openapi", "")).startswith("3.1"):
        print(f"openapi is {spec.get('openapi')!r}, not 3.1.x")
        return 1
    errors = list(OpenAPIV31SpecValidator(spec).iter_errors())
    for e in errors:
        print(f"  {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}")
    if errors:
        print(f"{len(errors)} OpenAPI 3.1 validation errors")
        return 1
    scheme = spec.get("components", {}).get("securitySchemes", {}).get("APIKeyHeader")
    if scheme != {"type": "apiKey", "in": "header", "name": "X-API-Key"}:
        print(f"securitySchemes.APIKeyHeader is {scheme!r}, not apiKey in header X-API-Key")
        return 1
    ops = sum(1 for item in spec.get("paths", {}).values() for m in item
              if m in {"get", "put", "post", "delete", "options", "head", "patch", "trace"})
    print(f"OpenAPI {spec['openapi']} valid: {len(spec.get('paths', {}))} paths, {ops} operations,"
          " APIKeyHeader = apiKey in header X-API-Key")
    return 0


def inner_metrics(path: str) -> int:
    from prometheus_client.parser import text_string_to_metric_families

    families = {}
    for fam in text_string_to_metric_families(Path(path).read_text()):
        # The parser drops a counter's `_total`; put it back to compare with the exposed names.
        name = fam.name + "_total" if fam.type == "counter" else fam.name
        families[name] = fam
    problems = []
    for name, kind in METRIC_FAMILIES.items():
        fam = families.get(name)
        if fam is None:
            problems.append(f"{name} missing")
        elif fam.type != kind:
            problems.append(f"{name} is a {fam.type}, not a {kind}")
    predict_ok = any(s.labels.get("route") == "/predict" and s.labels.get("status") == "200"
                     and s.value >= 2
                     for s in getattr(families.get("http_requests_total"), "samples", []))
    if not predict_ok:
        problems.append('http_requests_total{route="/predict",status="200"} is not >= 2')
    if problems:
        print(f"{len(families)} families parsed; " + "; ".join(problems))
        return 1
    print(f"{len(families)} families parsed, all {len(METRIC_FAMILIES)} expected present")
    return 0


# ---------------------------------------------------------------------------------------------


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-browser", action="store_true", help="skip the Swagger UI check")
    ap.add_argument("--binary", type=Path, default=BINARY,
                    help="server binary (default target/debug/sentiment-api, built if missing)")
    ap.add_argument("--max-examples", type=int, default=100,
                    help="schemathesis cases per operation")
    ap.add_argument("--seed", type=int, default=20261128, help="schemathesis seed")
    ap.add_argument("--inner", nargs=2, metavar=("WHAT", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        what, path = args.inner
        return {"validate": inner_validate, "metrics": inner_metrics}[what](path)

    # A SIGTERM (CI cancelled) unwinds like Ctrl-C, so the finally below stops the server.
    signal.signal(signal.SIGTERM, _raise_interrupt)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    results = Results()
    binary = args.binary.resolve()
    ok = results.run("build", ensure_binary, binary)
    venv_ok = results.run("venv", ensure_venv)
    browser_ready = False
    if not args.no_browser:
        browser_ready = results.run("chromium", ensure_chromium)
        browser_ready = results.run("npm-ci", ensure_node_modules) and browser_ready

    server = None
    workdir = tempfile.TemporaryDirectory(prefix="sentiment-api-")
    try:
        if ok:
            server = Server(binary, secrets.token_urlsafe(32), Path(workdir.name),
                            ARTIFACTS / "server.log")
            ok = results.run("server", server.start)
        if ok and venv_ok:
            results.run("openapi", check_openapi, server)
            results.run("schemathesis", check_schemathesis, server, args.max_examples, args.seed)
            results.run("metrics", check_metrics, server)
        else:
            for name in ("openapi", "schemathesis", "metrics"):
                results.add(name, "FAIL", 0, "not run: setup failed")
        if args.no_browser:
            results.add("browser", "SKIP", 0, "--no-browser")
        elif ok and browser_ready:
            results.run("browser", check_browser, server)
            results.run("cors-browser", check_cors_browser, binary, Path(workdir.name))
        else:
            results.add("browser", "FAIL", 0, "not run: setup failed")
        if server is not None and server.base_url:
            results.run("key-not-logged", check_key_not_logged, server)
            if not server.alive():
                results.add("server-alive", "FAIL", 0,
                            f"the server exited ({server.proc.returncode}) before the end")
    except KeyboardInterrupt:
        results.add("interrupted", "FAIL", 0, "stopped by a signal")
    finally:
        if server is not None:
            server.stop()
        workdir.cleanup()
    results.summary()
    return 1 if results.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
