# lfc — top-level Makefile.
#
#   make              build lfc (release) and runtime-kmod/lf_kernel.ko
#   make aurora       the main job: compile the bundled Aurora model into
#                     snapshot modules, report fidelity and cost
#   make test         every test: cargo tests + real kernels in QEMU
#   make vm-test      only the QEMU tests
#   make install      insmod lf_kernel.ko into the running kernel
#   make remove       rmmod it
#
# Any Makefile can copy the pattern rule below to turn NAME.onnx into a
# snapshot module lf_model_NAME.ko; per-model options go in
# LFC_FLAGS_NAME (e.g. LFC_FLAGS_aurora = --uuid 7 --calibration rows.npy).

CARGO	?= cargo
LFC	?= $(CURDIR)/target/release/lfc
# Kernel to build modules for: the running one when its headers exist,
# otherwise the newest Debian headers installed.
KDIR	?= $(shell scripts/kdir.sh)

.PHONY: all lfc runtime deps test cargo-test vm-test fuzz-smoke install remove aurora bench clean

all: lfc runtime

lfc:
	$(CARGO) build --release

runtime:
	$(MAKE) -C runtime-kmod KDIR=$(KDIR)

lf_model_%.ko: %.onnx lfc
	$(LFC) compile $< -o $@ --kdir $(KDIR) $(LFC_FLAGS) $(LFC_FLAGS_$*)

deps:
	scripts/install-deps.sh

aurora: deps lfc
	$(MAKE) -C examples/aurora LFC=$(LFC)

# The VM stage also checks lfc itself in the guest (its netlink client,
# real Aurora snapshots it builds per kernel, and issue 4: lf_tcp on
# Aurora, training records, lfc collect and lfc adapt on a live transfer,
# the records replayed through lfc run --engine c): a debug build is enough.
test: deps
	$(CARGO) test
	$(CARGO) build
	LF_VM_LFC=target/debug/lfc bash tests/vm/run.sh

cargo-test:
	$(CARGO) test

# Every fuzz target in fuzz/ for a bounded time (issue 12; about 8 min
# with the build). Needs cargo-fuzz (installed from crates.io if missing).
fuzz-smoke:
	scripts/fuzz-smoke.sh

vm-test: deps
	$(CARGO) build
	LF_VM_LFC=target/debug/lfc bash tests/vm/run.sh

bench: deps
	$(CARGO) bench

install: runtime
	insmod runtime-kmod/lf_kernel.ko

remove:
	rmmod lf_kernel

clean:
	$(CARGO) clean
	$(MAKE) -C runtime-kmod KDIR=$(KDIR) clean
