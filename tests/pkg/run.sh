#!/usr/bin/env bash
# Package test (`make pkg-test`, root, changes this machine while it runs):
#  1. packaging/mkdeb.sh builds lfc_*.deb and lf-kernel-dkms_*.deb
#     (with $LFC, default target/release/lfc);
#  2. apt installs both; the installed lfc runs, its man pages and
#     completions are where man and the shells look;
#  3. for every Debian kernel whose headers are installed: `dkms build` and
#     `dkms install` of lf-kernel, then the installed lfc compiles Aurora
#     into a .ko for that kernel, and every lf_* symbol the snapshot imports
#     must be exported by the DKMS-built lf_kernel.ko with the same
#     modversion CRC (i.e. it loads against the DKMS module);
#  4. both packages are purged; DKMS forgets lf-kernel.
# Ends with "N passed, M failed"; exit 1 on any failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export LFC=${LFC:-$root/target/release/lfc}
pass=0 fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

[ "$(id -u)" -eq 0 ] || { echo "pkg-test: needs root (installs packages)" >&2; exit 1; }
work=$(mktemp -d)
cleanup() {
	dpkg -P lfc lf-kernel-dkms >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
"$root/packaging/mkdeb.sh" "$work/debs" || { echo "pkg-test: mkdeb failed"; exit 1; }
lfc_deb=$(ls "$work"/debs/lfc_"$version"_*.deb)
dkms_deb=$work/debs/lf-kernel-dkms_${version}_all.deb
check "lfc package metadata" sh -c "dpkg-deb -f '$lfc_deb' Package Version | grep -q 'Version: $version'"
dpkg-deb -c "$lfc_deb" >"$work/lfc.list"
dpkg-deb -c "$dkms_deb" >"$work/dkms.list"
has() { grep -q "$2" "$work/$1.list"; }
check "lfc package ships the binary" has lfc './usr/bin/lfc$'
check "lfc package ships the man pages" has lfc './usr/share/man/man1/lfc-compile.1.gz$'
check "lfc package ships the completions" has lfc './usr/share/bash-completion/completions/lfc$'
check "lfc package ships the example" has lfc './usr/share/doc/lfc/examples/aurora/aurora.onnx$'
check "dkms package ships dkms.conf" has dkms "./usr/src/lf-kernel-$version/dkms.conf$"
check "dkms package ships the sources" has dkms "./usr/src/lf-kernel-$version/include/uapi/lf_netlink.h$"

export DEBIAN_FRONTEND=noninteractive
if apt-get install -y -q --no-install-recommends "$lfc_deb" "$dkms_deb" >"$work/apt.log" 2>&1; then
	ok "apt installs both packages"
else
	bad "apt installs both packages"; tail -20 "$work/apt.log"; echo "$pass passed, $fail failed"; exit 1
fi
check "installed lfc runs" sh -c "/usr/bin/lfc --version | grep -q '$version'"
check "lfc(1) man page installed" sh -c "zcat /usr/share/man/man1/lfc.1.gz | grep -q '^.TH lfc 1'"
check "bash completion knows the subcommands" bash -c \
	"source /usr/share/bash-completion/completions/lfc && complete -p lfc >/dev/null &&
	 grep -q compile /usr/share/bash-completion/completions/lfc"
check "dkms knows lf-kernel/$version" sh -c "dkms status -m lf-kernel | grep -q '$version'"
check "installed lfc is stripped" sh -c "! readelf -SW /usr/bin/lfc | grep -qE ' \.(symtab|debug_[a-z]+) '"

# "symbol 0xcrc" for every lf_* symbol module $1 exports with a CRC.
exported_crcs() {
	local ko=$1 idx sec off
	readelf -SW "$ko" | sed -n 's/^ *\[ *\([0-9]*\)\] \(__kcrctab[a-z_]*\) .*/\1 \2/p' |
	while read -r idx sec; do
		objcopy -O binary --only-section="$sec" "$ko" "$work/crctab"
		readelf -sW "$ko" | awk -v i="$idx" '$7 == i && $8 ~ /^__crc_lf_/ {print substr($8, 7), $2}' |
		while read -r sym off; do
			echo "$sym 0x$(od -An -tx4 -j $((16#$off)) -N4 "$work/crctab" | tr -d ' ')"
		done
	done
}

example=/usr/share/doc/lfc/examples/aurora
kernels=0
for hdr in /usr/src/linux-headers-*-amd64; do
	[ -f "$hdr/Makefile" ] || continue
	kver=${hdr#/usr/src/linux-headers-}
	kernels=$((kernels + 1))
	if dkms build -m lf-kernel -v "$version" -k "$kver" >"$work/dkms-$kver.log" 2>&1 &&
	   dkms install -m lf-kernel -v "$version" -k "$kver" >>"$work/dkms-$kver.log" 2>&1; then
		ok "$kver: dkms build + install"
	else
		bad "$kver: dkms build + install"; tail -20 "$work/dkms-$kver.log"; continue
	fi
	mod=$(find "/lib/modules/$kver/updates/dkms" -name 'lf_kernel.ko*' | head -n 1)
	check "$kver: DKMS installed lf_kernel.ko" test -n "$mod"
	check "$kver: its vermagic is $kver" sh -c "modinfo -F vermagic '$mod' | grep -q '^$kver '"
	ko=$work/lf_model_1-$kver.ko
	if LFC_CACHE=$work/cache /usr/bin/lfc compile "$example/aurora.onnx" \
		--calibration "$example/representative_dataset.npy" -o "$ko" --kdir "$hdr" >"$work/compile-$kver.log" 2>&1; then
		ok "$kver: installed lfc builds a snapshot .ko"
	else
		bad "$kver: installed lfc builds a snapshot .ko"; tail -20 "$work/compile-$kver.log"; continue
	fi
	# Symbols the snapshot imports from lf_kernel, with their CRCs...
	modprobe --dump-modversions "$ko" | awk '$2 ~ /^lf_/ {print $2, $1}' | sort >"$work/want"
	# ...and the CRCs the installed DKMS module exports (read from its
	# __kcrctab* sections).
	m=$work/lf_kernel-$kver.ko
	case $mod in *.xz) xz -dc "$mod" >"$m" ;; *.zst) zstd -qdc "$mod" >"$m" ;; *) cp "$mod" "$m" ;; esac
	exported_crcs "$m" | sort >"$work/have"
	check "$kver: the snapshot imports lf_kernel symbols" test -s "$work/want"
	missing=$(join -v1 <(cut -d' ' -f1 "$work/want") <(cut -d' ' -f1 "$work/have"))
	check "$kver: each is exported by the DKMS lf_kernel ($(wc -l <"$work/want") symbols)" test -z "$missing"
	crcs_ok=1
	while read -r sym crc; do
		have=$(awk -v s="$sym" '$1 == s {print $2}' "$work/have")
		[ -n "$have" ] && [ $((have)) -eq $((crc)) ] || { echo "  $sym: snapshot $crc, DKMS lf_kernel $have"; crcs_ok=0; }
	done <"$work/want"
	check "$kver: modversion CRCs agree" test "$crcs_ok" = 1
done
check "at least one Debian kernel with headers" test "$kernels" -gt 0

# The installed example works outside a checkout: a copy of it, with the
# lfc on PATH (LFC unset) and lf_kernel from the DKMS package's sources.
hdr=$(ls -d /usr/src/linux-headers-*-amd64 | tail -n 1)
cp -r "$example" "$work/example"
if env -u LFC LFC_CACHE="$work/cache" make -C "$work/example" KDIR="$hdr" \
	lf_model_1.ko lf_tcp.ko >"$work/example.log" 2>&1; then
	ok "installed example builds lf_model_1.ko and lf_tcp.ko (no checkout)"
else
	bad "installed example builds lf_model_1.ko and lf_tcp.ko (no checkout)"; tail -20 "$work/example.log"
fi

dpkg -P lfc lf-kernel-dkms >"$work/purge.log" 2>&1
check "packages purge cleanly" test $? -eq 0
check "DKMS forgot lf-kernel" sh -c "! dkms status -m lf-kernel | grep -q ."
check "DKMS modules removed" sh -c "! ls /lib/modules/*/updates/dkms/lf_kernel.ko* 2>/dev/null | grep -q ."
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
