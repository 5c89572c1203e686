#!/usr/bin/env bash
# test_data_dir.sh - the embedded default's data directory is one gateway's:
# a second `gatefs serve` on it exits 1 while the first keeps answering NFS
# and keeps its redis-server; the admin commands with --data-dir use the
# running redis instead of starting a second one; a relative --data-dir is
# made absolute; a copied data directory refuses to write into the
# original's objects until it is pointed at its own.
#
# usage: test_data_dir.sh GATEFS_BINARY
set -u
GATEFS=$1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatefs-datadir-XXXXXX")
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"
wait_port() { # PORT: until something listens there (10 s)
	for _ in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
nfs_null() { # PORT: an NFSv3 NULL call over TCP (xid 0x12345678, AUTH_NONE) gets an accepted SUCCESS reply
	local reply
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf '\x80\x00\x00\x28\x12\x34\x56\x78\x00\x00\x00\x00\x00\x00\x00\x02\x00\x01\x86\xa3\x00\x00\x00\x03' >&3
	printf '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' >&3
	reply=$(timeout 5 head -c 28 <&3 | od -An -tx1 | tr -d ' \n')
	exec 3<&-
	echo "reply $reply"
	[ "$reply" = 80000018123456780000000100000000000000000000000000000000 ]
}
# redis-servers whose command line names this socket
redis_count() { pgrep -f -- "redis-server.*$1" | wc -l; }

serve() { # LOG NFS_PORT MOUNT_PORT DATA_DIR: starts a gateway in the background, pid in $SERVED
	"$GATEFS" serve --data-dir "$4" --listen 127.0.0.1 --nfs-port "$2" --mount-port "$3" \
		--portmapper off >"$1" 2>&1 &
	SERVED=$!
	PIDS+=($SERVED)
}

cd "$WORK" || exit 1
DATA=$WORK/data # given relative below: gatefs must make it absolute

# ---- the first gateway, started with a relative --data-dir ---------------------
free_port NFS1
free_port MNT1
serve "$WORK/first.log" "$NFS1" "$MNT1" data
FIRST=$SERVED
if wait_port "$NFS1"; then ok first_gateway_up; else
	fail first_gateway_up "$WORK/first.log"
	exit 1
fi
SOCK=$DATA/redis.sock
if [ "$(redis-cli -s "$SOCK" PING 2>&1)" = PONG ]; then ok embedded_redis_answers; else fail embedded_redis_answers; fi
expect relative_data_dir_made_absolute 0 "storage: +file://$DATA/objects\$" -- \
	"$GATEFS" status --meta "unix://$SOCK?db=0"
if [ "$(stat -c %a "$DATA/lock")" = 600 ] && grep -qx "$FIRST" "$DATA/lock"; then ok lock_file_names_holder; else
	fail lock_file_names_holder
fi

# ---- a second gateway on the same directory is refused -------------------------
free_port NFS2
free_port MNT2
"$GATEFS" serve --data-dir "$DATA" --listen 127.0.0.1 --nfs-port "$NFS2" --mount-port "$MNT2" --portmapper off \
	>"$WORK/second.log" 2>&1 &
SECOND=$!
for _ in $(seq 300); do kill -0 "$SECOND" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$SECOND" 2>/dev/null; then
	kill -TERM "$SECOND"
	wait "$SECOND"
	fail "second_instance_exits (still running)" "$WORK/second.log"
else
	wait "$SECOND"
	rc=$?
	if [ "$rc" = 1 ] && grep -q "in use by another gatefs (pid $FIRST)" "$WORK/second.log"; then
		ok second_instance_refused
	else
		echo "exit status $rc" >>"$WORK/second.log"
		fail second_instance_refused "$WORK/second.log"
	fi
fi
# The first still has its socket, its one redis-server, and answers NFS.
if [ -S "$SOCK" ] && [ "$(redis-cli -s "$SOCK" PING 2>&1)" = PONG ]; then ok first_redis_still_reachable; else
	fail first_redis_still_reachable
fi
n=$(redis_count "$SOCK")
if [ "$n" = 1 ]; then ok one_redis_server; else fail "one_redis_server ($n)"; fi
expect first_answers_nfs_null 0 "" -- nfs_null "$NFS1"
head -c 200000 /dev/urandom >"$WORK/payload"
URL="nfs://127.0.0.1/hf/payload?nfsport=$NFS1&mountport=$MNT1&version=3"
expect first_still_writes 0 "" -- nfs-cp "$WORK/payload" "$URL"
expect first_still_reads 0 "" -- nfs-cp "$URL" "$WORK/readback"
if cmp -s "$WORK/payload" "$WORK/readback"; then ok first_data_round_trip; else fail first_data_round_trip; fi

# ---- admin commands on a live data directory use its redis ----------------------
expect status_data_dir_live 0 "storage: +file://$DATA/objects" -- "$GATEFS" status --data-dir data
expect fsck_data_dir_live 0 "namespace: clean" -- "$GATEFS" fsck --data-dir "$DATA" --objects
expect gc_data_dir_live 0 "0 leaked" -- "$GATEFS" gc --data-dir "$DATA" --delete
n=$(redis_count "$SOCK")
if [ "$n" = 1 ]; then ok admin_started_no_second_redis; else fail "admin_started_no_second_redis ($n)"; fi
expect first_answers_after_admin 0 "" -- nfs-cp "$URL" "$WORK/readback2"

kill -TERM "$FIRST"
wait "$FIRST"
rc=$?
if [ "$rc" = 0 ]; then ok first_stops_cleanly; else fail first_stops_cleanly "$WORK/first.log"; fi
n=$(redis_count "$SOCK")
if [ "$n" = 0 ]; then ok redis_stopped_with_gateway; else fail "redis_stopped_with_gateway ($n)"; fi

# ---- offline: an admin command runs a private redis under the lock ----------------
expect status_data_dir_offline 0 "inodes: +[2-9]" -- "$GATEFS" status --data-dir "$DATA"
n=$(redis_count "$SOCK")
if [ "$n" = 0 ]; then ok offline_admin_stops_its_redis; else fail "offline_admin_stops_its_redis ($n)"; fi

# ---- a copy of the data directory ----------------------------------------------
cp -a "$DATA" "$WORK/copy"
rm -f "$WORK/copy/redis.sock"
before=$(find "$DATA/objects" -type f | sort | xargs sha1sum)
free_port NFS3
free_port MNT3
"$GATEFS" serve --data-dir "$WORK/copy" --listen 127.0.0.1 --nfs-port "$NFS3" --mount-port "$MNT3" \
	--portmapper off >"$WORK/copy.log" 2>&1 &
COPY=$!
PIDS+=($COPY)
for _ in $(seq 300); do kill -0 "$COPY" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$COPY" 2>/dev/null; then
	fail "copied_data_dir_refused (it serves)" "$WORK/copy.log"
	kill -TERM "$COPY"
else
	wait "$COPY"
	rc=$?
	if [ "$rc" = 1 ] && grep -q "copied or moved" "$WORK/copy.log"; then ok copied_data_dir_refused; else
		fail copied_data_dir_refused "$WORK/copy.log"
	fi
fi
after=$(find "$DATA/objects" -type f | sort | xargs sha1sum)
if [ "$before" = "$after" ]; then ok original_objects_untouched; else fail original_objects_untouched; fi
# The way out that the message gives: point the copy at its own objects.
expect copy_pointed_at_own_objects 0 "storage file://$WORK/copy/objects" -- \
	"$GATEFS" format --data-dir "$WORK/copy" --storage "file://$WORK/copy/objects" --force gatefs
serve "$WORK/copy2.log" "$NFS3" "$MNT3" "$WORK/copy"
if wait_port "$NFS3"; then ok copy_serves_after_repoint; else fail copy_serves_after_repoint "$WORK/copy2.log"; fi
URL3="nfs://127.0.0.1/hf/payload?nfsport=$NFS3&mountport=$MNT3&version=3"
expect copy_reads_its_data 0 "" -- nfs-cp "$URL3" "$WORK/readback3"
if cmp -s "$WORK/payload" "$WORK/readback3"; then ok copy_data_intact; else fail copy_data_intact; fi
kill -TERM "$SERVED"
wait "$SERVED"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
