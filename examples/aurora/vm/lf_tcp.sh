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
LFT_FALLBACK=$((256 * 1024 * 1024))	# a cap: stopped once the snapshot is back
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
# xfer_start BYTES [STOPFILE]: lf_bulk send stops early once STOPFILE exists.
xfer_start() {
	$IP netns exec rx lf_bulk recv 5001 > /tmp/recv.out 2>&1 &
	recv_pid=$!
	# shellcheck disable=SC2086
	lf_bulk send 10.9.0.2 5001 "$1" lf_tcp ${2:-} > /tmp/send.out 2>&1 &
	send_pid=$!
}
xfer_wait() {
	wait $send_pid
	XFER_RC=$?
	wait $recv_pid
	XFER=$(cat /tmp/send.out)
	echo "info: $XFER / $(cat /tmp/recv.out)"
}
# xfer_stopped_ok: the transfer xfer_wait ended was stopped early (its
# stop file) and every byte it sent was counted by the receiver.
xfer_stopped_ok() {
	set -- $(echo "$XFER" | sed -n 's/^send bytes=\([0-9]*\) counted=\([0-9]*\) .* cc=lf_tcp .* stopped=early$/\1 \2/p')
	[ "$XFER_RC" -eq 0 ] && [ -n "${1:-}" ] && [ "$1" -gt 0 ] && [ "$1" = "$2" ]
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
rm -f /tmp/fb_stop
xfer_start $LFT_FALLBACK /tmp/fb_stop
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
# lf_tcp holds a claim on app 1 (its buffers are sized by 30/1): the
# destroy released the snapshots but kept the app, so it cannot come back
# with other lengths under lf_tcp's feet.
lfnl status | grep -q "^app=1 name=aurora in=30 out=1 active_slot=none " &&
	pass app_destroy_keeps_claimed_app ||
	fail app_destroy_keeps_claimed_app "$(lfnl status)"
expect app_recreate_other_lengths_refused $EEXIST lfnl create 1 other 2 100
expect rmmod_evicted_aurora_mid_transfer 0 rmmod $AUR
sleep 3
fb1=$(tcpp fallbacks) ans1=$(tcpp model_answers)
run insmod $M/lf_model_1.ko
sleep 3
ans2=$(tcpp model_answers) fb2=$(tcpp fallbacks)
kill -0 $send_pid 2>/dev/null && still=1 || still=0
touch /tmp/fb_stop
xfer_wait
secs=$(($(date +%s) - t0))
echo "info: fallback transfer: ${secs}s; answers $ans0 -> $ans1 (snapshot gone) -> $ans2 (back); fallbacks $fb0 -> $fb1 -> $fb2; sender still running when it came back: $still"
xfer_stopped_ok &&
	pass lf_tcp_transfer_survives_snapshot_removal ||
	fail lf_tcp_transfer_survives_snapshot_removal "rc=$XFER_RC $XFER"
[ "$fb1" -gt "$fb0" ] && pass lf_tcp_falls_back_without_snapshot ||
	fail lf_tcp_falls_back_without_snapshot "fallbacks $fb0 -> $fb1"
[ "$still" -eq 1 ] && [ "$ans2" -gt "$ans1" ] &&
	[ "$(lfnl active 1)" = "uuid=1 slot=0" ] &&
	pass lf_tcp_resumes_with_new_snapshot ||
	fail lf_tcp_resumes_with_new_snapshot "still=$still answers $ans1 -> $ans2; $(lfnl status)"

# ---- lfc collect and lfc adapt on one live transfer -----------------------
# The real lfc: `lfc collect` records app 1 while lf_rec_load runs (320
# queries: full 64-record batches) and then one lf_tcp transfer; in the
# middle of it `lfc adapt --once` judges a candidate on 64 live records
# and installs it (uuid 2, prebuilt on the host: the guest has no kernel
# headers; interpreter: no C compiler). The file lfc collect wrote goes
# to the host through the console (LF_VM_FILE), where replay.sh replays
# every record through `lfc run --engine c` of the snapshot that answered.
# The transfer lasts as long as the two adapts take (they are slower on a
# loaded host: 48 MiB, about 22 s at lf_tcp's 2.3 MB/s, once ended before
# the second adapt did) and stops early once the new snapshot answered 20
# MIs; LFT_ADAPT only caps it (about 115 s at 2.3 MB/s).
LFT_ADAPT=$((256 * 1024 * 1024))
AD=$M/adapt
ADAPT_RANGE=-2:12	# as snapshots.sh: adapt checks the prebuilt digest
# The drift limit of adapt's fidelity and of the canary (--max-drift-rate)
# and the drift rates the checks expect. On the debug kernel (KASAN,
# lockdep) lf_tcp's transfers run at about 3 Mbit/s and its inputs leave
# Aurora's declared domain more often: 5 of 64 shadow samples (7.8 %) in
# the whole run on 79ee5e9, above the default 0.05, so the candidate was
# judged on all of them, clamped, and refused. There the limit is 0.25
# and the drift rates are printed, not required to be 0.
if [ -e /lf/debug-kernel ]; then
	DRIFT_LIMIT=0.25 DRIFT_RATE_RE='[0-9.]+' DRIFT_N_RE='[0-9]+'
else
	DRIFT_LIMIT=0.05 DRIFT_RATE_RE='0\.0000' DRIFT_N_RE='0'
fi
why=
command -v lfc > /dev/null || why="$why no lfc in the guest;"
for f in aurora_v2.onnx representative_dataset.npy lf_model_2.ko; do
	[ -s $AD/$f ] || why="$why no $AD/$f;"
done
[ "$(lfnl active 1)" = "uuid=1 slot=0" ] || why="$why app 1 active: $(lfnl active 1);"
echo "$(app1)" | grep -q "^recording=0 " || why="$why $(app1);"
if [ -n "$why" ]; then
	fail lfc_live_setup "${why% ;}; lfc collect/adapt checks not run"
else
	pass lfc_live_setup
	rm -f /tmp/rec.csv /tmp/lrstop
	lfc collect --app 1 --seconds 600 -o /tmp/rec.csv > /tmp/collect.out 2>&1 &
	col_pid=$!
	# lfrec listens too: it sees the messages and their sizes.
	lfrec listen 1 /tmp/lrstop 600 > /tmp/listen3.out 2>&1 &
	lr_pid=$!
	on=0
	for i in $(seq 1 80); do
		echo "$(app1)" | grep -q "^recording=1 " &&
			grep -q listening /tmp/listen3.out && { on=1; break; }
		sleep 0.25
	done
	[ "$on" -eq 1 ] && pass lfc_collect_turns_recording_on ||
		fail lfc_collect_turns_recording_on "$(app1); $(cat /tmp/collect.out)"
	mis0=$(tcpp monitor_intervals) ans0=$(tcpp model_answers)
	fb0=$(tcpp fallbacks) s0=$(app1)
	set -- $(rec_load burst=16 bursts=20)
	ok_l=$1 failed_l=$3
	rm -f /tmp/xfer_stop
	xfer_start $LFT_ADAPT /tmp/xfer_stop
	for i in $(seq 1 150); do
		[ $(($(tcpp model_answers) - ans0)) -ge 100 ] && break
		sleep 0.2
	done
	ans_a=$(tcpp model_answers)
	# First a candidate adapt must refuse: the network quantized from the
	# 60 calibration rows alone (TFLite-style PTQ ranges) saturates on
	# lf_tcp's live inputs (errors ~1 against the float model);
	# --domain-margin 0 keeps the rows' own range, as PTQ does.
	mkdir -p /tmp/watch_ptq /tmp/watch
	cp $AD/aurora_v2.onnx /tmp/watch_ptq/aurora_ptq.onnx
	run lfc adapt --app 1 --watch /tmp/watch_ptq --once --engine interp \
		--prebuilt $AD --samples 64 --calibration $AD/representative_dataset.npy \
		--domain-margin 0
	echo "$OUT" | sed 's/^/info: /'
	[ "$RC" -eq 3 ] &&
		echo "$OUT" | grep -q '^adapt: candidate aurora_ptq.onnx -> uuid 2: fidelity max [0-9.]* (<= 0.05) FAILED, .* -> rejected: fidelity error [0-9.]* exceeds 0.05; running snapshot untouched$' &&
		[ "$(lfnl active 1)" = "uuid=1 slot=0" ] && ! loaded lf_model_2 &&
		lfnl status | grep -c "^app=1 slot=" | grep -qx 1 &&
		pass lfc_adapt_rejects_saturating_candidate ||
		fail lfc_adapt_rejects_saturating_candidate "rc=$RC active $(lfnl active 1): $OUT"
	cp $AD/aurora_v2.onnx /tmp/watch/
	t0=$(date +%s)
	run lfc adapt --app 1 --watch /tmp/watch --once --engine interp \
		--prebuilt $AD --samples 64 --max-drift-rate $DRIFT_LIMIT \
		--calibration $AD/representative_dataset.npy --input-range $ADAPT_RANGE
	adapt_rc=$RC adapt_out=$OUT adapt_secs=$(($(date +%s) - t0))
	kill -0 $send_pid 2>/dev/null && still=1 || still=0
	ans_b=$(tcpp model_answers) act=$(lfnl active 1)
	echo "$adapt_out" | sed 's/^/info: /'
	decision=$(echo "$adapt_out" | grep '^adapt: candidate aurora_v2.onnx -> uuid 2: ')
	[ "$adapt_rc" -eq 0 ] &&
		echo "$decision" | grep -q ': fidelity max [0-9.]* (<= 0.05) ok, stability mean [0-9.]* (<= 1) ok -> installed lf_model_2 (lf_model_2.ko, active), standby uuid 1$' &&
		[ "$act" = "uuid=2 slot=1" ] && loaded lf_model_2 &&
		lfnl status | grep -q "^app=1 slot=0 uuid=1 .*active=0" &&
		pass lfc_adapt_installs_candidate ||
		fail lfc_adapt_installs_candidate "rc=$adapt_rc active $act; $adapt_out"
	[ "$still" -eq 1 ] && [ $((ans_a - ans0)) -ge 100 ] &&
		pass lfc_adapt_swaps_mid_transfer ||
		fail lfc_adapt_swaps_mid_transfer "sender running after adapt: $still; answers before adapt: $((ans_a - ans0))"
	# Some MIs on the new snapshot before the flow ends.
	for i in $(seq 1 100); do
		[ $(($(tcpp model_answers) - ans_b)) -ge 20 ] && break
		kill -0 $send_pid 2>/dev/null || break
		sleep 0.2
	done
	touch /tmp/xfer_stop
	xfer_wait
	mis1=$(tcpp monitor_intervals) ans1=$(tcpp model_answers)
	fb1=$(tcpp fallbacks) s1=$(app1)
	kill -INT $col_pid
	wait $col_pid
	col_rc=$?
	touch /tmp/lrstop
	wait $lr_pid
	s2=$(app1)
	COL=$(cat /tmp/collect.out)
	LISTEN=$(tail -1 /tmp/listen3.out)
	mis=$((mis1 - mis0)) ans=$((ans1 - ans0)) fb=$((fb1 - fb0))
	q=$(($(num queries "$s1") - $(num queries "$s0")))
	q2=$(lfnl status | sed -n 's/^app=1 slot=1 uuid=2 .* queries=\([0-9]*\) .*/\1/p')
	echo "info: adapt transfer: ${adapt_secs}s in lfc adapt; MIs=$mis answers=$ans fallbacks=$fb app1 queries=$q (lf_rec_load $ok_l) uuid 2 answered $q2; $XFER"
	echo "info: lfc collect: $COL"
	echo "info: $LISTEN; before: $s0; after: $s2"
	# Stopped early, after the swap: every byte sent was counted.
	xfer_stopped_ok &&
		pass lf_tcp_transfer_across_adapt ||
		fail lf_tcp_transfer_across_adapt "rc=$XFER_RC $XFER"
	# lf_tcp asks the model once per MI; the swap leaves none unanswered.
	[ "$mis" -ge 100 ] && [ "$fb" -eq 0 ] && [ "$ans" -eq "$mis" ] &&
		[ "$failed_l" -eq 0 ] && [ "$q" -ge $((mis + ok_l)) ] &&
		[ -n "$q2" ] && [ "$q2" -gt 0 ] &&
		pass lf_tcp_every_mi_answered_across_adapt ||
		fail lf_tcp_every_mi_answered_across_adapt "MIs=$mis answers=$ans fallbacks=$fb queries=$q (load $ok_l, failed $failed_l), uuid 2 slot queries '$q2'"
	# "app 1: N records in B batches (largest L) -> /tmp/rec.csv; dropped by lf_kernel: D (interrupted)"
	colre='^app 1: \([0-9]*\) records in \([0-9]*\) batches (largest \([0-9]*\)) -> \/tmp\/rec.csv; dropped by lf_kernel: \([0-9]*\) (interrupted)$'
	nrec=$(echo "$COL" | sed -n "s/$colre/\\1/p")
	nbig=$(echo "$COL" | sed -n "s/$colre/\\3/p")
	ndrop=$(echo "$COL" | sed -n "s/$colre/\\4/p")
	lines=$(($(cat /tmp/rec.csv 2>/dev/null | grep -c .) - 1))
	[ "$col_rc" -eq 0 ] && [ -n "$nrec" ] && [ "$nrec" -ge 64 ] &&
		[ "$lines" -eq "$nrec" ] && ! echo "$COL" | grep -q warning &&
		pass lfc_collect_records ||
		fail lfc_collect_records "rc=$col_rc, file rows $lines: $COL"
	# Every answer while it ran is a record it wrote or one lf_kernel
	# counted as dropped: nothing lost, nothing left in a buffer.
	[ -n "$nrec" ] && [ -n "$ndrop" ] &&
		[ $((nrec + ndrop)) -eq $((ans + ok_l)) ] &&
		pass lfc_collect_accounts_for_every_answer ||
		fail lfc_collect_accounts_for_every_answer "records '$nrec' + dropped '$ndrop' != lf_tcp answers $ans + lf_rec_load $ok_l"
	# lfc collect itself received a full 64-record batch, and the same
	# stream as lfrec's.
	[ "$nbig" = 64 ] && [ "$(num max_batch "$LISTEN")" = 64 ] &&
		[ "$(num records "$LISTEN")" = "$nrec" ] &&
		pass lfc_collect_got_full_batches ||
		fail lfc_collect_got_full_batches "lfc collect $nrec records; lfrec: $LISTEN"
	# Records of 1 (lf_rec_load, then the flow) until the swap, then of 2;
	# one flow asks in order, so by timestamp no 1 follows a 2.
	swap=$(awk -F, 'NR > 1 { n[$32]++
		if ($32 == 1 && $33 > last1) last1 = $33
		if ($32 == 2 && (first2 == "" || $33 < first2)) first2 = $33 }
		END { printf "%d %d %d %s", n[1], n[2], NR - 1 - n[1] - n[2],
			(first2 != "" && last1 < first2) ? "ordered" : "mixed" }' /tmp/rec.csv)
	set -- $swap
	[ "$1" -gt 0 ] && [ "$2" -gt 0 ] && [ "$3" -eq 0 ] && [ "$4" = ordered ] &&
		pass lfc_collect_sees_the_swap ||
		fail lfc_collect_sees_the_swap "uuid 1: $1 records, uuid 2: $2, others: $3, $4"
	echo "$s2" | grep -q "^recording=0 " && pass lfc_collect_turns_recording_off ||
		fail lfc_collect_turns_recording_off "$s2"
	# For replay.sh on the host.
	echo "LF_VM_FILE records.csv.gz"
	gzip -c /tmp/rec.csv | base64
	echo "LF_VM_FILE_END"
	# Issue 11: lfc adapt --watch --shadow on one more transfer
	# (build-hook.sh puts shadow.sh in /lf).
	# shellcheck source=shadow.sh
	if [ -f $M/shadow.sh ]; then
		. $M/shadow.sh
	else
		fail shadow_setup "no $M/shadow.sh"
	fi
fi

# ---- teardown ----------------------------------------------------------------
$IP netns del rx
for i in $(seq 1 50); do
	rmmod lf_tcp 2>/dev/null && break
	sleep 0.2	# the last socket is still being torn down
done
lfnl destroy 1
rmmod $AUR
for m in lf_model_2 lf_model_3 lf_model_5 lf_model_6; do
	loaded $m && rmmod $m
done
rmmod lf_kernel
rmmod sch_netem sch_tbf veth
klog
! loaded lf_tcp && ! loaded lf_kernel && ! loaded $AUR && ! loaded lf_model_2 &&
	! loaded lf_model_3 && ! loaded lf_model_6 &&
	pass lf_tcp_teardown || fail lf_tcp_teardown "$(cat /proc/modules)"
