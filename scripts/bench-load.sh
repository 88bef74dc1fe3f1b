#!/usr/bin/env bash
# Load benchmark (issue 7): the service against a bare actix-web baseline, side by side, in one run.
#
#   scripts/bench-load.sh
#
# Builds both in release, then on free loopback ports starts
#   - the service  (target/release/sentiment-api, a 32-character API_SECRET_KEY, rate limits out of reach)
#   - the baseline (target/release/examples/baseline: parses the same JSON, answers a fixed prediction)
# measures the service's time from start to its first answered /health and its idle RSS, then drives
# both with wrk (POST /predict, a 20-word review as a JSON body, X-API-Key on the service), alternating
# service and baseline for ROUNDS rounds, and prints the median requests/s, p50 and p99 of each and the
# ratios against the targets (>= 0.85x the baseline's requests/s, p99 <= 1.2x the baseline's).
# The verdicts use the median of the per-round ratios: each round runs the service right next to the
# baseline, so a drift in the machine's speed (other tenants, CPU frequency) that slows one round
# slows both sides of its ratio alike. The ratio of the medians and every round's ratio are printed too.
#
# Knobs (environment): ROUNDS=7 DURATION=6 (seconds per run) WARMUP=2 CONNECTIONS=32 THREADS=2,
# WORKERS (passed to both servers; unset, both default to the number of cores), PGO=1 (build both with
# scripts/build-pgo.sh, profile-guided, instead of the plain release profile), BUILD=0 (measure the
# binaries already built, to repeat a run without building again), REDIS=1 (also run the same service
# binary with REDIS_URL, against a redis-server started here, as a fourth contender in every round, and
# report its req/s over the in-memory service's: target >= 0.6x; docs/internals/redis.md),
# REFERENCE=<commit> (also run the service as built at that commit, as a contender in every round:
# its source is unpacked with `git archive` into REFERENCE_DIR, default target/reference/<commit>,
# and built in release with its own target dir REFERENCE_DIR-target, once; the report gives this
# build's server CPU per request over the reference's). docs/internals/performance-history.md has the method and the current figures.
# Traffic goes to 127.0.0.1 only. After the build, the run is bounded by a deadline (BUDGET=170 s);
# every process this script started is stopped on exit. Exit status: 0 when it ran (met or missed
# targets are printed), 1 when something failed. The machine's load average is printed before and
# after: figures taken while something else keeps the cores busy (a build, a test run) are noise,
# tail latencies first.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-7}
DURATION=${DURATION:-6}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
BUDGET=${BUDGET:-170}
REFERENCE=${REFERENCE:-}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
[[ ${PGO:-0} == 1 ]] && TARGET_DIR=target/pgo
SERVICE_BIN=$TARGET_DIR/release/sentiment-api
BASELINE_BIN=$TARGET_DIR/release/examples/baseline
API_KEY=bench-load-key-0123456789abcdefg # 32 characters, used for this local run only
REVIEW="I absolutely loved this little cafe: the coffee was rich, the staff were friendly, and the prices felt very fair."

say() { printf '%s\n' "$*" >&2; }
die() { say "bench-load: $*"; exit 1; }

# ---------------------------------------------------------------------------------------- wrk, build
if ! command -v wrk >/dev/null; then
    say "== installing wrk"
    timeout 120 apt-get install -y -qq wrk >/dev/null 2>&1 ||
        { timeout 120 apt-get update -qq && timeout 120 apt-get install -y -qq wrk >/dev/null; } ||
        die "cannot install wrk"
fi

if [[ ${BUILD:-1} == 0 ]]; then
    say "== BUILD=0: using the binaries in $TARGET_DIR as they are"
    [[ -x $SERVICE_BIN && -x $BASELINE_BIN ]] || die "BUILD=0, but $SERVICE_BIN or $BASELINE_BIN is missing"
elif [[ ${PGO:-0} == 1 ]]; then
    say "== building (release, profile-guided, both alike): scripts/build-pgo.sh"
    scripts/build-pgo.sh
else
    say "== building (release): sentiment-api and the baseline example"
    cargo build --release --bin sentiment-api --example baseline
fi

