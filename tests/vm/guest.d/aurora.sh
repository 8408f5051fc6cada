# SPDX-License-Identifier: GPL-2.0
#
# LiteFlow's active-standby sequence with real Aurora snapshots built by
# `lfc compile` (aurora-build.sh, on the host), driven and checked with
# `lfc`. Sourced by guest.sh when run.sh was given LF_VM_LFC (lf_kernel is
# unloaded when this starts, and must be again when it ends).
#
# /lf/aurora/ holds lf_model_{1,2,3}.ko, the lf_kernel.ko they were built
# against, expect_{1,2,3}.csv (the host's `lfc run --engine c` of each on
# data.csv) and "modules" ("<uuid> <module name>" lines).

A=$M/aurora

# aur_mod UUID: the module name of snapshot UUID.
aur_mod() { sed -n "s/^$1 //p" $A/modules; }

# aur_status: `lfc status` in $ST (exit status in $ST_RC).
aur_status() {
	ST=$(lfc status 2>&1)
	ST_RC=$?
}

# aur_app_queries: app 1's query count, from `lfc status`.
aur_app_queries() {
	lfc status | sed -n '/^app 1: /{n;s/^ *queries \([0-9]*\) .*/\1/p;}'
}

# aur_slot_queries UUID: the query count of the slot holding UUID.
aur_slot_queries() {
	lfc status | sed -n "/ uuid $1  model /{n;n;s/^ *queries \([0-9]*\) .*/\1/p;}"
}

# aur_slots_are ACTIVE-UUID ACTIVE-SLOT [STANDBY-UUID STANDBY-SLOT]:
# `lfc status` and lfnl show exactly these slots; reasons in $why.
aur_slots_are() {
	aur_status
	[ "$ST_RC" -eq 0 ] || why="$why; lfc status exited $ST_RC: $ST"
	# (More fields may follow, e.g. "  recording off".)
	echo "$ST" | grep -Eq "^app 1: aurora  inputs 30  outputs 1  active slot $2( |\$)" ||
		why="$why; lfc status app line: $(echo "$ST" | grep '^app 1')"
	echo "$ST" | grep -Eq "^    slot $2 \[active\]   uuid $1  model aurora( |\$)" ||
		why="$why; lfc status has no active slot $2 with uuid $1"
	echo "$ST" | grep -A1 "^    slot $2 \[active\]   uuid $1 " |
		grep -q "^        module $(aur_mod "$1")  " ||
		why="$why; lfc status: slot $2 not module $(aur_mod "$1")"
	nslots=$(echo "$ST" | grep -c '^    slot ')
	if [ -n "$3" ]; then
		echo "$ST" | grep -Eq "^    slot $4 \[standby\]  uuid $3  model aurora( |\$)" ||
			why="$why; lfc status has no standby slot $4 with uuid $3"
		[ "$nslots" -eq 2 ] || why="$why; lfc status shows $nslots slots"
	else
		[ "$nslots" -eq 1 ] || why="$why; lfc status shows $nslots slots"
	fi
	[ "$(active 1)" = "uuid=$1 slot=$2" ] ||
		why="$why; lfnl active: $(active 1)"
}

# aur_infer NAME UUID: `lfc infer` of data.csv is byte for byte the host's
# `lfc run --engine c` of snapshot UUID, and the counters of app 1 and of
# UUID's slot grew by the number of rows.
aur_infer() {
	name=$1 uuid=$2
	q_app=$(aur_app_queries) q_slot=$(aur_slot_queries "$uuid")
	lfc infer --app 1 --input $A/data.csv > /tmp/aur_out.csv 2> /tmp/aur_err
	rc=$?
	if [ "$rc" -eq 0 ] && cmp -s /tmp/aur_out.csv "$A/expect_$uuid.csv"; then
		pass "$name"
	else
		fail "$name" "rc=$rc $(head -c 300 /tmp/aur_err); got/want: $(diff /tmp/aur_out.csv "$A/expect_$uuid.csv" | head -6 | tr '\n' ' ')"
	fi
	q_app2=$(aur_app_queries) q_slot2=$(aur_slot_queries "$uuid")
	if [ -n "$q_app" ] && [ -n "$q_slot" ] && [ -n "$q_app2" ] &&
	   [ -n "$q_slot2" ] && [ "$q_app2" -eq $((q_app + ROWS)) ] &&
	   [ "$q_slot2" -eq $((q_slot + ROWS)) ]; then
		pass "${name}_counted"
	else
		fail "${name}_counted" "app queries '$q_app' -> '$q_app2', slot of $uuid '$q_slot' -> '$q_slot2', rows $ROWS"
	fi
}

# aur_register NAME UUID SLOT [EVICTED]: insmod lf_model_UUID.
aur_register() {
	name=$1 uuid=$2 slot=$3 evicted=$4
	run insmod $A/lf_model_$uuid.ko
	klog
	why=
	[ "$RC" -eq 0 ] || why="insmod rc=$RC $OUT"
	klog_has "app 1: Current slot $slot is registered with model: $uuid aurora" ||
		why="$why; no registration line"
	klog_has "app 1: Current active slot is: $slot" ||
		why="$why; no active-slot line"
	if [ -n "$evicted" ]; then
		klog_has "app 1: released model: $evicted aurora" ||
			why="$why; no release line for $evicted"
		# Evicted from the slots, but still loaded (in the registry).
		loaded "$(aur_mod "$evicted")" ||
			why="$why; $(aur_mod "$evicted") no longer loaded"
	fi
	case $uuid in
	1) aur_slots_are 1 0 ;;
	2) aur_slots_are 2 1 1 0 ;;
	3) aur_slots_are 3 0 2 1 ;;
	esac
	if [ -z "$why" ]; then pass "$name"; else fail "$name" "${why#; }"; fi
}

