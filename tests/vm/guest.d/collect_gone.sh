# SPDX-License-Identifier: GPL-2.0
#
# `lfc collect` when lf_kernel goes away mid-collection (issue 12): lfc
# must exit non-zero saying the collection ended early, and the records it
# received before are in its output file. Sourced by guest.sh when run.sh
# has an lfc for the guest (LF_VM_LFC); lf_kernel is unloaded when this
# starts and again when it ends.

insmod $M/lf_kernel.ko && insmod $M/lf_test_snap_1.ko &&
	insmod $M/lf_test_client.ko
rm -f /tmp/gone.csv
lfc collect --app 1 --count 100000000 -o /tmp/gone.csv > /tmp/gone.out 2>&1 &
gone_pid=$!
# Until recording is on and a few batches went out (the softirq client
# makes 8 queries per jiffy).
i=0
while [ $i -lt 50 ] && ! rec_state 1 | grep -q '^recording=1'; do
	sleep 0.1
	i=$((i + 1))
done
sleep 2
# The module goes away: the client, the app's slots, the snapshot, lf_kernel.
rmmod lf_test_client
lfnl destroy 1 >/dev/null
rmmod lf_test_snap_1
run rmmod lf_kernel
unload_rc=$RC
i=0
while [ $i -lt 200 ] && kill -0 $gone_pid 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 $gone_pid 2>/dev/null; then
	kill $gone_pid
	fail lfc_collect_module_gone_exits "still running 20 s after rmmod lf_kernel"
fi
wait $gone_pid
gone_rc=$?
gone_out=$(cat /tmp/gone.out)
echo "$gone_out" | sed 's/^/info: lfc collect, lf_kernel unloaded: /'
[ "$unload_rc" -eq 0 ] && ! loaded lf_kernel &&
	[ "$gone_rc" -ne 0 ] && [ "$gone_rc" -lt 126 ] &&
	echo "$gone_out" | grep -q "collection ended early" &&
	pass lfc_collect_module_gone_exits ||
	fail lfc_collect_module_gone_exits "rmmod rc=$unload_rc, lfc rc=$gone_rc: $gone_out"
# The file holds the header and every record lfc says it received.
said=$(echo "$gone_out" | sed -n 's/.*(\([0-9]*\) records received before it.*/\1/p')
rows=$(($(wc -l < /tmp/gone.csv 2>/dev/null || echo 1) - 1))
[ -n "$said" ] && [ "$said" -gt 0 ] && [ "$rows" -eq "$said" ] &&
	pass lfc_collect_module_gone_keeps_records ||
	fail lfc_collect_module_gone_keeps_records "file has $rows rows, lfc said '$said'"
