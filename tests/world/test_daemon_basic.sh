#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# netpold as a daemon, in a network namespace of its own: programs its table from a manifest
# folder, follows edits, answers POST /v1/sync only once the state is programmed (no sleeping for
# enforcement anywhere here), repairs drift, reloads on SIGHUP, survives malformed requests,
# refuses a second instance, stops on SIGTERM leaving the table, adopts it on restart, and
# --cleanup removes it. Exits 77 only when network namespaces cannot be made.
set -uo pipefail

# shellcheck source=tests/world/node_lib.sh
source "$(dirname "$0")/node_lib.sh"
bin=$build/netpold

np_preamble test_daemon_basic "network namespaces, nftables" "$bin" ip nft curl jq python3

NS=npd-$$
TMP=$(mktemp -d /tmp/npd-daemon.XXXXXX)
M=$TMP/manifests
S=$TMP/run/netpold.sock
LOG=$TMP/netpold.log
CONF=$TMP/netpold.conf
PID=

cleanup() {
	np_stop_pid "$PID" 100
	ip netns del "$NS" 2>/dev/null
	rm -rf -- "$TMP"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	echo "--- netpold log" >&2
	cat "$LOG" >&2 2>/dev/null
	exit 1
}
pass() { echo "ok: $*"; }

np_netns test_daemon_basic "$NS"

nsx() { ip netns exec "$NS" "$@"; }

mkdir -p "$M"
cat >"$M/00-namespace.yaml" <<-'Y'
	apiVersion: v1
	kind: Namespace
	metadata:
	  name: demo
Y
cat >"$M/10-pods.yaml" <<-'Y'
	apiVersion: v1
	kind: Pod
	metadata: {name: a, namespace: demo, labels: {app: a}}
	spec:
	  nodeName: node-1
	  containers: [{name: web, image: x, ports: [{containerPort: 80, name: http}]}]
	status: {phase: Running, podIP: 10.244.1.10, podIPs: [{ip: 10.244.1.10}]}
	---
	apiVersion: v1
	kind: Pod
	metadata: {name: b, namespace: demo, labels: {app: b}}
	spec:
	  nodeName: node-1
	  containers: [{name: web, image: x}]
	status: {phase: Running, podIP: 10.244.1.11, podIPs: [{ip: 10.244.1.11}]}
Y
cat >"$M/20-default-deny.yaml" <<-'Y'
	apiVersion: networking.k8s.io/v1
	kind: NetworkPolicy
	metadata: {name: default-deny, namespace: demo}
	spec:
	  podSelector: {}
	  policyTypes: [Ingress]
Y
cat >"$CONF" <<-'C'
	# test configuration; the command line adds the rest
	node-name = node-1
	log-level = info
C

