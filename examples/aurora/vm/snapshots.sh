# SPDX-License-Identifier: GPL-2.0
#
# The Aurora snapshots of the lf_tcp checks, as `lfc` arguments (model and
# compile options, host paths), for build-hook.sh (which builds them) and
# replay.sh (which replays the guest's records through `lfc run --engine
# c` with exactly these). Sourced; needs $EX (examples/aurora) and, for
# uuid 2, $ADAPT_SRC (the directory holding the candidate aurora_v2.onnx).
#
#   uuid 1  lf_model_1: examples/aurora's ranges (calibration rows widened
#           to the physical input domain, input_domain.csv); inserted by
#           lf_tcp.sh
#   uuid 2  lf_model_2: the candidate `lfc adapt` installs mid-transfer:
#           the same network (copied as aurora_v2.onnx, so the model is
#           named aurora_v2) compiled over a wider input domain than 1's
#           (ADAPT_RANGE for every feature), hence other scales and other
#           outputs (fidelity ~0.008 on lf_tcp's inputs; -33:33, all of
#           lf_tcp's s16 range, costs int16 precision: ~0.04, too close to
#           adapt's 0.05). The guest runs `lfc adapt` with the same options
#           (lf_tcp.sh); adapt refuses the prebuilt module unless its
#           digest (model bytes, options, input domain) matches, so the two
#           cannot drift apart silently.
#   uuid 3, 5  the candidates of shadow.sh (`lfc adapt --watch
#           --shadow`, issue 11), with uuid 2's options: aurora_good
#           (Aurora itself), aurora_unstable (Aurora's action + 2.0,
#           gen-unstable.py). uuid 4 is the corrupt file's, which never
#           gets a module.
#   uuid 6  canary.sh's candidate: Aurora (aurora_tight) with uuid 2's
#           options and the guardrail --output-range $TIGHT_RANGE. Chosen
#           from measured records of Aurora's actions on lf_tcp's traffic:
#           the lf_tcp checks' records (from-guest/records.csv.gz, 1,206
#           and 1,208 records on 6.12 and 6.1: 39 % and 53 % outside
#           -0.5:0.5) and canary.sh's own record of uuid 3 in the shadow
#           transfer, just before the canary (6.12: 200 records, p10
#           -2.58, p25 -1.42, median -0.02, p75 0.94, p90 2.10; 73.5 %
#           outside), so its guardrail rate on live traffic is far over
#           the canary's 0.05 while its shadow stability (mean change
#           against uuid 3: 0.88 there) stays under adapt's limit of 1.
#           canary.sh checks the share outside on every run
#           (canary_live_actions_leave_the_guardrail).

ADAPT_RANGE=-2:12
TIGHT_RANGE=-0.5:0.5

# snap_args UUID: model file and compile options.
snap_args() {
	case $1 in
	1) echo "$EX/aurora.onnx --calibration $EX/representative_dataset.npy --input-range $EX/input_domain.csv" ;;
	2) echo "$ADAPT_SRC/aurora_v2.onnx --calibration $EX/representative_dataset.npy --input-range $ADAPT_RANGE" ;;
	3) echo "$ADAPT_SRC/aurora_good.onnx --calibration $EX/representative_dataset.npy --input-range $ADAPT_RANGE" ;;
	5) echo "$ADAPT_SRC/aurora_unstable.onnx --calibration $EX/representative_dataset.npy --input-range $ADAPT_RANGE" ;;
	6) echo "$ADAPT_SRC/aurora_tight.onnx --calibration $EX/representative_dataset.npy --input-range $ADAPT_RANGE --output-range $TIGHT_RANGE" ;;
	*) return 1 ;;
	esac
}
