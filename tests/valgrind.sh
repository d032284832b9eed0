#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs every unit test binary of a build under valgrind memcheck, in-process
# (CK_FORK=no), with leaks counted as errors.
set -euo pipefail
build=${1:-build}
fail=0
for t in "$build"/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	if CK_FORK=no NETPOLD_SOURCE_DIR="$(pwd)" NETPOLD_VALGRIND=1 valgrind -q --error-exitcode=99 \
		--leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
		"$t" >"$build/$name.valgrind.log" 2>&1; then
		echo "valgrind: $name clean"
	else
		echo "valgrind: $name FAILED (log follows)"
		tail -n 60 "$build/$name.valgrind.log"
		fail=1
	fi
done
exit $fail
