#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Real-kernel tests of lf_kernel.ko: build it and the test modules for
# Debian's 6.1 and 6.12 kernels, boot each kernel in QEMU (TCG) with a
# busybox initramfs that runs guest.sh, and count PASS/FAIL lines.
# Ends with "N passed, M failed" and exits non-zero on any failure.
#
#   bash tests/vm/run.sh
#
# Environment:
#   LF_VM_KERNELS="<ver> ..."  kernels to test (default: newest installed
#                              6.1.* and 6.12.* with headers)
#   LF_VM_TIMEOUT=<s>          per-boot limit (default 900)
#   LF_VM_JOBS=<n>             make -j for module builds (default 1)
#   LF_VM_SMP=<n>              guest CPUs (default 2)
#   LF_VM_DEBUG_KERNEL=<dir>   also test the debug kernel that
#                              scripts/debug-kernel.sh built in <dir>
#                              (KASAN, lockdep, kmemleak, fault injection;
#                              booted with LF_VM_DEBUG_SMP CPUs, default 4,
#                              and LF_VM_DEBUG_MEM MiB, default 2048); see
#                              README.md, "Debug kernel"
#   LF_VM_DEBUG_QUICK=1        on the debug kernel, leave out lf_tcp.sh
#                              (and the replay of its records), models,
#                              lf_nf and --simd (their build hooks and
#                              guest scripts), aurora.sh, rust.sh,
#                              quantized.sh and guard.sh, switch 30
#                              rounds (not 150) in guest.sh, run stress.sh
#                              for 1 switch round / 60 s, and send it
#                              LF_VM_DEBUG_FUZZ_MSGS netlink fuzz
#                              messages (default 10000), and try every 4th
#                              fault point of the module loads in fault.sh
#                              (and the last 68): make test's subset
#                              (README.md, "Debug kernel"); Debian's
#                              kernels run them all
#   LF_VM_FUZZ_MSGS=<n>        netlink fuzz messages per kernel (guest.d/
#                              nlfuzz.sh; default 100000)
# Hooks for more guest content (see README.md):
#   LF_VM_LFC=<path to lfc>           also put lfc in the guest and run
#                                     guest.d/lfc.sh (lfc's netlink client),
#                                     guest.d/aurora.sh (real Aurora
#                                     snapshots that this lfc builds per
#                                     kernel with aurora-build.sh, C and
#                                     Rust: guest.d/rust.sh) and the
#                                     checks of examples/aurora/vm (training
#                                     records, lf_tcp, lfc collect and adapt;
#                                     its build-hook.sh, lf_tcp.sh, replay.sh)
#                                     and guest.d/models.sh (tree ensembles
#                                     and Conv nets as .ko, models-build.sh)
#                                     and examples/netfilter/vm's lf_nf
#                                     checks (build-hook.sh, lf_nf.sh)
#                                     and the --simd avx2 snapshots
#                                     (simd-build.sh, guest.d/simd.sh:
#                                     their scalar fallback in the main
#                                     boot, their AVX2 code in a second,
#                                     short boot with -cpu max)
#   LF_VM_SIMD_ONLY=1                 development: only the --simd boots
#                                     (default CPU and -cpu max), each
#                                     running guest.d/simd.sh alone
#   LF_VM_POST_HOOK=<cmd>             run per kernel after the boot as
#                                     <cmd> <ver> <dir>; its PASS/FAIL lines
#                                     count (files the guest printed as
#                                     LF_VM_FILE blocks are in <dir>/from-guest)
#   LF_VM_EXTRA_BINS="<file> ..."     executables put in /bin, with the
#                                     shared libraries ldd finds for them
#   LF_VM_EXTRA_FILES="<file> ..."    files put in /lf (e.g. emitted .ko)
#   LF_VM_GUEST_SCRIPTS="<file> ..."  sourced by guest.sh after its own
#                                     checks (may use pass/fail/expect)
#   LF_VM_BUILD_HOOK=<cmd>            run per kernel as
#                                     <cmd> <ver> <headers> <lf_kernel Module.symvers> <dir>
#                                     whatever it leaves in <dir> lands in /lf
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE/out
TIMEOUT=${LF_VM_TIMEOUT:-900}
# The first line of each kind of kernel complaint, for a failed boot's
# summary (a panic's own trace is all that a console's tail shows).
SPLAT_HEADS='Kernel panic|BUG:|Oops|general protection fault|invoked oom-killer|Out of memory|WARNING: CPU|RIP: 0010:[a-z_]|Killed'
AURORA_VM=$ROOT/examples/aurora/vm
NF_VM=$ROOT/examples/netfilter/vm
JOBS=${LF_VM_JOBS:-1}
SMP=${LF_VM_SMP:-2}
DEBUG_KERNEL=${LF_VM_DEBUG_KERNEL:-}
DEBUG_VER=
if [ -n "$DEBUG_KERNEL" ]; then
	DEBUG_VER=$(cat "$DEBUG_KERNEL/release")
