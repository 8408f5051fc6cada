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
#   LF_VM_TIMEOUT=<s>          per-boot limit (default 300)
#   LF_VM_JOBS=<n>             make -j for module builds (default 1)
#   LF_VM_SMP=<n>              guest CPUs (default 2)
# Hooks for more guest content (see README.md):
#   LF_VM_LFC=<path to lfc>           also put lfc in the guest and run
#                                     guest.d/lfc.sh (lfc's netlink client)
#                                     and guest.d/aurora.sh (real Aurora
#                                     snapshots that this lfc builds per
#                                     kernel with aurora-build.sh)
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
TIMEOUT=${LF_VM_TIMEOUT:-300}
JOBS=${LF_VM_JOBS:-1}
SMP=${LF_VM_SMP:-2}

log() { echo "vm: $*" >&2; }

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

# ---- builds -------------------------------------------------------------

build_lfnl() {
	mkdir -p "$OUT"
	gcc -static -O2 -Wall -Wextra -Werror \
		-I"$ROOT/runtime-kmod/include/uapi" \
		-o "$OUT/lfnl" "$HERE/lfnl.c"
}

# build_modules VER DIR: lf_kernel.ko and the fixtures, out of tree.
build_modules() {
	local ver=$1 dir=$2 kdir=/usr/src/linux-headers-$1
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
		cp "$HERE/guest.d/lfc.sh" "$HERE/guest.d/aurora.sh" "$rootfs/guest.d/"
		# Whatever aurora-build.sh managed to build; guest.d/aurora.sh
		# fails if something is missing.
		if [ -d "$dir/aurora" ]; then cp -r "$dir/aurora" "$rootfs/lf/"; fi
	fi
	for f in ${LF_VM_EXTRA_BINS:-}; do add_bin "$rootfs" "$f"; done
	for f in ${LF_VM_EXTRA_FILES:-}; do cp "$f" "$rootfs/lf/"; done
	for f in ${LF_VM_GUEST_SCRIPTS:-}; do cp "$f" "$rootfs/guest.d/"; done
	if [ -n "${LF_VM_BUILD_HOOK:-}" ]; then
		mkdir -p "$dir/hook"
		$LF_VM_BUILD_HOOK "$ver" "/usr/src/linux-headers-$ver" \
			"$dir/kmod/Module.symvers" "$dir/hook"
		find "$dir/hook" -maxdepth 1 -name '*.ko' -exec cp {} "$rootfs/lf/" \;
	fi
	cat > "$rootfs/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
dmesg -n 1
echo "LF_VM_BEGIN $(uname -r) cpus=$(nproc)"
sh /guest.sh
echo "LF_VM_DONE"
poweroff -f
EOF
	chmod 0755 "$rootfs/init" "$rootfs/guest.sh"
	(cd "$rootfs" && find . | cpio -o -H newc --quiet | gzip -1) > "$dir/initrd.gz"
}

# boot VER DIR: console output in DIR/console.log
boot() {
	local ver=$1 dir=$2
	timeout --foreground "$TIMEOUT" qemu-system-x86_64 \
		-kernel "/boot/vmlinuz-$ver" -initrd "$dir/initrd.gz" \
		-append "console=ttyS0 panic=-1 quiet" \
		-nographic -m 512 -smp "$SMP" -no-reboot -nic none \
		< /dev/null > "$dir/console.log" 2>&1 || true
	tr -d '\r' < "$dir/console.log" > "$dir/console.txt"
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

if ! build_lfnl; then
	echo "FAIL build_lfnl: see the compiler's messages above"
	echo "0 passed, 1 failed"
	exit 1
fi
total_pass=0
total_fail=0
for ver in "${kernels[@]}"; do
	dir=$OUT/$ver
	mkdir -p "$dir"
	log "$ver: building modules"
	if ! build_modules "$ver" "$dir"; then
		echo "[$ver] FAIL build_modules: lf_kernel or the fixtures do not build (messages above); not booted"
		total_fail=$((total_fail + 1))
		continue
	fi
	# Checks on the host, as "PASS name" / "FAIL name: reason" lines.
	: > "$dir/host.txt"
	if [ -n "${LF_VM_LFC:-}" ]; then
		log "$ver: building Aurora snapshots with $LF_VM_LFC"
		if LF_VM_LFC=$LF_VM_LFC bash "$HERE/aurora-build.sh" "$ver" \
			"/usr/src/linux-headers-$ver" "$dir/aurora" \
			"$dir/lfc-cache" > "$dir/aurora-build.log" 2>&1; then
			echo "PASS aurora_build" >> "$dir/host.txt"
		else
			echo "FAIL aurora_build: $(tail -n 5 "$dir/aurora-build.log" | tr '\n' ' ')" >> "$dir/host.txt"
		fi
	fi
	make_initrd "$ver" "$dir"
	log "$ver: booting"
	start=$(date +%s)
	boot "$ver" "$dir"
	secs=$(( $(date +%s) - start ))

	p=$(cat "$dir/host.txt" "$dir/console.txt" | grep -c '^PASS ' || true)
	f=$(cat "$dir/host.txt" "$dir/console.txt" | grep -c '^FAIL ' || true)
	cat "$dir/host.txt" "$dir/console.txt" | grep -E '^(PASS|FAIL) ' |
		sed "s/^/[$ver] /"
	if ! grep -q '^LF_VM_DONE' "$dir/console.txt"; then
		echo "[$ver] FAIL guest_finished: no LF_VM_DONE within ${TIMEOUT}s (crash or hang); see $dir/console.txt"
		tail -n 30 "$dir/console.txt" | sed "s/^/[$ver]   /"
		f=$((f + 1))
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	log "$ver: $p passed, $f failed in ${secs}s"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
done

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
