# SPDX-License-Identifier: GPL-2.0
#
# Guest checks of issue 11 (shadow evaluation, canary, the adaptation
# daemon), sourced by lf_tcp.sh after its lfc collect/adapt checks, with
# lf_tcp on app 1 (uuid 2 active, uuid 1 standby), the network up and
# xfer/tcpp/app1/num from lf_tcp.sh.
#
# In one lf_tcp transfer, `lfc adapt --watch --shadow` (the real lfc, as a
# daemon in the background) receives three files, one at a time:
#   aurora_good.onnx      uuid 3: staged, shadowed on live queries, promoted,
#                         survives its canary window
#   corrupt.onnx          uuid 4: a truncated model: rejected by the compiler
#   aurora_unstable.onnx  uuid 5: staged, shadowed, rejected on stability
#                         (its action is Aurora's + 2.0), unloaded
# then gets SIGTERM. The transfer completes, lf_tcp never falls back, the
# daemon exits 0 with a consistent state file, the kernel log is clean.
# The candidates are prebuilt on the host (build-hook.sh, snapshots.sh).

# The transfer outlasts the daemon's three decisions and canary.sh's run:
# it is stopped (lf_bulk's stop file) once canary.sh returns. A fixed
# size did not always (128 MiB, 60 s, once ended before canary.sh's
# canary window, which then saw 0 queries); 1 GiB only caps it (about
# 460 s at lf_tcp's 2.3 MB/s here).
SH_BYTES=$((1024 * 1024 * 1024))
SW=/tmp/watch_shadow
SH_LOG=/tmp/adapt_shadow.log
SH_BAD='BUG|WARNING|Oops|RCU stall|Call Trace|general protection|KASAN|UBSAN'

# sh_wait PATTERN SECONDS: wait until the daemon's log has a line matching
# the extended regex PATTERN; 0 if it came.
sh_wait() {
	for i in $(seq 1 $(($2 * 5))); do
		grep -Eq "$1" $SH_LOG && return 0
		kill -0 $sh_pid 2>/dev/null || break
		sleep 0.2
	done
	grep -Eq "$1" $SH_LOG
}

# slot_of UUID: "ROLE QUERIES ERRORS DRIFT GUARDHITS" of uuid UUID's slot
# as `lfc status` shows it (empty when it is in no slot); slot_role UUID:
# its "[active]" or "[standby]".
slot_of() {
	lfc status 2>&1 | awk -v u="$1" '
		$1 == "slot" && $4 == "uuid" && $5 == u {
			role = $3; getline; getline
			print role, $2, $4, $6, $8 }'
}
slot_role() { slot_of "$1" | cut -d' ' -f1; }

# sh_drop FILE [SRC]: put FILE into the watched directory the way a
# trainer should (write a hidden name, then rename), then wait for the
# daemon's decision on it; the decision line in $DEC.
sh_drop() {
	cp "${2:-$AD/$1}" "$SW/.$1.tmp" && mv "$SW/.$1.tmp" "$SW/$1"
	sh_wait "^adapt: candidate $1 -> " 240
	DEC=$(grep "^adapt: candidate $1 -> " $SH_LOG)
	echo "info: decision after $(($(date +%s) - t0))s: $DEC"
}

why=
for f in aurora_good.onnx aurora_unstable.onnx aurora_tight.onnx \
	lf_model_3.ko lf_model_5.ko lf_model_6.ko; do
	[ -s $AD/$f ] || why="$why no $AD/$f;"
done
[ "$(lfnl active 1)" = "uuid=2 slot=1" ] || why="$why app 1 active: $(lfnl active 1);"
if [ -n "$why" ]; then
	fail shadow_setup "${why% ;}; shadow checks not run"
