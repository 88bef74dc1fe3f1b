#!/usr/bin/env bash
# The systemd unit (deploy/systemd/sentiment-api.service), checked without a running systemd:
#   1. `systemd-analyze security --offline=true`: the exposure score, which must be <= 2.0 ("OK"),
#      and each hardening directive issue 27 names, present by name (a score alone could trade one
#      away for others); each is then deleted from a copy of the unit, which must fail the check;
#   2. `systemd-analyze verify`, clean, in a throwaway root holding the system's unit files, the
#      unit, and the built binary at the unit's ExecStart path (verify checks that it is
#      executable); the same root without the binary must fail, or the check proves nothing;
#   3. the unit's command lines and environment, run by hand: ExecStart with the unit's
#      Environment= (%d, the credentials directory, made a temporary one) and the example
#      environment file, serving HTTPS with the keys file and TLS key as credentials; then
#      ExecReload's SIGHUP must bring in a changed keys file (keys-file polling is turned off, so
#      only the signal can) and a renewed certificate (which the 2 s poll would also notice).
#      That run is traced with strace: every system call the binary made must be allowed by the
#      unit's SystemCallFilter= (each group expanded by `systemd-analyze syscall-filter`), since
#      a call the filter refuses would fail only on a real host.
# Whatever it started is stopped by PID.
#
# SENTIMENT_API_BIN picks the binary (default: the static one build_image.sh makes, else
# target/debug/sentiment-api, built if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."

unit=deploy/systemd/sentiment-api.service
env_example=deploy/systemd/sentiment-api.env.example
max_exposure=2.0

musl=target/musl/x86_64-unknown-linux-musl/release/sentiment-api
bin=${SENTIMENT_API_BIN:-$([ -x "$musl" ] && echo "$musl" || echo target/debug/sentiment-api)}
[ -x "$bin" ] || cargo build --quiet --bin sentiment-api
bin=$(readlink -f "$bin")

work=$(mktemp -d)
server_pid=""
main_pid=""
cleanup() {
    [[ -n $main_pid ]] && kill "$main_pid" 2>/dev/null
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $work/server.log ]] && { echo "--- log" >&2; cat "$work/server.log" >&2; }; exit 1; }

# 1. The exposure score.
systemd-analyze security --offline=true "$unit" >"$work/security" 2>&1 || true
grep '✗' "$work/security" || true
tail -1 "$work/security"
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$work/security")
[[ -n $score ]] || fail "no exposure score in systemd-analyze's output"
awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }' \
    || fail "exposure $score is above $max_exposure"
echo "ok: exposure $score <= $max_exposure"

