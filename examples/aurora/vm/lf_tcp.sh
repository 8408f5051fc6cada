# SPDX-License-Identifier: GPL-2.0
#
# Guest checks of issue 4: lf_kernel's training records and lf_tcp (Aurora
# congestion control on the real Aurora snapshot). Sourced by
# tests/vm/guest.sh after its own checks (LF_VM_GUEST_SCRIPTS; run.sh in
# this directory sets everything up), with pass/fail/expect/run/klog, $M
# (/lf, with build-hook.sh's modules) and lf_kernel unloaded; leaves
# lf_kernel unloaded. Needs lfnl, lfrec, lf_bulk, Debian's ip and tc.
#
# Network: veth0 (10.9.0.1, this namespace, the sender) <-> veth1
# (10.9.0.2, namespace "rx", the receiver); data leave veth0 through tbf
# at LFT_RATE, ACKs leave veth1 through netem with LFT_DELAY, so the RTT
# is about LFT_DELAY and the bottleneck queue is tbf's.

LFT_RATE=${LFT_RATE:-20mbit}
LFT_DELAY=${LFT_DELAY:-20ms}
LFT_BIG=$((20 * 1024 * 1024))		# bytes of the long transfers
LFT_SMALL=$((4 * 1024 * 1024))		# bytes of the short ones
LFT_FALLBACK=$((40 * 1024 * 1024))	# long enough to outlive a swap
# Debian's ip and tc (run.sh puts them in /bin); busybox's are in /sbin.
IP=/bin/ip
TC=/bin/tc
P=/sys/module/lf_tcp/parameters
L=/sys/module/lf_rec_load/parameters

