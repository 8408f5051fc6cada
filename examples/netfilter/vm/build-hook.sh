#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host half of the lf_nf checks (lf_nf.sh), run by tests/vm/run.sh once
# per kernel (with LF_VM_LFC):
#
#   build-hook.sh <ver> <headers dir> <lf_kernel Module.symvers> <dest dir>
#
# Leaves in <dest dir>/nf/ (the guest's /lf/nf/):
#   lf_nf.ko, lf_nf_probe.ko  examples/netfilter/lf_nf.c and the test
#                    witness vm/lf_nf_probe.c, linked against that lf_kernel
#   lf_model_21.ko, lf_model_22.ko
#                    lf_nf_v1.onnx and lf_nf_v2.onnx (app 2, uuids 21, 22)
#                    from `lfc compile --calibration calib.csv`
#   rows.csv         the packets' features (examples/netfilter/rows.csv)
#   expect_21.csv, expect_22.csv
#                    `lfc run --engine c --raw --output label` of each on
#                    rows.csv: per packet 0 (accept) or 1 (drop)
#   lf_nf_send       the static packet sender (vm/lf_nf_send.c)
#   veth.ko          from /lib/modules/<ver> (or $LF_VM_MODULES), decompressed
# LF_VM_LFC (else target/debug/lfc) names the lfc binary; LFC_CACHE, when
# set, is lfc's cache.
set -euo pipefail

ver=$1 kdir=$2 symvers=$3 dest=$4
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EX=$(cd "$HERE/.." && pwd)
ROOT=$(cd "$EX/../.." && pwd)
LFC=${LF_VM_LFC:-$ROOT/target/debug/lfc}
case $LFC in /*) ;; *) LFC=$ROOT/$LFC ;; esac
kmod=$(cd "$(dirname "$symvers")" && pwd)
symvers=$kmod/$(basename "$symvers")
work=$dest.work
export LFC_CACHE=${LFC_CACHE:-$work/lfc-cache}
out=$dest/nf

rm -rf "$work"
mkdir -p "$work/kbuild" "$out"
cp "$EX/Kbuild" "$EX/lf_nf.c" "$HERE/lf_nf_probe.c" "$work/kbuild/"
echo 'obj-m += lf_nf_probe.o' >> "$work/kbuild/Kbuild"
make -s -C "$kdir" M="$work/kbuild" LF_KMOD="$kmod" \
	KBUILD_EXTRA_SYMBOLS="$symvers" modules
cp "$work/kbuild/lf_nf.ko" "$work/kbuild/lf_nf_probe.ko" "$out/"

cp "$EX/rows.csv" "$out/"
for v in 1 2; do
	n=2$v
	"$LFC" compile "$EX/lf_nf_v$v.onnx" --calibration "$EX/calib.csv" \
		--app 2 --uuid $n --kdir "$kdir" -o "$out/lf_model_$n.ko" > /dev/null
	[ "$(modinfo -F name "$out/lf_model_$n.ko")" = "lf_model_$n" ] || {
		echo "build-hook: lf_model_$n.ko is module $(modinfo -F name "$out/lf_model_$n.ko")" >&2
		exit 1
	}
	"$LFC" run "$EX/lf_nf_v$v.onnx" --calibration "$EX/calib.csv" \
		--app 2 --uuid $n --engine c --raw --output label \
		--input "$EX/rows.csv" > "$out/expect_$n.csv" 2> /dev/null
done
cmp -s "$out/expect_21.csv" "$out/expect_22.csv" && {
	echo "build-hook: the two snapshots decide alike: a switch would not show" >&2
	exit 1
}

gcc -static -O2 -Wall -Wextra -Werror -o "$out/lf_nf_send" "$HERE/lf_nf_send.c"

base=${LF_VM_MODULES:-/lib/modules/$ver}/kernel/drivers/net/veth.ko
if [ -f "$base" ]; then
	cp "$base" "$out/veth.ko"
elif [ -f "$base.xz" ]; then
	xz -dc "$base.xz" > "$out/veth.ko"
else
	echo "build-hook: no $base(.xz) for $ver" >&2
	exit 1
fi
