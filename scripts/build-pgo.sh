#!/usr/bin/env bash
# Profile-guided release build of the service and of the bare-actix baseline example.
#
#   scripts/build-pgo.sh      # -> target/pgo/release/sentiment-api, target/pgo/release/examples/baseline
#
# 1. builds both with instrumentation (target/pgo-gen),
# 2. trains them on loopback: the service on POST /predict (JSON bodies and a query text), a batch,
#    GET /health and refused keys; the baseline and the baseline with the model on POST /predict;
#    the texts are not the load benchmark's, so the profile describes the work, not one request,
# 3. merges the profiles into one and builds both again with it (target/pgo).
# The baseline is built the same way so that `PGO=1 scripts/bench-load.sh` compares like with like.
# Needs rustup's llvm-tools component (added here when missing) and wrk (as bench-load.sh installs it).
# Takes two full release builds (~10 min on 2 cores). `cargo run --release` is unaffected.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '%s\n' "$*" >&2; }
die() { say "build-pgo: $*"; exit 1; }

for tool in wrk curl python3 rustup; do
    command -v "$tool" >/dev/null || die "$tool is needed (wrk: apt-get install wrk, or run scripts/bench-load.sh)"
done
find_profdata() { find "$(rustc --print sysroot)" -name llvm-profdata -type f 2>/dev/null | head -n 1 || true; }
PROFDATA=$(find_profdata)
if [[ -z $PROFDATA ]]; then
    say "== adding rustup's llvm-tools component (llvm-profdata)"
    rustup component add llvm-tools >/dev/null || die "cannot add the llvm-tools component"
    PROFDATA=$(find_profdata)
fi
[[ -x $PROFDATA ]] || die "no llvm-profdata in $(rustc --print sysroot)"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

say "== instrumented build (target/pgo-gen)"
# A fixed directory, so that a second run rebuilds only what changed (the build scripts and proc
# macros, instrumented too, leave their profiles there; the training run writes its own elsewhere).
CARGO_TARGET_DIR=target/pgo-gen RUSTFLAGS="-Cprofile-generate=$PWD/target/pgo-gen/build-profiles" \
    cargo build --release --bin sentiment-api --example baseline
GEN=target/pgo-gen/release

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() { # $1 port
    local i
    for i in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    die "nothing listens on port $1"
}
# $1 port, $2 path, $3 seconds, $4 body, then extra header lines (each "Name: value")
train() {
    local port=$1 path=$2 seconds=$3 body=$4 header
    shift 4
    {
        echo 'wrk.method = "POST"'
        printf "wrk.body = '%s'\n" "$body"
        echo 'wrk.headers["Content-Type"] = "application/json"'
        for header in "$@"; do
            printf 'wrk.headers["%s"] = "%s"\n' "${header%%: *}" "${header#*: }"
        done
    } >"$WORK/train.lua"
    wrk -t2 -c16 -d"${seconds}s" -s "$WORK/train.lua" "http://127.0.0.1:$port$path" >/dev/null
}

KEY=pgo-training-key-0123456789abcdef
# Not the load benchmark's review: the profile must describe the service's work, not one request.
REVIEW='{"text":"The room was small and the wifi kept dropping, but the breakfast was GREAT and the view amazing!"}'
say "== training run (loopback)"
SERVICE_PORT=$(free_port)
LLVM_PROFILE_FILE="$WORK/run/service-%p.profraw" API_SECRET_KEY=$KEY HOST=127.0.0.1 \
    PORT=$SERVICE_PORT RATE_LIMIT_PER_MINUTE=1000000000 RATE_LIMIT_BURST=1000000000 RUST_LOG=warn \
    "$GEN/sentiment-api" >"$WORK/service.log" 2>&1 &
SERVICE_PID=$!
PIDS+=("$SERVICE_PID")
BASELINE_PORT=$(free_port)
LLVM_PROFILE_FILE="$WORK/run/baseline-%p.profraw" PORT=$BASELINE_PORT \
    "$GEN/examples/baseline" >/dev/null 2>&1 &
BASELINE_PID=$!
PIDS+=("$BASELINE_PID")
MODELBASE_PORT=$(free_port)
LLVM_PROFILE_FILE="$WORK/run/modelbase-%p.profraw" PORT=$MODELBASE_PORT BASELINE_MODEL=vader \
    "$GEN/examples/baseline" >/dev/null 2>&1 &
MODELBASE_PID=$!
PIDS+=("$MODELBASE_PID")
wait_port "$SERVICE_PORT"
wait_port "$BASELINE_PORT"
wait_port "$MODELBASE_PORT"

train "$SERVICE_PORT" /predict 3 "$REVIEW" "X-API-Key: $KEY"
train "$SERVICE_PORT" /predict 3 '{"text":"Not bad at all, though I would never order the soup again :("}' "X-API-Key: $KEY"
train "$SERVICE_PORT" "/predict?text=The%20service%20was%20not%20good%20at%20all%2C%20sadly." 2 "" "X-API-Key: $KEY"
train "$SERVICE_PORT" /predict/batch 2 \
    '{"texts":["Great food!","The meeting is at noon.","This is terrible, I hate it.","Not bad at all :)"]}' \
    "X-API-Key: $KEY"
curl -fsS "http://127.0.0.1:$SERVICE_PORT/health" >/dev/null
# A few refused keys (the throttle tracks the address afterwards: keep this last).
for _ in 1 2 3 4 5; do
    curl -s -o /dev/null -X POST -H "X-API-Key: not-a-key-0123456789" "http://127.0.0.1:$SERVICE_PORT/predict?text=x"
    curl -s -o /dev/null -X POST "http://127.0.0.1:$SERVICE_PORT/predict?text=x"
done
train "$BASELINE_PORT" /predict 6 "$REVIEW"
train "$MODELBASE_PORT" /predict 6 "$REVIEW"

# The profiles are written when the processes exit normally (SIGTERM stops all three gracefully).
kill -TERM "$SERVICE_PID" "$BASELINE_PID" "$MODELBASE_PID" ||
    die "a training server had already stopped; the service's log: $(cat "$WORK/service.log")"
wait "$SERVICE_PID" "$BASELINE_PID" "$MODELBASE_PID" || true
PIDS=()
for name in service baseline modelbase; do
    compgen -G "$WORK/run/$name-*.profraw" >/dev/null || die "the $name wrote no profile"
done
"$PROFDATA" merge -o "$WORK/merged.profdata" "$WORK"/run/*.profraw

say "== optimized build (target/pgo)"
# The profile's path is new on every run, so the flags change and everything is rebuilt with it.
CARGO_TARGET_DIR=target/pgo RUSTFLAGS="-Cprofile-use=$WORK/merged.profdata" \
    cargo build --release --bin sentiment-api --example baseline
say "== built target/pgo/release/sentiment-api and target/pgo/release/examples/baseline"
