#!/usr/bin/env bash
# Serves virtkeys over UDP on loopback and runs two clients against them: the
# project's own conformance suite (ctaptest --udp --control) and Debian's
# python3-fido2. Each client gets keys of its own: python-fido2 sets a PIN,
# which changes what the suite's shared-key cases may expect.
#
# The suite runs every case, with 0 skipped: through the daemons' control
# sockets it scripts touches, declines, timeouts, withheld touches, UV
# outcomes, fingerprint samples, the clock and power cycles. No one profile
# can run every case (a key with bioEnrollment has no UV until a finger is
# enrolled; a few cases check what a key without bioEnrollment answers), so
# the suite runs on fido21-bio first, then the cases it skipped there on
# fido21-uv, then what is still skipped on fido21, as the in-process mode does
# with its three configurations.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/virtkey" ./cmd/virtkey
go build -o "$bin/ctaptest" ./cmd/ctaptest

port=${VIRTKEY_UDP_PORT:-8111}
python=127.0.0.1:$((port + 1))
profiles=(fido21-bio fido21-uv fido21)
for i in "${!profiles[@]}"; do
	p=${profiles[$i]}
	addr=127.0.0.1:$((port + (i == 0 ? 0 : i + 1)))
	echo "$addr" >"$bin/$p.addr"
	"$bin/virtkey" serve --udp "$addr" --state "$bin/$p.state" --control "$bin/$p.sock" --profile "$p" --log-level warn &
done
"$bin/virtkey" serve --udp "$python" --state "$bin/python.state" --control off --profile fido21-bio --log-level warn &

# skipped prints the IDs of the cases a ctaptest output skipped.
skipped() { awk '{ for (i = 1; i < NF; i++) if ($i == "SKIP") { print $(i + 1); break } }' "$1"; }
# counts prints "passed failed skipped" from a ctaptest output's summary.
counts() { sed -nE 's/^([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\1 \2 \3/p' "$1" | tail -1; }

passed=0 failed=0 run=()
for p in "${profiles[@]}"; do
	args=()
	if [ "$p" != "${profiles[0]}" ]; then
		[ -s "$bin/todo" ] || break
		args=(--run "^($(paste -sd '|' "$bin/todo"))\$")
	fi
	echo "== ctaptest over UDP on a $p daemon with --control ${args[*]:+(the cases skipped so far)}"
	# The daemons answer CTAPHID INIT as soon as they listen; ctaptest retries
	# the first INIT and the control socket's hello until then.
	"$bin/ctaptest" --udp "$(cat "$bin/$p.addr")" --control "$bin/$p.sock" --allow-destructive --wait 10s "${args[@]}" |
		tee "$bin/$p.out"
	read -r np nf ns <<<"$(counts "$bin/$p.out")"
	passed=$((passed + np)) failed=$((failed + nf))
	skipped "$bin/$p.out" >"$bin/todo"
	run+=("$p: $np passed")
done
left=$(wc -l <"$bin/todo")
echo "ctaptest over UDP with --control: $passed passed, $failed failed, $left skipped (${run[*]})"
if [ "$left" -gt 0 ]; then
	echo "still skipped on every profile: $(paste -sd ' ' "$bin/todo")"
	exit 1
fi

/usr/bin/python3 interop/python_fido2_udp.py "$python"
/usr/bin/python3 interop/python_fido2_ctap1.py "$python"
/usr/bin/python3 interop/python_fido2_concurrent.py "$python" 4 250
