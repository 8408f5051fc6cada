#!/usr/bin/env bash
# Installs the Debian packages lfc's build and tests need, if missing:
# a C compiler, valgrind (instruction counts), Debian's 6.1 and 6.12
# kernels with headers (snapshot modules are built and booted for both),
# QEMU and a static busybox (the VM tests' guest), iproute2 (netns tests).
# openssl: the signing test generates a test key and verifies signatures.
# chromium: the HTML report test renders `lfc eval --report` headless.
# linux-source-6.12, flex, bison, bc, libelf-dev, libssl-dev: the debug
# kernel that make test builds (scripts/debug-kernel.sh). zsh, fish: the
# completions test loads lfc's completions into them (tests/cli.rs).
# Needs root to install; without root it only reports what is missing.
set -euo pipefail

pkgs=(build-essential valgrind
      linux-image-amd64 linux-headers-amd64
      linux-image-6.12-amd64 linux-headers-6.12-amd64
      qemu-system-x86 busybox-static cpio iproute2 kmod openssl chromium
      linux-source-6.12 flex bison bc libelf-dev libssl-dev xz-utils
      zsh fish)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages: ${missing[*]}" >&2
	echo "install-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
