# SPDX-License-Identifier: GPL-2.0
#
# Checks of lfc's netlink client against the real lf_kernel. Sourced by
# guest.sh when run.sh was given LF_VM_LFC=<path to lfc> (lf_kernel is
# unloaded when this starts, and must be again when it ends).

lfc_queries() {
	lfnl status | sed -n 's/^app=1 name=.* queries=\([0-9]*\) .*/\1/p'
}

insmod $M/lf_kernel.ko && insmod $M/lf_test_snap_1.ko &&
	insmod $M/lf_test_snap_2.ko
run lfc status
echo "$OUT" | sed 's/^/info: lfc status: /'
[ "$RC" -eq 0 ] && echo "$OUT" | grep -q "app 1: test_gain_1" &&
	echo "$OUT" | grep -q "uuid 2 " &&
	pass lfc_status || fail lfc_status "rc=$RC"
expect lfc_rollback 0 lfc rollback --app 1
[ "$(active 1)" = "uuid=1 slot=0" ] && pass lfc_rollback_took ||
	fail lfc_rollback_took "active $(active 1)"
was=$(active 1)
expect lfc_activate 0 lfc activate --app 1 --uuid 2
[ "$was" = "uuid=1 slot=0" ] && [ "$(active 1)" = "uuid=2 slot=1" ] &&
	pass lfc_activate_took ||
	fail lfc_activate_took "active $was, then $(active 1)"
# 126/127: the shell could not run lfc at all.
run lfc activate --app 1 --uuid 999
[ "$RC" -ne 0 ] && [ "$RC" -lt 126 ] && [ "$(active 1)" = "uuid=2 slot=1" ] &&
	pass lfc_activate_unknown_uuid_fails ||
	fail lfc_activate_unknown_uuid_fails "exited $RC: $OUT"
before=$(lfc_queries)
printf '1,2,3,4\n5,6,7,8\n' > /tmp/lfc_in.csv
run lfc infer --app 1 --input /tmp/lfc_in.csv
echo "$OUT" | sed 's/^/info: lfc infer: /'
after=$(lfc_queries)
# Gain 2, equal scales: rows 1,2,3,4 and 5,6,7,8 give 2,4 and 10,12.
[ "$RC" -eq 0 ] && [ "$after" -eq $((before + 2)) ] &&
	echo "$OUT" | grep -Eq '^2(\.0*)?,4(\.0*)?$' &&
	echo "$OUT" | grep -Eq '^10(\.0*)?,12(\.0*)?$' && pass lfc_infer ||
	fail lfc_infer "rc=$RC queries $before -> $after: $OUT"
expect lfc_app_create 0 lfc app create --app 8 --name viacli --inputs 2 --outputs 1
lfnl status | grep -q "^app=8 name=viacli in=2 out=1 " &&
	pass lfc_app_create_took || fail lfc_app_create_took "$(lfnl status)"
expect lfc_app_destroy 0 lfc app destroy --app 8
lfnl destroy 1 >/dev/null
rmmod lf_test_snap_1 lf_test_snap_2 && rmmod lf_kernel
