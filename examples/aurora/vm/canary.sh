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
# LF_SLOT_ATTR_GUARD) runs over --max-guard-rate 0.01 and the canary rolls
# back at once, logging the figures. `lfc status` before and after: uuid 3
# active throughout except the canary's window; afterwards uuid 6 is the
# standby with the guardrail hits counted, uuid 3 is active again with
# none (it has no guardrail).
#
# The good candidate's canary (uuid 3, kept, guardrail and drift rate 0)
# is checked by shadow.sh.

CN_LOG=/tmp/adapt_canary.log
CN_REC=/tmp/canary_rec.csv
# TIGHT_RANGE (and ADAPT_RANGE) as the host built lf_model_6.ko with.
# shellcheck source=snapshots.sh
. $M/snapshots.sh

# cn_outputs FILE: Aurora's action (column out0) of every record of an
# `lfc collect` CSV, one per line, sorted.
cn_outputs() {
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "out0") c = i; next }
		c { print $c }' "$1" | sort -g
}

cn_before=$(lfc status 2>&1)
echo "$cn_before" | sed 's/^/info: canary: status before: /'
if ! [ "$(slot_role 3)" = "[active]" ] || ! [ "$(slot_role 2)" = "[standby]" ] ||
	loaded lf_model_6; then
	fail canary_setup "uuid 3: '$(slot_of 3)', uuid 2: '$(slot_of 2)'; canary checks not run; $cn_before"
else
	pass canary_setup
	# What uuid 3 (Aurora, no guardrail) answers on this transfer, measured
	# before the canary: 200 records of lf_tcp's queries. TIGHT_RANGE was
	# chosen from such a record (snapshots.sh); the share outside it is
	# the guardrail rate uuid 6 will see, so it must exceed the canary's
	# 0.01 for the rollback below to be the expected outcome.
	lfc collect --app 1 --count 200 -o $CN_REC > /tmp/canary_collect.out 2>&1
	cn_lo=${TIGHT_RANGE%:*} cn_hi=${TIGHT_RANGE#*:}
	cn_outputs $CN_REC > /tmp/canary_out.txt
	cn_n=$(wc -l < /tmp/canary_out.txt)
	cn_out=$(awk -v lo="$cn_lo" -v hi="$cn_hi" '$1 < lo || $1 > hi' /tmp/canary_out.txt | wc -l)
	cn_q() { [ "$cn_n" -gt 0 ] && sed -n "$((($1 * (cn_n - 1)) / 100 + 1))p" /tmp/canary_out.txt; }
	echo "info: canary: uuid 3's live actions ($cn_n records): min $(cn_q 0) p10 $(cn_q 10) p25 $(cn_q 25) median $(cn_q 50) p75 $(cn_q 75) p90 $(cn_q 90) max $(cn_q 100); outside the guardrail $TIGHT_RANGE: $cn_out ($(awk -v a="$cn_out" -v n="$cn_n" 'BEGIN { if (n) printf "%.1f", 100 * a / n }') %)"
	[ "$cn_n" -ge 100 ] && [ $((cn_out * 100)) -gt $((cn_n * 5)) ] &&
		pass canary_live_actions_leave_the_guardrail ||
		fail canary_live_actions_leave_the_guardrail "$cn_out of $cn_n records outside $TIGHT_RANGE; $(cat /tmp/canary_collect.out)"
	cp $AD/aurora_tight.onnx "$SW/.aurora_tight.onnx.tmp" &&
		mv "$SW/.aurora_tight.onnx.tmp" "$SW/aurora_tight.onnx"
	cn_t0=$(date +%s)
	lfc adapt --app 1 --watch $SW --once --shadow --shadow-samples 64 \
		--shadow-every 2 --shadow-timeout 60 --canary-seconds 5 \
		--max-guard-rate 0.01 --max-drift-rate $DRIFT_LIMIT \
		--max-output-change $TIGHT_MAX_CHANGE --engine interp --prebuilt $AD \
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
	grep -Eq "^adapt: aurora_tight.onnx: shadow verdict on 64 live samples: kernel == interpreter on 64 of 64, errors 0, fidelity max [0-9.]+ \\(<= 0.05\\) ok, stability mean .* ok .*, drift $DRIFT_N_RE guardrail [0-9]+\$" $CN_LOG &&
		grep -q '^adapt: aurora_tight.onnx: promoted uuid 6 (active), standby uuid 3$' $CN_LOG &&
		pass canary_tight_candidate_passes_shadow_and_is_promoted ||
		fail canary_tight_candidate_passes_shadow_and_is_promoted "$(grep aurora_tight $CN_LOG | tail -3)"
	# ... then tripped its guardrail on live traffic: rolled back.
	grep -Eq "^adapt: candidate aurora_tight.onnx -> uuid 6: .* -> rejected: promoted, then canary: guardrail rate [0-9.]+ > 0.01 over [0-9]+ queries after [0-9.]+ s \\([0-9]+ queries, fallback rate 0.0000, guardrail rate [0-9.]+, drift rate $DRIFT_RATE_RE\\): rolled back to uuid 3\$" $CN_LOG &&
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
