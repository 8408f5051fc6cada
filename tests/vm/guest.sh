#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of tests/vm/run.sh: runs inside a busybox initramfs on a
# Debian kernel, as root, with the modules in /lf and lfnl in /bin. Every
# check prints "PASS name" or "FAIL name: reason"; run.sh counts them.
#
# Errno values as exit codes of lfnl (it exits with the errno it got).
EPERM=1 ENOENT=2 EEXIST=17 EINVAL=22 EDOM=33 ERANGE=34 ENODATA=61
EOPNOTSUPP=95

M=/lf
GUEST_START=$(date +%s)
KLOG_NEW=/tmp/klog.new
KLOG_ALL=/tmp/klog.all
: > "$KLOG_ALL"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

# Kernel log since the previous call, in $KLOG_NEW (all of it kept).
klog() {
	dmesg -c > "$KLOG_NEW"
	cat "$KLOG_NEW" >> "$KLOG_ALL"
}

# run CMD...: output in $OUT, exit status in $RC.
run() {
	OUT=$("$@" 2>&1)
	RC=$?
}

# expect NAME RC CMD...: CMD must exit with RC.
expect() {
	name=$1 want=$2
	shift 2
	run "$@"
	if [ "$RC" -eq "$want" ]; then
		pass "$name"
	else
		fail "$name" "'$*' exited $RC, want $want: $OUT"
	fi
}

# has FILE-OR-TEXT PATTERN: grep a fixed string in $KLOG_NEW.
klog_has() { grep -qF -- "$1" "$KLOG_NEW"; }
loaded() { grep -q "^$1 " /proc/modules; }

# active APP: prints "uuid=U slot=S" or "none".
active() { lfnl active "$1" 2>&1; }

# slot_line APP SLOT: that slot's line of "lfnl status".
slot_line() { lfnl status | grep "^app=$1 slot=$2 "; }

# ---- before lf_kernel -------------------------------------------------
klog
run insmod $M/lf_test_snap_1.ko
klog
if [ "$RC" -ne 0 ] && ! loaded lf_test_snap_1 &&
   klog_has "Unknown symbol lf_register_snapshot"; then
	pass snapshot_before_lf_kernel_refused
else
	fail snapshot_before_lf_kernel_refused "rc=$RC $OUT; $(cat $KLOG_NEW)"
fi

# ---- load -------------------------------------------------------------
run insmod $M/lf_kernel.ko
klog
if [ "$RC" -eq 0 ] && klog_has "lf_kernel: slot manager ready"; then
	pass lf_kernel_loads
else
	fail lf_kernel_loads "rc=$RC $OUT; $(cat $KLOG_NEW)"
	echo "lf_kernel did not load; the remaining checks cannot run"
	return 1 2>/dev/null || exit 1
fi
run lfnl status
if [ "$RC" -eq 0 ] && [ -z "$OUT" ]; then
	pass family_resolves_empty_dump
else
	fail family_resolves_empty_dump "rc=$RC: $OUT"
fi

# ---- LiteFlow's active-standby sequence: 1 -> 2 -> 3 ------------------
# seq_check NAME UUID SLOT EVICTED: after insmod lf_test_snap_UUID.
seq_check() {
	name=$1 uuid=$2 slot=$3 evicted=$4
	run insmod $M/lf_test_snap_$uuid.ko
	klog
	why=
	[ "$RC" -eq 0 ] || why="insmod rc=$RC $OUT"
	klog_has "app 1: Current slot $slot is registered with model: $uuid test_gain_$uuid" ||
		why="$why; no registration line"
	klog_has "app 1: Current active slot is: $slot" ||
		why="$why; no active-slot line"
	[ "$(active 1)" = "uuid=$uuid slot=$slot" ] ||
		why="$why; active is $(active 1)"
	slot_line 1 "$slot" | grep -q "uuid=$uuid .*module=lf_test_snap_$uuid .*active=1" ||
		why="$why; dump slot $slot: $(slot_line 1 "$slot")"
	lfnl status | grep -q "^app=1 name=test_gain_1 in=4 out=2 active_slot=$slot " ||
		why="$why; dump app: $(lfnl status | grep '^app=1 name')"
	if [ -n "$evicted" ]; then
		klog_has "app 1: released model: $evicted test_gain_$evicted" ||
			why="$why; no release line for $evicted"
		lfnl status | grep -q "uuid=$evicted " &&
			why="$why; $evicted still in a slot"
	fi
	if [ -z "$why" ]; then pass "$name"; else fail "$name" "$why"; fi
}
seq_check register_1_active_slot0 1 0 ""
seq_check register_2_active_slot1 2 1 ""
slot_line 1 0 | grep -q "uuid=1 .*active=0" &&
	pass standby_keeps_previous_active ||
	fail standby_keeps_previous_active "$(lfnl status)"
