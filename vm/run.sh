#!/usr/bin/env bash
# vm/run.sh: test the virtual key against a real Linux kernel and Debian's
# libfido2 tools, in a QEMU VM (see vm/README.md).
#
# It installs what is missing (qemu-system-x86, busybox-static, cpio,
# fido2-tools), fetches Debian's 6.1 kernel package, builds static virtkey,
# ctaptest and uhid.test binaries, packs them with the kernel's HID modules,
# busybox and fido2-tools into an initramfs whose /init (vm/init.sh) runs the
# steps, boots it with TCG, and judges the run by the markers /init prints on
# the serial console. Exits 0 only if every planned step passed or was
# skipped, and /init finished.
#
# Needs root for apt-get (only when something is missing). Everything it
# makes goes under vm/out/ (git-ignored); the kernel package is kept there
# between runs.
#
# Environment:
#   VMTEST_TIMEOUT            seconds the VM may run (default 300)
#   VMTEST_CTAPTEST_TIMEOUT   seconds for the ctaptest step (default 150)
#   VMTEST_KERNEL_PKG         a linux-image-6.1.0-N-amd64 package to use
#                             (default: the one linux-image-amd64 depends on)
#   VMTEST_ALLOW_SKIP=0       make a skipped step fail the run
#   GO                        the go command (default go)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/vm/out
TIMEOUT=${VMTEST_TIMEOUT:-300}
CTAPTEST_TIMEOUT=${VMTEST_CTAPTEST_TIMEOUT:-150}
ALLOW_SKIP=${VMTEST_ALLOW_SKIP:-1}
GO=${GO:-go}
START=$(date +%s)

