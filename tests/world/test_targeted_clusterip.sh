#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Traffic to a ClusterIP is judged on the translated destination, as Kubernetes requires (the
# upstream e2e suite itself probes through Services). A kube-proxy stand-in, table 'inet kp'
# with a prerouting nat chain in both node namespaces, DNATs Service addresses to pods:
#   10.96.0.10, fd00:96::10  port 80 TCP/UDP -> x/a:80      10.96.0.11, fd00:96::11 -> y/a:80
# netpold's forward chain runs after prerouting, so it sees the pod address: x/a's ingress
# policy and the clients' egress policies apply to Service traffic exactly as to direct
# traffic, and an egress ipBlock covering the Service range does not open the pods behind it.
# Every pair is probed through the Service and directly; both must agree with the expectation.
# Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

# shellcheck source=tests/world/targeted_lib.sh
source "$(dirname "$0")/targeted_lib.sh"
tl_init clusterip
tl_world

for n in node-1 node-2; do
	node_exec "$n" nft -f - <<-EOF || fail "kube-proxy stand-in in $n"
		add table inet kp
		add chain inet kp prerouting { type nat hook prerouting priority dstnat; policy accept; }
		add rule inet kp prerouting ip daddr 10.96.0.10 meta l4proto { tcp, udp } th dport 80 dnat ip to $(world_pod_ip x/a 4):80
		add rule inet kp prerouting ip6 daddr fd00:96::10 meta l4proto { tcp, udp } th dport 80 dnat ip6 to [$(world_pod_ip x/a 6)]:80
		add rule inet kp prerouting ip daddr 10.96.0.11 meta l4proto { tcp, udp } th dport 80 dnat ip to $(world_pod_ip y/a 4):80
		add rule inet kp prerouting ip6 daddr fd00:96::11 meta l4proto { tcp, udp } th dport 80 dnat ip6 to [$(world_pod_ip y/a 6)]:80
	EOF
done

# x/a admits x/b and z/a; z/a may only talk to x/a; z/c may only talk to the Service range.
tl_put 20-policies.json <<-'EOF'
	{"apiVersion": "v1", "kind": "List", "items": [
	 {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	  "metadata": {"name": "a-ingress", "namespace": "x"},
	  "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Ingress"],
	   "ingress": [{"from": [
	     {"podSelector": {"matchLabels": {"pod": "b"}}},
	     {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "z"}},
	      "podSelector": {"matchLabels": {"pod": "a"}}}]}]}},
	 {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	  "metadata": {"name": "a-egress", "namespace": "z"},
	  "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
	   "egress": [{"to": [
	     {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "x"}},
	      "podSelector": {"matchLabels": {"pod": "a"}}}]}]}},
	 {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	  "metadata": {"name": "c-egress-services", "namespace": "z"},
	  "spec": {"podSelector": {"matchLabels": {"pod": "c"}}, "policyTypes": ["Egress"],
	   "egress": [{"to": [{"ipBlock": {"cidr": "10.96.0.0/12"}},
	                      {"ipBlock": {"cidr": "fd00:96::/64"}}]}]}}
	]}
EOF
tl_start node-1
tl_start node-2
tl_sync
jq -e '.counts.policies == 3' <<<"${TL_ST[node-1]}" >/dev/null || fail "policies: ${TL_ST[node-1]}"

# FROM SERVICE-POD VERDICT: why
cases='x/b x/a ok       ingress of x/a admits x/b (across nodes)
z/a x/a ok       egress of z/a allows x/a, ingress of x/a admits z/a
y/b x/a fail     x/a ingress: y/b not admitted (judged on the ClusterIP, x/a would not be isolated)
y/a x/a fail     the same across nodes
x/c x/a fail     the same, same namespace
z/c x/a fail     z/c egress allows only the Service range, x/a is not in it
z/c y/a fail     the same towards y/a, which has no policy
y/b y/a ok       no policy on either side: the Service path itself works
x/b y/a ok       the same across nodes
z/a y/a fail     z/a egress allows only x/a'
declare -A SVC4=([x/a]=10.96.0.10 [y/a]=10.96.0.11) SVC6=([x/a]=fd00:96::10 [y/a]=fd00:96::11)
probes=$(while read -r from to want _; do
	for f in 4 6; do
		[[ $f == 4 ]] && svc=${SVC4[$to]} || svc=${SVC6[$to]}
		for proto in tcp udp; do
			echo "svc:v$f:$proto:$from>$to $from $svc $f 80 $proto $want"
			echo "pod:v$f:$proto:$from>$to $from $to $f 80 $proto $want"
		done
	done
done <<<"$cases")
tl_probe_expect --timeout 300 --tries 2 <<<"$probes"
[[ $TL_MISMATCH -eq 0 ]] || fail "$TL_MISMATCH of $TL_PROBED probes wrong (svc: through the ClusterIP, pod: direct)"
pass "$TL_PROBED probes (10 pairs x TCP/UDP x IPv4/IPv6, through the ClusterIP and directly): verdicts follow the translated destination"

node_exec node-1 nft list table inet kp >/dev/null || fail "table inet kp disappeared"
for n in node-1 node-2; do node_exec "$n" nft delete table inet kp; done
echo "test_targeted_clusterip: passed"
