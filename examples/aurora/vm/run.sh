#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The QEMU checks of issue 4 (training records, lf_tcp on Aurora, lfc
# collect and lfc adapt on a live transfer). They are part of the
# real-kernel tests: tests/vm/run.sh runs them whenever it is given an lfc
# (LF_VM_LFC, as `make test` and `make vm-test` do), after its own checks,
# in the same boot. This is a shortcut for that:
#
#   bash examples/aurora/vm/run.sh      # = LF_VM_LFC=target/debug/lfc bash tests/vm/run.sh
#
# LF_VM_LFC (or LF_TCP_LFC) names another lfc; LF_VM_RUN another copy of
# tests/vm/run.sh; other LF_VM_* settings pass through.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
LF_VM_LFC=${LF_VM_LFC:-${LF_TCP_LFC:-$ROOT/target/debug/lfc}}
export LF_VM_LFC
exec bash "${LF_VM_RUN:-$ROOT/tests/vm/run.sh}"
