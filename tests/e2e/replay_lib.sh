# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# shellcheck disable=SC2015 # "a && b || c" is meant as written here
#
# The e2e world: the test cluster of cluster.sh (etcd + kube-apiserver) plus the network-namespace
# world of tests/world/lib.sh (two node namespaces, the 9 pods of tests/conformance/world.json
# with a podserver each), one netpold per node namespace reading the API server with
# --kubeconfig and programming its node's nftables. Used by test_conformance_kubectl.sh and
# test_apply_latency.sh. Source it, then:
#
#   er_init NAME           checks (root, tools, binaries; exit 77 on skip), makes $ER_TMP, sets
#                          the EXIT trap (er_cleanup)
#   er_cluster             cluster_start with kube-apiserver also listening on 0.0.0.0
#   er_world               world_create world.json; a veth from the host to each node namespace
#                          (172.31.X.0/30 for node-1, 172.31.X.4/30 for node-2) and a kubeconfig
#                          per node pointing at the host end (tls-server-name: localhost, which
#                          the serving certificate carries)
#   er_objects             RBAC for user netpold, namespaces x y z and the 9 pods (kubectl apply of
#                          conformance_render world --api), pod status through the status
#                          subresource (both families, Running)
#   er_start NODE          netpold in NODE's namespace (log $ER_TMP/NODE.log, socket ER_SOCK[NODE])
#   er_up                  er_cluster, er_world, er_objects, er_start of both nodes, er_wait_ready 60
#   er_wait_ready [SEC]    both daemons ready, programmed, not degraded, 9 pods known
#   er_status NODE         GET /v1/status
#   er_mem NODE            "VmHWM=... VmRSS=..." of that netpold
#   fail MSG / pass MSG
#
# Everything started is stopped by PID and everything created is removed by er_cleanup, also on
# failure: the netpolds, the world (namespaces, podservers, veths), the cluster, $ER_TMP.

ER_E2E=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ER_SRC=${NETPOLD_SOURCE_DIR:-$(cd "$ER_E2E/../.." && pwd)}
ER_BUILD=${NETPOLD_BUILD_DIR:-$ER_SRC/build}
ER_TABLE=netpold
ER_NAME=e2e
ER_TMP=
declare -A ER_PID=() ER_SOCK=() ER_HOSTIP=() ER_KCFG=()
# lib.sh and cluster.sh are sourced at top level: lib.sh's 'declare -A' would be local otherwise.
WORLD_PREFIX=${WORLD_PREFIX:-np$$e}
WORLD_TOOLS=$ER_BUILD
# shellcheck source=tests/world/lib.sh
source "$ER_SRC/tests/world/lib.sh"
# shellcheck source=tests/e2e/cluster.sh
source "$ER_E2E/cluster.sh"

er_log() { echo "$ER_NAME: $*" >&2; }
pass() { echo "ok - $*"; }

# fail MSG: report, show the daemons' and the cluster's logs, exit 1 (the trap cleans up).
fail() {
	local n
	echo "FAIL: $ER_NAME: $*" >&2
	for n in node-1 node-2; do
		if [[ -n $ER_TMP && -s $ER_TMP/$n.log ]]; then
			echo "--- netpold $n log (last 30 lines)" >&2
			tail -n 30 "$ER_TMP/$n.log" >&2
		fi
	done
	cluster_dump_logs 20
	exit 1
}

er_now() { echo $(($(date +%s%N) / 1000000)); }

