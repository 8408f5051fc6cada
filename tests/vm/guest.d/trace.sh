# SPDX-License-Identifier: GPL-2.0
#
# lf_kernel's tracepoints (runtime-kmod/lf_trace.h; issue 13, item 5),
# sourced by guest.sh on every kernel: with every lf_kernel event enabled
# through tracefs, snapshots 1 -> 2 -> 3 are registered (3 evicts 1), the
# app rolls back (2 active), lf_test_client queries it from softirq while
# recording is on, first with no listener (batches dropped), then with
# one (batches shipped), and the app is destroyed. The slot and app events
# must be exactly the expected sequence; the query and record events must
# be there with the right values, and no event may have been lost.

T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs tracefs $T 2> /dev/null
insmod $M/lf_kernel.ko
if ! [ -d $T/events/lf_kernel ]; then
	fail trace_events_registered "no $T/events/lf_kernel ($(ls $T 2>&1 | head -3 | tr '\n' ' '))"
else
	echo "info: lf_kernel trace events: $(ls $T/events/lf_kernel | grep -v -e enable -e filter | tr '\n' ' ')"
	pass trace_events_registered
	echo 8192 > $T/buffer_size_kb
	echo > $T/trace
	echo 1 > $T/events/lf_kernel/enable
	insmod $M/lf_test_snap_1.ko
	insmod $M/lf_test_snap_2.ko
	insmod $M/lf_test_snap_3.ko
	lfnl rollback 1 > /dev/null
	insmod $M/lf_test_client.ko
	lfnl setrec 1 1 > /dev/null
	sleep 1
	rm -f /tmp/trace.stop
	lfdbg listen /tmp/trace.stop > /tmp/trace.listen 2>&1 &
	tl_pid=$!
	sleep 1
	lfnl setrec 1 0 > /dev/null
	touch /tmp/trace.stop
	wait $tl_pid
	rmmod lf_test_client
	lfnl destroy 1 > /dev/null
	echo 0 > $T/events/lf_kernel/enable
	cat $T/trace > /tmp/trace.txt
	echo > $T/trace
	rmmod lf_test_snap_1 lf_test_snap_2 lf_test_snap_3
	# "<task>-<pid> [cpu] flags time: lf_event: fields" -> "lf_event: fields"
	sed -n 's/^.* \(lf_[a-z_]*: .*\)$/\1/p' /tmp/trace.txt > /tmp/trace.ev
	grep -v -e '^lf_query:' -e '^lf_records_' /tmp/trace.ev > /tmp/trace.slots
	cat > /tmp/trace.want <<'WANT'
lf_app_create: app=1 name=test_gain_1 inputs=4 outputs=2
lf_register: app=1 uuid=1 name=test_gain_1
lf_install: app=1 slot=0 uuid=1
lf_activate: app=1 slot=0 uuid=1
lf_register: app=1 uuid=2 name=test_gain_2
lf_install: app=1 slot=1 uuid=2
lf_activate: app=1 slot=1 uuid=2
lf_register: app=1 uuid=3 name=test_gain_3
lf_install: app=1 slot=0 uuid=3
lf_activate: app=1 slot=0 uuid=3
lf_evict: app=1 slot=0 uuid=1
lf_activate: app=1 slot=1 uuid=2
lf_rollback: app=1 slot=1 uuid=2
lf_evict: app=1 slot=0 uuid=3
lf_evict: app=1 slot=1 uuid=2
lf_app_destroy: app=1 name=test_gain_1 inputs=4 outputs=2
WANT
	echo "info: trace: $(wc -l < /tmp/trace.ev) events, $(grep -c '^lf_query:' /tmp/trace.ev) queries, $(grep -c '^lf_records_dropped:' /tmp/trace.ev) dropped and $(grep -c '^lf_records_shipped:' /tmp/trace.ev) shipped batches; listener: $(tail -1 /tmp/trace.listen)"
	grep -q 'LOST' /tmp/trace.txt &&
		fail trace_no_lost_events "$(grep LOST /tmp/trace.txt | head -3)" ||
		pass trace_no_lost_events
	cmp -s /tmp/trace.slots /tmp/trace.want && pass trace_slot_and_app_events ||
		fail trace_slot_and_app_events "got: $(tr '\n' ';' < /tmp/trace.slots)"
	# Every query of the rolled-back app was answered by uuid 2.
	q_all=$(grep -c '^lf_query:' /tmp/trace.ev)
	q_ok=$(grep -c '^lf_query: app=1 uuid=2 ret=0$' /tmp/trace.ev)
	[ "$q_all" -gt 0 ] && [ "$q_all" -eq "$q_ok" ] && pass trace_query_events ||
		fail trace_query_events "$q_ok of $q_all are app=1 uuid=2 ret=0: $(grep '^lf_query:' /tmp/trace.ev | grep -v 'uuid=2 ret=0$' | head -3 | tr '\n' ';')"
	grep -q '^lf_records_dropped: app=1 records=[1-9][0-9]* err=-3$' /tmp/trace.ev &&
		grep -q '^lf_records_shipped: app=1 records=[1-9][0-9]* err=0$' /tmp/trace.ev &&
		pass trace_record_events ||
		fail trace_record_events "$(grep '^lf_records_' /tmp/trace.ev | sort | uniq -c | head -5 | tr '\n' ';')"
fi
rmmod lf_kernel
