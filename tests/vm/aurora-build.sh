#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host half of the Aurora checks (guest.d/aurora.sh), run by run.sh per
# kernel when LF_VM_LFC is set:
#
#   LF_VM_LFC=<lfc> aurora-build.sh <ver> <headers dir> <dest dir> <cache dir>
#
# Leaves in <dest dir> (emptied first), for /lf/aurora/ in the guest:
#   lf_model_{1,2,3}.ko  Aurora snapshots (uuids 1, 2, 3, app 1) built by
#                        `lfc compile` for that kernel, each from other
#                        ranges so that their outputs differ;
#   lf_kernel.ko         the lf_kernel that lfc built (from the sources
#                        embedded in it) and linked the snapshots against;
#   expect_{1,2,3}.csv   `lfc run --engine c` of each on the data rows:
#                        the exact text `lfc infer` must print in the guest;
#   lf_model_{4,5}.ko    Rust snapshots (`--backend rust`) with the
#                        options of 2 and 3 (uuids 4, 5), for
#                        guest.d/rust.sh; expect_{4,5}.csv as above, which
#                        must equal expect_{2,3}.csv and `lfc run --engine
#                        rust` (checked here);
#   modules              "<uuid> <module name>" lines (modinfo -F name);
#   data.csv             the input rows (representative_dataset.csv);
#   lf_model_9.ko, expect_9.csv  the onnxruntime-quantized Aurora (QDQ,
#                        tests/fixtures/quant/aurora_qdq.onnx), uuid 9,
#                        app 2, for guest.d/quantized.sh.
#   lf_model_7.ko        snapshot 1's options plus the guardrail
#                        --output-range -3:3 (uuid 7, app 1), for
#                        guest.d/guard.sh, and expect_7.csv.
# For a kernel tree with its own module signing key (the debug kernel:
# certs/signing_key.pem, .x509) the snapshots are signed by lfc with it
# (--sign-key/--sign-cert), and sig/ holds the refused ones for
# guest.d/sig.sh: sig/unsigned/lf_model_19.ko (no --sign-key) and
# sig/wrongkey/lf_model_19.ko (signed with a key the kernel does not trust).
# <cache dir> becomes lfc's LFC_CACHE, emptied first, so that the one
# lf_kernel build in it is the one the snapshots were linked against.
# Exits non-zero, with the reason on stderr, if anything cannot be built.
set -euo pipefail

