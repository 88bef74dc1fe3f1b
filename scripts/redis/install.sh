#!/usr/bin/env bash
# Installs Debian's redis-server (7.0) if it is missing; the Redis tests and the replicas check
# start their own servers from it, on free loopback ports, and stop them by PID.
# The package's own service is not used (the sandbox has no init; nothing here relies on it).
set -euo pipefail
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    exit 0
fi
echo "installing redis-server (Debian package)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q redis-server >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null; }
command -v redis-server >/dev/null
