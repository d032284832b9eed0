#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2015,SC2119 # "a && b || c" as meant; optional args
#
# End-to-end test of the test cluster itself (tests/e2e/cluster.sh): the
# things netpold's e2e tests rely on. Exit 0 pass, 1 fail, 77 skipped (no Go
# toolchain to build the binaries, or no openssl/curl).
set -uo pipefail

# shellcheck source=e2e_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"

t0=$(date +%s)
e2e_cluster_bins
ok "binaries: $E2E_KUBE_APISERVER $E2E_KUBECTL $E2E_ETCD ($(($(date +%s) - t0)) s)"

# shellcheck disable=SC2317 # called from the EXIT trap
on_exit() {
	local rc=$?
	[ "$rc" = 0 ] || cluster_dump_logs 60
	cluster_stop
}
trap on_exit EXIT
trap 'exit 1' INT TERM

t1=$(date +%s)
dir=$(mktemp -d "${TMPDIR:-/tmp}/netpold-e2e-cluster.XXXXXX")
e2e_cluster_start "$dir"
ok "cluster up in $(($(date +%s) - t1)) s at $CLUSTER_SERVER"
expect "KUBECONFIG is the admin's" "$KUBECONFIG" "$CLUSTER_DIR/admin.kubeconfig"
expect "kubectl on PATH is the cached one" "$(command -v kubectl)" "$E2E_KUBECTL"

kn() { kubectl --kubeconfig "$CLUSTER_NETPOLD_KUBECONFIG" "$@"; }

expect "server version" "$(kubectl version -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | sort -u | tr '\n' ' ')" "$E2E_K8S_VERSION "
expect "admin identity" "$(kubectl auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}')" \
	'admin ["system:masters","system:authenticated"]'
expect "netpold identity (token)" "$(kn auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}')" \
	'netpold ["system:authenticated"]'

# --- namespaces and a pod that nothing schedules or runs
kubectl create namespace e2e-a >/dev/null && kubectl create namespace e2e-b >/dev/null &&
	kubectl label namespace e2e-b team=b >/dev/null || fatal "create namespaces"
expect "namespace label kubernetes.io/metadata.name" \
	"$(kubectl get ns e2e-b -o jsonpath='{.metadata.labels.kubernetes\.io/metadata\.name} {.metadata.labels.team}')" "e2e-b b"

kubectl apply -f - >/dev/null <<'EOF' || fatal "create pod"
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: e2e-a
  labels: {app: web}
spec:
  nodeName: node-1
  containers:
  - name: web
    image: registry.k8s.io/pause:3.10
    ports:
    - {name: http, containerPort: 8080, protocol: TCP}
EOF
expect "pod is pending with no IP" "$(kubectl -n e2e-a get pod web -o jsonpath='{.spec.nodeName} {.status.phase} [{.status.podIP}]')" \
	"node-1 Pending []"

kubectl -n e2e-a patch pod web --subresource=status --type=merge \
	-p '{"status":{"phase":"Running","podIP":"10.244.1.5","podIPs":[{"ip":"10.244.1.5"},{"ip":"fd00:10:244:1::5"}],"hostIP":"127.0.0.1"}}' \
	>/dev/null || nok "patch pod status"
pod_state() { kubectl -n e2e-a get pod web -o jsonpath='{.status.phase} {.status.podIP} {.status.podIPs[*].ip} {.status.hostIP}'; }
expect "pod status after patch" "$(pod_state)" "Running 10.244.1.5 10.244.1.5 fd00:10:244:1::5 127.0.0.1"
expect "pod field selector status.podIP" \
	"$(kubectl get pods -A --field-selector status.podIP=10.244.1.5,spec.nodeName=node-1 -o jsonpath='{.items[*].metadata.name}')" "web"

# --- NetworkPolicy defaulting
kubectl apply -f - >/dev/null <<'EOF' || nok "create networkpolicies"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ingress-only, namespace: e2e-a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: b}}
    ports:
    - {port: http}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: with-egress, namespace: e2e-a}
spec:
  podSelector: {}
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.244.1.0/24]}
    ports:
    - {port: 53, protocol: UDP}
    - {port: 8000, endPort: 8100}
EOF
expect "policyTypes defaulted to [Ingress]" \
	"$(kubectl -n e2e-a get networkpolicy ingress-only -o jsonpath='{.spec.policyTypes[*]}')" "Ingress"
expect "policyTypes defaulted to [Ingress Egress]" \
	"$(kubectl -n e2e-a get networkpolicy with-egress -o jsonpath='{.spec.policyTypes[*]}')" "Ingress Egress"
expect "port protocol defaulted to TCP, endPort kept" \
	"$(kubectl -n e2e-a get networkpolicy with-egress -o jsonpath='{.spec.egress[0].ports[1].protocol} {.spec.egress[0].ports[1].port}-{.spec.egress[0].ports[1].endPort}')" "TCP 8000-8100"
expect "named port kept" \
	"$(kubectl -n e2e-a get networkpolicy ingress-only -o jsonpath='{.spec.ingress[0].ports[0].protocol} {.spec.ingress[0].ports[0].port}')" "TCP http"

