#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The debug-kernel stage of `make test` (issue 12): builds the debug
# kernel with scripts/debug-kernel.sh (incremental when its out dir holds
# a build of the same package version and fragment) and runs the VM suite
# on that kernel alone (tests/vm/run.sh with LF_VM_DEBUG_KERNEL and
# LF_VM_KERNELS set to it; 4 vCPUs, module.sig_enforce=1). Ends with
# run.sh's "N passed, M failed" and its exit status. Figures (build CPU
# and wall seconds, the boot's length) are in tests/vm/README.md, "Debug
# kernel".
#
#   [LF_VM_LFC=target/debug/lfc] scripts/debug-kernel-test.sh [<out dir>]
#
# The environment of tests/vm/run.sh applies (LF_VM_LFC, LF_VM_DEBUG_*).
# LF_DEBUG_KERNEL_BUILT=1: <out dir> was built by scripts/debug-kernel.sh
# earlier in this run (scripts/test-all.sh, in the background): no
# incremental rebuild (about 40 s of make finding nothing to do).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/tests/vm/out/debug-kernel}

start=$(date +%s)
if [ "${LF_DEBUG_KERNEL_BUILT:-}" = 1 ] && [ -s "$OUT/release" ] && [ -s "$OUT/bzImage" ]; then
	dir=$OUT
else
	dir=$("$ROOT/scripts/debug-kernel.sh" "$OUT")
fi
echo "debug-kernel-test: kernel $(cat "$dir/release") ready after $(( $(date +%s) - start ))s" \
	"(this build: $(cat "$dir/build-seconds")s wall, $(cat "$dir/build-cpu-seconds")s CPU)" >&2
LF_VM_KERNELS=$(cat "$dir/release") LF_VM_DEBUG_KERNEL=$dir \
	bash "$ROOT/tests/vm/run.sh"
