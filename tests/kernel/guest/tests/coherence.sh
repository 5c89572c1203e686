# shellcheck shell=dash
# coherence.sh - close-to-open between two guests.  A writes and closes; B
# opens and must see the new size and content (B had the old version
# cached); B renames a directory; A must see the new name on its next
# lookup and the old one gone from a fresh listing.
W=/mnt/coherence
if [ "$GK_ROLE" = a ]; then
	step "A: create version 1"
	run mkdir -p "$W/dir1"
	echo version-1 >"$W/dir1/file" || fail "write v1"
	signal v1-written
	await b-read-v1
	step "A: overwrite with version 2 and close"
	run dd if=/dev/urandom of=/tmp/v2 bs=1k count=700 2>/dev/null
	run cp /tmp/v2 "$W/dir1/file"
	sha_of /tmp/v2 >/coord/v2.sha256
	signal v2-written
	step "A: wait for B's rename"
	await b-renamed
	step "A: next lookup sees the renamed directory"
	[ -e "$W/dir2/file" ] || fail "dir2/file not found after B's rename"
	expect_eq "$(sha_of "$W/dir2/file")" "$(sha_of /tmp/v2)" "content under the new name"
	expect_eq "$(ls "$W")" dir2 "fresh listing of the parent"
	step "A: B's new file is visible"
	expect_eq "$(cat "$W/dir2/from-b")" from-b "file written by B"
else
	step "B: wait for A's version 1"
	await v1-written
	step "B: read version 1 (now cached)"
	expect_eq "$(cat "$W/dir1/file")" version-1 "v1 content"
	expect_eq "$(stat -c %s "$W/dir1/file")" 10 "v1 size"
	signal b-read-v1
	step "B: wait for A's version 2"
	await v2-written
	step "B: open sees version 2"
	# open(2) revalidates (close-to-open); a bare stat may use cached
	# attributes for up to acregmin, so the content is checked first.
	expect_eq "$(sha_of "$W/dir1/file")" "$(cat /coord/v2.sha256)" "v2 content"
	expect_eq "$(stat -c %s "$W/dir1/file")" 716800 "v2 size"
	step "B: rename the directory"
	run mv "$W/dir1" "$W/dir2"
	echo from-b >"$W/dir2/from-b" || fail "write from-b"
	signal b-renamed
fi
