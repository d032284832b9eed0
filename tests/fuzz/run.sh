#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the libFuzzer targets (build-fuzz, clang, ASan+UBSan) and run each for
# a bounded time on a copy of its seed corpus. Exit 1 on any crash, leak,
# timeout or out-of-memory; 77 when clang is missing. See docs/fuzzing.md.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [--long] [--crashes]
#     SECONDS_PER_TARGET  default 60 (CI), 3600 with --long
#     --long      keep the grown corpus in build-fuzz/fuzz-corpus/<target> between runs
#                 and add -use_value_profile=1 (a local run; not for CI)
#     --crashes   only replay tests/fuzz/crashes/* (known bugs) and report which still fail
#   Environment: NETPOLD_FUZZ_TARGETS="fuzz_a fuzz_b" (default: all),
#                NETPOLD_FUZZ_MASK_KNOWN=1 skips the inputs of the known bugs in
#                tests/fuzz/crashes (to fuzz the rest until they are fixed),
#                NETPOLD_FUZZ_PARALLEL=N targets at once (default: min(nproc, 2)),
#                NETPOLD_FUZZ_BUILD_DIR (default: <source>/build-fuzz), CC (default: clang).
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${NETPOLD_FUZZ_BUILD_DIR:-$src/build-fuzz}
secs= long=0 crashes=0
for a in "$@"; do
	case "$a" in
	--long) long=1 ;;
	--crashes) crashes=1 ;;
	''|*[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET] [--long] [--crashes]" >&2; exit 2 ;;
	*) secs=$a ;;
	esac
done
[ -n "$secs" ] || secs=$([ $long = 1 ] && echo 3600 || echo 60)
ncpu=$(nproc 2>/dev/null || echo 1)
par=${NETPOLD_FUZZ_PARALLEL:-$((ncpu < 2 ? 1 : 2))}

# Longest input each target is allowed to grow to (raised to its largest seed).
declare -A max_len=(
	[fuzz_manifest_json]=16384 [fuzz_manifest_yaml]=16384 [fuzz_object_json]=8192
	[fuzz_watch_event]=8192 [fuzz_decode_list]=16384 [fuzz_watch_stream]=16384
	[fuzz_kubeconfig]=8192 [fuzz_nft_rule]=2048 [fuzz_engine_diff]=4096
	[fuzz_exec_credential]=8192 [fuzz_query]=1024
)

if ! command -v "${CC:-clang}" >/dev/null; then
	echo "tests/fuzz/run.sh: ${CC:-clang} not found (apt-get install clang libclang-rt-dev)" >&2
	exit 77
fi
echo "== building fuzz targets in $build"
if ! { CC=${CC:-clang} cmake -S "$src" -B "$build" -DNETPOLD_FUZZ=ON >"$build.cmake.log" 2>&1 &&
       cmake --build "$build" --target fuzz -j"$ncpu" >"$build.build.log" 2>&1; }; then
	cat "$build.cmake.log" "$build.build.log" 2>/dev/null | tail -40
	echo "tests/fuzz/run.sh: build failed" >&2
	exit 1
fi
rm -f "$build.cmake.log" "$build.build.log"

targets=${NETPOLD_FUZZ_TARGETS:-$(cd "$src/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//')}
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
work=$(mktemp -d "${TMPDIR:-/tmp}/netpold-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ $crashes = 1 ]; then
	fail=0
	for f in "$src"/tests/fuzz/crashes/*; do
		[ -f "$f" ] || continue
		case "$f" in *.md) continue ;; esac
		t=$(basename "$f" | sed 's/-[^-]*$//')
		# -3 of fuzz_nft_rule is a strict-mode finding (see crashes/README.md)
		if NETPOLD_FUZZ_NFT_STRICT=1 "$build/$t" -runs=1 "$f" >"$work/log" 2>&1; then
			printf '%-40s fixed\n' "$(basename "$f")"
		else
			printf '%-40s STILL FAILS: %s\n' "$(basename "$f")" \
				"$(grep -m1 -E 'ERROR:|runtime error|check failed' "$work/log")"
			fail=1
		fi
	done
	exit $fail
fi

# One target: copy of the seeds (never the repository's folder), bounded run, verdict.
run_one() {
	local t=$1 dir="$work/$t" seeds="$src/tests/fuzz/corpus/$t" len rc res corpus extra=()
	mkdir -p "$dir/artifacts"
	if [ $long = 1 ]; then
		corpus="$build/fuzz-corpus/$t"
		extra=(-use_value_profile=1)
	else
		corpus="$dir/corpus"
	fi
	mkdir -p "$corpus"
	[ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null
	len=${max_len[$t]:-8192}
	for f in "$corpus"/*; do
		[ -f "$f" ] && [ "$(stat -c %s "$f")" -gt "$len" ] && len=$(stat -c %s "$f")
	done
	"$build/$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len="$len" \
		-print_final_stats=1 -detect_leaks=1 -artifact_prefix="$dir/artifacts/" \
		"${extra[@]}" "$corpus" >"$dir/log" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		res=ok
	elif grep -q 'ERROR: LeakSanitizer' "$dir/log"; then
		res=LEAK
	elif grep -q -E 'ALARM: working on the last Unit|libFuzzer: timeout' "$dir/log"; then
		res=TIMEOUT
	elif grep -q -E 'out-of-memory|malloc limit' "$dir/log"; then
		res=OOM
	else
		res=CRASH
	fi
	echo "$res" >"$dir/result"
	if [ $rc != 0 ]; then
		mkdir -p "$build/fuzz-artifacts"
		cp "$dir"/artifacts/* "$build/fuzz-artifacts/" 2>/dev/null
		cp "$dir/log" "$build/fuzz-artifacts/$t.log"
	fi
}

summary() {
	local t=$1 dir="$work/$t" runs eps cov ft
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$dir/log" | tail -1 | awk '{print $2 "/" $4}')
	printf '%-22s %12s %9s %13s  %s\n' "$t" "${runs:--}" "${eps:--}" "${cov:--}" "$(cat "$dir/result")"
	if [ "$(cat "$dir/result")" != ok ]; then
		grep -m1 -B2 -A25 -E 'ERROR: |runtime error|check failed|ALARM' "$dir/log" | sed 's/^/    /'
		echo "    artifact(s) and log: $build/fuzz-artifacts/ (reproduce: $build/$t <artifact>)"
	fi
}

echo "== fuzzing each target for ${secs}s, $par at a time"
printf '%-22s %12s %9s %13s  %s\n' target executions exec/s "cov/features" result
running=0 fail=0
for t in $targets; do
	if [ ! -x "$build/$t" ]; then
		echo "tests/fuzz/run.sh: no such target $t" >&2
		exit 2
	fi
	run_one "$t" 2>/dev/null &
	running=$((running + 1))
	if [ $running -ge "$par" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
for t in $targets; do
	summary "$t"
	[ "$(cat "$work/$t/result")" = ok ] || fail=1
done
exit $fail
