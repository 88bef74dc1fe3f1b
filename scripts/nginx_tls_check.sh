#!/usr/bin/env bash
# Tests the nginx configuration (docs/nginx.conf) as written, with one replica: Debian's nginx
# runs it in the foreground on loopback with a throwaway certificate, in front of the plain-HTTP
# binary (TRUSTED_PROXIES=127.0.0.1); requests through it over HTTPS (HTTP/2 and HTTP/1.1) must get
# the service's answers. Only the ports and the certificate paths of the snippet are replaced.
#
# Usage: bash scripts/nginx_tls_check.sh
# SENTIMENT_API_BIN picks the binary (default target/debug/sentiment-api, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${SENTIMENT_API_BIN:-target/debug/sentiment-api}
key=nginx-check-key-0123456789

if ! command -v nginx >/dev/null; then
    echo "installing nginx (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q nginx >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q nginx >/dev/null; }
fi
[ -x "$bin" ] || cargo build --quiet --bin sentiment-api
bin=$(readlink -f "$bin")
nginx=$(command -v nginx)

source scripts/start_binary.sh
work=$(mktemp -d)
chmod 755 "$work"
PIDS=()
trap 'stop_all; rm -rf "$work"' EXIT
fail() {
    echo "FAIL: $*"
    echo "--- service log"; cat "$work/server.log" || true
    echo "--- nginx error log"; cat "$work/error.log" || true
    exit 1
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -keyout "$work/key.pem" -out "$work/cert.pem" -subj "/CN=localhost" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null

# The service: plain HTTP on loopback, believing the proxy's X-Forwarded-For.
start_binary "$work" server API_SECRET_KEY="$key" HOST=127.0.0.1 PORT=0 WORKERS=1 \
    TRUSTED_PROXIES=127.0.0.1 || fail "the service did not start"
server_pid=$BINARY_PID
upstream=${BINARY_URL#http://}
grep -q INSECURE "$work/server.log" && fail "the service warned about plain HTTP on loopback"

# docs/deploy.md links docs/nginx.conf rather than quoting it: one copy, the one run here.

# nginx: the snippet, with this run's ports and certificate.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s|server 127.0.0.1:8001;|server $upstream;|" -e "/server 127.0.0.1:800[23];/d" \
    -e "s|listen 443 ssl http2;|listen 127.0.0.1:$port ssl http2;|" \
    -e "s|/etc/letsencrypt/live/api.example.com/fullchain.pem|$work/cert.pem|" \
    -e "s|/etc/letsencrypt/live/api.example.com/privkey.pem|$work/key.pem|" \
    docs/nginx.conf >"$work/sentiment-api.conf"
grep -q "$port ssl" "$work/sentiment-api.conf" && grep -q "$upstream" "$work/sentiment-api.conf" \
    || fail "the snippet no longer has the lines this script adapts"
mkdir -p "$work/tmp"
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 64; }
http {
    access_log $work/access.log;
    client_body_temp_path $work/tmp/body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fastcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    include $work/sentiment-api.conf;
}
CONF
"$nginx" -t -q -p "$work" -c "$work/nginx.conf" || fail "nginx refused the configuration"
"$nginx" -p "$work" -c "$work/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
PIDS=("$nginx_pid" "${PIDS[@]}") # nginx first: stopped before the service behind it

url="https://127.0.0.1:$port"
request() { # curl options...; prints "<HTTP version> <status> <body>"
    curl -sS --max-time 5 --cacert "$work/cert.pem" -o "$work/body" \
        -w '%{http_version} %{http_code}' "$@" && printf ' %s' "$(cat "$work/body")"
}
for _ in $(seq 1 50); do
    request "$url/health" >/dev/null 2>&1 && break
    kill -0 "$nginx_pid" 2>/dev/null || fail "nginx exited"
    sleep 0.1
done

ok=$(request --http2 -X POST "$url/predict?text=I%20love%20it" -H "X-API-Key: $key") \
    || fail "no answer through nginx"
echo "HTTPS through nginx, with a key:    $ok"
case "$ok" in
    '2 200 {"text":"I love it","sentiment":"positive","score":0.6369,'*) ;;
    *) fail "expected HTTP/2 200 with the positive prediction, got: $ok" ;;
esac
refused=$(request --http1.1 -X POST "$url/predict?text=hi") || fail "no answer through nginx"
echo "HTTPS through nginx, with no key:   $refused"
[ "$refused" = '1.1 401 {"detail":"Not authenticated"}' ] || fail "expected the service's 401, got: $refused"
hsts=$(curl -sS --max-time 5 --cacert "$work/cert.pem" -o /dev/null -D - "$url/health" \
    | tr -d '\r' | grep -i '^strict-transport-security:' || true)
[ -n "$hsts" ] || fail "no Strict-Transport-Security from nginx"
echo "HSTS from nginx:                    $hsts"
echo "OK: nginx (PID $nginx_pid) ends TLS in front of sentiment-api (PID $server_pid) on $upstream"
