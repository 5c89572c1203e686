#!/bin/bash
# run.sh - runs one kernel test group (a line of groups.txt): starts a
# redis-server, formats a file:// volume, starts `gatefs serve` on free
# loopback ports (one per gateway of the row: several gateways share the
# redis-server and the object directory, and guest N mounts gateway
# N modulo their number), boots the group's qemu guests (TCG, user-mode
# networking: the guest's 10.0.2.2 is this host's 127.0.0.1), runs the
# group's host hook, and decides pass/fail from each guest's "GK-RESULT"
# console line.  Every process it starts is stopped by PID on success,
# failure or timeout.
#
# usage: run.sh GROUP
# env:   GK_BUILD   directory for the image cache and run dirs (required)
#        GATEFS     the gatefs binary (required unless GK_SERVER=ganesha)
#        GK_SERVER  gatefs (default) or ganesha: nfs-ganesha VFS on a tmpfs
#                   dir, in private network+mount namespaces (validates the
#                   guest side without gatefs)
#                   or external: a server that is already running (the
#                   appliance container), at 127.0.0.1:GK_NFS_PORT with
#                   MOUNT at GK_MOUNT_PORT; nothing is started or stopped
#        GK_KEEP=1  keep the run directory even when the group passes
#        GATEFS_TEST_S3_ENV, GK_S3PROXY  rows whose hook is s3faults: the
#                   radosgw fixture's env file and the gk-s3proxy binary;
#                   the volume's blocks then live on radosgw behind the
#                   fault proxy that the hook drives
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
group=${1:?usage: run.sh GROUP}
: "${GK_BUILD:?set GK_BUILD to a build directory}"
GK_SERVER=${GK_SERVER:-gatefs}
GK_LOCK_HELPER=${GK_LOCK_HELPER:-$GK_BUILD/gk-lock}

if [[ $GK_SERVER == ganesha && -z ${GK_IN_NAMESPACE:-} ]]; then
	# ganesha needs rpcbind on port 111 for NFSv3: give both a private
	# network (loopback only) and private /run, so nothing on the host sees them.
	exec unshare --net --mount --propagation private env GK_IN_NAMESPACE=1 "$0" "$@"
fi

read -r name test vers guests gateways mount_opts use_rootfs hook timeout servers < <(awk -v g="$group" '$1 == g' "$here/groups.txt")
[[ ${name:-} == "$group" ]] || { echo "run.sh: no group '$group' in groups.txt" >&2; exit 2; }
[[ ,$servers, == *,$GK_SERVER,* ]] || { echo "run.sh: group $group does not run against $GK_SERVER" >&2; exit 2; }
[[ $mount_opts == - ]] && mount_opts=
[[ $GK_SERVER == ganesha && $gateways != 1 ]] && { echo "run.sh: group $group needs $gateways gateways; ganesha runs one" >&2; exit 2; }

started=$(date +%s)
run=$GK_BUILD/runs/$group.$$
rm -rf "$run"
mkdir -p "$run/coord"
pids=()
# Gateway N (1-based) is index N-1: its process, ports, config and log
# (gateway 1 keeps the names gatefs.conf and gateway.log).
gateway_pids=()
nfs_ports=()
mount_ports=()
status=1

say() { echo "[$(date +%T)] $group: $*"; }

