#!/usr/bin/env bash
# base-image.sh - makes the local base image localhost/debian:bookworm for
# docker/Dockerfile (BASE_IMAGE) where no registry is reachable: a
# debootstrap --variant=minbase root file system of Debian bookworm,
# imported with podman.  Kept in podman's image store, so later runs reuse
# it (about 25 s the first time, nothing after).
# usage: base-image.sh [IMAGE]   (CONTAINERS_CONF should point at containers.conf)
set -euo pipefail
image=${1:-localhost/debian:bookworm}
if podman image exists "$image"; then
	exit 0
fi
mirror=$(awk '$1 == "deb" && $3 ~ /^bookworm/ { print $2; exit }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
if [[ -z $mirror ]]; then
	mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
fi
mirror=${mirror:-http://deb.debian.org/debian}
root=$(mktemp -d /tmp/gatefs-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base-image.sh: debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
	tail -n 20 "$root.log"
	rm -f "$root.log"
	exit 1
}
rm -f "$root.log"
# What debootstrap downloaded and the package lists (80 MB) are of no use
# in an image: every Dockerfile runs apt-get update itself.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "base-image.sh: imported $image"
