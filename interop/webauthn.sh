#!/usr/bin/env bash
# virtkey's WebAuthn client against two relying parties nobody here wrote:
# go-webauthn (a module of its own under interop/gowebauthn, in-process and
# over UDP) and Debian's python3-fido2 Fido2Server (through
# `virtkey webauthn` over UDP).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$bin"' EXIT

(cd interop/gowebauthn && go vet ./... && go test -count=1 ./...)

go build -o "$bin/virtkey" ./cmd/virtkey
addr=127.0.0.1:$(( ${VIRTKEY_UDP_PORT:-8111} + 6 ))
uv=127.0.0.1:$(( ${VIRTKEY_UDP_PORT:-8111} + 7 ))
"$bin/virtkey" serve --udp "$addr" --control off --log-level warn &
"$bin/virtkey" serve --udp "$uv" --control off --profile fido21-uv --log-level warn &
/usr/bin/python3 interop/python_fido2_server.py "$bin/virtkey" "$addr" "$uv"
