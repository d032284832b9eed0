#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real packets through the dataplane, minimal: a "node" namespace routing for
# three "pod" namespaces (web on this node, client and other elsewhere), the
# table programmed once by tests/tools/nft_apply, then TCP connects with bash's
# /dev/tcp. Allowed: client -> web:8080, node -> web (kubelet probes);
# denied: other -> web:8080, client -> web:9090; reject mode answers at once.
set -u

[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
command -v python3 >/dev/null || { echo "needs python3"; exit 77; }
BUILD=${NETPOLD_BUILD_DIR:-/tmp/build-nft}
APPLY=$BUILD/nft_apply
[ -x "$APPLY" ] || { echo "missing $APPLY"; exit 1; }

P=npdsmoke$$
NODE=$P-node
TMP=$(mktemp -d)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for ns in "$NODE" "$P-web" "$P-client" "$P-other"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }

ip netns add "$NODE" || exit 1
ip -n "$NODE" link set lo up
ip -n "$NODE" addr add 169.254.1.1/32 dev lo
ip netns exec "$NODE" sysctl -qw net.ipv4.ip_forward=1
i=0
for pod in web:10.0.0.1 client:10.0.1.1 other:10.0.1.2; do
	name=${pod%%:*} addr=${pod#*:} ns=$P-$name i=$((i + 1))
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip link add "v$P$i" netns "$NODE" type veth peer name eth0 netns "$ns"
	ip -n "$NODE" link set "v$P$i" up
	ip -n "$NODE" route add "$addr/32" dev "v$P$i"
	ip -n "$ns" addr add "$addr/32" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add 169.254.1.1 dev eth0
	ip -n "$ns" route add default via 169.254.1.1 dev eth0
done

for port in 8080 9090; do
	ip netns exec "$P-web" python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.0.0.1', $port)); s.listen(64)
while True:
    c, _ = s.accept(); c.close()
" &
	PIDS+=($!)
done
sleep 0.5

cat >"$TMP/world.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {phase: Running, podIPs: [{ip: 10.0.0.1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec: {nodeName: n2, containers: [{name: c}]}
status: {phase: Running, podIPs: [{ip: 10.0.1.1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: default, labels: {app: other}}
spec: {nodeName: n2, containers: [{name: c}]}
status: {phase: Running, podIPs: [{ip: 10.0.1.2}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-client, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{port: http}]
EOF

# connect FROM_NS PORT -> 0 if the TCP handshake completes within 2 s
connect() {
	ip netns exec "$1" timeout 2 bash -c "exec 3<>/dev/tcp/10.0.0.1/$2" 2>/dev/null
}

connect "$P-other" 8080 || fail "no connectivity before any policy"

ip netns exec "$NODE" "$APPLY" --node n1 "$TMP/world.yaml" || fail "nft_apply"
connect "$P-client" 8080 || fail "client -> web:8080 should be allowed"
connect "$P-other" 8080 && fail "other -> web:8080 should be denied"
connect "$P-client" 9090 && fail "client -> web:9090 should be denied"
connect "$NODE" 9090 || fail "node -> web:9090 (kubelet probes) should be allowed"

# reject mode: the denied connection fails fast with a reset, not a timeout
ip netns exec "$NODE" "$APPLY" --node n1 --reject "$TMP/world.yaml" >/dev/null || fail "nft_apply --reject"
start=$(date +%s%N)
connect "$P-other" 8080 && fail "other -> web:8080 should be rejected"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 1500 ] || fail "reject took ${ms} ms (expected an immediate RST)"
connect "$P-client" 8080 || fail "client -> web:8080 should still be allowed"

# an unchanged restart commits nothing
out=$(ip netns exec "$NODE" "$APPLY" --node n1 --reject "$TMP/world.yaml") || fail "nft_apply rerun"
case "$out" in commits=0\ *) ;; *) fail "rerun committed: $out" ;; esac

ip netns exec "$NODE" "$APPLY" --cleanup || fail "cleanup"
ip netns exec "$NODE" nft list table inet netpold >/dev/null 2>&1 && fail "table still present"
connect "$P-other" 8080 || fail "connectivity not restored after cleanup"
echo "PASS"
