#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds lfc's debug kernel from Debian's linux-source-6.12 package:
# `make tinyconfig`, merged with scripts/debug-kernel/lfc-debug.config
# (what tests/vm needs, plus KASAN, lockdep, PROVE_RCU, kmemleak, fault
# injection), bzImage and modules, in-tree (the tree is the --kdir that
# lf_kernel and snapshots are built against).
#
#   scripts/debug-kernel.sh [<out dir>]     (default tests/vm/out/debug-kernel)
#
# Leaves in <out dir>:
#   src/        the configured and built tree (a kbuild --kdir)
#   bzImage     the kernel image
#   release     `make kernelrelease` (6.12.<n>-lfdebug)
#   modroot/    `make modules_install` (lib/modules/<release>/...)
#   build.log   the build's output; build-seconds: how long it took
#               (wall clock), build-cpu-seconds: user+system CPU time of
#               the build (on a shared machine the wall clock mostly
#               measures the others; CPU time / jobs is the idle figure)
# Nothing is kept that cannot be rebuilt: the tree is re-extracted from
# /usr/src/linux-source-6.12.tar.xz whenever that package's version or the
# config fragment changed (stamp), otherwise make only redoes what is stale.
# Needs linux-source-6.12 flex bison bc libelf-dev libssl-dev (installed
# when missing, as root). LF_DEBUG_KERNEL_JOBS=<n> for make -j (default:
# nproc). Prints the out dir on stdout; exits non-zero on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${1:-$ROOT/tests/vm/out/debug-kernel}
FRAG=$HERE/debug-kernel/lfc-debug.config
TARBALL=/usr/src/linux-source-6.12.tar.xz
JOBS=${LF_DEBUG_KERNEL_JOBS:-$(nproc)}
PKGS=(linux-source-6.12 flex bison bc libelf-dev libssl-dev xz-utils)

log() { echo "debug-kernel: $*" >&2; }

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		log "missing packages: ${missing[*]} (run as root to install them)"
		exit 1
	fi
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}" >&2
fi

stamp="$(dpkg-query -W -f='${Version}' linux-source-6.12) $(sha256sum < "$FRAG" | cut -d' ' -f1)"
mkdir -p "$OUT"
if [ "$(cat "$OUT/stamp" 2>/dev/null)" != "$stamp" ]; then
	log "extracting $TARBALL"
	rm -rf "$OUT/src" "$OUT/stamp" "$OUT/bzImage" "$OUT/release" "$OUT/modroot"
	mkdir -p "$OUT/src"
	tar -xJf "$TARBALL" -C "$OUT/src" --strip-components=1
	echo "$stamp" > "$OUT/stamp"
fi

start=$(date +%s)
src=$OUT/src
{
	make -C "$src" -s tinyconfig
	"$src"/scripts/kconfig/merge_config.sh -m -O "$src" "$src/.config" "$FRAG"
	make -C "$src" -s olddefconfig
} > "$OUT/build.log" 2>&1 || { tail -n 20 "$OUT/build.log" >&2; exit 1; }

# Every option of the fragment must have survived olddefconfig (a
# dependency left out would silently drop, say, KASAN).
bad=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) want=$line ;;
	"# CONFIG_"*" is not set") want=$line ;;
	*) continue ;;
	esac
	opt=${want#\# }
	opt=${opt%%[= ]*}
	got=$(grep -E "^(# )?$opt[= ]" "$src/.config" || true)
	[ -z "$got" ] && case $want in "# "*) continue ;; esac
	if [ "$got" != "$want" ]; then
		log "config: wanted '$want', got '${got:-nothing}'"
		bad=1
	fi
done < "$FRAG"
[ "$bad" -eq 0 ] || exit 1

log "building bzImage and modules (-j$JOBS; log in $OUT/build.log)"
if ! make -C "$src" -j"$JOBS" bzImage modules >> "$OUT/build.log" 2>&1; then
	grep -E 'error|Error' "$OUT/build.log" | tail -n 20 >&2
	exit 1
fi
rm -rf "$OUT/modroot"
make -C "$src" -s INSTALL_MOD_PATH="$OUT/modroot" modules_install \
	>> "$OUT/build.log" 2>&1
cp "$src/arch/x86/boot/bzImage" "$OUT/bzImage"
make -C "$src" -s kernelrelease > "$OUT/release"
echo $(( $(date +%s) - start )) > "$OUT/build-seconds"
# CPU time of every child so far (the configuration steps and make):
# `times` prints the shell's own line, then the children's "XmY.Zs Xm..".
# (Redirected, not piped: in a pipeline it would time a subshell.)
times > "$OUT/times"
tail -n 1 "$OUT/times" | awk '{
	n = 0
	for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); n += t[1] * 60 + t[2] }
	printf "%d\n", n }' > "$OUT/build-cpu-seconds"
log "$(cat "$OUT/release") built in $(cat "$OUT/build-seconds")s" \
	"($(cat "$OUT/build-cpu-seconds")s CPU, -j$JOBS)"
echo "$OUT"
