#!/bin/sh
# /init of the vmtest initramfs (busybox sh, PID 1). vm/run.sh copies it in
# and reads its markers from the serial console:
#   VMTEST PLAN step...        the steps this run will report on
#   VMTEST PASS step           the step's output was what it must be
#   VMTEST FAIL step: reason   it was not (or the command failed)
#   VMTEST SKIP step: reason   the step cannot run yet, and why
#   VMTEST DONE                every step has reported
# Each step runs in a subshell and depends on earlier ones only through
# files in /tmp, so a failed step does not stop the ones after it.

export PATH=/bin
export HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
. /etc/vmtest.env # AAGUID, KERNEL, CTAPTEST_TIMEOUT (written by run.sh)

PIN=4321vmtest
RP=vmtest.example
STEP_TIMEOUT=60

PLAN="modules uhid-real daemon token-list token-info cred-make cred-verify assert-get assert-verify
      assert-tamper pin-set pin-info pin-wrong pin-cred credman-list ctaptest ctaptest-ping-max"

# ctaptest cases run in a step of their own: a 7609-byte message is 129
# reports written back to back, more than the kernel's uhid queue holds (32
# events) unless the daemon keeps up, which it may not under TCG.
OWN_STEP_CASES="hid-ping-max-message"

# why REASON: the reason a step reports when it stops.
why() { echo "$*" >/tmp/why; }
# bad REASON: fail the step.
bad() { why "$*"; exit 1; }
# skip REASON: skip the step.
skip() { why "$*"; exit 77; }

# step NAME: run step_NAME in a subshell and report it.
step() {
	echo
	echo "=== $1 ($(cut -d' ' -f1 /proc/uptime)s)"
	rm -f /tmp/why
	(step_"$(echo "$1" | tr - _)")
	rc=$?
	case $rc in
	0) echo "VMTEST PASS $1" ;;
	77) echo "VMTEST SKIP $1: $(cat /tmp/why 2>/dev/null)" ;;
	*) echo "VMTEST FAIL $1: $(cat /tmp/why 2>/dev/null || echo "exit status $rc")" ;;
	esac
}

# x OUT CMD...: show CMD, run it with a time limit, keep its output (stdout
# and stderr) in OUT and show it indented; returns CMD's status.
x() {
	out=$1
	shift
	echo "\$ $*"
	timeout "$STEP_TIMEOUT" "$@" >"$out" 2>&1
	rc=$?
	sed 's/^/    /' "$out"
	[ -z "$(tail -c 1 "$out")" ] || echo # a prompt without a newline
	[ "$rc" = 0 ] || echo "    (exit status $rc)"
	return "$rc"
}

# line N FILE: line N of FILE.
line() { sed -n "$1p" "$2"; }

# need_dev: set DEV to the key's hidraw node, which the daemon step found, or
# skip the step.
need_dev() {
	DEV=$(cat /tmp/dev 2>/dev/null)
	[ -n "$DEV" ] || skip "no key device (the daemon step failed)"
}

# fido_hidraw: the first hidraw node whose report descriptor starts with the
# FIDO usage page (06 d0 f1).
fido_hidraw() {
	for d in /sys/class/hidraw/hidraw*; do
		[ -e "$d/device/report_descriptor" ] || continue
		if [ "$(od -An -tx1 -N3 "$d/device/report_descriptor" | tr -d ' \n')" = 06d0f1 ]; then
			echo "/dev/${d##*/}"
			return 0
		fi
	done
	return 1
}

step_modules() {
	echo "kernel $(uname -r) ($KERNEL)"
	while read -r m; do
		insmod "/lib/vmtest/$m" || bad "insmod $m failed"
		echo "loaded $m"
	done </lib/vmtest/order
	[ -c /dev/uhid ] || bad "/dev/uhid did not appear after loading the modules"
	ls -l /dev/uhid
}

step_uhid_real() {
	[ -c /dev/uhid ] || skip "no /dev/uhid"
	[ -x /bin/uhid.test ] || bad "uhid.test was not built"
	export VIRTKEY_UHID_REAL=1
	x /tmp/uhid-real.out /bin/uhid.test -test.v -test.count=1 -test.run '^TestRealDevice$'
	rc=$?
	grep -q -- '^--- PASS: TestRealDevice' /tmp/uhid-real.out || bad "TestRealDevice did not pass (exit status $rc)"
}

