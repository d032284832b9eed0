#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Deny records with real packets: a probe denied by y/deny-all produces a record naming the
# policy, in netpold's log (`deny {json}`) and on /v1/events; a flood of 1000 denied UDP
# packets is capped by the kernel-side rate limit (10/s, burst 20) to about burst + rate * t
# records; --deny-log off leaves no log rules. Exits 77 only when namespaces cannot be made.
set -uo pipefail

NAME=test_deny_records
WORLD_PREFIX=${WORLD_PREFIX:-np$$d}
source "$(dirname "${BASH_SOURCE[0]}")/node_lib.sh"
node_setup

world_create - <<-'W' || fail "world_create"
	x/a node-1 10.244.1.10 fd00:10:244:1::10
	y/b node-1 10.244.1.11 fd00:10:244:1::11
	y/c node-2 10.244.2.12 fd00:10:244:2::12
W

namespaces x y >"$M/00-ns.yaml"
{
	pod x a node-1 10.244.1.10 fd00:10:244:1::10
	pod y b node-1 10.244.1.11 fd00:10:244:1::11
	pod y c node-2 10.244.2.12 fd00:10:244:2::12
} >"$M/10-pods.yaml"
cat >"$M/20-deny.yaml" <<-'Y'
	apiVersion: networking.k8s.io/v1
	kind: NetworkPolicy
	metadata: {name: deny-all, namespace: y}
	spec: {podSelector: {matchLabels: {app: b}}, policyTypes: [Ingress]}
Y

start_netpold
sync_now
rules=$(ip netns exec "$(world_node_ns node-1)" nft list chain inet netpold in_y_b) || fail "no chain in_y_b"
grep -q 'limit rate 10/second burst 20 packets log prefix "np:i:y/b" group 5417' <<<"$rules" ||
	fail "no log rule before the deny verdict: $rules"
pass "log rule: limit rate 10/second burst 20 packets log group 5417 prefix np:i:y/b"

# /v1/events, when the status API has it
evcode=$(api -o /dev/null -w '%{http_code}' --max-time 1 http://localhost/v1/events 2>/dev/null)
if [[ $evcode == 200 || $evcode == 000 ]]; then
	curl -sS -N --max-time 15 --unix-socket "$S" http://localhost/v1/events >"$TMP/events" 2>/dev/null &
	EVPID=$!
	sleep 0.3
fi

out=$(echo "t1 x/a y/b 4 80 tcp" | world_probe --timeout 300 --tries 1)
[[ $out == "t1 fail("* ]] || fail "x/a -> y/b:80 should be denied: $out"
wait_record '"action":"deny","audit":false,"src":"x/a","dst":"y/b","src_ip":"10.244.1.10","dst_ip":"10.244.1.11","protocol":"tcp","port":80,"policies":\["y/deny-all"\]' ||
	fail "no deny record for x/a -> y/b:80/TCP naming y/deny-all"
pass "denied TCP probe: $(grep -m1 'deny {.*"port":80' "$LOG" | sed 's/.*deny //')"
out=$(echo "t2 x/a y/b 6 443 udp" | world_probe --timeout 300 --tries 1)
[[ $out == "t2 fail("* ]] || fail "x/a -> y/b:443 (v6) should be denied: $out"
wait_record '"protocol":"udp","port":443,"policies":\["y/deny-all"\]' || fail "no IPv6 UDP record"
pass "denied IPv6 UDP probe recorded"
# allowed traffic is never recorded
out=$(echo "t3 y/b x/a 4 80 tcp" | world_probe --timeout 1000 --tries 3)
[[ $out == "t3 ok" ]] || fail "y/b -> x/a should be allowed: $out"
[[ $(count_records '"src":"y/b"') -eq 0 ]] || fail "an allowed connection was recorded"

if [[ -n $EVPID ]]; then
	for _ in $(seq 40); do grep -q 'y/deny-all' "$TMP/events" 2>/dev/null && break; sleep 0.05; done
	grep -q '"y/deny-all"' "$TMP/events" || fail "no record on /v1/events: $(head -c 500 "$TMP/events")"
	pass "/v1/events: $(grep -m1 'y/deny-all' "$TMP/events" | head -c 300)"
	# one shape: the log line and the event of the same packet are the same JSON object
	grep -m1 'deny {.*"port":80,' "$LOG" | sed 's/.*deny //' >"$TMP/logrec"
	grep -m1 '"port":80,' "$TMP/events" >"$TMP/evrec"
	python3 - "$TMP/logrec" "$TMP/evrec" <<-'PY' || fail "log line and /v1/events record differ"
		import json, sys
		a, b = (json.load(open(f)) for f in sys.argv[1:3])
		want = ["time", "direction", "action", "audit", "src", "dst", "src_ip", "dst_ip",
		        "protocol", "port", "policies"]
		assert list(a) == want and list(b) == want, (list(a), list(b))
		a.pop("time"); b.pop("time")
		assert a == b, (a, b)
	PY
	pass "the log line and /v1/events carry the same record"
	kill "$EVPID" 2>/dev/null
	EVPID=
else
	echo "note: /v1/events not available (HTTP $evcode), checked the log only"
fi

# the kernel-side rate limit: 1000 denied UDP packets from one source in a short burst
before=$(count_records '"port":9999')
t0=$(date +%s%N)
ip netns exec "$(world_pod_ns x/a)" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(1000):
    s.sendto(b"x", ("10.244.1.11", 9999))
'
sleep 1.5
t=$((($(date +%s%N) - t0) / 1000000))
got=$(($(count_records '"port":9999') - before))
# burst 20 + 10/s over the elapsed time, plus one token of slack
max=$((20 + 10 * (t + 999) / 1000 + 1))
[[ $got -ge 15 && $got -le $max ]] || fail "1000 denied packets gave $got records (want 15..$max over $t ms)"
pass "rate limit: 1000 denied UDP packets -> $got records in $t ms (cap $max)"

# --deny-log off: no log rules
stop_netpold
start_netpold --deny-log off
sync_now
rules=$(ip netns exec "$(world_node_ns node-1)" nft list chain inet netpold in_y_b)
grep -q 'log' <<<"$rules" && fail "--deny-log off left a log rule: $rules"
grep -q 'drop' <<<"$rules" || fail "--deny-log off lost the deny verdict: $rules"
pass "--deny-log off: the chain ends in its deny verdict only"
grep -q 'ERROR\|error:' "$LOG" && fail "errors in the log"
exit 0
