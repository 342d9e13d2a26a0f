#!/usr/bin/env bash
# Serves virtkeys over UDP on loopback and runs two clients against them: the
# project's own conformance suite (ctaptest --udp) and Debian's python3-fido2.
# Each client gets a key of its own: python-fido2 sets a PIN, which changes
# what the suite's shared-key cases may expect.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/virtkey" ./cmd/virtkey
go build -o "$bin/ctaptest" ./cmd/ctaptest

suite=127.0.0.1:${VIRTKEY_UDP_PORT:-8111}
python=127.0.0.1:$(( ${VIRTKEY_UDP_PORT:-8111} + 1 ))
"$bin/virtkey" serve --udp "$suite" --state "$bin/suite.state" --control "$bin/suite.sock" --log-level warn &
"$bin/virtkey" serve --udp "$python" --state "$bin/python.state" --control off --profile fido21-bio --log-level warn &
# The daemons answer CTAPHID INIT as soon as they listen; ctaptest retries
# the first INIT until then, and the python script runs after it.
"$bin/ctaptest" --udp "$suite" --control "$bin/suite.sock" --allow-destructive --wait 10s
/usr/bin/python3 interop/python_fido2_udp.py "$python"
/usr/bin/python3 interop/python_fido2_ctap1.py "$python"