seq_check register_3_evicts_1 3 0 1

# ---- INFER ------------------------------------------------------------
expect infer_ok 0 lfnl infer 1 10 20 30 -40
[ "$OUT" = "uuid=3 out=30,60" ] && pass infer_result_from_active ||
	fail infer_result_from_active "got '$OUT', want 'uuid=3 out=30,60'"
expect infer_snapshot_error_is_returned $EDOM lfnl infer 1 -999 0 0 0
slot_line 1 0 | grep -q "uuid=3 .*queries=2 errors=1 " &&
	lfnl status | grep -q "^app=1 .* queries=2 no_active=0" &&
	pass counters_queries_errors ||
	fail counters_queries_errors "$(lfnl status)"
expect infer_wrong_length_vector $EINVAL lfnl infer 1 1 2 3
echo "$OUT" | grep -q "input_len" &&
	pass infer_wrong_length_extack ||
	fail infer_wrong_length_extack "no extack message: $OUT"
expect infer_odd_byte_count $EINVAL lfnl infer-bytes 1 33
expect infer_empty_vector $EINVAL lfnl infer-bytes 1 0
expect infer_oversized_vector $ERANGE lfnl infer-bytes 1 9000
expect infer_unknown_app $ENOENT lfnl infer 42 1 2 3 4

# ---- rmmod of slotted snapshots --------------------------------------
run rmmod lf_test_snap_3
rc3=$RC
run rmmod lf_test_snap_2
echo "info: rmmod of the standby snapshot: $OUT"
if [ "$rc3" -ne 0 ] && [ "$RC" -ne 0 ] && loaded lf_test_snap_3 &&
   loaded lf_test_snap_2 && [ "$(active 1)" = "uuid=3 slot=0" ]; then
	pass rmmod_slotted_refused
else
	fail rmmod_slotted_refused "rc active=$rc3 standby=$RC: $OUT"
fi

# ---- ROLLBACK and ACTIVATE --------------------------------------------
klog
expect rollback_ok 0 lfnl rollback 1
klog
[ "$(active 1)" = "uuid=2 slot=1" ] && klog_has "Current active slot is: 1" &&
	[ "$(lfnl infer 1 1 2 3 4)" = "uuid=2 out=2,4" ] &&
	pass rollback_switches_to_standby ||
	fail rollback_switches_to_standby "active $(active 1); $(cat $KLOG_NEW)"
expect rollback_again_ok 0 lfnl rollback 1
[ "$(active 1)" = "uuid=3 slot=0" ] && pass rollback_twice_restores ||
	fail rollback_twice_restores "active $(active 1)"

expect activate_standby_ok 0 lfnl activate 1 2
[ "$(active 1)" = "uuid=2 slot=1" ] && slot_line 1 0 | grep -q "uuid=3 " &&
	pass activate_standby_swaps ||
	fail activate_standby_swaps "$(lfnl status)"
klog
expect activate_evicted_ok 0 lfnl activate 1 1
klog
[ "$(active 1)" = "uuid=1 slot=0" ] &&
	klog_has "Current slot 0 is registered with model: 1 test_gain_1" &&
	klog_has "released model: 3 test_gain_3" &&
	[ "$(lfnl infer 1 5 6 7 8)" = "uuid=1 out=5,6" ] &&
	pass activate_by_uuid_from_registry ||
	fail activate_by_uuid_from_registry "$(lfnl status); $(cat $KLOG_NEW)"

