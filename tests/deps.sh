#!/usr/bin/env bash
# deps.sh - installs the Debian packages that gatefs needs.
#   deps.sh build   what building and serving needs
#   deps.sh test    build + everything the test suite starts or drives
# Needs root (apt-get).  Safe to run again: apt-get skips what is installed.
set -euo pipefail

BUILD_PACKAGES=(
	build-essential cmake pkg-config rpcsvc-proto
	libntirpc-dev libhiredis-dev libcurl4-openssl-dev libssl-dev libevent-dev uuid-dev
	redis-server
)
TEST_PACKAGES=(
	libtirpc-dev libnfs-dev libnfs-utils
	radosgw ceph-mon ceph-osd ceph-common uuid-runtime curl
	rpcbind iproute2 util-linux gdb
	qemu-system-x86 busybox-static linux-image-amd64 kmod cpio debootstrap
	clang-format prometheus
	podman buildah fuse-overlayfs slirp4netns uidmap runc podman-compose netavark aardvark-dns
)

profile=${1:-build}
packages=("${BUILD_PACKAGES[@]}")
case "$profile" in
build) ;;
test) packages+=("${TEST_PACKAGES[@]}") ;;
*)
	echo "usage: $0 build|test" >&2
	exit 2
	;;
esac

SUDO=
if [ "$(id -u)" != 0 ]; then
	SUDO=sudo
fi
missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps.sh: installing ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian redis-server package starts a system instance; gatefs and its
# tests start their own on private ports and never use it.