cleanup() {
	local pid
	for pid in "${gateway_pids[@]}"; do [[ -n $pid ]] && pids+=("$pid"); done
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [[ $status == 0 && -z ${GK_KEEP:-} ]]; then
		umount "$run/export" 2>/dev/null # ganesha's tmpfs
		rm -rf "$run"
	else
		echo "run directory kept: $run"
	fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 1' INT TERM

# A port nobody listens on or connects from.  Runs of different groups and
# developers' runs may overlap, so ports are chosen at random, never fixed.
chosen_ports=" "
free_port() { # VAR: sets VAR to a port no socket uses and not chosen before in this run
	# (no $(...) subshell: chosen_ports must remember every choice)
	local port
	while :; do
		port=$((20000 + RANDOM % 12768)) # below the kernel's ephemeral range
		[[ $chosen_ports == *" $port "* ]] && continue
		ss -Htan | awk '{ print $4 }' | grep -q ":$port\$" && continue
		chosen_ports+="$port "
		printf -v "$1" '%s' "$port"
		return
	done
}

wait_listening() { # PORT PID WHAT
	for _ in $(seq 300); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		kill -0 "$2" 2>/dev/null || { say "$3 exited before listening"; return 1; }
		sleep 0.1
	done
	say "$3 not listening on $1 after 30 s"
	return 1
}

# --- the server under test -------------------------------------------------
gateway_file() { # N NAME EXT -> NAME.EXT for gateway 1, NAME-N.EXT for others
	if [[ $1 == 1 ]]; then echo "$run/$2.$3"; else echo "$run/$2-$1.$3"; fi
}

start_gateway() { # [N]: gateway N (default 1), on its ports
	local n=${1:-1} log
	log=$(gateway_file "$n" gateway log)
	if [[ $GK_SERVER == ganesha ]]; then
		ganesha.nfsd -F -L /dev/stderr -f "$run/ganesha.conf" -p "$run/ganesha.pid" -N NIV_EVENT >>"$log" 2>&1 &
	else
		"$GATEFS" serve --config "$(gateway_file "$n" gatefs conf)" >>"$log" 2>&1 &
	fi
	gateway_pids[n - 1]=$!
	wait_listening "${nfs_ports[n - 1]}" $! "gateway $n" && wait_listening "${mount_ports[n - 1]}" $! "gateway $n mount"
}

# stop_gateway [N]: SIGTERM, as an operator would; the gateway must exit
# within 30 s, and a sanitizer report in its log (ASan, LSan, UBSan) fails
# the group.
stop_gateway() {
	local n=${1:-1} log pid=${gateway_pids[${1:-1} - 1]:-}
	log=$(gateway_file "$n" gateway log)
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		say "gateway $n did not exit within 30 s of SIGTERM"
		return 1
	fi
	wait "$pid"
	say "gateway $n exited with status $?"
	gateway_pids[n - 1]=
	if grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' "$log"; then
		say "sanitizer report in the log of gateway $n:"
		grep -A 12 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' "$log" | head -n 40
		return 1
	fi
}

stop_gateways() {
	local n rc=0
	for ((n = 1; n <= gateways; n++)); do stop_gateway "$n" || rc=1; done
	return $rc
}

stop_gateway_hard() { # gateway 1
	kill -KILL "${gateway_pids[0]}" 2>/dev/null
	wait "${gateway_pids[0]}" 2>/dev/null
	gateway_pids[0]=
}

# setup_s3proxy: the fault proxy in front of the radosgw fixture, as a
# process of its own (gk-s3proxy) that reads commands from a FIFO held open
# on $proxy_fd (see proxy); sets storage to the volume's S3 URL.  Short
# retry budgets, so that a fault costs seconds.
setup_s3proxy() {
	[[ -r ${GATEFS_TEST_S3_ENV:-} ]] || { say "no radosgw fixture (GATEFS_TEST_S3_ENV)"; return 1; }
	[[ -x ${GK_S3PROXY:-} ]] || { say "GK_S3PROXY must name the gk-s3proxy binary"; return 1; }
	local key value rgw_port='' bucket=''
	while IFS='=' read -r key value; do
		case $key in
		GATEFS_TEST_S3_PORT) rgw_port=$value ;;
		GATEFS_TEST_S3_BUCKET) bucket=$value ;;
		AWS_*) export "$key=$value" ;; # gatefs format and serve read them
		esac
	done <"$GATEFS_TEST_S3_ENV"
	mkfifo "$run/proxy.ctl" || return 1
	"$GK_S3PROXY" "$rgw_port" "$run/proxy.port" <"$run/proxy.ctl" >"$run/proxy.log" 2>&1 &
	pids+=($!)
	exec {proxy_fd}>"$run/proxy.ctl"
	for _ in $(seq 100); do [[ -s $run/proxy.port ]] && break; sleep 0.1; done
	[[ -s $run/proxy.port ]] || { say "gk-s3proxy did not start:"; cat "$run/proxy.log"; return 1; }
	# format with the default budget (a radosgw that just started may take
	# seconds over its first request), serve with short ones.
	storage="http://127.0.0.1:$(cat "$run/proxy.port")/$bucket/kernel-$$"
	format_opts=(--block-size 65536)
	# A read waits 1 s for its block, then gets NFS3ERR_JUKEBOX.
	export GATEFS_FETCH_WAIT_MS=1000
	# 4 blocks in memory: the guest's reads of 32 blocks reach the store.
	gateway_extra="cache_mem = 256K
