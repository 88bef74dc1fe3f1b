#!/usr/bin/env bash
# The container image, as docs/deploy.md runs it: built (scripts/deploy/build_image.sh),
# then run read-only with no capabilities and the key as a keys file (its SHA-256 only) mounted
# read-only, and checked over HTTP: /health, /health/ready, an authenticated /predict, a 403,
# draining on SIGTERM (readiness 503 within SHUTDOWN_DELAY_SECONDS, then exit 0), and that neither
# the container log nor `podman inspect` ever holds the key.
# Removes the container it made, whatever happens.
#
# podman here runs as root with deploy/container/containers.conf and --runtime runc (crun's defaults
# fail on this kind of machine; see that file).
set -euo pipefail
cd "$(dirname "$0")/../.."

image=localhost/sentiment-api:latest
max_bytes=25000000
delay=3

bash scripts/deploy/build_image.sh --tag "$image"
export CONTAINERS_CONF=$PWD/deploy/container/containers.conf

work=$(mktemp -d)
name=sentiment-api-check-$$
cleanup() {
    podman rm --force --ignore "$name" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- container log" >&2; podman logs "$name" >&2 || true; exit 1; }

# The image: small, one layer of one file, a numeric non-root user, listening on 0.0.0.0:8000.
size=$(podman image inspect --format '{{.Size}}' "$image")
[[ $size -le $max_bytes ]] || fail "image is $size bytes, over $max_bytes"
user=$(podman image inspect --format '{{.Config.User}}' "$image")
[[ $user =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]] || fail "image user is '$user', not a numeric non-root uid:gid"
env=$(podman image inspect --format '{{range .Config.Env}}{{.}} {{end}}' "$image")
[[ " $env " == *" HOST=0.0.0.0 "* && " $env " == *" PORT=8000 "* ]] || fail "image env is '$env'"
echo "image $image: $size bytes, user $user"

# The key: random, never on a command line and never in the container's environment (`podman
# inspect` prints a container's environment, type=env secrets included, to whoever may run it):
# the container gets a keys file holding only its SHA-256, bind-mounted read-only. (A podman
# secret of type mount cannot be used: on a read-only root, podman 4.3 cannot create its mount
# point under /run/secrets.) The file is readable by the image's user, inside the 0700 $work.
key=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
binary=target/musl/x86_64-unknown-linux-musl/release/sentiment-api
printf '%s' "$key" | "$binary" keys hash --id container-check >"$work/keys.toml"
chmod 0444 "$work/keys.toml"

podman run --runtime runc --detach --name "$name" \
    --read-only --cap-drop=ALL --security-opt no-new-privileges \
    --volume "$work/keys.toml:/run/secrets/keys.toml:ro" \
    --env API_KEYS_FILE=/run/secrets/keys.toml \
    --env SHUTDOWN_DELAY_SECONDS=$delay --env RUST_LOG=debug \
    --publish 127.0.0.1::8000 \
    "$image" >/dev/null
url=http://$(podman port "$name" 8000/tcp | head -1)
for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$url/health" 2>/dev/null && break
    [[ $(podman inspect --format '{{.State.Running}}' "$name") == true ]] || fail "the container stopped"
    sleep 0.1
done

# What `podman inspect` shows of the container (environment, secrets, command) holds no key.
if podman inspect "$name" | grep -qF "$key"; then fail "podman inspect shows the key"; fi
echo "ok: podman inspect never shows the key"

# Running as the image's user, with no capability, on a read-only root.
[[ $(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$name") == true ]] || fail "root is writable"
pid=$(podman inspect --format '{{.State.Pid}}' "$name")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[[ $uid == "${user%%:*}" ]] || fail "the process runs as uid $uid"
# Every set, not only the effective one: a non-root process starts with no effective capability
# even when the container keeps podman's default bounding set, so CapEff alone would pass a run
# without --cap-drop=ALL.
for set in CapInh CapPrm CapEff CapBnd CapAmb; do
    caps=$(awk -v f="$set:" '$1 == f {print $2}' "/proc/$pid/status")
    [[ $caps == 0000000000000000 ]] || fail "the process's $set is $caps, not empty"
done
[[ $(awk '/^NoNewPrivs:/ {print $2}' "/proc/$pid/status") == 1 ]] || fail "no_new_privs is not set"

# answer METHOD PATH [curl args...]: prints "<status> <body>".
answer() {
    local method=$1 path=$2
    shift 2
    curl -sS -o "$work/body" -w '%{http_code}' -X "$method" "$@" "$url$path" | tr -d '\n'
    printf ' %s' "$(cat "$work/body")"
}
expect() {
    local want=$1 got=$2
    [[ $got == "$want"* ]] || fail "expected '$want', got '$got'"
    echo "ok: ${got:0:100}"
}
expect '200 {"status":"ok"}' "$(answer GET /health)"
expect '200 {"status":"ready"}' "$(answer GET /health/ready)"
got=$(answer POST '/predict?text=I%20love%20it' -H "X-API-Key: $key")
expect '200 {' "$got"
[[ $got == *'"sentiment":"positive"'* ]] || fail "/predict answered $got"
expect '403 {"detail":"Invalid API key"}' "$(answer POST '/predict?text=hi' -H 'X-API-Key: not-the-key-0123456789')"

# SIGTERM: readiness turns 503 at once and stays so for the delay, then the process exits 0.
sent=$(date +%s%N)
podman kill --signal TERM "$name" >/dev/null
drained=""
while (( ($(date +%s%N) - sent) / 1000000 < delay * 1000 )); do
    if [[ $(answer GET /health/ready) == 503* ]]; then
        drained=$(( ($(date +%s%N) - sent) / 1000000 ))
        break
    fi
    sleep 0.05
done
[[ -n $drained ]] || fail "readiness did not answer 503 within SHUTDOWN_DELAY_SECONDS=$delay"
echo "ok: readiness 503 ${drained} ms after SIGTERM"
status=$(timeout 60 podman wait "$name") || fail "the container did not stop within 60 s"
[[ $status == 0 ]] || fail "the container exited $status"
echo "ok: exit status 0 after draining"

# The log: the access lines are there, the key is not.
podman logs "$name" >"$work/log" 2>&1
grep -q '/predict' "$work/log" || fail "the log has no access line for /predict"
grep -q 'no new connections' "$work/log" || fail "the log does not show the drain"
if grep -qF "$key" "$work/log"; then fail "the container log holds the key"; fi
echo "ok: the container log ($(wc -l <"$work/log") lines at RUST_LOG=debug) never holds the key"
echo "container image check: ok ($image, $size bytes)"
