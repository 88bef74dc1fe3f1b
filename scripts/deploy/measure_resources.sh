#!/usr/bin/env bash
# The figures behind deploy/kubernetes/deployment.yaml's resources: the image's static (musl)
# binary against the usual (glibc) release binary, in one run, each started on loopback with the
# deployment's settings and driven by wrk (POST /predict, a 20-word review as JSON, a valid key,
# rate limits out of reach) for DURATION seconds, alternating, ROUNDS times. Prints per binary:
# idle RSS (1 s after start), peak RSS (VmHWM after the load), requests/s, and the CPU it used
# (utime + stime over the run, in cores). Traffic to 127.0.0.1 only; every process started is
# stopped by PID. Build both first (scripts/deploy/build_image.sh; cargo build --release).
#
# Knobs: ROUNDS=3 DURATION=8 CONNECTIONS=32 THREADS=2.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
KEY=measure-resources-key-0123456789ab
declare -A BINS=([musl]=target/musl/x86_64-unknown-linux-musl/release/sentiment-api [glibc]=target/release/sentiment-api)
for b in "${BINS[@]}"; do [[ -x $b ]] || { echo "missing $b" >&2; exit 1; }; done
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }; }

work=$(mktemp -d)
pid=""
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cat >"$work/predict.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"text":"I absolutely loved this little cafe: the coffee was rich, the staff were friendly, and the prices felt very fair."}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "$KEY"
LUA
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

printf '%-6s %-5s %10s %10s %10s %8s\n' binary round "idle KiB" "peak KiB" "req/s" cores
for round in $(seq 1 "$ROUNDS"); do
    for name in musl glibc; do
        bin=$(readlink -f "${BINS[$name]}")
        (cd "$work" && exec env -i API_SECRET_KEY=$KEY HOST=127.0.0.1 PORT=$port LOG_FORMAT=json RUST_LOG=warn \
            RATE_LIMIT_PER_MINUTE=1000000000 RATE_LIMIT_BURST=1000000000 SHUTDOWN_DELAY_SECONDS=0 \
            "$bin" >"$work/$name.log" 2>&1) &
        pid=$!
        for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.05; done
        sleep 1
        idle=$(kib "$pid" VmRSS)
        before=$(cpu_ticks "$pid")
        rps=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$work/predict.lua" \
            "http://127.0.0.1:$port/predict" | awk '/Requests\/sec/ {print $2}')
        after=$(cpu_ticks "$pid")
        peak=$(kib "$pid" VmHWM)
        cores=$(awk -v t=$((after - before)) -v h="$ticks" -v d="$DURATION" 'BEGIN {printf "%.2f", t / h / d}')
        printf '%-6s %-5s %10s %10s %10s %8s\n' "$name" "$round" "$idle" "$peak" "$rps" "$cores"
        kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
