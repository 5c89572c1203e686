# shellcheck shell=dash
# persist-write.sh - data that must outlive a restart of the server (the
# appliance test): 16 MiB of random data and a small tree, written with
# fsync, read back after dropping caches; the digest is kept next to the
# data for persist-read.sh.
W=/mnt/persist
step "make 16 MiB of random data"
run mkdir -p "$W/tree/sub"
run dd if=/dev/urandom of=/tmp/data bs=1M count=16 2>/dev/null
want=$(sha_of /tmp/data)
step "write with dd + fsync"
run dd if=/tmp/data of="$W/data" bs=1M conv=fsync 2>/dev/null
echo "$want" >"$W/data.sha256" || fail "write digest"
echo leaf >"$W/tree/sub/leaf" || fail "write leaf"
run ln -s sub/leaf "$W/tree/link"
run sync
step "read back after dropping caches"
drop_caches
expect_eq "$(stat -c %s "$W/data")" 16777216 "size"
expect_eq "$(sha_of "$W/data")" "$want" "sha256 read back"
expect_eq "$(cat "$W/tree/link")" leaf "through the symlink"