# num KEY TEXT: the number after " KEY=" (or at the start) in TEXT.
num() { echo " $2" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
app1() { lfrec app 1 2>&1; }
tcpp() { cat $P/$1; }

# xfer NAME BYTES: a bulk transfer 10.9.0.1 -> 10.9.0.2 with lf_tcp; the
# sender's line in $XFER, its exit status in $XFER_RC.
xfer_start() {
	$IP netns exec rx lf_bulk recv 5001 > /tmp/recv.out 2>&1 &
	recv_pid=$!
	lf_bulk send 10.9.0.2 5001 "$1" lf_tcp > /tmp/send.out 2>&1 &
	send_pid=$!
}
xfer_wait() {
	wait $send_pid
	XFER_RC=$?
	wait $recv_pid
	XFER=$(cat /tmp/send.out)
	echo "info: $XFER / $(cat /tmp/recv.out)"
}
xfer() {
	xfer_start "$2"
	xfer_wait
	if [ "$XFER_RC" -eq 0 ] &&
	   echo "$XFER" | grep -q "^send bytes=$2 counted=$2 .* cc=lf_tcp "; then
		pass "$1"
	else
		fail "$1" "rc=$XFER_RC $XFER $(cat /tmp/recv.out)"
	fi
}

# ---- setup ---------------------------------------------------------------
lft_ok=1
for mod in veth sch_netem sch_tbf lf_kernel lf_tcp; do
	run insmod $M/$mod.ko
	[ "$RC" -eq 0 ] || { lft_ok=0; echo "info: insmod $mod: $OUT"; }
done
lfnl status | grep -q "^app=1 name=aurora in=30 out=1 active_slot=none " &&
	grep -qw lf_tcp /proc/sys/net/ipv4/tcp_available_congestion_control &&
	[ "$lft_ok" -eq 1 ] &&
	pass lf_tcp_loads_registers_app1 ||
	fail lf_tcp_loads_registers_app1 "$(lfnl status); $(cat /proc/sys/net/ipv4/tcp_available_congestion_control)"
run insmod $M/lf_model_1.ko
# lfc names the module after the uuid: lf_model_0000000000000001.
AUR=$(sed -n 's/^\(lf_model_[0-9a-f]*\) .*/\1/p' /proc/modules | head -1)
echo "info: Aurora snapshot module: $AUR"
[ "$RC" -eq 0 ] && [ -n "$AUR" ] && [ "$(lfnl active 1)" = "uuid=1 slot=0" ] &&
	lfnl status | grep -q "^app=1 name=aurora in=30 out=1 active_slot=0 " &&
	pass aurora_snapshot_adopts_app1 ||
	fail aurora_snapshot_adopts_app1 "rc=$RC $OUT; $(lfnl status)"

mkdir -p /run /var/run	# ip netns keeps its mounts in /run/netns
$IP netns add rx &&
	$IP link add veth0 type veth peer name veth1 &&
	$IP link set veth1 netns rx &&
	$IP addr add 10.9.0.1/24 dev veth0 && $IP link set veth0 up &&
	$IP -n rx addr add 10.9.0.2/24 dev veth1 &&
	$IP -n rx link set veth1 up && $IP -n rx link set lo up &&
	$TC qdisc add dev veth0 root tbf rate $LFT_RATE burst 32kb latency 100ms &&
	$TC -n rx qdisc add dev veth1 root netem delay $LFT_DELAY &&
	ping -c 2 -W 2 10.9.0.2 > /tmp/ping.out 2>&1
lft_net=$?
echo "info: $($TC qdisc show dev veth0 | head -1); $($TC -n rx qdisc show dev veth1 | head -1); $(tail -1 /tmp/ping.out)"
[ "$lft_net" -eq 0 ] && pass netns_veth_netem_tbf_up ||
	fail netns_veth_netem_tbf_up "rc=$lft_net $(cat /tmp/ping.out)"

# ---- records: switched on, shown by GET_APP --------------------------------
expect set_recording_unknown_app $ENOENT lfrec setrec 77 1
expect set_recording_nonroot $EPERM lfnl -u 65534 setrec 1 1
echo "$(app1)" | grep -q "^recording=0 dropped=0 " &&
	pass get_app_recording_off_by_default ||
	fail get_app_recording_off_by_default "$(app1)"
expect set_recording_on 0 lfrec setrec 1 1
expect set_recording_on_again 0 lfrec setrec 1 1
echo "$(app1)" | grep -q "^recording=1 dropped=0 " &&
	pass get_app_recording_on || fail get_app_recording_on "$(app1)"

# ---- transfer 1: lf_tcp on Aurora, records read by a listener -------------
rm -f /tmp/recstop
lfrec listen 1 /tmp/recstop 250 > /tmp/listen.out 2>&1 &
listen_pid=$!
for i in 1 2 3 4 5 6 7 8 9 10; do
	grep -q listening /tmp/listen.out && break
	sleep 0.5
done
mis0=$(tcpp monitor_intervals) ans0=$(tcpp model_answers) fb0=$(tcpp fallbacks)
s0=$(app1)
xfer lf_tcp_transfer_20MiB $LFT_BIG
mis1=$(tcpp monitor_intervals) ans1=$(tcpp model_answers) fb1=$(tcpp fallbacks)
s1=$(app1)
expect set_recording_off_ships_rest 0 lfrec setrec 1 0
touch /tmp/recstop
wait $listen_pid
listen_rc=$?
LISTEN=$(tail -1 /tmp/listen.out)
s2=$(app1)
mis=$((mis1 - mis0)) ans=$((ans1 - ans0)) fb=$((fb1 - fb0))
q=$(($(num queries "$s1") - $(num queries "$s0")))
echo "info: transfer 1: MIs=$mis answers=$ans fallbacks=$fb app1 queries=$q"
echo "info: $LISTEN; before: $s0; after: $s2"
[ "$mis" -ge 50 ] && [ "$fb" -eq 0 ] && [ "$ans" -eq "$mis" ] &&
	[ "$q" -ge "$mis" ] &&
	pass lf_tcp_one_query_per_monitor_interval ||
	fail lf_tcp_one_query_per_monitor_interval "MIs=$mis answers=$ans fallbacks=$fb queries=$q"
[ "$listen_rc" -eq 0 ] &&
	echo "$LISTEN" | grep -q " in=30 out=1 uuid=1 mixed_uuid=0 bad=0 " &&
	[ "$(num infer_checked "$LISTEN")" -gt 0 ] &&
	pass records_arrive_and_match_infer ||
	fail records_arrive_and_match_infer "rc=$listen_rc $LISTEN"
recs=$(num records "$LISTEN")
drop=$(($(num dropped "$s2") - $(num dropped "$s0")))
[ "$recs" -gt 0 ] && [ $((recs + drop)) -eq "$ans" ] &&
	pass records_plus_dropped_equal_queries ||
	fail records_plus_dropped_equal_queries "records=$recs dropped=$drop answers=$ans"
echo "$s2" | grep -q "^recording=0 " && pass get_app_recording_off ||
	fail get_app_recording_off "$s2"

# ---- records at rate: full batches, then a burst that overfills a ring ----
lfrec setrec 1 1
rm -f /tmp/recstop
lfrec listen 1 /tmp/recstop 120 > /tmp/listen.out 2>&1 &
listen_pid=$!
for i in 1 2 3 4 5 6 7 8 9 10; do
	grep -q listening /tmp/listen.out && break
	sleep 0.5
done
# rec_load RUN-ARGS: load lf_rec_load, wait for it, print "ok dropped".
rec_load() {
	d0=$(num dropped "$(app1)")
	insmod $M/lf_rec_load.ko "$@"
	for i in $(seq 1 100); do
		[ "$(cat $L/done)" = Y ] && break
		sleep 0.2
	done
	sleep 0.5	# the last partial batch
	echo "$(cat $L/ok) $(($(num dropped "$(app1)") - d0)) $(cat $L/failed)"
	rmmod lf_rec_load
}
set -- $(rec_load burst=16 bursts=250)
ok_a=$1 drop_a=$2 failed_a=$3
set -- $(rec_load burst=512 bursts=3)
ok_b=$1 drop_b=$2 failed_b=$3
lfrec setrec 1 0
touch /tmp/recstop
wait $listen_pid
listen_rc=$?
LISTEN=$(tail -1 /tmp/listen.out)
echo "info: load a: ok=$ok_a dropped=$drop_a; load b: ok=$ok_b dropped=$drop_b; $LISTEN"
[ "$listen_rc" -eq 0 ] && [ "$(num max_batch "$LISTEN")" -eq 64 ] &&
	[ "$failed_a" -eq 0 ] && [ "$ok_a" -eq 4000 ] &&
	pass records_full_batches_of_64 ||
	fail records_full_batches_of_64 "rc=$listen_rc ok=$ok_a failed=$failed_a $LISTEN"
[ "$ok_b" -eq 1536 ] && [ "$drop_b" -gt 0 ] &&
	[ $(($(num records "$LISTEN") + drop_a + drop_b)) -eq $((ok_a + ok_b)) ] &&
	pass records_dropped_when_ring_full ||
	fail records_dropped_when_ring_full "ok=$ok_b dropped=$drop_b records=$(num records "$LISTEN") (load a: ok=$ok_a dropped=$drop_a)"

# ---- nobody reads: no listener, then one that never reads -----------------
lfrec setrec 1 1
d0=$(num dropped "$(app1)") a0=$(tcpp model_answers)
xfer lf_tcp_transfer_no_listener $LFT_SMALL
lfrec setrec 1 0
d1=$(num dropped "$(app1)") a1=$(tcpp model_answers)
[ $((a1 - a0)) -gt 0 ] && [ $((d1 - d0)) -eq $((a1 - a0)) ] &&
	pass records_dropped_without_listener ||
	fail records_dropped_without_listener "dropped +$((d1 - d0)), answers +$((a1 - a0))"
lfrec setrec 1 1
lfrec stall 1 600 > /tmp/stall.out 2>&1 &
stall_pid=$!
sleep 1
d0=$(num dropped "$(app1)") a0=$(tcpp model_answers)
xfer lf_tcp_transfer_stalled_listener $LFT_SMALL
lfrec setrec 1 0
d1=$(num dropped "$(app1)") a1=$(tcpp model_answers)
kill $stall_pid
wait $stall_pid 2>/dev/null
[ $((d1 - d0)) -gt 0 ] && [ $((d1 - d0)) -le $((a1 - a0)) ] &&
	pass records_dropped_when_listener_stalls ||
	fail records_dropped_when_listener_stalls "dropped +$((d1 - d0)), answers +$((a1 - a0)); $(cat /tmp/stall.out)"

# ---- fallback: the snapshot goes away mid-transfer, then comes back --------
fb0=$(tcpp fallbacks) ans0=$(tcpp model_answers)
t0=$(date +%s)
xfer_start $LFT_FALLBACK
for i in $(seq 1 100); do
	[ $(($(tcpp model_answers) - ans0)) -ge 20 ] && break
	sleep 0.2
done
run rmmod $AUR
rm_rc=$RC
loaded $AUR && [ "$rm_rc" -ne 0 ] &&
	pass rmmod_active_aurora_refused_mid_transfer ||
	fail rmmod_active_aurora_refused_mid_transfer "rc=$rm_rc $OUT"
expect app_destroy_mid_transfer 0 lfnl destroy 1
expect rmmod_evicted_aurora_mid_transfer 0 rmmod $AUR
sleep 3
fb1=$(tcpp fallbacks) ans1=$(tcpp model_answers)
run insmod $M/lf_model_1.ko
sleep 3
ans2=$(tcpp model_answers) fb2=$(tcpp fallbacks)
kill -0 $send_pid 2>/dev/null && still=1 || still=0
xfer_wait
secs=$(($(date +%s) - t0))
echo "info: fallback transfer: ${secs}s; answers $ans0 -> $ans1 (snapshot gone) -> $ans2 (back); fallbacks $fb0 -> $fb1 -> $fb2; sender still running when it came back: $still"
[ "$XFER_RC" -eq 0 ] &&
	echo "$XFER" | grep -q "^send bytes=$LFT_FALLBACK counted=$LFT_FALLBACK .* cc=lf_tcp " &&
	pass lf_tcp_transfer_survives_snapshot_removal ||
	fail lf_tcp_transfer_survives_snapshot_removal "rc=$XFER_RC $XFER"
[ "$fb1" -gt "$fb0" ] && pass lf_tcp_falls_back_without_snapshot ||
	fail lf_tcp_falls_back_without_snapshot "fallbacks $fb0 -> $fb1"
[ "$still" -eq 1 ] && [ "$ans2" -gt "$ans1" ] &&
	[ "$(lfnl active 1)" = "uuid=1 slot=0" ] &&
	pass lf_tcp_resumes_with_new_snapshot ||
	fail lf_tcp_resumes_with_new_snapshot "still=$still answers $ans1 -> $ans2; $(lfnl status)"

# ---- teardown ----------------------------------------------------------------
$IP netns del rx
for i in $(seq 1 50); do
	rmmod lf_tcp 2>/dev/null && break
	sleep 0.2	# the last socket is still being torn down
done
lfnl destroy 1
rmmod $AUR
rmmod lf_kernel
rmmod sch_netem sch_tbf veth
klog
! loaded lf_tcp && ! loaded lf_kernel && ! loaded $AUR &&
	pass lf_tcp_teardown || fail lf_tcp_teardown "$(cat /proc/modules)"