# start_daemon STATE: start virtkey serve with its state in STATE and wait
# for its hidraw node, which goes to /tmp/dev.
start_daemon() {
	rm -f /tmp/dev
	echo "\$ virtkey serve --state $1 --control /tmp/virtkey.sock --log-level debug &"
	virtkey serve --state "$1" --control /tmp/virtkey.sock --log-level debug >>/tmp/virtkey.log 2>&1 &
	echo $! >/tmp/virtkey.pid
	i=0
	while ! d=$(fido_hidraw); do
		i=$((i + 1))
		if ! kill -0 "$(cat /tmp/virtkey.pid)" 2>/dev/null; then
			sed 's/^/    /' /tmp/virtkey.log
			bad "virtkey serve exited before a FIDO hidraw device appeared"
		fi
		[ $i -lt 150 ] || bad "no FIDO hidraw device 15 s after starting virtkey serve"
		sleep 0.1
	done
	echo "$d" >/tmp/dev
	echo "key device: $d (after $i polls)"
	grep HID_ "/sys/class/hidraw/${d#/dev/}/device/uevent"
}

# stop_daemon: stop virtkey serve and wait for its device to go.
stop_daemon() {
	[ -s /tmp/virtkey.pid ] || return 0
	kill "$(cat /tmp/virtkey.pid)" 2>/dev/null
	i=0
	while [ $i -lt 50 ] && { kill -0 "$(cat /tmp/virtkey.pid)" 2>/dev/null || fido_hidraw >/dev/null; }; do
		i=$((i + 1))
		sleep 0.1
	done
	rm -f /tmp/virtkey.pid /tmp/dev
	! fido_hidraw >/dev/null || bad "the key device is still there 5 s after stopping virtkey serve"
}

step_daemon() {
	[ -x /bin/virtkey ] || bad "virtkey was not built"
	start_daemon /tmp/key.state
}

step_token_list() {
	need_dev
	x /tmp/list.out fido2-token -L || bad "fido2-token -L failed"
	# The IDs libfido2 reports must be the kernel's (HID_ID=BUS:VVVVVVVV:PPPPPPPP).
	id=$(sed -n 's/^HID_ID=//p' "/sys/class/hidraw/${DEV#/dev/}/device/uevent")
	vid=$(echo "$id" | cut -d: -f2 | cut -c5-8 | tr A-F a-f)
	pid=$(echo "$id" | cut -d: -f3 | cut -c5-8 | tr A-F a-f)
	grep -q "^$DEV: vendor=0x$vid, product=0x$pid" /tmp/list.out ||
		bad "no line '$DEV: vendor=0x$vid, product=0x$pid' in fido2-token -L"
}

step_token_info() {
	need_dev
	x /tmp/info.out fido2-token -I "$DEV" || bad "fido2-token -I failed"
	v=$(grep '^version strings:' /tmp/info.out)
	for want in FIDO_2_0 FIDO_2_1; do
		echo "$v" | grep -q "[ ,]$want\(,\|\$\)" || bad "version strings lack $want: $v"
	done
	grep -qx "aaguid: $AAGUID" /tmp/info.out || bad "aaguid is not $AAGUID"
	grep -q '^options:.*noclientPin' /tmp/info.out || bad "a new key should list noclientPin"
}

step_cred_make() {
	need_dev
	{
		head -c 32 /dev/urandom | base64 # client data hash
		echo "$RP"                         # relying party
		echo alice                         # user name
		head -c 16 /dev/urandom | base64 # user id
	} >/tmp/cred.param
	x /tmp/cred.out fido2-cred -M -i /tmp/cred.param -o /tmp/cred "$DEV" || bad "fido2-cred -M failed"
	sed 's/^/    cred: /' /tmp/cred
	# Output: client data hash, rp id, fmt, authdata, credential id, signature, x5c.
	[ "$(line 1 /tmp/cred)" = "$(line 1 /tmp/cred.param)" ] || bad "client data hash not echoed"
	[ "$(line 2 /tmp/cred)" = "$RP" ] || bad "rp id not echoed"
	[ "$(line 3 /tmp/cred)" = packed ] || bad "attestation format $(line 3 /tmp/cred), want packed"
	for n in 4 5 6; do
		[ -n "$(line $n /tmp/cred)" ] || bad "line $n of the credential is empty"
	done
}