# --- RBAC for the netpold user
expect "netpold may not list pods before RBAC" "$(kn auth can-i list pods --all-namespaces 2>/dev/null)" "no"
if out=$(kn get pods -A 2>&1); then nok "netpold get pods -A succeeded before RBAC"; else
	case $out in *Forbidden* | *forbidden*) ok "netpold get pods -A is forbidden" ;; *) nok "netpold get pods -A: $out" ;; esac
fi
cluster_rbac_netpold "pods, namespaces, nodes" || nok "apply RBAC"
ans=no
for _ in $(seq 1 40); do
	ans=$(kn auth can-i list pods --all-namespaces 2>/dev/null) && break
	sleep 0.25
done
expect "netpold may list pods after RBAC" "$ans" "yes"
expect "netpold may watch networkpolicies" "$(kn auth can-i watch networkpolicies.networking.k8s.io -A 2>/dev/null)" "yes"
expect "netpold still may not delete pods" "$(kn auth can-i delete pods -n e2e-a 2>/dev/null)" "no"
expect "netpold still may not read secrets" "$(kn auth can-i get secrets -n e2e-a 2>/dev/null)" "no"
expect "netpold get pods -A" "$(kn get pods -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {end}' 2>&1)" "e2e-a/web "
expect "netpold client certificate over raw HTTPS" \
	"$(curl -sS --cacert "$CLUSTER_CA" --cert "$CLUSTER_NETPOLD_CLIENT_CERT" --key "$CLUSTER_NETPOLD_CLIENT_KEY" \
		-o /dev/null -w '%{http_code}' "$CLUSTER_SERVER/apis/networking.k8s.io/v1/networkpolicies")" "200"
expect "netpold token over raw HTTPS, secrets denied" \
	"$(curl -sS --cacert "$CLUSTER_CA" -H "Authorization: Bearer $CLUSTER_NETPOLD_TOKEN" \
		-o /dev/null -w '%{http_code}' "$CLUSTER_SERVER/api/v1/secrets")" "403"

# --- kube-apiserver restart on the same etcd and port
port=$CLUSTER_APISERVER_PORT
pid_before=$(cat "$CLUSTER_DIR/apiserver.pid")
t2=$(date +%s)
apiserver_stop
if cluster_alive "$pid_before"; then nok "apiserver_stop left pid $pid_before running"; else ok "apiserver_stop"; fi
if curl -s --max-time 2 --cacert "$CLUSTER_CA" "$CLUSTER_SERVER/readyz" >/dev/null 2>&1; then
	nok "apiserver still answers after apiserver_stop"
else
	ok "apiserver down"
fi
if apiserver_start; then ok "apiserver_start again in $(($(date +%s) - t2)) s"; else fatal "apiserver_start after stop"; fi
expect "same port after restart" "$CLUSTER_APISERVER_PORT" "$port"
expect "pod survived the restart" "$(pod_state)" "Running 10.244.1.5 10.244.1.5 fd00:10:244:1::5 127.0.0.1"
expect "RBAC survived the restart" "$(kn auth can-i list pods --all-namespaces 2>/dev/null)" "yes"
expect "policies survived the restart" "$(kubectl get netpol -A -o jsonpath='{.items[*].metadata.name}')" "ingress-only with-egress"

# --- etcd crash and restart under a running kube-apiserver (same ports and data)
etcd_pid=$(cat "$CLUSTER_DIR/etcd.pid")
etcd_stop --kill
if cluster_alive "$etcd_pid"; then nok "etcd_stop --kill left pid $etcd_pid running"; else ok "etcd_stop --kill"; fi
code=$(curl -sS --max-time 3 --cacert "$CLUSTER_CA" -H "Authorization: Bearer $CLUSTER_ADMIN_TOKEN" \
	-o /dev/null -w '%{http_code}' "$CLUSTER_SERVER/api/v1/namespaces/e2e-a" 2>/dev/null)
if [ "$code" = 200 ]; then nok "apiserver still reads with etcd down"; else ok "etcd down: GET namespace gives ${code:-nothing}"; fi
if etcd_start; then ok "etcd_start again"; else fatal "etcd_start after stop"; fi
back=""
for _ in $(seq 1 60); do
	back=$(kubectl -n e2e-a get pod web --request-timeout=3s -o jsonpath='{.status.podIP}' 2>/dev/null) && break
	sleep 0.5
done
expect "apiserver serves again after the etcd restart" "$back" "10.244.1.5"

# --- clean stop
pids="$(cat "$CLUSTER_DIR/apiserver.pid" "$CLUSTER_DIR/etcd.pid")"
d=$CLUSTER_DIR
cluster_stop
left=""
for p in $pids; do cluster_alive "$p" && left+=" $p"; done
expect "cluster_stop ended its processes" "$left" ""
if [ -e "$d" ]; then nok "cluster_stop left $d"; else ok "cluster_stop removed the data folder"; fi
echo "total $(($(date +%s) - t0)) s"
finish