run rmmod lf_test_snap_3
if [ "$RC" -eq 0 ] && ! loaded lf_test_snap_3; then
	pass rmmod_evicted_allowed
else
	fail rmmod_evicted_allowed "rc=$RC $OUT"
fi
expect activate_unloaded_uuid $ENOENT lfnl activate 1 3
expect activate_unknown_uuid $ENOENT lfnl activate 1 999
echo "$OUT" | grep -q "no loaded snapshot has this uuid" &&
	pass activate_unknown_uuid_extack ||
	fail activate_unknown_uuid_extack "$OUT"
expect activate_unknown_app $ENOENT lfnl activate 7 1
expect rollback_unknown_app $ENOENT lfnl rollback 7

# ---- refused registrations --------------------------------------------
# refused NAME MODULE KLOG-TEXT
refused() {
	run insmod "$M/$2.ko"
	klog
	if [ "$RC" -ne 0 ] && ! loaded "$2" && klog_has "$3" &&
	   [ "$(active 1)" = "uuid=1 slot=0" ]; then
		pass "$1"
	else
		fail "$1" "rc=$RC $OUT; $(cat $KLOG_NEW)"
	fi
}
refused wrong_length_snapshot_refused lf_test_snap_badlen \
	"refusing snapshot 9 test_gain_9 (lf_test_snap_badlen): 5 inputs, 2 outputs, but app 1 has 4, 2"
refused duplicate_uuid_refused lf_test_snap_dup \
	"refusing snapshot 1 test_gain_1 (lf_test_snap_dup): uuid already registered"
refused abi_mismatch_refused lf_test_snap_badabi \
	"refusing snapshot with ABI version 99"

# ---- apps from userspace ------------------------------------------------
expect app_create 0 lfnl create 5 empty 2 2
expect app_create_duplicate $EEXIST lfnl create 5 empty 2 2
expect app_create_zero_len $ERANGE lfnl create 6 bad 0 2
expect app_create_huge_len $ERANGE lfnl create 6 bad 2 2000
expect infer_no_active $ENODATA lfnl infer 5 1 2
lfnl status | grep -q "^app=5 name=empty in=2 out=2 active_slot=none queries=0 no_active=1" &&
	pass no_active_counted || fail no_active_counted "$(lfnl status)"
expect rollback_no_standby $ENODATA lfnl rollback 5
expect app_destroy 0 lfnl destroy 5
expect app_destroy_unknown $ENOENT lfnl destroy 5

run insmod $M/lf_test_snap_app2.ko
[ "$RC" -eq 0 ] && [ "$(active 2)" = "uuid=20 slot=0" ] &&
	lfnl status | grep -q "^app=2 name=test_gain_20 in=3 out=3 " &&
	pass snapshot_creates_its_app ||
	fail snapshot_creates_its_app "rc=$RC $OUT; $(lfnl status)"
expect activate_other_apps_uuid $EINVAL lfnl activate 2 1
expect app_destroy_with_slots 0 lfnl destroy 2
run rmmod lf_test_snap_app2
[ "$RC" -eq 0 ] && pass rmmod_after_app_destroy ||
	fail rmmod_after_app_destroy "rc=$RC $OUT"

expect unknown_attribute_rejected $EINVAL lfnl bogus-attr 1

# ---- training-record switch, as GET_APP shows it -------------------------
# (The records themselves, from a datapath client: examples/aurora/vm.)
# rec_state APP: "recording=R dropped=D" of the app's GET_APP line.
rec_state() {
	lfnl status | sed -n "s/^app=$1 name=.* \(recording=[0-9]* dropped=[0-9]*\)\$/\1/p"
}
[ "$(rec_state 1)" = "recording=0 dropped=0" ] &&
	pass get_app_recording_off_initially ||
	fail get_app_recording_off_initially "$(lfnl status | grep '^app=1 name')"
klog
expect set_recording_on_ok 0 lfnl setrec 1 1
klog
[ "$(rec_state 1)" = "recording=1 dropped=0" ] &&
	klog_has "app 1: recording on: " &&
	pass get_app_shows_recording_on ||
	fail get_app_shows_recording_on "$(lfnl status | grep '^app=1 name')"
