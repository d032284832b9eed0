# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# shellcheck disable=SC2015 # "a && b || c" is meant as written here
#
# What the TAP-style e2e tests (test_cluster.sh, test_k8s_source.sh, test_api_faults.sh) share:
# the paths, the ok/nok/expect/finish/fatal counters, the cluster binaries and the cluster start
# (exit 77 when the machine cannot have them), and for the tests that run one netpold in the
# host network namespace: e2e_init (checks, a unique table, a work folder with the status socket
# and the log, the EXIT trap, the cluster), e2e_start_netpold, status polling and the table.
#
#   e2e_init TABLE WORKNAME          root, nft, python3, netpold, cluster; sets TABLE WORK SOCK LOG
#   e2e_start_netpold KCFG [ARGS]    netpold --kubeconfig KCFG on node-1; sets NETPOLD_PID
#   status EXPR                      a python expression over the status object s, printed
#   wait_for SECONDS EXPR            poll the status every $E2E_POLL s until EXPR holds
#   nft_has PATTERN / wait_nft SECONDS PATTERN [absent]
#   setip NS POD IP                  the pod Running with that address (status subresource)
#
# At exit (e2e_on_exit): netpold and the PIDs in $E2E_KILL are stopped; on failure the netpold
# log, e2e_dump_more (a test may redefine it) and $E2E_CLUSTER_LOG_LINES of the cluster's logs
# are shown; the table is removed with --cleanup, the cluster stopped, $WORK removed unless
# NETPOLD_E2E_KEEP=1.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=${NETPOLD_SOURCE_DIR:-$(cd "$E2E_DIR/../.." && pwd)}
BUILD_DIR=${NETPOLD_BUILD_DIR:-$SRC_DIR/build}
NETPOLD=$BUILD_DIR/netpold
# shellcheck source=cluster.sh
. "$E2E_DIR/cluster.sh"

pass=0
fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
nok() { echo "not ok - $*"; fail=$((fail + 1)); }
# expect DESC GOT WANT
expect() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1: got '$2', want '$3'"; fi; }
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ] && exit 0
	exit 1
}
fatal() {
	nok "$*"
	finish
}

# e2e_cluster_bins: the cached (or freshly built) kube-apiserver, kubectl and etcd.
e2e_cluster_bins() {
	local rc=0
	cluster_bins || rc=$?
	[ $rc = 77 ] && { echo "SKIP: no Go toolchain to build kube-apiserver/kubectl/etcd"; exit 77; }
	[ $rc = 0 ] || fatal "build-cluster.sh failed (rc $rc)"
}

# e2e_cluster_start DIR [kube-apiserver args...]
e2e_cluster_start() {
	local rc=0
	cluster_start "$@" || rc=$?
	[ $rc = 77 ] && { echo "SKIP: openssl or curl missing"; exit 77; }
	[ $rc = 0 ] || fatal "cluster_start"
}

NETPOLD_PID=
E2E_KILL=
E2E_POLL=0.01
E2E_CLUSTER_LOG_LINES=30
e2e_dump_more() { :; }

# shellcheck disable=SC2317 # called from the EXIT trap
e2e_on_exit() {
	local rc=$? pid
	# shellcheck disable=SC2086 # E2E_KILL is a list of PIDs
	for pid in $NETPOLD_PID $E2E_KILL; do
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid" && wait "$pid" 2>/dev/null
		fi
	done
	if [ "$rc" != 0 ] || [ "$fail" != 0 ]; then
		echo "--- netpold log (last 60 lines)"
		tail -n 60 "$LOG" 2>/dev/null
		e2e_dump_more
		cluster_dump_logs "$E2E_CLUSTER_LOG_LINES"
	fi
	"$NETPOLD" --cleanup --table "$TABLE" >/dev/null 2>&1
	cluster_stop
	[ "${NETPOLD_E2E_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}

# e2e_init TABLE WORKNAME: skip (77) without root, nft or python3; the cluster binaries; the
# work folder ${TMPDIR:-/tmp}/WORKNAME.XXXXXX; the EXIT trap; the cluster in $WORK/cluster.
e2e_init() {
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (nftables)"; exit 77; }
	command -v nft >/dev/null && command -v python3 >/dev/null || { echo "SKIP: needs nft and python3"; exit 77; }
	[ -x "$NETPOLD" ] || fatal "no netpold binary at $NETPOLD (set NETPOLD_BUILD_DIR)"
	e2e_cluster_bins
	TABLE=$1
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX")
	SOCK=$WORK/netpold.sock
	LOG=$WORK/netpold.log
	trap e2e_on_exit EXIT
	trap 'exit 1' INT TERM
	e2e_cluster_start "$WORK/cluster"
	ok "cluster up at $CLUSTER_SERVER"
}

# e2e_start_netpold KCFG [ARGS...]: netpold in the background as node-1 with our table and socket.
e2e_start_netpold() {
	local kcfg=$1
	shift
	"$NETPOLD" --kubeconfig "$kcfg" --node-name node-1 --table "$TABLE" --status-socket "$SOCK" \
		"$@" --log-level info >"$LOG" 2>&1 &
	NETPOLD_PID=$!
}

# e2e_py ARGS...: python3 with tests/lib (netpold_test) importable, writing no bytecode.
e2e_py() {
	PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$E2E_DIR/../lib${PYTHONPATH:+:$PYTHONPATH}" python3 "$@"
}

# status FIELD-EXPRESSION: evaluate a python expression over the status object `s`.
status() {
	e2e_py - "$SOCK" "$1" <<-'EOF'
		import sys, netpold_test
		s = netpold_test.status(sys.argv[1])
		print(eval(sys.argv[2]))
	EOF
}

# wait_for SECONDS PYTHON-CONDITION: poll the status until the condition holds.
wait_for() {
	e2e_py - "$SOCK" "$1" "$2" "$E2E_POLL" <<-'EOF'
		import sys, netpold_test
		cond = sys.argv[3]
		sys.exit(0 if netpold_test.wait_status(sys.argv[1], float(sys.argv[2]),
		                                       lambda s: eval(cond, {"s": s}),
		                                       float(sys.argv[4])) else 1)
	EOF
}

# (not a pipe into grep -q: with pipefail, nft's SIGPIPE would read as "absent")
nft_has() {
	local out
	out=$(nft list table inet "$TABLE" 2>/dev/null) && grep -q -- "$1" <<<"$out"
}
wait_nft() { # wait_nft SECONDS PATTERN [absent]
	local i
	for i in $(seq 1 $(($1 * 20))); do
		if [ "${3:-}" = absent ]; then nft_has "$2" || return 0; else nft_has "$2" && return 0; fi
		sleep 0.05
	done
	return 1
}

setip() {
	kubectl -n "$1" patch pod "$2" --subresource=status --type=merge \
		-p "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$3\",\"podIPs\":[{\"ip\":\"$3\"}]}}" >/dev/null
}