fi

# Per-kernel paths: Debian's packages, or the debug kernel's build.
kimage() {
	if [ "$1" = "$DEBUG_VER" ]; then echo "$DEBUG_KERNEL/bzImage"
	else echo "/boot/vmlinuz-$1"; fi
}
kheaders() {
	if [ "$1" = "$DEBUG_VER" ]; then echo "$DEBUG_KERNEL/src"
	else echo "/usr/src/linux-headers-$1"; fi
}
kmodules() {
	if [ "$1" = "$DEBUG_VER" ]; then echo "$DEBUG_KERNEL/modroot/lib/modules/$1"
	else echo "/lib/modules/$1"; fi
}

log() { echo "vm: $*" >&2; }

# quick VER: true for the debug kernel under LF_VM_DEBUG_QUICK.
quick() { [ -n "${LF_VM_DEBUG_QUICK:-}" ] && [ "$1" = "$DEBUG_VER" ]; }

# ---- tools and kernels --------------------------------------------------

# Newest installed kernel of a series that has both an image and headers.
find_kernel() {
	local series=$1 v ver best=
	for v in /boot/vmlinuz-"$series".*; do
		[ -e "$v" ] || continue
		ver=${v#/boot/vmlinuz-}
		[ -d "/usr/src/linux-headers-$ver" ] || continue
		best=$(printf '%s\n%s\n' "$best" "$ver" | sed '/^$/d' | sort -V | tail -1)
	done
	echo "$best"
}

missing_packages() {
	local pkgs=()
	command -v qemu-system-x86_64 >/dev/null || pkgs+=(qemu-system-x86)
	command -v cpio >/dev/null || pkgs+=(cpio)
	command -v gcc >/dev/null || pkgs+=(gcc)
	command -v make >/dev/null || pkgs+=(make)
	command -v strip >/dev/null || pkgs+=(binutils)
	command -v modinfo >/dev/null || pkgs+=(kmod)
	[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || pkgs+=(libc6-dev)
	command -v base64 >/dev/null || pkgs+=(coreutils)
	if [ -n "${LF_VM_LFC:-}" ]; then
		# examples/aurora/vm: Debian's ip and tc go into the guest; 6.12's
		# modules are .ko.xz.
		find_tool ip >/dev/null || pkgs+=(iproute2)
		command -v xz >/dev/null || pkgs+=(xz-utils)
	fi
	if ! [ -x /bin/busybox ] || ! file -L /bin/busybox 2>/dev/null |
	     grep -q 'statically linked'; then
		pkgs+=(busybox-static)
	fi
	if [ -z "${LF_VM_KERNELS:-}" ]; then
		[ -n "$(find_kernel 6.1)" ] ||
			pkgs+=(linux-image-amd64 linux-headers-amd64)
		[ -n "$(find_kernel 6.12)" ] ||
			pkgs+=(linux-image-6.12-amd64 linux-headers-6.12-amd64)
	fi
	echo "${pkgs[@]}"
}

ensure_packages() {
	local pkgs
	pkgs=$(missing_packages)
	[ -z "$pkgs" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		log "missing packages ($pkgs); run as root to install them"
		return 1
	fi
	log "installing: $pkgs"
	apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null
}

# find_tool NAME: its path, also in sbin directories not on $PATH.
find_tool() {
	command -v "$1" 2>/dev/null && return 0
	local d
	for d in /usr/sbin /sbin /usr/bin /bin; do
		[ -x "$d/$1" ] && { echo "$d/$1"; return 0; }
	done
	return 1
}

# ---- builds -------------------------------------------------------------

# build_static NAME SOURCE: $OUT/NAME, static, against the uapi header.
build_static() {
	mkdir -p "$OUT"
	gcc -static -O2 -Wall -Wextra -Werror \
		-I"$ROOT/runtime-kmod/include/uapi" \
		-o "$OUT/$1" "$2"
}

# build_modules VER DIR: lf_kernel.ko and the fixtures, out of tree.
build_modules() {
	local ver=$1 dir=$2 kdir
	kdir=$(kheaders "$1")
	rm -rf "$dir/kmod" "$dir/fixtures"
	mkdir -p "$dir/kmod" "$dir/fixtures"
	cp -r "$ROOT"/runtime-kmod/Kbuild "$ROOT"/runtime-kmod/Makefile \
		"$ROOT"/runtime-kmod/*.[ch] "$ROOT"/runtime-kmod/include \
		"$dir/kmod/" || return 1
	cp "$HERE"/fixtures/Kbuild "$HERE"/fixtures/*.c "$dir/fixtures/" ||
		return 1
	make -s -j"$JOBS" -C "$kdir" M="$dir/kmod" modules || return 1
	make -s -j"$JOBS" -C "$kdir" M="$dir/fixtures" \
		LF_KMOD="$dir/kmod" \
		KBUILD_EXTRA_SYMBOLS="$dir/kmod/Module.symvers" modules
}

# Executable (stripped) plus the shared libraries it needs.
add_bin() {
	local rootfs=$1 bin=$2 lib
	strip -o "$rootfs/bin/$(basename "$bin")" "$bin"
	chmod 0755 "$rootfs/bin/$(basename "$bin")"
	for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
		install -D -m 0755 "$lib" "$rootfs$lib"
	done
}

# make_initrd VER DIR: DIR/initrd.gz
make_initrd() {
	local ver=$1 dir=$2 rootfs=$2/rootfs f
	rm -rf "$rootfs"
	mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,lf,guest.d}
	cp /bin/busybox "$rootfs/bin/"
	cp "$OUT/lfnl" "$rootfs/bin/"
	cp "$dir"/kmod/lf_kernel.ko "$dir"/fixtures/*.ko "$rootfs/lf/"
	cp "$HERE/guest.sh" "$rootfs/guest.sh"
	if [ -n "${LF_VM_LFC:-}" ]; then
		add_bin "$rootfs" "$LF_VM_LFC"
		cp "$HERE/guest.d/lfc.sh" "$HERE/guest.d/collect_gone.sh" \
			"$HERE/guest.d/sig.sh" "$rootfs/guest.d/"
		# Snapshot content checks (Aurora C and Rust snapshots,
		# quantized imports, guardrails): Debian's kernels run them, the
		# debug kernel's make test subset does not (README.md).
		quick "$ver" ||
			cp "$HERE/guest.d/aurora.sh" "$HERE/guest.d/quantized.sh" \
				"$HERE/guest.d/rust.sh" "$HERE/guest.d/guard.sh" \
				"$rootfs/guest.d/"
		# Whatever aurora-build.sh managed to build; guest.d/aurora.sh
		# fails if something is missing.
		if [ -d "$dir/aurora" ]; then cp -r "$dir/aurora" "$rootfs/lf/"; fi
		# examples/aurora/vm: its tools and checks (lf_tcp.sh reports
		# what its build hook could not build).
		for f in "$OUT/lfrec" "$OUT/lf_bulk" "$(find_tool ip)" "$(find_tool tc)"; do
			[ -f "$f" ] && add_bin "$rootfs" "$f"
		done
		# (rust.sh uses lf_tcp's modules: their build hook runs
		# wherever rust.sh does.)
		quick "$ver" ||
			cp "$AURORA_VM/lf_tcp.sh" "$HERE/guest.d/models.sh" \
				"$NF_VM/lf_nf.sh" "$HERE/guest.d/simd.sh" "$rootfs/guest.d/"
	fi
	# The checks for every kernel (netlink fuzzing) and those that need
	# the debug kernel's checkers (they fail there if a checker is
	# missing, and say they did not run elsewhere); see README.md.
	add_bin "$rootfs" "$OUT/lfdbg"
	cp "$HERE"/guest.d/nlfuzz.sh "$HERE"/guest.d/fault.sh \
		"$HERE"/guest.d/stress.sh "$HERE"/guest.d/trace.sh \
		"$HERE"/guest.d/zz-leaks.sh "$rootfs/guest.d/"
	if quick "$ver"; then
		echo "${LF_VM_DEBUG_FUZZ_MSGS:-10000}" > "$rootfs/lf/fuzz-msgs"
		# stress.sh: 1 switch round at least (not 4), 60 s (not 240);
		# guest.sh's switch under load: 30 rounds (not 150); fault.sh:
		# every 4th point of the module loads (and the last 68)
		echo "STRESS_MIN_ROUNDS=1 STRESS_SECONDS=60 SWITCH_ROUNDS=30 FAULT_REGISTER_STRIDE=4" > "$rootfs/lf/stress-quick"
	else
		echo "${LF_VM_FUZZ_MSGS:-100000}" > "$rootfs/lf/fuzz-msgs"
	fi
	for f in ${LF_VM_EXTRA_BINS:-}; do add_bin "$rootfs" "$f"; done
	for f in ${LF_VM_EXTRA_FILES:-}; do cp "$f" "$rootfs/lf/"; done
	for f in ${LF_VM_GUEST_SCRIPTS:-}; do cp "$f" "$rootfs/guest.d/"; done
	# Everything the build hooks left (files and directories) goes to /lf.
	for f in "$dir"/hook-*; do
		[ -d "$f" ] && cp -r "$f/." "$rootfs/lf/"
	done
	if [ "$ver" = "$DEBUG_VER" ]; then
		echo "$ver" > "$rootfs/lf/debug-kernel"
		sign_modules "$ver" "$rootfs/lf"
	fi
	cat > "$rootfs/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
dmesg -n 1
if [ -e /lf/debug-kernel ]; then
	# Debug kernel: what boot left in kmemleak is not ours (see zz-leaks.sh).
	mount -t debugfs debugfs /sys/kernel/debug
	echo scan > /sys/kernel/debug/kmemleak
	echo clear > /sys/kernel/debug/kmemleak
fi
echo "LF_VM_BEGIN $(uname -r) cpus=$(nproc)"
sh /guest.sh
echo "LF_VM_DONE"
# (reboot, not poweroff: the debug kernel has no ACPI; -no-reboot makes
# QEMU exit either way.)
reboot -f
EOF
	chmod 0755 "$rootfs/init" "$rootfs/guest.sh"
	(cd "$rootfs" && find . | cpio -o -H newc --quiet | gzip -1) > "$dir/initrd.gz"
}

# simd_boot VER DIR CPU: guest.d/simd.sh alone in a small initramfs
# (busybox, lfc, lfnl, lf_kernel.ko and what simd-build.sh left), booted
# with QEMU's -cpu CPU ("max" has AVX2 under TCG; "default" is QEMU's
# own). Its lines land in DIR/console-simd-CPU.txt.
simd_boot() {
	local ver=$1 dir=$2 cpu=$3 rootfs=$2/rootfs-simd cpuopt=()
	rm -rf "$rootfs"
	mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,lf,guest.d}
	cp /bin/busybox "$OUT/lfnl" "$rootfs/bin/"
	add_bin "$rootfs" "$LF_VM_LFC"
	cp "$dir/kmod/lf_kernel.ko" "$rootfs/lf/"
	cp -r "$dir/hook-simd/." "$rootfs/lf/"
	cp "$HERE/guest.d/simd.sh" "$rootfs/guest.d/"
	cat > "$rootfs/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
dmesg -n 1
echo "LF_VM_BEGIN $(uname -r) cpus=$(nproc) simd"
sh /guest.d/simd.sh
echo "LF_VM_SIMD_DONE"
reboot -f
EOF
	chmod 0755 "$rootfs/init"
	(cd "$rootfs" && find . | cpio -o -H newc --quiet | gzip -1) > "$dir/initrd-simd.gz"
	[ "$cpu" = default ] || cpuopt=(-cpu "$cpu")
	timeout --foreground 600 qemu-system-x86_64 "${cpuopt[@]}" \
		-kernel "$(kimage "$ver")" -initrd "$dir/initrd-simd.gz" \
		-append "console=ttyS0 panic=-1 quiet no_timer_check" \
		-nographic -m 512 -smp "$SMP" -no-reboot -nic none \
		< /dev/null > "$dir/console-simd-$cpu.log" 2>&1 || true
	tr -d '\r' < "$dir/console-simd-$cpu.log" > "$dir/console-simd-$cpu.txt"
	grep -q '^LF_VM_SIMD_DONE' "$dir/console-simd-$cpu.txt" ||
		echo "FAIL simd_boot_${cpu}_finished: no LF_VM_SIMD_DONE within 600s; see $dir/console-simd-$cpu.txt" >> "$dir/console-simd-$cpu.txt"
}

# sign_modules VER DIR: the debug kernel boots with module.sig_enforce=1,
# so every module the checks load is signed with its tree's own key
# (scripts/sign-file, CONFIG_MODULE_SIG_HASH): those lfc did not sign
# already (lf_kernel, the fixtures, the build hooks' modules), except
# the deliberately unsigned or wrongly signed ones under sig/.
sign_modules() {
	local kdir hash f
	kdir=$(kheaders "$1")
	# A tree built without CONFIG_MODULE_SIG (an older debug build) has
	# no key and checks no signatures: nothing to sign (sig.sh fails
	# there: its modules are not built).
	grep -q '^CONFIG_MODULE_SIG=y' "$kdir/.config" || return 0
	hash=$(sed -n 's/^CONFIG_MODULE_SIG_HASH="\(.*\)"/\1/p' "$kdir/.config")
	find "$2" -name '*.ko' -not -path '*/sig/*' | while read -r f; do
		tail -c 28 "$f" | grep -q '~Module signature appended~' && continue
		"$kdir/scripts/sign-file" "$hash" "$kdir/certs/signing_key.pem" \
			"$kdir/certs/signing_key.x509" "$f"
	done
}

# boot VER DIR: console output in DIR/console.log
boot() {
	local ver=$1 dir=$2 smp=$SMP mem=512 limit=$TIMEOUT extra=
	if [ "$ver" = "$DEBUG_VER" ]; then
		# 4 GiB: headroom, so that a boot that leaks gets to
		# zz-leaks.sh's kmemleak scan instead of an OOM panic. (1 GiB
		# here and 2 GiB on CI died in stress.sh: lf_test_load's
		# per-query GFP_ATOMIC buffers piling up in KASAN's quarantine,
		# fixed there; with the fix Slab stays near 138 MiB.)
		smp=${LF_VM_DEBUG_SMP:-4} mem=${LF_VM_DEBUG_MEM:-4096}
		limit=${LF_VM_DEBUG_TIMEOUT:-$((TIMEOUT * 4))}
		# Only signed modules load (guest.d/sig.sh); a log that holds
		# every splat between two reads; no_timer_check: the IO-APIC
		# timer check is timing-based and can fail on a loaded TCG host
		# ("IO-APIC + timer doesn't work", a panic; seen without ACPI).
		extra=" module.sig_enforce=1 log_buf_len=4M no_timer_check"
	fi
	BOOT_LIMIT=$limit
	# no_timer_check: on a loaded host TCG can miss the IO-APIC timer
	# check at boot ("IO-APIC + timer doesn't work!", a panic seen on 6.12).
	timeout --foreground "$limit" qemu-system-x86_64 \
		-kernel "$(kimage "$ver")" -initrd "$dir/initrd.gz" \
		-append "console=ttyS0 panic=-1 quiet no_timer_check$extra" \
		-nographic -m "$mem" -smp "$smp" -no-reboot -nic none \
		< /dev/null > "$dir/console.log" 2>&1 || true
	tr -d '\r' < "$dir/console.log" > "$dir/console.txt"
}

# run_hook NAME VER DIR CMD...: CMD <ver> <headers> <symvers> DIR/hook-NAME
# (emptied first), output in DIR/hook-NAME.log; a failure is the host check
# build_hook_NAME.
run_hook() {
	local name=$1 ver=$2 dir=$3
	shift 3
	rm -rf "$dir/hook-$name" "$dir/hook-$name.work"
	mkdir -p "$dir/hook-$name"
	if LF_VM_MODULES=$(kmodules "$ver") \
		"$@" "$ver" "$(kheaders "$ver")" "$dir/kmod/Module.symvers" \
		"$dir/hook-$name" > "$dir/hook-$name.log" 2>&1; then
		echo "PASS build_hook_$name" >> "$dir/host.txt"
	else
		echo "FAIL build_hook_$name: $(tail -n 5 "$dir/hook-$name.log" | tr '\n' ' ')" >> "$dir/host.txt"
	fi
}

# first_complaints DIR: the first kernel complaint lines of DIR's console
# (a panic's own trace is what its tail shows) and the last two memory
# samples the guest printed.
first_complaints() {
	grep -E -m 6 "$SPLAT_HEADS" "$1/console.txt" || true
	grep -E '^info: (stress )?mem ' "$1/console.txt" | tail -n 2
}

# extract_files DIR: the guest's "LF_VM_FILE <name>" ... "LF_VM_FILE_END"
# blocks of base64 in DIR/console.txt, decoded into DIR/from-guest/<name>.
extract_files() {
	local dir=$1 b
	rm -rf "$dir/from-guest"
	mkdir -p "$dir/from-guest"
	awk -v d="$dir/from-guest" '
		/^LF_VM_FILE_END$/ { if (f) close(f); f = ""; next }
		/^LF_VM_FILE [A-Za-z0-9._-]+$/ { f = d "/" $2 ".b64"; printf "" > f; next }
		f { print > f }' "$dir/console.txt"
	for b in "$dir"/from-guest/*.b64; do
		[ -e "$b" ] || continue
		base64 -d < "$b" > "${b%.b64}" 2>/dev/null || rm -f "${b%.b64}"
		rm -f "$b"
	done
}

# ---- main ---------------------------------------------------------------

ensure_packages
if [ -n "${LF_VM_KERNELS:-}" ]; then
	read -r -a kernels <<< "$LF_VM_KERNELS"
else
	kernels=()
	for series in 6.1 6.12; do
		ver=$(find_kernel "$series")
		if [ -z "$ver" ]; then
			log "no installed $series kernel with headers"
			echo "0 passed, 1 failed"
			exit 1
		fi
		kernels+=("$ver")
	done
fi
if [ -n "$DEBUG_VER" ] && ! [[ " ${kernels[*]} " == *" $DEBUG_VER "* ]]; then
	kernels+=("$DEBUG_VER")
fi

for tool in lfnl lfdbg; do
	if ! build_static "$tool" "$HERE/$tool.c"; then
		echo "FAIL build_$tool: see the compiler's messages above"
		echo "0 passed, 1 failed"
		exit 1
	fi
done
tools_fail=0
if [ -n "${LF_VM_LFC:-}" ]; then
	for tool in lfrec lf_bulk; do
		if ! build_static "$tool" "$AURORA_VM/$tool.c"; then
			echo "FAIL build_$tool: see the compiler's messages above"
			rm -f "$OUT/$tool"
			tools_fail=$((tools_fail + 1))
		fi
	done
fi
total_pass=0
total_skip=0
total_fail=$tools_fail
stage_start=$(date +%s)
for ver in "${kernels[@]}"; do
	dir=$OUT/$ver
	mkdir -p "$dir"
	build_start=$(date +%s)
	log "$ver: building modules"
	if ! build_modules "$ver" "$dir"; then
		echo "[$ver] FAIL build_modules: lf_kernel or the fixtures do not build (messages above); not booted"
		total_fail=$((total_fail + 1))
		continue
	fi
	# Checks on the host, as "PASS name" / "FAIL name: reason" lines.
	: > "$dir/host.txt"
	rm -rf "$dir"/hook-* "$dir/hook"
	if [ -n "${LF_VM_LFC:-}" ] && [ -z "${LF_VM_SIMD_ONLY:-}" ]; then
		log "$ver: building Aurora snapshots with $LF_VM_LFC"
		if LF_VM_LFC=$LF_VM_LFC bash "$HERE/aurora-build.sh" "$ver" \
			"$(kheaders "$ver")" "$dir/aurora" \
			"$dir/lfc-cache" > "$dir/aurora-build.log" 2>&1; then
			echo "PASS aurora_build" >> "$dir/host.txt"
		else
			echo "FAIL aurora_build: $(tail -n 5 "$dir/aurora-build.log" | tr '\n' ' ')" >> "$dir/host.txt"
		fi
		# (lfc's cache holds the lf_kernel aurora-build.sh built: reused.)
		if ! quick "$ver"; then
			log "$ver: building the lf_tcp checks' modules (examples/aurora/vm)"
			LF_VM_LFC=$LF_VM_LFC LFC_CACHE=$dir/lfc-cache \
				run_hook lf_tcp "$ver" "$dir" bash "$AURORA_VM/build-hook.sh"
		fi
	fi
	if [ -n "${LF_VM_LFC:-}" ] && [ -z "${LF_VM_SIMD_ONLY:-}" ] && ! quick "$ver"; then
		log "$ver: building tree ensemble and Conv snapshots (models-build.sh)"
		LF_VM_LFC=$LF_VM_LFC LFC_CACHE=$dir/lfc-cache \
			run_hook models "$ver" "$dir" bash "$HERE/models-build.sh"
		log "$ver: building lf_nf and its snapshots (examples/netfilter/vm)"
		LF_VM_LFC=$LF_VM_LFC LFC_CACHE=$dir/lfc-cache \
			run_hook lf_nf "$ver" "$dir" bash "$NF_VM/build-hook.sh"
	fi
	if [ -n "${LF_VM_LFC:-}" ] && ! quick "$ver"; then
		log "$ver: building --simd avx2 snapshots (simd-build.sh)"
		LF_VM_LFC=$LF_VM_LFC LFC_CACHE=$dir/lfc-cache \
			run_hook simd "$ver" "$dir" bash "$HERE/simd-build.sh"
	fi
	if [ -n "${LF_VM_BUILD_HOOK:-}" ]; then
		# shellcheck disable=SC2086
		run_hook user "$ver" "$dir" $LF_VM_BUILD_HOOK
	fi
	rm -f "$dir"/console-simd-*.txt
	start=$(date +%s)
	log "$ver: host builds took $((start - build_start))s"
	if [ -n "${LF_VM_SIMD_ONLY:-}" ]; then
		log "$ver: --simd boots only (LF_VM_SIMD_ONLY)"
		simd_boot "$ver" "$dir" default
		printf 'LF_VM_GUEST_END\nLF_VM_DONE\n' > "$dir/console.txt"
	else
		make_initrd "$ver" "$dir"
		log "$ver: booting"
		boot "$ver" "$dir"
	fi
	if [ -n "${LF_VM_LFC:-}" ] && [ -s "$dir/hook-simd/simd/models" ]; then
		log "$ver: booting with -cpu max for the AVX2 snapshots"
		simd_boot "$ver" "$dir" max
	fi
	secs=$(( $(date +%s) - start ))

	# Checks on the host after the boot, on what the guest printed.
	: > "$dir/post.txt"
	: > "$dir/excerpt.txt"
	extract_files "$dir"
	if [ -n "${LF_VM_LFC:-}" ] && [ -z "${LF_VM_SIMD_ONLY:-}" ] && ! quick "$ver"; then
		LF_VM_LFC=$LF_VM_LFC bash "$AURORA_VM/replay.sh" "$ver" "$dir" \
			>> "$dir/post.txt" 2> "$dir/replay.log" ||
			echo "FAIL replay_ran: replay.sh exited $? (see $dir/replay.log)" >> "$dir/post.txt"
	fi
	if [ -n "${LF_VM_POST_HOOK:-}" ]; then
		# shellcheck disable=SC2086
		$LF_VM_POST_HOOK "$ver" "$dir" >> "$dir/post.txt" 2>> "$dir/post-hook.log" ||
			echo "FAIL post_hook: exited $?" >> "$dir/post.txt"
	fi

	results=$(cat "$dir/host.txt" "$dir/console.txt" "$dir/post.txt" \
		"$dir"/console-simd-*.txt 2> /dev/null |
		grep -E '^(PASS|FAIL|SKIP) ' || true)
	p=$(echo "$results" | grep -c '^PASS ' || true)
	f=$(echo "$results" | grep -c '^FAIL ' || true)
	sk=$(echo "$results" | grep -c '^SKIP ' || true)
	[ -n "$results" ] && echo "$results" | sed "s/^/[$ver] /"
	if ! grep -q '^LF_VM_DONE' "$dir/console.txt"; then
		echo "[$ver] FAIL guest_finished: no LF_VM_DONE (crash or hang; the boot lasted ${secs}s, its limit ${BOOT_LIMIT:-$TIMEOUT}s); see $dir/console.txt"
		echo "FAIL guest_finished (crash or hang)" >> "$dir/excerpt.txt"
		# What the kernel said first (a panic's own trace ends the log),
		# and the memory figures last sampled.
		first_complaints "$dir" | tee -a "$dir/excerpt.txt" | sed "s/^/[$ver]   first: /"
		tail -n 30 "$dir/console.txt" | sed "s/^/[$ver]   /"
		f=$((f + 1))
	elif ! grep -q '^LF_VM_GUEST_END$' "$dir/console.txt"; then
		# init went on after guest.sh died: the checks after that point
		# never ran, so the PASS lines above are not the whole suite.
		echo "[$ver] FAIL guest_sh_completed: guest.sh ended before its last line (killed?); last lines:"
		{ echo "FAIL guest_sh_completed"; first_complaints "$dir"; } >> "$dir/excerpt.txt"
		grep -v '^LF_VM_' "$dir/console.txt" | tail -n 12 | sed "s/^/[$ver]   /"
		f=$((f + 1))
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	# Where the boot's time went (guest.sh's "took" lines), for CI's log.
	grep -E '^info: ([a-z_.-]+\.sh|guest\.sh own checks) took [0-9]+s$' "$dir/console.txt" |
		sed "s/^info: /vm: $ver: /" >&2 || true
	log "$ver: $p passed, $f failed, $sk not checked; boot ${secs}s"
	# CI keeps the end of the output only: make test's last lines repeat
	# each kernel's first failures (scripts/test-all.sh, LF_FAIL_EXCERPT).
	if [ "$f" -gt 0 ] && [ -n "${LF_FAIL_EXCERPT:-}" ]; then
		{ echo "$results" | grep '^FAIL ' | head -n 4
		  cat "$dir/excerpt.txt" 2> /dev/null
		} | cut -c 1-200 | sed "s/^/vm $ver: /" >> "$LF_FAIL_EXCERPT"
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + sk))
done

log "VM stage: $(( $(date +%s) - stage_start ))s"
if [ "$total_skip" -gt 0 ]; then
	echo "$total_pass passed, $total_fail failed ($total_skip groups not checked: SKIP lines above)"
else
	echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
