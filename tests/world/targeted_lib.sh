# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Helpers shared by tests/world/test_conformance.sh and tests/world/test_targeted_*.sh: the
# conformance world (tests/conformance/world.json) with one netpold per node namespace, all
# reading one manifest folder, driven through their status sockets. Enforcement is always
# awaited with POST /v1/sync, never with sleep. Source this file, then call tl_init NAME.
#
#   tl_init NAME              checks (root, tools, binaries; exit 77 when namespaces can't be
#                             made), makes $TL_TMP ($TL_M: the manifest folder), EXIT trap
#   tl_world                  world_create world.json + the base manifests in $TL_M
#   tl_start NODE [ARGS...]   start netpold in NODE's namespace (log $TL_TMP/NODE.log,
#                             socket TL_SOCK[NODE], PID TL_PID[NODE]); NETPOLD_WRAPPER, when
#                             set, is a command line put before netpold (valgrind ...)
#   tl_stop NODE              SIGTERM, expects exit 0;   tl_kill9 NODE: SIGKILL
#   tl_sync [NODE...]         POST /v1/sync (default both nodes); status left in TL_ST[NODE]
#   tl_status NODE            GET /v1/status on stdout;  tl_api NODE CURL_ARGS...: any request
#   tl_wait_status NODE EXPR MS   poll the status until the jq EXPR holds, with a deadline
#   tl_put FILE < TEXT        write a manifest into $TL_M atomically (rename)
#   tl_world_manifests DIR    the dual-stack world, one file per object
#   tl_case_manifests C N [F] / tl_case_label C N I   a conformance step's objects / label op
#   tl_case_probes C N [F..]  a step's expectations as tl_probe_expect input
#   tl_probe_expect [OPTS]    probe lines with expectations: TL_MISMATCH, TL_PROBED
#   tl_table_text NODE        the table, canonical (no handles, sorted) for comparisons
#   tl_table_handles NODE     the same with handles, to show that nothing was recreated
#   tl_monitor_start/stop NODE    what was committed in between, from nft monitor
#   tl_now, tl_ms T0          milliseconds;  fail MSG / pass MSG;  TL_AT_EXIT+=(CMD)
#
# tests/world/test_faults.sh, test_soak.sh and test_bad_input.sh use this file too.