storage_url = $storage?retry_ms=2000&stall_ms=1000&attempt_ms=2000"
}

proxy() { # COMMAND...: one command to gk-s3proxy (tests/kernel/gk_s3proxy.c)
	say "s3 proxy: $*"
	echo "$*" >&"$proxy_fd"
}

setup_gatefs() {
	[[ -x ${GATEFS:-} ]] || { say "GATEFS must name the gatefs binary"; return 1; }
	local redis_port storage="file://$run/objects" format_opts=() gateway_extra=
	if [[ $hook == s3faults ]]; then setup_s3proxy || return 1; fi
	# A short lease, so that a dead client's lock frees in seconds.
	[[ $hook == lockdeath ]] && gateway_extra="nfs4_lease_time = 10"
	free_port redis_port
	mkdir -p "$run/redis" "$run/objects"
	redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$run/redis" --save '' --appendonly yes \
		--maxmemory-policy noeviction --daemonize no >"$run/redis.log" 2>&1 &
	pids+=($!)
	wait_listening "$redis_port" $! redis-server || return 1
	local meta=redis://127.0.0.1:$redis_port/0
	"$GATEFS" format --meta "$meta" --storage "$storage" "${format_opts[@]}" kernel >"$run/format.log" 2>&1 ||
		{ say "gatefs format failed:"; cat "$run/format.log"; return 1; }
	# The guests' traffic arrives from 127.0.0.1 through slirp, from
	# unprivileged ports: hence insecure.  Root in the guest is root here.
	# Every gateway serves the same volume (same Redis, same objects).
	local n
	for ((n = 1; n <= gateways; n++)); do
		mkdir -p "$run/gw$n"
		cat >"$(gateway_file "$n" gatefs conf)" <<-CONF
			meta_url = $meta
			data_dir = $run/gw$n
			listen = 127.0.0.1
			nfs_port = ${nfs_ports[n - 1]}
			mount_port = ${mount_ports[n - 1]}
			portmap_port = $portmap_port
			portmapper = $([[ $n == 1 ]] && echo "$portmapper" || echo off)
			log_level = info
			nfs4 = $([[ $vers == mountnfs:3 ]] && echo off || echo on)
			$gateway_extra
			/hf 127.0.0.1(rw,no_root_squash,insecure)
		CONF
		start_gateway "$n" || return 1
	done
}

setup_ganesha() {
	ip link set lo up
	mount -t tmpfs gk-run /run && mount -t tmpfs gk-ganesha /var/lib/nfs/ganesha 2>/dev/null || mount -t tmpfs gk-ganesha /var/lib/nfs
	mkdir -p "$run/export"
	mount -t tmpfs -o size=1g gk-export "$run/export" || return 1
	rpcbind -f -w >"$run/rpcbind.log" 2>&1 &
	pids+=($!)
	wait_listening 111 $! rpcbind || return 1
	local nlm_port rquota_port
	free_port nlm_port
	free_port rquota_port
	cat >"$run/ganesha.conf" <<-CONF
		NFS_CORE_PARAM { NFS_Port = $nfs_port; MNT_Port = $mount_port; NLM_Port = $nlm_port;
		  Rquota_Port = $rquota_port; Protocols = 3, 4; Enable_NLM = false; Enable_RQUOTA = false;
		  Mount_Path_Pseudo = true; }
		NFSV4 { Graceless = true; }
		EXPORT { Export_Id = 1; Path = $run/export; Pseudo = /hf; Protocols = 3, 4; Transports = TCP;
		  Access_Type = RW; Squash = No_Root_Squash; SecType = sys; FSAL { Name = VFS; } }
	CONF
	start_gateway
}

# --- guests ----------------------------------------------------------------
image=$GK_BUILD/image
rootfs_dir=$GK_BUILD/rootfs
guest_pids=()
roles=(a b c d)

