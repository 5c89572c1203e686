#!/bin/bash
# radosgw.sh - the S3 test server harness: a private single-node Ceph cluster
# (one ceph-mon, one memstore ceph-osd, no mgr, auth none) with radosgw
# (beast) on free loopback ports, plus one S3 user and one bucket.
#
#   radosgw.sh start DIR   start everything, write DIR/env, exit 0 when S3 answers
#   radosgw.sh stop DIR    kill every daemon by its PID file, remove DIR
#
# GATEFS_RADOSGW_MEM sets the memstore size (default 2G); GATEFS_RADOSGW_KEEP=1
# leaves a failed bring-up running for inspection.
#
# DIR/env has shell-style lines that tests read:
#   GATEFS_TEST_S3_URL=http://127.0.0.1:PORT/BUCKET   (path-style URL form of object.h)
#   GATEFS_TEST_S3_PORT=PORT
#   GATEFS_TEST_S3_BUCKET=BUCKET
#   AWS_ACCESS_KEY_ID=...  AWS_SECRET_ACCESS_KEY=...  AWS_REGION=us-east-1
#
# Ports are picked at random from 10000-32000 (below the kernel's ephemeral
# range) among those with no socket in /proc/net/tcp*, and the whole bring-up
# is retried with new ports if a daemon fails to bind, so two runs on one
# machine do not collide.  Debian packages: radosgw ceph-mon ceph-osd
# ceph-common uuid-runtime curl.
set -u

BUCKET=gatefs-test
ACCESS_KEY=GATEFSTESTKEY
SECRET_KEY=GATEFSTESTSECRET0123456789
MEMSTORE_BYTES=${GATEFS_RADOSGW_MEM:-2G}

die() {
	echo "radosgw.sh: $*" >&2
	exit 1
}

port_in_use() {
	local hex
	hex=$(printf ':%04X ' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '{print $2" "}' | grep -q -- "$hex"
}

# A random free port in 10000-32000.
pick_port() {
	local lo=10000 hi=32000 p
	for _ in $(seq 200); do
		p=$((lo + RANDOM % (hi - lo)))
		port_in_use "$p" || {
			echo "$p"
			return 0
		}
	done
	return 1
}

# A run of $1 consecutive free ports; prints the first.
pick_port_range() {
	local n=$1 p ok
	for _ in $(seq 200); do
		p=$((10000 + RANDOM % 22000))
		ok=1
		for ((i = 0; i < n; i++)); do
			if port_in_use $((p + i)); then
				ok=0
				break
			fi
		done
		[ $ok = 1 ] && {
			echo "$p"
			return 0
		}
	done
	return 1
}

kill_all() {
	local d=$1 pids="" f pid
	for f in "$d"/run/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null)
		# Only a daemon of this DIR: a stale pid file may name a reused pid.
		[ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$d/ceph.conf" && {
			kill "$pid" 2>/dev/null
			pids="$pids $pid"
		}
	done
	for _ in $(seq 50); do
		local alive=""
		for pid in $pids; do
			kill -0 "$pid" 2>/dev/null && alive="$alive $pid"
		done
		[ -z "$alive" ] && return 0
		sleep 0.2
	done
	for pid in $pids; do
		kill -9 "$pid" 2>/dev/null
	done
	return 0
}

write_conf() {
	local d=$1 fsid=$2 mon_port=$3 osd_lo=$4 osd_hi=$5 rgw_port=$6
	cat >"$d/ceph.conf" <<EOC
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$mon_port
mon_initial_members = a
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_bind_msgr1 = false
# radosgw refuses auth "none" (-13) unless every messenger mode is crc
ms_mon_client_mode = crc
ms_client_mode = crc
ms_mon_service_mode = crc
ms_service_mode = crc
ms_cluster_mode = crc
ms_mon_cluster_mode = crc
ms_bind_port_min = $osd_lo
ms_bind_port_max = $osd_hi
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_pool_default_pg_autoscale_mode = off
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
run_dir = $d/run
admin_socket = $d/run/\$name.asok
log_file = $d/log/\$name.log
pid_file = $d/run/\$name.pid
keyring = $d/keyring
mon_data = $d/mon/\$cluster-\$id
osd_data = $d/osd/\$cluster-\$id
osd_objectstore = memstore
memstore_device_bytes = $MEMSTORE_BYTES
osd_op_num_shards = 2
osd_op_num_threads_per_shard = 1
[client.rgw]
rgw_frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw_data = $d/rgw
# virtual-hosted style works as http://BUCKET.localhost:PORT (curl resolves *.localhost to loopback)
rgw_dns_name = localhost
rgw_thread_pool_size = 64
EOC
}

# wait_for DIR NAME TRIES CMD...: retries CMD every 0.3 s.  Gives up early if
# daemon NAME died or logged a bind failure (its port was taken since we
# picked it), so the retry with new ports comes fast.  The pid is remembered
# once seen because a daemon that exits removes its pid file.
wait_for() {
	local d=$1 name=$2 tries=$3 pid=""
	shift 3
	for _ in $(seq "$tries"); do
		"$@" >/dev/null 2>&1 && return 0
		[ -z "$pid" ] && [ -f "$d/run/$name.pid" ] && pid=$(cat "$d/run/$name.pid" 2>/dev/null)
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			echo "radosgw.sh: $name exited" >&2
			return 1
		fi
		if grep -qiE "failed to bind|unable to bind|Address already in use" "$d/log/$name.log" 2>/dev/null; then
			echo "radosgw.sh: $name could not bind its port" >&2
			return 1
		fi
		sleep 0.3
	done
	return 1
}

