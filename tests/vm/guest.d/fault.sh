# SPDX-License-Identifier: GPL-2.0
#
# Fault injection (issue 12, item 4), sourced by guest.sh. Needs
# CONFIG_FAULT_INJECTION with failslab and fail_page_alloc: the debug
# kernel (/lf/debug-kernel), where a missing piece is a failure; on
# Debian's kernels it only says that it did not run.
#
# lfdbg fault fails the n-th fault-injectable allocation (slab or page,
# GFP_KERNEL included) of one APP_CREATE, SET_RECORDING on, SET_RECORDING
# off (with records buffered and a listener, so shipping allocates) and
# snapshot registration (finit_module of a snapshot, for an app that
# exists and one that does not), for every n until a run reaches no n-th
# allocation. Each failed run must return an error and leave the status
# as it was. Leaks are found by the kmemleak scan of zz-leaks.sh.
# Allocation-failure reports (warn_alloc's backtraces) are expected
# here, so this part's log is checked for splats without "Call Trace"
# and kept out of the final dmesg check.

DBGFS=/sys/kernel/debug
FLT_BAD='BUG|WARNING|Oops|RCU stall|self-detected stall|general protection|ODEBUG|KASAN|UBSAN|kmemleak: .*suspected|circular locking|suspicious RCU'

if ! [ -e /proc/self/fail-nth ]; then
	if [ -e /lf/debug-kernel ]; then
		fail fault_injection_available "no /proc/self/fail-nth on the debug kernel"
	else
		echo "info: fault injection not run: $(uname -r) has no CONFIG_FAULT_INJECTION"
	fi
else
	klog
	grep -q " $DBGFS debugfs " /proc/mounts || mount -t debugfs debugfs $DBGFS
	flt_ok=1
	for a in failslab fail_page_alloc; do
		echo N > $DBGFS/$a/ignore-gfp-wait && echo 0 > $DBGFS/$a/verbose ||
			flt_ok=0
	done
	echo N > $DBGFS/fail_page_alloc/ignore-gfp-highmem &&
		echo 0 > $DBGFS/fail_page_alloc/min-order || flt_ok=0
	[ "$flt_ok" -eq 1 ] && pass fault_injection_configured ||
		fail fault_injection_configured "$(ls $DBGFS/failslab $DBGFS/fail_page_alloc 2>&1 | tr '\n' ' ')"
	: > /tmp/fault.out
	: > /tmp/fault.split

	# Which of the two fired: every injected failure decrements its
	# attribute's `times` (lib/fault-inject.c, also on the fail-nth path),
	# so each check starts them at FLT_TIMES and reads what is left.
	FLT_TIMES=100000000
	flt_arm() {
		for a in failslab fail_page_alloc; do
			echo $FLT_TIMES > $DBGFS/$a/times
		done
	}
	flt_used() { echo $((FLT_TIMES - $(cat $DBGFS/$1/times))); }

	# fault_check NAME CMD...: lfdbg fault CMD must exit 0, having injected
	# at least one fault and seen at least one error returned; every
	# fault it counted must be one of failslab's or fail_page_alloc's.
	fault_check() {
		name=$1
		shift
		flt_arm
		run lfdbg fault "$@"
		slab=$(flt_used failslab) page=$(flt_used fail_page_alloc)
		echo "$OUT" >> /tmp/fault.out
		line=$(echo "$OUT" | grep '^fault ' | tail -1)
		echo "info: $name: $line failslab=$slab fail_page_alloc=$page"
		echo "$slab $page" >> /tmp/fault.split
		pts=$(echo "$line" | sed -n 's/.* points=\([0-9]*\) errors=\([0-9]*\) .*/\1/p')
		errs=$(echo "$line" | sed -n 's/.* errors=\([0-9]*\) .*/\1/p')
		if [ "$RC" -eq 0 ] && [ "${pts:-0}" -gt 0 ] && [ "${errs:-0}" -gt 0 ] &&
			[ $((slab + page)) -eq "$pts" ]; then
			pass "$name"
		else
			fail "$name" "rc=$RC failslab=$slab fail_page_alloc=$page $(echo "$OUT" | head -8 | tr '\n' ' ')"
		fi
	}

	# make test's debug subset (run.sh, LF_VM_DEBUG_QUICK: /lf/stress-
	# quick) tries every 4th point of the two module loads and every point
	# of the last 68 (lfdbg fault --stride): the loader's allocations come
	# first, the snapshot's registration last; there every point took 445 s
	# of the boot. make vm-debug-test tries them all.
	FAULT_REGISTER_STRIDE=1
	[ -e /lf/stress-quick ] && eval "$(cat /lf/stress-quick)"
	insmod $M/lf_kernel.ko
	flt_start=$(date +%s)
	fault_check fault_app_create create 77 4 2
	insmod $M/lf_test_snap_1.ko
	fault_check fault_recording_on recon 1
	insmod $M/lf_test_client.ko
	fault_check fault_recording_off recoff 1
	rmmod lf_test_client
	lfnl setrec 1 0 > /dev/null	# recoff's undo leaves it on
	fault_check fault_register_existing_app --stride $FAULT_REGISTER_STRIDE \
		register $M/lf_test_snap_2.ko 1
	lfnl destroy 1 > /dev/null
	rmmod lf_test_snap_1
	fault_check fault_register_new_app --stride $FAULT_REGISTER_STRIDE \
		register $M/lf_test_snap_2.ko 1
	echo "info: fault injection: $(grep -c '^fault ' /tmp/fault.out) operations, $(sed -n 's/.* points=\([0-9]*\) .*/\1/p' /tmp/fault.out | awk '{ s += $1 } END { print s + 0 }') fault points ($(awk '{ s += $1; p += $2 } END { print s + 0 " failslab, " p + 0 " fail_page_alloc" }' /tmp/fault.split)), $(( $(date +%s) - flt_start ))s"
	run lfnl status
	[ -z "$OUT" ] && rmmod lf_kernel && pass fault_state_clean_unload ||
		fail fault_state_clean_unload "status: $OUT; $(lsmod | grep lf_)"

	# This part's log: no splat; allocation-failure reports are expected.
	dmesg -c > /tmp/fault.klog
	echo "info: fault log: $(wc -l < /tmp/fault.klog) lines, $(grep -c 'allocation failure\|vmalloc error' /tmp/fault.klog) allocation-failure reports"
	if grep -qE "$FLT_BAD" /tmp/fault.klog; then
		fail fault_dmesg_clean "$(grep -E "$FLT_BAD" /tmp/fault.klog | head -5)"
		cat /tmp/fault.klog
	else
		pass fault_dmesg_clean
	fi
fi
