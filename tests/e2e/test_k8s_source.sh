#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2015 # "a && b || c" is meant as written here
#
# netpold's Kubernetes source against a real kube-apiserver (tests/e2e/cluster.sh):
# a missing RBAC permission (clear 403, not ready), the initial state programmed,
# apply -> committed latency (p50/p99 over 20 applies, and the trigger="policy"
# histogram of /metrics), a pod label changing set elements, a policy netpold
# rejects (its error in /v1/policies/NS/NAME until fixed or deleted), deletions, a
# ServiceAccount token rotated in its tokenFile, the API server stopped (table
# kept, degraded) and restarted (410 -> relist, catch-up).
# netpold runs in the host network namespace with its own table and status
# socket, removed with --cleanup at the end. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

# shellcheck source=e2e_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
e2e_init "netpold_e2e_$$" netpold-e2e-k8s

# get PATH: GET PATH on the status socket, the body on stdout.
get() { curl -sS --max-time 5 --unix-socket "$SOCK" "http://localhost$1"; }

# policy_errors NS NAME: GET /v1/policies/NS/NAME's errors, one line each, '|'-separated.
policy_errors() {
	get "/v1/policies/$1/$2" | python3 -c '
import json, sys
print("|".join("%s %s/%s %s: %s" % (e["kind"], e["namespace"], e["name"], e["source"],
                                    e["message"]) for e in json.load(sys.stdin)["errors"]))'
}
wait_errors() { # wait_errors SECONDS NS NAME PATTERN|"": until the errors match (or are none)
	local i out
	for i in $(seq 1 $(($1 * 20))); do
		out=$(policy_errors "$2" "$3")
		if [ -z "$4" ]; then [ -z "$out" ] && return 0; else case $out in *"$4"*) return 0 ;; esac; fi
		sleep 0.05
	done
	echo "# $2/$3 errors: ${out:-none}"
	return 1
}
# latency_count TRIGGER: netpold_programming_latency_seconds_count of that trigger.
latency_count() {
	get /metrics | awk -v t="trigger=\"$1\"" \
		'$1 == "netpold_programming_latency_seconds_count{" t "}" { print $2; exit }'
}

programmed='s["ready"] and s["programmed_generation"] == s["input_generation"]'

# --- RBAC without services, and a ServiceAccount whose token netpold reads from a file
cluster_rbac_netpold "pods, namespaces" "{kind: ServiceAccount, name: netpold, namespace: kube-system}" &&
	kubectl apply -f - >/dev/null <<'EOF' || fatal "apply RBAC"
apiVersion: v1
kind: ServiceAccount
metadata: {name: netpold, namespace: kube-system}
---
apiVersion: v1
kind: Secret
metadata: {name: token-1, namespace: kube-system}
---
apiVersion: v1
kind: Secret
metadata: {name: token-2, namespace: kube-system}
EOF
# tokens bound to a Secret die with it: that is how the old one is revoked below
new_token() {
	kubectl -n kube-system create token netpold --duration=1h --bound-object-kind=Secret \
		--bound-object-name="$1"
}
new_token token-1 >"$WORK/token" || fatal "kubectl create token"
KCFG=$WORK/netpold-sa.kubeconfig
cat >"$KCFG" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $CLUSTER_SERVER
    certificate-authority: cluster/pki/ca.crt
users:
- name: sa
  user:
    tokenFile: token
contexts:
- name: sa@e2e
  context: {cluster: e2e, user: sa}
current-context: sa@e2e
EOF

# --- objects: two namespaces, a local pod, a remote client pod, a policy, a service
kubectl create namespace demo >/dev/null && kubectl create namespace other >/dev/null || fatal "namespaces"
kubectl apply -f - >/dev/null <<'EOF' || fatal "pods"
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: demo, labels: {app: web}}
spec:
  nodeName: node-1
  containers: [{name: c, image: pause, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: other, labels: {app: client}}
spec:
  nodeName: node-2
  containers: [{name: c, image: pause}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-clients, namespace: demo}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {}
      podSelector: {matchLabels: {role: client}}
    ports: [{port: http}]
EOF
setip demo web 10.244.1.5 && setip other client 10.244.2.7 || fatal "pod status"

# --- start netpold: services are forbidden, so it must not become ready
e2e_start_netpold "$KCFG"
if wait_for 20 's["degraded"] and "forbidden" in (s["reason"] or "")'; then
	ok "missing RBAC permission: degraded"
else
	nok "missing RBAC permission: no degraded status"
fi
reason=$(status 's["reason"]')
case $reason in
*"forbidden: cannot list services at the cluster scope (HTTP 403)"*) ok "403 reason in status: $reason" ;;
*) nok "403 reason in status: $reason" ;;
esac
grep -q "kubernetes: services: forbidden: cannot list services at the cluster scope (HTTP 403): services is forbidden" "$LOG" &&
	ok "403 error in the log" || nok "403 error in the log"
