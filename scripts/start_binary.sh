# Sourced by the TLS scripts: starts the built binary and waits until it listens.
#
# start_binary <dir> <name> [VAR=value...]: runs "$bin" (an absolute path) in <dir>, with PATH and
# the given variables only (so no developer setting or .env leaks in), its log in <dir>/<name>.log.
# Appends its PID to the PIDS array (the caller stops them on exit) and sets BINARY_PID and
# BINARY_URL (http:// or https:// and the address it listens on). Returns 1 if it does not start.
start_binary() {
    local dir=$1 name=$2 url=""
    shift 2
    (cd "$dir" && exec env -i PATH="$PATH" "$@" "$bin" >"$name.log" 2>&1) &
    BINARY_PID=$!
    PIDS+=("$BINARY_PID")
    for _ in $(seq 1 100); do
        url=$(grep -o 'listening on https\?://[0-9.:]*' "$dir/$name.log" | head -1 | cut -d' ' -f3 || true)
        [[ -n $url ]] && break
        kill -0 "$BINARY_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -z $url ]]; then
        echo "sentiment-api ($name) did not start:" >&2
        cat "$dir/$name.log" >&2
        return 1
    fi
    BINARY_URL=$url
}

# stop_all: stops every process in PIDS, and waits for each.
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