say() { printf 'vmtest: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}
elapsed() { echo "$(($(date +%s) - START))s"; }

# --- Host packages -----------------------------------------------------------

need=()
for p in qemu-system-x86 busybox-static cpio fido2-tools xz-utils; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if ((${#need[@]})); then
	[ "$(id -u)" = 0 ] || die "missing packages ${need[*]}: run as root, or apt-get install them"
	say "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found after installing qemu-system-x86"
BUSYBOX=/bin/busybox
[ -x $BUSYBOX ] || die "$BUSYBOX (busybox-static) not found"
# ldd says "not a dynamic executable" (and fails) for a static binary.
! ldd $BUSYBOX >/dev/null 2>&1 || die "$BUSYBOX is not static: install busybox-static"

# --- Kernel ------------------------------------------------------------------

mkdir -p "$OUT/kernel"
kpkg=${VMTEST_KERNEL_PKG:-}
if [ -z "$kpkg" ]; then
	kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1\.0-[0-9]+-amd64(-unsigned)?$/ { print $2; exit }')
fi
if [ -z "$kpkg" ]; then
	kpkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64(-unsigned)?$' | awk '{ print $1 }' | sort -V | tail -n 1)
fi
if [ -z "$kpkg" ]; then
	# Nothing known: perhaps the package lists are missing.
	[ "$(id -u)" = 0 ] && apt-get update -qq
	kpkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64(-unsigned)?$' | awk '{ print $1 }' | sort -V | tail -n 1)
fi
[ -n "$kpkg" ] || die "apt-cache offers no linux-image-6.1.0-*-amd64 package"
KDIR=$OUT/kernel/$kpkg
if [ ! -d "$KDIR/boot" ]; then
	say "downloading $kpkg"
	rm -rf "$KDIR" "$OUT/kernel/dl"
	mkdir -p "$OUT/kernel/dl"
	# As root, apt-get download warns that _apt cannot write here: harmless.
	if ! (cd "$OUT/kernel/dl" && apt-get download -qq "$kpkg") 2>"$OUT/kernel/download.log"; then
		cat "$OUT/kernel/download.log" >&2
		die "apt-get download $kpkg failed"
	fi
	deb=$(find "$OUT/kernel/dl" -name "${kpkg}_*.deb" | head -n 1)
	[ -n "$deb" ] || die "apt-get download $kpkg left no .deb"
	dpkg-deb -x "$deb" "$KDIR.tmp"
	mv "$KDIR.tmp" "$KDIR"
	rm -rf "$OUT/kernel/dl"
fi
VMLINUZ=$(find "$KDIR/boot" -name 'vmlinuz-*' | head -n 1)
[ -n "$VMLINUZ" ] || die "no vmlinuz in $kpkg"
KVER=${VMLINUZ##*/vmlinuz-}
MODDIR=$KDIR/lib/modules/$KVER
[ -d "$MODDIR" ] || die "no modules for $KVER in $kpkg"
say "kernel $KVER from $kpkg"

# --- Initramfs ---------------------------------------------------------------

IRD=$OUT/initramfs
rm -rf "$IRD"
mkdir -p "$IRD"/{bin,dev,proc,sys,tmp,etc,lib/vmtest,lib64}

# Modules and what they depend on, dependencies first, decompressed:
# busybox insmod takes plain .ko files only.
modfile() { # module name -> its file; names use - and _ interchangeably
	local pat
	pat=${1//[-_]/[-_]}
	find "$MODDIR" -regextype posix-extended -regex ".*/${pat}\.ko(\.xz|\.zst|\.gz)?" | head -n 1
}
modinfo_depends() { # .modinfo's depends= field, from a plain .ko
	tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | tr ',' ' '
}
declare -A loaded=()
order=()
addmod() {
	local name=$1 f plain dep
	[ -n "${loaded[$name]:-}" ] && return
	loaded[$name]=1
	f=$(modfile "$name")
	[ -n "$f" ] || die "module $name not found in $kpkg"
	plain=$IRD/lib/vmtest/$name.ko
	case $f in
	*.ko.xz) xz -dc "$f" >"$plain" ;;
	*.ko.zst) zstd -qdc "$f" >"$plain" ;;
	*.ko.gz) gzip -dc "$f" >"$plain" ;;
	*) cp "$f" "$plain" ;;
	esac
	for dep in $(modinfo_depends "$plain"); do
		addmod "$dep"
	done
	order+=("$name.ko")
}
for m in hid hid-generic uhid; do
	addmod "$m"
done
printf '%s\n' "${order[@]}" >"$IRD/lib/vmtest/order"
say "modules: ${order[*]}"

# busybox as /bin/sh and every applet.
cp $BUSYBOX "$IRD/bin/busybox"
for a in $("$IRD/bin/busybox" --list); do
	[ -e "$IRD/bin/$a" ] || ln -s busybox "$IRD/bin/$a"
done

# fido2-tools and the shared libraries they load, at the same paths.
copylib() {
	local src=$1
	mkdir -p "$IRD$(dirname "$src")"
	[ -e "$IRD$src" ] || cp -L "$src" "$IRD$src"
}
for t in fido2-token fido2-cred fido2-assert; do
	bin=$(command -v "$t") || die "$t not found (fido2-tools)"
	cp "$bin" "$IRD/bin/$t"
	while read -r lib; do
		copylib "$lib"
	done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
done

# Static Go binaries. A binary that does not build fails its steps in the VM
# rather than the whole run, so the other steps still report.
export CGO_ENABLED=0
build_failed=()
gobuild() { # name, go args...
	local name=$1
	shift
	if ! "$GO" "$@" >"$OUT/build-$name.log" 2>&1; then
		cat "$OUT/build-$name.log" >&2
		say "building $name failed: its steps will fail"
		build_failed+=("$name")
	fi
}
gobuild virtkey build -o "$IRD/bin/virtkey" ./cmd/virtkey
gobuild ctaptest build -o "$IRD/bin/ctaptest" ./cmd/ctaptest
gobuild uhid.test test -c -o "$IRD/bin/uhid.test" ./uhid

# The AAGUID the key must report: authenticator.DefaultAAGUID, from its doc.
AAGUID=$("$GO" doc ./authenticator DefaultAAGUID | awk '/^var DefaultAAGUID/,/^}/' |
	grep -o '0x[0-9a-fA-F][0-9a-fA-F]' | head -n 16 | sed 's/0x//' | tr -d '\n' | tr A-F a-f)
[ ${#AAGUID} = 32 ] || die "could not read authenticator.DefaultAAGUID (got '$AAGUID')"

cat >"$IRD/etc/vmtest.env" <<EOF
AAGUID=$AAGUID
KERNEL=$kpkg
CTAPTEST_TIMEOUT=$CTAPTEST_TIMEOUT
EOF
install -m 0755 "$ROOT/vm/init.sh" "$IRD/init"

INITRD=$OUT/initramfs.cpio.gz
(cd "$IRD" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$INITRD"
say "initramfs $(du -h "$INITRD" | cut -f1) ready after $(elapsed)"

# --- Boot --------------------------------------------------------------------

LOG=$OUT/vm.log
say "booting (TCG, timeout ${TIMEOUT}s); serial console follows and goes to $LOG"
BOOT=$(date +%s)
set +e
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -m 1024 -smp "${VMTEST_SMP:-1}" -nographic -no-reboot -nic none \
	-kernel "$VMLINUZ" -initrd "$INITRD" \
	-append "console=ttyS0 panic=-1 quiet" </dev/null 2>&1 | tee "$LOG"
qemu_rc=${PIPESTATUS[0]}
set -e
VMTIME=$(($(date +%s) - BOOT))

# --- Verdict -----------------------------------------------------------------
set +e # every check below reports its own result

# Markers may share a line with kernel messages; carriage returns come from
# the serial line.
markers=$(tr -d '\r' <"$LOG" | grep -o 'VMTEST [A-Z]*.*' || true)
# Steps known to fail, each with its reason: interop/expected-failures.txt
# lines PROFILE <TAB> vm:STEP <TAB> REASON. A listed step that passes fails
# the run, so that the line goes when the reason does.
declare -A xfail=()
while IFS=$'\t' read -r xprofile xid xreason; do
	case $xprofile in '#'* | '') continue ;; esac
	case $xid in vm:*) xfail[${xid#vm:}]="$xprofile: $xreason" ;; esac
done <"$ROOT/interop/expected-failures.txt"
plan=$(echo "$markers" | sed -n 's/^VMTEST PLAN //p' | head -n 1)
failed=0
echo
echo "vmtest summary ($kpkg, VM ${VMTIME}s, total $(elapsed)):"
if [ -z "$plan" ]; then
	echo "  no VMTEST PLAN: /init did not start"
	failed=1
fi
for s in $plan; do
	r=$(echo "$markers" | grep -E "^VMTEST (PASS|FAIL|SKIP) $s(:|\$)" | head -n 1 || true)
	listed=${xfail[$s]:-}
	case $r in
	"VMTEST PASS $s"*)
		if [ -n "$listed" ]; then
			printf '  %-18s PASS, but interop/expected-failures.txt lists it (%s): remove the line\n' "$s" "$listed"
			failed=1
		else
			printf '  %-18s PASS\n' "$s"
		fi
		;;
	"VMTEST SKIP $s"*)
		printf '  %-18s SKIP %s\n' "$s" "${r#VMTEST SKIP "$s": }"
		[ "$ALLOW_SKIP" = 1 ] || failed=1
		;;
	"VMTEST FAIL $s"*)
		if [ -n "$listed" ]; then
			printf '  %-18s expected FAIL %s (listed: %s)\n' "$s" "${r#VMTEST FAIL "$s": }" "$listed"
		else
			printf '  %-18s FAIL %s\n' "$s" "${r#VMTEST FAIL "$s": }"
			failed=1
		fi
		;;
	*)
		printf '  %-18s MISSING (no marker)\n' "$s"
		failed=1
		;;
	esac
done
if ((${#build_failed[@]})); then
	echo "  build failed: ${build_failed[*]} (logs in vm/out/build-*.log)"
	failed=1
fi
if ! echo "$markers" | grep -q '^VMTEST DONE'; then
	if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
		echo "  no VMTEST DONE: the VM timed out after ${TIMEOUT}s"
	else
		echo "  no VMTEST DONE: the VM stopped early (qemu exit status $qemu_rc)"
	fi
	failed=1
fi
if [ $failed = 0 ]; then
	echo "vmtest: PASS"
else
	echo "vmtest: FAIL (log: vm/out/vm.log)"
fi
exit $failed
