#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# deploy/ against a real kube-apiserver: "kubectl apply -k deploy/" passes server-side dry run and
# then creates every object; the DaemonSet carries the settings docs/operations.md promises; the
# ServiceAccount may get/list/watch exactly what netpold reads and may change nothing; netpold run
# with a token of that ServiceAccount becomes ready (so the ClusterRole is sufficient) and its
# table holds the cluster's pod; the DaemonSet's probe commands succeed against it; the uninstall
# DaemonSet (deploy/cleanup) applies. Exit 77 only when the cluster cannot be built.
set -uo pipefail

src=${NETPOLD_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${NETPOLD_BUILD_DIR:-$src/build}
bin=$build/netpold
# shellcheck source=tests/e2e/cluster.sh
. "$src/tests/e2e/cluster.sh"

[[ -x $bin ]] || {
	echo "test_deploy: no $bin (build first)" >&2
	exit 1
}
for tool in jq curl nft; do
	command -v "$tool" >/dev/null || {
		echo "test_deploy: $tool missing (tests/deps.sh installs it)" >&2
		exit 1
	}
done

TMP=$(mktemp -d /tmp/npdeploy.XXXXXX)
TABLE=npdeploy$$
SOCK=$TMP/run/netpold.sock
LOG=$TMP/netpold.log
PID=
cleanup() {
	if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null
		for _ in $(seq 250); do kill -0 "$PID" 2>/dev/null || break; sleep 0.02; done
		kill -KILL "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	nft list table inet "$TABLE" >/dev/null 2>&1 && nft delete table inet "$TABLE"
	cluster_stop
	rm -rf -- "$TMP"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	[[ -s $LOG ]] && { echo "--- netpold log" >&2; tail -n 40 "$LOG" >&2; }
	cluster_dump_logs 20
	exit 1
}
pass() { echo "ok: $*"; }

rc=0
cluster_start "$TMP/cluster" || rc=$?
[[ $rc == 0 ]] || { [[ $rc == 77 ]] && exit 77; fail "cluster did not start"; }

# 1. The image the manifests name is this build's version.
version=$("$bin" --version | awk '{print $2}')
kubectl kustomize "$src/deploy" >"$TMP/deploy.yaml" 2>"$TMP/err" || fail "kustomize deploy/: $(cat "$TMP/err")"
images=$(grep -E '^\s+image:' "$TMP/deploy.yaml" | awk '{print $2}' | sort -u)
[[ $images == "netpold:$version" ]] || fail "deploy/ names image(s) '$images', expected netpold:$version"
kubectl kustomize "$src/deploy/cleanup" >"$TMP/cleanup.yaml" 2>"$TMP/err" || fail "kustomize deploy/cleanup: $(cat "$TMP/err")"
grep -q "image: netpold:$version" "$TMP/cleanup.yaml" || fail "deploy/cleanup does not name netpold:$version"
pass "kustomize builds deploy/ and deploy/cleanup with image netpold:$version"

# 2. Server-side dry run, then for real. A server-side dry run of namespaced objects needs their
# namespace to exist (the dry run does not create it), so the namespace goes first.
kubectl apply -f "$src/deploy/namespace.yaml" >"$TMP/out" 2>&1 || fail "namespace: $(cat "$TMP/out")"
kubectl apply -k "$src/deploy" --dry-run=server >"$TMP/out" 2>&1 || fail "dry run: $(cat "$TMP/out")"
[[ $(grep -c 'created (server dry run)' "$TMP/out") -ge 5 ]] || fail "dry run: $(cat "$TMP/out")"
kubectl get clusterrole netpold >/dev/null 2>&1 && fail "the dry run created the ClusterRole"
kubectl apply -k "$src/deploy" >"$TMP/out" 2>&1 || fail "apply: $(cat "$TMP/out")"
for obj in namespace/netpold-system clusterrole/netpold clusterrolebinding/netpold \
	"-n netpold-system serviceaccount/netpold" "-n netpold-system daemonset/netpold" \
	"-n netpold-system resourcequota/netpold-critical-pods"; do
	# shellcheck disable=SC2086 # obj holds "-n NS kind/name"
	kubectl get $obj >/dev/null 2>&1 || fail "$obj missing after apply"
done
kubectl apply -k "$src/deploy" >"$TMP/out" 2>&1 || fail "second apply: $(cat "$TMP/out")"
grep -q configured "$TMP/out" && fail "a second apply changed objects: $(cat "$TMP/out")"
pass "kubectl apply -k deploy/: dry run, create, idempotent"

# 3. The DaemonSet as stored by the API server.
kubectl -n netpold-system get daemonset netpold -o json >"$TMP/ds.json" || fail "get daemonset"
check() { # check JQ_EXPR WHAT
	[[ $(jq -r "$1" "$TMP/ds.json") == true ]] || fail "DaemonSet: $2 ($1)"
}
c='.spec.template.spec.containers[0]'
check '.spec.template.spec.hostNetwork == true' "hostNetwork"
check '.spec.template.spec.serviceAccountName == "netpold"' "serviceAccountName"
check '.spec.template.spec.priorityClassName == "system-node-critical"' "priorityClassName"
check '.spec.template.spec.tolerations == [{"operator":"Exists"}]' "tolerations"
check '.spec.template.spec.terminationGracePeriodSeconds <= 30' "terminationGracePeriodSeconds"
check '.spec.updateStrategy.type == "RollingUpdate" and .spec.updateStrategy.rollingUpdate.maxUnavailable == 1' "updateStrategy"
check "$c.env | any(.name == \"NODE_NAME\" and .valueFrom.fieldRef.fieldPath == \"spec.nodeName\")" "NODE_NAME"
check "$c.securityContext.capabilities == {\"drop\":[\"ALL\"],\"add\":[\"NET_ADMIN\"]}" "capabilities"
check "$c.securityContext.readOnlyRootFilesystem == true" "readOnlyRootFilesystem"
check "$c.securityContext.allowPrivilegeEscalation == false" "allowPrivilegeEscalation"
check "$c.securityContext.privileged != true" "not privileged"
check "$c.resources.requests.memory != null and $c.resources.limits.memory != null" "resources"
check "$c.livenessProbe != null and $c.readinessProbe != null" "probes"
check "$c.volumeMounts | any(.mountPath == \"/run/netpold\")" "/run/netpold mount"
check '.spec.template.spec.volumes | any(.hostPath.path == "/run/netpold")' "/run/netpold hostPath"
check "$c.args | index(\"--in-cluster\") != null" "--in-cluster"
pass "DaemonSet: hostNetwork, NODE_NAME, NET_ADMIN only, read-only root, probes, critical priority"

# 4. RBAC: read what netpold reads, change nothing.
sa=system:serviceaccount:netpold-system:netpold
for res in pods namespaces services networkpolicies.networking.k8s.io; do
	for verb in get list watch; do
		[[ $(kubectl auth can-i "$verb" "$res" --as "$sa" 2>/dev/null) == yes ]] ||
			fail "the ServiceAccount cannot $verb $res"
	done
	for verb in create update patch delete deletecollection; do
		[[ $(kubectl auth can-i "$verb" "$res" --as "$sa" -A 2>/dev/null) == no ]] ||
			fail "the ServiceAccount may $verb $res"
	done
done
for what in "get secrets" "list secrets -A" "create pods/status" "patch pods/status" "create pods/exec" \
	"get configmaps" "create events" "list endpointslices.discovery.k8s.io" "list nodes" \
	"create serviceaccounts/token" "impersonate users" "escalate clusterroles" "bind clusterroles" \
	"create clusterrolebindings" "update daemonsets.apps -n netpold-system"; do
	# shellcheck disable=SC2086
	[[ $(kubectl auth can-i $what --as "$sa" 2>/dev/null) == no ]] || fail "the ServiceAccount may $what"
done
pass "RBAC: get/list/watch pods, namespaces, services, networkpolicies; nothing else"

# 5. Some cluster state for netpold: a namespace, a pod on our node with an address, a policy.
node=e2e-node-$$
kubectl create namespace demo >/dev/null || fail "create namespace"
kubectl apply -f - >/dev/null <<-EOF || fail "create pod and policy"
	apiVersion: v1
	kind: Pod
	metadata: {name: web, namespace: demo, labels: {app: web}}
	spec:
	  nodeName: $node
	  containers: [{name: web, image: x, ports: [{containerPort: 80, name: http}]}]
	---
	apiVersion: networking.k8s.io/v1
	kind: NetworkPolicy
	metadata: {name: web-ingress, namespace: demo}
	spec:
	  podSelector: {matchLabels: {app: web}}
	  policyTypes: [Ingress]
	  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: http}]}]
