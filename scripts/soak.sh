#!/usr/bin/env bash
# The soak run: the release binary for DURATION seconds (default 600) at CONNECTIONS (default 256)
# connections of mixed traffic on loopback, with a keys-file rewrite and SIGHUP every 10 s; RSS
# and open fds sampled every 10 s. Exit 0 when it passes (scripts/soak/soak.py says what that
# means). Writes target/soak/{result.json,soak.png,server.log}.
#
#   scripts/soak.sh                    # 10 minutes
#   DURATION=150 scripts/soak.sh       # the shortest run that still has the 2-minute RSS reference
#
# Installs its load generator and plotting (aiohttp, matplotlib) in a venv under target/.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/soak-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import aiohttp, matplotlib' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/soak/requirements.txt
fi
cargo build --release --quiet
exec "$venv/bin/python" scripts/soak/soak.py --binary target/release/sentiment-api \
    --duration "${DURATION:-600}" --connections "${CONNECTIONS:-256}" --out target/soak
