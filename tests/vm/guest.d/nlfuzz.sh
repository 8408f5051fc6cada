# SPDX-License-Identifier: GPL-2.0
#
# Netlink fuzzing (issue 12, item 3), sourced by guest.sh on every kernel:
# lfdbg fuzz sends /lf/fuzz-msgs random generic-netlink messages to the
# liteflow family (4/5 as root, 1/5 as uid 65534), in chunks of 10,000 so
# that the kernel log between them cannot overflow. Every reply must be
# an error from the expected set or a well-formed answer (lfdbg checks);
# afterwards the status (apps, slots, recording) is what it was, INFER
# still answers, and the kernel log of the run has no splat.

nlf_total=$(cat /lf/fuzz-msgs 2>/dev/null || echo 100000)
nlf_user=$((nlf_total / 5))
nlf_root=$((nlf_total - nlf_user))
nlf_chunk=10000
NLF_BAD='BUG|WARNING|Oops|RCU stall|self-detected stall|Call Trace|general protection|ODEBUG|KASAN|UBSAN|kmemleak: .*suspected'

klog
insmod $M/lf_kernel.ko && insmod $M/lf_test_snap_1.ko &&
	insmod $M/lf_test_snap_2.ko && insmod $M/lf_test_snap_app2.ko
nlf_setup=$?
run lfdbg status
nlf_before=$OUT
# lfc status, without its counter lines (INFER moves them).
lfc_before=
if command -v lfc > /dev/null; then
	lfc_before=$(lfc status 2>&1 | grep -v '^ *queries ')
fi
echo "info: fuzz status before: $(echo "$nlf_before" | tr '\n' ';')"

# fuzz_chunks SEED0 TOTAL [UID]: runs lfdbg fuzz in chunks; sums its counts
# into /tmp/nlf.<uid or root>; returns non-zero on any bad reply or splat.
fuzz_chunks() {
	seed=$1 left=$2 who=${3:-root}
	rc=0
	: > "/tmp/nlf.$who"
	: > "/tmp/nlf.$who.klog"
	while [ "$left" -gt 0 ]; do
		n=$nlf_chunk
		[ "$n" -gt "$left" ] && n=$left
		lfdbg fuzz "$seed" "$n" $3 >> "/tmp/nlf.$who" 2>&1 || rc=1
		klog
		cat "$KLOG_NEW" >> "/tmp/nlf.$who.klog"
		left=$((left - n))
		seed=$((seed + 1))
	done
	grep -qE "$NLF_BAD" "/tmp/nlf.$who.klog" && rc=1
	return $rc
}

# sum_count WHO NAME: the sum of NAME=<n> over the chunks.
sum_count() {
	grep -o " $2=[0-9]*" "/tmp/nlf.$1" | cut -d= -f2 |
		awk '{ s += $1 } END { print s + 0 }'
}

nlf_start=$(date +%s)
fuzz_chunks 1 "$nlf_root"
nlf_rc_root=$?
nlf_mid=$(date +%s)
fuzz_chunks 1001 "$nlf_user" 65534
nlf_rc_user=$?
nlf_end=$(date +%s)

for who in root 65534; do
	echo "info: fuzz as $who: sent=$(sum_count $who sent) valid_requests=$(sum_count $who valid_requests) truncated=$(( $(sum_count $who truncated_nlmsghdr) + $(sum_count $who truncated_genlmsghdr) + $(sum_count $who truncated_attrs) + $(sum_count $who short_send) )) acks=$(sum_count $who reply_ack) errors=$(sum_count $who reply_error) get_app=$(sum_count $who reply_get_app) infer=$(sum_count $who reply_infer) dropped_frames=$(sum_count $who no_reply) bad=$(sum_count $who reply_BAD)"
	grep '^errnos:' "/tmp/nlf.$who" | tail -1 | sed "s/^/info: fuzz as $who, last chunk's /"
done
echo "info: fuzz time: root $((nlf_mid - nlf_start))s, uid 65534 $((nlf_end - nlf_mid))s"

[ "$nlf_setup" -eq 0 ] && [ "$nlf_rc_root" -eq 0 ] &&
	[ "$(sum_count root sent)" -eq "$nlf_root" ] &&
	[ "$(sum_count root reply_infer)" -gt 0 ] &&
	[ "$(sum_count root reply_get_app)" -gt 0 ] &&
	[ "$(sum_count root reply_ack)" -gt 0 ] &&
	pass netlink_fuzz_root ||
	fail netlink_fuzz_root "setup=$nlf_setup rc=$nlf_rc_root $(grep -E 'BAD|VIOL|errno' /tmp/nlf.root | head -5) $(grep -E "$NLF_BAD" /tmp/nlf.root.klog | head -3)"
[ "$nlf_rc_user" -eq 0 ] && [ "$(sum_count 65534 sent)" -eq "$nlf_user" ] &&
	[ "$(sum_count 65534 reply_infer)" -eq 0 ] &&
	[ "$(sum_count 65534 reply_get_app)" -eq 0 ] &&
	pass netlink_fuzz_unprivileged ||
	fail netlink_fuzz_unprivileged "rc=$nlf_rc_user $(grep -E 'BAD|errno' /tmp/nlf.65534 | head -5) $(grep -E "$NLF_BAD" /tmp/nlf.65534.klog | head -3)"

run lfdbg status
[ "$OUT" = "$nlf_before" ] && [ -n "$nlf_before" ] &&
	pass netlink_fuzz_status_unchanged ||
	fail netlink_fuzz_status_unchanged "before: $(echo "$nlf_before" | tr '\n' ';') after: $(echo "$OUT" | tr '\n' ';')"
if [ -n "$lfc_before" ]; then
	lfc_after=$(lfc status 2>&1 | grep -v '^ *queries ')
	[ "$lfc_after" = "$lfc_before" ] && pass netlink_fuzz_lfc_status_unchanged ||
		fail netlink_fuzz_lfc_status_unchanged "before: $lfc_before after: $lfc_after"
fi
[ "$(lfnl infer 1 1 2 3 4)" = "uuid=2 out=2,4" ] &&
	[ "$(lfnl infer 2 1 2 3)" = "uuid=20 out=20,40,60" ] &&
	pass netlink_fuzz_infer_still_answers ||
	fail netlink_fuzz_infer_still_answers "$(lfnl infer 1 1 2 3 4) $(lfnl infer 2 1 2 3)"

lfnl destroy 1 > /dev/null
lfnl destroy 2 > /dev/null
rmmod lf_test_snap_1 lf_test_snap_2 lf_test_snap_app2 && rmmod lf_kernel &&
	pass netlink_fuzz_unloads || fail netlink_fuzz_unloads "$(lsmod)"
klog
