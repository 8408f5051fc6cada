# SPDX-License-Identifier: GPL-2.0
#
# Module signatures under enforcement (issue 13, item 2), sourced by
# guest.sh with LF_VM_LFC. The debug kernel is booted with
# module.sig_enforce=1 and trusts its tree's own signing key (built into
# its keyring, CONFIG_MODULE_SIG); aurora-build.sh had lfc sign the Aurora
# snapshots with that key (--sign-key/--sign-cert) and built the same
# snapshot unsigned and signed with an untrusted key (/lf/aurora/sig/).
# Every other module of the run was signed by run.sh, so the whole suite
# before this ran under enforcement too. Debian's kernels do not trust
# the test key: there this only says it did not run.

S=/lf/aurora/sig
if ! [ -e /lf/debug-kernel ]; then
	echo "info: module signature enforcement checks not run on $(uname -r)"
elif ! [ -d $S ]; then
	fail sig_modules_built "no $S (see aurora-build.log)"
else
	echo "info: snapshot signer: $(cat $S/signer)"
	[ "$(cat /sys/module/module/parameters/sig_enforce)" = Y ] &&
		pass sig_enforce_on ||
		fail sig_enforce_on "sig_enforce=$(cat /sys/module/module/parameters/sig_enforce)"
	klog
	run insmod /lf/aurora/lf_kernel.ko
	lk_rc=$RC
	run insmod $S/unsigned/lf_model_19.ko
	klog
	[ "$RC" -ne 0 ] && ! loaded lf_model_19 &&
		klog_has "Loading of unsigned module is rejected" &&
		pass sig_unsigned_snapshot_refused ||
		fail sig_unsigned_snapshot_refused "rc=$RC $OUT; $(cat $KLOG_NEW)"
	run insmod $S/wrongkey/lf_model_19.ko
	klog
	[ "$RC" -ne 0 ] && ! loaded lf_model_19 &&
		klog_has "Loading of module with unavailable key is rejected" &&
		pass sig_wrong_key_snapshot_refused ||
		fail sig_wrong_key_snapshot_refused "rc=$RC $OUT; $(cat $KLOG_NEW)"
	run insmod /lf/aurora/lf_model_1.ko
	klog
	[ "$lk_rc" -eq 0 ] && [ "$RC" -eq 0 ] && loaded lf_model_1 &&
		[ "$(active 1)" = "uuid=1 slot=0" ] &&
		pass sig_lfc_signed_snapshot_loads ||
		fail sig_lfc_signed_snapshot_loads "lf_kernel rc=$lk_rc, rc=$RC $OUT; $(active 1); $(cat $KLOG_NEW)"
	lfnl destroy 1 > /dev/null 2>&1
	rmmod lf_model_1 2> /dev/null
	rmmod lf_kernel 2> /dev/null
	! loaded lf_kernel && pass sig_unloads || fail sig_unloads "$(lsmod | grep lf_)"
fi
