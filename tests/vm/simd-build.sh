#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host half of guest.d/simd.sh (issue 10: --simd avx2 in real kernels), run
# by run.sh per kernel when LF_VM_LFC is set:
#
#   LF_VM_LFC=<lfc> simd-build.sh <ver> <headers dir> <symvers> <dest dir>
#
# Leaves in <dest dir>/simd/ (the guest's /lf/simd/):
#   lf_model_N.ko     `lfc compile --simd avx2 --kdir <headers>` (app A);
#   rows_N.csv        its input rows (the first 40 calibration rows);
#   fixed_N.csv       the same rows as the s64 values lf_query_model()
#                     takes (round(x * 1000), half away from zero, as lfc);
#   expect_N.csv      `lfc run --simd avx2 --engine c --raw` on them, which
#                     equals the scalar build's answer (checked here too);
#   lf_simd_probe.ko  queries an app from process or softirq context;
#   vsib4_N           how many of lf_model_N.ko's gathers index by
#                     xmm4/ymm4 (see simd/vsib_probe.c);
#   vsib_probe        static userspace check of that gather on the guest CPU;
#   models            "N APP MODULE ROWS OUTPUTS KIND" lines.
set -euo pipefail

ver=$1 kdir=$2 symvers=$3 dest=$4
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LFC=${LF_VM_LFC:?LF_VM_LFC must name the lfc binary}
case $LFC in /*) ;; *) LFC=$ROOT/$LFC ;; esac
SP=$ROOT/tests/fixtures/speed
AU=$ROOT/examples/aurora
out=$dest/simd
work=$dest.work
mkdir -p "$out" "$work"
: > "$out/models"

# uuid app kind model calibration
MODELS="
41 7 linnos $SP/linnos.onnx $SP/linnos_calib.csv
42 8 mlp_64_256_256_8 $SP/mlp4.onnx $SP/mlp4_calib.csv
43 9 aurora $AU/aurora.onnx $AU/representative_dataset.csv
"

echo "$MODELS" | while read -r n app kind model calib; do
	[ -n "$n" ] || continue
	ko=$out/lf_model_$n.ko
	opts=(--calibration "$calib" --uuid "$n" --app "$app")
	"$LFC" compile "$model" "${opts[@]}" --simd avx2 --kdir "$kdir" \
		-o "$ko" > /dev/null
	[ "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "$ver" ] || {
		echo "simd-build: $ko is not for $ver" >&2
		exit 1
	}
	head -n 40 "$calib" | grep -v '^[a-zA-Z]' > "$out/rows_$n.csv"
	awk -F, '{ for (i = 1; i <= NF; i++) {
		v = $i * 1000; r = (v < 0) ? -int(-v + 0.5) : int(v + 0.5)
		printf "%s%d", (i > 1 ? "," : ""), r }; print "" }' \
		"$out/rows_$n.csv" > "$out/fixed_$n.csv"
	"$LFC" run "$model" "${opts[@]}" --simd avx2 --engine c --raw \
		--input "$out/rows_$n.csv" > "$out/expect_$n.csv" 2> /dev/null
	"$LFC" run "$model" "${opts[@]}" --engine c --raw \
		--input "$out/rows_$n.csv" > "$work/scalar_$n.csv" 2> /dev/null
	cmp "$out/expect_$n.csv" "$work/scalar_$n.csv" || {
		echo "simd-build: $kind: lfc run --simd avx2 differs from scalar" >&2
		exit 1
	}
	# Gathers whose VSIB index is xmm4/ymm4: QEMU 7.2's TCG reads the
	# base address in every lane there (simd/vsib_probe.c), so in a -cpu
	# max boot on such an emulator this module's AVX2 answers are not
	# checkable (guest.d/simd.sh says so; real CPUs are right).
	objdump -d --no-show-raw-insn "$ko" |
		grep -cE 'gather[a-z]+[[:space:]].*\((%[a-z0-9]+)?,%[xy]mm4,[1248]\)' \
		> "$out/vsib4_$n" || true
	outputs=$(head -1 "$out/expect_$n.csv" | tr ',' '\n' | grep -c .)
	nrows=$(grep -c . "$out/expect_$n.csv")
	echo "$n $app $(modinfo -F name "$ko") $nrows $outputs $kind" >> "$out/models"
done

gcc -O1 -static -no-pie -Wall -o "$out/vsib_probe" "$HERE/simd/vsib_probe.c"
rm -rf "$work/probe"
mkdir -p "$work/probe"
cp "$HERE"/simd/Kbuild "$HERE"/simd/lf_simd_probe.c "$work/probe/"
make -s -C "$kdir" M="$work/probe" LF_KMOD="$ROOT/runtime-kmod" \
	KBUILD_EXTRA_SYMBOLS="$symvers" modules
cp "$work/probe/lf_simd_probe.ko" "$out/"
rm -rf "$work"