# The directives issue 27 names. A directive's last assignment is the one that holds;
# SystemCallFilter= and LoadCredential= add up.
last() { sed -n "s/^$2=//p" "$1" | tail -1; }
missing_hardening() { # missing_hardening UNIT: prints each required directive UNIT lacks
    local u=$1 id
    [[ $(last "$u" DynamicUser) =~ ^(yes|true|on|1)$ ]] || echo "DynamicUser=yes"
    [[ $(last "$u" ProtectSystem) == strict ]] || echo "ProtectSystem=strict"
    [[ $(last "$u" NoNewPrivileges) =~ ^(yes|true|on|1)$ ]] || echo "NoNewPrivileges=yes"
    [[ $(last "$u" PrivateTmp) =~ ^(yes|true|on|1)$ ]] || echo "PrivateTmp=yes"
    { grep -q '^CapabilityBoundingSet=$' "$u" && ! grep -q '^CapabilityBoundingSet=.' "$u"; } \
        || echo "CapabilityBoundingSet= (empty)"
    grep -qx 'SystemCallFilter=@system-service' "$u" || echo "SystemCallFilter=@system-service"
    [[ $(last "$u" ExecReload) =~ ^/(usr/)?bin/kill\ -(HUP|SIGHUP|s\ HUP)\ \$MAINPID$ ]] \
        || echo "ExecReload= sending SIGHUP to \$MAINPID"
    # The keys file and the TLS key, each a credential the service reads from %d.
    for var in API_KEYS_FILE TLS_KEY_FILE; do
        id=$(sed -n "s|^Environment=$var=%d/||p" "$u" | tail -1)
        [[ -n $id ]] && grep -q "^LoadCredential=$id:/" "$u" \
            || echo "LoadCredential= for $var (read from %d)"
    done
}
missing=$(missing_hardening "$unit")
[[ -z $missing ]] || fail "$unit lacks: $(echo $missing)"
echo "ok: DynamicUser, ProtectSystem=strict, NoNewPrivileges, PrivateTmp, empty CapabilityBoundingSet,"
echo "    SystemCallFilter=@system-service, ExecReload SIGHUP, LoadCredential (keys file, TLS key)"
# The negative control: without any one of those lines, the check must fail.
required='^(DynamicUser|ProtectSystem|NoNewPrivileges|PrivateTmp|CapabilityBoundingSet|ExecReload|LoadCredential)=|^SystemCallFilter=@system-service$'
while read -r n; do
    sed "${n}d" "$unit" >"$work/weakened.service"
    [[ -n $(missing_hardening "$work/weakened.service") ]] \
        || fail "the check passes without line $n of $unit: $(sed -n "${n}p" "$unit")"
done < <(grep -nE "$required" "$unit" | cut -d: -f1)
for weaker in 's/^ProtectSystem=.*/ProtectSystem=full/' 's/^NoNewPrivileges=.*/NoNewPrivileges=no/' \
    's/^CapabilityBoundingSet=.*/CapabilityBoundingSet=CAP_NET_BIND_SERVICE/' \
    's/^ExecReload=.*/ExecReload=\/bin\/kill -TERM $MAINPID/' 's|^\(Environment=API_KEYS_FILE=\).*|\1/etc/keys.toml|'; do
    sed "$weaker" "$unit" >"$work/weakened.service"
    [[ -n $(missing_hardening "$work/weakened.service") ]] || fail "the check passes with $weaker"
done
echo "ok: deleting or weakening any of them fails the check"

# Stopping drains: the example's SHUTDOWN_DELAY_SECONDS + SHUTDOWN_TIMEOUT_SECONDS must end
# before systemd's TimeoutStopSec sends SIGKILL.
stop_sec=$(sed -n 's/^TimeoutStopSec=//p' "$unit")
drain=$(( $(sed -n 's/^SHUTDOWN_DELAY_SECONDS=//p' "$env_example") + $(sed -n 's/^SHUTDOWN_TIMEOUT_SECONDS=//p' "$env_example") ))
(( drain < stop_sec )) || fail "SHUTDOWN_DELAY_SECONDS + SHUTDOWN_TIMEOUT_SECONDS ($drain) >= TimeoutStopSec ($stop_sec)"
echo "ok: draining ($drain s at most) ends before TimeoutStopSec=$stop_sec"

# 2. verify, in a root of its own.
root=$work/root
mkdir -p "$root/usr/bin" "$root/usr/local/bin" "$root/usr/lib/systemd" "$root/etc/systemd/system"
ln -s usr/bin "$root/bin"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp /usr/bin/kill "$root/usr/bin/kill"
cp "$unit" "$root/etc/systemd/system/"
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
if systemd-analyze verify --root="$root" sentiment-api.service >"$work/verify" 2>&1; then
    fail "verify passed with no binary at $exec_start: the check would prove nothing"
fi
install -D -m 0755 "$bin" "$root$exec_start"
systemd-analyze verify --root="$root" sentiment-api.service >"$work/verify" 2>&1 \
    || { cat "$work/verify" >&2; fail "systemd-analyze verify"; }
