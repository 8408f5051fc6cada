#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host half of lf_tcp.sh's `lfc collect` checks, run by tests/vm/run.sh
# after each boot:
#
#   LF_VM_LFC=<lfc> replay.sh <ver> <dir>
#
# <dir>/from-guest/records.csv.gz is what `lfc collect` wrote in the guest
# during the lf_tcp transfer (printed to the console in base64), and
# <dir>/hook-lf_tcp/adapt/ holds the candidate that `lfc adapt` installed.
# Every record is replayed through `lfc run --engine c` with the model and
# compile options of the snapshot that answered it (snapshots.sh, by the
# record's uuid): the emitted C of that snapshot, built for userspace by the
# host's C compiler, on the record's inputs. Its outputs must equal the
# recorded ones exactly, as integers at the output scale (1000). Prints
# "PASS name" / "FAIL name: reason" lines.
set -uo pipefail

ver=$1 dir=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EX=$(cd "$HERE/.." && pwd)
ROOT=$(cd "$EX/../.." && pwd)
LFC=${LF_VM_LFC:?LF_VM_LFC must name the lfc binary}
case $LFC in /*) ;; *) LFC=$ROOT/$LFC ;; esac
ADAPT_SRC=$dir/hook-lf_tcp/adapt
# shellcheck source=snapshots.sh
. "$HERE/snapshots.sh"
IN=30			# Aurora: 30 inputs, 1 output; uuid is column 32
SCALE=1000
rec=$dir/from-guest/records.csv.gz
work=$dir/replay
rm -rf "$work"
mkdir -p "$work"

if ! [ -s "$rec" ] || ! gzip -dc "$rec" > "$work/records.csv" 2>/dev/null; then
	echo "FAIL records_from_guest: no intact $rec (the guest prints it after lfc collect; see console.txt)"
	exit 0
fi
header=$(head -1 "$work/records.csv")
want_header=$(seq 0 $((IN - 1)) | sed 's/^/in/' | paste -sd,),out0,uuid,timestamp_ns
rows=$(($(wc -l < "$work/records.csv") - 1))
# lf_kernel's ABI 2 records carry their LF_INFER_* flags: a last column.
if { [ "$header" != "$want_header" ] && [ "$header" != "$want_header,flags" ]; } ||
	[ "$rows" -le 0 ]; then
	echo "FAIL records_from_guest: header '$header', $rows rows"
	exit 0
fi
echo "PASS records_from_guest"
echo "info: $rows records from the guest, by uuid: $(tail -n +2 "$work/records.csv" | cut -d, -f$((IN + 2)) | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')"

# One check per uuid seen; a uuid with no known snapshot fails.
for uuid in $(tail -n +2 "$work/records.csv" | cut -d, -f$((IN + 2)) | sort -un); do
	name=records_replay_bit_exact_uuid$uuid
	if ! args=$(snap_args "$uuid"); then
		echo "FAIL $name: records of uuid $uuid, which no snapshot of these checks has"
		continue
	fi
	awk -F, -v u="$uuid" -v n=$IN 'NR > 1 && $(n + 2) == u {
		s = $1; for (i = 2; i <= n; i++) s = s "," $i; print s }' \
		"$work/records.csv" > "$work/in_$uuid.csv"
	awk -F, -v u="$uuid" -v n=$IN 'NR > 1 && $(n + 2) == u { print $(n + 1) }' \
		"$work/records.csv" > "$work/recorded_$uuid.csv"
	# shellcheck disable=SC2086
	if ! "$LFC" run $args --app 1 --uuid "$uuid" --engine c \
		--input "$work/in_$uuid.csv" > "$work/replayed_$uuid.csv" 2> "$work/run_$uuid.log"; then
		echo "FAIL $name: lfc run failed: $(tail -3 "$work/run_$uuid.log" | tr '\n' ' ')"
		continue
	fi
	n=$(wc -l < "$work/recorded_$uuid.csv")
	m=$(wc -l < "$work/replayed_$uuid.csv")
	# Both sides are integers at the output scale printed as reals:
	# compare the integers.
	diffs=$(paste -d, "$work/recorded_$uuid.csv" "$work/replayed_$uuid.csv" |
		awk -F, -v s=$SCALE '
			function fx(x) { return x < 0 ? -int(-x * s + 0.5) : int(x * s + 0.5) }
			fx($1) != fx($2) { bad++; if (!first) first = NR ": recorded " $1 ", replayed " $2 }
			END { printf "%d%s", bad, first ? " (first: row " first ")" : "" }')
	if [ "$n" -gt 0 ] && [ "$n" -eq "$m" ] && [ "${diffs%% *}" = 0 ]; then
		echo "PASS $name"
		echo "info: uuid $uuid: $n records replayed through lfc run --engine c, all equal"
	else
		echo "FAIL $name: $n records, $m replayed, $diffs differ"
	fi
done
