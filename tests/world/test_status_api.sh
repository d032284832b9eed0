#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The status API and metrics, live, on a 2-node world with one netpold per node reading one
# manifest folder: /readyz and /healthz flip (503 before the first sync: the folder does not
# exist yet), /v1/status follows the applied policies, /v1/policies shows a policy programmed
# with the local pods it selects, /v1/pods shows isolation flipping, /v1/explain agrees with
# real probes, netpolctl live prints exactly what netpolctl offline prints (explain, matrix),
# /metrics parses as Prometheus exposition with growing counters, /v1/events streams without
# blocking the loop, and malformed or oversized requests get JSON errors while netpold keeps
# serving. Enforcement is awaited with POST /v1/sync, never with sleep. Exit 77 only when
# network namespaces cannot be made.
set -uo pipefail

src=${NETPOLD_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${NETPOLD_BUILD_DIR:-$src/build}
NAME=test_status_api

if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: $NAME needs root (network namespaces, nftables)"
	exit 77
fi
for t in ip nft jq curl python3 awk; do
	command -v "$t" >/dev/null || { echo "FAIL: $NAME: $t missing (tests/deps.sh)" >&2; exit 1; }
done
for t in netpold netpolctl probe podserver; do
	[[ -x $build/$t ]] || { echo "FAIL: $NAME: no $build/$t (build first)" >&2; exit 1; }
done

WORLD_PREFIX=np$$s
WORLD_TOOLS=$build
# shellcheck source=tests/world/lib.sh
source "$src/tests/world/lib.sh"
if ! ip netns add "$WORLD_PREFIX-chk" 2>/dev/null; then
	echo "SKIP: $NAME: cannot create network namespaces"
	exit 77
fi
ip netns del "$WORLD_PREFIX-chk"

TMP=$(mktemp -d "/tmp/$WORLD_PREFIX.XXXXXX")
M=$TMP/manifests # created later: netpold starts before its folder exists
declare -A PID=() SOCK=()
METRICS=127.0.0.1:9617

cleanup() {
	local n p
	trap - EXIT
	for n in "${!PID[@]}"; do
		p=${PID[$n]}
		if kill -0 "$p" 2>/dev/null; then
			kill -TERM "$p" 2>/dev/null
			for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.02; done
			kill -KILL "$p" 2>/dev/null
		fi
	done
	world_destroy || echo "$NAME: world_destroy reported leftovers" >&2
	rm -rf -- "$TMP"
}
trap cleanup EXIT

fail() {
	local n
	echo "FAIL: $NAME: $*" >&2
	for n in node-1 node-2; do
		[[ -s $TMP/$n.log ]] && { echo "--- netpold $n log" >&2; tail -n 30 "$TMP/$n.log" >&2; }
	done
	exit 1
}
pass() { echo "ok: $*"; }

api() { local n=$1; shift; curl -sS --max-time 40 --unix-socket "${SOCK[$n]}" "$@"; }
code_of() { local n=$1; shift; api "$n" -o /dev/null -w '%{http_code}' "$@"; }
# metrics over TCP, inside the node's namespace (the listener is its 127.0.0.1)
mget() { local n=$1; shift; node_exec "$n" curl -sS --max-time 10 "$@"; }
mcode() { local n=$1; shift; mget "$n" -o /dev/null -w '%{http_code}' "$@"; }
ctl() { "$build/netpolctl" "$@"; }

sync_now() {
	local n=$1 out code
	out=$(api "$n" -X POST -w '\n%{http_code}' http://localhost/v1/sync) || fail "$n: POST /v1/sync"
	code=${out##*$'\n'}
	ST=${out%$'\n'*}
	[[ $code == 200 ]] || fail "$n: POST /v1/sync answered $code: $ST"
}
sync_all() { sync_now node-1; ST1=$ST; sync_now node-2; ST2=$ST; }

start() {
	local n=$1 ns
	ns=$(world_node_ns "$n") || fail "no node $n"
	SOCK[$n]=$TMP/run-$n/netpold.sock
	echo "# $NAME" >"$TMP/netpold.conf"
	ip netns exec "$ns" "$build/netpold" --config "$TMP/netpold.conf" --manifests "$M" \
		--node-name "$n" --status-socket "${SOCK[$n]}" --metrics-address "$METRICS" \
		>>"$TMP/$n.log" 2>&1 &
	PID[$n]=$!
	for _ in $(seq 1000); do
		kill -0 "${PID[$n]}" 2>/dev/null || fail "netpold on $n exited at start"
		[[ -S ${SOCK[$n]} ]] && api "$n" -f http://localhost/healthz >/dev/null 2>&1 && return 0
		sleep 0.01
	done
	fail "netpold on $n never answered"
}

# validate_metrics FILE [PREVIOUS]: Prometheus text format, histograms consistent, and
# counters (and histogram series) not lower than in PREVIOUS.
validate_metrics() {
	python3 - "$@" <<-'P'
	import math, re, sys
	NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
	SAMPLE = re.compile(r'^(' + NAME + r')(\{(' + NAME + r'="(?:[^"\\\n]|\\[\\"n])*"'
	                    r'(?:,' + NAME + r'="(?:[^"\\\n]|\\[\\"n])*")*)?\})? '
	                    r'([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|Inf)|NaN)$')
	def parse(path):
	    types, samples = {}, {}
	    for line in open(path).read().split('\n')[:-1]:
	        if line.startswith('# HELP '):
	            continue
	        if line.startswith('# TYPE '):
	            _, _, name, typ = line.split(' ')
	            assert typ in ('counter', 'gauge', 'histogram'), line
	            assert name not in types, 'TYPE twice: ' + line
	            types[name] = typ
	            continue
	        m = SAMPLE.match(line)
	        assert m, 'bad line: %r' % line
	        name, labels, value = m.group(1), m.group(3) or '', float(m.group(4))
	        base = re.sub(r'_(bucket|sum|count)$', '', name)
	        fam = name if name in types else base
	        assert fam in types, 'undeclared: ' + line
	        if types[fam] == 'counter':
	            assert value >= 0, line
	        samples[(name, labels)] = value
	    return types, samples
	types, cur = parse(sys.argv[1])
	# histograms: cumulative buckets ending in +Inf == _count
	series = {}
	for (name, labels), v in cur.items():
	    if name.endswith('_bucket'):
	        le = re.search(r'le="([^"]*)"', labels).group(1)
	        rest = re.sub(r',?le="[^"]*"', '', labels)
	        series.setdefault((name[:-7], rest), []).append((float(le), v))
	for (base, rest), bs in series.items():
	    bs.sort()
	    assert bs[-1][0] == math.inf, base + ' has no +Inf bucket'
	    assert all(a[1] <= b[1] for a, b in zip(bs, bs[1:])), base + ' not cumulative'
	    assert cur[(base + '_count', rest)] == bs[-1][1], base + ' _count != +Inf'
	if len(sys.argv) > 2:
	    _, prev = parse(sys.argv[2])
	    for (name, labels), v in prev.items():
	        fam = re.sub(r'_(bucket|sum|count)$', '', name)
	        if types.get(name) == 'counter' or types.get(fam) == 'histogram':
	            assert cur.get((name, labels), -1) >= v, '%s{%s} went down' % (name, labels)
	P
}
# metric FILE NAME [LABELS]: a sample's value
metric() {
	awk -v n="$2" -v l="${3:-}" '$1 == (l == "" ? n : n "{" l "}") { print $2 }' "$1"
}

world_create - <<-'W' || fail "world_create"
	x/a node-1 10.244.1.10 fd00:10:244:1::10
	x/b node-2 10.244.2.11 fd00:10:244:2::11
	y/a node-1 10.244.1.20 fd00:10:244:1::20
	y/b node-2 10.244.2.21 fd00:10:244:2::21
W

# 1. before the folder exists: alive, not ready (on the socket and on the metrics port)
start node-1
start node-2
for n in node-1 node-2; do
	[[ $(code_of "$n" http://localhost/healthz) == 200 ]] || fail "$n: healthz"
	[[ $(code_of "$n" http://localhost/readyz) == 503 ]] || fail "$n: readyz not 503 before sync"
	[[ $(mcode "$n" "http://$METRICS/readyz") == 503 ]] || fail "$n: metrics readyz not 503"
	[[ $(mcode "$n" "http://$METRICS/healthz") == 200 ]] || fail "$n: metrics healthz"
	mget "$n" "http://$METRICS/metrics" >"$TMP/m0-$n" || fail "$n: /metrics"
	validate_metrics "$TMP/m0-$n" || fail "$n: invalid exposition"
	[[ $(metric "$TMP/m0-$n" netpold_ready) == 0 ]] || fail "$n: netpold_ready not 0"
	[[ $(mcode "$n" "http://$METRICS/v1/status") == 404 ]] || fail "$n: status on the TCP port"
done
pass "before the first sync: healthz 200, readyz 503, netpold_ready 0, /v1 not on TCP"

# 2. the folder appears with namespaces and pods, no policy
mkdir -p "$M.tmp"
for ns in x y; do
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$ns" >"$M.tmp/00-ns-$ns.yaml"
done
while read -r id node ip; do
	ns=${id%/*} name=${id#*/}
	cat >"$M.tmp/10-pod-$ns-$name.yaml" <<-Y
		apiVersion: v1
		kind: Pod
		metadata: {name: $name, namespace: $ns, labels: {app: $name}}
		spec:
		  nodeName: $node
		  containers: [{name: web, image: x, ports: [{containerPort: 80, name: http}]}]
		status: {phase: Running, podIP: $ip, podIPs: [{ip: $ip}]}
	Y
done < <(awk '{ print $1, $2, $3 }' "$WORLD_DIR/pods")  # IPv4 only: explain picks v4
mv "$M.tmp" "$M"
sync_all
for n in node-1 node-2; do
	[[ $(code_of "$n" http://localhost/readyz) == 200 ]] || fail "$n: readyz not 200 after sync"
	[[ $(mcode "$n" "http://$METRICS/readyz") == 200 ]] || fail "$n: metrics readyz not 200"
done
jq -e '.ready and .counts.pods == 4 and .counts.local_pods == 2 and .counts.policies == 0
	and .source.synced and .counts.set_elements >= 0' <<<"$ST1" >/dev/null || fail "status: $ST1"
gen0=$(jq .programmed_generation <<<"$ST2")
api node-2 http://localhost/v1/pods >"$TMP/pods0" || fail "/v1/pods"
jq -e '(.items | length) == 2 and all(.items[]; .local and (.ingress.isolated | not)
	and (.egress.isolated | not) and .ingress.since != null)' "$TMP/pods0" >/dev/null ||
	fail "pods before policy: $(cat "$TMP/pods0")"
pass "folder appeared: ready, 2 local pods per node, none isolated"

# 3. a policy: x/b (node-2) only accepts TCP 80 from namespace y
cat >"$M/.p" <<-'Y'
	apiVersion: networking.k8s.io/v1
	kind: NetworkPolicy
	metadata: {name: web, namespace: x, generation: 3}
	spec:
	  podSelector: {matchLabels: {app: b}}
	  ingress:
	  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
	    ports: [{port: 80, protocol: TCP}]
Y
mv "$M/.p" "$M/20-policy.yaml"
sync_all
jq -e --argjson g "$gen0" '.programmed_generation > $g and .counts.policies == 1
	and .programmed_generation == .input_generation and .counts.rules >= 1' <<<"$ST2" \
	>/dev/null || fail "status after policy: $ST2"
api node-2 http://localhost/v1/policies/x/web >"$TMP/pol2" || fail "/v1/policies/x/web"
jq -e '.programmed and .programmed_since != null and .selected_local_pods == ["x/b"]
	and .mode == "enforce" and .policy_types == ["Ingress"] and (.rules | length) == 1
	and .rules[0].direction == "ingress" and .rules[0].index == 0
	and (.rules[0].ports | length) == 1 and (.errors | length) == 0' "$TMP/pol2" >/dev/null ||
	fail "policy on node-2: $(cat "$TMP/pol2")"
api node-1 http://localhost/v1/policies/x/web | jq -e '.programmed and .selected_local_pods == []' \
	>/dev/null || fail "policy on node-1 should select no local pod"
api node-2 http://localhost/v1/policies | jq -e '(.items | length) == 1 and .items[0].name == "web"' \
	>/dev/null || fail "/v1/policies list"
api node-2 http://localhost/v1/pods/x/b >"$TMP/xb" || fail "/v1/pods/x/b"
jq -e '.ingress.isolated and .ingress.policies == ["x/web"] and (.egress.isolated | not)
	and .ingress.since != null' "$TMP/xb" >/dev/null || fail "x/b: $(cat "$TMP/xb")"
[[ $(jq -r .ingress.since "$TMP/xb") != $(jq -r '.items[] | select(.name == "b" and .namespace == "x")
	| .ingress.since' "$TMP/pods0") ]] || fail "isolation time of x/b did not move"
api node-2 http://localhost/v1/pods/y/b | jq -e '.ingress.isolated | not' >/dev/null ||
	fail "y/b should stay open"
ctl --socket "${SOCK[node-2]}" policies >"$TMP/ctl-pols" || fail "netpolctl policies"
grep -q "^x  *web  *3  *enforce  *since .* x/b  *0$" "$TMP/ctl-pols" ||
	fail "netpolctl policies: $(cat "$TMP/ctl-pols")"
ctl --socket "${SOCK[node-2]}" pods | grep -q "^x/b .*isolated by x/web" || fail "netpolctl pods"
ctl --socket "${SOCK[node-2]}" status | grep -q "^ready: *yes" || fail "netpolctl status"
ctl --socket "${SOCK[node-2]}" policy x/web | grep -q "spec.ingress\[0\]" || fail "netpolctl policy"
ctl --socket "${SOCK[node-2]}" --json pod x/b | jq -e .ingress.isolated >/dev/null ||
	fail "netpolctl --json pod"
pass "policy programmed (generation 3) selecting x/b on node-2 only; x/b ingress isolated"

# 4. explain agrees with real packets, and live == offline
pairs="y/a:x/b:80 x/a:x/b:80 y/b:x/b:81 x/a:y/b:80 y/a:x/a:81"
: >"$TMP/probes"
declare -A WANT=()
for p in $pairs; do
	IFS=: read -r from to port <<<"$p"
	ctl --socket "${SOCK[node-1]}" explain --from "$from" --to "$to" --port "$port" >"$TMP/live" 2>&1
	rc=$?
	ctl --manifests "$M" explain --from "$from" --to "$to" --port "$port" >"$TMP/off" 2>&1
	[[ $? == "$rc" ]] || fail "explain $p: live exit $rc, offline differs"
	cmp -s "$TMP/live" "$TMP/off" || fail "explain $p: live and offline differ: $(diff "$TMP/live" "$TMP/off")"
	ctl --socket "${SOCK[node-2]}" --json explain --from "$from" --to "$to" --port "$port" >"$TMP/lj"
	ctl --manifests "$M" --json explain --from "$from" --to "$to" --port "$port" >"$TMP/oj"
	cmp -s "$TMP/lj" "$TMP/oj" || fail "explain --json $p: live and offline differ"
	[[ $rc == 0 || $rc == 1 ]] || fail "explain $p failed: $(cat "$TMP/live")"
	WANT[$p]=$([[ $rc == 0 ]] && echo ok || echo fail)
	echo "$p $from $to 4 $port tcp" >>"$TMP/probes"
done
[[ ${WANT[y/a:x/b:80]} == ok && ${WANT[x/a:x/b:80]} == fail ]] ||
	fail "explain verdicts unexpected: ${WANT[*]}"
world_probe --tries 2 --timeout 500 <"$TMP/probes" >"$TMP/probe.out" || fail "probe"
while read -r id res; do
	got=${res%%(*}
	[[ $got == "${WANT[$id]}" ]] || fail "probe $id: $res, explain said ${WANT[$id]}"
done <"$TMP/probe.out"
# per-rule counters: the allowed y/a -> x/b:80 connection went through x/web ingress[0] on node-2
c0=$(jq -e '.rules[0].counters.packets' "$TMP/pol2") || fail "no counters in $(cat "$TMP/pol2")"
for _ in $(seq 30); do
	c1=$(api node-2 http://localhost/v1/policies/x/web | jq -e '.rules[0].counters.packets') ||
		fail "no counters on /v1/policies/x/web"
	((c1 > c0)) && break
	sleep 0.1 # the dataplane reads the kernel's counters at most once a second
done
((c1 > c0)) || fail "x/web ingress[0] counters did not grow ($c0 -> $c1)"
api node-2 http://localhost/v1/policies/x/web | jq -e '.rules[0].counters.bytes > 0' >/dev/null ||
	fail "x/web ingress[0]: no bytes counted"
api node-1 http://localhost/v1/policies/x/web | jq -e '.rules[0].counters.packets == 0' >/dev/null ||
	fail "node-1 has no chain for x/web: its counters must be 0"
pass "per-rule counters: x/web ingress[0] packets $c0 -> $c1 on node-2"
for fmt in "" --json; do
	ctl --socket "${SOCK[node-2]}" $fmt matrix --port 80 >"$TMP/mlive" 2>"$TMP/mlive.err" ||
		fail "matrix live"
	ctl --manifests "$M" $fmt matrix --port 80 >"$TMP/moff" 2>/dev/null || fail "matrix offline"
	cmp -s "$TMP/mlive" "$TMP/moff" || fail "matrix$fmt live != offline: $(diff "$TMP/mlive" "$TMP/moff")"
done
api node-1 "http://localhost/v1/matrix?port=80&namespaces=x" | jq -e '.["y/a/b"] == null and
	.["x/a"]["x/b"] == false' >/dev/null || fail "/v1/matrix?namespaces=x"
pass "explain matches $(wc -l <"$TMP/probes") probes; netpolctl live == offline (explain, matrix)"

# 5. metrics: valid, and counters grew with the policy
for n in node-1 node-2; do
	mget "$n" "http://$METRICS/metrics" >"$TMP/m1-$n" || fail "$n: /metrics"
	validate_metrics "$TMP/m1-$n" "$TMP/m0-$n" || fail "$n: metrics invalid or went down"
	[[ $(metric "$TMP/m1-$n" netpold_ready) == 1 ]] || fail "$n: netpold_ready"
	(($(metric "$TMP/m1-$n" netpold_reconciles_total) > $(metric "$TMP/m0-$n" netpold_reconciles_total))) ||
		fail "$n: reconciles_total did not grow"
	[[ $(metric "$TMP/m1-$n" netpold_objects 'kind="networkpolicy"') == 1 ]] || fail "$n: objects"
	(($(metric "$TMP/m1-$n" netpold_programming_latency_seconds_count 'trigger="networkpolicy"' || true) + 0 >= 0)) 
	c=$(metric "$TMP/m1-$n" netpold_programming_latency_seconds_count 'trigger="policy"')
	((c >= 1)) || fail "$n: no policy-triggered latency observed"
	# pod programming latency (fed from d->pod_latency) and the NFLOG reader's counters
	for name in netpold_pod_programming_latency_seconds_count \
		netpold_pod_programming_latency_lost_total netpold_nflog_overruns_total \
		netpold_deny_records_malformed_total netpold_deny_records_unattributed_total; do
		[[ $(metric "$TMP/m1-$n" $name) =~ ^[0-9]+$ ]] || fail "$n: no $name"
	done
	api "$n" http://localhost/metrics >"$TMP/ms-$n" && validate_metrics "$TMP/ms-$n" ||
		fail "$n: /metrics on the socket"
done
pass "metrics valid on both ports, counters grew, latency observed for trigger=policy"

# 6. events: a stream stays open without blocking the loop; the recent list answers
api node-2 -N http://localhost/v1/events >"$TMP/ev" 2>/dev/null &
evpid=$!
api node-2 "http://localhost/v1/events?follow=false" -o "$TMP/ev0" -w '%{http_code}' | grep -q 200 ||
	fail "/v1/events?follow=false"
[[ $(code_of node-2 http://localhost/v1/status) == 200 ]] || fail "status while a stream is open"
kill "$evpid" 2>/dev/null
wait "$evpid" 2>/dev/null
ctl --socket "${SOCK[node-2]}" events >/dev/null || fail "netpolctl events"
pass "events stream open while other requests are served"

# 7. errors: JSON 4xx, netpold keeps serving
check_err() {
	local want=$1 url=$2 got
	got=$(api node-1 -o "$TMP/e" -w '%{http_code}' "$url")
	[[ $got == "$want" ]] || fail "$url: $got, want $want: $(cat "$TMP/e")"
	jq -e --argjson c "$want" '.error and .code == $c' "$TMP/e" >/dev/null || fail "$url: body $(cat "$TMP/e")"
}
check_err 400 "http://localhost/v1/explain"
check_err 400 "http://localhost/v1/explain?from=x/a&to=x/b&port=0"
check_err 400 "http://localhost/v1/explain?from=x/a&to=x/b&port=80&protocol=ICMP"
check_err 400 "http://localhost/v1/explain?from=x/a&to=x/b&port=80&family=5"
check_err 400 "http://localhost/v1/explain?from=a/b/c&to=x/b&port=80"
check_err 404 "http://localhost/v1/explain?from=x/nope&to=x/b&port=80"
check_err 404 "http://localhost/v1/explain?from=x/a&to=svc/x/nope&port=80"
check_err 400 "http://localhost/v1/matrix?port=abc"
check_err 404 "http://localhost/v1/policies/x/nope"
check_err 400 "http://localhost/v1/policies/x"
check_err 400 "http://localhost/v1/pods/x/b/c"
check_err 400 "http://localhost/v1/pods?all=maybe"
check_err 400 "http://localhost/v1/events?follow=maybe"
check_err 414 "http://localhost/v1/pods/$(head -c 700 /dev/zero | tr '\0' a)"
[[ $(code_of node-1 -X POST http://localhost/v1/explain) == 405 ]] || fail "POST explain not 405"
ctl --socket "${SOCK[node-1]}" explain --from x/nope --to x/b --port 80 2>"$TMP/cerr"
[[ $? == 2 ]] && grep -q "pod x/nope not found" "$TMP/cerr" || fail "netpolctl live error: $(cat "$TMP/cerr")"
for n in node-1 node-2; do
	kill -0 "${PID[$n]}" || fail "netpold on $n died"
	[[ $(code_of "$n" http://localhost/healthz) == 200 ]] || fail "$n: healthz after errors"
done
pass "malformed and oversized requests answered with JSON errors; netpold serves on"

# 8. a rejected edit shows as the policy's error, the last valid version stays programmed
sed -i 's/port: 80, protocol: TCP/port: 80, protocol: ICMP/' "$M/20-policy.yaml"
sync_all
api node-2 http://localhost/v1/policies/x/web >"$TMP/pol3"
jq -e '.programmed and (.errors | length) == 1 and (.errors[0].message | length) > 0' "$TMP/pol3" \
	>/dev/null || fail "policy error not shown: $(cat "$TMP/pol3")"
rm -f "$M/20-policy.yaml"
sync_all
api node-2 http://localhost/v1/pods/x/b | jq -e '.ingress.isolated | not' >/dev/null ||
	fail "x/b still isolated after the policy went"
jq -e '.counts.policies == 0' <<<"$ST2" >/dev/null || fail "policy count after delete: $ST2"
pass "policy error reported; deleting the policy flips x/b's isolation back"

# 9. SIGTERM with an event stream open: the stream ends, netpold exits 0
api node-1 -N http://localhost/v1/events >/dev/null 2>&1 &
evpid=$!
for _ in $(seq 100); do
	[[ $(api node-1 http://localhost/v1/status | jq .events) != null ]] && break
done
for n in node-1 node-2; do
	kill -TERM "${PID[$n]}"
	wait "${PID[$n]}"
	rc=$?
	unset "PID[$n]"
	[[ $rc == 0 ]] || fail "netpold on $n exited $rc on SIGTERM"
done
for _ in $(seq 250); do kill -0 "$evpid" 2>/dev/null || break; sleep 0.02; done
kill -0 "$evpid" 2>/dev/null && { kill "$evpid"; fail "event stream still open after netpold stopped"; }
pass "SIGTERM with an open event stream: stream ended, exit 0"

echo "$NAME: all passed"
