#!/bin/bash
# mkrootfs.sh - builds the Debian root filesystem that guests share read-only
# over virtio-9p for tests that need python3 (the HF-cache workflow uses
# python3-filelock) or Debian's mount.nfs (nfs-common; netbase brings the
# /etc/protocols and /etc/services it reads).  Cached: the stamp is a hash of
# the suite, mirror, package list and this script, so a tree built from an
# older list is rebuilt.
#
# usage: mkrootfs.sh OUTDIR
set -euo pipefail
out=${1:?usage: mkrootfs.sh OUTDIR}
suite=${GK_DEBIAN_SUITE:-bookworm}
# The mirror apt already uses, so CI and developers need no extra settings.
mirror=${GK_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}
if [[ -z $mirror ]]; then
	mirror=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1)
fi
if [[ -z $mirror ]]; then
	echo "mkrootfs.sh: no Debian mirror in apt's sources; set GK_DEBIAN_MIRROR" >&2
	exit 1
fi
packages=python3-minimal,python3,python3-filelock,nfs-common,netbase
key=$(printf '%s\n' "$suite" "$mirror" "$packages" | cat - "$0" | sha256sum | cut -c1-16)

if [[ -f $out/.gk-stamp && $(cat "$out/.gk-stamp") == "$key" ]]; then
	exit 0
fi
rm -rf "$out" "$out.tmp"
mkdir -p "$(dirname "$out")"
debootstrap --variant=minbase --include="$packages" "$suite" "$out.tmp" "$mirror" >"$out.log" 2>&1 ||
	{ tail -n 30 "$out.log" >&2; exit 1; }
# Mount points the guest needs inside the read-only tree.
mkdir -p "$out.tmp/mnt" "$out.tmp/coord" "$out.tmp/gk"
echo "$key" >"$out.tmp/.gk-stamp"
mv "$out.tmp" "$out"
