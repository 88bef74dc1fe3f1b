#!/usr/bin/env bash
# Runs the cargo-fuzz targets under fuzz/ one after another, each for SECONDS (default 30).
#
#   scripts/fuzz.sh                       # every target, 30 s each
#   scripts/fuzz.sh 1800 vader_differential
#
# Needs the nightly toolchain (`cargo +nightly`); installs cargo-fuzz from crates.io if missing.
# Each target starts from its committed seeds (fuzz/seeds/<target>) and the corpus earlier runs
# grew (fuzz/corpus/<target>, not committed). A crash stops that target, leaves its input in
# fuzz/artifacts/<target>/, and makes the script exit 1 after the others have run. Prints one
# line per target: executions, corpus size, result (docs/internals/reliability.md records them).
#
# Built without a sanitizer: the service's crate forbids `unsafe`, and what the targets look for
# (panics, the targets' own assertions, overflows: debug assertions are on) needs none, while
# AddressSanitizer would halve the executions per second.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
all=(vader_differential json_body keys_file proxies batch_validation)
targets=("${@:-${all[@]}}")

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz.sh: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

build=(-s none)
for target in "${targets[@]}"; do
    cargo +nightly fuzz build "${build[@]}" "$target"
done

failed=()
summary=()
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10)
    case $target in
        vader_differential) args+=(-dict=fuzz/vader.dict -max_len=1024) ;;
        proxies) args+=(-max_len=512) ;;
        *) args+=(-max_len=4096) ;;
    esac
    log="fuzz/artifacts/$target.log"
    mkdir -p fuzz/artifacts
    echo "--- $target: ${seconds}s"
    if cargo +nightly fuzz run "${build[@]}" "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" \
        -- "${args[@]}" >"$log" 2>&1; then
        result=ok
    else
        result="FAILED (see $log and fuzz/artifacts/$target/)"
        failed+=("$target")
        tail -n 40 "$log"
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1)
    # libFuzzer's own count of the inputs its corpus keeps (the directory also holds superseded ones).
    corpus=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -n1 | cut -d' ' -f2)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
    summary+=("$(printf '%-20s %11s execs  corpus %-12s cov %-6s %s' "$target" "${execs:-?}" "${corpus:-?}" "${cov:-?}" "$result")")
done

echo
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz.sh: crashes in ${failed[*]}" >&2
    exit 1
fi
