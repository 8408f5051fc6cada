#!/bin/sh
# Prints the kernel build directory to build modules against: the running
# kernel's when its headers are installed, else the newest installed
# Debian linux-headers-*-amd64 tree.
run="/lib/modules/$(uname -r)/build"
if [ -d "$run" ]; then
	echo "$run"
	exit 0
fi
ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1
