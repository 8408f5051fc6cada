# SPDX-License-Identifier: GPL-2.0
#
# Guest checks of lf_nf (issue 7, item 8): the netfilter client asks app 2
# once per TCP/UDP packet and accepts or drops as the snapshot's label
# says. Sourced by tests/vm/guest.sh after its own checks (run.sh copies it
# with LF_VM_LFC), with pass/fail/expect/run/klog, $M (/lf; build-hook.sh's
# files are in /lf/nf) and lf_kernel unloaded; leaves lf_kernel unloaded.
#
# Network: namespace "lfnf" holds lfnf1 (10.9.5.2), joined by veth to
# lfnf0 (10.9.5.1) in the initial namespace, where lf_nf and lf_nf_probe
# hook PRE_ROUTING. lf_nf_send in lfnf sends the packets of rows.csv
# (packet i: row i mod 4000, IP id i) as Ethernet broadcasts out of lfnf1;
# lf_nf_probe records per id whether a packet reached PRE_ROUTING (seen)
# and whether it got past lf_nf (passed).

NF=$M/nf
NFP=/sys/module/lf_nf/parameters
NF_ROWS=4000
IP=/bin/ip

# nf_counters: "accepted dropped no_snapshot errors other" of lf_nf.
nf_counters() {
	echo "$(cat $NFP/accepted) $(cat $NFP/dropped) $(cat $NFP/no_snapshot) $(cat $NFP/errors) $(cat $NFP/other)"
}
# nf_app_queries: app 2's query counter.
nf_app_queries() {
	lfnl status | sed -n 's/^app=2 name=.* queries=\([0-9]*\) .*/\1/p'
}
# nf_slot_queries UUID: the query counter of the slot holding UUID.
nf_slot_queries() {
	lfnl status | sed -n "s/^app=2 slot=.* uuid=$1 .*queries=\([0-9]*\) .*/\1/p"
}

# nf_delta BEFORE AFTER: sets D_ACC D_DROP D_NOSNAP D_ERR D_OTHER.
nf_delta() {
	set -- $1 $2
	D_ACC=$(($6 - $1)) D_DROP=$(($7 - $2)) D_NOSNAP=$(($8 - $3))
	D_ERR=$(($9 - $4)) D_OTHER=$((${10} - $5))
}

# nf_send COUNT: lf_nf_send's line in $SENT, exit status in $SEND_RC.
nf_send() {
	$IP netns exec lfnf $NF/lf_nf_send lfnf1 $NF/rows.csv "$1" > /tmp/nf_send.out 2>&1
	SEND_RC=$?
	SENT=$(cat /tmp/nf_send.out)
}

# nf_collect BEFORE: after a stream, waits for it to drain, then the
# probe's "id seen passed" lines in /tmp/nf_probe and the counter deltas
# since BEFORE (nf_delta).
nf_collect() {
	sleep 1
	cat /proc/lf_nf_probe > /tmp/nf_probe
	nf_delta "$1" "$(nf_counters)"
}

# nf_want COUNT: "id passed" per packet id as snapshot 21 and 22 decide,
# in /tmp/nf_want ("id want21 want22"; passed = 1 - label).
nf_want() {
	paste -d' ' $NF/expect_21.csv $NF/expect_22.csv > /tmp/nf_labels
	awk -v n="$1" -v rows=$NF_ROWS '
		{ l21[NR - 1] = $1; l22[NR - 1] = $2 }
		END { for (i = 0; i < n; i++)
			print i, 1 - l21[i % rows], 1 - l22[i % rows] }' /tmp/nf_labels > /tmp/nf_want
}

# nf_compare COUNT: compares /tmp/nf_probe with /tmp/nf_want; prints
# "seen=S bad_seen=B as21=A as22=C only21=X only22=Y neither=Z": packets
# seen (once each, ids 0..COUNT-1), passed as 21 decides, as 22 decides,
# as only 21 / only 22 decides (where they differ), as neither.
nf_compare() {
	nf_want "$1"
	awk -v n="$1" '
		FNR == NR { w21[$1] = $2; w22[$1] = $3; next }
		{ seen++; if ($1 >= n || $2 != 1 || ($1 in got)) bad++
		  got[$1] = 1
		  if ($3 == w21[$1]) as21++
		  if ($3 == w22[$1]) as22++
		  if (w21[$1] != w22[$1]) { if ($3 == w21[$1]) o21++; else o22++ }
		  if ($3 != w21[$1] && $3 != w22[$1]) neither++ }
		END { printf "seen=%d bad_seen=%d as21=%d as22=%d only21=%d only22=%d neither=%d\n",
			seen, bad, as21, as22, o21, o22, neither }' /tmp/nf_want /tmp/nf_probe
}

