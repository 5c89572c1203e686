# shellcheck shell=dash
# locks.sh - flock(2) and fcntl(2) whole-file locks from two guests, through
# the static gk-lock helper.  Within one client a held lock always blocks a
# second locker.  Across clients it blocks only when the mount has real
# locking (NLM for v3, or v4): with "nolock" the kernel keeps locks local,
# and this test asserts exactly that, so a row without nolock in groups.txt
# turns it into a cross-client lock test.  With cross-client locking, B
# then waits in a blocking F_SETLKW on a lock A holds, and must get it
# soon after A's release: within 2 s from gatefs over NFSv4, which tells
# the waiting client at once (CB_NOTIFY_LOCK on the session's backchannel),
# within 10 s elsewhere (v3 with NLM, or a server whose client polls at 1,
# 2, 4 ... s).
W=/mnt/locks
WOULD_BLOCK=75
case ",$GK_OPTS," in
*,nolock,*) cross_client=no ;;
*) cross_client=yes ;;
esac
if [ "$GK_ROLE" = a ]; then
	run mkdir -p "$W"
	for kind in flock fcntl; do
		step "A: hold a $kind lock"
		rm -f /tmp/held
		gk-lock $kind ex "$W/$kind.lock" sh -c "touch /tmp/held; while [ ! -e /coord/b-tried-$kind ]; do usleep 100000; done" &
		holder=$!
		n=0
		while [ ! -e /tmp/held ]; do
			n=$((n + 1)); [ $n -gt 100 ] && fail "lock not taken"; usleep 100000
		done
		step "A: a second local $kind locker is refused"
		gk-lock $kind ex -n "$W/$kind.lock" true
		expect_eq $? $WOULD_BLOCK "local second $kind lock"
		signal a-holds-$kind
		step "A: wait for B to try its $kind lock"
		wait $holder || fail "holder exited with $?"
	done
else
	for kind in flock fcntl; do
		step "B: wait for A's $kind lock"
		await a-holds-$kind
		step "B: try the $kind lock A holds (cross-client locking: $cross_client)"
		gk-lock $kind ex -n "$W/$kind.lock" true
		got=$?
		signal b-tried-$kind
		if [ $cross_client = yes ]; then
			expect_eq $got $WOULD_BLOCK "$kind lock held by the other client"
		else
			expect_eq $got 0 "$kind lock with nolock (local only)"
		fi
	done
fi
[ $cross_client = yes ] || exit 0
if [ "$GK_ROLE" = a ]; then
	step "A: hold an fcntl lock while B waits for it"
	rm -f /tmp/held
	gk-lock fcntl ex "$W/wait.lock" sh -c "touch /tmp/held; while [ ! -e /coord/b-waits ]; do usleep 100000; done; sleep 2" &
	holder=$!
	n=0
	while [ ! -e /tmp/held ]; do
		n=$((n + 1)); [ $n -gt 100 ] && fail "lock not taken"; usleep 100000
	done
	signal a-holds-wait
	wait $holder || fail "holder exited with $?"
	signal a-released
	step "A: wait for B to get the lock"
	await b-got
else
	step "B: block in F_SETLKW on the lock A holds"
	await a-holds-wait
	rm -f /tmp/got
	# Centiseconds since boot (/proc/uptime): a whole-second clock cannot
	# tell a notification from a poll.
	gk-lock fcntl ex "$W/wait.lock" sh -c "cut -d' ' -f1 /proc/uptime | tr -d . >/tmp/got" &
	waiter=$!
	sleep 1
	[ -e /tmp/got ] && fail "F_SETLKW granted while A holds the lock"
	signal b-waits
	await a-released 60
	released=$(cut -d' ' -f1 /proc/uptime | tr -d .)
	step "B: F_SETLKW is granted after A's release"
	wait $waiter || fail "blocked locker exited with $?"
	got=$(cat /tmp/got)
	# Negative when the grant came before B saw A's signal (which it
	# polls every 0.2 s).
	delay=$((got - released))
	limit=10
	case "$GK_SERVER,$GK_VERS" in
	gatefs,4*) limit=2 ;;
	esac
	echo "GK-INFO blocked F_SETLKW granted ${delay}0 ms after the release was seen (limit ${limit} s)"
	[ $delay -le $((limit * 100)) ] || fail "F_SETLKW granted ${delay}0 ms after the release (more than $limit s)"
	signal b-got
fi
