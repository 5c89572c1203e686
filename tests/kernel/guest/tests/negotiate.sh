# shellcheck shell=dash
# negotiate.sh - the export was mounted with a plain `mount -t nfs` and no
# vers= (row version auto:V): checks that the kernel settled on NFS version V
# (as /proc/mounts and /proc/self/mountstats report it, and as the RPC program
# version the client actually sends), then a small create/write/read/rename/
# remove round trip on that mount.  Without mount.nfs the kernel does not
# probe the server for a version: it takes its default (3), so V tracks the
# mount path as much as the server.  Rows with version mountnfs:V mount
# with Debian's mount.nfs instead (see gk_mount_nfs_utils), which does
# negotiate: the script then also checks the versions it tried.
want=${GK_VERS#*:}
W=/mnt/negotiate-$GK_ROLE

step "row gives the expected version"
case "$GK_VERS" in
auto:?* | mountnfs:?*) ;;
*) fail "gk.vers must be auto:VERSION or mountnfs:VERSION, got '$GK_VERS'" ;;
esac

# opt OPTIONS NAME: the value of NAME=... in a comma-separated option list.
opt() {
	echo "$1" | tr ',' '\n' | sed -n "s/^$2=//p" | head -n 1
}

step "/proc/mounts: vers=$want"
line=$(grep ' /mnt ' /proc/mounts) || fail "/mnt not in /proc/mounts"
echo "GK-INFO [$GK_ROLE] mounted: $line"
case "$want" in
4*) want_type=nfs4 ;;
*) want_type=nfs ;;
esac
expect_eq "$(echo "$line" | cut -d' ' -f3)" "$want_type" "file system type"
mount_opts=$(echo "$line" | cut -d' ' -f4)
expect_eq "$(opt "$mount_opts" vers)" "$want" "vers in /proc/mounts"
# Neither was given: the kernel took TCP and picked AUTH_SYS from what the
# server offered (the MNT reply's flavor list for v3, SECINFO for v4).
expect_eq "$(opt "$mount_opts" proto)" tcp "proto"
expect_eq "$(opt "$mount_opts" sec)" sys "sec"

if [ "${GK_VERS%%:*}" = mountnfs ]; then
	# mount.nfs -v logs one "trying text-based options" line per mount(2)
	# and "mount(2): Protocol not supported" for each v4 minor version the
	# server refused (gatefs answers NFSv4 with PROG_MISMATCH).
	step "mount.nfs started at v4.2 and stepped down to $want"
	log=/tmp/gk-mount-nfs.log
	sed -n "s/.*trying text-based options '\(.*\)'.*/\1/p" "$log" >/tmp/tried
	expect_eq "$(opt "$(head -n 1 /tmp/tried)" vers)" 4.2 "first version mount.nfs tried"
	case "$want" in
	4.2) attempts=1 ;;
	4.1) attempts=2 ;;
	4 | 4.0) attempts=3 ;;
	*) attempts=4 ;;
	esac
	expect_eq "$(wc -l </tmp/tried)" "$attempts" "mount(2) attempts (4.2, 4.1, 4.0, 3 down to $want)"
	expect_eq "$(grep -c 'mount(2): Protocol not supported' "$log")" $((attempts - 1)) "versions the server refused"
	if [ "$want" = 3 ]; then
		# Not given on the command line: found through the portmapper.
		expect_eq "$(opt "$mount_opts" mountport)" "$GK_MPORT" "MOUNT port from the portmapper"
	fi
fi

step "/proc/self/mountstats: vers=$want, NFS program version ${want%%.*}"
awk '/^device / { on = ($5 == "/mnt") } on' /proc/self/mountstats >/tmp/mountstats
[ -s /tmp/mountstats ] || fail "/mnt not in /proc/self/mountstats"
stats_opts=$(awk '$1 == "opts:" { print $2 }' /tmp/mountstats)
expect_eq "$(opt "$stats_opts" vers)" "$want" "vers in mountstats"
# "RPC iostats version: 1.1  p/v: 100003/3 (nfs)": what goes on the wire.
wire=$(sed -n 's|.*p/v: 100003/\([0-9]*\) .*|\1|p' /tmp/mountstats)
expect_eq "$wire" "${want%%.*}" "NFS RPC program version on the wire"

step "create and write"
rm -rf "$W"
run mkdir "$W"
run dd if=/dev/urandom of=/tmp/ref bs=64k count=16 2>/dev/null
run cp /tmp/ref "$W/data"
echo small >"$W/small" || fail "write small"
run sync

step "read back after dropping caches"
drop_caches
cmp "$W/data" /tmp/ref || fail "1 MiB file differs from what was written"
expect_eq "$(cat "$W/small")" small "small file content"
expect_eq "$(stat -c %s "$W/data")" 1048576 "size"

step "rename"
run mv "$W/data" "$W/renamed"
absent "$W/data"
drop_caches
cmp "$W/renamed" /tmp/ref || fail "renamed file differs"
expect_eq "$(ls "$W")" "$(printf 'renamed\nsmall')" "listing after rename"

step "remove"
run rm "$W/renamed" "$W/small"
run rmdir "$W"
drop_caches
absent "$W"
