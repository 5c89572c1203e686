# lib.sh - what the shell tests of the command line share: OK/FAIL
# reporting with counts, `expect` (a command's exit status and output), and
# free loopback ports.  Sourced after the test sets WORK.
passed=0
failed=0

ok() {
	echo "OK   $1"
	passed=$((passed + 1))
}
fail() {
	echo "FAIL $1" >&2
	[ -n "${2:-}" ] && sed 's/^/    /' "$2" >&2
	failed=$((failed + 1))
}
# expect NAME STATUS PATTERN -- command...: runs it, checks exit status and
# that its combined output matches the extended regex PATTERN.
expect() {
	local name=$1 want=$2 pattern=$3
	shift 4
	"$@" >"$WORK/out" 2>&1
	local got=$?
	if [ "$got" != "$want" ]; then
		echo "    exit status $got, expected $want" >>"$WORK/out"
		fail "$name" "$WORK/out"
	elif [ -n "$pattern" ] && ! grep -Eq "$pattern" "$WORK/out"; then
		echo "    output does not match /$pattern/" >>"$WORK/out"
		fail "$name" "$WORK/out"
	else
		ok "$name"
	fi
}
chosen_ports=" "
free_port() { # VAR: a port no socket uses now, not chosen before (no subshell: remembered)
	local p
	while :; do
		# below the kernel's ephemeral range, which outgoing connections use
		p=$((20000 + RANDOM % 12768))
		[[ $chosen_ports == *" $p "* ]] && continue
		ss -Htan | awk '{ print $4 }' | grep -q ":$p\$" || break
	done
	chosen_ports+="$p "
	printf -v "$1" '%s' "$p"
}