ver=$1 kdir=$2 dest=$3 cache=$4
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
EX=$ROOT/examples/aurora
LFC=${LF_VM_LFC:?LF_VM_LFC must name the lfc binary}
case $LFC in /*) ;; *) LFC=$ROOT/$LFC ;; esac

rm -rf "$dest" "$cache"
mkdir -p "$dest"
export LFC_CACHE=$cache

# Per-snapshot ranges. 1 is examples/aurora's (calibration rows widened
# to the physical input domain); 2 the calibration rows alone (other
# scales); 3 TFLite-style int8 from the calibration rows.
flags() {
	case $1 in
	1) echo "--calibration $EX/representative_dataset.npy --input-range $EX/input_domain.csv" ;;
	7) echo "--calibration $EX/representative_dataset.npy --input-range $EX/input_domain.csv --output-range -3:3" ;;
	2) echo "--calibration $EX/representative_dataset.npy" ;;
	3 | 5) echo "--calibration $EX/representative_dataset.npy --precision int8" ;;
	4) echo "--calibration $EX/representative_dataset.npy" ;;
	esac
}

sign=()
if [ -f "$kdir/certs/signing_key.pem" ] && [ -f "$kdir/certs/signing_key.x509" ]; then
	sign=(--sign-key "$kdir/certs/signing_key.pem" --sign-cert "$kdir/certs/signing_key.x509")
fi
cp "$EX/representative_dataset.csv" "$dest/data.csv"
: > "$dest/modules"
backend() { case $1 in 4 | 5) echo rust ;; *) echo c ;; esac; }
for n in 1 2 3 4 5 7; do
	# shellcheck disable=SC2046
	"$LFC" compile "$EX/aurora.onnx" $(flags $n) --uuid $n --app 1 \
		--backend "$(backend $n)" --kdir "$kdir" "${sign[@]}" -o "$dest/lf_model_$n.ko" > /dev/null
	# shellcheck disable=SC2046
	"$LFC" run "$EX/aurora.onnx" $(flags $n) --uuid $n --app 1 \
		--engine c --input "$dest/data.csv" > "$dest/expect_$n.csv"
	echo "$n $(modinfo -F name "$dest/lf_model_$n.ko")" >> "$dest/modules"
	if [ "$(backend $n)" = rust ]; then
		[ "$(modinfo -F backend "$dest/lf_model_$n.ko")" = rust ] || {
			echo "aurora-build: lf_model_$n.ko has no backend: rust" >&2
			exit 1
		}
		# shellcheck disable=SC2046
		"$LFC" run "$EX/aurora.onnx" $(flags $n) --uuid $n --app 1 \
			--engine rust --input "$dest/data.csv" > "$dest/rust_$n.csv"
		cmp "$dest/rust_$n.csv" "$dest/expect_$n.csv" &&
			cmp "$dest/expect_$n.csv" "$dest/expect_$((n - 2)).csv" || {
			echo "aurora-build: snapshot $n: --engine rust, --engine c and snapshot $((n - 2)) differ" >&2
			exit 1
		}
	fi
	[ "$(modinfo -F vermagic "$dest/lf_model_$n.ko" | cut -d' ' -f1)" = "$ver" ] || {
		echo "aurora-build: lf_model_$n.ko is not for $ver" >&2
		exit 1
	}
done
# A quantized model imported with its own scales (issue 8;
# guest.d/quantized.sh): uuid 9, app 2, at --input-scale 10^6 (finer than
# its input quantum; data.csv holds the same rows at 10^6).
QM=$ROOT/tests/fixtures/quant/aurora_qdq.onnx
"$LFC" compile "$QM" --input-scale 1000000 --uuid 9 --app 2 \
	--kdir "$kdir" -o "$dest/lf_model_9.ko" > /dev/null
"$LFC" run "$QM" --input-scale 1000000 --uuid 9 --app 2 \
	--engine c --input "$dest/data.csv" > "$dest/expect_9.csv"
echo "9 $(modinfo -F name "$dest/lf_model_9.ko")" >> "$dest/modules"
set -- "$LFC_CACHE"/runtime-*/lf_kernel.ko
if [ "$#" -ne 1 ] || ! [ -f "$1" ]; then
	echo "aurora-build: expected one lf_kernel.ko in $LFC_CACHE, found: $*" >&2
	exit 1
fi
cp "$1" "$dest/lf_kernel.ko"
if [ ${#sign[@]} -gt 0 ]; then
	mkdir -p "$dest/sig/unsigned" "$dest/sig/wrongkey" "$cache/wrong"
	openssl req -new -nodes -utf8 -sha256 -days 2 -batch -x509 \
		-subj "/CN=lfc test key the kernel does not trust" \
		-outform DER -out "$cache/wrong/key.x509" -keyout "$cache/wrong/key.pem" \
		-newkey rsa:2048 2> /dev/null
	"$LFC" compile "$EX/aurora.onnx" $(flags 1) --uuid 19 --app 1 \
		--kdir "$kdir" -o "$dest/sig/unsigned/lf_model_19.ko" > /dev/null
	"$LFC" compile "$EX/aurora.onnx" $(flags 1) --uuid 19 --app 1 --kdir "$kdir" \
		--sign-key "$cache/wrong/key.pem" --sign-cert "$cache/wrong/key.x509" \
		-o "$dest/sig/wrongkey/lf_model_19.ko" > /dev/null
	# modinfo names the signer of the good ones.
	modinfo -F signer "$dest/lf_model_1.ko" > "$dest/sig/signer"
	[ -s "$dest/sig/signer" ] || {
		echo "aurora-build: lf_model_1.ko has no signer (modinfo)" >&2
		exit 1
	}
fi
