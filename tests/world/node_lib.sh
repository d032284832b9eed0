# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# What the world tests that run netpold themselves share. The np_* helpers are the preamble of
# the tests that make one namespace of their own (test_daemon_basic, test_privileges,
# test_image). node_setup is the whole set-up of the tests that run one netpold on node-1 of the
# test world against a manifests directory (test_audit, test_deny_records, test_fail_closed):
# checks, the world, starting and stopping netpold, its status API, the deny records in its log.

src=${NETPOLD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
build=${NETPOLD_BUILD_DIR:-$src/build}
# the world library only defines (a world is made by world_create); node_setup's tests set
# WORLD_PREFIX before sourcing this file
WORLD_TOOLS=$build
source "$src/tests/world/lib.sh"

# np_preamble NAME WHY BIN TOOL...: skip (77) unless root, which WHY needs; fail (1) unless every
# TOOL is installed and BIN is built.
np_preamble() {
	local name=$1 why=$2 bin=$3 tool
	shift 3
	if [[ $(id -u) -ne 0 ]]; then
		echo "$name: needs root ($why)" >&2
		exit 77
	fi
	for tool in "$@"; do
		command -v "$tool" >/dev/null || {
			echo "$name: $tool missing (tests/deps.sh installs it)" >&2
			exit 1
		}
	done
	[[ -x $bin ]] || {
		echo "$name: no $bin (build first)" >&2
		exit 1
	}
}

# np_stop_pid PID TRIES: SIGTERM, then up to TRIES polls 20 ms apart, then SIGKILL; reaps it.
# Only the daemon the script started, by its PID.
np_stop_pid() {
	[[ -n $1 ]] || return 0
	if kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1" 2>/dev/null
		for _ in $(seq "$2"); do kill -0 "$1" 2>/dev/null || break; sleep 0.02; done
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
}

# np_netns NAME NS: network namespace NS with lo up; skip (77) when it cannot be made
np_netns() {
	if ! ip netns add "$2" 2>/dev/null; then
		echo "$1: cannot create a network namespace" >&2
		exit 77
	fi
	ip -n "$2" link set lo up
}

# np_demo_deny_all: namespace demo, its pod a on node-1 (10.244.1.10) and demo/deny-all (both
# ways), on stdout
np_demo_deny_all() {
	cat <<-'Y'
	apiVersion: v1
	kind: Namespace
	metadata: {name: demo}
	---
	apiVersion: v1
	kind: Pod
	metadata: {name: a, namespace: demo, labels: {app: a}}
	spec: {nodeName: node-1, containers: [{name: web, image: x}]}
	status: {phase: Running, podIP: 10.244.1.10, podIPs: [{ip: 10.244.1.10}]}
	---
	apiVersion: networking.k8s.io/v1
	kind: NetworkPolicy
	metadata: {name: deny-all, namespace: demo}
	spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
	Y
}

# node_setup: set NAME (and WORLD_PREFIX) first. Checks root, tools and namespaces, makes $TMP
# with the manifests directory $M, and cleans up (netpold, the world, $TMP) on exit.
node_setup() {
	[[ $(id -u) -eq 0 ]] || { echo "SKIP: $NAME needs root"; exit 77; }
	for t in ip nft curl python3; do
		command -v "$t" >/dev/null || { echo "FAIL: $NAME: $t missing" >&2; exit 1; }
	done
	for t in netpold probe podserver; do
		[[ -x $build/$t ]] || { echo "FAIL: $NAME: no $build/$t (build first)" >&2; exit 1; }
	done
	if ! ip netns add "$WORLD_PREFIX-chk" 2>/dev/null; then
		echo "SKIP: $NAME: cannot create network namespaces"
		exit 77
	fi
	ip netns del "$WORLD_PREFIX-chk"

	TMP=$(mktemp -d "/tmp/$WORLD_PREFIX.XXXXXX")
	M=$TMP/manifests
	S=$TMP/run/netpold.sock
	LOG=$TMP/netpold.log
	PID=
	EVPID=
	mkdir -p "$M"
	trap cleanup EXIT
}

stop_netpold() {
	[[ -n $PID ]] || return 0
	kill -TERM "$PID" 2>/dev/null
	for _ in $(seq 200); do kill -0 "$PID" 2>/dev/null || break; sleep 0.02; done
	kill -KILL "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=
}
cleanup() {
	[[ -n $EVPID ]] && kill "$EVPID" 2>/dev/null
	stop_netpold
	world_destroy >/dev/null 2>&1
	rm -rf -- "$TMP"
}
fail() {
	echo "FAIL: $NAME: $*" >&2
	echo "--- netpold log (last 40 lines)" >&2
	tail -n 40 "$LOG" >&2 2>/dev/null
	exit 1
}
pass() { echo "ok: $*"; }

api() { curl -sS --max-time 20 --unix-socket "$S" "$@"; }
sync_now() {
	local code
	code=$(api -o /dev/null -w '%{http_code}' -X POST http://localhost/v1/sync) || fail "POST /v1/sync"
	[[ $code == 200 ]] || fail "POST /v1/sync answered $code"
}
# start_netpold [ARG...]: netpold in node-1 on $M, status on $S, log in $LOG; waits for /healthz
start_netpold() {
	local ns
	ns=$(world_node_ns node-1)
	: >"$TMP/netpold.conf"
	ip netns exec "$ns" "$build/netpold" --config "$TMP/netpold.conf" --manifests "$M" \
		--node-name node-1 --status-socket "$S" "$@" >>"$LOG" 2>&1 &
	PID=$!
	for _ in $(seq 500); do
		kill -0 "$PID" 2>/dev/null || fail "netpold exited at start"
		[[ -S $S ]] && api -f http://localhost/healthz >/dev/null 2>&1 && return 0
		sleep 0.01
	done
	fail "status socket never answered"
}
# count_records PATTERN: deny lines in the log matching PATTERN
count_records() { grep -c "deny {.*$1" "$LOG"; }
wait_record() {
	for _ in $(seq 100); do
		[[ $(count_records "$1") -gt 0 ]] && return 0
		sleep 0.05
	done
	return 1
}

# namespaces NS...: one Namespace manifest per name, on stdout
namespaces() {
	local ns sep=
	for ns in "$@"; do
		[[ -n $sep ]] && echo "$sep"
		printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$ns"
		sep=---
	done
}
pod() { # pod NS NAME NODE IP4 IP6
	cat <<-Y
	---
	apiVersion: v1
	kind: Pod
	metadata: {name: $2, namespace: $1, labels: {app: $2}}
	spec: {nodeName: $3, containers: [{name: c, image: i}]}
	status: {phase: Running, podIPs: [{ip: $4}, {ip: '$5'}]}
	Y
}
