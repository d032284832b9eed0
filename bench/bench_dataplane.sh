#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Dataplane benchmark (root): what netpold's nftables table costs the packets it judges.
#
# Two pods on one node (routed veths, as in tests/world: the node forwards between them, so
# every packet crosses the node's forward hook), server <- client:
#   - new TCP connections per second: bench_connrate, PARALLEL connects in flight for
#     SECONDS; the server accepts and closes, a connection counts when the server's FIN is back;
#   - bulk throughput: one TCP stream, iperf3 (installed with apt-get when missing) or
#     bench_connrate's bulk mode (--bulk-tool connrate).
# Configurations, each measured ROUNDS times paired with 'none' (ABBA order, see below):
#   none       no table in the node namespace at all (no conntrack either)
#   ct         one base chain with only 'ct state established,related accept' (the
#              price of conntrack alone: every stateful policy implementation pays it)
#   netpold-N  netpold's table programmed by nft_apply from a cluster of N other policies
#              (plus the bench namespace's three, one of them allowing client -> server)
#   linear-N   the same N policies as an iptables-style linear chain: 'ct state
#              established,related accept', then one rule per (policy, peer)
#              'ip saddr A ip daddr B tcp dport P accept', the client's rule last
# Prints per-round figures, medians and ratios to 'none'. Everything lives in namespaces
# named npbench<PID>-*, removed on exit.
#
# Usage: bench/bench_dataplane.sh [--rounds N] [--seconds S] [--parallel P]
#                                 [--policies "1000 10000"] [--configs "netpold-10000 ..."]
#                                 [--bulk-tool iperf3|connrate]
# --configs restricts the measured configurations (none is always measured).
# Env: NETPOLD_BUILD_DIR (default /tmp/build-bench) holds nft_apply and bench_connrate.
set -uo pipefail

ROUNDS=5
SECONDS_PER_RUN=2
PARALLEL=32
POLICY_COUNTS="1000 10000"
ONLY_CONFIGS=
BULK_TOOL=iperf3
while [[ $# -gt 0 ]]; do
	case $1 in
	--rounds) ROUNDS=$2; shift 2 ;;
	--seconds) SECONDS_PER_RUN=$2; shift 2 ;;
	--parallel) PARALLEL=$2; shift 2 ;;
	--policies) POLICY_COUNTS=$2; shift 2 ;;
	--bulk-tool) BULK_TOOL=$2; shift 2 ;;
	--configs) ONLY_CONFIGS=$2; shift 2 ;;
	-h | --help) sed -n '3,28p' "$0"; exit 0 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
done

[[ $(id -u) == 0 ]] || { echo "bench_dataplane: needs root" >&2; exit 77; }
BUILD=${NETPOLD_BUILD_DIR:-/tmp/build-bench}
APPLY=$BUILD/nft_apply
CONNRATE=$BUILD/bench_connrate
for t in "$APPLY" "$CONNRATE"; do
	[[ -x $t ]] || { echo "bench_dataplane: missing $t (build the project first)" >&2; exit 1; }
done
for t in nft ip awk; do
	command -v $t >/dev/null || { echo "bench_dataplane: needs $t" >&2; exit 1; }
done
if [[ $BULK_TOOL == iperf3 ]] && ! command -v iperf3 >/dev/null; then
	echo "bench_dataplane: installing iperf3 and jq" >&2
	{ apt-get install -y iperf3 jq || { apt-get update && apt-get install -y iperf3 jq; }; } \
		>/dev/null 2>&1
	command -v iperf3 >/dev/null || {
		echo "bench_dataplane: no iperf3, using bench_connrate bulk" >&2
		BULK_TOOL=connrate
	}
fi
if [[ $BULK_TOOL == iperf3 ]] && ! command -v jq >/dev/null; then
	apt-get install -y jq >/dev/null 2>&1 || BULK_TOOL=connrate
fi

P=npbench$$
NODE=$P-node
SRV=$P-srv
CLI=$P-cli
SRV_IP=10.244.1.10
CLI_IP=10.244.1.11
CONN_PORT=8080
BULK_PORT=5201
NODE_NAME=node-0
TMP=$(mktemp -d /tmp/$P.XXXXXX)
PIDS=()

