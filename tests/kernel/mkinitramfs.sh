#!/bin/bash
# mkinitramfs.sh - builds the guest initramfs: busybox-static, the kernel
# modules for virtio-net, 9p and the NFS client (in modprobe's load order),
# the static lock helper, and the guest init and test scripts.  Also copies
# the kernel next to it.  Cached: rebuilt only when an input changes.
#
# usage: mkinitramfs.sh OUTDIR GUEST_DIR LOCK_HELPER
# writes OUTDIR/initramfs.cpio, OUTDIR/vmlinuz, OUTDIR/kver
set -euo pipefail
out=${1:?usage}
guest=${2:?usage}
lock_helper=${3:?usage}
busybox=${GK_BUSYBOX:-/bin/busybox}
kver=${GK_KVER:-$(ls /boot/vmlinuz-* 2>/dev/null | sed 's|.*/vmlinuz-||' | sort -V | tail -n1)}
[[ -n $kver && -f /boot/vmlinuz-$kver ]] || { echo "mkinitramfs: no /boot/vmlinuz-*; apt-get install linux-image-amd64" >&2; exit 1; }
[[ -x $busybox ]] || { echo "mkinitramfs: no $busybox (apt-get install busybox-static)" >&2; exit 1; }
# The initramfs has no C library: a dynamic busybox (package busybox) cannot run.
if ldd "$busybox" >/dev/null 2>&1; then
	echo "mkinitramfs: $busybox is dynamically linked (apt-get install busybox-static)" >&2
	exit 1
fi

modules=$(for m in virtio_pci virtio_net 9pnet_virtio 9p nfsv3 nfsv4; do
	modprobe -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }')
[[ -n $modules ]] || { echo "mkinitramfs: modprobe found no modules for $kver" >&2; exit 1; }

key=$( {
	echo "$kver"
	sha256sum "$busybox" "$lock_helper" "$0" /boot/vmlinuz-"$kver" $modules
	find "$guest" -type f | sort | xargs sha256sum
} | sha256sum | cut -c1-16)
if [[ -f $out/initramfs.key && $(cat "$out/initramfs.key") == "$key" ]]; then
	exit 0
fi

mkdir -p "$out"
root=$(mktemp -d "$out/root.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,mnt,coord,rootfs,gk,lib/modules}
cp "$busybox" "$root/bin/busybox"
cp "$lock_helper" "$root/bin/gk-lock"
cp "$guest/init" "$root/init"
cp "$guest/lib.sh" "$root/gk/lib.sh"
cp -r "$guest/tests" "$root/gk/tests"
chmod 755 "$root/init" "$root/bin/busybox" "$root/bin/gk-lock"
prefix=/lib/modules/$kver/
for m in $modules; do
	rel=${m#"$prefix"}
	mkdir -p "$root/lib/modules/$(dirname "$rel")"
	case "$m" in
	*.ko.xz) xz -dc "$m" >"$root/lib/modules/${rel%.xz}"; rel=${rel%.xz} ;;
	*.ko.zst) zstd -qdc "$m" >"$root/lib/modules/${rel%.zst}"; rel=${rel%.zst} ;;
	*) cp "$m" "$root/lib/modules/$rel" ;;
	esac
	echo "$rel" >>"$root/etc/gk-modules"
done
# Uncompressed: packing is instant and TCG decompression would cost seconds.
(cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc --owner=0:0) >"$out/initramfs.cpio.tmp"
mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
cp /boot/vmlinuz-"$kver" "$out/vmlinuz"
echo "$kver" >"$out/kver"
echo "$key" >"$out/initramfs.key"