osd_up() {
	ceph -c "$1/ceph.conf" osd stat 2>/dev/null | grep -q "1 up"
}

# One bring-up attempt with fresh ports; returns non-zero on failure.
try_start() {
	local d=$1
	rm -rf "$d"
	mkdir -p "$d"/{mon,osd,run,log,rgw} || return 1
	local fsid mon_port osd_lo rgw_port
	fsid=$(uuidgen) || return 1
	mon_port=$(pick_port) || return 1
	osd_lo=$(pick_port_range 40) || return 1
	rgw_port=$(pick_port) || return 1
	write_conf "$d" "$fsid" "$mon_port" "$osd_lo" $((osd_lo + 39)) "$rgw_port"
	local C=(-c "$d/ceph.conf")

	ceph-authtool --create-keyring "$d/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null || return 1
	monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$d/monmap" >/dev/null || return 1
	ceph-mon "${C[@]}" --mkfs -i a --monmap "$d/monmap" >"$d/log/mon-mkfs.out" 2>&1 || return 1
	ceph-mon "${C[@]}" -i a 2>>"$d/log/daemons.err" || return 1
	wait_for "$d" mon.a 60 timeout 3 ceph "${C[@]}" -s || {
		echo "radosgw.sh: ceph-mon did not answer on port $mon_port" >&2
		return 1
	}

	local uuid id
	uuid=$(uuidgen)
	id=$(ceph "${C[@]}" osd new "$uuid") || return 1
	mkdir -p "$d/osd/ceph-$id"
	ceph-osd "${C[@]}" -i "$id" --mkfs --osd-uuid "$uuid" >"$d/log/osd-mkfs.out" 2>&1 || return 1
	ceph-osd "${C[@]}" -i "$id" 2>>"$d/log/daemons.err" || return 1
	wait_for "$d" "osd.$id" 100 osd_up "$d" || {
		echo "radosgw.sh: ceph-osd did not come up" >&2
		return 1
	}

	radosgw "${C[@]}" -n client.rgw 2>>"$d/log/daemons.err" || return 1
	wait_for "$d" client.rgw 150 curl -s --max-time 3 -o /dev/null "http://127.0.0.1:$rgw_port/" || {
		echo "radosgw.sh: radosgw did not answer on port $rgw_port" >&2
		return 1
	}

	radosgw-admin "${C[@]}" user create --uid=gatefs --display-name=gatefs --access-key="$ACCESS_KEY" \
		--secret="$SECRET_KEY" >"$d/log/user-create.out" 2>&1 || return 1
	# curl signs the CreateBucket request with SigV4 itself: no awscli/python
	# needed.  radosgw requires x-amz-content-sha256, which curl 7.88 omits.
	local code
	code=$(curl -s --max-time 30 -o "$d/log/create-bucket.out" -w '%{http_code}' -X PUT \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
		"http://127.0.0.1:$rgw_port/$BUCKET")
	[ "$code" = 200 ] || {
		echo "radosgw.sh: create bucket: HTTP $code" >&2
		return 1
	}

	cat >"$d/env.tmp" <<EOE
GATEFS_TEST_S3_URL=http://127.0.0.1:$rgw_port/$BUCKET
GATEFS_TEST_S3_PORT=$rgw_port
GATEFS_TEST_S3_BUCKET=$BUCKET
AWS_ACCESS_KEY_ID=$ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$SECRET_KEY
AWS_REGION=us-east-1
EOE
	mv "$d/env.tmp" "$d/env"
	echo "radosgw.sh: S3 on http://127.0.0.1:$rgw_port bucket $BUCKET (mon $mon_port, osd $osd_lo+), dir $d"
}

cmd=${1:-}
dir=${2:-}
[ -n "$dir" ] || die "usage: radosgw.sh start|stop DIR"
case "$dir" in
/*) ;;
*) dir="$PWD/$dir" ;;
esac
while [ "${dir%/}" != "$dir" ] && [ "$dir" != / ]; do dir=${dir%/}; done
[ "$dir" != / ] || die "refusing DIR=/"

case "$cmd" in
start)
	for p in ceph-mon ceph-osd ceph radosgw radosgw-admin uuidgen curl monmaptool ceph-authtool; do
		command -v "$p" >/dev/null || die "missing $p (apt-get install radosgw ceph-mon ceph-osd ceph-common uuid-runtime curl)"
	done
	[ -d "$dir/run" ] && kill_all "$dir"
	for attempt in 1 2 3; do
		if try_start "$dir"; then
			exit 0
		fi
		echo "radosgw.sh: attempt $attempt failed; logs:" >&2
		tail -n 5 "$dir"/log/*.log "$dir"/log/*.out 2>/dev/null | cut -c1-200 | sed 's/^/    /' >&2
		[ -n "${GATEFS_RADOSGW_KEEP:-}" ] && exit 1
		kill_all "$dir"
	done
	rm -rf "$dir"
	die "could not start radosgw"
	;;
stop)
	[ -d "$dir" ] || exit 0
	kill_all "$dir"
	rm -rf "$dir"
	;;
*)
	die "usage: radosgw.sh start|stop DIR"
	;;
esac