# nf_labels_count UUID COUNT: how many of the first COUNT packets UUID drops.
nf_drops() {
	awk -v n="$2" -v rows=$NF_ROWS '{ l[NR - 1] = $1 }
		END { for (i = 0; i < n; i++) d += l[i % rows]; print d + 0 }' $NF/expect_$1.csv
}

# nf_exact NAME UUID COUNT: a stream of COUNT packets with UUID active is
# decided exactly as `lfc run` decided on the host, and counted so.
nf_exact() {
	name=$1 uuid=$2 count=$3
	echo reset > /proc/lf_nf_probe
	c0=$(nf_counters) q0=$(nf_app_queries)
	nf_send "$count"
	nf_collect "$c0"
	q1=$(nf_app_queries)
	cmp=$(nf_compare "$count")
	drops=$(nf_drops "$uuid" "$count")
	echo "info: lf_nf stream, uuid $uuid: $SENT; $cmp; accepted +$D_ACC dropped +$D_DROP no_snapshot +$D_NOSNAP errors +$D_ERR other +$D_OTHER; lfc run drops $drops of $count"
	[ "$SEND_RC" -eq 0 ] && [ "$(num seen "$cmp")" -eq "$count" ] &&
		[ "$(num bad_seen "$cmp")" -eq 0 ] &&
		[ "$(num "as$uuid" "$cmp")" -eq "$count" ] &&
		pass "${name}_decisions_match_lfc_run" ||
		fail "${name}_decisions_match_lfc_run" "rc=$SEND_RC $SENT; $cmp (want seen=$count as$uuid=$count)"
	[ "$D_DROP" -eq "$drops" ] && [ "$D_ACC" -eq $((count - drops)) ] &&
		[ "$D_NOSNAP" -eq 0 ] && [ "$D_ERR" -eq 0 ] && [ "$D_OTHER" -eq 0 ] &&
		[ "$q1" -eq $((q0 + count)) ] &&
		pass "${name}_counted_exactly" ||
		fail "${name}_counted_exactly" "accepted +$D_ACC dropped +$D_DROP (lfc run drops $drops of $count) no_snapshot +$D_NOSNAP errors +$D_ERR other +$D_OTHER; app 2 queries $q0 -> $q1"
}

# num KEY TEXT: the number after " KEY=" (or at the start) in TEXT.
num() { echo " $2" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }

# ---- setup ---------------------------------------------------------------
why=
for f in lf_nf.ko lf_nf_probe.ko lf_model_21.ko lf_model_22.ko rows.csv \
	 expect_21.csv expect_22.csv lf_nf_send veth.ko; do
	[ -s $NF/$f ] || why="$why $f"
done
[ -x $IP ] || why="$why $IP"
if [ -n "$why" ]; then
	fail lf_nf_inputs_present "missing:$why (see examples/netfilter/vm/build-hook.sh's log on the host); lf_nf checks not run"
