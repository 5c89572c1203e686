# shellcheck shell=dash
# persist-read.sh - after the server restarted (the appliance test), the
# data persist-write.sh wrote is all there and unchanged.
W=/mnt/persist
step "data after the restart"
drop_caches
[ -f "$W/data.sha256" ] || fail "digest missing after the restart"
expect_eq "$(stat -c %s "$W/data")" 16777216 "size"
expect_eq "$(sha_of "$W/data")" "$(cat "$W/data.sha256")" "sha256 after the restart"
step "tree after the restart"
expect_eq "$(cat "$W/tree/sub/leaf")" leaf "leaf"
expect_eq "$(readlink "$W/tree/link")" sub/leaf "symlink target"
expect_eq "$(cat "$W/tree/link")" leaf "through the symlink"