expect set_recording_off_ok 0 lfnl setrec 1 0
klog
[ "$(rec_state 1)" = "recording=0 dropped=0" ] &&
	klog_has "app 1: recording off" &&
	pass get_app_shows_recording_off ||
	fail get_app_shows_recording_off "$(lfnl status | grep '^app=1 name')"
expect set_recording_unknown_app_enoent $ENOENT lfnl setrec 42 1

# ---- unprivileged callers ----------------------------------------------
expect nonroot_status_refused $EPERM lfnl -u 65534 status
expect nonroot_infer_refused $EPERM lfnl -u 65534 infer 1 1 2 3 4
expect nonroot_activate_refused $EPERM lfnl -u 65534 activate 1 2
expect nonroot_create_refused $EPERM lfnl -u 65534 create 9 x 1 1
[ "$(active 1)" = "uuid=1 slot=0" ] && ! lfnl status | grep -q "^app=9 " &&
	pass nonroot_changed_nothing || fail nonroot_changed_nothing "$(lfnl status)"

# ---- lf_kernel pinned by its users ------------------------------------
run rmmod lf_kernel
echo "info: rmmod lf_kernel with snapshots loaded: $OUT"
[ "$RC" -ne 0 ] && loaded lf_kernel && pass rmmod_lf_kernel_with_snapshots_refused ||
	fail rmmod_lf_kernel_with_snapshots_refused "rc=$RC $OUT"

# ---- switching under load -----------------------------------------------
# Loaded now: 1 (active, slot 0), 2 (standby). Add 3 and 4, start a
# softirq client and a userspace INFER loop, and switch 150 times; each
# round also unloads and reloads the snapshots that sit in no slot.
# make test's debug-kernel subset (run.sh, LF_VM_DEBUG_QUICK: /lf/stress-
# quick) switches 30 times: there 150 rounds took 278 s, and stress.sh
# switches under load on all 4 CPUs after it.
SWITCH_ROUNDS=150
[ -e /lf/stress-quick ] && eval "$(cat /lf/stress-quick)"
insmod $M/lf_test_snap_3.ko && insmod $M/lf_test_snap_4.ko &&
	insmod $M/lf_test_client.ko
rm -f /tmp/stop
# The INFER loop's own limit (it fails unless the switch loop stops it
# first): 240 s, well above what the 150 rounds take on Debian's kernels; on
# the debug kernel (KASAN, lockdep, 4 vCPUs on 2 TCG host cores) they
# took 278 s at a host load of 10, so there it is 1200 s.
stress_limit=240
[ -e /lf/debug-kernel ] && stress_limit=1200
lfnl stress 1 /tmp/stop $stress_limit 1 2 3 4 > /tmp/stress.out 2>&1 &
stress_pid=$!
run lfnl switch 1 $SWITCH_ROUNDS lf_test_snap_ $M 1 2 3 4
switch_rc=$RC switch_out=$OUT
touch /tmp/stop
wait $stress_pid
stress_rc=$?
stress_out=$(cat /tmp/stress.out)
echo "$switch_out"
echo "$stress_out"
[ "$switch_rc" -eq 0 ] &&
	echo "$switch_out" | grep -q "rmmod_refused=$SWITCH_ROUNDS rmmod_done=0" &&
	! echo "$switch_out" | grep -q "reloads=0 " &&
	pass switch_${SWITCH_ROUNDS}_activate_rollback_rmmod_reload ||
	fail switch_${SWITCH_ROUNDS}_activate_rollback_rmmod_reload "$switch_out"
[ "$stress_rc" -eq 0 ] && echo "$stress_out" | grep -q "failed=0 bad=0" &&
	pass userspace_infer_under_switching ||
	fail userspace_infer_under_switching "$stress_out"
P=/sys/module/lf_test_client/parameters
c_ok=$(cat $P/ok) c_bad=$(cat $P/bad) c_failed=$(cat $P/failed)
c_nodata=$(cat $P/nodata) c_softirq=$(cat $P/in_softirq_seen)
echo "softirq client ok=$c_ok nodata=$c_nodata failed=$c_failed bad=$c_bad softirq=$c_softirq"
[ "$c_ok" -gt 0 ] && [ "$c_bad" -eq 0 ] && [ "$c_failed" -eq 0 ] &&
	[ "$c_softirq" -gt 0 ] &&
	pass softirq_queries_under_switching ||
	fail softirq_queries_under_switching "ok=$c_ok bad=$c_bad failed=$c_failed softirq=$c_softirq"