start_guest() { # ROLE INDEX: guest INDEX (0-based) mounts gateway INDEX % gateways + 1
	local role=$1 gw=$(($2 % gateways)) rootfs_args=()
	if [[ $use_rootfs == 1 ]]; then
		rootfs_args=(-virtfs "local,path=$rootfs_dir,mount_tag=rootfs,security_model=none,readonly=on,id=rootfs")
	fi
	local append="console=ttyS0 panic=-1 loglevel=5 gk.run=$$ gk.stall=${GK_STALL:-45} gk.test=$test gk.role=$role gk.vers=$vers gk.server=$GK_SERVER"
	append+=" gk.port=${nfs_ports[gw]} gk.mport=${mount_ports[gw]} gk.pmport=$portmap_port gk.export=/hf gk.opts=$mount_opts gk.rootfs=$use_rootfs"
	# KVM hangs on this machine: TCG, one vCPU per guest.
	timeout -k 5 "$timeout" qemu-system-x86_64 -M pc -accel tcg,thread=multi -cpu max -m 1024 -smp 1 \
		-nodefaults -no-user-config -display none -monitor none -no-reboot \
		-kernel "$image/vmlinuz" -initrd "$image/initramfs.cpio" -append "$append" \
		-serial "file:$run/guest-$role.log" \
		-netdev user,id=n0,ipv6=off -device virtio-net-pci,netdev=n0 \
		-virtfs "local,path=$run/coord,mount_tag=coord,security_model=none,id=coord" \
		"${rootfs_args[@]}" >"$run/qemu-$role.log" 2>&1 &
	guest_pids+=($!)
	pids+=($!)
}

guest_result() { # ROLE -> PASS, FAIL or NONE
	local line
	line=$(grep -a '^GK-RESULT' "$run/guest-$1.log" 2>/dev/null | tail -n1)
	case "$line" in
	"GK-RESULT PASS"*) echo PASS ;;
	"GK-RESULT FAIL"*) echo FAIL ;;
	*) echo NONE ;;
	esac
}

# --- host hooks: during_X runs while the guests run, after_X once they end --
during_restart() {
	# The guest signals after writing the first part of its file unstable;
	# killing the gateway then loses whatever it had not committed, and the
	# guest's second part is written while the gateway is down.
	local n=0
	until [[ -e $run/coord/part1-written ]]; do
		((n++ > timeout * 5)) && { say "guest never signalled part1-written"; return 1; }
		any_guest_running || { say "guest ended before part1-written"; return 1; }
		sleep 0.2
	done
	say "SIGKILL gateway (pid ${gateway_pids[0]}) under load"
	stop_gateway_hard
	echo killed >"$run/coord/killed"
	sleep 3
	say "restarting gateway"
	start_gateway || return 1
	echo restarted >"$run/coord/restarted"
}

during_s3faults() {
	# Once the guest has files stable on the store: 503 SlowDown in three
	# bursts, then a stall, while the guest writes and reads; then the
	# store answers again and the guest checks that the gateway recovers.
	local n=0
	until [[ -e $run/coord/stable-written ]]; do
		((n++ > timeout * 5)) && { say "guest never signalled stable-written"; return 1; }
		any_guest_running || { say "guest ended before stable-written"; return 1; }
		sleep 0.2
	done
	echo on >"$run/coord/fault-on"
	for _ in 1 2 3; do
		proxy status 503 SlowDown
		sleep 4
		proxy off
		sleep 1
	done
	proxy stall
	sleep 8
	proxy stats
	proxy off
	echo off >"$run/coord/fault-off"
}

after_s3faults() {
	# The store met the faults; and through a new gateway process (no
	# cache: every block comes from the store) every file the guest saw
	# acknowledged as stable reads back with its digest.
	local faulted name sum got url n=0
	proxy stats
	sleep 0.5
	faulted=$(awk '$1 == "requests" { f = $4 } END { print f + 0 }' "$run/proxy.log")
	say "s3 proxy: $faulted requests faulted"
	((faulted > 0)) || { say "no request met a fault"; return 1; }
	[[ -s $run/coord/acked ]] || { say "guest wrote no list of acknowledged files"; return 1; }
	stop_gateway || return 1
	start_gateway || return 1
	while read -r name sum; do
		url="nfs://127.0.0.1/hf/s3faults-a/$name?version=3&nfsport=$nfs_port&mountport=$mount_port"
		got=$(nfs-cat "$url" | sha256sum | cut -d' ' -f1)
		[[ $got == "$sum" ]] || { say "$name: host read sha256 $got after a restart, guest wrote $sum"; return 1; }
		n=$((n + 1))
	done <"$run/coord/acked"
	say "after a gateway restart: $n acknowledged files read back from the store"
}

