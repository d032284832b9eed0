#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Churn soak judged by an oracle: tests/soak/soak.py changes pods (labels of the world's real
# pods, virtual pods on a node-3 nobody enforces), namespaces and policies in the manifest
# folder at a steady rate for NETPOLD_SOAK_SECONDS (default 120); after every step it POSTs
# /v1/sync to both netpolds and checks real probes among real pods and GET /v1/explain against
# the verdicts of the REFERENCE evaluator (tests/tools/oracle.c over the same folder). Fails on
# any wrong verdict, a failed sync, a crash, or netpold's RSS growing beyond start x 1.2 + 4 MiB
# after the warm-up. NETPOLD_SOAK_SEED replays a run. See docs/robustness.md.
# Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

# shellcheck source=tests/world/targeted_lib.sh
source "$(dirname "$0")/targeted_lib.sh"
tl_init soak
[[ -x $TL_BUILD/oracle ]] || fail "no $TL_BUILD/oracle (build first)"
tl_world
tl_start node-1
tl_start node-2
tl_sync

seconds=${NETPOLD_SOAK_SECONDS:-120}
seed=${NETPOLD_SOAK_SEED:-$(( $(date +%s) % 1000000 ))}
keep=${NETPOLD_SOAK_KEEP:-/tmp/netpold-soak-failures.$$}
tl_log "soak for $seconds s, seed $seed (NETPOLD_SOAK_SEED=$seed replays it)"
python3 "$TL_SRC/tests/soak/soak.py" --manifests "$TL_M" --pods "$WORLD_DIR/pods" \
	--socket "${TL_SOCK[node-1]}" --socket "${TL_SOCK[node-2]}" \
	--pid "${TL_PID[node-1]}" --pid "${TL_PID[node-2]}" \
	--oracle "$TL_BUILD/oracle" --probe "$TL_BUILD/probe" \
	--seconds "$seconds" --seed "$seed" --fail-dir "$keep" | tee "$TL_TMP/soak.out"
rc=${PIPESTATUS[0]}
for n in node-1 node-2; do
	kill -0 "${TL_PID[$n]}" 2>/dev/null || fail "netpold on $n died during the soak"
	if grep -E 'AddressSanitizer|assert|Segmentation' "$TL_TMP/$n.log" >/dev/null; then
		fail "netpold on $n logged a crash"
	fi
done
[[ $rc -eq 0 ]] || fail "soak failed (rc $rc, seed $seed; failing folders, if any, in $keep)"
# the daemons are still healthy and agree with each other
tl_sync
pass "soak: $(grep -o '"operations": [0-9]*' "$TL_TMP/soak.out"), $(grep -o '"verdicts_kernel": [0-9]*' "$TL_TMP/soak.out"), $(grep -o '"verdicts_explain": [0-9]*' "$TL_TMP/soak.out"), 0 wrong"
echo "test_soak: passed"