expect "not ready without the services list" "$(status 's["ready"]')" "False"
expect "403 logged once" "$(grep -c 'services: forbidden' "$LOG")" "1"

kubectl patch clusterrole netpold --type=json \
	-p '[{"op":"add","path":"/rules/0/resources/-","value":"services"}]' >/dev/null || nok "patch role"
if wait_for 45 "$programmed and not s['degraded']"; then ok "ready after RBAC fixed"; else fatal "not ready after RBAC fixed"; fi
expect "counts (services: demo/web and default/kubernetes)" "$(status '[s["counts"][k] for k in ("pods","local_pods","policies","services")]')" "[2, 1, 1, 2]"
expect "source synced" "$(status 's["source"]["kind"], s["source"]["synced"]')" "('kubernetes', True)"
nft_has "10.244.1.5 : jump" && ok "local pod isolated in the table" || nok "local pod not in the table"
nft_has "10.244.2.7" && nok "client in a set before its label" || ok "client not a member before its label"

# --- a pod label changes set elements
kubectl -n other label pod client role=client >/dev/null || nok "label"
if wait_nft 10 "10.244.2.7"; then ok "label: client joins the rule's set"; else nok "label: client not in the set"; fi
kubectl -n other label pod client role- >/dev/null || nok "unlabel"
if wait_nft 10 "10.244.2.7" absent; then ok "unlabel: client leaves the set"; else nok "unlabel: client still in the set"; fi