during_lockrestart() {
	# Guest A holds a lock and guest B saw it refused: then the gateway is
	# killed and restarted, and the lock must still be there (in Redis).
	local n=0
	until [[ -e $run/coord/b-before ]]; do
		((n++ > timeout * 5)) && { say "guest never signalled b-before"; return 1; }
		any_guest_running || { say "guest ended before b-before"; return 1; }
		sleep 0.2
	done
	say "SIGKILL gateway (pid ${gateway_pids[0]}) while a client holds a lock"
	stop_gateway_hard
	sleep 2
	say "restarting gateway"
	start_gateway || return 1
	echo restarted >"$run/coord/restarted"
}

during_lockdeath() {
	# Guest A holds a lock and B saw it refused: then A's qemu is killed,
	# so the client vanishes without a word to the server.
	local n=0
	until [[ -e $run/coord/b-refused ]]; do
		((n++ > timeout * 5)) && { say "guest never signalled b-refused"; return 1; }
		any_guest_running || { say "guest ended before b-refused"; return 1; }
		sleep 0.2
	done
	# guest_pids are timeout(1) processes: the qemu is their child.
	say "SIGKILL guest a (qemu, child of pid ${guest_pids[0]}) while it holds a lock"
	pkill -KILL -P "${guest_pids[0]}" qemu-system || { say "no qemu of guest a to kill"; return 1; }
	killed_roles=(a)
	echo killed >"$run/coord/a-killed"
}

objects_bytes() { du -sb "$run/objects" | cut -f1; }

during_space() {
	# Between the guest's src-written and cloned marks the object directory
	# must not grow: a clone copies slice records, not bytes.
	local n=0 before after
	until [[ -e $run/coord/src-written ]]; do
		((n++ > timeout * 5)) && { say "guest never signalled src-written"; return 1; }
		any_guest_running || { say "guest ended before src-written"; return 1; }
		sleep 0.2
	done
	# The source's last uploads end before its fsync returns; wait for the
	# directory to be still anyway, so that nothing in flight is counted.
	before=$(objects_bytes)
	while sleep 1; after=$(objects_bytes); [[ $after != "$before" ]]; do before=$after; done
	say "object directory before the clone: $before bytes"
	echo counted >"$run/coord/objects-counted"
	n=0
	until [[ -e $run/coord/cloned ]]; do
		((n++ > timeout * 5)) && { say "guest never signalled cloned"; return 1; }
		any_guest_running || { say "guest ended before cloned"; return 1; }
		sleep 0.2
	done
	after=$(objects_bytes)
	say "object directory after the clone: $after bytes"
	((after <= before)) || { say "the clone stored $((after - before)) new bytes"; return 1; }
}

after_hostsha() {
	# Read the file back through the gateway from the host (libnfs), not
	# through any guest cache, and compare with the guest's digest.
	local want got url="nfs://127.0.0.1/hf/integrity-a/data?version=3&nfsport=$nfs_port&mountport=$mount_port"
	want=$(cat "$run/coord/data.sha256" 2>/dev/null) || { say "guest wrote no digest"; return 1; }
	got=$(nfs-cat "$url" | sha256sum | cut -d' ' -f1)
	[[ $got == "$want" ]] || { say "host read sha256 $got, guest wrote $want"; return 1; }
	say "host read back sha256 $got: matches"
}

any_guest_running() {
	local pid
	for pid in "${guest_pids[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
	return 1
}