rmmod lf_test_client

# ---- teardown -----------------------------------------------------------
expect app_destroy_releases_all 0 lfnl destroy 1
run rmmod lf_test_snap_1 lf_test_snap_2 lf_test_snap_3 lf_test_snap_4
rc=$RC
expect create_app_without_snapshots 0 lfnl create 9 leftover 1 1
run rmmod lf_kernel
klog
if [ "$rc" -eq 0 ] && [ "$RC" -eq 0 ] && ! loaded lf_kernel &&
   klog_has "app 9 (leftover) destroyed" &&
   klog_has "lf_kernel: slot manager unloaded"; then
	pass rmmod_lf_kernel_when_unused
else
	fail rmmod_lf_kernel_when_unused "snapshots rc=$rc, lf_kernel rc=$RC $OUT"
fi
expect family_gone_after_unload $ENOENT lfnl status
run insmod $M/lf_kernel.ko
[ "$RC" -eq 0 ] && rmmod lf_kernel && pass lf_kernel_reloads ||
	fail lf_kernel_reloads "rc=$RC $OUT"

# ---- extra guest checks (LF_VM_GUEST_SCRIPTS, see run.sh) ----------------
# meminfo_line: the kernel's memory figures that an out-of-memory boot
# would show growing (MiB), for the "took" lines and stress.sh's samples.
meminfo_line() {
	awk '/^(MemAvailable|Slab|SUnreclaim|VmallocUsed|Percpu|Shmem|KernelStack):/ {
		sub(":", "", $1); printf "%s%s=%dM", sep, $1, $2 / 1024; sep = " " }' /proc/meminfo
}
echo "info: guest.sh own checks took $(( $(date +%s) - GUEST_START ))s"
echo "info: mem after guest.sh own checks: $(meminfo_line)"
for extra in /guest.d/*.sh; do
	[ -e "$extra" ] || continue
	extra_start=$(date +%s)
	. "$extra"
	echo "info: $(basename "$extra") took $(( $(date +%s) - extra_start ))s"
	echo "info: mem after $(basename "$extra"): $(meminfo_line)"
done

# ---- kernel log ---------------------------------------------------------
# The whole log (`dmesg -n 1` only keeps it off the console), one check
# per kind of splat the debug kernel's checkers print, then any oops,
# BUG or WARNING at all.
klog
while IFS='|' read -r kind pattern; do
	hits=$(grep -E "$pattern" "$KLOG_ALL")
	[ -z "$hits" ] && pass "dmesg_no_$kind" ||
		fail "dmesg_no_$kind" "$(echo "$hits" | wc -l) lines: $(echo "$hits" | head -3 | tr '\n' ' ')"
done <<'KINDS'
kasan|BUG: KASAN|KASAN: [a-z-]+ in
lockdep|circular locking dependency|possible recursive locking|inconsistent lock state|irq lock inversion|bad unlock balance|held lock freed|lock held when returning to user|DEBUG_LOCKS_WARN_ON|turning off the locking correctness validator
rcu|suspicious RCU usage|RCU stall|self-detected stall|rcu: INFO
atomic_sleep|sleeping function called from invalid context|scheduling while atomic
odebug|ODEBUG:
kmemleak|kmemleak: [0-9]+ new suspected memory leaks
KINDS
bad=$(grep -E "BUG|WARNING|Oops|RCU stall|rcu_sched self-detected stall|self-detected stall|Call Trace|general protection" "$KLOG_ALL")
if [ -z "$bad" ]; then
	pass dmesg_clean
else
	fail dmesg_clean "$(echo "$bad" | head -5)"
	cat "$KLOG_ALL"
fi

# The last line: run.sh fails the boot if it is missing (guest.sh killed,
# e.g. by the OOM killer, with init still printing LF_VM_DONE).
echo "LF_VM_GUEST_END"
