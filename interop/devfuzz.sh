#!/usr/bin/env bash
# ctaptest fuzz against the in-process key and against a virtkey daemon over
# UDP (power-cycled through its control socket after a finding), each for a
# bounded time: FUZZ_DURATION (default 20s). The seed is fixed so that a
# finding reproduces; reproducers are left in FUZZ_OUT (default a temporary
# folder, printed).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true' EXIT
go build -o "$bin/virtkey" ./cmd/virtkey
go build -o "$bin/ctaptest" ./cmd/ctaptest
duration=${FUZZ_DURATION:-20s}
seed=${FUZZ_SEED:-20261206}
out=${FUZZ_OUT:-$bin}
echo "reproducers, if any, go to $out"

"$bin/ctaptest" fuzz --suite-seeds --duration "$duration" --seed "$seed" --out "$out"

addr=127.0.0.1:${VIRTKEY_FUZZ_PORT:-8141}
"$bin/virtkey" serve --udp "$addr" --state "$bin/fuzz.state" --control "$bin/fuzz.sock" --log-level warn &
for _ in $(seq 100); do [ -S "$bin/fuzz.sock" ] && break; sleep 0.1; done
"$bin/ctaptest" fuzz --udp "$addr" --control "$bin/fuzz.sock" --allow-destructive \
	--duration "$duration" --seed "$seed" --out "$out"