report_failure() {
	local role
	say "FAILED (see below)"
	for role in "${roles[@]:0:guests}"; do
		echo "----- guest $role: failing steps"
		grep -a '^GK-FAIL\|^GK-RESULT' "$run/guest-$role.log" 2>/dev/null || echo "(no result line: guest crashed or timed out)"
		echo "----- guest $role: console tail"
		tail -n 40 "$run/guest-$role.log" 2>/dev/null
		[[ -s $run/qemu-$role.log ]] && { echo "----- qemu $role"; tail -n 10 "$run/qemu-$role.log"; }
	done
	local n pid threads
	for ((n = 1; n <= gateways; n++)); do
		echo "----- gateway $n log tail"
		tail -n 40 "$(gateway_file "$n" gateway log)" 2>/dev/null
		pid=${gateway_pids[n - 1]:-}
		if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && command -v gdb >/dev/null; then
			# A hung guest usually means a request the gateway never answered.
			threads=$(gateway_file "$n" gateway-threads txt)
			echo "----- gateway $n threads (gdb), also in $threads"
			gdb -p "$pid" -batch -ex 'thread apply all bt' >"$threads" 2>&1
			grep -E "^Thread|^#[0-9]+ " "$threads" | cut -c1-160 | head -n 150
		fi
	done
}

main() {
	"$here/mkinitramfs.sh" "$image" "$here/guest" "$GK_LOCK_HELPER" || return 1
	if [[ $use_rootfs == 1 ]]; then
		say "preparing the python3 rootfs (cached)"
		"$here/mkrootfs.sh" "$rootfs_dir" || return 1
	fi
	local n
	for ((n = 0; n < gateways; n++)); do
		free_port "nfs_ports[$n]"
		free_port "mount_ports[$n]"
	done
	# Gateway 1's, for the host hooks.
	nfs_port=${nfs_ports[0]}
	mount_port=${mount_ports[0]}
	# The kernel's own option parser needs no portmapper.  mount.nfs
	# (mountnfs:V rows) asks one for the MOUNT port: gatefs then runs its
	# builtin one on a free port (never the host's 111), which the guest
	# names in its /etc/services; ganesha's rpcbind has 111 in its namespace.
	free_port portmap_port
	portmapper=off
	[[ $vers == mountnfs:* ]] && portmapper=builtin
	[[ $GK_SERVER == ganesha ]] && portmap_port=111
	if [[ $GK_SERVER == external ]]; then
		nfs_ports[0]=${GK_NFS_PORT:?GK_SERVER=external needs GK_NFS_PORT}
		mount_ports[0]=${GK_MOUNT_PORT:?GK_SERVER=external needs GK_MOUNT_PORT}
		nfs_port=${nfs_ports[0]}
		mount_port=${mount_ports[0]}
	elif [[ $GK_SERVER == ganesha ]]; then setup_ganesha; else setup_gatefs; fi || { say "server did not start"; return 1; }
	for ((n = 0; n < gateways; n++)); do
		say "gateway $((n + 1)) on 127.0.0.1:${nfs_ports[n]} (mount ${mount_ports[n]})"
	done
	say "booting $guests guest(s)"

	local role ok=0 i=0
	killed_roles=() # guests a hook killed on purpose: they have no result
	for role in "${roles[@]:0:guests}"; do start_guest "$role" $((i++)); done
	if declare -F "during_$hook" >/dev/null; then "during_$hook" || ok=1; fi
	for pid in "${guest_pids[@]}"; do wait "$pid"; done
	for role in "${roles[@]:0:guests}"; do
		local result
		result=$(guest_result "$role")
		if [[ " ${killed_roles[*]} " == *" $role "* ]]; then
			say "guest $role: killed by the hook ($result)"
			[[ $result == FAIL ]] && ok=1
			continue
		fi
		say "guest $role: $result"
		grep -a '^GK-INFO' "$run/guest-$role.log" 2>/dev/null | tr -d '\r' | sed "s/^/    [$role] /"
		[[ $result == PASS ]] || ok=1
	done
	if [[ $ok == 0 ]] && declare -F "after_$hook" >/dev/null; then "after_$hook" || ok=1; fi
	if [[ $ok == 0 ]]; then stop_gateways || ok=1; fi
	return $ok
}

run_group() {
	main
	status=$?
	local elapsed=$(($(date +%s) - started))
	if [[ $status == 0 ]]; then
		say "PASS in ${elapsed}s"
	else
		report_failure
		say "FAIL in ${elapsed}s"
	fi
	return $status
}

# One line, so that bash has read all of this file before the run starts
# (editing run.sh during a run then cannot break it).
run_group; exit $?