cleanup() {
	local p ns
	for p in "${PIDS[@]}"; do
		# only processes we started, by PID
		kill "$p" 2>/dev/null
	done
	for ns in "$CLI" "$SRV" "$NODE"; do
		[[ -e /run/netns/$ns ]] && ip netns del "$ns"
	done
	rm -rf -- "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the machine --------------------------------------------------------------------------
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "machine: $(nproc) cpus, $CPU_MODEL, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "settings: rounds $ROUNDS, ${SECONDS_PER_RUN}s per run, $PARALLEL parallel connects, bulk: $BULK_TOOL"

# --- topology: node + two routed pods -------------------------------------------------------
ip netns add "$NODE" || exit 1
ip netns add "$SRV" || exit 1
ip netns add "$CLI" || exit 1
ip -n "$NODE" link set lo up
ip -n "$NODE" addr add 169.254.1.1/32 dev lo scope link
ip netns exec "$NODE" sh -ec '
	echo 1 >/proc/sys/net/ipv4/ip_forward
	# The server closes first; conntrack would keep each connection 120 s in TIME_WAIT,
	# tens of thousands a second fill the table: keep them 1 s (same for every config).
	echo 1 >/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait
	for c in all default; do
		echo 0 >/proc/sys/net/ipv4/conf/$c/arp_ignore
		echo 0 >/proc/sys/net/ipv4/conf/$c/arp_filter
	done' || exit 1
i=0
for pod in "$SRV:$SRV_IP" "$CLI:$CLI_IP"; do
	ns=${pod%%:*} addr=${pod#*:} i=$((i + 1))
	ip -n "$NODE" link add "vp$i" type veth peer name eth0 netns "$ns" || exit 1
	ip -n "$NODE" link set "vp$i" up
	ip -n "$NODE" route add "$addr/32" dev "vp$i"
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$addr/32" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add 169.254.1.1/32 dev eth0 scope link
	ip -n "$ns" route add default via 169.254.1.1 dev eth0
	ip netns exec "$ns" sh -ec '
		echo "1024 65535" >/proc/sys/net/ipv4/ip_local_port_range
		for c in all default; do
			echo 0 >/proc/sys/net/ipv4/conf/$c/arp_ignore
			echo 0 >/proc/sys/net/ipv4/conf/$c/arp_filter
		done' || exit 1
done

ip netns exec "$SRV" "$CONNRATE" server --ready "$TMP/srv.ready" --bulk $((BULK_PORT + 1)) \
	$CONN_PORT &
PIDS+=($!)
if [[ $BULK_TOOL == iperf3 ]]; then
	ip netns exec "$SRV" iperf3 -s -p $BULK_PORT -B "$SRV_IP" >/dev/null 2>&1 &
	PIDS+=($!)
else
	BULK_PORT=$((BULK_PORT + 1))
fi
for ((i = 0; i < 50; i++)); do
	[[ -s $TMP/srv.ready ]] && break
	sleep 0.1
done
sleep 0.3

# --- the cluster: N policies in N/10 namespaces of 20 pods over 100 nodes -------------------
# Per namespace (as bench/bench_engine.c): default-deny, allow-same-namespace,
# allow-monitoring (named port), allow-external-frontend (ipBlock with excepts, port range),
# allow-app-X x5 (pod selectors; one with a namespaceSelector peer too), egress-app (named
# port + DNS). Pods are spread over node-0..node-99 by a hash: ~1% are local (node-0) and
# get chains; the rest are peers. The bench namespace adds the server and client pods (both
# local) and three policies on the server. Also writes the linear ruleset.
gen_cluster() {
	local npol=$1 yaml=$2 linear=$3

	awk -v npol="$npol" -v yaml="$yaml" -v linear="$linear" -v node="$NODE_NAME" \
		-v srv="$SRV_IP" -v cli="$CLI_IP" -v cport=$CONN_PORT -v bport=$BULK_PORT '
	function nsname(i) { return i == 0 ? "monitoring" : "team-ns-" i }
	function podip(ns, j,   id) {
		id = ns * PPN + j
		return "10." (64 + int(id / 65536)) "." (int(id / 256) % 256) "." (id % 256)
	}
	function lin(s, d, port) {
		printf "\t\tip saddr %s ip daddr %s tcp dport %d accept\n", s, d, port > linear
		nlin++
	}
	function selapp(a) { return "{matchLabels: {app: app-" (a % 10) "}}" }
	BEGIN {
		PPN = 20; NS = int(npol / 10); if (NS < 2) NS = 2
		print "# generated by bench_dataplane.sh: " npol " policies" > yaml
		print "table inet linear {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;" > linear
		print "\t\tct state established,related accept" > linear
		for (i = 0; i < NS; i++) {
			printf "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {team: team-%d, env: %s%s}}\n",
				nsname(i), i % 20, (i % 3 ? "prod" : "staging"),
				(i == 0 ? ", purpose: monitoring" : "") > yaml
			for (j = 0; j < PPN; j++) {
				id = i * PPN + j
				n = (id * 2654435761) % 100
				printf "---\napiVersion: v1\nkind: Pod\nmetadata: {name: app-%d-pod-%d, namespace: %s, labels: {app: app-%d, tier: %s}}\n",
					j % 10, j, nsname(i), j % 10, (j % 3 == 0 ? "frontend" : j % 3 == 1 ? "backend" : "db") > yaml
				printf "spec: {nodeName: node-%d, containers: [{name: c, ports: [{name: http, containerPort: 8080}, {name: metrics, containerPort: 9090}]}]}\n", n > yaml
				printf "status: {phase: Running, podIPs: [{ip: %s}]}\n", podip(i, j) > yaml
			}
			for (k = 0; k < 10; k++) {
				printf "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n" > yaml
				tgt = podip(i, (k * 2) % PPN)
				if (k == 0) {
					printf "metadata: {name: default-deny, namespace: %s}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n", nsname(i) > yaml
					lin(podip((i + 1) % NS, 1), tgt, 1)
				} else if (k == 1) {
					printf "metadata: {name: allow-same-namespace, namespace: %s}\nspec:\n  podSelector: {}\n  ingress: [{from: [{podSelector: {}}]}]\n", nsname(i) > yaml
					lin(podip(i, 3), tgt, 8080)
				} else if (k == 2) {
					printf "metadata: {name: allow-monitoring, namespace: %s}\nspec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {purpose: monitoring}}}], ports: [{port: metrics}]}]\n", nsname(i) > yaml
					lin(podip(0, i % PPN), tgt, 9090)
				} else if (k == 3) {
					printf "metadata: {name: allow-external-frontend, namespace: %s}\nspec:\n  podSelector: {matchLabels: {tier: frontend}}\n  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 192.168.0.0/16]}}], ports: [{port: 443}, {port: 8000, endPort: 8100}]}]\n", nsname(i) > yaml
					lin("203.0." (i % 256) "." (k + 1), tgt, 443)
				} else if (k == 9) {
					printf "metadata: {name: egress-app, namespace: %s}\nspec:\n  podSelector: %s\n  policyTypes: [Egress]\n  egress:\n  - to: [{podSelector: %s}]\n    ports: [{port: http}]\n  - ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]\n", nsname(i), selapp(i), selapp(i + 1) > yaml
					lin(podip(i, i % 10), podip(i, (i + 1) % 10), 8080)
				} else {
					a = k - 4 + (i % 2) * 5
					printf "metadata: {name: allow-app-%d, namespace: %s}\nspec:\n  podSelector: %s\n  ingress:\n  - from:\n    - podSelector: %s\n", a, nsname(i), selapp(a), selapp(a + 1) > yaml
					lin(podip(i, (a + 1) % 10), podip(i, a % 10), 8080)
					if (k == 4) {
						printf "    - namespaceSelector: {matchLabels: {team: team-%d, env: prod}}\n      podSelector: %s\n", i % 20, selapp(a + 2) > yaml
						lin(podip((i + 20) % NS, (a + 2) % 10), podip(i, a % 10), 8080)
					}
					printf "    ports: [{port: 8080}, {port: http}]\n" > yaml
				}
			}
		}
		# the bench namespace: server and client on this node, three policies on the server
		printf "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n" > yaml
		printf "---\napiVersion: v1\nkind: Pod\nmetadata: {name: server, namespace: bench, labels: {app: bench-server}}\nspec: {nodeName: %s, containers: [{name: c, ports: [{name: http, containerPort: %d}, {name: bulk, containerPort: %d}]}]}\nstatus: {phase: Running, podIPs: [{ip: %s}]}\n", node, cport, bport, srv > yaml
		printf "---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: bench, labels: {app: bench-client}}\nspec: {nodeName: %s, containers: [{name: c}]}\nstatus: {phase: Running, podIPs: [{ip: %s}]}\n", node, cli > yaml
		printf "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny, namespace: bench}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n" > yaml
		printf "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-monitoring, namespace: bench}\nspec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {purpose: monitoring}}}], ports: [{port: 9090}]}]\n" > yaml
		printf "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-client, namespace: bench}\nspec:\n  podSelector: {matchLabels: {app: bench-server}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: bench-client}}}], ports: [{port: http}, {port: bulk}]}]\n" > yaml
		# linear: the client rule at the end, then the deny for the server
		printf "\t\tip saddr %s ip daddr %s tcp dport { %d, %d } accept\n", cli, srv, cport, bport > linear
		printf "\t\tip daddr %s drop\n\t}\n}\n", srv > linear
		printf "%d", nlin + 1 > "/dev/stderr"
	}'
}

CONFIGS=(none ct)
declare -A LINEAR_RULES
for n in $POLICY_COUNTS; do
	LINEAR_RULES[$n]=$(gen_cluster "$n" "$TMP/cluster-$n.yaml" "$TMP/linear-$n.nft" 2>&1 >/dev/null)
	CONFIGS+=("netpold-$n" "linear-$n")
done
if [[ -n $ONLY_CONFIGS ]]; then
	CONFIGS=(none)
	for c in $ONLY_CONFIGS; do
		[[ $c != none ]] && CONFIGS+=("$c")
	done
fi
cat >"$TMP/ct.nft" <<-'EOF'
	table inet ctonly {
		chain forward {
			type filter hook forward priority filter; policy accept;
			ct state established,related accept
		}
	}
EOF

nodenft() { ip netns exec "$NODE" nft "$@"; }
clear_tables() {
	ip netns exec "$NODE" "$APPLY" --cleanup || return 1
	nodenft delete table inet linear 2>/dev/null
	nodenft delete table inet ctonly 2>/dev/null
	[[ -z $(nodenft list tables) ]]
}

# Programs CONFIG into the node namespace; prints a one-line description once per config.
declare -A DESCRIBED
setup_config() {
	local c=$1 n out t0 t1
	clear_tables || { echo "cannot clear the node's tables" >&2; return 1; }
	case $c in
	none) out="no table" ;;
	ct) nodenft -f "$TMP/ct.nft" || return 1; out="ct state established,related accept only" ;;
	netpold-*)
		n=${c#netpold-}
		t0=$(date +%s%N)
		out=$(ip netns exec "$NODE" "$APPLY" --node "$NODE_NAME" "$TMP/cluster-$n.yaml") || return 1
		t1=$(date +%s%N)
		out="netpold table, $n policies + 3: nft_apply $(((t1 - t0) / 1000000)) ms; $out;"
		out+=" $(nodenft list table inet netpold | grep -c '^	chain ') chains,"
		out+=" $(nodenft list table inet netpold | grep -c '^	set ') sets"
		;;
	linear-*)
		n=${c#linear-}
		nodenft -f "$TMP/linear-$n.nft" || return 1
		out="linear chain: ${LINEAR_RULES[$n]} rules after the established accept"
		;;
	esac
	if [[ -z ${DESCRIBED[$c]:-} ]]; then
		DESCRIBED[$c]=1
		printf '  %-14s %s\n' "$c" "$out"
	fi
}

