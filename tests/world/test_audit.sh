#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Audit mode with real packets: a policy annotated netpold.io/mode: audit that alone isolates a
# pod lets its traffic through and records it as audit ("would be denied"); where an enforcing
# policy isolates the pod, the audit policy changes nothing (it neither opens nor denies);
# switching the annotation to enforce denies the traffic. Exits 77 only when namespaces cannot
# be made.
set -uo pipefail

NAME=test_audit
WORLD_PREFIX=${WORLD_PREFIX:-np$$a}
source "$(dirname "${BASH_SOURCE[0]}")/node_lib.sh"
node_setup

world_create - <<-'W' || fail "world_create"
	x/a node-1 10.244.1.10 fd00:10:244:1::10
	y/b node-1 10.244.1.11 fd00:10:244:1::11
	y/c node-1 10.244.1.12 fd00:10:244:1::12
W

namespaces x y >"$M/00-ns.yaml"
{
	pod x a node-1 10.244.1.10 fd00:10:244:1::10
	pod y b node-1 10.244.1.11 fd00:10:244:1::11
	pod y c node-1 10.244.1.12 fd00:10:244:1::12
} >"$M/10-pods.yaml"
watch() { # watch MODE: y/watch isolates y/b for ingress (nothing allowed)
	cat >"$M/.20-watch.yaml" <<-Y
	apiVersion: networking.k8s.io/v1
	kind: NetworkPolicy
	metadata: {name: watch, namespace: y, annotations: {netpold.io/mode: $1}}
	spec: {podSelector: {matchLabels: {app: b}}, policyTypes: [Ingress]}
	Y
	mv -f "$M/.20-watch.yaml" "$M/20-watch.yaml"
}
watch audit
# y/c: isolated by an enforcing policy (port 80 open) and watched by an audit deny-all
cat >"$M/30-c.yaml" <<-'Y'
	apiVersion: networking.k8s.io/v1
	kind: NetworkPolicy
	metadata: {name: allow-80, namespace: y}
	spec:
	  podSelector: {matchLabels: {app: c}}
	  ingress: [{ports: [{port: 80}]}]
	---
	apiVersion: networking.k8s.io/v1
	kind: NetworkPolicy
	metadata: {name: watch-c, namespace: y, annotations: {netpold.io/mode: audit}}
	spec: {podSelector: {matchLabels: {app: c}}, policyTypes: [Ingress]}
Y

start_netpold
sync_now
node=$(world_node_ns node-1)
rules=$(ip netns exec "$node" nft list chain inet netpold in_y_b) || fail "no audit chain in_y_b"
grep -q 'prefix "np:ia:y/b"' <<<"$rules" || fail "no audit log rule: $rules"
grep -q 'drop' <<<"$rules" && fail "an audit chain drops: $rules"
pass "audit chain in_y_b: log prefix np:ia:y/b, then return"

# the status API: y/b is audited (not isolated) for ingress; y/watch-c selects y/c even though
# allow-80 (enforcing) is what isolates it
api http://localhost/v1/pods/y/b | python3 -c '
import json, sys
i = json.load(sys.stdin)["ingress"]
assert i["audit"] is True and i["isolated"] is False and i["policies"] == ["y/watch"], i
' || fail "/v1/pods/y/b: ingress must be audited by y/watch"
api http://localhost/v1/pods/y/c | python3 -c '
import json, sys
i = json.load(sys.stdin)["ingress"]
assert i["audit"] is False and i["isolated"] is True and i["policies"] == ["y/allow-80"], i
' || fail "/v1/pods/y/c: ingress must be isolated by y/allow-80 alone"
api http://localhost/v1/policies/y/watch-c | python3 -c '
import json, sys
p = json.load(sys.stdin)
assert p["mode"] == "audit" and p["selected_local_pods"] == ["y/c"], p
' || fail "/v1/policies/y/watch-c must list y/c as selected"
pass "status API: y/b audited by y/watch; y/watch-c selects y/c under an enforcing policy"

out=$(printf '%s\n' "a1 x/a y/b 4 80 tcp" "a2 x/a y/b 6 81 udp" | world_probe --timeout 1000 --tries 3)
[[ $out == $'a1 ok\na2 ok' ]] || fail "audit must not deny: $out"
wait_record '"action":"audit","audit":true,"src":"x/a","dst":"y/b",.*"protocol":"tcp","port":80,"policies":\["y/watch"\]' ||
	fail "no audit record for x/a -> y/b:80"
wait_record '"audit":true,.*"protocol":"udp","port":81,"policies":\["y/watch"\]' || fail "no IPv6 UDP audit record"
pass "audit: traffic passes and is recorded: $(grep -m1 'deny {.*"audit":true' "$LOG" | sed 's/.*deny //')"

# y/c: the enforcing policy decides alone
out=$(printf '%s\n' "c1 x/a y/c 4 80 tcp" "c2 x/a y/c 4 81 tcp" | world_probe --timeout 500 --tries 1)
[[ $out == $'c1 ok\nc2 fail('* ]] || fail "y/c must follow allow-80 only: $out"
wait_record '"audit":false,.*"dst":"y/c",.*"protocol":"tcp","port":81,"policies":\["y/allow-80"\]' ||
	fail "no deny record naming y/allow-80 alone"
[[ $(count_records '"audit":true,.*"dst":"y/c"') -eq 0 ]] || fail "an audit record for y/c"
pass "enforced y/c: port 80 allowed, 81 denied by y/allow-80, no audit record"

# switch to enforce: denied
watch enforce
sync_now
out=$(echo "e1 x/a y/b 4 80 tcp" | world_probe --timeout 500 --tries 1)
[[ $out == "e1 fail("* ]] || fail "enforce must deny: $out"
wait_record '"audit":false,.*"dst":"y/b",.*"protocol":"tcp","port":80,"policies":\["y/watch"\]' ||
	fail "no deny record after switching to enforce"
pass "enforce: x/a -> y/b denied and recorded as deny"
# and back
watch audit
sync_now
out=$(echo "b1 x/a y/b 4 80 tcp" | world_probe --timeout 1000 --tries 3)
[[ $out == "b1 ok" ]] || fail "back to audit must allow: $out"
pass "back to audit: allowed again"
grep -q 'ERROR\|error:' "$LOG" && fail "errors in the log"
exit 0
