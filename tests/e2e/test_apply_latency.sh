#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# kubectl apply -> committed on every node: the e2e world of test_conformance_kubectl.sh (a real
# kube-apiserver, the 9 pods of tests/conformance/world.json over two node namespaces, one
# netpold per node with --kubeconfig), then NETPOLD_LATENCY_COUNT (default 30) `kubectl apply`s
# of a new NetworkPolicy selecting every pod of namespace x (pods on both nodes). From the moment
# kubectl returns, both status sockets are polled every ~2 ms until GET /v1/policies/x/NAME says
# programmed (and programmed_generation == input_generation); the later node counts. Prints
# p50/p99 (target p99 < NETPOLD_LATENCY_TARGET_MS, default 100) and the netpolds' memory
# (VmHWM, VmRSS). See docs/e2e.md. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

# shellcheck source=tests/e2e/replay_lib.sh
source "$(dirname "$0")/replay_lib.sh"
er_init apply_latency

er_up
for n in node-1 node-2; do er_log "$n memory after start: $(er_mem "$n")"; done

python3 "$ER_E2E/replay_lib.py" latency --kubectl "$E2E_KUBECTL" \
	--socket "node-1=${ER_SOCK[node-1]}" --socket "node-2=${ER_SOCK[node-2]}" \
	--count "${NETPOLD_LATENCY_COUNT:-30}" --target-ms "${NETPOLD_LATENCY_TARGET_MS:-100}" \
	--summary-json "$ER_TMP/latency.json"
rc=$?

n_pol=${NETPOLD_LATENCY_COUNT:-30}
for n in node-1 node-2; do
	kill -0 "${ER_PID[$n]}" 2>/dev/null || fail "netpold on $n died"
	st=$(er_status "$n") || fail "$n: no status"
	jq -e --argjson n "$n_pol" '.reconcile_failures == 0 and (.degraded | not)
		and .counts.policies == $n and .programmed_generation == .input_generation' \
		<<<"$st" >/dev/null || fail "$n status after the applies: $st"
	# the rules are in the kernel: every policy's ipBlock is in the node's table
	got=$(node_exec "$n" nft list table inet "$ER_TABLE" | grep -o '198\.51\.100\.[0-9]*' | sort -u | wc -l)
	[[ $got -eq $n_pol ]] || fail "$n: $got of the $n_pol ipBlocks in table inet $ER_TABLE"
	er_log "$n: $(jq -r '"\(.counts.policies) policies, \(.counts.rules) rules, \(.counts.set_elements) set elements"' <<<"$st"); memory $(er_mem "$n")"
done
[[ $rc -eq 0 ]] || fail "apply latency (see above)"
echo "test_apply_latency: passed"
