# shellcheck shell=dash
# lib.sh - helpers for guest test scripts (busybox ash): named steps,
# checks that fail with the step name, barriers between guests through the
# host's /coord directory, and the NFS mount command for each version.

# step "what": every failure after this reports this name.
step() {
	echo "$*" >/tmp/gk-step
	echo "GK-STEP [$GK_ROLE] $*"
}

fail() {
	echo "GK-FAIL [$GK_ROLE] step '$(cat /tmp/gk-step 2>/dev/null)': $*"
	exit 1
}

# run CMD...: runs it and fails the current step if it fails.
run() {
	"$@" || fail "command failed ($?): $*"
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# absent PATH: fails the step if PATH (still) exists.
absent() {
	[ ! -e "$1" ] && [ ! -L "$1" ] || fail "$1 still exists"
}

signal() {
	echo "$GK_ROLE" >"/coord/$1.tmp" && mv "/coord/$1.tmp" "/coord/$1" || fail "signal $1"
}

# await NAME [SECONDS]: waits for another guest (or the host) to signal NAME.
await() {
	local limit=$((${2:-120} * 5)) n=0
	while [ ! -e "/coord/$1" ]; do
		for f in /coord/failed-*; do
			[ -e "$f" ] && fail "guest $(cat "$f") failed while this one waited for '$1'"
		done
		n=$((n + 1))
		[ $n -gt $limit ] && fail "timed out waiting for '$1'"
		usleep 200000
	done
}

sha_of() {
	sha256sum "$1" | cut -d' ' -f1
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# The kernel parses these options itself (busybox mount passes -o through), so
# addr= must be given and no mount.nfs is needed.  gk.vers=auto:V mounts with
# no vers=, mountvers=, proto= or sec= at all: the kernel picks them (and the
# flavor from the MNT reply's list), and the script checks it settled on V.
gk_mount() {
	local extra=${GK_OPTS:+,$GK_OPTS}
	local n=0
	while :; do
		case "$GK_VERS" in
		3) mount -t nfs -o "vers=3,proto=tcp,port=$GK_PORT,mountport=$GK_MPORT,mountproto=tcp,mountvers=3,sec=sys,addr=10.0.2.2$extra" "10.0.2.2:$GK_EXPORT" "$1" && return 0 ;;
		auto:*) mount -t nfs -o "port=$GK_PORT,mountport=$GK_MPORT,addr=10.0.2.2$extra" "10.0.2.2:$GK_EXPORT" "$1" && return 0 ;;
		mountnfs:*) gk_mount_nfs_utils "$1" "port=$GK_PORT$extra" && return 0 ;;
		4*) mount -t nfs4 -o "vers=$GK_VERS,proto=tcp,port=$GK_PORT,clientaddr=10.0.2.15,sec=sys,addr=10.0.2.2$extra" "10.0.2.2:$GK_EXPORT" "$1" && return 0 ;;
		*) echo "unknown gk.vers=$GK_VERS"; return 1 ;;
		esac
		n=$((n + 1))
		[ $n -ge 5 ] && return 1
		sleep 1
	done
}

# gk_mount_nfs_utils DIR OPTIONS: mounts with Debian's mount.nfs (nfs-common
# in the rootfs, which must be mounted on /rootfs), run with the rootfs' own
# dynamic loader and libraries so the mount lands in this namespace's DIR.
# No vers=: mount.nfs negotiates (v4.2, 4.1, 4.0 on port=, then v3).  No
# mountport=, mountproto= or mountvers= either: mount.nfs takes any of them
# to mean v3 and then never tries v4.  So the v3 step asks the server's
# portmapper for the MOUNT port, at the port /etc/services gives "sunrpc"
# (gk.pmport: gatefs' builtin portmapper on a free port, not the host's 111).
# The verbose log, which shows every version tried, goes to
# /tmp/gk-mount-nfs.log.
gk_mount_nfs_utils() {
	local lib=/rootfs/usr/lib/x86_64-linux-gnu
	[ -x /rootfs/usr/sbin/mount.nfs ] || { echo "no mount.nfs in /rootfs (nfs-common)"; return 1; }
	# libtirpc reads /etc/netconfig, and mount.nfs looks transports up in
	# /etc/protocols (netbase): the initramfs has neither.
	local f
	for f in netconfig protocols; do
		[ -e /etc/$f ] || cp /rootfs/etc/$f /etc/$f || return 1
	done
	{
		grep -v '^sunrpc' /rootfs/etc/services
		printf 'sunrpc %s/tcp portmapper\nsunrpc %s/udp portmapper\n' "$GK_PMPORT" "$GK_PMPORT"
	} >/etc/services || return 1
	"$lib/ld-linux-x86-64.so.2" --library-path "$lib" /rootfs/usr/sbin/mount.nfs \
		"10.0.2.2:$GK_EXPORT" "$1" -v -o "$2" >/tmp/gk-mount-nfs.log 2>&1
	local rc=$?
	# The kernel says why it refused a mount(2) only in its log.
	[ $rc = 0 ] || dmesg | grep -i 'nfs\|rpc' | grep -v 'command line' >>/tmp/gk-mount-nfs.log
	sed 's/^/GK-MOUNT-NFS /' /tmp/gk-mount-nfs.log
	return $rc
}

# gk_watchdog: when no step has started for GK_STALL seconds (default 45),
# prints the RPCs the client is waiting for and the kernel stacks of blocked
# tasks, so a hung guest says which NFS call the gateway never answered.
gk_watchdog() {
	local last='' same=0 limit=$((${GK_STALL:-45} / 5))
	while sleep 5; do
		local now
		now=$(stat -c %Y /tmp/gk-step 2>/dev/null)
		if [ "$now" != "$last" ]; then
			last=$now same=0
			continue
		fi
		same=$((same + 1))
		[ $same -eq $limit ] || continue
		echo "GK-STALL [$GK_ROLE] no progress for ${GK_STALL:-45}s in step '$(cat /tmp/gk-step)'"
		# debugfs files report size 0: read them to see if they are empty.
		cat /sys/kernel/debug/sunrpc/rpc_clnt/*/tasks 2>/dev/null | sed 's/^/GK-STALL pending rpc: /' | head -n 20
		for d in /proc/[0-9]*; do
			grep -q '^State:.*D' "$d/status" 2>/dev/null || continue
			echo "GK-STALL blocked task $(cat "$d/comm") (pid ${d#/proc/}):"
			sed 's/^/GK-STALL     /' "$d/stack" 2>/dev/null
		done
	done
}

gk_early_fail() {
	echo "GK-FAIL [$GK_ROLE] step 'boot': $*"
	echo "GK-RESULT FAIL test=$GK_TEST role=$GK_ROLE step=boot: $*"
	poweroff -f
	sleep 60
}
