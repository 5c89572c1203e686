# shellcheck shell=dash
# lockrestart.sh - an fcntl lock held across a gateway SIGKILL and restart
# (NFSv4.x; the host hook `lockrestart` kills and restarts the gateway).
# The lock table is in Redis, so B is refused before the restart, after it,
# and after A's client has recovered its state (OPEN CLAIM_PREVIOUS and a
# LOCK reclaim in the grace period).  When A then releases, B's blocked
# F_SETLKW must get the lock within seconds: that needs A's reclaim to have
# worked (a lost lock would never be unlocked and would stay in Redis until
# A's lease ran out there, 1.5 leases = 135 s).
W=/mnt/lockrestart
WOULD_BLOCK=75
if [ "$GK_ROLE" = a ]; then
	run mkdir -p "$W"
	step "A: hold an fcntl lock"
	gk-lock fcntl ex "$W/held.lock" sh -c "touch /tmp/held; while [ ! -e /coord/a-release ]; do usleep 100000; done" &
	holder=$!
	n=0
	while [ ! -e /tmp/held ]; do
		n=$((n + 1)); [ $n -gt 100 ] && fail "lock not taken"; usleep 100000
	done
	signal a-locked
	await restarted 120
	step "A: a create after the restart makes the client recover (reclaim)"
	run sh -c "echo x >$W/poke-a"
	signal a-recovered
	step "A: keep the lock until B was refused again"
	await b-refused 120
	signal a-release
	wait $holder || fail "holder exited with $?"
	signal a-released
	await b-got 120
else
	step "B: A's lock excludes B before the restart"
	await a-locked
	gk-lock fcntl ex -n "$W/held.lock" true
	expect_eq $? $WOULD_BLOCK "lock held by A before the restart"
	signal b-before
	await restarted 120
	step "B: A's lock excludes B after the gateway restart"
	gk-lock fcntl ex -n "$W/held.lock" true
	expect_eq $? $WOULD_BLOCK "lock held by A after the restart"
	await a-recovered 120
	step "B: A's lock excludes B after A's client recovered"
	gk-lock fcntl ex -n "$W/held.lock" true
	expect_eq $? $WOULD_BLOCK "lock held by A after its recovery"
	rm -f /tmp/got
	gk-lock fcntl ex "$W/held.lock" sh -c 'date +%s >/tmp/got' &
	waiter=$!
	signal b-refused
	await a-released 120
	released=$(date +%s)
	step "B: the blocked F_SETLKW gets the lock A released"
	wait $waiter || fail "blocked locker exited with $?"
	delay=$(($(cat /tmp/got) - released))
	echo "GK-INFO blocked F_SETLKW granted ${delay}s after A's release was seen"
	[ $delay -le 15 ] || fail "F_SETLKW granted ${delay}s after the release (more than 15 s)"
	signal b-got
fi
