# shellcheck shell=dash
# lockdeath.sh - a client that dies holding a lock (NFSv4.x; the host hook
# `lockdeath` SIGKILLs guest A's qemu, so A never unlocks, closes or
# unmounts).  B must find the lock still held for a while after the death
# (the server does not drop a lock because a connection went away), and
# must get it by a blocking F_SETLKW once A's lease has run out: the row
# runs gatefs with nfs4_lease_time = 10, so within 1.5 leases (A's lease in
# Redis) plus the client's polling interval.
W=/mnt/lockdeath
WOULD_BLOCK=75
if [ "$GK_ROLE" = a ]; then
	run mkdir -p "$W"
	step "A: hold an fcntl lock until the host kills this guest"
	gk-lock fcntl ex "$W/held.lock" sh -c "touch /tmp/held; sleep 100000" &
	n=0
	while [ ! -e /tmp/held ]; do
		n=$((n + 1)); [ $n -gt 100 ] && fail "lock not taken"; usleep 100000
	done
	signal a-locked
	step "A: waiting to be killed"
	sleep 100000
	fail "guest A was not killed"
else
	await a-locked
	step "B: the lock A holds is refused"
	gk-lock fcntl ex -n "$W/held.lock" true
	expect_eq $? $WOULD_BLOCK "fcntl lock held by A"
	signal b-refused
	await a-killed 120
	killed=$(date +%s)
	sleep 3
	step "B: 3 s after A died its lock is still held"
	gk-lock fcntl ex -n "$W/held.lock" true
	expect_eq $? $WOULD_BLOCK "fcntl lock of a dead client before its lease ran out"
	step "B: block in F_SETLKW until A's lease runs out"
	gk-lock fcntl ex "$W/held.lock" sh -c 'date +%s >/tmp/got' || fail "F_SETLKW failed with $?"
	delay=$(($(cat /tmp/got) - killed))
	echo "GK-INFO dead client's lock granted ${delay}s after the client was killed (lease 10 s)"
	[ $delay -le 60 ] || fail "lock of a dead client granted ${delay}s after its death (more than 60 s)"
fi
