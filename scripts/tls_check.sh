#!/usr/bin/env bash
# Grades the service's native TLS with testssl.sh (Debian's package): the built binary serves
# HTTPS on 127.0.0.1 with a throwaway certificate, testssl.sh runs every default check against it,
# and the script fails on any finding graded HIGH or CRITICAL. The summary goes to the log.
#
# The certificate imitates what a public CA issues (a CA above it, 90 days, a CRL distribution
# point, serverAuth), so that what is graded is the server's TLS, not the throwaway certificate:
# a self-signed 30-day certificate with no revocation pointer is graded HIGH by testssl.sh for
# those reasons alone. The CRL URL is never fetched (testssl.sh does not phone out by default).
#
# Usage: bash scripts/tls_check.sh            (ECDSA P-256 certificate, certbot's default)
#        TLS_CHECK_KEY=rsa bash scripts/tls_check.sh   (RSA 2048)
# SENTIMENT_API_BIN picks the binary (default target/debug/sentiment-api, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

key_type=${TLS_CHECK_KEY:-ec}
bin=${SENTIMENT_API_BIN:-target/debug/sentiment-api}

if ! command -v testssl >/dev/null; then
    echo "installing testssl.sh (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q testssl.sh >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q testssl.sh >/dev/null; }
fi
[ -x "$bin" ] || cargo build --quiet --bin sentiment-api
bin=$(readlink -f "$bin")

source scripts/start_binary.sh
work=$(mktemp -d)
PIDS=()
trap 'stop_all; rm -rf "$work"' EXIT

# A throwaway CA and a server certificate for 127.0.0.1 signed by it (keys in PKCS#8).
case "$key_type" in
    ec) new_key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
    rsa) new_key=(-newkey rsa:2048) ;;
    *) echo "TLS_CHECK_KEY must be ec or rsa" >&2; exit 2 ;;
esac
(
    cd "$work"
    openssl req -x509 "${new_key[@]}" -nodes -keyout ca.key -out ca.pem -days 365 \
        -subj "/CN=sentiment-api throwaway CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req "${new_key[@]}" -nodes -keyout key.pem -out server.csr -subj "/CN=localhost" \
        2>/dev/null
    cat >server.ext <<'EOF'
subjectAltName=IP:127.0.0.1,DNS:localhost
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
crlDistributionPoints=URI:http://127.0.0.1:9/throwaway-ca.crl
EOF
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 90 \
        -sha256 -extfile server.ext -out cert.pem 2>/dev/null
)

# The server on a port of the OS's choosing, in an empty folder (no .env is read).
start_binary "$work" server API_SECRET_KEY=tls-check-key-0123456789 HOST=127.0.0.1 PORT=0 \
    WORKERS=1 TLS_CERT_FILE=cert.pem TLS_KEY_FILE=key.pem HSTS_MAX_AGE=31536000
address=${BINARY_URL#https://}
echo "server (PID $BINARY_PID) on $BINARY_URL with a throwaway $key_type certificate"

# Bounded: a full run takes about 1-2 minutes on 2 cores.
status=0
timeout 600 testssl --quiet --color 0 --warnings off --connect-timeout 10 --openssl-timeout 10 \
    --add-ca "$work/ca.pem" --jsonfile-pretty "$work/testssl.json" \
    "https://$address/health" >"$work/testssl.txt" 2>&1 || status=$?
# testssl.sh exits with the number of findings it could not test, or more; the JSON is the verdict.
if [ ! -s "$work/testssl.json" ]; then
    echo "testssl.sh wrote no result (exit $status):"
    cat "$work/testssl.txt"
    exit 1
fi

python3 - "$work/testssl.json" <<'EOF'
import json
import sys
from collections import Counter

def findings(node):
    if isinstance(node, dict):
        if "severity" in node and "id" in node:
            yield node
        for value in node.values():
            yield from findings(value)
    elif isinstance(node, list):
        for value in node:
            yield from findings(value)

with open(sys.argv[1]) as f:
    result = json.load(f)
every = list(findings(result))
counts = Counter(f["severity"] for f in every)
print("testssl.sh findings by severity: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
shown = {"LOW", "MEDIUM", "HIGH", "CRITICAL", "WARN"}
for f in every:
    if f["severity"] in shown:
        print(f"  {f['severity']:8} {f['id']}: {f['finding']}")
for f in every:
    protocols = ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3", "ALPN_HTTP2", "cipher_order")
    if f["id"] in protocols or f["id"].startswith("HSTS"):
        print(f"  {f['id']}: {f['finding']}")
bad = [f for f in every if f["severity"] in ("HIGH", "CRITICAL")]
if bad:
    print(f"FAIL: {len(bad)} finding(s) graded HIGH or CRITICAL")
    sys.exit(1)
print("OK: no finding graded HIGH or CRITICAL")
EOF