step_cred_verify() {
	[ -s /tmp/cred ] || skip "no credential (cred-make failed)"
	x /tmp/credv.out fido2-cred -V -i /tmp/cred -o /tmp/cred.pub || bad "fido2-cred -V failed: attestation does not verify"
	sed 's/^/    pub: /' /tmp/cred.pub
	[ "$(line 1 /tmp/cred.pub)" = "$(line 5 /tmp/cred)" ] || bad "credential id differs from fido2-cred -M's"
	[ "$(line 2 /tmp/cred.pub)" = "-----BEGIN PUBLIC KEY-----" ] || bad "no PEM public key"
	sed -n '2,$p' /tmp/cred.pub >/tmp/pub.pem
}

step_assert_get() {
	need_dev
	[ -s /tmp/cred ] || skip "no credential (cred-make failed)"
	{
		head -c 32 /dev/urandom | base64 # client data hash
		echo "$RP"
		line 5 /tmp/cred # credential id
	} >/tmp/assert.param
	x /tmp/assert.out fido2-assert -G -i /tmp/assert.param -o /tmp/assert "$DEV" || bad "fido2-assert -G failed"
	sed 's/^/    assert: /' /tmp/assert
	# Output: client data hash, rp id, authdata, signature.
	[ "$(line 1 /tmp/assert)" = "$(line 1 /tmp/assert.param)" ] || bad "client data hash not echoed"
	[ "$(line 2 /tmp/assert)" = "$RP" ] || bad "rp id not echoed"
	[ -n "$(line 3 /tmp/assert)" ] && [ -n "$(line 4 /tmp/assert)" ] || bad "no authdata or signature"
}

step_assert_verify() {
	[ -s /tmp/assert ] && [ -s /tmp/pub.pem ] || skip "no assertion or public key (an earlier step failed)"
	# -p: the authenticator data must have the user-present flag.
	x /tmp/assertv.out fido2-assert -V -p -i /tmp/assert /tmp/pub.pem es256 ||
		bad "fido2-assert -V failed: the signature does not verify with the credential's key"
}

step_assert_tamper() {
	[ -s /tmp/assert ] && [ -s /tmp/pub.pem ] || skip "no assertion or public key (an earlier step failed)"
	{
		head -c 32 /dev/urandom | base64 # another client data hash
		sed -n '2,$p' /tmp/assert
	} >/tmp/assert.bad
	if x /tmp/assertb.out fido2-assert -V -i /tmp/assert.bad /tmp/pub.pem es256; then
		bad "an assertion over another client data hash verified"
	fi
	grep -q 'fido_assert_verify' /tmp/assertb.out || bad "fido2-assert -V failed, but not in fido_assert_verify"
}

# fido2-token and fido2-cred read PINs with readpassphrase(3), which uses
# /dev/tty and falls back to standard input when there is no controlling
# terminal: setsid makes sure there is none, and the PIN comes from a pipe.
pin_to() { printf '%s\n' "$@"; }

step_pin_set() {
	need_dev
	pin_to "$PIN" "$PIN" | x /tmp/pinset.out setsid fido2-token -S "$DEV" || bad "fido2-token -S failed"
}

step_pin_info() {
	need_dev
	x /tmp/pininfo.out fido2-token -I "$DEV" || bad "fido2-token -I failed"
	grep -q '^options:.* clientPin' /tmp/pininfo.out || bad "options do not list clientPin after setting a PIN"
	grep -qx 'pin retries: 8' /tmp/pininfo.out || bad "pin retries is not 8"
}

step_pin_wrong() {
	need_dev
	grep -q '^options:.* clientPin' /tmp/pininfo.out 2>/dev/null || skip "no PIN set (pin-set failed)"
	# A discoverable credential needs the PIN; a wrong one must cost a retry.
	if pin_to "wrong-$PIN" | x /tmp/pinwrong.out setsid fido2-cred -M -r -i /tmp/cred.param -o /tmp/cred.rk "$DEV"; then
		bad "fido2-cred -M -r succeeded with a wrong PIN"
	fi
	grep -q 'FIDO_ERR_PIN_INVALID' /tmp/pinwrong.out || bad "the wrong PIN did not fail with FIDO_ERR_PIN_INVALID"
	x /tmp/pininfo2.out fido2-token -I "$DEV"
	grep -qx 'pin retries: 7' /tmp/pininfo2.out || bad "pin retries is not 7 after a wrong PIN"
}

