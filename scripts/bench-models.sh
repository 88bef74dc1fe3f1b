#!/usr/bin/env bash
# Requests/s of each model through the whole service, side by side in one run (issue 14's aim:
# serving tfidf keeps >= 0.8x the requests/s of VADER mode).
#
#   scripts/bench-models.sh            (BUILD=0 to measure target/release/sentiment-api as it is)
#
# One release server on a free loopback port; wrk (Debian's) alternates POST /predict bodies naming
# each model (the load benchmark's 20-word review), ROUNDS rounds of DURATION seconds after a
# warm-up, and prints each model's median requests/s and p99, and tfidf's ratio to vader.
# Knobs: ROUNDS=5 DURATION=5 CONNECTIONS=32 THREADS=2 MODELS_TO_RUN="vader tfidf".
# Traffic goes to 127.0.0.1 only; every process started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
MODELS_TO_RUN=${MODELS_TO_RUN:-"vader tfidf"}
BIN=${CARGO_TARGET_DIR:-target}/release/sentiment-api
KEY=bench-models-key-0123456789abcdef
REVIEW="I absolutely loved this little cafe: the coffee was rich, the staff were friendly, and the prices felt very fair."

command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }; }
[[ ${BUILD:-1} == 0 ]] || cargo build --release --bin sentiment-api
[[ -x $BIN ]] || { echo "bench-models: $BIN missing" >&2; exit 1; }

WORK=$(mktemp -d)
PID=""
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
API_SECRET_KEY=$KEY HOST=127.0.0.1 PORT=$PORT RATE_LIMIT_PER_MINUTE=1000000000 RATE_LIMIT_BURST=1000000000 \
    RUST_LOG=warn "$BIN" >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
    sleep 0.05
done

for model in $MODELS_TO_RUN; do
    cat >"$WORK/$model.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"text":"$REVIEW","model":"$model"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "$KEY"
LUA
    # Warm-up, and the first use that loads the model.
    status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/predict" \
        -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
        -d "{\"text\":\"warm up\",\"model\":\"$model\"}")
    [[ $status == 200 ]] || { echo "bench-models: $model answered $status" >&2; exit 1; }
    timeout 30 wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -s "$WORK/$model.lua" "http://127.0.0.1:$PORT/predict" >/dev/null
done

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
    for model in $MODELS_TO_RUN; do
        out=$(timeout $((DURATION + 20)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
            -s "$WORK/$model.lua" "http://127.0.0.1:$PORT/predict")
        grep -qE 'Non-2xx|Socket errors' <<<"$out" && { echo "bench-models: errors on $model: $out" >&2; exit 1; }
        rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
        p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
        echo "round $round $model $rps req/s p99 $p99" | tee -a "$WORK/results"
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
by = {}
for _, rnd, model, rps, *_ in rows:
    by.setdefault(model, []).append(float(rps))
med = {m: statistics.median(v) for m, v in by.items()}
for m, v in med.items():
    print(f"{m}: median {v:,.0f} req/s over {len(by[m])} rounds")
if "vader" in med:
    for m, v in med.items():
        if m != "vader":
            print(f"{m} / vader: {v / med['vader']:.2f}x (aim: >= 0.80x)")
PY
