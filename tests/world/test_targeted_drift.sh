#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Drift: someone else changes netpold's table in node-1's namespace. netpold sees it on its
# nftables monitor socket and repairs it by itself, with no POST /v1/sync: within one second
# (a deadline on polling /v1/status table.drift_repairs and the table, never sleep-then-check)
# the table is back exactly as it was and probes give the right verdicts again. Damages: a
# deleted verdict-map element, a deleted peer set (with the rules using it, in one
# transaction), a foreign accept rule inserted first in the forward chain, a deleted table and
# 'nft flush ruleset'. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

# shellcheck source=tests/world/targeted_lib.sh
source "$(dirname "$0")/targeted_lib.sh"
tl_init drift
tl_world
# upstream case 022 after its relabel: x/a (node-1) admits x/b only
tl_case_manifests 022 1
tl_case_label 022 2 1
tl_start node-1
tl_start node-2
tl_sync
ref=$(tl_table_text node-1)
T=$TL_TABLE
S4=x_allow-client-a-via-pod-selector_in0_pods4

check_probes() {
	tl_probe_expect --timeout 300 --tries 2 < <(tl_case_probes 022 2)
	[[ $TL_MISMATCH -eq 0 ]] || fail "$1: $TL_MISMATCH of $TL_PROBED probes wrong"
}
check_probes "before any drift"

# drift NAME NFT_SCRIPT: apply the damage in one nft transaction, then poll /v1/status, with a
# deadline of 1 s from the damage, until a repair shows: drift_repairs went up and a reconcile
# ended after the damage with everything programmed. The repair time is that reconcile's end
# (netpold's clock, the same as ours) minus the damage time; then the table must be exactly
# the original and the probes right.
drift() {
	local name=$1 script=$2 d0 t0 t1 ms

	d0=$(tl_status node-1 | jq .table.drift_repairs)
	t0=$(tl_now)
	node_exec node-1 nft -f - <<<"$script" || fail "$name: nft refused the damage"
	tl_wait_status node-1 '.table.drift_repairs > '"$d0"' and (.degraded | not)
		and .programmed_generation == .input_generation and .last_reconcile.error == null
		and (.last_reconcile.time | capture("^(?<s>.*)\\.(?<ms>[0-9]+)Z$")
		     | (.s + "Z" | fromdate) * 1000 + (.ms | tonumber)) >= '"$t0" 1000 ||
		fail "$name: not repaired within 1 s: ${TL_ST[node-1]}"
	t1=$(date -d "$(jq -r .last_reconcile.time <<<"${TL_ST[node-1]}")" +%s%3N)
	ms=$((t1 - t0))
	[[ $ms -lt 1000 ]] || fail "$name: repair committed $ms ms after the damage"
	[[ $(tl_table_text node-1) == "$ref" ]] || fail "$name: table not restored:
$(diff <(echo "$ref") <(tl_table_text node-1 2>&1))"
	check_probes "after $name"
	pass "$name: repaired $ms ms after the damage (drift_repairs $d0 -> $(jq .table.drift_repairs <<<"${TL_ST[node-1]}")), table identical, $TL_PROBED probes right"
}

drift "deleted map element" "delete element inet $T ingress4 { 10.244.1.10 }"
drift "deleted peer set" "flush chain inet $T in_x_a
delete set inet $T $S4"
drift "foreign accept rule" "insert rule inet $T forward accept"
drift "deleted table" "delete table inet $T"
drift "nft flush ruleset" "flush ruleset"

# node-2 never noticed anything: its table belongs to another namespace
jq -e '.table.drift_repairs == 0' <<<"$(tl_status node-2)" >/dev/null || fail "node-2 saw drift"
pass "node-2 untouched (drift_repairs 0)"
echo "test_targeted_drift: passed"
