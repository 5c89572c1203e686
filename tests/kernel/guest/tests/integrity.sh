# shellcheck shell=dash
# integrity.sh - 256 MiB of random data written with dd + fsync, read back
# after dropping the page cache, SHA-256 compared here; the digest goes to
# /coord/data.sha256 so the host can read the file through the gateway too.
W=/mnt/integrity-$GK_ROLE
MIB=${GK_INTEGRITY_MIB:-256}
step "make $MIB MiB of random data"
run mkdir -p "$W"
run dd if=/dev/urandom of=/tmp/data bs=1M count="$MIB" 2>/dev/null
want=$(sha_of /tmp/data)
step "write with dd + fsync"
run dd if=/tmp/data of="$W/data" bs=1M conv=fsync 2>/dev/null
rm -f /tmp/data
step "read back after dropping caches"
drop_caches
expect_eq "$(stat -c %s "$W/data")" $((MIB * 1048576)) "size"
expect_eq "$(sha_of "$W/data")" "$want" "sha256 read back"
echo "$want" >/coord/data.sha256 || fail "write digest"
