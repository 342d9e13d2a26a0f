#!/usr/bin/env bash
# Serves a virtkey over UDP on loopback and runs two clients against it: the
# project's own conformance suite (ctaptest --udp) and Debian's python3-fido2.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/virtkey" ./cmd/virtkey
go build -o "$bin/ctaptest" ./cmd/ctaptest

port=${VIRTKEY_UDP_PORT:-8111}
addr=127.0.0.1:$port
"$bin/virtkey" serve --udp "$addr" --state "$bin/state" --log-level warn &
# The daemon answers CTAPHID INIT as soon as it listens; ctaptest retries
# the first INIT until then.
"$bin/ctaptest" --udp "$addr" --wait 10s
/usr/bin/python3 interop/python_fido2_udp.py "$addr"
