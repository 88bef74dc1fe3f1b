#!/usr/bin/env bash
# Runs docs/testing.md's shell recipe for non-Rust suites ("Other languages") as written: the binary
# on PATH, started with API_SECRET_KEY, waited for on /health, and stopped by its PID. In place of the
# recipe's "run the suite" line, a request with the key must be answered 200 and one without 401.
# Only the port is replaced (by a free one). Usage: bash scripts/testing_shell_check.sh
# SENTIMENT_API_BIN picks the binary (default target/debug/sentiment-api, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${SENTIMENT_API_BIN:-target/debug/sentiment-api}
[ -x "$bin" ] || cargo build --quiet --bin sentiment-api
bindir=$(dirname "$(readlink -f "$bin")")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$port" >"$work/recipe.sh" <<'PY'
import re, sys
doc = open("docs/testing.md").read()
section = doc[doc.index("## Other languages"):]
recipe = next(b for b in re.findall(r"```sh[^\n]*\n(.*?)```", section, re.S) if "# ... run the suite" in b)
check = """code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-API-Key: $API_SECRET_KEY" 'http://127.0.0.1:8765/predict?text=I%20love%20it')
[ "$code" = 200 ] || { echo "with the key: $code"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST 'http://127.0.0.1:8765/predict?text=hi')
[ "$code" = 401 ] || { echo "without a key: $code"; exit 1; }"""
lines = [check if l.startswith("# ... run the suite") else l for l in recipe.splitlines()]
assert check in lines, "the recipe has no '# ... run the suite' line"
# Whatever happens, the server the recipe started is stopped (by its PID) when the recipe ends.
print("set -euo pipefail\ntrap 'kill $SERVER_PID 2>/dev/null || true' EXIT")
print("\n".join(lines).replace("8765", sys.argv[1]))
PY
# A fresh directory (no .env) and only PATH from this environment, as a CI job would have.
(cd "$work" && timeout 60 env -i PATH="$bindir:$PATH" HOME="$work" bash recipe.sh)
echo "docs/testing.md's recipe for other languages: ok (port $port)"
