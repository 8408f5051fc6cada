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
#           options and the guardrail --output-range $TIGHT_RANGE, so
#           narrow that nearly every live action lies outside it. Aurora's
#           actions on lf_tcp's traffic vary a lot from run to run: canary.sh's
#           record of uuid 3 just before the canary (200 records) had 73.5 %
#           outside -0.5:0.5 in one 6.12 run (p10 -2.58, p90 2.10) and 8.0 %
#           in another (p10 -0.272, p90 0.234) and 0.5 % in a third (p10
#           -0.24, p90 0.192), below the 5 % that
#           canary_live_actions_leave_the_guardrail requires: that check
#           failed there, as on 6.12 in CI on 7a8e818. The lf_tcp
#           checks' 1,186 records of that second run: 2.9 % within -0.01:0.01,
#           13.4 % within -0.05:0.05, 66.6 % within -0.5:0.5. So the
#           guardrail is -0.01:0.01 (output quanta of 0.001: [-10, 10]) and
#           the canary's guardrail rate on live traffic is far over its 0.01
#           whatever the traffic does. The clamp moves the answers by about
#           mean |action| (0.50 on those records, more on wider traffic), so
#           canary.sh raises adapt's stability limit past what any answer
#           can move (TIGHT_MAX_CHANGE, over the span of Aurora's proven
#           output range [-3.937, 3.866]): stability is shadow.sh's check
#           (aurora_unstable), not the canary's.
#           canary.sh checks the share outside on every run
#           (canary_live_actions_leave_the_guardrail).

ADAPT_RANGE=-2:12
TIGHT_RANGE=-0.01:0.01
TIGHT_MAX_CHANGE=8

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