# ---- what the host built ------------------------------------------------
why=
for f in lf_kernel.ko lf_model_1.ko lf_model_2.ko lf_model_3.ko \
	 expect_1.csv expect_2.csv expect_3.csv data.csv modules; do
	[ -s "$A/$f" ] || why="$why $f"
done
command -v lfc > /dev/null || why="$why lfc"
if [ -n "$why" ]; then
	fail aurora_inputs_present "missing:$why (see aurora-build.sh's output on the host); Aurora checks not run"
else
	pass aurora_inputs_present
	ROWS=$(grep -c . $A/data.csv)
	# Each expected output has one line per row, and no two are the same:
	# every INFER below shows which snapshot answered.
	why=
	for n in 1 2 3; do
		[ "$(grep -c . $A/expect_$n.csv)" -eq "$ROWS" ] ||
			why="$why; expect_$n.csv has $(grep -c . $A/expect_$n.csv) lines, data $ROWS"
	done
	cmp -s $A/expect_1.csv $A/expect_2.csv && why="$why; 1 = 2"
	cmp -s $A/expect_2.csv $A/expect_3.csv && why="$why; 2 = 3"
	cmp -s $A/expect_1.csv $A/expect_3.csv && why="$why; 1 = 3"
	[ -z "$why" ] && pass aurora_expected_outputs_distinct ||
		fail aurora_expected_outputs_distinct "${why#; }"

	klog
	run insmod $A/lf_kernel.ko
	klog
	if [ "$RC" -eq 0 ] && klog_has "lf_kernel: slot manager ready"; then
		pass aurora_lf_kernel_loads
	else
		fail aurora_lf_kernel_loads "rc=$RC $OUT; $(cat $KLOG_NEW)"
	fi

	# ---- 1 -> 2 -> 3, INFER from the active one each time ---------------
	aur_register aurora_register_1_active_slot0 1 0
	aur_infer aurora_infer_1_matches_host 1
	aur_register aurora_register_2_active_slot1 2 1
	aur_infer aurora_infer_2_matches_host 2
	aur_register aurora_register_3_evicts_1 3 0 1
	aur_infer aurora_infer_3_matches_host 3

	# ---- rmmod of slotted snapshots refused --------------------------------
	run rmmod "$(aur_mod 3)"
	rc3=$RC out3=$OUT
	run rmmod "$(aur_mod 2)"
	why=
	aur_slots_are 3 0 2 1
	if [ "$rc3" -ne 0 ] && [ "$RC" -ne 0 ] && loaded "$(aur_mod 3)" &&
	   loaded "$(aur_mod 2)" && [ -z "$why" ]; then
		pass aurora_rmmod_slotted_refused
	else
		fail aurora_rmmod_slotted_refused "rc active=$rc3 ($out3) standby=$RC ($OUT)$why"
	fi

	# ---- rollback: 2 active again ------------------------------------------
	klog
	run lfc rollback --app 1
	klog
	why=
	[ "$RC" -eq 0 ] || why="; lfc rollback exited $RC: $OUT"
	klog_has "app 1: Current active slot is: 1" || why="$why; no active-slot line"
	aur_slots_are 2 1 3 0
	[ -z "$why" ] && pass aurora_rollback_to_2 ||
		fail aurora_rollback_to_2 "${why#; }"
	aur_infer aurora_infer_after_rollback_matches_2 2

	# ---- activate 1: evicted but loaded, back from the registry ----------
	klog
	run lfc activate --app 1 --uuid 1
	klog
	why=
	[ "$RC" -eq 0 ] || why="; lfc activate exited $RC: $OUT"
	klog_has "app 1: Current slot 0 is registered with model: 1 aurora" ||
		why="$why; no registration line"
	klog_has "app 1: Current active slot is: 0" || why="$why; no active-slot line"
	klog_has "app 1: released model: 3 aurora" || why="$why; no release line for 3"
	aur_slots_are 1 0 2 1
	[ -z "$why" ] && pass aurora_activate_evicted_1 ||
		fail aurora_activate_evicted_1 "${why#; }"
	aur_infer aurora_infer_after_activate_matches_1 1
	lfc status | sed 's/^/info: aurora lfc status: /'

	# ---- 3 is in no slot now: it unloads; 1 (active) does not -------------
	run rmmod "$(aur_mod 1)"
	rc1=$RC
	run rmmod "$(aur_mod 3)"
	if [ "$rc1" -ne 0 ] && loaded "$(aur_mod 1)" && [ "$RC" -eq 0 ] &&
	   ! loaded "$(aur_mod 3)"; then
		pass aurora_rmmod_evicted_only
	else
		fail aurora_rmmod_evicted_only "rmmod active rc=$rc1, evicted rc=$RC $OUT"
	fi

	# ---- teardown ------------------------------------------------------------
	run lfc app destroy --app 1
	rcd=$RC
	run rmmod "$(aur_mod 1)" "$(aur_mod 2)"
	rcm=$RC
	run rmmod lf_kernel
	if [ "$rcd" -eq 0 ] && [ "$rcm" -eq 0 ] && [ "$RC" -eq 0 ] &&
	   ! loaded lf_kernel; then
		pass aurora_teardown
	else
		fail aurora_teardown "app destroy rc=$rcd, rmmod snapshots rc=$rcm, lf_kernel rc=$RC $OUT"
	fi
fi
# Whatever failed above: leave no Aurora module or lf_kernel loaded for
# the scripts after this one.
for n in 1 2 3; do
	m=$(aur_mod $n 2>/dev/null)
	[ -n "$m" ] && loaded "$m" && { lfnl destroy 1 > /dev/null 2>&1; rmmod "$m"; }
done
loaded lf_kernel && rmmod lf_kernel
true
