#!/usr/bin/env bash
# check-format.sh - fails if any C source or header differs from clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
	if ! clang-format --style=file "$f" | cmp -s - "$f"; then
		echo "not clang-format clean: $f" >&2
		bad=1
	fi
done < <(git ls-files '*.c' '*.h')
exit $bad
