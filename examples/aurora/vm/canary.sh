# SPDX-License-Identifier: GPL-2.0
#
# Guest check of the canary (issue 11 items 4 and 6), sourced by shadow.sh
# after its daemon stopped, while the same lf_tcp transfer still runs,
# with uuid 3 active and uuid 2 standby.
#
# aurora_tight.onnx is Aurora itself compiled with a tight guardrail
# (--output-range $TIGHT_RANGE, where Aurora's live answers often lie
# outside). `lfc adapt --once --shadow` with the same --output-range (so
# the prebuilt lf_model_6.ko carries the digest of what it compiles) stages
# it as uuid 6, shadows it on 64 live samples and promotes it: its answers
# equal the interpreter's, its fidelity is measured against the float model
# clamped to the guardrail, and its mean change against uuid 3 stays under
# 1. Once it answers lf_tcp, its own guardrail counter (lf_kernel's per-CPU
# LF_SLOT_ATTR_GUARD) runs over --max-guard-rate 0.05 and the canary rolls
# back at once, logging the figures. `lfc status` before and after: uuid 3
# active throughout except the canary's window; afterwards uuid 6 is the
# standby with the guardrail hits counted, uuid 3 is active again with
# none (it has no guardrail).
#
# The good candidate's canary (uuid 3, kept, guardrail and drift rate 0)
# is checked by shadow.sh.

CN_LOG=/tmp/adapt_canary.log

cn_before=$(lfc status 2>&1)
echo "$cn_before" | sed 's/^/info: canary: status before: /'
if ! [ "$(slot_role 3)" = "[active]" ] || ! [ "$(slot_role 2)" = "[standby]" ] ||
	loaded lf_model_6; then
	fail canary_setup "uuid 3: '$(slot_of 3)', uuid 2: '$(slot_of 2)'; canary checks not run; $cn_before"
else
	pass canary_setup
	cp $AD/aurora_tight.onnx "$SW/.aurora_tight.onnx.tmp" &&
		mv "$SW/.aurora_tight.onnx.tmp" "$SW/aurora_tight.onnx"
	cn_t0=$(date +%s)
	lfc adapt --app 1 --watch $SW --once --shadow --shadow-samples 64 \
		--shadow-every 2 --shadow-timeout 60 --canary-seconds 5 \
		--max-guard-rate 0.05 --engine interp --prebuilt $AD \
		--calibration $AD/representative_dataset.npy \
		--input-range $ADAPT_RANGE --output-range $TIGHT_RANGE > $CN_LOG 2>&1
	cn_rc=$?
	echo "info: canary run took $(($(date +%s) - cn_t0))s, rc=$cn_rc"
	sed 's/^/info: canary log: /' $CN_LOG
	cn_after=$(lfc status 2>&1)
	echo "$cn_after" | sed 's/^/info: canary: status after: /'
	s6=$(slot_of 6) s3=$(slot_of 3)
	g6=$(echo "$s6" | cut -d' ' -f5) q6=$(echo "$s6" | cut -d' ' -f2)

	# Passed the shadow verdict (bit-exact, fidelity, stability) ...
	grep -Eq '^adapt: aurora_tight.onnx: shadow verdict on 64 live samples: kernel == interpreter on 64 of 64, errors 0, fidelity max [0-9.]+ \(<= 0.05\) ok, stability mean .* ok .*, drift 0 guardrail [0-9]+$' $CN_LOG &&
		grep -q '^adapt: aurora_tight.onnx: promoted uuid 6 (active), standby uuid 3$' $CN_LOG &&
		pass canary_tight_candidate_passes_shadow_and_is_promoted ||
		fail canary_tight_candidate_passes_shadow_and_is_promoted "$(grep aurora_tight $CN_LOG | tail -3)"
	# ... then tripped its guardrail on live traffic: rolled back.
	grep -Eq '^adapt: candidate aurora_tight.onnx -> uuid 6: .* -> rejected: promoted, then canary: guardrail rate [0-9.]+ > 0.05 over [0-9]+ queries after [0-9.]+ s \([0-9]+ queries, fallback rate 0.0000, guardrail rate [0-9.]+, drift rate 0.0000\): rolled back to uuid 3$' $CN_LOG &&
		[ "$cn_rc" -eq 3 ] && [ "$(lfnl active 1)" = "uuid=3 slot=0" ] &&
		pass canary_guardrail_rolls_back ||
		fail canary_guardrail_rolls_back "rc=$cn_rc active $(lfnl active 1); $(grep 'candidate aurora_tight' $CN_LOG)"
	# The slots as lfc status shows them: uuid 3 active again, uuid 6 the
	# standby with the guardrail hits it answered (at most its queries).
	[ "$(slot_role 3)" = "[active]" ] &&
		[ "$(echo "$s3" | cut -d' ' -f5)" = 0 ] &&
		[ "$(slot_role 6)" = "[standby]" ] &&
		[ -n "$g6" ] && [ "$g6" -gt 0 ] && [ "$g6" -le "$q6" ] &&
		[ -z "$(slot_of 2)" ] &&
		pass canary_status_after_rollback ||
		fail canary_status_after_rollback "uuid 3: '$s3'; uuid 6: '$s6'; uuid 2: '$(slot_of 2)'"
	echo "info: canary: uuid 6 answered $q6 queries in its window, $g6 guardrail hits"
fi
