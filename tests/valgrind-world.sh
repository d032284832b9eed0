#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs world tests with every netpold they start under valgrind memcheck (NETPOLD_WRAPPER,
# honoured by tests/world/targeted_lib.sh; by default every test built on it but the soak),
# then reads each daemon's log: an error, or a definitely lost byte, fails the stage. A daemon
# killed with SIGKILL leaves a log without a summary; its error reports still count.
#   tests/valgrind-world.sh [BUILD_DIR]     (root; NETPOLD_VALGRIND_WORLD: a ctest -R regex)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
tests=${NETPOLD_VALGRIND_WORLD:-'^world_test_(conformance|targeted_.*|faults|bad_input)$'}
logs=$build/valgrind-world

command -v valgrind >/dev/null || {
	echo "valgrind-world: valgrind missing (tests/deps.sh installs it)" >&2
	exit 1
}
rm -rf "$logs"
mkdir -p "$logs"
# the wrapper is split on blanks: no blank in the log path
[[ $logs != *[[:space:]]* ]] || {
	echo "valgrind-world: $logs has a blank in it" >&2
	exit 1
}
export NETPOLD_WRAPPER="valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite
	--errors-for-leak-kinds=definite --num-callers=30 --log-file=$logs/vg.%p.log"
NETPOLD_WRAPPER=$(tr -s '\n\t' '  ' <<<"$NETPOLD_WRAPPER")

fail=0
start=$(date +%s)
ctest --test-dir "$build" -L world -R "$tests" --output-on-failure --no-tests=error || fail=1
echo "valgrind-world: tests took $(($(date +%s) - start)) s"

n=0
for f in "$logs"/vg.*.log; do
	[[ -e $f ]] || continue
	n=$((n + 1))
	bad=
	if grep -q 'ERROR SUMMARY:' "$f"; then
		grep -Eq 'ERROR SUMMARY: [1-9]' "$f" && bad="errors"
		grep -Eq 'definitely lost: [1-9][0-9,]* bytes' "$f" && bad+=" definitely-lost"
	elif grep -Eq '^==[0-9]+== (Invalid |Conditional jump|Use of uninitialised|Syscall param|Mismatched |Source and destination overlap|Argument |[0-9,]+ (\([0-9,]+ direct, [0-9,]+ indirect\) )?bytes in [0-9,]+ blocks are definitely lost)' "$f"; then
		bad="errors (no summary: killed)"
	fi
	if [[ -n $bad ]]; then
		echo "valgrind-world: $(basename "$f"): $bad (log follows)"
		cat "$f"
		fail=1
	fi
done
if [[ $n -eq 0 ]]; then
	echo "valgrind-world: no valgrind log: no netpold ran under the wrapper" >&2
	fail=1
fi
echo "valgrind-world: $n netpold logs checked in $logs"
exit $fail
