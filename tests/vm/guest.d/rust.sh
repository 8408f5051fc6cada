# SPDX-License-Identifier: GPL-2.0
#
# Rust snapshots in a real kernel (issue 9): lf_model_4.ko and
# lf_model_5.ko are Aurora compiled with `lfc compile --backend rust`
# (aurora-build.sh, on the host) with the options of the C snapshots 2
# (int16) and 3 (int8). Sourced by guest.sh when run.sh was given
# LF_VM_LFC, with lf_kernel unloaded; leaves it unloaded.
#
# - `lfc infer` on a Rust snapshot prints byte for byte the host's
#   `lfc run --engine c` (expect_4.csv, expect_5.csv);
# - a C snapshot (1) and a Rust one (4) switched active/standby by `lfc
#   rollback` while `lfc infer` runs in a loop: no query fails, every
#   answer is one of the two snapshots' exact output, both answer;
# - lf_tcp runs a transfer on the Rust snapshot (its answers, no
#   fallbacks), when examples/aurora/vm's modules are there;
# - the kernel log of all this has no warning, BUG or oops.

A=$M/aurora
RS_ROUNDS=${RS_ROUNDS:-40}

rs_mod() { sed -n "s/^$1 //p" $A/modules; }

# rs_lines_of OUT: "bad only1 only4" of OUT's lines against expect_1/_4.
rs_lines_of() {
	awk 'FILENAME == ARGV[1] { a[FNR] = $0; next }
	     FILENAME == ARGV[2] { b[FNR] = $0; next }
	     { if ($0 != a[FNR] && $0 != b[FNR]) bad++
	       else if (a[FNR] != b[FNR]) { if ($0 == a[FNR]) n1++; else n4++ } }
	     END { printf "%d %d %d\n", bad, n1, n4 }' \
		$A/expect_1.csv $A/expect_4.csv "$1"
}

why=
for f in lf_kernel.ko lf_model_1.ko lf_model_4.ko lf_model_5.ko \
	 expect_1.csv expect_4.csv expect_5.csv data.csv modules; do
	[ -s "$A/$f" ] || why="$why $f"
done
if [ -n "$why" ]; then
	fail rust_inputs_present "missing:$why (see aurora-build.sh's output on the host); Rust checks not run"
