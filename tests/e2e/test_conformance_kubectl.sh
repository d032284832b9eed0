#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The 48 upstream NetworkPolicy e2e cases (tests/conformance) end to end: a real kube-apiserver
# (tests/e2e/cluster.sh), the policies created with `kubectl apply`, pods and namespaces
# relabelled with `kubectl label`, policies removed with `kubectl delete`, and two netpolds, one
# per node namespace of the tests/world world (9 pods over 2 nodes, podservers), each watching
# the API server with --kubeconfig over a veth to the host and programming its node's nftables.
# Every asserted pair of every probe is checked with real packets, IPv4 and IPv6. Enforcement is
# awaited through the status sockets (resourceVersion seen, POST /v1/sync, /v1/policies), never
# with sleep. The work is done by replay_lib.py; see docs/e2e.md.
#
# Environment: NETPOLD_BUILD_DIR, NETPOLD_SOURCE_DIR; NETPOLD_REPLAY_TIMEOUT (probe timeout
# per try, ms, default 400); NETPOLD_REPLAY_CASES (space-separated case prefixes, default all);
# NETPOLD_E2E_CACHE (cluster binaries). Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

# shellcheck source=tests/e2e/replay_lib.sh
source "$(dirname "$0")/replay_lib.sh"
er_init conformance_kubectl

t0=$(er_now)
er_up

t1=$(er_now)
# shellcheck disable=SC2086
python3 "$ER_E2E/replay_lib.py" replay \
	--render "$ER_BUILD/conformance_render" --probe "$ER_BUILD/probe" \
	--pods "$WORLD_DIR/pods" --kubectl "$E2E_KUBECTL" \
	--socket "node-1=${ER_SOCK[node-1]}" --socket "node-2=${ER_SOCK[node-2]}" \
	--timeout "${NETPOLD_REPLAY_TIMEOUT:-400}" --tries 2 --summary-json "$ER_TMP/summary.json" \
	${NETPOLD_REPLAY_CASES:-}
rc=$?
er_log "replay $(($(er_now) - t1)) ms"

# The daemons must have lived through it all, without a failed reconcile or a watch error.
for n in node-1 node-2; do
	kill -0 "${ER_PID[$n]}" 2>/dev/null || fail "netpold on $n died during the replay"
	st=$(er_status "$n") || fail "$n: no status"
	jq -e '.reconcile_failures == 0 and (.degraded | not) and .source.errors == 0
		and ([.source.resources[] | .relists + .errors + .invalid] | add) == 0' <<<"$st" >/dev/null ||
		fail "$n status after the replay: $st"
	# nothing to complain about in the log either
	if grep -E '^netpold\[[0-9]+\] (warning|error|err|crit)' "$ER_TMP/$n.log" >&2; then
		fail "$n logged warnings or errors (above)"
	fi
	er_log "$n: $(jq -r '"\(.reconciles) reconciles, \(.counts.set_elements) set elements, watches \([.source.resources[].watches] | add), drift repairs \(.table.drift_repairs)"' <<<"$st"); $(er_mem "$n")"
done
[[ $rc -eq 0 ]] || fail "the replay found mismatches or failed (see above)"
er_log "total $(($(er_now) - t0)) ms"
echo "test_conformance_kubectl: passed"
