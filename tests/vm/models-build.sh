#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host half of guest.d/models.sh (issue 7: model kinds beyond Aurora in
# real kernels), run by run.sh per kernel when LF_VM_LFC is set:
#
#   LF_VM_LFC=<lfc> models-build.sh <ver> <headers dir> <symvers> <dest dir>
#
# Leaves in <dest dir>/models/ (the guest's /lf/models/), per snapshot N
# of the table below:
#   lf_model_N.ko   `lfc compile --kdir <headers>` of the model (app A);
#   rows_N.csv      its input rows;
#   expect_N.csv    `lfc run --engine c --raw` on those rows: the s64
#                   values the emitted C, built for userspace by the
#                   host's compiler, answers; `lfc infer --raw` in the
#                   guest must print exactly this;
#   real_N.csv      `lfc run --engine c` (real values), for one-output
#                   models only: plain `lfc infer` must print exactly this;
#   models          "N APP MODULE ROWS OUTPUTS KIND" lines.
# LFC_CACHE, when set, is lfc's cache (run.sh passes the one that holds
# the lf_kernel aurora-build.sh built). Exits non-zero if anything fails.
set -euo pipefail

ver=$1 kdir=$2 dest=$4
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LFC=${LF_VM_LFC:?LF_VM_LFC must name the lfc binary}
case $LFC in /*) ;; *) LFC=$ROOT/$LFC ;; esac
ML=$ROOT/tests/fixtures/ml
VM=$HERE/models
out=$dest/models
mkdir -p "$out"
: > "$out/models"

# uuid app kind model rows compile-options
MODELS="
31 3 lightgbm_classifier $ML/lgbm_clf.onnx $ML/heldout_clf.csv --calibration $ML/calib_clf.csv
32 4 random_forest_regressor $ML/skl_rf_reg.onnx $ML/heldout_reg.csv --calibration $ML/calib_reg.csv
33 5 conv1d $VM/conv1d_policy.onnx $VM/conv1d_rows.csv --calibration $ROOT/examples/aurora/representative_dataset.npy
34 6 conv2d_bn_pools $VM/conv2d_pools.onnx $VM/conv2d_rows.csv --input-range=-1:1
"

echo "$MODELS" | while read -r n app kind model rows opts; do
	[ -n "$n" ] || continue
	ko=$out/lf_model_$n.ko
	# shellcheck disable=SC2086
	"$LFC" compile "$model" $opts --uuid "$n" --app "$app" --kdir "$kdir" \
		-o "$ko" > /dev/null
	[ "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "$ver" ] || {
		echo "models-build: $ko is not for $ver" >&2
		exit 1
	}
	cp "$rows" "$out/rows_$n.csv"
	# shellcheck disable=SC2086
	"$LFC" run "$model" $opts --uuid "$n" --app "$app" --engine c --raw \
		--input "$rows" > "$out/expect_$n.csv" 2> /dev/null
	outputs=$(head -1 "$out/expect_$n.csv" | tr ',' '\n' | grep -c .)
	if [ "$outputs" -eq 1 ]; then
		# shellcheck disable=SC2086
		"$LFC" run "$model" $opts --uuid "$n" --app "$app" --engine c \
			--input "$rows" > "$out/real_$n.csv" 2> /dev/null
	fi
	nrows=$(grep -c . "$out/expect_$n.csv")
	echo "$n $app $(modinfo -F name "$ko") $nrows $outputs $kind" >> "$out/models"
done
