#!/usr/bin/env bash
# HTTPS against plain HTTP, side by side in one run: the same release binary started twice on
# loopback, once with a throwaway TLS certificate (ECDSA P-256) and once without, driven in turn by
# wrk (POST /predict, the 20-word review of scripts/bench-load.sh as a JSON body, with the key;
# keep-alive connections, so each connection's TLS handshake happens once, at the start of a run).
# Prints req/s, p99 and server CPU per answered request (user + system of the server process, from
# /proc) for each side, and HTTPS over HTTP round by round and as the median of the rounds' ratios.
#
#   scripts/bench-tls.sh
#
# Knobs: ROUNDS=3 DURATION=6 (seconds per run) WARMUP=2 CONNECTIONS=32 THREADS=2, BUILD=0 (use
# target/release/sentiment-api as it is). wrk speaks HTTP/1.1 (no ALPN), so this measures TLS on
# HTTP/1.1. Every process this script starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-6}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
bin=$PWD/target/release/sentiment-api
KEY=bench-tls-key-0123456789abcdefgh # used for this local run only
REVIEW="I absolutely loved this little cafe: the coffee was rich, the staff were friendly, and the prices felt very fair."

command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
[[ ${BUILD:-1} == 0 ]] || cargo build --release --bin sentiment-api
[[ -x $bin ]] || { echo "no $bin" >&2; exit 1; }

source scripts/start_binary.sh
WORK=$(mktemp -d)
PIDS=()
trap 'stop_all; rm -rf "$WORK"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -subj "/CN=localhost" \
    -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null

# start <name> [VAR=value...]: the binary on a port of the OS's choosing, checked to answer the
# benchmark's request; sets <name>_PID and <name>_URL.
start() {
    local name=$1 status
    shift
    start_binary "$WORK" "$name" API_SECRET_KEY="$KEY" HOST=127.0.0.1 PORT=0 RUST_LOG=warn,sentiment_api=info \
        RATE_LIMIT_PER_MINUTE=1000000000 RATE_LIMIT_BURST=1000000000 "$@"
    printf -v "${name}_PID" %s "$BINARY_PID"
    printf -v "${name}_URL" %s "$BINARY_URL"
    status=$(curl -sS --cacert "$WORK/cert.pem" -o /dev/null -w '%{http_code}' -X POST \
        -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
        -d "{\"text\":\"$REVIEW\"}" "$BINARY_URL/predict")
    [[ $status == 200 ]] || { echo "$name answered $status" >&2; exit 1; }
}
start plain
start https TLS_CERT_FILE=cert.pem TLS_KEY_FILE=key.pem

cat >"$WORK/predict.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"text":"$REVIEW"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "$KEY"
EOF

# run <name> <seconds> <record 0|1>: appends "req/s p99_ms cpu_us_per_request" to <name>.results.
run() {
    local pid_var=${1}_PID url_var=${1}_URL out="$WORK/$1.wrk" t0 t1
    t0=$(awk '{print $14 + $15}' "/proc/${!pid_var}/stat")
    timeout $(($2 + 15)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${2}s" --latency \
        -s "$WORK/predict.lua" "${!url_var}/predict" >"$out" 2>&1
    t1=$(awk '{print $14 + $15}' "/proc/${!pid_var}/stat")
    if grep -qE 'Non-2xx|Socket errors' "$out"; then cat "$out" >&2; exit 1; fi
    [[ $3 == 1 ]] || return 0
    awk -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
        /^Requests\/sec:/ { rps = $2 }
        /requests in/ { n = $1 }
        $1 == "99%" { p99 = $2 + 0; if ($2 ~ /us$/) p99 /= 1000; if ($2 ~ /[0-9]s$/) p99 *= 1000 }
        END { printf "%.0f %.3f %.2f\n", rps, p99, ticks / hz * 1e6 / n }' "$out" >>"$WORK/$1.results"
    printf '   %-6s %s\n' "$1" "$(tail -1 "$WORK/$1.results")" >&2
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run plain "$WARMUP" 0
run https "$WARMUP" 0
echo "rounds: name req/s p99_ms server_cpu_us_per_request" >&2
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then run https "$DURATION" 1; run plain "$DURATION" 1; else
        run plain "$DURATION" 1; run https "$DURATION" 1; fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -g | awk '{v[NR] = $1} END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v c="$2" '{print $c}' "$WORK/$1.results"; }
ratios() { paste -d' ' "$WORK/https.results" "$WORK/plain.results" | awk -v c="$1" '{printf "%.3f\n", $c / $(c + 3)}'; }
cat <<EOF
== bench-tls: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $ROUNDS rounds x ${DURATION}s, $CONNECTIONS keep-alive connections, $THREADS wrk threads
                 req/s   p99 ms   server CPU us/req   (medians)
  plain HTTP  $(printf '%8.0f %8.3f %12.2f' "$(col plain 1 | median)" "$(col plain 2 | median)" "$(col plain 3 | median)")
  HTTPS       $(printf '%8.0f %8.3f %12.2f' "$(col https 1 | median)" "$(col https 2 | median)" "$(col https 3 | median)")
HTTPS / HTTP, round by round: req/s $(ratios 1 | paste -sd' ') (median $(ratios 1 | median)x); CPU/req $(ratios 3 | paste -sd' ') (median $(ratios 3 | median)x)
EOF
