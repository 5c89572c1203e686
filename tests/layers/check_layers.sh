#!/usr/bin/env bash
# check_layers.sh NAME=ARCHIVE... - fails if any library calls a function
# defined in a library that is not below it, or if backend/ includes a
# server/ header.  Static archives alone do not enforce
# this (an upward call links whenever the final program also links the
# upper layer), so the rule is checked here on the symbols themselves.
# The table is the layer graph of docs/ARCHITECTURE.md: each line names a
# library and every library it may call, directly or not.
set -euo pipefail
[ $# -gt 0 ] || {
	echo "usage: check_layers.sh NAME=ARCHIVE..." >&2
	exit 2
}

allowed() {
	case "$1" in
	util) echo "" ;;
	object) echo "util" ;;
	meta) echo "util" ;;
	data) echo "meta object util" ;;
	vfs) echo "data meta object util" ;;
	rpc) echo "util" ;;
	export) echo "rpc vfs util" ;;
	config) echo "export rpc vfs util" ;;
	mount) echo "export rpc vfs util" ;;
	nfs3) echo "export rpc vfs util" ;;
	nfs4) echo "export rpc vfs util" ;;
	metrics_http) echo "util" ;;
	cli) echo "nfs3 nfs4 metrics_http mount config export rpc vfs util" ;;
	*) return 1 ;;
	esac
}

declare -A archive
for arg in "$@"; do
	name=${arg%%=*}
	a=${arg#*=}
	allowed "$name" >/dev/null || {
		echo "check_layers: library $name is not in the layer table of $0" >&2
		exit 1
	}
	archive[$name]=$a
done
[ ${#archive[@]} -ge 10 ] || {
	echo "check_layers: only ${#archive[@]} layer libraries given" >&2
	exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in "${!archive[@]}"; do
	nm -g --defined-only "${archive[$name]}" 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u >"$tmp/$name.def"
	# recv is defined by rpc/rpc_recordcap.c to bound TCP record sizes.
	# It interposes libc's recv for the whole process (so meta's calls
	# resolve to it) but acts only on calls made from libntirpc's code on
	# registered RPC sockets; for everyone else it is libc's recv.
	nm -g --undefined-only "${archive[$name]}" 2>/dev/null | awk '{print $NF}' | grep -vx recv | sort -u >"$tmp/$name.undef"
done

bad=0
for name in "${!archive[@]}"; do
	ok=" $name $(allowed "$name") "
	for other in "${!archive[@]}"; do
		case "$ok" in *" $other "*) continue ;; esac
		# Symbols this library needs that only the forbidden one defines.
		comm -12 "$tmp/$name.undef" "$tmp/$other.def" | comm -23 - "$tmp/$name.def" >"$tmp/hits"
		if [ -s "$tmp/hits" ]; then
			echo "layer violation: gatefs_$name calls into gatefs_$other, which is not below it:" >&2
			sed 's/^/    /' "$tmp/hits" >&2
			bad=1
		fi
	done
done

# backend/ never includes a server/ header.
src=$(cd "$(dirname "$0")/../.." && pwd)
for h in "$src"/server/*/*.h; do
	base=$(basename "$h")
	if grep -rlq --include='*.[ch]' "#include \"$base\"" "$src/backend"; then
		echo "layer violation: backend/ includes server header $base" >&2
		bad=1
	fi
done
[ $bad = 0 ] && echo "layers: ${#archive[@]} libraries, every call goes down"
exit $bad