# Sanity: the policies must allow the client and deny another source (the node itself is
# not a pod: use a second address on the client? no: probe from the server's own port
# range is allowed; we check that a non-allowed port is dropped).
check_config() {
	local c=$1
	ip netns exec "$CLI" "$CONNRATE" connect "$SRV_IP" $CONN_PORT 0.2 1 >/dev/null || {
		echo "config $c: client -> server:$CONN_PORT does not work" >&2
		return 1
	}
	case $c in
	netpold-* | linear-*)
		# port 9999 is not allowed: the SYN is dropped, the connect times out
		if ip netns exec "$CLI" timeout 1 bash -c "exec 3<>/dev/tcp/$SRV_IP/9999" 2>/dev/null ||
			[[ $? != 124 ]]; then
			echo "config $c: client -> server:9999 not dropped: the policy is not enforced" >&2
			return 1
		fi
		;;
	esac
}

run_connrate() {
	ip netns exec "$CLI" "$CONNRATE" connect "$SRV_IP" $CONN_PORT "$SECONDS_PER_RUN" "$PARALLEL" |
		awk '{ print $6 }'
}

run_bulk() {
	if [[ $BULK_TOOL == iperf3 ]]; then
		ip netns exec "$CLI" iperf3 -c "$SRV_IP" -p $BULK_PORT -t "$SECONDS_PER_RUN" -J 2>/dev/null |
			jq -r '.end.sum_received.bits_per_second / 1e9'
	else
		ip netns exec "$CLI" "$CONNRATE" bulk "$SRV_IP" $BULK_PORT "$SECONDS_PER_RUN" |
			awk '{ print $6 }'
	fi
}

