#!/usr/bin/env bash
# Builds the two Debian packages with dpkg-deb (`make deb`):
#   lfc_<version>_<arch>.deb        the lfc binary, man pages, shell
#                                   completions, the Aurora example
#   lf-kernel-dkms_<version>_all.deb  lf_kernel's sources under DKMS
# Usage: packaging/mkdeb.sh [OUTDIR]   (LFC=path of the lfc binary to ship,
# default target/release/lfc; OUTDIR default target/debian)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lfc=${LFC:-$root/target/release/lfc}
out=${1:-$root/target/debian}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
dkms_version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$root/runtime-kmod/dkms.conf")
if [ "$version" != "$dkms_version" ]; then
	echo "mkdeb: runtime-kmod/dkms.conf has version $dkms_version, Cargo.toml $version" >&2
	exit 1
fi
[ -x "$lfc" ] || { echo "mkdeb: no lfc binary at $lfc (make lfc)" >&2; exit 1; }
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out"

# lfc
d=$stage/lfc
make -C "$root" --no-print-directory install-files DESTDIR="$d" PREFIX=/usr LFC="$lfc" GZIP_MAN=1
# Shipped stripped (Debian policy; a debug build is hundreds of MB).
strip --strip-unneeded "$d/usr/bin/lfc"
install -d "$d/usr/share/doc/lfc"
install -m 644 "$root/README.md" "$d/usr/share/doc/lfc/README.md"
install -m 644 "$root/docs/json.md" "$d/usr/share/doc/lfc/json.md"
install -d "$d/DEBIAN"
cat > "$d/DEBIAN/control" <<CTRL
Package: lfc
Version: $version
Architecture: $arch
Maintainer: lfc maintainers <lfc-maintainers@localhost>
Depends: libc6, libgcc-s1
Recommends: make, gcc, linux-headers-amd64, lf-kernel-dkms
Section: devel
Priority: optional
Installed-Size: $(du -sk "$d/usr" | cut -f1)
Description: ONNX to integer-only kernel snapshot compiler (LiteFlow)
 lfc compiles small ONNX networks into integer-only C kernel modules
 (snapshots) that register into the lf_kernel slot manager, and controls
 them: status, infer, activate, rollback, collect, adapt.
CTRL
dpkg-deb --root-owner-group --build "$d" "$out/lfc_${version}_${arch}.deb" >/dev/null

# lf-kernel-dkms
d=$stage/dkms
src=$d/usr/src/lf-kernel-$version
install -d "$src/include/uapi"
install -m 644 "$root"/runtime-kmod/*.c "$root"/runtime-kmod/*.h "$src/"
install -m 644 "$root"/runtime-kmod/Kbuild "$root"/runtime-kmod/Makefile "$root"/runtime-kmod/dkms.conf "$src/"
install -m 644 "$root"/runtime-kmod/include/*.h "$src/include/"
install -m 644 "$root"/runtime-kmod/include/uapi/*.h "$src/include/uapi/"
install -d "$d/DEBIAN"
cat > "$d/DEBIAN/control" <<CTRL
Package: lf-kernel-dkms
Version: $version
Architecture: all
Maintainer: lfc maintainers <lfc-maintainers@localhost>
Depends: dkms (>= 3)
Recommends: linux-headers-amd64
Section: kernel
Priority: optional
Installed-Size: $(du -sk "$d/usr" | cut -f1)
Description: lf_kernel, the lfc snapshot slot manager (DKMS sources)
 The kernel module lfc's snapshot modules register into (active/standby
 slots under RCU, generic-netlink control, training records). DKMS
 rebuilds it for every installed kernel with headers.
CTRL
# Debian's own DKMS postinst helper: dkms add, then build and install for
# the running and the newest kernel when their headers are there.
cat > "$d/DEBIAN/postinst" <<SCRIPT
#!/bin/sh
set -e
if [ "\$1" = configure ]; then
	/usr/lib/dkms/common.postinst lf-kernel $version "" "" "\$2"
fi
SCRIPT
cat > "$d/DEBIAN/prerm" <<SCRIPT
#!/bin/sh
set -e
case "\$1" in
remove|upgrade|deconfigure)
	if dkms status -m lf-kernel -v $version | grep -q .; then
		dkms remove -m lf-kernel -v $version --all
	fi
	;;
esac
SCRIPT
chmod 755 "$d/DEBIAN/postinst" "$d/DEBIAN/prerm"
dpkg-deb --root-owner-group --build "$d" "$out/lf-kernel-dkms_${version}_all.deb" >/dev/null
ls "$out/lfc_${version}_${arch}.deb" "$out/lf-kernel-dkms_${version}_all.deb"