[[ ! -s $work/verify ]] || { cat "$work/verify" >&2; fail "systemd-analyze verify printed warnings"; }
echo "ok: systemd-analyze verify clean (binary at $exec_start in a throwaway root)"

# 3. The unit's command lines, by hand. /etc/sentiment-api becomes $work/etc, %d $work/credentials,
# %t (/run) $work/run, with the RuntimeDirectory= made as systemd makes it.
etc=$work/etc
creds=$work/credentials
run=$work/run
mkdir -p "$etc/tls" "$creds"
runtime_dir=$(sed -n 's/^RuntimeDirectory=//p' "$unit")
runtime_mode=$(sed -n 's/^RuntimeDirectoryMode=//p' "$unit")
[[ -n $runtime_dir && -n $runtime_mode ]] || fail "the unit's RuntimeDirectory= and RuntimeDirectoryMode="
install -d -m 0755 "$run"
install -d -m "$runtime_mode" "$run/$runtime_dir"
key_a=sk_systemd_check_alpha_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
key_b=sk_systemd_check_bravo_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s' "$key_a" | "$bin" keys hash --id alpha >"$etc/keys.toml"
cert() { # cert CN: a certificate for 127.0.0.1 on the one TLS key
    openssl req -x509 -key "$etc/tls/key.pem" -out "$etc/tls/cert.pem" -days 30 -subj "/CN=$1" \
        -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
}
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$etc/tls/key.pem" 2>/dev/null
cert first
# What LoadCredential does at start: copy each source into the credentials directory.
load_credentials() {
    sed -n 's/^LoadCredential=\([^:]*\):\(.*\)$/\1 \2/p' "$unit" | while read -r id source; do
        install -m 0400 "${source/\/etc\/sentiment-api/$etc}" "$creds/$id"
    done
}
load_credentials
[[ -s $creds/keys.toml && -s $creds/tls-key.pem ]] || fail "the unit's LoadCredential= lines"

