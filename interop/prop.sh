#!/usr/bin/env bash
# Model-based checks (ctaptest prop) against the in-process key and against
# a virtkey daemon over UDP, whose power cycles go through its control
# socket, each for a bounded number of sequences: PROP_CHECKS in-process
# (default 300) and PROP_UDP_CHECKS over UDP (default 50; every sequence
# there resets a daemon whose state file is fsynced on each write). The
# seed is fixed so that a failure reproduces.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/virtkey" ./cmd/virtkey
go build -o "$bin/ctaptest" ./cmd/ctaptest
checks=${PROP_CHECKS:-300}
udp_checks=${PROP_UDP_CHECKS:-50}
seed=${PROP_SEED:-20261206}

"$bin/ctaptest" prop --checks "$checks" --seed "$seed" --out "$bin/inprocess-failure.json"

addr=127.0.0.1:${VIRTKEY_PROP_PORT:-8131}
"$bin/virtkey" serve --udp "$addr" --state "$bin/prop.state" --control "$bin/prop.sock" --log-level warn &
for _ in $(seq 100); do [ -S "$bin/prop.sock" ] && break; sleep 0.1; done
"$bin/ctaptest" prop --udp "$addr" --control "$bin/prop.sock" --allow-destructive \
	--checks "$udp_checks" --seed "$seed" --out "$bin/udp-failure.json"
