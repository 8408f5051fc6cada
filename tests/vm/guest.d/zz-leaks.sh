# SPDX-License-Identifier: GPL-2.0
#
# Last of the extra guest checks (hence the name): on the debug kernel,
# a kmemleak scan after everything ran and every lf module was unloaded
# must report nothing (the init script scanned and cleared what boot
# left), and lockdep must still be on (it switches itself off after its
# first report, or when its tables overflow).

KMEMLEAK=/sys/kernel/debug/kmemleak
if ! [ -e /lf/debug-kernel ]; then
	echo "info: kmemleak/lockdep checks not run on $(uname -r)"
elif ! [ -e $KMEMLEAK ]; then
	fail kmemleak_clean "no $KMEMLEAK on the debug kernel"
else
	# An object is reported once it is older than 5 s and unreferenced.
	sleep 6
	echo scan > $KMEMLEAK
	sleep 1
	echo scan > $KMEMLEAK
	cat $KMEMLEAK > /tmp/kmemleak.txt
	if [ -s /tmp/kmemleak.txt ]; then
		fail kmemleak_clean "$(grep -c '^unreferenced object' /tmp/kmemleak.txt) objects: $(head -20 /tmp/kmemleak.txt | tr '\n' ' ')"
		cat /tmp/kmemleak.txt
	else
		pass kmemleak_clean
	fi
	grep -q 'debug_locks: *1' /proc/lockdep_stats 2>/dev/null &&
		pass lockdep_still_on ||
		fail lockdep_still_on "$(grep debug_locks /proc/lockdep_stats 2>&1)"
	echo "info: $(grep -E 'lock-classes|direct dependencies|dependency chains' /proc/lockdep_stats 2>/dev/null | tr -s ' ' | tr '\n' ';')"
fi
