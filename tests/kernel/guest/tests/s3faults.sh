# shellcheck shell=dash
# s3faults.sh - the gateway keeps its blocks on radosgw behind the fault
# proxy, and the host hook (run.sh during_s3faults) turns faults on while
# this guest writes and reads: 503 SlowDown bursts, then a stall.
#   - nothing corrupt is served: a read during the fault fails or returns
#     the bytes written (the page cache is dropped first, so every read
#     reaches the gateway);
#   - the gateway recovers: once the host says the fault is over, a new
#     file written with fsync and an old file read back work within 60 s;
#   - every file whose fsync succeeded reads back byte-exact here, and the
#     host reads them again through a restarted gateway (run.sh
#     after_s3faults, from /coord/acked).
W=/mnt/s3faults-$GK_ROLE
N=8
: >/tmp/acked

# want NAME: the digest of an acknowledged file.
want() {
	grep "^$1 " /tmp/acked | cut -d' ' -f2
}

step "write $N files of 256 KiB with fsync before any fault"
run mkdir -p "$W"
i=0
while [ $i -lt $N ]; do
	run dd if=/dev/urandom of=/tmp/f bs=64k count=4 2>/dev/null
	run dd if=/tmp/f of="$W/a$i" bs=64k conv=fsync 2>/dev/null
	echo "a$i $(sha_of /tmp/f)" >>/tmp/acked
	i=$((i + 1))
done
signal stable-written
await fault-on 60

step "write and read while the object store fails"
k=0 writes=0 stable=0 reads=0 read_ok=0
while [ ! -e /coord/fault-off ]; do
	# A new file: acknowledged as stable only when its fsync succeeded.
	dd if=/dev/urandom of=/tmp/f bs=64k count=2 2>/dev/null
	writes=$((writes + 1))
	if dd if=/tmp/f of="$W/b$k" bs=64k conv=fsync 2>/dev/null; then
		echo "b$k $(sha_of /tmp/f)" >>/tmp/acked
		stable=$((stable + 1))
	fi
	# A file written before the fault, from the gateway (clean pages only
	# are dropped: no sync, which could wait on the failing store).
	echo 3 >/proc/sys/vm/drop_caches
	j=$((k % N))
	reads=$((reads + 1))
	if cat "$W/a$j" >/tmp/r 2>/dev/null; then
		expect_eq "$(sha_of /tmp/r)" "$(want "a$j")" "a$j read during the fault"
		read_ok=$((read_ok + 1))
	fi
	k=$((k + 1))
done
echo "GK-INFO [$GK_ROLE] during the fault: $writes writes ($stable stable), $reads reads ($read_ok ok, none corrupt)"

step "the gateway works again within 60 s of the fault's end"
t0=$(date +%s)
until dd if=/dev/urandom of=/tmp/f bs=64k count=2 2>/dev/null &&
	dd if=/tmp/f of="$W/probe" bs=64k conv=fsync 2>/dev/null &&
	echo 3 >/proc/sys/vm/drop_caches && cat "$W/a0" >/tmp/r 2>/dev/null &&
	[ "$(sha_of /tmp/r)" = "$(want a0)" ]; do
	[ $(($(date +%s) - t0)) -le 60 ] || fail "no stable write and read back within 60 s"
	sleep 1
done
echo "probe $(sha_of /tmp/f)" >>/tmp/acked
echo "GK-INFO [$GK_ROLE] recovered in $(($(date +%s) - t0)) s"

step "every file acknowledged as stable reads back"
drop_caches
while read -r name sum; do
	expect_eq "$(sha_of "$W/$name")" "$sum" "$name read back"
done </tmp/acked
run cp /tmp/acked /coord/acked
