#!/usr/bin/env bash
# test_cli.sh - the admin commands end to end: `gatefs format`, `status`,
# `fsck` (namespace and --objects) and `gc`, against a real redis-server, a
# file:// store, and (for the S3 error path) the radosgw fixture.  Data is
# written through a real `gatefs serve` with libnfs's nfs-cp.
#
# usage: test_cli.sh GATEFS_BINARY [RADOSGW_ENV_FILE]
set -u
GATEFS=$1
S3_ENV=${2:-}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatefs-cli-XXXXXX")
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"
start_redis() { # DIR PORT [extra args]
	local dir=$1 port=$2
	shift 2
	mkdir -p "$dir"
	redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly yes \
		--logfile "$dir/redis.log" "$@" &
	PIDS+=($!)
	for _ in $(seq 100); do
		redis-cli -p "$port" PING >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "redis-server did not start" >&2
	return 1
}

free_port RPORT
start_redis "$WORK/redis" "$RPORT" || exit 1
META=redis://127.0.0.1:$RPORT/0
STORE=$WORK/objects
mkdir -p "$STORE"

# ---- format and status ------------------------------------------------------
expect format_file 0 "formatted" -- "$GATEFS" format --meta "$META" --storage "file://$STORE" --block-size 64K vol1
UUID=$("$GATEFS" status --meta "$META" | awk '/^uuid:/ {print $2}')
# Everything below that compares uuids needs a real one.
if [[ $UUID =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]; then
	ok status_gives_uuid
else
	echo "status gave uuid '$UUID'" >"$WORK/out"
	fail status_gives_uuid "$WORK/out"
	echo "$passed passed, $failed failed"
	exit 1
fi
expect status_shows_settings 0 "block size: +65536" -- "$GATEFS" status --meta "$META"
expect format_refuses_existing 1 "already exists" -- "$GATEFS" format --meta "$META" --storage "file://$STORE" vol1
expect format_force_keeps_uuid 0 "uuid $UUID" -- "$GATEFS" format --meta "$META" --storage "file://$STORE" --force vol1

# ---- format --force never replaces an identity ------------------------------
SETTING='gatefs{gfs}:setting'
SECRET=$(redis-cli -p "$RPORT" HGET "$SETTING" secret)
VERSION=$(redis-cli -p "$RPORT" HGET "$SETTING" version)
identity_kept() { # NAME: the uuid and the secret are the ones of the first format
	if [ "$(redis-cli -p "$RPORT" HGET "$SETTING" uuid)" = "$UUID" ] &&
		[ "$(redis-cli -p "$RPORT" HGET "$SETTING" secret)" = "$SECRET" ]; then
		ok "$1"
	else
		redis-cli -p "$RPORT" HGETALL "$SETTING" >"$WORK/out"
		fail "$1" "$WORK/out"
	fi
}
# settings that cannot be loaded: another format version, a corrupt field
redis-cli -p "$RPORT" HSET "$SETTING" version 99 >/dev/null
expect format_force_refuses_version_mismatch 1 "refusing to format.*version 99" -- \
	"$GATEFS" format --meta "$META" --storage "file://$STORE" --force vol1
identity_kept identity_kept_after_version_mismatch
redis-cli -p "$RPORT" HSET "$SETTING" version "$VERSION" secret not-hex >/dev/null
expect format_force_refuses_corrupt_secret 1 "refusing to format.*corrupt" -- \
	"$GATEFS" format --meta "$META" --storage "file://$STORE" --force vol1
if [ "$(redis-cli -p "$RPORT" HGET "$SETTING" secret)" = not-hex ]; then ok corrupt_secret_left_alone; else fail corrupt_secret_left_alone; fi
redis-cli -p "$RPORT" HSET "$SETTING" secret "$SECRET" >/dev/null
identity_kept identity_restored
# a transient error: the settings cannot be read at all (HGETALL fails)
free_port TPORT
start_redis "$WORK/redis-hgetall" "$TPORT" --rename-command HGETALL "" || exit 1
"$GATEFS" format --meta "redis://127.0.0.1:$TPORT/0" --storage "file://$STORE" vol3 >"$WORK/out" 2>&1
T_UUID=$(redis-cli -p "$TPORT" HGET "$SETTING" uuid)
T_SECRET=$(redis-cli -p "$TPORT" HGET "$SETTING" secret)
if [ -n "$T_UUID" ]; then ok transient_volume_created; else fail transient_volume_created "$WORK/out"; fi
expect format_force_refuses_unreadable_settings 1 "refusing to format.*cannot be read" -- \
	"$GATEFS" format --meta "redis://127.0.0.1:$TPORT/0" --storage "file://$STORE" --force vol3
if [ "$(redis-cli -p "$TPORT" HGET "$SETTING" uuid)" = "$T_UUID" ] &&
	[ "$(redis-cli -p "$TPORT" HGET "$SETTING" secret)" = "$T_SECRET" ]; then
	ok identity_kept_after_transient_error
else
	fail identity_kept_after_transient_error
fi
# another store: refused while it holds nothing of this volume
mkdir -p "$WORK/other-store" "$STORE/$UUID"
echo marker >"$STORE/$UUID/marker"
expect format_force_refuses_foreign_storage 1 "refusing to change the storage" -- \
	"$GATEFS" format --meta "$META" --storage "file://$WORK/other-store" --force vol1
expect storage_unchanged 0 "storage: +file://$STORE\$" -- "$GATEFS" status --meta "$META"
cp -a "$STORE" "$WORK/copied-store"
expect format_force_accepts_store_with_uuid 0 "uuid $UUID, block size 65536, storage file://$WORK/copied-store" -- \
	"$GATEFS" format --meta "$META" --storage "file://$WORK/copied-store" --force vol1
expect format_force_back_to_store 0 "storage file://$STORE\$" -- \
	"$GATEFS" format --meta "$META" --storage "file://$STORE" --force vol1
rm -f "$STORE/$UUID/marker"
identity_kept identity_kept_after_storage_moves
expect format_bad_block_size 2 "power of two" -- "$GATEFS" format --meta "$META" --storage "file://$STORE" --block-size 3000 v
expect format_usage_without_storage 2 "usage" -- "$GATEFS" format --meta "$META" vol1
expect format_unreachable_store 1 "probe|cannot" -- "$GATEFS" format --meta "redis://127.0.0.1:$RPORT/3" \
	--storage "file:///proc/no/such/dir" vol2
expect status_unformatted_db 1 "no volume" -- "$GATEFS" status --meta "redis://127.0.0.1:$RPORT/5"
expect fsck_fresh_volume 0 "namespace: clean" -- "$GATEFS" fsck --meta "$META" --objects
# "could not run" is not "problems found"
free_port DEADPORT
expect fsck_unreachable_redis_exit_3 3 "cannot use metadata engine" -- \
	"$GATEFS" fsck --meta "redis://127.0.0.1:$DEADPORT/0"
expect fsck_no_volume_exit_3 3 "no volume" -- "$GATEFS" fsck --meta "redis://127.0.0.1:$RPORT/5"
expect fsck_help_documents_exit_3 0 "3 could not run" -- "$GATEFS" fsck --help

# A Redis password is never printed, in either spelling of the URL.
for url in "redis://:sekrit-pw@127.0.0.1:$DEADPORT/0" "redis://127.0.0.1:$DEADPORT/0?password=sekrit-pw" \
	"redis://admin:sekrit-pw@127.0.0.1:$DEADPORT/0?db=0"; do
	for cmd in status fsck gc; do
		"$GATEFS" $cmd --meta "$url" >"$WORK/out" 2>&1
		if grep -q sekrit "$WORK/out" || ! grep -q '\*\*\*' "$WORK/out"; then
			fail "password_redacted ($cmd $url)" "$WORK/out"
		else
			ok "password_redacted ($cmd)"
		fi
	done
done
# nor does serve, whose volume cannot be opened
printf 'meta_url = "redis://:sekrit-pw@127.0.0.1:%s/0"\nportmapper = off\nlisten = 127.0.0.1\nnfs_port = 0\nmount_port = 0\n' \
	"$DEADPORT" >"$WORK/secret.conf"
expect serve_unreachable_redis_exit_1 1 "cannot reach redis at redis://127.0.0.1" -- "$GATEFS" serve --config "$WORK/secret.conf"
if grep -q sekrit "$WORK/out"; then fail password_redacted_serve "$WORK/out"; else ok password_redacted_serve; fi

# An evicting Redis is refused with the reason and the fix.
free_port EPORT
start_redis "$WORK/redis-evict" "$EPORT" --maxmemory-policy allkeys-lru || exit 1
expect format_refuses_evicting_redis 1 "noeviction" -- "$GATEFS" format --meta "redis://127.0.0.1:$EPORT/0" \
	--storage "file://$STORE" v

# ---- data through a real gateway, then fsck --objects and gc ------------------
free_port NFS_PORT
free_port MOUNT_PORT
cat >"$WORK/gatefs.conf" <<EOC
meta_url = $META
listen = 127.0.0.1
nfs_port = $NFS_PORT
mount_port = $MOUNT_PORT
portmapper = off
/hf 127.0.0.1(rw,no_root_squash,insecure)
EOC
"$GATEFS" serve --config "$WORK/gatefs.conf" >"$WORK/serve.log" 2>&1 &
GW=$!
PIDS+=($GW)
for _ in $(seq 200); do
	(exec 3<>"/dev/tcp/127.0.0.1/$NFS_PORT") 2>/dev/null && break
	sleep 0.05
done
head -c 300000 /dev/urandom >"$WORK/payload"
URL="nfs://127.0.0.1/hf/payload?nfsport=$NFS_PORT&mountport=$MOUNT_PORT&version=3"
expect nfs_cp_write 0 "" -- nfs-cp "$WORK/payload" "$URL"
expect nfs_cp_read 0 "" -- nfs-cp "$URL" "$WORK/readback"
if cmp -s "$WORK/payload" "$WORK/readback"; then ok data_round_trip; else fail data_round_trip; fi
kill -TERM "$GW"
wait "$GW"
rc=$?
if [ "$rc" = 0 ]; then ok serve_sigterm_exit_0; else fail serve_sigterm_exit_0 "$WORK/serve.log"; fi

nblocks=$(find "$STORE/$UUID/chunks" -type f | wc -l)
if [ "$nblocks" -ge 5 ]; then ok blocks_stored; else fail "blocks_stored ($nblocks objects)"; fi
expect fsck_objects_clean 0 "objects: [0-9]+ slices checked, 0 problems" -- "$GATEFS" fsck --meta "$META" --objects
expect status_counts_usage 0 "used bytes: +[1-9]" -- "$GATEFS" status --meta "$META"

# A leaked object (left by a crash between upload and commit) is found by gc,
# but only when it provably belongs to no slice: its id was handed out
# before gc's scan, and it is older than --min-age (default 1h).
redis-cli -p "$RPORT" INCRBY 'gatefs{gfs}:nextslice' 1000 >/dev/null
LAST=$(redis-cli -p "$RPORT" GET 'gatefs{gfs}:nextslice')
mkdir -p "$STORE/$UUID/chunks/0/0"
OLD_LEAK=$STORE/$UUID/chunks/0/0/999_0_7     # id handed out, 2 h old: leaked
NEW_LEAK=$STORE/$UUID/chunks/0/0/998_0_7     # id handed out, just written: maybe an upload in flight
FUTURE=$STORE/$UUID/chunks/0/0/$((LAST + 5))_0_7 # id not handed out yet when gc began
echo leaked >"$OLD_LEAK"
echo leaked >"$NEW_LEAK"
echo leaked >"$FUTURE"
touch -d '2 hours ago' "$OLD_LEAK" "$FUTURE"
expect gc_reports_leak 0 "1 leaked.*2 unreferenced but too new" -- "$GATEFS" gc --meta "$META"
if [ -e "$OLD_LEAK" ]; then ok gc_report_only_keeps; else fail gc_report_only_keeps; fi
expect gc_delete 0 "1 deleted" -- "$GATEFS" gc --meta "$META" --delete
if [ ! -e "$OLD_LEAK" ]; then ok gc_deleted_leak; else fail gc_deleted_leak; fi
if [ -e "$NEW_LEAK" ]; then ok gc_spares_young_object; else fail gc_spares_young_object; fi
if [ -e "$FUTURE" ]; then ok gc_spares_id_above_counter; else fail gc_spares_id_above_counter; fi
expect gc_bad_min_age 2 "bad --min-age" -- "$GATEFS" gc --meta "$META" --min-age soon
expect gc_min_age_zero 0 "1 deleted" -- "$GATEFS" gc --meta "$META" --delete --min-age 0
if [ ! -e "$NEW_LEAK" ] && [ -e "$FUTURE" ]; then ok gc_min_age_zero_keeps_counter_rule; else fail gc_min_age_zero_keeps_counter_rule; fi
rm -f "$FUTURE"
expect fsck_after_gc 0 "0 problems" -- "$GATEFS" fsck --meta "$META" --objects

# A referenced block that vanished is reported by fsck --objects.
victim=$(find "$STORE/$UUID/chunks" -type f | head -1)
rm -f "$victim"
expect fsck_objects_missing 1 "missing" -- "$GATEFS" fsck --meta "$META" --objects

# ---- S3: a wrong secret is a clear error at format time -----------------------
if [ -n "$S3_ENV" ]; then
	if [ -r "$S3_ENV" ]; then
		set -a
		# shellcheck disable=SC1090
		. "$S3_ENV"
		set +a
		S3URL="$GATEFS_TEST_S3_URL/cli-$$"
		expect s3_format_wrong_secret 1 "access denied" -- env AWS_SECRET_ACCESS_KEY=wrong-secret \
			"$GATEFS" format --meta "redis://127.0.0.1:$RPORT/7" --storage "$S3URL" s3vol
		expect s3_wrong_secret_left_nothing 1 "no volume" -- "$GATEFS" status --meta "redis://127.0.0.1:$RPORT/7"
		expect s3_format_ok 0 "formatted" -- "$GATEFS" format --meta "redis://127.0.0.1:$RPORT/7" --storage "$S3URL" s3vol
	else
		fail "s3 env file $S3_ENV missing (radosgw fixture not started?)"
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
