# SPDX-License-Identifier: GPL-2.0
#
# Budgets, drift and guardrail counters (issue 11, items 1-3) against the
# real lf_kernel, driven with `lfc`. Sourced by guest.sh when run.sh was
# given LF_VM_LFC (lf_kernel is unloaded when this starts, and must be
# again when it ends).
#
#  - budgets: an app created with `lfc app create --max-macs 100` refuses
#    a snapshot declaring 5000 MACs at insmod (-E2BIG, a log line naming
#    the limit) and at `lfc activate` (an extended ack naming it), and
#    the slots stay as they were;
#  - counters: known inputs through lf_test_snap_guard (gain 30, domain
#    +-10^6, guardrail +-100) and through real Aurora snapshots built by
#    aurora-build.sh (no guardrail; and the guardrail -3:3), and the drift
#    and guardrail-hit counters of `lfc status` must be exactly the number
#    of queries sent outside the domain / beyond the guardrail.

A=$M/aurora

# aur_mod UUID: the module name of Aurora snapshot UUID (aurora-build.sh).
aur_mod() { sed -n "s/^$1 //p" $A/modules; }

# grd_slot_counts APP UUID: "queries Q errors E drift D guardrail-hits G"
# of that slot, from `lfc status`.
grd_slot_counts() {
	lfc status | awk -v app="app $1:" -v uuid=" uuid $2 " '
		index($0, app) == 1 { in_app = 1; next }
		/^app / { in_app = 0 }
		in_app && index($0, uuid) { found = 1; next }
		found && /^ *queries / { print; exit }' | sed 's/^ *//; s/  / /g'
}

insmod $M/lf_kernel.ko

# ---- budgets: refused at registration --------------------------------
expect budget_app_create 0 lfc app create --app 5 --name budget5 \
	--inputs 4 --outputs 2 --max-macs 100
run lfc status
echo "$OUT" | grep -A2 '^app 5: ' | grep -q '^    budget max-macs 100$' &&
	pass budget_shown_by_status || fail budget_shown_by_status "$OUT"
klog
run insmod $M/lf_test_snap_big5.ko
klog
# insmod reports the module init's errno; E2BIG is 7.
if [ "$RC" -ne 0 ] && ! loaded lf_test_snap_big5 &&
   klog_has "refusing snapshot 50 test_gain_50 for app 5: max-macs 5000, the app's budget allows 100"; then
	pass budget_over_refused_at_insmod
else
	fail budget_over_refused_at_insmod "rc=$RC $OUT; $(cat $KLOG_NEW)"
fi
lfnl status | grep -q '^app=5 slot=' &&
	fail budget_refusal_left_slots_empty "$(lfnl status)" ||
	pass budget_refusal_left_slots_empty
expect budget_within_accepted 0 insmod $M/lf_test_snap_small5.ko
[ "$(active 5)" = "uuid=51 slot=0" ] && pass budget_within_active ||
	fail budget_within_active "$(active 5)"
before=$(lfnl status | grep '^app=5 ')
run insmod $M/lf_test_snap_big5.ko
after=$(lfnl status | grep '^app=5 ')
if [ "$RC" -ne 0 ] && [ "$before" = "$after" ] && [ "$(active 5)" = "uuid=51 slot=0" ]; then
	pass budget_refusal_changes_no_slot
else
	fail budget_refusal_changes_no_slot "rc=$RC; before: $before; after: $after"
fi

# ---- budgets: refused at activation, with the extended ack -----------
# big6 registers while app 6 has no budget (the app is created for it);
# the app is then recreated with one, and activating big6 again is refused.
expect budget_nobudget_app_takes_big 0 insmod $M/lf_test_snap_big6.ko
expect budget_app6_destroyed 0 lfc app destroy --app 6
expect budget_app6_recreated 0 lfc app create --app 6 --name budget6 \
	--inputs 4 --outputs 2 --max-macs 100
run lfc activate --app 6 --uuid 60
if [ "$RC" -ne 0 ] && [ "$RC" -lt 126 ] &&
   echo "$OUT" | grep -q "snapshot over the app's budget: max-macs"; then
	pass budget_over_refused_by_activate_extack
else
	fail budget_over_refused_by_activate_extack "rc=$RC: $OUT"
fi
echo "$OUT" | sed 's/^/info: lfc activate over budget: /'
[ "$(active 6)" = "none" ] && ! lfnl status | grep -q '^app=6 slot=' &&
	pass budget_activate_refusal_left_slots ||
	fail budget_activate_refusal_left_slots "$(lfnl status)"
expect budget_zero_limit_refused 1 lfc app create --app 7 --name z \
	--inputs 1 --outputs 1 --max-stack 0
# Whatever the checks above left: apps first (they pin their snapshots).
for app in 5 6 7; do lfc app destroy --app $app >/dev/null 2>&1; done
for mod in lf_test_snap_big5 lf_test_snap_small5 lf_test_snap_big6; do
	loaded $mod && rmmod $mod
done

