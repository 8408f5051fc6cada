#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The QEMU checks of issue 4 (training records, lf_tcp on Aurora) through
# tests/vm/run.sh's hooks, on top of its own checks:
#
#   bash examples/aurora/vm/run.sh
#
# Needs an lfc binary (LF_TCP_LFC, default target/debug/lfc) to compile
# the Aurora snapshot per kernel, and iproute2 on the host (ip and tc go into
# the guest with their shared libraries). LF_VM_RUN names another copy of
# tests/vm/run.sh (e.g. one whose out/ does not collide with a concurrent
# run); other LF_VM_* settings pass through.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT=${LF_TCP_VM_OUT:-$ROOT/tests/vm/out/lf_tcp}
RUN=${LF_VM_RUN:-$ROOT/tests/vm/run.sh}
LF_TCP_LFC=${LF_TCP_LFC:-$ROOT/target/debug/lfc}
export LF_TCP_LFC

mkdir -p "$OUT"
for tool in lfrec lf_bulk; do
	gcc -static -O2 -Wall -Wextra -Werror \
		-I"$ROOT/runtime-kmod/include/uapi" \
		-o "$OUT/$tool" "$HERE/$tool.c"
done

LF_VM_BUILD_HOOK="$HERE/build-hook.sh" \
LF_VM_EXTRA_BINS="$OUT/lfrec $OUT/lf_bulk $(command -v ip) $(command -v tc) ${LF_VM_EXTRA_BINS:-}" \
LF_VM_GUEST_SCRIPTS="$HERE/lf_tcp.sh ${LF_VM_GUEST_SCRIPTS:-}" \
	exec bash "$RUN"
