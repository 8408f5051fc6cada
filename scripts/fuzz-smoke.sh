#!/usr/bin/env bash
# Fuzz smoke stage (issue 12): builds the fuzz targets in fuzz/ with
# cargo-fuzz on the stable toolchain and runs each for a bounded time from
# its checked-in seed corpus (fuzz/corpus/<target>; new inputs go to a
# temporary directory). Any crash, timeout or out-of-memory fails the stage;
# libFuzzer leaves the input in fuzz/artifacts/<target>/.
#
# cargo-fuzz's libFuzzer build needs unstable rustc flags: RUSTC_BOOTSTRAP=1
# enables them on the stable toolchain (as the kernel's Rust build does);
# `-s none` needs no sanitizer runtime.
#
#   scripts/fuzz-smoke.sh [build|run]   (default: both)
#
# `build` only installs cargo-fuzz when missing and builds the targets
# (scripts/test-all.sh does it in the background while the VM tests run);
# `run` only runs the targets that a `build` left.
#   FUZZ_SECONDS=60        the compile target's time
#   FUZZ_SECONDS_SMALL=30  each of the others' (data readers, netlink)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
case $mode in
all | build | run) ;;
*) echo "usage: $0 [build|run]" >&2; exit 2 ;;
esac

if [ "$mode" != run ]; then
	if ! cargo fuzz --version >/dev/null 2>&1; then
		cargo install cargo-fuzz --locked
	fi
	RUSTC_BOOTSTRAP=1 cargo fuzz build -s none -O
fi
[ "$mode" = build ] && exit 0

bin=fuzz/target/x86_64-unknown-linux-gnu/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# fuzz_one TARGET SECONDS: one bounded libFuzzer run; its figures, or its
# log's tail and a failure.
fuzz_one() {
	local t=$1 secs=$2
	mkdir -p "$work/$t" "fuzz/artifacts/$t"
	echo "fuzz: $t for ${secs} s"
	if ! "$bin/$t" "$work/$t" "fuzz/corpus/$t" -max_total_time="$secs" \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="fuzz/artifacts/$t/" >"$work/$t.log" 2>&1; then
		tail -n 60 "$work/$t.log"
		echo "fuzz: $t FAILED (input kept in fuzz/artifacts/$t/)" >&2
		return 1
	fi
	grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec' "$work/$t.log" |
		sed "s/^/fuzz: $t /"
}
small="npy csv pb netlink_replies netlink_records"
for t in compile $small; do
	if [ ! -x "$bin/$t" ]; then
		echo "fuzz: $bin/$t missing: run '$0 build' first" >&2
		exit 1
	fi
done
# Two at a time (libFuzzer runs one process on one CPU): the compile
# target on one CPU, the others one after the other on the second.
fuzz_one compile "${FUZZ_SECONDS:-60}" > "$work/compile.out" &
compile_pid=$!
rc=0
for t in $small; do
	fuzz_one "$t" "${FUZZ_SECONDS_SMALL:-30}" || { rc=1; break; }
done
wait "$compile_pid" || rc=1
cat "$work/compile.out"
exit "$rc"
