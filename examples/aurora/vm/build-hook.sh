#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host half of the lf_tcp checks (lf_tcp.sh), run by tests/vm/run.sh once
# per kernel (with LF_VM_LFC):
#
#   build-hook.sh <ver> <headers dir> <lf_kernel Module.symvers> <dest dir>
#
# Leaves in <dest dir> (all of it lands in the guest's /lf):
#   lf_tcp.ko        examples/aurora/lf_tcp.c, linked against that lf_kernel
#   lf_model_1.ko    the Aurora snapshot (uuid 1, app 1) from lfc compile
#                    (snapshots.sh: examples/aurora's ranges)
#   adapt/           for `lfc adapt` in the guest: aurora_v2.onnx (the
#                    candidate), representative_dataset.npy (its
#                    calibration rows) and lf_model_2.ko (the candidate
#                    prebuilt for this kernel, uuid 2; snapshots.sh)
#                    and, for shadow.sh (issue 11), the candidates
#                    aurora_good.onnx and aurora_unstable.onnx prebuilt
#                    as lf_model_{3,5}.ko, and canary.sh's aurora_tight.onnx
#                    (a tight guardrail) as lf_model_6.ko
#   shadow.sh        the guest checks of lfc adapt --watch --shadow
#   canary.sh        ... and of its canary rolling back a promotion
#   lf_rec_load.ko   a softirq load generator for app 1 (records at rate)
#   veth.ko sch_netem.ko sch_tbf.ko
#                    from /lib/modules/<ver> (or $LF_VM_MODULES, the debug
#                    kernel's modules_install tree), decompressed (busybox insmod
#                    does not take .ko.xz); none has dependencies
# LF_VM_LFC (else LF_TCP_LFC, else target/debug/lfc) names the lfc binary;
# LFC_CACHE, when set, is lfc's cache (else one under <dest dir>.work).
set -euo pipefail

ver=$1 kdir=$2 symvers=$3 dest=$4
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EX=$(cd "$HERE/.." && pwd)
ROOT=$(cd "$EX/../.." && pwd)
LFC=${LF_VM_LFC:-${LF_TCP_LFC:-$ROOT/target/debug/lfc}}
case $LFC in /*) ;; *) LFC=$ROOT/$LFC ;; esac
kmod=$(dirname "$symvers")
work=$dest.work
export LFC_CACHE=${LFC_CACHE:-$work/lfc-cache}
ADAPT_SRC=$dest/adapt
# shellcheck source=snapshots.sh
. "$HERE/snapshots.sh"

rm -rf "$work"
mkdir -p "$work/kbuild" "$dest" "$ADAPT_SRC"
cp "$EX/Kbuild" "$EX/lf_tcp.c" "$work/kbuild/"
cp "$HERE/lf_rec_load.c" "$work/kbuild/"
echo 'obj-m += lf_rec_load.o' >> "$work/kbuild/Kbuild"
make -s -C "$kdir" M="$work/kbuild" LF_KMOD="$kmod" \
	KBUILD_EXTRA_SYMBOLS="$symvers" modules
cp "$work/kbuild/lf_tcp.ko" "$work/kbuild/lf_rec_load.ko" "$dest/"

cp "$EX/aurora.onnx" "$ADAPT_SRC/aurora_v2.onnx"
cp "$EX/aurora.onnx" "$ADAPT_SRC/aurora_good.onnx"
cp "$EX/aurora.onnx" "$ADAPT_SRC/aurora_tight.onnx"
cp "$HERE/aurora_unstable.onnx" "$ADAPT_SRC/"
cp "$EX/representative_dataset.npy" "$ADAPT_SRC/"
cp "$HERE/shadow.sh" "$HERE/canary.sh" "$HERE/snapshots.sh" "$dest/"
for n in 1 2 3 5 6; do
	case $n in 1) out=$dest/lf_model_1.ko ;; *) out=$ADAPT_SRC/lf_model_$n.ko ;; esac
	# shellcheck disable=SC2046
	"$LFC" compile $(snap_args $n) --app 1 --uuid $n --kdir "$kdir" \
		-o "$out" > "$work/lfc-$n.log"
	[ "$(modinfo -F name "$out")" = "lf_model_$n" ] || {
		echo "build-hook: $out is module $(modinfo -F name "$out"), not lf_model_$n" >&2
		exit 1
	}
done

for m in drivers/net/veth net/sched/sch_netem net/sched/sch_tbf; do
	base=${LF_VM_MODULES:-/lib/modules/$ver}/kernel/$m.ko
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
