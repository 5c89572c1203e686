# shellcheck shell=dash
# posix.sh - POSIX basics through the kernel NFS client.  Every data change
# is mirrored on a tmpfs reference file and compared after dropping caches,
# so what is checked is what the server stored, not the client's page cache.
W=/mnt/posix-$GK_ROLE
R=/tmp/ref
run mkdir -p "$R"
step "mkdir work dir"
rm -rf "$W"
run mkdir "$W"
cd "$W" || fail "cd $W"

same() { # same NAME: the export's file equals the reference after a cache drop
	drop_caches
	cmp "$W/$1" "$R/$1" || fail "$1 differs from reference"
}

step "create"
echo hello >f && echo hello >"$R/f" || fail "write"
same f
step "append"
echo world >>f && echo world >>"$R/f" || fail "append"
same f
step "overwrite in the middle"
printf XY | dd of=f bs=1 seek=2 conv=notrunc 2>/dev/null || fail "dd"
printf XY | dd of="$R/f" bs=1 seek=2 conv=notrunc 2>/dev/null
same f
expect_eq "$(head -n1 f)" "heXYo" "first line"
step "truncate shrink"
run truncate -s 3 f
run truncate -s 3 "$R/f"
same f
step "truncate extend (zero fill)"
run truncate -s 70000 f
run truncate -s 70000 "$R/f"
same f
expect_eq "$(stat -c %s f)" 70000 "size after extend"
step "write past EOF leaves a hole"
printf Z | dd of=f bs=1 seek=200000 conv=notrunc 2>/dev/null || fail "dd"
printf Z | dd of="$R/f" bs=1 seek=200000 conv=notrunc 2>/dev/null
same f

step "rename"
echo a >a
run mv a b
absent a
expect_eq "$(cat b)" a "renamed content"
step "rename over an existing file"
echo c >c
run mv b c
absent b
expect_eq "$(cat c)" a "content after rename over"
drop_caches
expect_eq "$(ls)" "$(printf 'c\nf')" "directory listing"
step "rename across directories"
run mkdir d1 d2
echo x >d1/x
run mv d1/x d2/y
absent d1/x
expect_eq "$(cat d2/y)" x "moved content"
step "directory rename"
echo z >d1/z
run mv d1 d3
absent d1
expect_eq "$(cat d3/z)" z "content in renamed dir"
run mv d3 d2/sub
expect_eq "$(cat d2/sub/z)" z "content in moved dir"
drop_caches
expect_eq "$(stat -c %h d2)" 3 "nlink of dir with one subdir"

step "symlink and readlink"
run ln -s d2/sub/z sl
expect_eq "$(readlink sl)" d2/sub/z "readlink"
expect_eq "$(cat sl)" z "read through symlink"
run ln -s ../../f d2/sub/rel
drop_caches
expect_eq "$(readlink d2/sub/rel)" ../../f "readlink relative"
cmp d2/sub/rel "$R/f" || fail "read through relative symlink"
step "hard link and link count"
run ln c h
expect_eq "$(stat -c %h c)" 2 "nlink after link"
expect_eq "$(stat -c %i c)" "$(stat -c %i h)" "same inode"
run rm h
drop_caches
expect_eq "$(stat -c %h c)" 1 "nlink after unlink"

step "chmod"
run chmod 640 c
drop_caches
expect_eq "$(stat -c %a c)" 640 "mode"
step "chown as root"
run chown 1234:5678 c
drop_caches
expect_eq "$(stat -c %u:%g c)" 1234:5678 "owner"
step "utimes (touch -d)"
run touch -d "2001-02-03 04:05:06" c
want=$(date -d "2001-02-03 04:05:06" +%s)
drop_caches
expect_eq "$(stat -c %Y c)" "$want" "mtime"

step "unlink an open file (silly rename)"
echo still-here >open
exec 3<open
run rm open
absent open
# shellcheck disable=SC2010 # the listing itself is what is checked
expect_eq "$(ls -A | grep -c '^\.nfs')" 1 "silly-renamed entry"
expect_eq "$(cat <&3)" still-here "read through the open descriptor"
exec 3<&-
n=0
# shellcheck disable=SC2010
while ls -A | grep -q '^\.nfs'; do
	n=$((n + 1))
	[ $n -gt 50 ] && fail ".nfs file not removed after close"
	usleep 100000
done

step "rmdir"
run mkdir empty
run rmdir empty
absent empty
! rmdir d2 2>/dev/null || fail "rmdir of a non-empty dir succeeded"

step "create 5000 entries"
run mkdir big
seq 1 5000 | sed 's/^/e/' | sort >/tmp/want
(cd big && xargs touch </tmp/want) || fail "touch"
step "ls -l of 5000 entries"
drop_caches
ls -l big >/tmp/lsl || fail "ls -l"
expect_eq "$(grep -c '^-rw' /tmp/lsl)" 5000 "regular files listed"
awk 'NR > 1 { print $NF }' /tmp/lsl | sort >/tmp/got
cmp /tmp/got /tmp/want || fail "names differ: $(diff /tmp/want /tmp/got | head -n 5)"
step "remove 5000 entries"
run rm -r big
absent big