# The environment: the example file, then the unit's Environment= (as systemd orders them), with
# a port of the OS's choosing on loopback, and no keys-file polling, so only SIGHUP reloads keys.
vars=()
while IFS= read -r line; do vars+=("$line"); done < <(grep -E '^[A-Z_]+=' "$env_example")
while IFS= read -r line; do
    line=${line//%d/$creds}
    line=${line//%t/$run}
    vars+=("${line//\/etc\/sentiment-api/$etc}")
done < <(sed -n 's/^Environment=//p' "$unit")
vars+=(HOST=127.0.0.1 PORT=0 API_KEYS_POLL_SECONDS=3600 LOG_FORMAT=text)
read -r -a args <<<"$(sed -n 's/^ExecStart=[^ ]*//p' "$unit")"
command -v strace >/dev/null || { apt-get install -y -qq strace >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq strace >/dev/null; }; }
(cd "$work" && exec strace -f -qq -o syscalls env -i PATH="$PATH" "${vars[@]}" "$bin" "${args[@]}" >server.log 2>&1) &
server_pid=$!
url=""
for _ in $(seq 1 100); do
    main_pid=$(pgrep -P "$server_pid" || true)
    [[ -n $main_pid ]] && break
    sleep 0.05
done
for _ in $(seq 1 100); do
    url=$(grep -o 'listening on https://[0-9.:]*' "$work/server.log" | head -1 | cut -d' ' -f3 || true)
    [[ -n $url ]] && break
    kill -0 "$server_pid" 2>/dev/null || fail "the server did not start"
    sleep 0.1
done
[[ -n $url ]] || fail "the server did not start listening on HTTPS"
status() { # status KEY: the status of POST /predict with KEY
    curl -sS -o /dev/null -w '%{http_code}' --cacert "$etc/tls/cert.pem" -X POST \
        -H "X-API-Key: $1" "$url/predict?text=fine"
}
served_cn() {
    openssl s_client -connect "${url#https://}" </dev/null 2>/dev/null | openssl x509 -noout -subject
}
[[ $(status "$key_a") == 200 && $(status "$key_b") == 403 ]] || fail "keys before the reload"
[[ $(served_cn) == *first* ]] || fail "the served certificate is not the first one"
echo "ok: ExecStart with the unit's environment serves $url with the credentials"

# A new keys file and a renewed certificate (same key), then ExecReload's command.
printf '%s' "$key_b" | "$bin" keys hash --id bravo >"$etc/keys.toml"
cert renewed
rm -f "$creds"/*
load_credentials
reload=$(sed -n 's/^ExecReload=//p' "$unit")
MAINPID=$main_pid
eval "${reload//\$MAINPID/$MAINPID}"
for _ in $(seq 1 50); do
    [[ $(status "$key_b") == 200 ]] && break
    sleep 0.1
done
[[ $(status "$key_b") == 200 && $(status "$key_a") == 403 ]] || fail "keys after SIGHUP"
for _ in $(seq 1 50); do
    [[ $(served_cn) == *renewed* ]] && break
    sleep 0.1
done
[[ $(served_cn) == *renewed* ]] || fail "the renewed certificate is not served after SIGHUP"
echo "ok: ExecReload (SIGHUP) brought in the new keys file and the renewed certificate"
# The admin socket, where the unit puts it, read as an operator reads it.
socket=$(printf '%s\n' "${vars[@]}" | sed -n 's/^ADMIN_SOCKET=//p' | tail -1)
[[ $socket == "$run/$runtime_dir/"* ]] || fail "ADMIN_SOCKET is not in the unit's RuntimeDirectory= ($socket)"
usage=$("$bin" keys usage --socket "$socket" 2>&1) || fail "keys usage on the unit's admin socket: $usage"
[[ $usage == "no key or owner has a quota" ]] || fail "keys usage on the unit's admin socket said: $usage"
echo "ok: keys usage reads the server on the unit's admin socket ($socket)"
if grep -qF -e "$key_a" -e "$key_b" "$work/server.log"; then fail "the log holds a key"; fi

kill -TERM "$main_pid"
wait "$server_pid" && code=0 || code=$?
server_pid=""
main_pid=""
[[ $code == 0 ]] || fail "exit status $code after SIGTERM"

# Every system call made, against the unit's filter: allowed groups minus refused ones.
expand() { # expand @group...: the system calls of the groups, nested groups expanded
    systemd-analyze syscall-filter "$@" | sed -n 's/^ \{1,\}\([@a-z0-9_-]*\)$/\1/p' | while read -r name; do
        case $name in
            @*) expand "$name" ;;
            *) echo "$name" ;;
        esac
    done | sort -u
}
allow=$(sed -n 's/^SystemCallFilter=\([^~].*\)/\1/p' "$unit")
deny=$(sed -n 's/^SystemCallFilter=~//p' "$unit")
read -r -a allow <<<"$allow"
read -r -a deny <<<"$deny"
expand "${allow[@]}" >"$work/allowed"
expand "${deny[@]}" >"$work/denied"
sed -n 's/^[0-9]* *\([a-z0-9_]*\)(.*/\1/p' "$work/syscalls" | sort -u >"$work/used"
refused=$(comm -23 "$work/used" <(comm -23 "$work/allowed" "$work/denied"))
[[ -z $refused ]] || fail "system calls the unit's SystemCallFilter= would refuse: $(echo $refused)"
# The negative control: a filter that also refuses @network-io must refuse some of them.
comm -23 "$work/allowed" <(sort -u "$work/denied" <(expand @network-io)) >"$work/narrower"
[[ -n $(comm -23 "$work/used" "$work/narrower") ]] || fail "the system-call check refuses nothing"
echo "ok: all $(wc -l <"$work/used") system calls the binary made are allowed by SystemCallFilter="
echo "systemd unit check: ok (exposure $score)"
