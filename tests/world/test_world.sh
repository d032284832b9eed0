#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The test world itself, before any netpold: builds the 3 namespaces x 3 pods world over two
# nodes, checks the whole TCP/UDP/SCTP x 80/81 x IPv4/IPv6 matrix is open, then shows that probe
# sees a hand-written nftables drop or reject for every protocol and family (and nothing else),
# that every answer passes a stateful ruleset as ct state established, that refusals are told
# apart from drops, and that world_destroy leaves no namespace and no process behind.
# Exit 0 pass, 1 fail, 77 skip.

set -u

src=${NETPOLD_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
WORLD_PREFIX=np$$w
# shellcheck source=tests/world/lib.sh
source "$src/tests/world/lib.sh"

if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root for network namespaces"
	exit 77
fi
for t in ip nft awk; do
	if ! command -v "$t" >/dev/null; then
		echo "SKIP: $t not installed"
		exit 77
	fi
done
for t in probe podserver; do
	if [[ ! -x $WORLD_TOOLS/$t ]]; then
		echo "FAIL: $WORLD_TOOLS/$t not built"
		exit 1
	fi
done
if ! ip netns add "$WORLD_PREFIX-check" 2>/dev/null; then
	echo "SKIP: cannot create network namespaces"
	exit 77
fi
ip netns del "$WORLD_PREFIX-check"

fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

cleanup() {
	world_destroy
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ms() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

spec=$src/tests/conformance/world.json
own_spec=""
if [[ ! -f $spec ]]; then
	own_spec=1
	spec=$(mktemp "/tmp/$WORLD_PREFIX.spec.XXXXXX")
	cat >"$spec" <<-EOF
		x/a node-1 10.244.1.10 fd00:10:244:1::10
		x/b node-2 10.244.2.11 fd00:10:244:2::11
		x/c node-1 10.244.1.12 fd00:10:244:1::12
		y/a node-2 10.244.2.20 fd00:10:244:2::20
		y/b node-1 10.244.1.21 fd00:10:244:1::21
		y/c node-2 10.244.2.22 fd00:10:244:2::22
		z/a node-1 10.244.1.30 fd00:10:244:1::30
		z/b node-2 10.244.2.31 fd00:10:244:2::31
		z/c node-1 10.244.1.32 fd00:10:244:1::32
	EOF
fi

t0=$(date +%s%N)
if ! world_create "$spec"; then
	[[ -n $own_spec ]] && rm -f "$spec"
	echo "FAIL: world_create"
	exit 1
fi
[[ -n $own_spec ]] && rm -f "$spec"
echo "world_create: $(ms "$t0") ms"
mapfile -t pods < <(world_pods)
mapfile -t on1 < <(world_pods_on node-1)
mapfile -t on2 < <(world_pods_on node-2)
if [[ ${#pods[@]} -lt 4 || ${#on1[@]} -lt 2 || ${#on2[@]} -lt 1 ]]; then
	fail "world too small: ${#pods[@]} pods"
	exit 1
fi
matrix=$(world_matrix "80 81" "tcp udp sctp" "4 6")
n_matrix=$(wc -l <<<"$matrix")

# 1. No firewall: everything answers.
t0=$(date +%s%N)
out=$(world_probe --summary --tries 3 <<<"$matrix") || fail "probe exited $?"
echo "open matrix: $n_matrix probes in $(ms "$t0") ms"
bad=$(grep -v ' ok$' <<<"$out")
if [[ -n $bad ]]; then
	fail "unreachable without a firewall:"
	head -20 <<<"$bad"
fi
[[ $(grep -c ' ok$' <<<"$out") -eq $n_matrix ]] || fail "expected $n_matrix results"

# 2. Hand-written rules in node-1's forward path. Traffic crosses node-1 when either end is on
# node-1 (and the pod is not talking to itself, which never leaves the pod).
X=${on1[0]} Y=${on1[1]} Z=${on2[0]}
declare -A rule=(
	["$X|4|tcp|80"]=timeout
	["$X|4|sctp|80"]=timeout
	["$Y|6|sctp|81"]=timeout
	["$Y|6|udp|80"]=timeout
	["$Z|4|udp|81"]=refused
	["$Z|6|tcp|81"]=refused
)
node_exec node-1 nft -f - <<-EOF || fail "nft rules"
	table inet world_test {
		chain forward {
			type filter hook forward priority 0; policy accept;
			ip daddr $(world_pod_ip "$X" 4) tcp dport 80 drop
			ip daddr $(world_pod_ip "$X" 4) sctp dport 80 drop
			ip6 daddr $(world_pod_ip "$Y" 6) sctp dport 81 drop
			ip6 daddr $(world_pod_ip "$Y" 6) udp dport 80 drop
			ip daddr $(world_pod_ip "$Z" 4) udp dport 81 reject
			ip6 daddr $(world_pod_ip "$Z" 6) tcp dport 81 reject with tcp reset
		}
	}
EOF
declare -A node_of=()
for p in "${pods[@]}"; do
	node_of[$p]=$(world_pod_node "$p")
done

t0=$(date +%s%N)
out=$(world_probe --summary --tries 2 <<<"$matrix") || fail "probe exited $?"
echo "filtered matrix: $n_matrix probes in $(ms "$t0") ms (denied probes: 2 tries x 1 s)"
n_denied=0
while read -r id result; do
	from=${id%%>*}
	IFS=: read -r to fam proto port <<<"${id#*>}"
	want=ok
	reason=${rule["$to|${fam#v}|$proto|$port"]:-}
	if [[ -n $reason && $from != "$to" &&
		(${node_of[$from]} == node-1 || ${node_of[$to]} == node-1) ]]; then
		want="fail($reason)"
		n_denied=$((n_denied + 1))
	fi
	[[ $result == "$want" ]] || fail "$id: got $result, want $want"
done <<<"$out"
echo "filtered matrix: $n_denied probes expected denied"
[[ $n_denied -gt 0 ]] || fail "no probe was expected to be denied"
node_exec node-1 nft delete table inet world_test || fail "nft delete"

# 3. A stateful ruleset as netpold writes them: the answers (TCP SYN-ACK, UDP echo, SCTP ABORT)
# must come back as ct state established, and no probe packet may be ct state invalid (the
# kernel checks the INIT's CRC32c and the ABORT's verification tag).
W=${on2[0]}
node_exec node-1 nft -f - <<-EOF || fail "nft stateful rules"
	table inet world_test {
		chain forward {
			type filter hook forward priority 0; policy drop;
			ct state invalid counter drop
			ct state established,related accept
			ct state new ip daddr $(world_pod_ip "$X" 4) accept
			ct state new ip6 daddr $(world_pod_ip "$X" 6) accept
		}
	}
EOF
probes=""
for fam in 4 6; do
	for proto in tcp udp sctp; do
		probes+="in:v$fam:$proto $W $X $fam 81 $proto"$'\n'
		probes+="out:v$fam:$proto $X $W $fam 81 $proto"$'\n'
	done
done
out=$(world_probe <<<"$probes") || fail "probe exited $?"
while read -r id result; do
	want=ok
	[[ $id == out:* ]] && want="fail(timeout)"
	[[ $result == "$want" ]] || fail "stateful $id: got $result, want $want"
done <<<"$out"
invalid=$(node_exec node-1 nft list chain inet world_test forward |
	sed -n 's/.*ct state invalid counter packets \([0-9]*\).*/\1/p')
[[ $invalid == 0 ]] || fail "ct state invalid packets: '$invalid'"
node_exec node-1 nft delete table inet world_test || fail "nft delete"

# 4. Refusals: an unserved port, then a pod without its server.
out=$(world_probe <<-EOF
	tcp82 ${on2[0]} $X 4 82 tcp
	udp82 ${on2[0]} $X 6 82 udp
	sctp82 ${on2[0]} $X 4 82 sctp
EOF
) || fail "probe exited $?"
for want in "tcp82 fail(refused)" "udp82 fail(refused)" "sctp82 fail(refused)"; do
	grep -qxF "$want" <<<"$out" || fail "unserved port: want '$want', got: ${out//$'\n'/, }"
done
world_stop_server "$X"
out=$(world_probe <<-EOF
	tcp ${on2[0]} $X 6 80 tcp
	udp ${on2[0]} $X 4 80 udp
	sctp ${on2[0]} $X 6 80 sctp
EOF
) || fail "probe exited $?"
for want in "tcp fail(refused)" "udp fail(refused)" "sctp fail(refused)"; do
	grep -qxF "$want" <<<"$out" || fail "stopped server: want '$want', got: ${out//$'\n'/, }"
done

# 5. Teardown leaves nothing behind.
mapfile -t server_pids < <(awk '{ print $1 }' "$WORLD_DIR/pids")
world_destroy || fail "world_destroy"
left=$(ip netns list | awk -v p="$WORLD_PREFIX-" 'index($1, p) == 1 { print $1 }')
[[ -z $left ]] || fail "namespaces left: $left"
for pid in "${server_pids[@]}"; do
	if _world_alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == podserver ]]; then
		fail "podserver $pid still running"
	fi
done

if [[ $fails -gt 0 ]]; then
	echo "FAIL: $fails check(s)"
	exit 1
fi
echo "PASS"
exit 0