else
	pass rust_inputs_present
	klog
	: > /tmp/rust.klog
	run insmod $A/lf_kernel.ko
	run insmod $A/lf_model_1.ko
	rc1=$RC
	run insmod $A/lf_model_4.ko
	klog
	cat "$KLOG_NEW" >> /tmp/rust.klog
	if [ "$rc1" -eq 0 ] && [ "$RC" -eq 0 ] &&
	   [ "$(active 1)" = "uuid=4 slot=1" ] &&
	   klog_has "app 1: Current slot 1 is registered with model: 4 aurora"; then
		pass rust_snapshot_registers_active
	else
		fail rust_snapshot_registers_active "insmod C rc=$rc1, Rust rc=$RC $OUT; active: $(active 1)"
	fi

	lfc infer --app 1 --input $A/data.csv > /tmp/rs_out.csv 2> /tmp/rs_err
	rc=$?
	[ "$rc" -eq 0 ] && cmp -s /tmp/rs_out.csv $A/expect_4.csv &&
		pass rust_infer_matches_host_c ||
		fail rust_infer_matches_host_c "rc=$rc $(head -c 300 /tmp/rs_err); $(diff /tmp/rs_out.csv $A/expect_4.csv | head -4 | tr '\n' ' ')"

	# ---- C <-> Rust active/standby switching under load ----------------
	rm -f /tmp/rs.stop
	(
		runs=0 failed=0 bad=0 n1=0 n4=0
		while ! [ -e /tmp/rs.stop ]; do
			if lfc infer --app 1 --input $A/data.csv > /tmp/rs_load.csv 2>> /tmp/rs_load.err; then
				set -- $(rs_lines_of /tmp/rs_load.csv)
				bad=$((bad + $1)) n1=$((n1 + $2)) n4=$((n4 + $3))
				[ "$(grep -c . /tmp/rs_load.csv)" -eq "$(grep -c . $A/data.csv)" ] ||
					bad=$((bad + 1))
			else
				failed=$((failed + 1))
			fi
			runs=$((runs + 1))
		done
		echo "runs=$runs failed=$failed bad=$bad c_rows=$n1 rust_rows=$n4"
	) > /tmp/rs_load.out 2>&1 &
	load_pid=$!
	sw_fail=0 i=0
	while [ "$i" -lt "$RS_ROUNDS" ]; do
		lfc rollback --app 1 > /dev/null 2>&1 || sw_fail=$((sw_fail + 1))
		i=$((i + 1))
		sleep 0.1
	done
	touch /tmp/rs.stop
	wait $load_pid
	LOAD=$(cat /tmp/rs_load.out)
	echo "info: rust switching: $RS_ROUNDS rollbacks ($sw_fail failed); load: $LOAD"
	num() { echo " $2" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
	if [ "$sw_fail" -eq 0 ] && [ "$(num failed "$LOAD")" = 0 ] &&
	   [ "$(num bad "$LOAD")" = 0 ] && [ "$(num runs "$LOAD")" -gt 0 ] &&
	   [ "$(num c_rows "$LOAD")" -gt 0 ] && [ "$(num rust_rows "$LOAD")" -gt 0 ]; then
		pass rust_c_switching_under_load_no_failed_query
	else
		fail rust_c_switching_under_load_no_failed_query "$sw_fail rollbacks failed; $LOAD; $(head -c 300 /tmp/rs_load.err)"
	fi
	# An even number of rollbacks: the Rust snapshot is active again.
	[ "$(active 1)" = "uuid=4 slot=1" ] && pass rust_active_after_even_rollbacks ||
		fail rust_active_after_even_rollbacks "active: $(active 1)"

	# ---- the int8 Rust snapshot replaces the C standby ------------------
	klog
	run insmod $A/lf_model_5.ko
	klog
	cat "$KLOG_NEW" >> /tmp/rust.klog
	lfc infer --app 1 --input $A/data.csv > /tmp/rs_out.csv 2> /tmp/rs_err
	rc=$?
	[ "$RC" -eq 0 ] && [ "$rc" -eq 0 ] && [ "$(active 1)" = "uuid=5 slot=0" ] &&
		cmp -s /tmp/rs_out.csv $A/expect_5.csv &&
		pass rust_int8_infer_matches_host_c ||
		fail rust_int8_infer_matches_host_c "insmod rc=$RC $OUT; infer rc=$rc; active $(active 1); $(diff /tmp/rs_out.csv $A/expect_5.csv | head -4 | tr '\n' ' ')"

	# ---- teardown --------------------------------------------------------
	run lfc app destroy --app 1
	rcd=$RC
	run rmmod "$(rs_mod 1)" "$(rs_mod 4)" "$(rs_mod 5)"
	rcm=$RC
	[ "$rcd" -eq 0 ] && [ "$rcm" -eq 0 ] && pass rust_snapshots_unload ||
		fail rust_snapshots_unload "app destroy rc=$rcd, rmmod rc=$rcm $OUT"

	# ---- lf_tcp on the Rust snapshot ------------------------------------
	why=
	for f in lf_tcp.ko veth.ko sch_netem.ko sch_tbf.ko; do
		[ -s "$M/$f" ] || why="$why $f"
	done
	command -v lf_bulk > /dev/null || why="$why lf_bulk"
	if [ -n "$why" ]; then
		fail rust_lf_tcp_transfer "missing:$why (examples/aurora/vm's build hook)"
	else
		for mod in veth sch_netem sch_tbf; do insmod $M/$mod.ko; done
		insmod $M/lf_tcp.ko
		run insmod $A/lf_model_4.ko
		P=/sys/module/lf_tcp/parameters
		mkdir -p /run /var/run
		/bin/ip netns add rsrx &&
			/bin/ip link add rsveth0 type veth peer name rsveth1 &&
			/bin/ip link set rsveth1 netns rsrx &&
			/bin/ip addr add 10.9.7.1/24 dev rsveth0 && /bin/ip link set rsveth0 up &&
			/bin/ip -n rsrx addr add 10.9.7.2/24 dev rsveth1 &&
			/bin/ip -n rsrx link set rsveth1 up && /bin/ip -n rsrx link set lo up &&
			/bin/tc qdisc add dev rsveth0 root tbf rate 20mbit burst 32kb latency 100ms &&
			/bin/tc -n rsrx qdisc add dev rsveth1 root netem delay 20ms &&
			ping -c 2 -W 2 10.9.7.2 > /tmp/rs_ping.out 2>&1
		net=$?
		ans0=$(cat $P/model_answers) fb0=$(cat $P/fallbacks)
		bytes=$((4 * 1024 * 1024))
		/bin/ip netns exec rsrx lf_bulk recv 5007 > /tmp/rs_recv.out 2>&1 &
		recv_pid=$!
		lf_bulk send 10.9.7.2 5007 $bytes lf_tcp > /tmp/rs_send.out 2>&1
		src=$?
		wait $recv_pid
		ans1=$(cat $P/model_answers) fb1=$(cat $P/fallbacks)
		echo "info: rust lf_tcp: $(cat /tmp/rs_send.out); answers $ans0 -> $ans1, fallbacks $fb0 -> $fb1"
		[ "$net" -eq 0 ] && [ "$RC" -eq 0 ] && [ "$src" -eq 0 ] &&
			[ "$(active 1)" = "uuid=4 slot=0" ] &&
			grep -q "^send bytes=$bytes counted=$bytes .* cc=lf_tcp " /tmp/rs_send.out &&
			[ "$ans1" -gt "$ans0" ] && [ "$fb1" -eq "$fb0" ] &&
			pass rust_lf_tcp_transfer ||
			fail rust_lf_tcp_transfer "net=$net insmod=$RC $OUT send=$src active $(active 1); $(cat /tmp/rs_send.out) answers $ans0 -> $ans1 fallbacks $fb0 -> $fb1"
		/bin/ip netns del rsrx
		for i in $(seq 1 50); do
			rmmod lf_tcp 2>/dev/null && break
			sleep 0.2
		done
		lfnl destroy 1 > /dev/null 2>&1
		rmmod "$(rs_mod 4)"
		rmmod sch_netem sch_tbf veth
	fi
	rmmod lf_kernel
	klog
	cat "$KLOG_NEW" >> /tmp/rust.klog
	bad=$(grep -E "BUG|WARNING|Oops|Call Trace|general protection|objtool|unknown relocation|Unknown symbol" /tmp/rust.klog)
	[ -z "$bad" ] && ! loaded lf_kernel && pass rust_dmesg_clean ||
		fail rust_dmesg_clean "$(echo "$bad" | head -5); lf_kernel loaded: $(loaded lf_kernel && echo yes)"
fi
for n in 1 4 5; do
	m=$(rs_mod $n 2>/dev/null)
	[ -n "$m" ] && loaded "$m" && { lfnl destroy 1 > /dev/null 2>&1; rmmod "$m"; }
done
loaded lf_tcp && rmmod lf_tcp
loaded lf_kernel && rmmod lf_kernel
true
