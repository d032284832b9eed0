#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The 48 upstream NetworkPolicy e2e cases (tests/conformance) replayed with real packets, IPv4
# and IPv6: the 9-pod world of world.json over two node namespaces, one netpold per node, both
# reading one manifest folder and kept running across all cases (every case, and every step,
# is an incremental update of the daemons). Per step: write the manifests, POST /v1/sync to
# both daemons, apply the label/delete ops, sync again, probe every asserted pair (72 per probe)
# and compare. The work is done by replay.py; see docs/testing.md.
#
# Environment: NETPOLD_BUILD_DIR, NETPOLD_SOURCE_DIR; NETPOLD_REPLAY_TIMEOUT (probe timeout
# per try, ms, default 400); NETPOLD_REPLAY_CASES (space-separated case prefixes, default all);
# NETPOLD_REPLAY_DENY_ACTION (default "drop reject": the replay runs with --deny-action drop,
# where every denied probe must time out, then the daemons are restarted with reject, adopting
# the table, and it runs again, every denied probe refused or unreachable, in seconds).
# Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

# shellcheck source=tests/world/targeted_lib.sh
source "$(dirname "$0")/targeted_lib.sh"
tl_init conformance

t0=$(tl_now)
world_create "$TL_SRC/tests/conformance/world.json" || fail "world_create"
tl_log "world: $(world_pods | wc -l) pods in $(tl_ms "$t0") ms"

# replay DENY_ACTION: (re)start both daemons with that deny action and replay every case.
rc=0
replay() {
	local deny=$1 n

	for n in node-1 node-2; do
		[[ -n ${TL_PID[$n]:-} ]] && tl_stop "$n"
	done
	if [[ $deny == reject ]]; then
		# the kernel rate-limits ICMP errors; the node namespaces are ours: lift the limits
		for n in node-1 node-2; do
			node_exec "$n" sh -c 'echo 0 >/proc/sys/net/ipv4/icmp_ratelimit
				echo 0 >/proc/sys/net/ipv6/icmp/ratelimit
				echo 100000 >/proc/sys/net/ipv4/icmp_msgs_per_sec
				echo 100000 >/proc/sys/net/ipv4/icmp_msgs_burst' || fail "icmp sysctls in $n"
		done
	fi
	# The first time both daemons start on an empty folder; replay.py writes the world and
	# the cases into it. A restart adopts the table the previous run left.
	tl_start node-1 --deny-action "$deny"
	tl_start node-2 --deny-action "$deny"
	tl_log "replay with --deny-action $deny"
	# shellcheck disable=SC2086
	python3 "$TL_SRC/tests/world/replay.py" \
		--render "$TL_BUILD/conformance_render" --probe "$TL_BUILD/probe" \
		--pods "$WORLD_DIR/pods" --manifests "$TL_M" \
		--socket "node-1=${TL_SOCK[node-1]}" --socket "node-2=${TL_SOCK[node-2]}" \
		--timeout "${NETPOLD_REPLAY_TIMEOUT:-400}" --tries 2 --deny-action "$deny" \
		${NETPOLD_REPLAY_CASES:-} || rc=1
}

for deny in ${NETPOLD_REPLAY_DENY_ACTION:-drop reject}; do
	replay "$deny"
done

# The daemons must have lived through it all.
for n in node-1 node-2; do
	kill -0 "${TL_PID[$n]}" 2>/dev/null || fail "netpold on $n died during the replay"
	sj=$(tl_status "$n") || fail "$n: no status"
	jq -e '.reconcile_failures == 0 and (.degraded | not)' <<<"$sj" >/dev/null ||
		fail "$n status after the replay: $sj"
	tl_log "$n: $(jq -r '"\(.reconciles) reconciles, \(.counts.set_elements) set elements, drift repairs \(.table.drift_repairs)"' <<<"$sj")"
done
[[ $rc -eq 0 ]] || fail "the replay found mismatches (see above)"
tl_log "total $(tl_ms "$t0") ms"
echo "test_conformance: passed"
