#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fail-closed mode with real packets: with --fail-closed-cidr set to node-1's pod ranges, a pod
# whose address is in the range but not yet in the manifests is rejected both ways; known
# pods that no policy isolates pass; once the pod is added (POST /v1/sync) its traffic follows
# its policies. Exits 77 only when namespaces cannot be made.
set -uo pipefail

NAME=test_fail_closed
WORLD_PREFIX=${WORLD_PREFIX:-np$$f}
source "$(dirname "${BASH_SOURCE[0]}")/node_lib.sh"
node_setup

world_create - <<-'W' || fail "world_create"
	x/a node-1 10.244.1.10 fd00:10:244:1::10
	y/b node-1 10.244.1.11 fd00:10:244:1::11
	y/new node-1 10.244.1.12 fd00:10:244:1::12
	z/r node-2 10.244.2.20 fd00:10:244:2::20
W

namespaces x y z >"$M/00-ns.yaml"
{
	pod x a node-1 10.244.1.10 fd00:10:244:1::10
	pod y b node-1 10.244.1.11 fd00:10:244:1::11
	pod z r node-2 10.244.2.20 fd00:10:244:2::20
} >"$M/10-pods.yaml"

start_netpold --fail-closed-cidr 10.244.1.0/24 --fail-closed-cidr fd00:10:244:1::/64
sync_now
node=$(world_node_ns node-1)
ip netns exec "$node" nft list chain inet netpold forward | grep -q 'ip saddr @fc_range4 ip saddr != @fc_known4 reject' ||
	fail "no fail-closed rule in forward: $(ip netns exec "$node" nft list chain inet netpold forward)"

out=$(printf '%s\n' "k1 x/a y/b 4 80 tcp" "k2 y/b x/a 6 80 udp" "k3 z/r x/a 4 80 tcp" "k4 x/a z/r 6 80 tcp" |
	world_probe --timeout 1000 --tries 3)
[[ $out == $'k1 ok\nk2 ok\nk3 ok\nk4 ok' ]] || fail "known, non-isolated pods must pass: $out"
pass "known pods (local and remote) pass"

out=$(printf '%s\n' "u1 y/new x/a 4 80 tcp" "u2 x/a y/new 4 80 tcp" "u3 y/new x/a 6 80 udp" \
	"u4 z/r y/new 4 80 tcp" "u5 x/a y/new 6 80 tcp" | world_probe --timeout 500 --tries 1)
for id in u1 u2 u3 u4 u5; do
	case $id in u3) want=unreachable ;; *) want=refused ;; esac
	grep -q "^$id fail($want)" <<<"$out" || fail "unknown pod y/new must be rejected ($id: $want): $out"
done
pass "unknown address in the range rejected both ways, v4 and v6 (TCP reset, else admin-prohibited)"

# the pod arrives, with a policy: ingress only from x/a on port 80
t0=$(date +%s%N)
pod y new node-1 10.244.1.12 fd00:10:244:1::12 >"$M/.20-new.yaml"
cat >>"$M/.20-new.yaml" <<-'Y'
	---
	apiVersion: networking.k8s.io/v1
	kind: NetworkPolicy
	metadata: {name: new-from-a, namespace: y}
	spec:
	  podSelector: {matchLabels: {app: new}}
	  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: x}}}], ports: [{port: 80}]}]
Y
mv -f "$M/.20-new.yaml" "$M/20-new.yaml"
sync_now
ms=$((($(date +%s%N) - t0) / 1000000))
out=$(printf '%s\n' "n1 x/a y/new 4 80 tcp" "n2 x/a y/new 6 80 tcp" "n3 y/new x/a 4 80 tcp" "n4 y/new z/r 6 80 udp" |
	world_probe --timeout 1000 --tries 3)
[[ $out == $'n1 ok\nn2 ok\nn3 ok\nn4 ok' ]] || fail "y/new once known must follow its policy: $out"
out=$(printf '%s\n' "d1 y/b y/new 4 80 tcp" "d2 x/a y/new 4 81 tcp" | world_probe --timeout 500 --tries 1)
[[ $out == $'d1 fail(timeout)\nd2 fail(timeout)' ]] || fail "y/new's policy must deny (drop): $out"
pass "after POST /v1/sync (${ms} ms from manifest to programmed) y/new follows new-from-a"

# and when it goes away again, its address is unknown again
rm -f "$M/20-new.yaml"
sync_now
out=$(echo "g1 x/a y/new 4 80 tcp" | world_probe --timeout 500 --tries 1)
[[ $out == "g1 fail(refused)" ]] || fail "a deleted pod's address must be rejected again: $out"
pass "deleted pod: address rejected again"
grep -q 'ERROR\|error:' "$LOG" && fail "errors in the log"
exit 0