else
	pass shadow_setup
	klog
	mkdir -p $SW
	t0=$(date +%s)
	lfc adapt --app 1 --watch $SW --shadow --shadow-samples 64 \
		--shadow-every 2 --shadow-timeout 60 --canary-seconds 5 \
		--engine interp --prebuilt $AD --max-drift-rate $DRIFT_LIMIT \
		--calibration $AD/representative_dataset.npy \
		--input-range $ADAPT_RANGE > $SH_LOG 2>&1 &
	sh_pid=$!
	sh_wait '^adapt: watching ' 30
	mis0=$(tcpp monitor_intervals) ans0=$(tcpp model_answers)
	fb0=$(tcpp fallbacks) q0=$(num queries "$(app1)")
	rm -f /tmp/sh_stop
	xfer_start $SH_BYTES /tmp/sh_stop
	for i in $(seq 1 150); do
		[ $(($(tcpp model_answers) - ans0)) -ge 20 ] && break
		sleep 0.2
	done

	good_before="$(slot_role 2) $(slot_role 1)"
	sh_drop aurora_good.onnx
	echo "$DEC" | grep -Eq '^adapt: candidate aurora_good.onnx -> uuid 3: fidelity max [0-9.]+ \(<= 0.05\) ok, stability mean [0-9.]+ \(<= 1\) ok -> installed lf_model_3 \(lf_model_3.ko, active\), standby uuid 2' &&
		grep -Eq '^adapt: aurora_good.onnx: shadow verdict on 64 live samples: kernel == interpreter on 64 of 64, errors 0, ' $SH_LOG &&
		[ "$(lfnl active 1)" = "uuid=3 slot=0" ] &&
		pass shadow_good_candidate_promoted ||
		fail shadow_good_candidate_promoted "active $(lfnl active 1); $DEC; $(grep aurora_good $SH_LOG | tail -4)"
	# Its canary read uuid 3's own guardrail and drift counters (no
	# guardrail; inputs inside its domain): kept. lfc status before
	# (uuid 2 active, 1 standby) and after (3 active, 2 standby).
	grep -Eq "^adapt: aurora_good.onnx: canary: 5.0 s passed \\([0-9]+ queries, fallback rate 0.0000, guardrail rate 0.0000, drift rate $DRIFT_RATE_RE\), limits fallback 0.01 guardrail 0.05 drift $DRIFT_LIMIT: kept\$" $SH_LOG &&
		[ "$good_before" = "[active] [standby]" ] &&
		[ "$(slot_role 3) $(slot_role 2)" = "[active] [standby]" ] &&
		[ -z "$(slot_of 1)" ] &&
		pass canary_good_candidate_kept ||
		fail canary_good_candidate_kept "before: $good_before; uuid 3 '$(slot_of 3)', uuid 2 '$(slot_of 2)', uuid 1 '$(slot_of 1)'; $(grep 'aurora_good.onnx: canary' $SH_LOG)"
	share=$(sed -n 's/^adapt: aurora_good.onnx: shadow: 64 results received, \([0-9]* sampled of [0-9]* queries ([0-9.]* %)\).*/\1/p' $SH_LOG)
	echo "info: shadow share of live queries (1 in 2 per CPU): $share"

	head -c 3000 $AD/aurora_good.onnx > /tmp/corrupt.onnx
	sh_drop corrupt.onnx /tmp/corrupt.onnx
	echo "$DEC" | grep -Eq '^adapt: candidate corrupt.onnx -> uuid 4 -> rejected: compile: .*; running snapshot untouched$' &&
		[ "$(lfnl active 1)" = "uuid=3 slot=0" ] && ! loaded lf_model_4 &&
		pass shadow_corrupt_file_rejected ||
		fail shadow_corrupt_file_rejected "active $(lfnl active 1); $DEC"

	sh_drop aurora_unstable.onnx
	echo "$DEC" | grep -Eq '^adapt: candidate aurora_unstable.onnx -> uuid 5: .*stability mean [12]\.[0-9]+ \(<= 1\) FAILED -> rejected: mean output change [12]\.[0-9]+ against the active snapshot on live samples exceeds 1; unloaded lf_model_5; running snapshot untouched$' &&
		[ "$(lfnl active 1)" = "uuid=3 slot=0" ] && ! loaded lf_model_5 &&
		pass shadow_unstable_candidate_rejected ||
		fail shadow_unstable_candidate_rejected "active $(lfnl active 1); $DEC; $(grep aurora_unstable $SH_LOG | tail -3)"

	kill -TERM $sh_pid
	wait $sh_pid
	sh_rc=$?
	sh_secs=$(($(date +%s) - t0))
	ST=$SW/.lfc-adapt-app1.state
	tail -1 $SH_LOG | grep -qx 'adapt: stopped' && [ "$sh_rc" -eq 0 ] &&
		[ "$(grep -c '^file	' $ST)" -eq 3 ] && grep -qx 'uuid	5' $ST &&
		grep -qx 'module	lf_model_3' $ST &&
		! grep -q lf_model_5 $ST &&
		pass shadow_daemon_sigterm_clean_state ||
		fail shadow_daemon_sigterm_clean_state "rc=$sh_rc $(tail -2 $SH_LOG); state: $(tr '\n\t' '; ' < $ST)"

	# shellcheck source=canary.sh
	. $M/canary.sh

	touch /tmp/sh_stop
	xfer_wait
	mis1=$(tcpp monitor_intervals) ans1=$(tcpp model_answers)
	fb1=$(tcpp fallbacks) q1=$(num queries "$(app1)")
	mis=$((mis1 - mis0)) ans=$((ans1 - ans0)) fb=$((fb1 - fb0))
	echo "info: shadow transfer: daemon ran ${sh_secs}s; MIs=$mis answers=$ans fallbacks=$fb app1 queries=$((q1 - q0)); $XFER"
	# Share of the whole transfer's live queries that were shadowed: the
	# samples lf_kernel took for each candidate (good, unstable, tight),
	# over every query app 1 answered in the transfer.
	sh_sampled=$(cat $SH_LOG ${CN_LOG:-/dev/null} 2>/dev/null |
		sed -n 's/^adapt: [^ ]*: shadow: [0-9]* results received, \([0-9]*\) sampled of .*/\1/p' |
		awk '{ s += $1 } END { print s + 0 }')
	echo "info: shadow share of the transfer's live queries: $sh_sampled sampled of $((q1 - q0)) ($(awk -v a="$sh_sampled" -v n="$((q1 - q0))" 'BEGIN { if (n) printf "%.1f", 100 * a / n }') %), in 3 shadow windows of 1 in 2 per CPU"
	xfer_stopped_ok &&
		[ "$mis" -ge 100 ] && [ "$fb" -eq 0 ] && [ "$ans" -eq "$mis" ] &&
		pass shadow_transfer_completes_no_query_fails ||
		fail shadow_transfer_completes_no_query_fails "rc=$XFER_RC MIs=$mis answers=$ans fallbacks=$fb $XFER"
	klog
	! grep -Eq "$SH_BAD" "$KLOG_NEW" &&
		pass shadow_dmesg_clean ||
		fail shadow_dmesg_clean "$(grep -E "$SH_BAD" "$KLOG_NEW" | head -3)"
	# Every decision, with its figures, for the report.
	grep '^adapt: ' $SH_LOG | sed 's/^/info: shadow log: /'
fi
