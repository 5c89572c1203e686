# shellcheck shell=dash
# restart.sh - the host SIGKILLs and restarts the gateway while this guest
# writes a large file on a hard mount: the write must complete and the
# content must match.  Part 1 is written unstable (no fsync) and then the
# host kills the gateway, so whatever it had not committed is lost and the
# client must resend it when it sees the new write verifier.
W=/mnt/restart-$GK_ROLE
MIB=${GK_RESTART_MIB:-96}
half=$((MIB / 2))
step "make $MIB MiB of random data"
run mkdir -p "$W"
run dd if=/dev/urandom of=/tmp/data bs=1M count="$MIB" 2>/dev/null
want=$(sha_of /tmp/data)
# Start writeback early so unstable WRITEs reach the gateway before the kill.
echo 4194304 >/proc/sys/vm/dirty_background_bytes || fail "dirty_background_bytes"
step "write part 1 unstable"
run dd if=/tmp/data of="$W/data" bs=1M count="$half" 2>/dev/null
signal part1-written
step "write part 2 with fsync while the gateway is killed and restarted"
run dd if=/tmp/data of="$W/data" bs=1M skip="$half" seek="$half" conv=notrunc,fsync 2>/dev/null
[ -e /coord/killed ] || fail "the host did not kill the gateway during the write"
await restarted 60
step "read back after dropping caches"
drop_caches
expect_eq "$(stat -c %s "$W/data")" $((MIB * 1048576)) "size"
expect_eq "$(sha_of "$W/data")" "$want" "sha256 after restart"
