# shellcheck shell=dash
# locks.sh - flock(2) and fcntl(2) whole-file locks from two guests, through
# the static gk-lock helper.  Within one client a held lock always blocks a
# second locker.  Across clients it blocks only when the mount has real
# locking (NLM for v3, or v4): with "nolock" the kernel keeps locks local,
# and this test asserts exactly that, so a row without nolock in groups.txt
# turns it into a cross-client lock test.
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