# --- apply -> committed latency. Policies are created with one HTTPS POST (kubectl's own
# start-up would dominate); a poller records when the status shows each one programmed.
poller() {
	e2e_py - "$SOCK" "$1" <<-'EOF'
		import sys, time, netpold_test
		last = None
		with open(sys.argv[2], "w") as out:
		    while True:
		        try:
		            s = netpold_test.status(sys.argv[1])
		        except netpold_test.STATUS_ERRORS:
		            break
		        k = (s["counts"]["policies"], s["programmed_generation"] == s["input_generation"])
		        if k != last:
		            out.write("%d %d %d\n" % (time.time_ns() // 1000, k[0], k[1])); out.flush()
		            last = k
		        time.sleep(0.001)
	EOF
}
lat=$WORK/latency
: >"$lat"
base=$(status 's["counts"]["policies"]')
poller "$WORK/poll" &
POLLER=$!
sleep 0.3
for i in $(seq 1 20); do
	body="{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"p$i\"},"
	body+="\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
	body+="\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"192.0.2.$i/32\"}}]}]}}"
	t0=$(date +%s%6N)
	code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CLUSTER_CA" \
		-H "Authorization: Bearer $CLUSTER_ADMIN_TOKEN" -H 'Content-Type: application/json' \
		-X POST "$CLUSTER_SERVER/apis/networking.k8s.io/v1/namespaces/demo/networkpolicies" -d "$body")
	t1=$(date +%s%6N)
	[ "$code" = 201 ] || nok "create p$i: HTTP $code"
	echo "$i $t0 $t1" >>"$lat"
	wait_for 10 "s['counts']['policies'] == $((base + i)) and $programmed" || nok "p$i not programmed within 10 s"
	sleep 0.2
done
kill "$POLLER" 2>/dev/null
wait "$POLLER" 2>/dev/null
python3 - "$lat" "$WORK/poll" "$base" <<'EOF' || nok "latency figures"
import sys
reqs = [tuple(int(x) for x in l.split()) for l in open(sys.argv[1]) if l.strip()]
polls = [tuple(int(x) for x in l.split()) for l in open(sys.argv[2]) if l.strip()]
base = int(sys.argv[3])
sent, acked = [], []
for i, t0, t1 in reqs:
    t = next(p[0] for p in polls if p[1] >= base + i and p[2] == 1)
    sent.append((t - t0) / 1000); acked.append((t - t1) / 1000)
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
print(f"# apply->committed over {len(sent)} creates: from the POST p50 {pct(sent,50):.1f} ms, "
      f"p99 {pct(sent,99):.1f} ms; from the API server's 201 p50 {pct(acked,50):.1f} ms, "
      f"p99 {pct(acked,99):.1f} ms (status polled every ~2 ms)")
sys.exit(0 if len(sent) == 20 else 1)
EOF
nft_has "192.0.2.20" && ok "20 policies programmed" || nok "policy p20 not in the table"

# --- each create was one sync that changed a NetworkPolicy: one trigger="policy" sample each
n=$(latency_count policy)
[ "${n:-0}" -ge 20 ] && ok "/metrics: $n latency samples with trigger=\"policy\"" ||
	nok "/metrics: ${n:-no} latency samples with trigger=\"policy\", want >= 20"
n=$(latency_count pod)
[ "${n:-0}" -ge 2 ] && ok "/metrics: $n latency samples with trigger=\"pod\" (labels)" ||
	nok "/metrics: ${n:-no} latency samples with trigger=\"pod\", want >= 2"
expect "/metrics: no trigger=\"unknown\" sample from the Kubernetes source" \
	"$(latency_count unknown)" "0"

# --- a policy netpold rejects (the API server accepts any annotation): the last valid
# version stays enforced, the error is on the policy until it is fixed or deleted
kubectl -n demo annotate networkpolicy web-from-clients netpold.io/mode=bogus >/dev/null ||
	nok "annotate web-from-clients"
kubectl apply -f - >/dev/null <<'EOF' || nok "create bad"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: demo, annotations: {netpold.io/mode: bogus}}
spec: {podSelector: {}}
EOF
if wait_errors 10 demo web-from-clients "NetworkPolicy demo/web-from-clients $CLUSTER_SERVER: "; then
	ok "rejected update: error on the policy: $(policy_errors demo web-from-clients)"
else
	nok "rejected update: no error on the policy"
fi
wait_errors 10 demo bad "netpold.io/mode" && ok "rejected new policy: error on its 404" ||
	nok "rejected new policy: no error"
expect "rejected: source errors" "$(status 's["source"]["errors"]')" "2"
expect "rejected update: last valid version still enforced" \
	"$(get /v1/policies/demo/web-from-clients | python3 -c 'import json, sys; print(json.load(sys.stdin)["mode"])')" \
	"enforce"
kubectl -n demo annotate networkpolicy web-from-clients netpold.io/mode=enforce --overwrite \
	>/dev/null || nok "fix web-from-clients"
wait_errors 10 demo web-from-clients "" && ok "fixed: error cleared" || nok "fixed: error still there"
wait_errors 2 demo bad "netpold.io/mode" && ok "fixed one: the other error stands" ||
	nok "fixed one: the other error is gone"
kubectl -n demo delete networkpolicy bad >/dev/null || nok "delete bad"
wait_errors 10 demo bad "" && ok "deleted: error cleared" || nok "deleted: error still there"
expect "no source errors left" "$(status 's["source"]["errors"]')" "0"

# --- delete
kubectl -n demo delete networkpolicy p20 >/dev/null || nok "delete p20"
if wait_nft 10 "192.0.2.20" absent; then ok "delete: policy gone from the table"; else nok "delete: policy still in the table"; fi
kubectl -n other delete pod client --grace-period=0 --force >/dev/null 2>&1
if wait_for 10 "s['counts']['pods'] == 1"; then ok "delete: pod gone"; else nok "delete: pod count"; fi

# --- token rotation: the file gets a new token, the old one is revoked
new_token token-2 >"$WORK/token.new" && mv -f "$WORK/token.new" "$WORK/token" || nok "rotate token"
kubectl -n kube-system delete secret token-1 >/dev/null || nok "revoke the old token"

# --- API server down: the table stays, netpold says it is degraded
elements_before=$(status 's["counts"]["set_elements"]')
apiserver_stop
if wait_for 30 's["degraded"]'; then ok "apiserver down: degraded"; else nok "apiserver down: not degraded"; fi
echo "# degraded reason: $(status 's["reason"]')"
nft_has "10.244.1.5 : jump" && ok "apiserver down: table kept" || nok "apiserver down: table lost"
expect "apiserver down: elements kept" "$(status 's["counts"]["set_elements"]')" "$elements_before"
expect "apiserver down: still ready" "$(status 's["ready"]')" "True"
apiserver_start || fatal "apiserver_start"
# changes right after it is back
kubectl -n demo delete networkpolicy p19 >/dev/null || nok "delete p19 after restart"
kubectl -n demo label pod web extra=yes >/dev/null || nok "label after restart"
if wait_for 60 "not s['degraded'] and s['counts']['policies'] == 19 and $programmed"; then
	ok "apiserver back: caught up"
else
	nok "apiserver back: not caught up ($(status 's["reason"], s["counts"]'))"
fi
wait_nft 10 "192.0.2.19" absent && ok "apiserver back: p19 removed" || nok "apiserver back: p19 still there"
grep -q "watch expired (410)" "$LOG" && ok "410 after the restart: relisted" || echo "# no 410 seen (watch cache kept the RV)"
grep -q "token file $WORK/token changed" "$LOG" && ok "rotated token read" || nok "rotated token not read"
if grep -q "HTTP 401" "$LOG"; then echo "# the revoked token was refused once (401), then the file re-read"; fi

# --- the end: netpold stops, the table stays until --cleanup
kill "$NETPOLD_PID" && wait "$NETPOLD_PID"
expect "clean exit" "$?" "0"
NETPOLD_PID=
nft_has "10.244.1.5" && ok "table left in place at exit" || nok "table gone at exit"
"$NETPOLD" --cleanup --table "$TABLE" >/dev/null 2>&1
nft list table inet "$TABLE" >/dev/null 2>&1 && nok "--cleanup left the table" || ok "--cleanup"
finish
