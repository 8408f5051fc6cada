# SPDX-License-Identifier: GPL-2.0
#
# A quantized model imported with its own scales (issue 8): Aurora through
# onnxruntime's quantize_static (QDQ, per-channel int8), built by `lfc
# compile` on the host (aurora-build.sh: lf_model_9.ko, app 2), answers
# `lfc infer` byte for byte as the host's `lfc run --engine c`. Sourced by
# guest.sh after aurora.sh (lf_kernel is unloaded when this starts, and
# must be again when it ends).

Q=$M/aurora
why=
for f in lf_kernel.ko lf_model_9.ko expect_9.csv data.csv; do
	[ -s "$Q/$f" ] || why="$why $f"
done
if [ -n "$why" ]; then
	fail quant_inputs_present "missing:$why (see aurora-build.sh's output on the host)"
else
	pass quant_inputs_present
	qmod=$(sed -n 's/^9 //p' $Q/modules)
	klog
	run insmod $Q/lf_kernel.ko
	rck=$RC
	run insmod $Q/lf_model_9.ko
	klog
	if [ "$rck" -eq 0 ] && [ "$RC" -eq 0 ] &&
	   klog_has "app 2: Current slot 0 is registered with model: 9 aurora_qdq"; then
		pass quant_register
	else
		fail quant_register "lf_kernel rc=$rck, snapshot rc=$RC $OUT; $(cat $KLOG_NEW)"
	fi
	lfc infer --app 2 --input $Q/data.csv > /tmp/quant_out.csv 2> /tmp/quant_err
	rc=$?
	if [ "$rc" -eq 0 ] && cmp -s /tmp/quant_out.csv $Q/expect_9.csv; then
		pass quant_infer_matches_host
	else
		fail quant_infer_matches_host "rc=$rc $(head -c 300 /tmp/quant_err); got/want: $(diff /tmp/quant_out.csv $Q/expect_9.csv | head -6 | tr '\n' ' ')"
	fi
	run lfc app destroy --app 2
	rcd=$RC
	run rmmod "$qmod"
	rcm=$RC
	run rmmod lf_kernel
	if [ "$rcd" -eq 0 ] && [ "$rcm" -eq 0 ] && [ "$RC" -eq 0 ]; then
		pass quant_teardown
	else
		fail quant_teardown "app destroy rc=$rcd, rmmod snapshot rc=$rcm, lf_kernel rc=$RC $OUT"
	fi
fi
[ -n "${qmod:-}" ] && loaded "$qmod" && { lfnl destroy 2 > /dev/null 2>&1; rmmod "$qmod"; }
loaded lf_kernel && rmmod lf_kernel
true