echo "configurations:"
for c in "${CONFIGS[@]}"; do
	setup_config "$c" || exit 1
	check_config "$c" || exit 1
done

# Paired, interleaved: for every configuration X and round r, 'none' and X are measured back to
# back, in ABBA order (odd rounds: none conn, X conn, X bulk, none bulk; even rounds the
# reverse), so a neighbour's load that drifts slowly cancels out of the ratio X/none.
RESULTS=$TMP/results
: >"$RESULTS"
measure() { # CONFIG ROUND KIND
	local v
	setup_config "$1" || return 1
	sleep 0.3
	if [[ $3 == conn ]]; then v=$(run_connrate); else v=$(run_bulk); fi
	[[ -n $v ]] || { echo "measurement failed: $1 $3" >&2; return 1; }
	echo "$1 $2 $3 $v" >>"$RESULTS"
	printf ' %s %s=%.4g' "$1" "$3" "$v"
}
for ((r = 1; r <= ROUNDS; r++)); do
	for c in "${CONFIGS[@]}"; do
		[[ $c == none ]] && continue
		printf 'round %d:' "$r"
		if ((r % 2)); then
			measure none "$r" conn && measure "$c" "$r" conn &&
				measure "$c" "$r" bulk && measure none "$r" bulk || exit 1
		else
			measure "$c" "$r" conn && measure none "$r" conn &&
				measure none "$r" bulk && measure "$c" "$r" bulk || exit 1
		fi
		echo
	done
