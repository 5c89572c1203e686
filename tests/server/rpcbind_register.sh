#!/bin/sh
# rpcbind_register.sh GATEFS - registration with a real rpcbind.
#
# Runs inside a private network namespace (unshare -n, so port 111 and the
# rpcbind there are ours alone): starts rpcbind and redis-server, formats a
# volume, runs `gatefs serve` with portmapper = auto, and checks with rpcinfo
# that NFS 3/tcp and MOUNT 3/tcp+udp are registered while it runs and gone
# after SIGTERM.  Exits 77 (skipped) without root, unshare, rpcbind or
# redis-server.
set -u
GATEFS=$1
if [ "${IN_NETNS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
	for tool in unshare ip rpcbind rpcinfo redis-server; do
		command -v $tool >/dev/null 2>&1 || { echo "skipped: no $tool"; exit 77; }
	done
	IN_NETNS=1 exec unshare -n "$0" "$@"
	echo "skipped: unshare -n failed"
	exit 77
fi

fail() { echo "FAIL: $*"; cat "$D/log" 2>/dev/null; cleanup; exit 1; }
cleanup() {
	[ -n "${G:-}" ] && kill -9 "$G" 2>/dev/null
	[ -n "${R:-}" ] && kill "$R" 2>/dev/null
	[ -n "${B:-}" ] && kill "$B" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$D"
}

ip link set lo up || { echo "skipped: cannot bring lo up"; exit 77; }
D=$(mktemp -d "${TMPDIR:-/tmp}/gatefs-rpcbind-XXXXXX")
rpcbind -f & B=$!
redis-server --port 6390 --bind 127.0.0.1 --save "" --appendonly yes --dir "$D" >"$D/redis.log" 2>&1 & R=$!
for i in $(seq 1 100); do rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && redis-cli -p 6390 ping >/dev/null 2>&1 && break; sleep 0.1; done
mkdir "$D/objects"
"$GATEFS" format --meta redis://127.0.0.1:6390/0 --storage "file://$D/objects" rpcbtest >"$D/log" 2>&1 || fail "format"
cat >"$D/gatefs.conf" <<CONF
meta_url = redis://127.0.0.1:6390/0
listen = 127.0.0.1
nfs_port = 12049
mount_port = 12048
portmapper = auto
/hf -dir=/ 127.0.0.1(rw,insecure)
CONF
"$GATEFS" serve --config "$D/gatefs.conf" >>"$D/log" 2>&1 & G=$!
for i in $(seq 1 200); do grep -q "serving volume" "$D/log" && break; sleep 0.1; done
grep -q "registered with rpcbind" "$D/log" || fail "did not register with rpcbind"
rpcinfo -p 127.0.0.1 >"$D/running" || fail "rpcinfo -p"
grep -Eq "100003 +3 +tcp +12049" "$D/running" || fail "NFS 3/tcp not registered"
grep -Eq "100005 +3 +tcp +12048" "$D/running" || fail "MOUNT 3/tcp not registered"
grep -Eq "100005 +3 +udp +12048" "$D/running" || fail "MOUNT 3/udp not registered"
rpcinfo -T tcp 127.0.0.1 100005 3 >/dev/null || fail "MOUNT not reachable through rpcbind"
kill -TERM "$G"; wait "$G"; status=$?; G=
[ "$status" = 0 ] || fail "gatefs exit status $status"
rpcinfo -p 127.0.0.1 >"$D/stopped" || fail "rpcinfo -p after stop"
grep -Eq "10000[35] " "$D/stopped" && fail "still registered after stop"
echo "rpcbind registration: ok"
cleanup
exit 0
