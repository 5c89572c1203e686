#!/usr/bin/env bash
# run_nfs.sh - the NFS front-end benchmark: gatefs against nfs-ganesha, same
# machine, same run, same workload (bench/nfsbench), reported as ratios.
#
#   gatefs   private redis-server on a free loopback port, a file:// volume on
#            tmpfs (/dev/shm), `gatefs serve` on free ports, under
#            /usr/bin/time -v for its peak RSS.
#   ganesha  Debian nfs-ganesha + FSAL VFS exporting a tmpfs directory, with a
#            private rpcbind, both inside their own network+mount namespace
#            (unshare) so that neither touches the host's port 111 or /run.
#            Its nfsbench leg runs inside that namespace too.
#
# Usage: bench/run_nfs.sh [-4] [-B DIR] [-g GATEFS] [-o ganesha|gatefs] [-r ROUNDS] [-w seq,meta] [-k] [-c] [-- NFSBENCH_ARGS]
#   -4  NFSv4.1 instead of NFSv3 (what bench/run_nfs4.sh runs): the load
#       generator is bench/v4bench (Q sessions, one COMPOUND per operation),
#       ganesha serves Protocols = 4 with Minor_Versions = 1 and Graceless,
#       and gatefs its default NFSv4 front end; -c is not available
#   -B  build dir holding bench/nfsbench and server/gatefs (default: build-bench-rel,
#       then build); build it without GATEFS_SANITIZE for meaningful figures
#   -g  the gatefs binary (default BUILD_DIR/server/gatefs)
#   -o  run only one leg
#   -r  rounds (default 3): the legs alternate, each round on freshly started
#       servers, and each workload reports its best round, because the machine
#       is shared and a single round catches other processes' bursts
#   -w  workload groups (default seq,meta); each group of each round runs on
#       freshly started servers
#   -k  keep the work directory (logs) after the run
#   -c  cost per operation: CPU microseconds and context switches per metadata
#       RPC of each server process (ganesha.nfsd; gatefs and its redis-server),
#       read from /proc by nfsbench -p around each workload; best round shown
# Environment: GATEFS_EXTRA_CONF, lines appended to gatefs.conf (e.g.
# "threads = 4"), to compare settings against the same ganesha legs.
# GATEFS_BENCH_REDIS, the persistence arguments of gatefs's redis-server
# (default "--appendonly no"; e.g. "--appendonly yes --appendfsync always"
# to measure what the embedded default costs), and GATEFS_BENCH_REDIS_DIR,
# a directory on a real disk for its files (default: the tmpfs work dir,
# where an fsync costs nothing).
# Every process started here is stopped by PID on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=""
GATEFS=""
ONLY=""
KEEP=0
COST=0
V4=0
ROUNDS=3
GROUPS_TO_RUN="seq meta"
while getopts "4B:g:o:r:w:kch" opt; do
	case $opt in
	4) V4=1 ;;
	B) BUILD=$OPTARG ;;
	g) GATEFS=$OPTARG ;;
	o) ONLY=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	w) GROUPS_TO_RUN=${OPTARG//,/ } ;;
	k) KEEP=1 ;;
	c) COST=1 ;;
	*)
		sed -n '2,38p' "$0"
		exit 2
		;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
BENCH_ARGS=("$@")

# The protocol's load generator, ganesha protocol and how each leg names its target.
LOADGEN=nfsbench NFSVERS=3
if [ "$V4" = 1 ]; then
	LOADGEN=v4bench NFSVERS=4
	[ "$COST" = 1 ] && echo "run_nfs.sh: -c is not available with -4" >&2 && exit 2
fi
if [ -z "$BUILD" ]; then
	for d in "$ROOT/build-bench-rel" "$ROOT/build"; do
		[ -x "$d/bench/$LOADGEN" ] && BUILD=$d && break
	done