done
clear_tables

echo
echo "$ROUNDS rounds (load average now $(cut -d' ' -f1-3 /proc/loadavg), machine shared)."
echo "conn/s and Gbit/s: medians of X's runs; ratio: median over rounds of X / the 'none' run"
echo "paired with it in that round [min-max over rounds]"
awk -v order="${CONFIGS[*]}" '
	function sort(s, a,   n, i, j, t) {
		n = split(s, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n
	}
	function median(s,   a, n) {
		n = sort(s, a)
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function range(s,   a, n) {
		n = sort(s, a)
		return sprintf("[%.2f-%.2f]", a[1], a[n])
	}
	# the none run paired with (config, round, kind) is the one measured in the same round
	# right next to it: results come in groups of four per (round, config)
	{
		g = int((NR - 1) / 4)
		cfg[g] = ($1 == "none") ? cfg[g] : $1
		val[g, $1 == "none" ? "base" : "x", $3] = $4
		all[$1, $3] = all[$1, $3] " " $4
		ng = g + 1
	}
	END {
		for (g = 0; g < ng; g++) {
			c = cfg[g]
			rc[c] = rc[c] " " val[g, "x", "conn"] / val[g, "base", "conn"]
			rb[c] = rb[c] " " val[g, "x", "bulk"] / val[g, "base", "bulk"]
		}
		n = split(order, C, " ")
		printf "%-14s %10s %8s %-13s %8s %8s %-13s\n", "config", "conn/s", "ratio", "", "Gbit/s", "ratio", ""
		printf "%-14s %10.0f %8s %-13s %8.2f %8s %-13s\n", "none", median(all["none", "conn"]), "1", "", median(all["none", "bulk"]), "1", ""
		for (i = 1; i <= n; i++) {
			c = C[i]
			if (c == "none") continue
			printf "%-14s %10.0f %8.3f %-13s %8.2f %8.3f %-13s\n", c, median(all[c, "conn"]), median(rc[c]),
				range(rc[c]), median(all[c, "bulk"]), median(rb[c]), range(rb[c])
		}
	}' "$RESULTS"