step_pin_cred() {
	need_dev
	grep -q '^options:.* clientPin' /tmp/pininfo.out 2>/dev/null || skip "no PIN set (pin-set failed)"
	pin_to "$PIN" | x /tmp/pincred.out setsid fido2-cred -M -r -i /tmp/cred.param -o /tmp/cred.rk "$DEV" ||
		bad "fido2-cred -M -r with the PIN failed"
	x /tmp/pincredv.out fido2-cred -V -i /tmp/cred.rk -o /tmp/cred.rk.pub || bad "fido2-cred -V of the discoverable credential failed"
	[ "$(line 1 /tmp/cred.rk.pub)" = "$(line 5 /tmp/cred.rk)" ] || bad "credential id differs"
	x /tmp/pininfo3.out fido2-token -I "$DEV"
	grep -qx 'pin retries: 8' /tmp/pininfo3.out || bad "pin retries is not back to 8 after the right PIN"
}

step_credman_list() {
	need_dev
	[ -s /tmp/cred.rk ] || skip "no discoverable credential (pin-cred failed)"
	grep -qE '^options:.* (credMgmt|credentialMgmtPreview)(,|$)' /tmp/pininfo.out ||
		skip "the key offers no credential management yet (getInfo lists neither credMgmt nor credentialMgmtPreview)"
	# libfido2 1.12 sends credentialManagement as the prototype command 0x41.
	pin_to "$PIN" | x /tmp/credman.out setsid fido2-token -L -r "$DEV" || bad "fido2-token -L -r failed"
	grep -q " $RP\$" /tmp/credman.out || bad "$RP not listed"
	pin_to "$PIN" | x /tmp/credman2.out setsid fido2-token -L -k "$RP" "$DEV" || bad "fido2-token -L -k failed"
	grep -q "$(line 5 /tmp/cred.rk)" /tmp/credman2.out || bad "the discoverable credential's id is not listed for $RP"
}

step_ctaptest() {
	[ -x /bin/ctaptest ] || bad "ctaptest was not built"
	ctaptest --help >/tmp/ctaptest.help 2>&1
	grep -q -- '-device' /tmp/ctaptest.help || skip "ctaptest has no --device flag yet"
	# Many cases need a factory-new key: give ctaptest a fresh one rather
	# than the key the steps above gave a PIN.
	[ -x /bin/virtkey ] || bad "virtkey was not built"
	stop_daemon
	start_daemon /tmp/ctaptest.state
	# Every case but OWN_STEP_CASES, as one --run expression.
	cases=$(ctaptest --list | awk '{ print $1 }' | grep -vxF "$(echo $OWN_STEP_CASES | tr ' ' '\n')" | paste -sd '|')
	[ -n "$cases" ] || bad "ctaptest --list listed no cases"
	STEP_TIMEOUT=$CTAPTEST_TIMEOUT
	x /tmp/ctaptest.out ctaptest --device "$(cat /tmp/dev)" --control /tmp/virtkey.sock --allow-destructive --run "^($cases)\$"
	rc=$?
	summary=$(grep -E '[0-9]+ passed, [0-9]+ failed' /tmp/ctaptest.out | tail -n 1)
	[ -n "$summary" ] || bad "no summary from ctaptest (exit status $rc)"
	[ $rc = 0 ] || bad "$summary"
	echo "ctaptest: $summary"
}

step_ctaptest_ping_max() {
	[ -x /bin/ctaptest ] || bad "ctaptest was not built"
	[ -s /tmp/dev ] || skip "no key device (the ctaptest step did not start one)"
	before=$(dmesg | grep -c 'Output queue is full')
	x /tmp/pingmax.out ctaptest --device "$(cat /tmp/dev)" --run '^hid-ping-max-message$' -v && return 0
	after=$(dmesg | grep -c 'Output queue is full')
	if [ "$after" -gt "$before" ] && grep -qE 'ERR_MSG_TIMEOUT|ERR_INVALID_SEQ' /tmp/pingmax.out; then
		skip "the kernel dropped $((after - before)) of the 129 output reports (uhid: Output queue is full): the daemon did not drain the 32-event uhid queue as fast as the host wrote under TCG"
	fi
	bad "hid-ping-max-message failed: $(grep -E '^ +(PING|ctaphid|client)' /tmp/pingmax.out | head -n 1)"
}

# shellcheck disable=SC2086 # one line, the steps split on white space
echo "VMTEST PLAN" $PLAN
for s in $PLAN; do
	step "$s"
done
echo
echo "=== virtkey serve log"
sed 's/^/    /' /tmp/virtkey.log 2>/dev/null
[ -s /tmp/virtkey.pid ] && kill "$(cat /tmp/virtkey.pid)" 2>/dev/null
echo
echo "=== kernel messages about HID devices"
dmesg | grep -i 'hid' | sed 's/^/    /'
echo "VMTEST DONE ($(cut -d' ' -f1 /proc/uptime)s)"
sync
poweroff -f
