#!/usr/bin/env bash
# Runs ctaptest against a key this project did not write: the CTAP2 command
# core of the npm package nid-webauthn-emulator (version pinned in
# package-lock.json), served as CTAPHID over UDP by bridge.js.
#
# Two runs, each on a fresh key:
#   raw        the emulator's answers as it sends them;
#   canonical  bridge.js --canonical re-encodes the emulator's CBOR responses
#              in canonical form, masking its encoding deviation (D1 in
#              RESULTS.md) so that the rest of the key is examined.
# In each run python-fido2 (python_fido2_check.py) also drives the key, a
# check of the bridge by a CTAPHID host this project did not write.
# Each run's failures (one "ID FAIL" line per case) are compared with
# expected-raw.txt and expected-canonical.txt: a case that newly fails, or a
# documented failure that now passes, fails the script. After a change that is
# understood, regenerate the files with --update and update RESULTS.md.
#
# Usage: interop/foreign/run.sh [--update]
# Each bridge listens on a port the system picks (FOREIGN_UDP_PORT sets one).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
update=false
case "${1:-}" in
--update) update=true ;;
"") ;;
*)
	echo "usage: $0 [--update]" >&2
	exit 2
	;;
esac

work=$(mktemp -d)
bridge_pid=
cleanup() {
	if [ -n "$bridge_pid" ]; then
		kill "$bridge_pid" 2>/dev/null || true
		wait "$bridge_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# The emulator's cbor 10 declares Node 20 or later (Debian bookworm's nodejs
# is 18): say so plainly rather than fail somewhere inside the emulator.
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
	echo "interop/foreign needs Node.js 20 or later; this is $(node --version)" >&2
	exit 1
fi

# npm ci installs exactly what package-lock.json pins; the npm cache makes a
# second run work without the registry.
(cd "$here" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)

go build -o "$work/ctaptest" "$root/cmd/ctaptest"
# ctaptest writes a JSON report when it has the flag; otherwise the outcomes
# are read from its terminal output.
json=false
if "$work/ctaptest" --help 2>&1 | grep -q -- '-json'; then
	json=true
fi

status=0
for variant in raw canonical; do
	flags=()
	if [ "$variant" = canonical ]; then
		flags+=(--canonical)
	fi
	# The bridge prints its address once it listens; reading it through a
	# FIFO waits for exactly that, and sees EOF if the bridge dies first.
	mkfifo "$work/addr-$variant"
	node "$here/bridge.js" --port "${FOREIGN_UDP_PORT:-0}" "${flags[@]}" >"$work/addr-$variant" 2>"$work/bridge-$variant.log" &
	bridge_pid=$!
	if ! read -r addr <"$work/addr-$variant"; then
		echo "the bridge did not start:" >&2
		cat "$work/bridge-$variant.log" >&2
		exit 1
	fi
	args=(--udp "$addr" --allow-destructive --wait 10s)
	if $json; then
		args+=(--json "$work/$variant.json")
	fi
	echo "== ctaptest against nid-webauthn-emulator ($variant)"
	# ctaptest exits non-zero when a case fails: the expectations decide.
	"$work/ctaptest" "${args[@]}" >"$work/$variant.out" 2>&1 || true
	# An independent CTAPHID host checks the bridge's framing.
	if ! /usr/bin/python3 "$here/python_fido2_check.py" "$addr" "$variant" >"$work/python-$variant.out" 2>&1; then
		echo "python-fido2 against the foreign key ($variant):" >&2
		cat "$work/python-$variant.out" >&2
		status=1
	fi
	kill "$bridge_pid" 2>/dev/null || true
	wait "$bridge_pid" 2>/dev/null || true
	bridge_pid=
	tail -n 2 "$work/$variant.out"
	if $json; then
		node "$here/outcomes.js" json "$work/$variant.json" >"$work/$variant.txt"
	else
		node "$here/outcomes.js" text "$work/$variant.out" >"$work/$variant.txt"
	fi
	if [ ! -s "$work/$variant.txt" ]; then
		echo "no outcomes read from ctaptest's $variant run:" >&2
		cat "$work/$variant.out" >&2
		exit 1
	fi
	if $update; then
		cp "$work/$variant.txt" "$here/expected-$variant.txt"
		echo "wrote $here/expected-$variant.txt"
	elif ! diff -u "$here/expected-$variant.txt" "$work/$variant.txt" >"$work/$variant.diff"; then
		echo "ctaptest's outcomes against the foreign key ($variant) changed:" >&2
		cat "$work/$variant.diff" >&2
		echo "bridge log:" >&2
		cat "$work/bridge-$variant.log" >&2
		status=1
	fi
done
exit $status