api() { curl -sS --max-time 40 --unix-socket "$S" "$@"; }
# sync_now: POST /v1/sync, which returns once the folder as it is now is programmed; the
# status object it answers with is left in $st (not a subshell, so fail exits the test).
sync_now() {
	st=$(api -X POST -w '\n%{http_code}' http://localhost/v1/sync) || fail "POST /v1/sync: no answer"
	local code=${st##*$'\n'}
	st=${st%$'\n'*}
	[[ $code == 200 ]] || fail "POST /v1/sync answered $code: $st"
}
code_of() { api -o /dev/null -w '%{http_code}' "$@"; }

start_netpold() {
	# not through nsx: $! must be netpold itself (ip netns exec execs it), not a subshell
	ip netns exec "$NS" "$bin" --config "$CONF" --manifests "$M" --status-socket "$S" "$@" \
		>>"$LOG" 2>&1 &
	PID=$!
	# startup only: wait for the socket to answer (enforcement is awaited with /v1/sync)
	for _ in $(seq 500); do
		kill -0 "$PID" 2>/dev/null || fail "netpold exited at start"
		if [[ -S $S ]] && api -f http://localhost/healthz >/dev/null 2>&1; then
			[[ $(cat "/proc/$PID/comm") == netpold ]] || fail "PID $PID is not netpold"
			return 0
		fi
		sleep 0.01
	done
	fail "status socket $S never answered"
}

stop_netpold() {
	local rc
	kill -TERM "$PID"
	wait "$PID"
	rc=$?
	PID=
	[[ $rc -eq 0 ]] || fail "netpold exited $rc on SIGTERM"
}

# 1. first programming
start_netpold
[[ $(stat -c %a "$S") == 660 ]] || fail "socket mode $(stat -c %a "$S"), want 660"
[[ $(stat -c %a "$(dirname "$S")") == 755 ]] || fail "socket directory not 0755"
sync_now
jq -e '.ready and (.degraded | not) and .node == "node-1" and .source.kind == "manifests"
	and .source.synced and .source.errors == 0 and .counts.local_pods == 2
	and .counts.policies == 1 and .counts.namespaces == 1 and .table.name == "netpold"
	and .programmed_generation == .input_generation and .programmed_generation >= 1
	and .last_reconcile.error == null' <<<"$st" >/dev/null || fail "status after first sync: $st"
ruleset=$(nsx nft list table inet netpold) || fail "no table inet netpold"
grep -q "chain in_demo_a" <<<"$ruleset" || fail "no chain for demo/a: $ruleset"
grep -q "chain in_demo_b" <<<"$ruleset" || fail "no chain for demo/b"
[[ $(code_of http://localhost/readyz) == 200 ]] || fail "/readyz not 200 when ready"
pass "first sync programmed table inet netpold with the pods' chains"

# 2. an edit of the folder is programmed before POST /v1/sync answers
gen1=$(jq .programmed_generation <<<"$st")
cat >"$M/30-allow-b.yaml" <<-'Y'
	apiVersion: networking.k8s.io/v1
	kind: NetworkPolicy
	metadata: {name: allow-b-to-a, namespace: demo}
	spec:
	  podSelector: {matchLabels: {app: a}}
	  ingress:
	  - from: [{podSelector: {matchLabels: {app: b}}}]
	    ports: [{port: 80, protocol: TCP}]
Y
sync_now
jq -e --argjson g "$gen1" '.programmed_generation > $g and .counts.policies == 2 and .ready
	and .programmed_generation == .input_generation' <<<"$st" >/dev/null ||
	fail "allow policy not programmed: $st"
rs=$(nsx nft list table inet netpold)
grep -q "10.244.1.11" <<<"$rs" || fail "peer b not in any set: $rs"
gen2=$(jq .programmed_generation <<<"$st")
sync_now
[[ $(jq .programmed_generation <<<"$st") == "$gen2" ]] || fail "an unchanged folder bumped the generation"
pass "edit programmed (generation $gen1 -> $gen2); a no-op sync keeps it"

# 3. a rejected manifest is counted and logged once, the rest stays enforced
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: bad, namespace: demo}\nspec: {nodeName: 7}\n' >"$M/40-bad.yaml"
sync_now
jq -e '.source.errors == 1 and .ready' <<<"$st" >/dev/null || fail "bad manifest not counted: $st"
sync_now
[[ $(grep -c "40-bad.yaml" "$LOG") == 1 ]] || fail "rejected manifest not logged exactly once"
rm -f "$M/40-bad.yaml"
sync_now
jq -e '.source.errors == 0' <<<"$st" >/dev/null || fail "error not cleared"
pass "rejected manifest reported once and cleared"

# 4. drift: someone deletes our pod chain's rules; the monitor sees it, the sync repairs it
nsx nft flush chain inet netpold in_demo_b || fail "cannot flush chain in_demo_b"
sync_now
after=$(nsx nft list chain inet netpold in_demo_b) || fail "chain in_demo_b gone after repair"
jq -e '.table.drift_repairs >= 1 and (.degraded | not)' <<<"$st" >/dev/null ||
	fail "drift not repaired: $st"
[[ $(grep -c . <<<"$after") -gt 3 ]] || fail "chain in_demo_b still empty: $after"
pass "foreign flush repaired"

# 5. SIGHUP re-reads the file (log level applies live, the table needs a restart) and rescans
printf 'node-name = node-1\nlog-level = debug\ntable = other\n' >"$CONF"
kill -HUP "$PID"
sync_now
grep -q "SIGHUP" "$LOG" || fail "SIGHUP not logged"
grep -q "table changed in the configuration; restart" "$LOG" || fail "table change not refused"
jq -e '.table.name == "netpold" and .ready' <<<"$st" >/dev/null || fail "after SIGHUP: $st"
printf 'node-name = node-1\nlog-level = info\n' >"$CONF"
kill -HUP "$PID"
sync_now
pass "SIGHUP reloads and rescans"

# 6. malformed and unexpected requests get 4xx; the daemon keeps serving
[[ $(code_of http://localhost/nope) == 404 ]] || fail "unknown path not 404"
[[ $(code_of -X DELETE http://localhost/v1/status) == 405 ]] || fail "DELETE /v1/status not 405"
[[ $(code_of -X PUT http://localhost/v1/sync) == 405 ]] || fail "PUT /v1/sync not 405"
[[ $(code_of http://localhost/v1/sync) == 405 ]] || fail "GET /v1/sync not 405"
api http://localhost/nope -D "$TMP/h" -o "$TMP/b" >/dev/null
grep -qi '^content-type: application/json' "$TMP/h" || fail "404 is not JSON"
jq -e '.error and .code == 404' "$TMP/b" >/dev/null || fail "404 body: $(cat "$TMP/b")"
python3 - "$S" <<-'P' || fail "raw requests"
	import socket, sys
	path = sys.argv[1]
	cases = [
	    (b"GARBAGE\r\n\r\n", None),
	    (b"GET\r\n\r\n", None),
	    (b"\x00\x01\x02\xff\r\n\r\n", None),
	    (b"GET /" + b"a" * 600 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
	    (b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
	    (b"POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", 413),
	    (b"BREW /v1/status HTTP/1.1\r\nHost: x\r\n\r\n", 405),
	    (b"GET /v1/status HTTP/1.1\r\n" + b"X-Pad: " + b"p" * 60000 + b"\r\n\r\n", None),
	]
	for req, want in cases:
	    s = socket.socket(socket.AF_UNIX)
	    s.settimeout(10)
	    s.connect(path)
	    try:
	        s.sendall(req)
	    except OSError:
	        pass  # the server may close before reading everything
	    try:
	        data = s.recv(4096)
	    except OSError:
	        data = b""
	    s.close()
	    line = data.split(b"\r\n", 1)[0]
	    code = int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else None
	    ok = (code == want) if want else (code is None or 400 <= code < 500 or code == 505)
	    if not ok:
	        print("request %r: got %r, want %r" % (req[:40], line, want))
	        sys.exit(1)
	P
kill -0 "$PID" 2>/dev/null || fail "netpold died on malformed requests"
[[ $(code_of http://localhost/healthz) == 200 ]] || fail "healthz after malformed requests"
pass "malformed requests answered 4xx (or closed), netpold still serves"

# 7. a second netpold on the same socket refuses to start
nsx "$bin" --config "$CONF" --manifests "$M" --status-socket "$S" >>"$LOG" 2>&1
rc=$?
[[ $rc -eq 3 ]] || fail "second instance exited $rc, want 3"
[[ $(code_of http://localhost/healthz) == 200 ]] || fail "first instance hurt by the second"
pass "second instance refused (exit 3)"

# 8. SIGTERM: exit 0, the table stays, the socket goes
stop_netpold
nsx nft list chain inet netpold in_demo_a >/dev/null || fail "table gone after SIGTERM"
[[ ! -e $S ]] || fail "socket left behind"
pass "SIGTERM: exit 0, enforcement continues"

# 9. restart adopts the existing table
start_netpold
sync_now
jq -e '.ready and (.degraded | not) and .counts.policies == 2' <<<"$st" >/dev/null ||
	fail "restart did not adopt: $st"
nsx nft list chain inet netpold in_demo_a >/dev/null || fail "chain lost on restart"
stop_netpold
pass "restart adopted the table"

# 10. --cleanup removes the table (and is happy when it is already gone)
nsx "$bin" --cleanup >>"$LOG" 2>&1 || fail "--cleanup failed"
if nsx nft list table inet netpold >/dev/null 2>&1; then fail "table still there after --cleanup"; fi
nsx "$bin" --cleanup >>"$LOG" 2>&1 || fail "second --cleanup failed"
pass "--cleanup removed table inet netpold"

# 11. usage errors exit 2
nsx "$bin" --bogus >/dev/null 2>&1
[[ $? -eq 2 ]] || fail "bad option did not exit 2"
"$bin" --version | grep -q '^netpold ' || fail "--version"
pass "exit codes"
echo "test_daemon_basic: all passed"