TL_SRC=${NETPOLD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TL_BUILD=${NETPOLD_BUILD_DIR:-$TL_SRC/build}
TL_TABLE=${TL_TABLE:-netpold}
# NETPOLD_WRAPPER: e.g. 'valgrind --error-exitcode=99 --log-file=DIR/vg.%p.log' (words split on
# blanks, no quoting). The wrapper must exec netpold in its own process, as valgrind does, so
# that TL_PID is the daemon that signals reach. Under it everything is slower: TL_SLOW scales
# the deadlines for startup and for the exit (valgrind's leak check runs at exit).
read -r -a TL_WRAPPER <<<"${NETPOLD_WRAPPER:-}"
TL_SLOW=1
[[ ${#TL_WRAPPER[@]} -eq 0 ]] || TL_SLOW=${NETPOLD_WRAPPER_SLOWDOWN:-10}
declare -A TL_PID=() TL_SOCK=() TL_ST=()
TL_NAME="test"
TL_TMP=
# lib.sh is sourced here, at top level: its 'declare -A' tables would be local to a function.
WORLD_PREFIX=${WORLD_PREFIX:-np$$t}
WORLD_TOOLS=$TL_BUILD
# shellcheck source=tests/world/lib.sh
source "$TL_SRC/tests/world/lib.sh"

tl_log() { echo "$TL_NAME: $*" >&2; }

# fail MSG: report, dump the daemons' logs, exit 1 (the EXIT trap cleans up).
fail() {
	local n
	echo "FAIL: $TL_NAME: $*" >&2
	for n in node-1 node-2; do
		if [[ -s $TL_TMP/$n.log ]]; then
			echo "--- netpold $n log (last 30 lines)" >&2
			tail -n 30 "$TL_TMP/$n.log" >&2
		fi
	done
	exit 1
}
pass() { echo "ok: $*"; }

# Milliseconds since the epoch, and since a start value.
tl_now() { echo $(($(date +%s%N) / 1000000)); }
tl_ms() { echo $(($(tl_now) - $1)); }

# Commands (strings) a test adds to run first at exit, e.g. stopping its own helpers.
TL_AT_EXIT=()

tl_cleanup() {
	local n h
	trap - EXIT
	for h in "${TL_AT_EXIT[@]}"; do
		eval "$h"
	done
	for n in "${!TL_PID[@]}"; do
		_tl_stop_pid "$n" TERM
	done
	for n in "${!TL_MON_PID[@]}"; do
		kill "${TL_MON_PID[$n]}" 2>/dev/null
	done
	if declare -F world_destroy >/dev/null; then
		world_destroy || echo "$TL_NAME: world_destroy reported leftovers" >&2
	fi
	[[ -n $TL_TMP && -d $TL_TMP ]] && rm -rf -- "$TL_TMP"
}

tl_init() {
	local t

	TL_NAME=$1
	if [[ $(id -u) -ne 0 ]]; then
		echo "SKIP: $TL_NAME needs root (network namespaces, nftables)"
		exit 77
	fi
	for t in ip nft jq curl python3 awk; do
		command -v "$t" >/dev/null || {
			echo "FAIL: $TL_NAME: $t missing (tests/deps.sh installs it)" >&2
			exit 1
		}
	done
	for t in netpold probe podserver conformance_render; do
		[[ -x $TL_BUILD/$t ]] || {
			echo "FAIL: $TL_NAME: no $TL_BUILD/$t (build first)" >&2
			exit 1
		}
	done
	if ! ip netns add "$WORLD_PREFIX-chk" 2>/dev/null; then
		echo "SKIP: $TL_NAME: cannot create network namespaces"
		exit 77
	fi
	ip netns del "$WORLD_PREFIX-chk"
	TL_TMP=$(mktemp -d "/tmp/$WORLD_PREFIX.$TL_NAME.XXXXXX")
	TL_M=$TL_TMP/manifests
	mkdir -p "$TL_M"
	# an empty configuration file: the host's /etc/netpold/netpold.conf must not apply here
	echo "# $TL_NAME: everything is on the command line" >"$TL_TMP/netpold.conf"
	trap tl_cleanup EXIT
	trap 'exit 1' INT TERM
}

# tl_put FILE: stdin becomes $TL_M/FILE, atomically (a hidden temporary file renamed).
tl_put() {
	local dst=$TL_M/$1 tmp=$TL_M/.tmp.$1.$$

	cat >"$tmp" && mv -f "$tmp" "$dst"
}

# tl_world_manifests DIR [FAMILY]: conformance_render's world as one file per object,
# 00-Namespace-x.json, 01-Pod-x-a.json, ...
tl_world_manifests() {
	local dir=$1 fam=${2:-dual} name obj

	"$TL_BUILD/conformance_render" world --family "$fam" |
		jq -c '.items[] | [(if .kind == "Namespace" then "00" else "01" end) + "-" + .kind
			+ "-" + ([.metadata.namespace, .metadata.name] | map(select(.)) | join("-"))
			+ ".json", tojson] | @tsv' -r |
		while IFS=$'\t' read -r name obj; do
			printf '%s\n' "$obj" >"$dir/.tmp.$name" && mv -f "$dir/.tmp.$name" "$dir/$name"
		done
}

tl_world() {
	local spec=$TL_SRC/tests/conformance/world.json t0

	t0=$(tl_now)
	world_create "$spec" || fail "world_create"
	tl_world_manifests "$TL_M" || fail "world manifests"
	tl_log "world ready in $(tl_ms "$t0") ms"
}

_tl_api() {
	local node=$1
	shift
	curl -sS --max-time 40 --unix-socket "${TL_SOCK[$node]}" "$@"
}

tl_api() { _tl_api "$@"; }
tl_status() { _tl_api "$1" http://localhost/v1/status; }

# tl_start NODE [extra netpold args]: start netpold in the node's namespace and wait (startup
# only) until its status socket answers.
tl_start() {
	local node=$1 ns pid i
	shift

	ns=$(world_node_ns "$node") || fail "no node $node"
	TL_SOCK[$node]=$TL_TMP/run-$node/netpold.sock
	# ip netns exec execs netpold (or the wrapper, which runs it in the same process), so $!
	# is netpold itself
	ip netns exec "$ns" "${TL_WRAPPER[@]}" "$TL_BUILD/netpold" --manifests "$TL_M" \
		--node-name "$node" --status-socket "${TL_SOCK[$node]}" --table "$TL_TABLE" \
		--config "$TL_TMP/netpold.conf" "$@" >>"$TL_TMP/$node.log" 2>&1 &
	pid=$!
	TL_PID[$node]=$pid
	for ((i = 0; i < 1000 * TL_SLOW; i++)); do
		kill -0 "$pid" 2>/dev/null || fail "netpold on $node exited at start"
		if [[ -S ${TL_SOCK[$node]} ]] &&
			_tl_api "$node" -f http://localhost/healthz >/dev/null 2>&1; then
			_tl_is_netpold "$pid" || fail "PID $pid on $node is not netpold: $(_tl_comm "$pid")"
			return 0
		fi
		sleep 0.01
	done
	fail "netpold on $node: status socket never answered"
}

_tl_comm() { cat "/proc/$1/comm" 2>/dev/null; }

# _tl_is_netpold PID: the process the tests signal is the daemon, not a wrapper around it.
# Under valgrind the daemon's process is the tool's: comm "memcheck-amd64-" (15 characters of
# memcheck-amd64-linux), with netpold's path still in its command line.
_tl_is_netpold() {
	local comm

	comm=$(_tl_comm "$1") || return 1
	[[ $comm == netpold ]] && return 0
	[[ ${#TL_WRAPPER[@]} -gt 0 && $comm == memcheck-* ]] || return 1
	tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF "$TL_BUILD/netpold"
}

_tl_stop_pid() {
	local node=$1 sig=$2 pid=${TL_PID[$1]:-} i

	[[ -n $pid ]] || return 0
	unset "TL_PID[$node]"
	kill -0 "$pid" 2>/dev/null || return 0
	kill -"$sig" "$pid" 2>/dev/null
	for ((i = 0; i < 250 * TL_SLOW; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# tl_stop NODE: SIGTERM, the daemon must exit 0 (leaving its table).
tl_stop() {
	local node=$1 pid=${TL_PID[$1]} rc

	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	unset "TL_PID[$node]"
	[[ $rc -eq 0 ]] || fail "netpold on $node exited $rc on SIGTERM"
}

# tl_kill9 NODE: SIGKILL, as a crash would.
tl_kill9() {
	local node=$1 pid=${TL_PID[$1]}

	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	unset "TL_PID[$node]"
}

# tl_sync [NODE...]: POST /v1/sync, answered once the folder as it is now is in the kernel.
# Fails unless 200, ready, not degraded, no rejected manifest, generations equal.
tl_sync() {
	local node out code nodes=("$@")

	[[ ${#nodes[@]} -gt 0 ]] || nodes=(node-1 node-2)
	for node in "${nodes[@]}"; do
		out=$(_tl_api "$node" -X POST -w '\n%{http_code}' http://localhost/v1/sync) ||
			fail "POST /v1/sync to $node: no answer"
		code=${out##*$'\n'}
		out=${out%$'\n'*}
		[[ $code == 200 ]] || fail "POST /v1/sync to $node answered $code: $out"
		jq -e '.ready and (.degraded | not) and .source.errors == 0
			and .programmed_generation == .input_generation' <<<"$out" >/dev/null ||
			fail "$node after sync: $out"
		TL_ST[$node]=$out
	done
}

# tl_ruleset NODE: our table as JSON.
tl_ruleset() { node_exec "$1" nft -j list table inet "$TL_TABLE"; }

# tl_probe_expect [probe options] < lines (not at the end of a pipe: it sets variables)
# 'ID FROM TO FAMILY PORT PROTO EXPECT' where EXPECT is ok, fail, or fail(REASON): runs them all
# at once through world_probe; probes expected ok that failed are run once more (a lost packet
# on a loaded machine is not a verdict; a success is always definitive). Prints each mismatch
# and sets TL_MISMATCH to their number, TL_PROBED to the number of probes.
tl_probe_expect() {
	local in out again

	in=$(cat)
	out=$(awk '{ print $1, $2, $3, $4, $5, $6 }' <<<"$in" | world_probe "$@") ||
		fail "probe failed to run"
	again=$(awk 'FNR == NR { got[$1] = $2; next }
		$7 == "ok" && got[$1] != "ok" { print $1, $2, $3, $4, $5, $6 }' \
		<(echo "$out") <(echo "$in"))
	if [[ -n $again ]]; then
		out+=$'\n'$(world_probe "$@" <<<"$again") || fail "probe failed to run"
	fi
	# shellcheck disable=SC2034 # read by the tests
	TL_PROBED=$(grep -c . <<<"$in" || true)
	# the last result of each ID counts
	TL_MISMATCH_LINES=$(awk '
		FNR == NR { want[$1] = $7; next }
		{ got[$1] = $2 }
		END {
			for (id in want) {
				w = want[id]; g = got[id]; gs = g; sub(/\(.*/, "", gs)
				if (w == "ok" || w == "fail") bad = (gs != w)
				else bad = (g != w)
				if (bad) print id " want " w " got " g
			}
		}' <(echo "$in") <(echo "$out") | sort)
	TL_MISMATCH=$(grep -c . <<<"$TL_MISMATCH_LINES" || true)
	if [[ $TL_MISMATCH -gt 0 ]]; then
		echo "$TL_MISMATCH_LINES" >&2
	fi
	return 0
}

# tl_case_manifests CASE STEP [FAMILY]: conformance_render's objects of a case step, one file
# each, 20-Kind-ns-name.json, in $TL_MANIFESTS (default $TL_M).
tl_case_manifests() {
	local name obj

	"$TL_BUILD/conformance_render" step "$1" "$2" --family "${3:-4}" |
		jq -r '.items[] | ["20-" + .kind + "-" + .metadata.namespace + "-" + .metadata.name
			+ ".json", tojson] | @tsv' |
		while IFS=$'\t' read -r name obj; do
			printf '%s\n' "$obj" | tl_put "$name"
		done
}

# tl_case_label CASE STEP OP: write the object label op OP of the step produces (the world's
# Pod or Namespace with its new labels) over the world's file for it.
tl_case_label() {
	local obj name

	obj=$("$TL_BUILD/conformance_render" label "$1" "$2" "$3" --family dual) || return 1
	name=$(jq -r '(if .kind == "Namespace" then "00" else "01" end) + "-" + .kind + "-"
		+ ([.metadata.namespace, .metadata.name] | map(select(.)) | join("-")) + ".json"' \
		<<<"$obj")
	printf '%s\n' "$obj" | tl_put "$name"
}

# tl_case_probes CASE STEP [FAMILY...]: the step's asserted pairs as tl_probe_expect input,
# 'ID FROM TO_IP FAMILY PORT PROTO ok|fail(timeout)'.
tl_case_probes() {
	local c=$1 n=$2 fam
	shift 2
	[[ $# -gt 0 ]] || set -- 4 6
	for fam in "$@"; do
		"$TL_BUILD/conformance_render" probes "$c" "$n" --family "$fam" |
			awk -v f="$fam" '{ printf "v%s:%s:%s:%s>%s %s %s %s %s %s %s\n", f, $2, $1, $3,
				$5, $3, $6, f, $1, tolower($2), ($7 == "allow") ? "ok" : "fail(timeout)" }'
	done
}

# Rule counters (netpold counts what its rules accept and deny) change with every packet: the
# comparisons below zero them.
_TL_NOCOUNT='walk(if type == "object" and has("counter") and (.counter | type) == "object"
	then .counter = {} else . end)'

# tl_table_text NODE: our table as nft lists it, without handles or counter values, elements
# sorted, so that two listings compare equal iff the table has the same content.
tl_table_text() {
	node_exec "$1" nft -j list table inet "$TL_TABLE" | jq -S "
		[.nftables[] | del(.metainfo) | walk(if type == \"object\" then del(.handle) else . end)
		 | $_TL_NOCOUNT
		 | walk(if type == \"object\" and has(\"elem\") and (.elem | type) == \"array\"
		        then .elem |= sort_by(tojson) else . end)]
		| sort_by(tojson) | .[]" -c
}

# tl_table_handles NODE: the table with handles (so a recreated object shows), counters zeroed,
# one object per line, sorted.
tl_table_handles() {
	node_exec "$1" nft -a -j list table inet "$TL_TABLE" |
		jq -c ".nftables[] | del(.metainfo?) | $_TL_NOCOUNT" | sort
}

# tl_wait_status NODE JQ_EXPR DEADLINE_MS: poll GET /v1/status until JQ_EXPR holds (status in
# TL_ST[NODE]); returns 1 at the deadline (TL_SLOW times longer under NETPOLD_WRAPPER). For
# watching the daemon act on its own (drift).
tl_wait_status() {
	local node=$1 expr=$2 deadline=$(($(tl_now) + $3 * TL_SLOW))

	while :; do
		TL_ST[$node]=$(tl_status "$node") || return 1
		jq -e "$expr" <<<"${TL_ST[$node]}" >/dev/null && return 0
		[[ $(tl_now) -lt $deadline ]] || return 1
		sleep 0.01
	done
}

# tl_monitor_start NODE / tl_monitor_stop NODE: record what is committed in the node's
# namespace in between ('nft monitor' lines, without the generation comments), on stdout of
# tl_monitor_stop. A marker table added and deleted at both ends and awaited in the monitor's
# output makes the recording exact: nothing before the start, everything before the stop.
declare -A TL_MON_PID=()
_tl_marker() {
	local node=$1 file=$2 m deadline=$(($(tl_now) + 10000)) until

	# 'nft monitor' subscribes some time after it starts: a marker it missed is never seen, so
	# a new marker is tried every 200 ms until one shows up
	while [[ $(tl_now) -lt $deadline ]]; do
		m=tl_mark_$RANDOM$RANDOM
		node_exec "$node" nft add table inet "$m" && node_exec "$node" nft delete table inet "$m" ||
			return 1
		until=$(($(tl_now) + 200))
		while [[ $(tl_now) -lt $until ]]; do
			if grep -q "^delete table inet $m\$" "$file"; then
				echo "$m"
				return 0
			fi
			sleep 0.01
		done
	done
	return 1
}
tl_monitor_start() {
	local node=$1 file=$TL_TMP/monitor-$1

	: >"$file"
	ip netns exec "$(world_node_ns "$node")" nft monitor >>"$file" 2>&1 &
	TL_MON_PID[$node]=$!
	TL_MON_MARK[$node]=$(_tl_marker "$node" "$file") || fail "nft monitor in $node not running"
}
declare -A TL_MON_MARK=()
tl_monitor_stop() {
	local node=$1 file=$TL_TMP/monitor-$1 m2

	m2=$(_tl_marker "$node" "$file") || fail "nft monitor in $node lost"
	kill "${TL_MON_PID[$node]}" 2>/dev/null
	wait "${TL_MON_PID[$node]}" 2>/dev/null
	unset "TL_MON_PID[$node]"
	awk -v a="${TL_MON_MARK[$node]}" -v b="$m2" '
		$0 == "delete table inet " a { on = 1; next }
		$0 == "add table inet " b { on = 0 }
		on && !/^# new generation/ && !/ inet tl_mark_/' "$file"
}
