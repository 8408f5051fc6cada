# lfc — top-level Makefile.
#
#   make              build lfc (release) and runtime-kmod/lf_kernel.ko
#   make aurora       the main job: compile the bundled Aurora model into
#                     snapshot modules, report fidelity and cost
#   make test         every test: cargo tests + real kernels in QEMU
#   make vm-test      only the QEMU tests
#   make vm-debug-test  the debug kernel (KASAN, lockdep, kmemleak, fault
#                     injection, signed modules): build it, run the whole
#                     VM suite on it (scripts/debug-kernel-test.sh)
#   make install      install lfc, its man pages and shell completions
#                     (PREFIX=/usr/local, DESTDIR= for staging)
#   make deb          the Debian packages lfc and lf-kernel-dkms
#                     (target/debian/; packaging/mkdeb.sh)
#   make load         insmod lf_kernel.ko into the running kernel
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

PREFIX	?= /usr/local
DESTDIR	?=
BINDIR	= $(DESTDIR)$(PREFIX)/bin
MANDIR	= $(DESTDIR)$(PREFIX)/share/man/man1
SHAREDIR = $(DESTDIR)$(PREFIX)/share

.PHONY: all lfc runtime deps test cargo-test vm-test vm-debug-test fuzz-smoke pkg-test install install-files deb load remove aurora bench clean

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
# the records replayed through lfc run --engine c; tree ensemble and Conv
# snapshots, and the netfilter client lf_nf): a debug build is enough.
# Then the packages (tests/pkg/run.sh, see pkg-test below) with the same
# debug build, stripped by mkdeb. Then the debug kernel (KASAN, lockdep,
# PROVE_RCU, kmemleak, fault injection, sig_enforce): built from
# linux-source-6.12, booted with the suite minus lf_tcp.sh, models, lf_nf
# and --simd, 10,000 netlink fuzz messages instead of 100,000, and every
# 4th fault point of the module loads
# (LF_VM_DEBUG_QUICK; vm-debug-test runs it all), see tests/vm/README.md,
# "Debug kernel".
# The fuzz smoke (see fuzz-smoke below) runs before the debug kernel's
# stage, which comes last. scripts/test-all.sh runs these
# stages in order; it builds the debug kernel and the fuzz targets in the
# background at nice 19 from the start (they need nothing from the cargo
# build), and ends with a table of each stage's seconds and CPU use.
test: deps
	CARGO=$(CARGO) scripts/test-all.sh

cargo-test:
	$(CARGO) test

# Every fuzz target in fuzz/ for a bounded time (issue 12; about 8 min
# with the build). Needs cargo-fuzz (installed from crates.io if missing).
fuzz-smoke:
	scripts/fuzz-smoke.sh

vm-test: deps
	$(CARGO) build
	LF_VM_LFC=target/debug/lfc bash tests/vm/run.sh

# The whole suite on the debug kernel (make test runs a subset there).
# The whole suite's boot took 4,056 s there (tests/vm/README.md, "Debug
# kernel"): its limit is 7,200 s, not run.sh's 4 x LF_VM_TIMEOUT.
vm-debug-test: deps
	$(CARGO) build
	LF_VM_DEBUG_TIMEOUT=$${LF_VM_DEBUG_TIMEOUT:-7200} LF_VM_LFC=target/debug/lfc scripts/debug-kernel-test.sh

bench: deps
	$(CARGO) bench

install: lfc install-files

# Installs $(LFC) as it is (make deb calls this with a staging DESTDIR);
# GZIP_MAN=1 compresses the man pages as Debian policy wants.
install-files:
	install -D -m 755 $(LFC) $(BINDIR)/lfc
	install -d $(MANDIR)
	$(LFC) gen man $(MANDIR) >/dev/null
	$(if $(GZIP_MAN),gzip -9n -f $(MANDIR)/lfc*.1)
	install -d $(SHAREDIR)/bash-completion/completions \
		$(SHAREDIR)/zsh/vendor-completions $(SHAREDIR)/fish/vendor_completions.d
	$(LFC) gen completions bash > $(SHAREDIR)/bash-completion/completions/lfc
	$(LFC) gen completions zsh > $(SHAREDIR)/zsh/vendor-completions/_lfc
	$(LFC) gen completions fish > $(SHAREDIR)/fish/vendor_completions.d/lfc.fish
	install -d $(SHAREDIR)/doc/lfc/examples/aurora
	install -m 644 examples/aurora/aurora.onnx examples/aurora/ATTRIBUTION.md \
		examples/aurora/README.md examples/aurora/Makefile examples/aurora/Kbuild \
		examples/aurora/lf_tcp.c examples/aurora/input_domain.csv \
		examples/aurora/representative_dataset.csv examples/aurora/representative_dataset.npy \
		examples/aurora/reference_output.csv $(SHAREDIR)/doc/lfc/examples/aurora/

deb: lfc
	LFC=$(LFC) packaging/mkdeb.sh

# Installs both packages on this machine, builds lf_kernel with DKMS for
# every Debian kernel with headers, links a snapshot against it, removes
# the packages again (root; changes the host).
pkg-test: deps
	$(CARGO) build
	LFC=$(CURDIR)/target/debug/lfc bash tests/pkg/run.sh

load: runtime
	insmod runtime-kmod/lf_kernel.ko

remove:
	rmmod lf_kernel

clean:
	$(CARGO) clean
	$(MAKE) -C runtime-kmod KDIR=$(KDIR) clean