# ---- counters: the hand-written snapshot, exact known inputs ---------
# Gain 30 (uuid 30), app 3 (4 in, 2 out), domain +-10^6 in s64 (+-1000.0
# at scale 1000), guardrail +-100 in s64 (+-0.1). Rows (real values):
#   0.001,0.001,0,0   x3  out 0.03          nothing
#   1,0,0,0           x2  out 30 -> 0.1     guardrail
#   0,0,0,2000        x4  out 0             drift (in[3] is not an output)
#   2000,0,0,0        x1  out -> 0.1        drift and guardrail
expect counters_guard_snapshot_loads 0 insmod $M/lf_test_snap_guard.ko
: > /tmp/grd_in.csv
for r in 1 2 3; do echo "0.001,0.001,0,0" >> /tmp/grd_in.csv; done
for r in 1 2; do echo "1,0,0,0" >> /tmp/grd_in.csv; done
for r in 1 2 3 4; do echo "0,0,0,2000" >> /tmp/grd_in.csv; done
echo "2000,0,0,0" >> /tmp/grd_in.csv
run lfc infer --app 3 --input /tmp/grd_in.csv
clamped=$(echo "$OUT" | grep -Ec '^0\.10*,0(\.0*)?$')
[ "$RC" -eq 0 ] && [ "$clamped" -eq 3 ] &&
	pass counters_guardrail_clamps_output ||
	fail counters_guardrail_clamps_output "rc=$RC: $OUT"
got=$(grd_slot_counts 3 30)
[ "$got" = "queries 10 errors 0 drift 5 guardrail-hits 3" ] &&
	pass counters_drift_guard_exact || fail counters_drift_guard_exact "got '$got'"
run lfc status
echo "$OUT" | grep -q '^        out\[0\] proven \[-30000000, 30000000\] guardrail \[-100, 100\]$' &&
	pass status_shows_bounds_and_guardrail ||
	fail status_shows_bounds_and_guardrail "$OUT"
lfc app destroy --app 3 >/dev/null 2>&1
loaded lf_test_snap_guard && rmmod lf_test_snap_guard
rmmod lf_kernel || fail guard_cleanup "lf_kernel stays: $(cat /proc/modules | cut -d' ' -f1 | tr '\n' ' ')"

# ---- counters: real Aurora snapshots (lfc compile) -------------------
if [ -f $A/lf_model_1.ko ] && [ -f $A/lf_model_7.ko ] && [ -f $A/expect_7.csv ]; then
	insmod $A/lf_kernel.ko
	insmod $A/lf_model_1.ko
	# data.csv lies inside the declared domain; three rows more with a
	# latency inflation of 1000 (the domain ends at 10) do not.
	ROWS=$(grep -c . $A/data.csv)
	cp $A/data.csv /tmp/grd_aur.csv
	far=$(head -1 $A/data.csv | awk -F, 'BEGIN { OFS = "," } { $1 = 1000; print }')
	for r in 1 2 3; do echo "$far" >> /tmp/grd_aur.csv; done
	run lfc infer --app 1 --input /tmp/grd_aur.csv
	got=$(grd_slot_counts 1 1)
	[ "$RC" -eq 0 ] && [ "$got" = "queries $((ROWS + 3)) errors 0 drift 3 guardrail-hits 0" ] &&
		pass aurora_drift_counts_exact ||
		fail aurora_drift_counts_exact "rc=$RC, got '$got'"
	run lfc status
	echo "$OUT" | grep -q '^        out\[0\] proven \[-[0-9]*, -*[0-9]*\] no guardrail$' &&
		echo "$OUT" | grep -q '^        cost macs 1488  cmps 0  stack [0-9]*  rodata [0-9]*  scratch 0$' &&
		pass aurora_status_bounds_cost || fail aurora_status_bounds_cost "$OUT"
	# Snapshot 7: the same model with the guardrail -3:3. Its answers are
	# snapshot 1's clamped to [-3, 3]; hits are the rows beyond it.
	insmod $A/lf_model_7.ko
	run lfc infer --app 1 --input $A/data.csv
	echo "$OUT" > /tmp/grd_out7.csv
	want=$(awk '$1 < -3 || $1 > 3' $A/expect_1.csv | grep -c .)
	got=$(grd_slot_counts 1 7)
	if [ "$RC" -eq 0 ] && cmp -s /tmp/grd_out7.csv $A/expect_7.csv &&
	   [ "$want" -gt 0 ] && [ "$want" -lt "$ROWS" ] &&
	   [ "$got" = "queries $ROWS errors 0 drift 0 guardrail-hits $want" ]; then
		pass aurora_guardrail_counts_exact
	else
		fail aurora_guardrail_counts_exact "rc=$RC, want $want hits, got '$got'; $(diff /tmp/grd_out7.csv $A/expect_7.csv | head -4 | tr '\n' ' ')"
	fi
	echo "info: guardrail -3:3 clamped $want of $ROWS Aurora rows"
	awk '$1 < -3 || $1 > 3' /tmp/grd_out7.csv | grep -q . &&
		fail aurora_guardrail_bounds_answers "$(awk '$1 < -3' /tmp/grd_out7.csv | head -3)" ||
		pass aurora_guardrail_bounds_answers
	run lfc status
	echo "$OUT" | grep -q '^        out\[0\] proven \[-[0-9]*, -*[0-9]*\] guardrail \[-3000, 3000\]$' &&
		pass aurora_status_shows_guardrail || fail aurora_status_shows_guardrail "$OUT"
	lfc app destroy --app 1 >/dev/null 2>&1
	for mod in $(aur_mod 7) $(aur_mod 1); do loaded $mod && rmmod $mod; done
	rmmod lf_kernel || fail guard_aurora_cleanup "$(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
else
	fail aurora_guard_checks "aurora-build.sh left no lf_model_1/7.ko in $A"
fi
