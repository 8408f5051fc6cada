#!/usr/bin/env bash
# `make test`: every test stage, in order, stopping at the first failure:
#
#   cargo     cargo test, then cargo build (target/debug/lfc for the rest)
#   vm        tests/vm/run.sh on Debian's 6.1 and 6.12 kernels
#   pkg       tests/pkg/run.sh (the .deb packages)
#   fuzz      scripts/fuzz-smoke.sh run (each fuzz target, bounded)
#   debug     scripts/debug-kernel-test.sh with LF_VM_DEBUG_QUICK=1 (the
#             debug kernel: KASAN, lockdep, kmemleak, fault injection)
#
# The two long builds that need nothing from the cargo build, the debug
# kernel (scripts/debug-kernel.sh) and the fuzz targets (scripts/
# fuzz-smoke.sh build), start first, in the background at nice 19: they
# take the CPU that the cargo build and the QEMU boots of Debian's
# kernels leave idle, and the fuzz and debug stages wait for them. The
# debug stage comes last, with nothing left in the background: its guest
# has 4 vCPUs on 2 host CPUs, and CI's run with the fuzz build still going
# beside it (niced) booted 1,867 s, where a quiet machine here took 741 s.
# At the end (or at a failure) a
# table gives each stage's wall seconds and how busy the CPUs were
# (/proc/stat: all of it, and the share of niced processes, i.e. the
# background builds). Logs of the background builds: target/make-test/.
#
#   scripts/test-all.sh            (make test; run as root on a fresh
#                                   machine after scripts/install-deps.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CARGO=${CARGO:-cargo}
LOGS=$ROOT/target/make-test
DK=$ROOT/tests/vm/out/debug-kernel
mkdir -p "$LOGS"
rm -f "$LOGS"/*.rc "$LOGS"/*.out
# The VM stages' first failures and kernel complaints (tests/vm/run.sh),
# repeated after the table: CI keeps only the end of the output.
export LF_FAIL_EXCERPT=$LOGS/failures.txt
rm -f "$LF_FAIL_EXCERPT"

# cpu: "<busy jiffies> <niced jiffies> <all jiffies>" from /proc/stat.
cpu() {
	awk '/^cpu / { all = 0; for (i = 2; i <= NF; i++) all += $i
		print all - $5 - $6, $3, all; exit }' /proc/stat
}

summary=()
t0=$(date +%s)
# stage NAME CMD...: runs CMD, adds its line to the summary.
stage() {
	local name=$1 s e rc=0 c0 c1
	shift
	echo "test-all: stage $name: $*" >&2
	s=$(date +%s)
	c0=$(cpu)
	"$@" || rc=$?
	e=$(date +%s)
	c1=$(cpu)
	summary+=("$(echo "$c0 $c1" | awk -v n="$name" -v w=$((e - s)) -v rc=$rc '{
		all = $6 - $3; if (all <= 0) all = 1
		printf "%-11s %6d s   CPU busy %3.0f %%, niced %3.0f %%%s", n, w,
			100 * ($4 - $1) / all, 100 * ($5 - $2) / all,
			rc ? "   FAILED (exit " rc ")" : "" }')")
	return "$rc"
}

bg=
finish() {
	local rc=$?
	if [ -n "$bg" ] && kill -0 "$bg" 2>/dev/null; then
		kill -TERM -- -"$bg" 2>/dev/null || true
	fi
	echo "test-all: stages (wall seconds; CPU busy over both CPUs)" >&2
	printf '  %s\n' "${summary[@]}" >&2
	if [ -s "$LF_FAIL_EXCERPT" ]; then
		echo "test-all: first failures (all of them in the stage output above):" >&2
		head -n 14 "$LF_FAIL_EXCERPT" | sed 's/^/  /' >&2
	fi
	echo "test-all: total $(( $(date +%s) - t0 )) s, exit $rc" >&2
	exit "$rc"
}
trap finish EXIT

# The background chain, in its own session and process group (killed on
# exit): the debug kernel first (needed first), then the fuzz targets.
# A new session is a new scheduler autogroup where the kernel has
# CONFIG_SCHED_AUTOGROUP (Debian's do): nice then only ranks processes
# inside the group, and the group itself competes as nice 0 with the
# foreground's (seen here: the cargo build got half the CPU beside the
# niced kernel build). So the group's own nice is set to 19 as well.
setsid nice -n 19 bash -c '
	echo 19 > /proc/self/autogroup 2> /dev/null || true
	LF_DEBUG_KERNEL_JOBS=$(nproc) scripts/debug-kernel.sh "$1" \
		> "$2/debug-kernel.out" 2>&1
	echo $? > "$2/debug-kernel.rc"
	scripts/fuzz-smoke.sh build > "$2/fuzz-build.out" 2>&1
	echo $? > "$2/fuzz-build.rc"
' _ "$DK" "$LOGS" &
bg=$!

# wait_bg NAME: waits for the background step NAME; fails with its log's
# tail if it failed or the chain died before finishing it.
wait_bg() {
	local name=$1 rc
	while [ ! -e "$LOGS/$name.rc" ]; do
		if ! kill -0 "$bg" 2>/dev/null; then
			sleep 1
			[ -e "$LOGS/$name.rc" ] && break
			echo "test-all: the background build ended before $name" >&2
			return 1
		fi
		sleep 5
	done
	rc=$(cat "$LOGS/$name.rc")
	if [ "$rc" != 0 ]; then
		tail -n 40 "$LOGS/$name.out" >&2
		echo "test-all: background $name failed (exit $rc; $LOGS/$name.out)" >&2
		return 1
	fi
}

stage cargo bash -c "$CARGO test && $CARGO build"
stage vm env LF_VM_LFC=target/debug/lfc bash tests/vm/run.sh
stage pkg env LFC="$ROOT/target/debug/lfc" bash tests/pkg/run.sh
stage fuzz-build wait_bg fuzz-build
stage fuzz scripts/fuzz-smoke.sh run
stage debug-build wait_bg debug-kernel
# Boot limit 1,800 s (not run.sh's 3,600): CI's boot of this subset took
# 1,274 s to the point where it died, and the stages before it about
# 3,400 s of CI's 5,400; a hang then fails with its console's tail and
# the "first failures" below instead of running out CI's time unexplained.
stage debug env LF_VM_LFC=target/debug/lfc LF_VM_DEBUG_QUICK=1 \
	LF_VM_DEBUG_TIMEOUT="${LF_VM_DEBUG_TIMEOUT:-1800}" \
	LF_DEBUG_KERNEL_BUILT=1 scripts/debug-kernel-test.sh "$DK"