EOF
kubectl -n demo patch pod web --subresource=status --type=merge \
	-p '{"status":{"phase":"Running","podIP":"10.250.7.10","podIPs":[{"ip":"10.250.7.10"}]}}' \
	>/dev/null || fail "patch pod status"

# 6. netpold with a token of the ServiceAccount: ready means the ClusterRole is enough.
token=$(kubectl -n netpold-system create token netpold --duration=1h) || fail "create token"
cluster_write_kubeconfig "$TMP/sa.kubeconfig" netpold-sa "$token"
: >"$TMP/empty.conf"
if [[ $(id -u) -ne 0 ]]; then
	echo "skip: running netpold (needs root for nftables)"
else
	env -u KUBECONFIG "$bin" --kubeconfig "$TMP/sa.kubeconfig" --node-name "$node" --table "$TABLE" \
		--status-socket "$SOCK" --config "$TMP/empty.conf" >"$LOG" 2>&1 &
	PID=$!
	ready=
	for _ in $(seq 300); do
		kill -0 "$PID" 2>/dev/null || fail "netpold exited"
		st=$(curl -sS --max-time 2 --unix-socket "$SOCK" http://localhost/v1/status 2>/dev/null) &&
			[[ $(jq -r .ready <<<"$st") == true ]] && { ready=1; break; }
		sleep 0.1
	done
	[[ -n $ready ]] || fail "netpold with the ServiceAccount token did not become ready: ${st:-no answer}"
	[[ $(jq -r .degraded <<<"$st") == false ]] || fail "netpold degraded: $st"
	[[ $(jq -r .counts.local_pods <<<"$st") == 1 ]] || fail "netpold does not see the pod: $st"
	nft list table inet "$TABLE" >"$TMP/table" 2>&1 || fail "no table inet $TABLE"
	grep -q 10.250.7.10 "$TMP/table" || fail "pod address not in table inet $TABLE"
	grep -q "permission\|forbidden\|Forbidden\|403" "$LOG" && fail "netpold logged a permission error"
	pass "netpold with the ServiceAccount's token: ready, 1 local pod, table programmed"

	# the DaemonSet's probe commands, pointed at this netpold's socket
	for p in livenessProbe readinessProbe; do
		mapfile -t cmd < <(jq -r ".spec.template.spec.containers[0].$p.exec.command[]" "$TMP/ds.json")
		[[ ${#cmd[@]} -gt 0 ]] || fail "$p has no exec command"
		cmd=("${cmd[@]//\/run\/netpold\/netpold.sock/$SOCK}")
		"${cmd[@]}" >"$TMP/probe" 2>&1 || fail "$p failed: ${cmd[*]}: $(cat "$TMP/probe")"
	done
	pass "the DaemonSet's liveness and readiness probe commands succeed"
	echo "footprint: e2e (1 pod, 1 policy, 4 watches over TLS): VmHWM $(awk '$1 == "VmHWM:" {print $2 " " $3}' "/proc/$PID/status")"

	kill -TERM "$PID"
	wait "$PID"
	rc=$?
	PID=
	[[ $rc == 0 ]] || fail "netpold exited $rc on SIGTERM"
	nft list table inet "$TABLE" >/dev/null 2>&1 || fail "SIGTERM removed the table"
	"$bin" --cleanup --table "$TABLE" --config "$TMP/empty.conf" >>"$LOG" 2>&1 || fail "--cleanup failed"
	nft list table inet "$TABLE" >/dev/null 2>&1 && fail "--cleanup left the table"
	pass "SIGTERM leaves the table, --cleanup removes it"
fi

# 7. Uninstall: netpold's objects go, the cleanup DaemonSet applies, and goes too.
kubectl delete -k "$src/deploy" --wait=false >"$TMP/out" 2>&1 || fail "delete -k deploy/: $(cat "$TMP/out")"
kubectl get clusterrole netpold >/dev/null 2>&1 && fail "ClusterRole left after delete -k"
kubectl apply -k "$src/deploy/cleanup" >"$TMP/out" 2>&1 || fail "apply -k deploy/cleanup: $(cat "$TMP/out")"
kubectl -n netpold-cleanup get daemonset netpold-cleanup -o json >"$TMP/ds.json" || fail "no cleanup DaemonSet"
check '.spec.template.spec.initContainers[0].args == ["--cleanup"]' "cleanup runs netpold --cleanup"
check '.spec.template.spec.hostNetwork == true' "cleanup hostNetwork"
check '.spec.template.spec.tolerations == [{"operator":"Exists"}]' "cleanup tolerations"
kubectl delete -k "$src/deploy/cleanup" --wait=false >"$TMP/out" 2>&1 || fail "delete -k deploy/cleanup: $(cat "$TMP/out")"
pass "uninstall: delete -k deploy/, apply and delete -k deploy/cleanup"
exit 0