# REFERENCE=<commit>: the service as it was at that commit, built apart from this tree.
if [[ -n $REFERENCE ]]; then
    REFERENCE_DIR=${REFERENCE_DIR:-target/reference/$REFERENCE}
    REFERENCE_BIN=$REFERENCE_DIR-target/release/sentiment-api
    if [[ ! -f $REFERENCE_DIR/Cargo.toml ]]; then
        say "== unpacking $REFERENCE into $REFERENCE_DIR"
        mkdir -p "$REFERENCE_DIR"
        git archive "$REFERENCE" | tar -x -C "$REFERENCE_DIR"
    fi
    if [[ ${BUILD:-1} != 0 || ! -x $REFERENCE_BIN ]]; then
        say "== building the reference $REFERENCE (release; the first time takes minutes)"
        (cd "$REFERENCE_DIR" && CARGO_TARGET_DIR="$(pwd)-target" cargo build --release --bin sentiment-api)
    fi
    [[ -x $REFERENCE_BIN ]] || die "no reference binary at $REFERENCE_BIN"
fi


# ------------------------------------------------------------------------------- cleanup, deadline
STARTED_AT=$SECONDS
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

remaining() { echo $((BUDGET - (SECONDS - STARTED_AT))); }
check_budget() { # seconds the next step needs
    (($(remaining) > $1)) || die "out of time budget (${BUDGET}s) before: $2"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# HTTP status of one request over bash's /dev/tcp, or nothing when the connection is refused.
# $1 port, $2 the request line and headers (without the final blank line), $3 an optional body.
http_status() {
    local port=$1 head=$2 body=${3:-} status=""
    { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 0
    printf '%s\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s' \
        "$head" "${#body}" "$body" >&3
    read -r -t 2 _ status _ <&3 || true
    exec 3<&-
    echo "$status"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# Waits until `http_status` answers 200; prints the milliseconds since $3 (an epoch in ms).
wait_ready() { # $1 pid, $2 port, $3 start ms, $4 request head, $5 body
    local deadline=$(($(now_ms) + 10000))
    while [[ $(http_status "$2" "$4" "${5:-}") != 200 ]]; do
        kill -0 "$1" 2>/dev/null || die "server (pid $1) exited during start-up; see its log in $WORK"
        (($(now_ms) < deadline)) || die "server (pid $1) did not answer within 10 s"
        sleep 0.002
    done
    echo $(($(now_ms) - $3))
}

# ------------------------------------------------------------------------------------------ servers
BODY=$(printf '{"text":"%s"}' "$REVIEW")
WORDS=$(wc -w <<<"$REVIEW")
[[ $WORDS == 20 ]] || die "the review has $WORDS words, not 20"
WORKER_ENV=()
[[ -n ${WORKERS:-} ]] && WORKER_ENV=("WORKERS=$WORKERS")

SERVICE_PORT=$(free_port)
say "== starting the service on 127.0.0.1:$SERVICE_PORT"
T0=$(now_ms)
env "${WORKER_ENV[@]}" API_SECRET_KEY="$API_KEY" HOST=127.0.0.1 PORT="$SERVICE_PORT" \
    RATE_LIMIT_PER_MINUTE=1000000000 RATE_LIMIT_BURST=1000000000 RUST_LOG=warn \
    "$SERVICE_BIN" >"$WORK/service.log" 2>&1 &
SERVICE_PID=$!
PIDS+=("$SERVICE_PID")
START_MS=$(wait_ready "$SERVICE_PID" "$SERVICE_PORT" "$T0" "GET /health HTTP/1.1")
sleep 1
SERVICE_IDLE_KIB=$(rss_kib "$SERVICE_PID")

MODELBASE_PORT=$(free_port)
say "== starting the baseline with the model (BASELINE_MODEL=vader) on 127.0.0.1:$MODELBASE_PORT"
T0=$(now_ms)
env "${WORKER_ENV[@]}" PORT="$MODELBASE_PORT" BASELINE_MODEL=vader "$BASELINE_BIN" >"$WORK/modelbase.log" 2>&1 &
MODELBASE_PID=$!
PIDS+=("$MODELBASE_PID")
wait_ready "$MODELBASE_PID" "$MODELBASE_PORT" "$T0" \
    "POST /predict HTTP/1.1"$'\r\n'"Content-Type: application/json" "$BODY" >/dev/null

BASELINE_PORT=$(free_port)
say "== starting the baseline on 127.0.0.1:$BASELINE_PORT"
T0=$(now_ms)
env "${WORKER_ENV[@]}" PORT="$BASELINE_PORT" "$BASELINE_BIN" >"$WORK/baseline.log" 2>&1 &
BASELINE_PID=$!
PIDS+=("$BASELINE_PID")
BASELINE_START_MS=$(wait_ready "$BASELINE_PID" "$BASELINE_PORT" "$T0" \
    "POST /predict HTTP/1.1"$'\r\n'"Content-Type: application/json" "$BODY")
sleep 1
BASELINE_IDLE_KIB=$(rss_kib "$BASELINE_PID")

# REDIS=1: the same binary, limits and throttle in a local redis-server (no persistence).
CONTENDERS=(service baseline modelbase)
if [[ ${REDIS:-0} == 1 ]]; then
    bash scripts/redis/install.sh
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis-server.log" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
    REDISSVC_PORT=$(free_port)
    say "== starting the service with REDIS_URL on 127.0.0.1:$REDISSVC_PORT (redis-server on $REDIS_PORT)"
    T0=$(now_ms)
    env "${WORKER_ENV[@]}" API_SECRET_KEY="$API_KEY" HOST=127.0.0.1 PORT="$REDISSVC_PORT" \
        RATE_LIMIT_PER_MINUTE=1000000000 RATE_LIMIT_BURST=1000000000 RUST_LOG=warn \
        REDIS_URL="redis://127.0.0.1:$REDIS_PORT" "$SERVICE_BIN" >"$WORK/redis.log" 2>&1 &
    REDISSVC_PID=$!
    PIDS+=("$REDISSVC_PID")
    wait_ready "$REDISSVC_PID" "$REDISSVC_PORT" "$T0" "GET /health/ready HTTP/1.1" >/dev/null
    [[ $(http_status "$REDISSVC_PORT" "POST /predict HTTP/1.1"$'\r\n'"Content-Type: application/json"$'\r\n'"X-API-Key: $API_KEY" "$BODY") == 200 ]] ||
        die "the service with REDIS_URL does not answer the benchmark request with 200"
    CONTENDERS+=(redis)
fi

if [[ -n $REFERENCE ]]; then
    REFSVC_PORT=$(free_port)
    say "== starting the reference ($REFERENCE) on 127.0.0.1:$REFSVC_PORT"
    T0=$(now_ms)
    env "${WORKER_ENV[@]}" API_SECRET_KEY="$API_KEY" HOST=127.0.0.1 PORT="$REFSVC_PORT" \
        RATE_LIMIT_PER_MINUTE=1000000000 RATE_LIMIT_BURST=1000000000 RUST_LOG=warn \
        "$REFERENCE_BIN" >"$WORK/reference.log" 2>&1 &
    REFSVC_PID=$!
    PIDS+=("$REFSVC_PID")
    wait_ready "$REFSVC_PID" "$REFSVC_PORT" "$T0" "GET /health HTTP/1.1" >/dev/null
    [[ $(http_status "$REFSVC_PORT" "POST /predict HTTP/1.1"$'\r\n'"Content-Type: application/json"$'\r\n'"X-API-Key: $API_KEY" "$BODY") == 200 ]] ||
        die "the reference does not answer the benchmark request with 200"
    CONTENDERS+=(reference)
fi

# Both must answer the benchmark's request with 200 before any figure counts.
[[ $(http_status "$SERVICE_PORT" "POST /predict HTTP/1.1"$'\r\n'"Content-Type: application/json"$'\r\n'"X-API-Key: $API_KEY" "$BODY") == 200 ]] ||
    die "the service does not answer the benchmark request with 200"
[[ $(http_status "$SERVICE_PORT" "POST /predict HTTP/1.1"$'\r\n'"Content-Type: application/json" "$BODY") == 401 ]] ||
    die "the service answers without a key: authentication is not in the measured path"

# ---------------------------------------------------------------------------------------------- wrk
cat >"$WORK/service.lua" <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "$API_KEY"
EOF
cat >"$WORK/baseline.lua" <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
EOF
cp "$WORK/baseline.lua" "$WORK/modelbase.lua"
cp "$WORK/service.lua" "$WORK/redis.lua"
cp "$WORK/service.lua" "$WORK/reference.lua"

# Latency as wrk prints it (850.00us, 1.23ms, 2.00s) in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n }'
}

# CPU time (user + system) a process has used, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS_PER_S=$(getconf CLK_TCK)

# One wrk run; appends "rps p50_ms p99_ms server_cpu_us_per_request" to $WORK/<name>.results.
run_wrk() { # $1 name, $2 port, $3 seconds, $4 record (1) or warm-up (0), $5 server pid
    local out="$WORK/$1.wrk.txt" rps p50 p99 errors cpu0 cpu1 requests cpu_us
    cpu0=$(cpu_ticks "$5")
    timeout $(($3 + 15)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${3}s" --latency \
        -s "$WORK/$1.lua" "http://127.0.0.1:$2/predict" >"$out" 2>&1 ||
        die "wrk failed on $1: $(cat "$out")"
    cpu1=$(cpu_ticks "$5")
    if grep -qE 'Non-2xx|Socket errors' "$out"; then
        say "wrk reported errors on $1:"
        grep -E 'Non-2xx|Socket errors' "$out" >&2
        [[ $4 == 1 ]] && die "errors during a measured run on $1"
    fi
    [[ $4 == 1 ]] || return 0
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
    requests=$(awk '/requests in/ {print $1}' "$out")
    ((${requests:-0} > 0)) || die "wrk completed no request on $1: $(cat "$out")"
    cpu_us=$(awk -v t=$((cpu1 - cpu0)) -v hz="$TICKS_PER_S" -v n="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
    echo "$rps $p50 $p99 $cpu_us" >>"$WORK/$1.results"
    printf '   %-9s %10.0f req/s   p50 %7.3f ms   p99 %7.3f ms   server CPU %6.2f us/req\n' \
        "$1" "$rps" "$p50" "$p99" "$cpu_us" >&2
}

N=${#CONTENDERS[@]}
check_budget $((N * WARMUP + N * ROUNDS * DURATION + 10)) "the load runs"
loadavg() { cut -d' ' -f1 /proc/loadavg; }
LOAD_BEFORE=$(loadavg)
if awk -v l="$LOAD_BEFORE" 'BEGIN { exit !(l > 1.0) }'; then
    say "warning: load average $LOAD_BEFORE with both servers idle: something else is using the cores"
fi
say "== warm-up: ${WARMUP}s each"
run_wrk service "$SERVICE_PORT" "$WARMUP" 0 "$SERVICE_PID"
run_wrk baseline "$BASELINE_PORT" "$WARMUP" 0 "$BASELINE_PID"
run_wrk modelbase "$MODELBASE_PORT" "$WARMUP" 0 "$MODELBASE_PID"
[[ ${REDIS:-0} == 1 ]] && run_wrk redis "$REDISSVC_PORT" "$WARMUP" 0 "$REDISSVC_PID"
[[ -n $REFERENCE ]] && run_wrk reference "$REFSVC_PORT" "$WARMUP" 0 "$REFSVC_PID"

for ((round = 1; round <= ROUNDS; round++)); do
    check_budget $((N * DURATION + 5)) "round $round"
    say "== round $round/$ROUNDS: ${DURATION}s each, $CONNECTIONS connections, $THREADS wrk threads"
    # Alternate who goes first, so a drift in the machine's load does not favour one side.
    if ((round % 2)); then
        [[ ${REDIS:-0} == 1 ]] && run_wrk redis "$REDISSVC_PORT" "$DURATION" 1 "$REDISSVC_PID"
        [[ -n $REFERENCE ]] && run_wrk reference "$REFSVC_PORT" "$DURATION" 1 "$REFSVC_PID"
        run_wrk service "$SERVICE_PORT" "$DURATION" 1 "$SERVICE_PID"
        run_wrk baseline "$BASELINE_PORT" "$DURATION" 1 "$BASELINE_PID"
        run_wrk modelbase "$MODELBASE_PORT" "$DURATION" 1 "$MODELBASE_PID"
    else
        run_wrk modelbase "$MODELBASE_PORT" "$DURATION" 1 "$MODELBASE_PID"
        run_wrk baseline "$BASELINE_PORT" "$DURATION" 1 "$BASELINE_PID"
        run_wrk service "$SERVICE_PORT" "$DURATION" 1 "$SERVICE_PID"
        [[ -n $REFERENCE ]] && run_wrk reference "$REFSVC_PORT" "$DURATION" 1 "$REFSVC_PID"
        [[ ${REDIS:-0} == 1 ]] && run_wrk redis "$REDISSVC_PORT" "$DURATION" 1 "$REDISSVC_PID"
    fi
done

LOAD_AFTER=$(loadavg)
SERVICE_LOADED_KIB=$(rss_kib "$SERVICE_PID")
SERVICE_PEAK_KIB=$(hwm_kib "$SERVICE_PID")
BASELINE_LOADED_KIB=$(rss_kib "$BASELINE_PID")

# ------------------------------------------------------------------------------------------ report
median() { # $1 file, $2 column
    awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR] = $1} END {
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
medians() { echo "$(median "$1" 1) $(median "$1" 2) $(median "$1" 3) $(median "$1" 4)"; }
read -r S_RPS S_P50 S_P99 S_CPU <<<"$(medians "$WORK/service.results")"
read -r B_RPS B_P50 B_P99 B_CPU <<<"$(medians "$WORK/baseline.results")"
read -r M_RPS M_P50 M_P99 M_CPU <<<"$(medians "$WORK/modelbase.results")"
verdict() { awk -v ok="$1" 'BEGIN { print (ok ? "met" : "MISSED") }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
# Per round: the service's figure over the baseline's from the same round (line N of each file).
paired() { # $1 column; prints every round's ratio, in round order
    paste -d' ' "$WORK/service.results" "$WORK/baseline.results" |
        awk -v c="$1" '{ printf "%.3f\n", $c / $(c + 4) }'
}
paired_median() { paired "$1" | sort -g | awk '{v[NR] = $1} END {
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
RPS_RATIO=$(paired_median 1)
P50_RATIO=$(paired_median 2)
P99_RATIO=$(paired_median 3)
RPS_ROUNDS=$(paired 1 | paste -sd' ')
P99_ROUNDS=$(paired 3 | paste -sd' ')
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

cat <<EOF

== bench-load: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $ROUNDS rounds x ${DURATION}s, $CONNECTIONS connections, $THREADS wrk threads, workers ${WORKERS:-default ($(nproc))}
POST /predict, a $WORDS-word review; medians of $ROUNDS runs each
                      req/s      p50 ms    p99 ms   server CPU us/req
  service        $(printf '%10.0f %11.3f %9.3f %12.2f' "$S_RPS" "$S_P50" "$S_P99" "$S_CPU")
  baseline       $(printf '%10.0f %11.3f %9.3f %12.2f' "$B_RPS" "$B_P50" "$B_P99" "$B_CPU")
  service/base   $(printf '%10s %11s %9s %12s' "$(ratio "$S_RPS" "$B_RPS")x" "$(ratio "$S_P50" "$B_P50")x" "$(ratio "$S_P99" "$B_P99")x" "$(ratio "$S_CPU" "$B_CPU")x")   (ratio of the medians)
  base+model     $(printf '%10.0f %11.3f %9.3f %12.2f' "$M_RPS" "$M_P50" "$M_P99" "$M_CPU")   (a bare handler that also runs VADER)
  service/b+m    $(printf '%10s %11s %9s %12s' "$(ratio "$S_RPS" "$M_RPS")x" "$(ratio "$S_P50" "$M_P50")x" "$(ratio "$S_P99" "$M_P99")x" "$(ratio "$S_CPU" "$M_CPU")x")   (the server's own overhead, the model aside)
service/base, round by round (service over the baseline run next to it):
  req/s  $RPS_ROUNDS   median ${RPS_RATIO}x
  p99    $P99_ROUNDS   median ${P99_RATIO}x   (p50: median ${P50_RATIO}x)
server CPU = user + system time of the server process per answered request (from /proc; wrk's own time excluded)
target req/s >= 0.85x baseline (median of the rounds' ratios): $(verdict "$(awk -v r="$RPS_RATIO" 'BEGIN { print (r >= 0.85) }')")
target p99  <= 1.2x baseline (median of the rounds' ratios):  $(verdict "$(awk -v r="$P99_RATIO" 'BEGIN { print (r <= 1.2) }')")
service start to first /health: ${START_MS} ms (target < 200 ms: $(verdict "$((START_MS < 200))"))   [baseline to first answer: ${BASELINE_START_MS} ms]
service RSS idle: $(mib "$SERVICE_IDLE_KIB") MiB (target < 20 MiB: $(verdict "$((SERVICE_IDLE_KIB < 20480))")), after load: $(mib "$SERVICE_LOADED_KIB") MiB, peak: $(mib "$SERVICE_PEAK_KIB") MiB
baseline RSS idle: $(mib "$BASELINE_IDLE_KIB") MiB, after load: $(mib "$BASELINE_LOADED_KIB") MiB
load average (1 min) before the load runs: $LOAD_BEFORE, after: $LOAD_AFTER
run time after the build: $((SECONDS - STARTED_AT)) s
EOF
if [[ ${REDIS:-0} == 1 ]]; then
    read -r R_RPS R_P50 R_P99 R_CPU <<<"$(medians "$WORK/redis.results")"
    REDIS_ROUNDS=$(paste -d' ' "$WORK/redis.results" "$WORK/service.results" | awk '{ printf "%.3f\n", $1 / $5 }')
    REDIS_RATIO=$(sort -g <<<"$REDIS_ROUNDS" | awk '{v[NR] = $1} END {
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    cat <<EOF
REDIS=1: the same binary with REDIS_URL (limits and throttle in a local redis-server, one round trip a request)
  redis          $(printf '%10.0f %11.3f %9.3f %12.2f' "$R_RPS" "$R_P50" "$R_P99" "$R_CPU")   (server CPU excludes redis-server's)
  redis/service  $(printf '%10s %11s %9s %12s' "$(ratio "$R_RPS" "$S_RPS")x" "$(ratio "$R_P50" "$S_P50")x" "$(ratio "$R_P99" "$S_P99")x" "$(ratio "$R_CPU" "$S_CPU")x")
  req/s round by round: $(paste -sd' ' <<<"$REDIS_ROUNDS")   median ${REDIS_RATIO}x
target req/s >= 0.6x the in-memory service (median of the rounds' ratios): $(verdict "$(awk -v r="$REDIS_RATIO" 'BEGIN { print (r >= 0.6) }')")
EOF
fi
if [[ -n $REFERENCE ]]; then
    read -r F_RPS F_P50 F_P99 F_CPU <<<"$(medians "$WORK/reference.results")"
    CPU_ROUNDS=$(paste -d' ' "$WORK/service.results" "$WORK/reference.results" | awk '{ printf "%.3f\n", $4 / $8 }')
    CPU_RATIO=$(sort -g <<<"$CPU_ROUNDS" | awk '{v[NR] = $1} END {
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    cat <<EOF
REFERENCE=$REFERENCE: the service as built at that commit, same load, same rounds
  reference      $(printf '%10.0f %11.3f %9.3f %12.2f' "$F_RPS" "$F_P50" "$F_P99" "$F_CPU")
  service/ref    $(printf '%10s %11s %9s %12s' "$(ratio "$S_RPS" "$F_RPS")x" "$(ratio "$S_P50" "$F_P50")x" "$(ratio "$S_P99" "$F_P99")x" "$(ratio "$S_CPU" "$F_CPU")x")
  server CPU per request, service over reference, round by round: $(paste -sd' ' <<<"$CPU_ROUNDS")   median ${CPU_RATIO}x
target server CPU per request <= the reference's (median of the rounds' ratios): $(verdict "$(awk -v r="$CPU_RATIO" 'BEGIN { print (r <= 1.0) }')")
target server CPU per request <= 1.3x base+model's: $(verdict "$(awk -v a="$S_CPU" -v b="$M_CPU" 'BEGIN { print (a <= 1.3 * b) }')")
EOF
fi
