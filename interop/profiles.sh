#!/usr/bin/env bash
# The whole conformance suite against every device profile, then Debian's
# python3-fido2 (0.9.1) against each CTAP2 profile.
#
# The profiles are what `virtkey profiles --names` prints: a profile added
# there is tested here without a change to this script. For each one a
# daemon serves the profile over UDP with a control socket, so the suite
# scripts touches, declines, fingers, the clock and power cycles, and
# ctaptest runs every case with --json. interop/profiletable reads the
# reports and prints the table profile × passed / warned / failed /
# skipped / not run, with each skip reason classified as "not this
# version" or "not this feature" (interop/skip-classes.txt); the table
# goes to $PROFILES_OUT/profiles-table.md (default interop/out/) too. The
# script fails on a failure not listed, with its reason, in
# interop/expected-failures.txt, on a skip of another class, on a case no
# profile ran, and on a python-fido2 mismatch.
#
#   bash interop/profiles.sh             every profile
#   PROFILES="fido21 fido20-pin" bash interop/profiles.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
# The reports, outputs and table stay after the run: in PROFILES_OUT, or
# in interop/out/ (git-ignored), emptied first.
out=${PROFILES_OUT:-interop/out}
rm -rf "${out:?}"/*.json "${out:?}"/*.out "${out:?}"/*.log "${out:?}"/profiles-table.md
mkdir -p "$out"
daemon=
stop() {
	if [ -n "$daemon" ]; then
		kill "$daemon" 2>/dev/null || true
		wait "$daemon" 2>/dev/null || true
		daemon=
	fi
}
trap 'stop; rm -rf "$bin"' EXIT
go build -o "$bin/virtkey" ./cmd/virtkey
go build -o "$bin/ctaptest" ./cmd/ctaptest
go build -o "$bin/profiletable" ./interop/profiletable

mapfile -t names < <("$bin/virtkey" profiles --names)
if [ -n "${PROFILES:-}" ]; then
	read -ra names <<<"$PROFILES"
fi
addr=127.0.0.1:${VIRTKEY_UDP_PORT:-8111}

# serve PROFILE CONTROL starts a fresh daemon for PROFILE on $addr, its
# control socket at CONTROL (or off), its log in $out/PROFILE.*.log.
serve() {
	local state
	state=$(mktemp -d "$bin/state.XXXX")
	"$bin/virtkey" serve --udp "$addr" --state "$state/key" --control "$2" --profile "$1" --log-level warn \
		2>>"$out/$1.daemon.log" &
	daemon=$!
}

reports=()
for p in "${names[@]}"; do
	serve "$p" "$bin/$p.sock"
	start=$SECONDS
	# The daemon answers CTAPHID INIT as soon as it listens; ctaptest
	# retries the first INIT and the control socket's hello until then.
	rc=0
	"$bin/ctaptest" --udp "$addr" --control "$bin/$p.sock" --allow-destructive --wait 10s \
		--json "$out/$p.json" >"$out/$p.out" 2>&1 || rc=$?
	stop
	echo "== $p: $(grep -E '^[0-9]+ passed' "$out/$p.out" | tail -1) ($((SECONDS - start)) s)"
	if [ "$rc" -gt 1 ] || [ ! -s "$out/$p.json" ]; then
		cat "$out/$p.out"
		echo "ctaptest against $p: exit $rc" >&2
		exit 1
	fi
	reports+=("$p=$out/$p.json")
done
echo "== the suite against each profile (ctaptest --udp --control --json; the outputs are in $out)"
failed=0
partial=()
[ -z "${PROFILES:-}" ] || partial=(-partial) # no check that every case ran on some profile
"$bin/profiletable" -o "$out/profiles-table.md" "${partial[@]}" "${reports[@]}" || failed=1

# python-fido2 against each profile, on a daemon of its own without a
# control socket (the daemon answers touches and fingers itself): it sets a
# PIN, which changes what the suite's cases expect. The driver follows the
# key's getInfo, and checks the profiles issue 15 names against what they
# must list (EXPECT in python_fido2_udp.py).
for p in "${names[@]}"; do
	serve "$p" off
	echo "== python-fido2 against $p"
	if /usr/bin/python3 interop/python_fido2_udp.py "$addr" "$p" >"$out/python-$p.out" 2>&1; then
		grep -E '^(expected FAIL|note|-- .*skipped)' "$out/python-$p.out" || true
		tail -1 "$out/python-$p.out"
	else
		cat "$out/python-$p.out"
		failed=1
	fi
	if /usr/bin/python3 interop/python_fido2_ctap1.py "$addr" >"$out/python-ctap1-$p.out" 2>&1; then
		tail -1 "$out/python-ctap1-$p.out"
	else
		cat "$out/python-ctap1-$p.out"
		failed=1
	fi
	stop
done
for need in fido21 fido21-bio fido20-pin; do
	if [[ " ${names[*]} " != *" $need "* ]] && [ -z "${PROFILES:-}" ]; then
		echo "virtkey profiles --names does not list $need, which python-fido2 must be checked against" >&2
		exit 1
	fi
done
# Several python-fido2 clients at once, on the default profile (a CTAP 2.1
# key, which python_fido2_concurrent.py checks getInfo for).
serve fido21 off
/usr/bin/python3 interop/python_fido2_concurrent.py "$addr" 4 250 || failed=1
stop
echo "the table: $out/profiles-table.md"
if [ "$failed" = 1 ]; then
	echo "interop/profiles.sh: FAIL (the table and the outputs are in $out)" >&2
	exit 1
fi
