#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host half of the lf_tcp checks (lf_tcp.sh), as tests/vm/run.sh's
# LF_VM_BUILD_HOOK, run once per kernel:
#
#   build-hook.sh <ver> <headers dir> <lf_kernel Module.symvers> <dest dir>
#
# Leaves in <dest dir> (all of it lands in the guest's /lf):
#   lf_tcp.ko        examples/aurora/lf_tcp.c, linked against that lf_kernel
#   lf_model_1.ko    the Aurora snapshot (uuid 1, app 1) from lfc compile,
#                    with examples/aurora's ranges (calibration rows and
#                    the physical input domain)
#   lf_rec_load.ko   a softirq load generator for app 1 (records at rate)
#   veth.ko sch_netem.ko sch_tbf.ko
#                    from /lib/modules/<ver>, decompressed (busybox insmod
#                    does not take .ko.xz); none has dependencies
# LF_TCP_LFC (else target/debug/lfc) names the lfc binary.
set -euo pipefail

ver=$1 kdir=$2 symvers=$3 dest=$4
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EX=$(cd "$HERE/.." && pwd)
ROOT=$(cd "$EX/../.." && pwd)
LFC=${LF_TCP_LFC:-$ROOT/target/debug/lfc}
case $LFC in /*) ;; *) LFC=$ROOT/$LFC ;; esac
kmod=$(dirname "$symvers")
work=$dest.work

rm -rf "$work"
mkdir -p "$work/kbuild" "$dest"
cp "$EX/Kbuild" "$EX/lf_tcp.c" "$work/kbuild/"
cp "$HERE/lf_rec_load.c" "$work/kbuild/"
echo 'obj-m += lf_rec_load.o' >> "$work/kbuild/Kbuild"
make -s -C "$kdir" M="$work/kbuild" LF_KMOD="$kmod" \
	KBUILD_EXTRA_SYMBOLS="$symvers" modules
cp "$work/kbuild/lf_tcp.ko" "$work/kbuild/lf_rec_load.ko" "$dest/"

LFC_CACHE=$work/lfc-cache "$LFC" compile "$EX/aurora.onnx" \
	--calibration "$EX/representative_dataset.npy" \
	--input-range "$EX/input_domain.csv" --app 1 --uuid 1 \
	--kdir "$kdir" -o "$dest/lf_model_1.ko" > "$work/lfc.log"

for m in drivers/net/veth net/sched/sch_netem net/sched/sch_tbf; do
	base=/lib/modules/$ver/kernel/$m.ko
	name=$(basename "$m").ko
	if [ -f "$base" ]; then
		cp "$base" "$dest/$name"
	elif [ -f "$base.xz" ]; then
		xz -dc "$base.xz" > "$dest/$name"
	else
		echo "build-hook: no $base(.xz) for $ver" >&2
		exit 1
	fi
done