# A PID is ours when it still runs netpold from our build with our status socket.
_er_is_ours() {
	local pid=$1 node=$2
	[[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
		grep -qF -- "${ER_SOCK[$node]}"
}

_er_stop() { # _er_stop NODE: SIGTERM, wait, SIGKILL
	local node=$1 pid=${ER_PID[$1]:-} i
	[[ -n $pid ]] || return 0
	if _er_is_ours "$pid" "$node"; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			_er_is_ours "$pid" "$node" || break
			sleep 0.05
		done
		_er_is_ours "$pid" "$node" && kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	unset "ER_PID[$node]"
}

er_cleanup() {
	local n
	trap - EXIT
	for n in "${!ER_PID[@]}"; do
		_er_stop "$n"
	done
	# the host ends of the veths go with the node namespaces; remove them if they did not
	for n in node-1 node-2; do
		ip link show "$WORLD_PREFIX-${n#node-}" >/dev/null 2>&1 && ip link del "$WORLD_PREFIX-${n#node-}"
	done
	if declare -F world_destroy >/dev/null; then
		world_destroy || er_log "world_destroy reported leftovers"
	fi
	for n in node-1 node-2; do
		ip link show "$WORLD_PREFIX-${n#node-}" >/dev/null 2>&1 && ip link del "$WORLD_PREFIX-${n#node-}"
	done
	cluster_stop
	[[ -n $ER_TMP && -d $ER_TMP ]] && rm -rf -- "$ER_TMP"
}

er_init() {
	local t rc=0
	ER_NAME=$1
	if [[ $(id -u) -ne 0 ]]; then
		echo "SKIP: $ER_NAME needs root (network namespaces, nftables)"
		exit 77
	fi
	for t in ip nft jq curl python3 openssl awk; do
		command -v "$t" >/dev/null || {
			echo "FAIL: $ER_NAME: $t missing (tests/deps.sh installs it)" >&2
			exit 1
		}
	done
	for t in netpold probe podserver conformance_render; do
		[[ -x $ER_BUILD/$t ]] || {
			echo "FAIL: $ER_NAME: no $ER_BUILD/$t (build first, or set NETPOLD_BUILD_DIR)" >&2
			exit 1
		}
	done
	if ! ip netns add "$WORLD_PREFIX-chk" 2>/dev/null; then
		echo "SKIP: $ER_NAME: cannot create network namespaces"
		exit 77
	fi
	ip netns del "$WORLD_PREFIX-chk"
	cluster_bins || rc=$?
	[[ $rc = 77 ]] && { echo "SKIP: $ER_NAME: no Go toolchain to build kube-apiserver/kubectl/etcd"; exit 77; }
	[[ $rc = 0 ]] || { echo "FAIL: $ER_NAME: build-cluster.sh failed (rc $rc)" >&2; exit 1; }
	ER_TMP=$(mktemp -d "/tmp/$WORLD_PREFIX.$ER_NAME.XXXXXX")
	# an empty configuration file: the host's /etc/netpold/netpold.conf must not apply here
	echo "# $ER_NAME: everything is on the command line" >"$ER_TMP/netpold.conf"
	trap er_cleanup EXIT
	trap 'exit 1' INT TERM
}

# er_cluster: the control plane. kube-apiserver listens on every address (the later flag wins
# over cluster.sh's --bind-address=127.0.0.1) so that the node namespaces reach it over their
# veth; kubectl keeps using 127.0.0.1.
er_cluster() {
	local rc=0
	cluster_start "$ER_TMP/cluster" --bind-address=0.0.0.0 || rc=$?
	[[ $rc = 77 ]] && { echo "SKIP: $ER_NAME: openssl or curl missing"; exit 77; }
	[[ $rc = 0 ]] || fail "cluster_start"
}

# A /24 of 172.31.0.0/16 that no interface of the host uses yet.
_er_pick_net() {
	local x i
	for ((i = 0; i < 50; i++)); do
		x=$((($$ + i * 37) % 254 + 1))
		[[ -z $(ip -4 -o addr show to "172.31.$x.0/24" 2>/dev/null) ]] &&
			[[ -z $(ip -4 route show to "172.31.$x.0/24" 2>/dev/null) ]] && { echo "$x"; return 0; }
	done
	return 1
}

# er_world: the pods and nodes, plus the link from each node namespace to the host.
er_world() {
	local t0 x n k host ns
	t0=$(er_now)
	world_create "$ER_SRC/tests/conformance/world.json" || fail "world_create"
	x=$(_er_pick_net) || fail "no free 172.31.X.0/24 for the node-to-host links"
	for n in node-1 node-2; do
		k=${n#node-}
		host=$WORLD_PREFIX-$k
		ns=$(world_node_ns "$n")
		ER_HOSTIP[$n]=172.31.$x.$(((k - 1) * 4 + 1))
		ip link add "$host" type veth peer name api netns "$ns" || fail "veth $host"
		ip addr add "${ER_HOSTIP[$n]}/30" dev "$host" && ip link set "$host" up ||
			fail "host end of $host"
		ip -n "$ns" addr add "172.31.$x.$(((k - 1) * 4 + 2))/30" dev api &&
			ip -n "$ns" link set api up || fail "node end of $host"
		ER_KCFG[$n]=$ER_TMP/$n.kubeconfig
		cluster_write_kubeconfig "${ER_KCFG[$n]}" netpold "$CLUSTER_NETPOLD_TOKEN" \
			"https://${ER_HOSTIP[$n]}:$CLUSTER_APISERVER_PORT" localhost
		# the API server answers from inside the node namespace
		node_exec "$n" curl -sS --max-time 5 --cacert "$CLUSTER_CA" \
			--connect-to "localhost:$CLUSTER_APISERVER_PORT:${ER_HOSTIP[$n]}:$CLUSTER_APISERVER_PORT" \
			-H "Authorization: Bearer $CLUSTER_ADMIN_TOKEN" \
			"https://localhost:$CLUSTER_APISERVER_PORT/readyz" 2>&1 | grep -qx ok ||
			fail "$n cannot reach the API server at ${ER_HOSTIP[$n]}:$CLUSTER_APISERVER_PORT"
	done
	er_log "world: $(world_pods | wc -l) pods on 2 nodes, API server at ${ER_HOSTIP[node-1]} / ${ER_HOSTIP[node-2]}:$CLUSTER_APISERVER_PORT ($(($(er_now) - t0)) ms)"
}

# er_objects: RBAC, namespaces and pods through kubectl, pod status through the status subresource.
er_objects() {
	local t0 ns name st
	t0=$(er_now)
	cluster_rbac_netpold "pods, namespaces, services" || fail "RBAC"
	"$ER_BUILD/conformance_render" world --api --family dual | kubectl apply -f - >/dev/null ||
		fail "kubectl apply of the world"
	while read -r ns name st; do
		kubectl -n "$ns" patch pod "$name" --subresource=status --type=merge -p "$st" >/dev/null ||
			fail "status of pod $ns/$name"
	done < <("$ER_BUILD/conformance_render" pod-status --family dual)
	er_log "objects: RBAC, 3 namespaces, 9 pods with status ($(($(er_now) - t0)) ms)"
}

er_start() {
	local n=$1
	shift
	ER_SOCK[$n]=$ER_TMP/$n.sock
	ip netns exec "$(world_node_ns "$n")" "$ER_BUILD/netpold" --config "$ER_TMP/netpold.conf" \
		--kubeconfig "${ER_KCFG[$n]}" --node-name "$n" --table "$ER_TABLE" \
		--status-socket "${ER_SOCK[$n]}" --log-level "${NETPOLD_E2E_LOG_LEVEL:-info}" "$@" \
		>"$ER_TMP/$n.log" 2>&1 &
	ER_PID[$n]=$!
}

# er_up: the whole e2e world, both netpolds ready (the set-up time logged).
er_up() {
	local t0
	t0=$(er_now)
	er_cluster
	er_world
	er_objects
	er_start node-1
	er_start node-2
	er_wait_ready 60
	er_log "set-up $(($(er_now) - t0)) ms; both netpolds ready"
}

er_status() { curl -sS --max-time 5 --unix-socket "${ER_SOCK[$1]}" http://localhost/v1/status; }

# er_wait_ready [SECONDS]: both daemons ready, everything programmed, the 9 pods known.
er_wait_ready() {
	local n i st t=${1:-60}
	for n in node-1 node-2; do
		for ((i = 0; i < t * 20; i++)); do
			kill -0 "${ER_PID[$n]}" 2>/dev/null || fail "netpold on $n exited"
			st=$(er_status "$n" 2>/dev/null) &&
				jq -e '.ready and (.degraded | not) and .programmed_generation == .input_generation
					and .counts.pods == 9 and .counts.namespaces >= 3' <<<"$st" >/dev/null && break
			sleep 0.05
		done
		[[ $i -lt $((t * 20)) ]] || fail "netpold on $n not ready within ${t}s: $st"
	done
}

# er_mem NODE: the netpold's peak and current resident memory.
er_mem() {
	awk '/^VmHWM|^VmRSS/ { printf "%s%s %s kB", sep, $1, $2; sep = ", " }' "/proc/${ER_PID[$1]}/status"
}
