# shellcheck shell=dash
# space.sh - NFSv4.2 SEEK, ALLOCATE, DEALLOCATE, CLONE and COPY from the
# Linux client: lseek SEEK_DATA/SEEK_HOLE, posix_fallocate and fallocate
# --punch-hole on a sparse file, cp --reflink=always and copy_file_range
# of 1 GiB (space.py, with python3, util-linux and coreutils from the Debian
# rootfs shared over 9p; the host hook `space` checks that the clone
# stored no bytes).
[ -x /rootfs/usr/bin/python3 ] || fail "no python3 in /rootfs"
step "prepare the chroot"
run mount -t proc proc /rootfs/proc
run mount -t tmpfs tmp /rootfs/tmp
run mkdir /rootfs/tmp/coord
run mount --bind /coord /rootfs/tmp/coord
run mount --bind /dev /rootfs/dev
run mount --bind /mnt /rootfs/mnt
run mount --bind /gk /rootfs/gk
step "seek, allocate, punch, clone and copy"
chroot /rootfs /usr/bin/python3 /gk/tests/space.py || fail "space.py failed"