else
	pass lf_nf_inputs_present
	nf_t0=$(date +%s)
	nf_ok=1
	for mod in $NF/veth.ko $M/lf_kernel.ko $NF/lf_nf.ko $NF/lf_nf_probe.ko; do
		run insmod $mod
		[ "$RC" -eq 0 ] || { nf_ok=0; echo "info: insmod $mod: $OUT"; }
	done
	[ "$nf_ok" -eq 1 ] &&
		lfnl status | grep -q "^app=2 name=lf_nf in=8 out=3 active_slot=none " &&
		[ "$(nf_counters)" = "0 0 0 0 0" ] &&
		pass lf_nf_loads_registers_app2 ||
		fail lf_nf_loads_registers_app2 "$(lfnl status); counters $(nf_counters)"
	mkdir -p /run /var/run
	echo 100000 > /proc/sys/net/core/netdev_max_backlog
	$IP netns add lfnf &&
		$IP link add lfnf0 type veth peer name lfnf1 &&
		$IP link set lfnf1 netns lfnf &&
		$IP addr add 10.9.5.1/24 dev lfnf0 && $IP link set lfnf0 up &&
		$IP -n lfnf addr add 10.9.5.2/24 dev lfnf1 &&
		$IP -n lfnf link set lfnf1 up
	nf_net=$?
	[ "$nf_net" -eq 0 ] && pass lf_nf_netns_veth_up ||
		fail lf_nf_netns_veth_up "rc=$nf_net"

	# ---- not TCP/UDP: accepted unasked --------------------------------------
	c0=$(nf_counters) q0=$(nf_app_queries)
	$IP netns exec lfnf ping -c 3 -W 2 10.9.5.1 > /tmp/nf_ping.out 2>&1
	ping_rc=$?
	nf_delta "$c0" "$(nf_counters)"
	[ "$ping_rc" -eq 0 ] && [ "$D_OTHER" -eq 3 ] &&
		[ $((D_ACC + D_DROP + D_NOSNAP + D_ERR)) -eq 0 ] &&
		[ "$(nf_app_queries)" -eq "$q0" ] &&
		pass lf_nf_icmp_accepted_unasked ||
		fail lf_nf_icmp_accepted_unasked "ping rc=$ping_rc $(tail -2 /tmp/nf_ping.out); other +$D_OTHER, accepted +$D_ACC dropped +$D_DROP no_snapshot +$D_NOSNAP errors +$D_ERR"

	# ---- no snapshot: every packet accepted and counted ----------------------
	echo reset > /proc/lf_nf_probe
	c0=$(nf_counters)
	nf_send 1000
	nf_collect "$c0"
	passed=$(awk '$3 == 1' /tmp/nf_probe | wc -l)
	echo "info: lf_nf stream, no snapshot: $SENT; probe: $(wc -l < /tmp/nf_probe) seen, $passed passed; no_snapshot +$D_NOSNAP"
	[ "$SEND_RC" -eq 0 ] && [ "$(wc -l < /tmp/nf_probe)" -eq 1000 ] &&
		[ "$passed" -eq 1000 ] && [ "$D_NOSNAP" -eq 1000 ] &&
		[ $((D_ACC + D_DROP + D_ERR + D_OTHER)) -eq 0 ] &&
		pass lf_nf_no_snapshot_accepts_and_counts ||
		fail lf_nf_no_snapshot_accepts_and_counts "rc=$SEND_RC $SENT; seen $(wc -l < /tmp/nf_probe) passed $passed; no_snapshot +$D_NOSNAP accepted +$D_ACC dropped +$D_DROP errors +$D_ERR other +$D_OTHER"

	# ---- snapshot 21, then 22: decided exactly as lfc run ---------------------
	run insmod $NF/lf_model_21.ko
	[ "$RC" -eq 0 ] && [ "$(active 2)" = "uuid=21 slot=0" ] &&
		pass lf_nf_snapshot_21_active ||
		fail lf_nf_snapshot_21_active "rc=$RC $OUT; active $(active 2)"
	nf_exact lf_nf_uuid21 21 $NF_ROWS
	run insmod $NF/lf_model_22.ko
	[ "$RC" -eq 0 ] && [ "$(active 2)" = "uuid=22 slot=1" ] &&
		pass lf_nf_snapshot_22_active ||
		fail lf_nf_snapshot_22_active "rc=$RC $OUT; active $(active 2)"
	nf_exact lf_nf_uuid22 22 $NF_ROWS

	# ---- switching mid-stream: no decision lost --------------------------------
	# 20,000 packets (each row 5 times) while app 2 is rolled back between
	# 22 and 21 as fast as lfnl can: every packet must be decided by one of
	# the two (as lfc run says that one decides), counted once, and both
	# must have decided some packets on which they differ.
	nf_t1=$(date +%s)
	NF_SWITCH=20000
	echo reset > /proc/lf_nf_probe
	c0=$(nf_counters) s21=$(nf_slot_queries 21) s22=$(nf_slot_queries 22)
	nf_send $NF_SWITCH &
	send_pid=$!
	rollbacks=0 rb_fail=0
	while kill -0 $send_pid 2>/dev/null; do
		lfnl rollback 2 > /dev/null 2>&1 && rollbacks=$((rollbacks + 1)) ||
			rb_fail=$((rb_fail + 1))
	done
	wait $send_pid
	SEND_RC=$?
	SENT=$(cat /tmp/nf_send.out)
	nf_collect "$c0"
	cmp=$(nf_compare $NF_SWITCH)
	t21=$(nf_slot_queries 21) t22=$(nf_slot_queries 22)
	echo "info: lf_nf switch stream: $(($(date +%s) - nf_t1)) s, $SENT; $rollbacks rollbacks ($rb_fail failed); $cmp; accepted +$D_ACC dropped +$D_DROP no_snapshot +$D_NOSNAP errors +$D_ERR; slot queries 21 $s21 -> $t21, 22 $s22 -> $t22"
	[ "$SEND_RC" -eq 0 ] && [ "$(num seen "$cmp")" -eq $NF_SWITCH ] &&
		[ "$(num bad_seen "$cmp")" -eq 0 ] && [ "$(num neither "$cmp")" -eq 0 ] &&
		[ $((D_ACC + D_DROP)) -eq $NF_SWITCH ] && [ "$D_NOSNAP" -eq 0 ] &&
		[ "$D_ERR" -eq 0 ] && [ "$D_OTHER" -eq 0 ] &&
		[ "$D_DROP" -eq "$(awk '$3 == 0' /tmp/nf_probe | wc -l)" ] &&
		[ $((t21 - s21 + t22 - s22)) -eq $NF_SWITCH ] &&
		pass lf_nf_switch_mid_stream_no_decision_lost ||
		fail lf_nf_switch_mid_stream_no_decision_lost "rc=$SEND_RC $SENT; $cmp; accepted +$D_ACC dropped +$D_DROP no_snapshot +$D_NOSNAP errors +$D_ERR other +$D_OTHER; slot queries 21 +$((t21 - s21)) 22 +$((t22 - s22))"
	[ "$rollbacks" -ge 2 ] && [ "$rb_fail" -eq 0 ] &&
		[ "$(num only21 "$cmp")" -gt 0 ] && [ "$(num only22 "$cmp")" -gt 0 ] &&
		pass lf_nf_switch_both_snapshots_decided ||
		fail lf_nf_switch_both_snapshots_decided "$rollbacks rollbacks ($rb_fail failed); $cmp"

	# ---- the snapshots go away mid-stream and come back ------------------------
	# app 2 destroyed (lf_nf's claim keeps it, without snapshots) after
	# 2,000 packets, 21 activated again from the registry 0.5 s later:
	# accepted + dropped + no_snapshot is every packet, some of each.
	echo reset > /proc/lf_nf_probe
	c0=$(nf_counters)
	nf_send 10000 &
	send_pid=$!
	for i in $(seq 1 100); do
		[ $(($(cat $NFP/accepted) + $(cat $NFP/dropped) - ${c0%% *} - $(echo "$c0" | cut -d' ' -f2))) -ge 2000 ] && break
		sleep 0.1
	done
	run lfnl destroy 2
	gone_rc=$RC gone=$(active 2)
	sleep 0.5
	run lfnl activate 2 21
	back_rc=$RC back=$(active 2)
	wait $send_pid
	SEND_RC=$?
	SENT=$(cat /tmp/nf_send.out)
	nf_collect "$c0"
	seen=$(wc -l < /tmp/nf_probe)
	dropped_seen=$(awk '$3 == 0' /tmp/nf_probe | wc -l)
	echo "info: lf_nf gone-and-back stream: $SENT; destroy rc=$gone_rc ($gone), activate rc=$back_rc ($back); seen $seen, dropped $dropped_seen; accepted +$D_ACC dropped +$D_DROP no_snapshot +$D_NOSNAP errors +$D_ERR"
	[ "$SEND_RC" -eq 0 ] && [ "$gone_rc" -eq 0 ] && [ "$back_rc" -eq 0 ] &&
		[ "$gone" = none ] && [ "${back% slot=*}" = "uuid=21" ] &&
		[ "$seen" -eq 10000 ] &&
		[ $((D_ACC + D_DROP + D_NOSNAP)) -eq 10000 ] &&
		[ "$D_NOSNAP" -gt 0 ] && [ "$D_ACC" -gt 0 ] && [ "$D_DROP" -gt 0 ] &&
		[ "$D_DROP" -eq "$dropped_seen" ] && [ "$D_ERR" -eq 0 ] &&
		pass lf_nf_snapshot_gone_mid_stream_every_packet_counted ||
		fail lf_nf_snapshot_gone_mid_stream_every_packet_counted "rc=$SEND_RC $SENT; destroy rc=$gone_rc ($gone) activate rc=$back_rc ($back); seen $seen dropped $dropped_seen; accepted +$D_ACC dropped +$D_DROP no_snapshot +$D_NOSNAP errors +$D_ERR"
	echo "info: lf_nf counters: $(nf_counters) (accepted dropped no_snapshot errors other); checks took $(($(date +%s) - nf_t0)) s"

	# ---- teardown ----------------------------------------------------------------
	$IP netns del lfnf
	rmmod lf_nf_probe
	run rmmod lf_nf
	nf_rm=$RC
	lfnl destroy 2 > /dev/null 2>&1
	rmmod lf_model_21 lf_model_22
	rmmod lf_kernel
	rmmod veth
	klog
	[ "$nf_rm" -eq 0 ] && ! loaded lf_nf && ! loaded lf_model_21 &&
		! loaded lf_model_22 && ! loaded lf_kernel && ! loaded veth &&
		pass lf_nf_teardown || fail lf_nf_teardown "rmmod lf_nf rc=$nf_rm; $(cat /proc/modules)"
fi
# Whatever failed above: nothing of ours stays loaded.
for m in lf_nf_probe lf_nf lf_model_21 lf_model_22; do
	loaded $m && { lfnl destroy 2 > /dev/null 2>&1; rmmod $m; }
done
loaded lf_kernel && rmmod lf_kernel
loaded veth && rmmod veth
true
