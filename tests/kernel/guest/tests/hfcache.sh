# shellcheck shell=dash
# hfcache.sh - the Hugging Face cache workflow from two guests at once, with
# python3-filelock from the Debian rootfs (shared read-only over 9p).  Under
# NFSv3 with nolock the locks are local to each client, so both guests may
# download the same blob at once: the test proves that the
# write-temp-then-rename path still leaves every blob complete and identical.
[ -x /rootfs/usr/bin/python3 ] || fail "no python3 in /rootfs"
step "prepare the chroot"
run mount -t proc proc /rootfs/proc
run mount -t tmpfs tmp /rootfs/tmp
run mount --bind /dev /rootfs/dev
run mount --bind /mnt /rootfs/mnt
run mount --bind /coord /rootfs/coord
run mount --bind /gk /rootfs/gk
step "download into the shared cache"
chroot /rootfs /usr/bin/python3 /gk/tests/hf_cache.py "$GK_ROLE" || fail "hf_cache.py failed"