fi
NFSBENCH=${BUILD:+$BUILD/bench/$LOADGEN}
GATEFS=${GATEFS:-${BUILD:+$BUILD/server/gatefs}}
[ -x "${NFSBENCH:-}" ] || {
	echo "run_nfs.sh: no $LOADGEN; build it: cmake --build BUILD --target $LOADGEN" >&2
	exit 2
}
# The URL a load generator is given: $1 host export path, $2 NFS port, $3 MOUNT port.
target_url() {
	if [ "$V4" = 1 ]; then
		echo "nfs4://127.0.0.1:$2/bench"
	else
		echo "nfs://127.0.0.1$1?nfsport=$2&mountport=$3&version=3"
	fi
}

WORK=$(mktemp -d /dev/shm/nfsbench.XXXXXX)
PIDS=() # every background process started here that may still run
cleanup() {
	local pid
	# Servers run as children of /usr/bin/time: stop them too, or they outlive us.
	for pid in "${PIDS[@]}"; do
		pkill -P "$pid" 2>/dev/null || true
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "$KEEP" = 1 ]; then
		echo "run_nfs.sh: logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops one process we started and forgets it.
stop_pid() {
	kill "$1" 2>/dev/null || true
	reap_pid "$1"
}

# Waits for one process we started to exit, and forgets it.
reap_pid() {
	wait "$1" 2>/dev/null || true
	local keep=() p
	for p in "${PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until something accepts TCP connections on 127.0.0.1:$1 (gives up after $2 s).
wait_port() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Shows a leg's human-readable lines; the RESULT/JSON/COST lines stay in the file for report().
show() {
	grep -v -E '^(RESULT|JSON|COST)' "$1" || true
}

# ---- ganesha leg -------------------------------------------------------------

# The script run inside `unshare --net --mount`: loopback up, private /run,
# rpcbind, ganesha under /usr/bin/time, then nfsbench. Its own trap stops
# rpcbind and ganesha by PID.
write_ganesha_script() {
	cat >"$WORK/ganesha-leg.sh" <<'LEG'
set -euo pipefail
DIR=$1; shift
NFSBENCH=$1; shift
COST=$1; shift
NFSVERS=$1; shift
TARGET=$1; shift
INNER=()
trap 'for p in "${INNER[@]}"; do kill $p 2>/dev/null || true; done; for p in "${INNER[@]}"; do wait $p 2>/dev/null || true; done' EXIT
trap 'exit 130' INT TERM
ip link set lo up
mount -t tmpfs -o size=64m tmpfs /run
mkdir -p /run/rpcbind /run/ganesha
rpcbind -w -f & INNER+=($!)
for i in $(seq 50); do [ -S /run/rpcbind.sock ] && break; sleep 0.1; done
/usr/bin/time -v -o "$DIR/server.time" ganesha.nfsd -F -f "$DIR/ganesha.conf" -L "$DIR/server.log" \
	-p /run/ganesha/ganesha.pid & INNER+=($!)
for i in $(seq 100); do rpcinfo -T tcp 127.0.0.1 nfs $NFSVERS >/dev/null 2>&1 && break; sleep 0.2; done
rpcinfo -T tcp 127.0.0.1 nfs $NFSVERS >/dev/null || { echo "ganesha did not start; see $DIR/server.log" >&2; exit 1; }
rc=0
PIDARG=()
[ "$COST" = 1 ] && PIDARG=(-p "$(cat /run/ganesha/ganesha.pid)")
"$NFSBENCH" -l ganesha "${PIDARG[@]}" "$@" "$TARGET" || rc=$?
# INNER[1] is /usr/bin/time: stop ganesha, its child, so time writes the RSS report.
kill "$(cat /run/ganesha/ganesha.pid)" 2>/dev/null || true
wait "${INNER[1]}" 2>/dev/null || true
exit $rc
LEG
}

ganesha_leg() {
	local dir=$WORK/ganesha.$1.$2
	mkdir -p "$dir/export" "$dir/recovery"
	cat >"$dir/ganesha.conf" <<CONF
NFS_CORE_PARAM {
	NFS_Port = 2049;
	MNT_Port = 20048;
	Protocols = $NFSVERS;
	Enable_NLM = false;
	Enable_RQUOTA = false;
}
# Graceless: otherwise OPEN answers NFS4ERR_GRACE for 90 s after start.
# The recovery directory stays in the leg's work directory, not /var/lib.
NFSV4 {
	Graceless = true;
	Minor_Versions = 1;
	RecoveryBackend = fs;
	RecoveryRoot = $dir/recovery;
}
EXPORT {
	Export_Id = 1;
	Path = $dir/export;
	Pseudo = /bench;
	Access_Type = RW;
	Squash = No_Root_Squash;
	Protocols = $NFSVERS;
	Transports = TCP;
	SecType = sys;
	FSAL { Name = VFS; }
}
LOG { Default_Log_Level = EVENT; }
CONF
	unshare --net --mount bash "$WORK/ganesha-leg.sh" "$dir" "$NFSBENCH" "$COST" "$NFSVERS" \
		"$(target_url "$dir/export" 2049 20048)" "${BENCH_ARGS[@]}" -w "$2" \
		>"$dir/bench.out" 2>"$dir/bench.err" &
	local pid=$! rc=0
	PIDS+=("$pid")
	wait "$pid" || rc=$?
	stop_pid "$pid"
	show "$dir/bench.out"
	if [ $rc != 0 ]; then
		echo "run_nfs.sh: ganesha leg failed ($rc):" >&2
		cat "$dir/bench.err" >&2
	fi
	rm -rf "$dir/export"
	return $rc
}

# ---- gatefs leg --------------------------------------------------------------

gatefs_leg() {
	local dir=$WORK/gatefs.$1.$2
	if [ ! -x "${GATEFS:-}" ]; then
		echo "run_nfs.sh: no gatefs binary (-g or -B)" >&2
		return 1
	fi
	local rport nport mport rc=0 i
	rport=$(free_port)
	nport=$(free_port)
	mport=$(free_port)
	local redis_dir=$dir/redis
	[ -n "${GATEFS_BENCH_REDIS_DIR:-}" ] && redis_dir=$(mktemp -d "$GATEFS_BENCH_REDIS_DIR/gatefs-bench-redis.XXXXXX")
	mkdir -p "$redis_dir" "$dir/objects" "$dir/data"
	# shellcheck disable=SC2086 # word splitting of the arguments is wanted
	redis-server --bind 127.0.0.1 --port "$rport" --dir "$redis_dir" --save '' ${GATEFS_BENCH_REDIS:---appendonly no} \
		--maxmemory-policy noeviction --slowlog-log-slower-than 1000 >"$dir/redis.log" 2>&1 &
	local redis=$!
	PIDS+=("$redis")
	if ! wait_port "$rport" 20; then
		echo "run_nfs.sh: redis-server did not start" >&2
		stop_pid "$redis"
		return 1
	fi
	if ! "$GATEFS" format --meta "redis://127.0.0.1:$rport/1" --storage "file://$dir/objects" bench \
		>"$dir/format.log" 2>&1; then
		echo "run_nfs.sh: gatefs format failed:" >&2
		cat "$dir/format.log" >&2
		stop_pid "$redis"
		return 1
	fi
	cat >"$dir/gatefs.conf" <<CONF
meta_url = redis://127.0.0.1:$rport/1
data_dir = $dir/data
listen = 127.0.0.1
nfs_port = $nport
mount_port = $mport
portmapper = off
${GATEFS_EXTRA_CONF:-}
/bench 127.0.0.1(rw,no_root_squash,insecure)
CONF
	/usr/bin/time -v -o "$dir/server.time" "$GATEFS" serve --config "$dir/gatefs.conf" >"$dir/server.log" 2>&1 &
	local timepid=$!
	PIDS+=("$timepid")
	if wait_port "$nport" 30 && wait_port "$mport" 5; then
		local pidarg=()
		[ "$COST" = 1 ] && pidarg=(-p "$(pgrep -P "$timepid"),$redis")
		"$NFSBENCH" -l gatefs "${pidarg[@]}" "${BENCH_ARGS[@]}" -w "$2" "$(target_url /bench "$nport" "$mport")" \
			>"$dir/bench.out" 2>"$dir/bench.err" || rc=$?
		show "$dir/bench.out"
		if [ $rc != 0 ]; then
			echo "run_nfs.sh: gatefs leg failed ($rc):" >&2
			cat "$dir/bench.err" >&2
		fi
	else
		echo "run_nfs.sh: gatefs serve did not listen" >&2
		rc=1
	fi
	[ $rc = 0 ] || tail -20 "$dir/server.log" >&2
	# What each workload cost in Redis calls: kept with -k for the analysis.
	redis-cli -p "$rport" info commandstats >"$dir/redis-commandstats.txt" 2>&1 || true
	redis-cli -p "$rport" slowlog get 32 >"$dir/redis-slowlog.txt" 2>&1 || true
	# gatefs is the child of /usr/bin/time: stop it so time writes the RSS report.
	local server
	server=$(pgrep -P "$timepid" || true)
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
		# It flushes on SIGTERM; a flush that hangs must not hang the benchmark.
		for ((i = 0; i < 600; i++)); do
			kill -0 "$server" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$server" 2>/dev/null && echo "run_nfs.sh: gatefs did not stop in 60 s; killing it" >&2 &&
			kill -KILL "$server" 2>/dev/null
		reap_pid "$timepid"
	else
		stop_pid "$timepid"
	fi
	stop_pid "$redis"
	rm -rf "$dir/objects" "$dir/redis" "$redis_dir"
	return $rc
}

# ---- report ------------------------------------------------------------------

# Largest peak RSS over a server's rounds, in MiB.
peak_rss_mib() {
	cat "$WORK/$1".*/server.time 2>/dev/null |
		awk -F': ' '/Maximum resident set size/ { if ($2 > m) m = $2 } END { if (m) printf "%.0f", m / 1024; else printf "?" }'
}

# Per workload and server the best round (highest rate, lowest time), then
# the ratio: gatefs/ganesha for rates, ganesha_time/gatefs_time for readdir,
# so that above 1 always means gatefs did better; and the issue's target.
report() {
	echo
	echo "== gatefs vs nfs-ganesha, best of $ROUNDS round(s) (ratio > 1: gatefs is better) =="
	local group
	for group in $GROUPS_TO_RUN; do
		cat "$WORK"/*."$group"/bench.out 2>/dev/null || true
	done | awk -F'\t' -v v4="$V4" '
		$1 == "RESULT" {
			k = $2 SUBSEP $3
			if (!(k in v) || ($5 == "ms" ? $4 < v[k] : $4 > v[k])) v[k] = $4
			unit[$3] = $5
			if (!($3 in seen)) { order[n++] = $3; seen[$3] = 1 }
		}
		END {
			target["seq_read_qd1"] = 1.0; target["seq_read_qd8"] = 1.0
			target["seq_write_qd1"] = 0.9; target["seq_write_qd8"] = 0.9
			target["create_qd16"] = 1.0; target["lookup_qd16"] = 1.0; target["getattr_qd16"] = 1.0
			target["unlink_qd16"] = 1.0; target["readdirplus_ms"] = 0.5
			# v4 READDIR carries attributes and handles: it is the v3 READDIRPLUS target
			if (v4 == 1) target["readdir_ms"] = 0.5
			target["seq_read_qd16"] = 1.0; target["seq_write_qd16"] = 0.9
			printf "%-16s %11s %11s %-6s %6s %6s\n", "workload", "gatefs", "ganesha", "unit", "ratio", "target"
			for (i = 0; i < n; i++) {
				w = order[i]; g = v["gatefs", w]; h = v["ganesha", w]
				ratio = "-"
				if (g > 0 && h > 0)
					ratio = sprintf("%.2f", unit[w] == "ms" ? h / g : g / h)
				t = (w in target) ? sprintf("%.1f", target[w]) : ""
				verdict = ""
				if (t != "" && ratio != "-")
					verdict = (ratio + 0 >= target[w]) ? " met" : " MISSED"
				printf "%-16s %11s %11s %-6s %6s %6s%s\n", w, g == "" ? "-" : sprintf("%.1f", g),
					h == "" ? "-" : sprintf("%.1f", h), unit[w], ratio, t, verdict
				summary = summary sprintf("%s%s=%s", i ? " " : "", w, ratio)
			}
			print "(readdir*_ms: the ratio is ganesha_time/gatefs_time; target 0.5 = at most 2x the time of ganesha)"
			print "RATIOS " summary
		}'
	echo "peak RSS: gatefs $(peak_rss_mib gatefs) MiB, ganesha $(peak_rss_mib ganesha) MiB"
	[ "$COST" = 1 ] && cost_report
	return 0
}

# With -c: per workload and server process, the round with the least CPU per
# op (the least disturbed by other load), its CPU and its context switches.
cost_report() {
	echo
	echo "== cost per operation, least-CPU round (from /proc; us = CPU microseconds per op, cs = context switches per op) =="
	cat "$WORK"/*.meta/bench.out 2>/dev/null | awk -F'\t' '
		$1 == "COST" {
			# the gatefs binary may have another name (-g): key it as "gatefs"
			if ($2 == "gatefs" && $4 != "redis-server") $4 = "gatefs"
			k = $3 SUBSEP $2 SUBSEP $4
			if (!(k in cpu) || $6 < cpu[k]) { cpu[k] = $6; cs[k] = $7 }
			if (!(($3) in seen)) { order[n++] = $3; seen[$3] = 1 }
		}
		END {
			printf "%-16s %22s %22s %22s\n", "workload", "ganesha.nfsd us/cs", "gatefs us/cs", "redis-server us/cs"
			for (i = 0; i < n; i++) {
				w = order[i]
				a = "ganesha" SUBSEP "ganesha.nfsd"; b = "gatefs" SUBSEP "gatefs"; c = "gatefs" SUBSEP "redis-server"
				printf "%-16s %22s %22s %22s\n", w,
					((w SUBSEP a) in cpu) ? sprintf("%.1f / %.2f", cpu[w SUBSEP a], cs[w SUBSEP a]) : "-",
					((w SUBSEP b) in cpu) ? sprintf("%.1f / %.2f", cpu[w SUBSEP b], cs[w SUBSEP b]) : "-",
					((w SUBSEP c) in cpu) ? sprintf("%.1f / %.2f", cpu[w SUBSEP c], cs[w SUBSEP c]) : "-"
			}
		}'
}

write_ganesha_script
status=0
# Each workload group runs on freshly started servers, so that a server that
# wedges in one group still gets measured in the others.
for ((round = 1; round <= ROUNDS; round++)); do
	for group in $GROUPS_TO_RUN; do
		if [ "$ONLY" != gatefs ]; then
			echo "== round $round, $group, NFSv$NFSVERS: nfs-ganesha $(dpkg-query -W -f '${Version}' nfs-ganesha 2>/dev/null) (FSAL VFS on tmpfs) =="
			ganesha_leg "$round" "$group" || status=1
		fi
		if [ "$ONLY" != ganesha ]; then
			echo "== round $round, $group, NFSv$NFSVERS: gatefs (file:// volume on tmpfs, private redis-server) =="
			gatefs_leg "$round" "$group" || status=1
		fi
	done
done
report
exit $status
