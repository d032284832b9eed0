#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Incremental updates: once the table is programmed, relabelling one pod so that it joins a
# policy's peers commits only set elements. Checked three ways: the committed batch is small
# (/v1/status last_reconcile.batch_elements and batch_messages), the table's JSON before and
# after differs only in the peer sets of that rule (chains, rules, maps and every other set are
# identical, handles included: nothing was recreated), and the node that has no pod selected
# by the policy commits nothing. Probes then show the new verdicts (upstream case 022).
# Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

# shellcheck source=tests/world/targeted_lib.sh
source "$(dirname "$0")/targeted_lib.sh"
tl_init incremental
tl_world
tl_case_manifests 022 1
tl_start node-1
tl_start node-2
tl_sync

tl_probe_expect --timeout 300 --tries 2 < <(tl_case_probes 022 1)
[[ $TL_MISMATCH -eq 0 ]] || fail "case 022 step 1: $TL_MISMATCH of $TL_PROBED probes wrong"
pass "initial state: $TL_PROBED probes as upstream case 022 step 1 expects"

# The full table, handles included, before the relabel.
before1=$(tl_table_handles node-1)
before2=$(tl_table_handles node-2)
gen1=$(jq .programmed_generation <<<"${TL_ST[node-1]}")

# x/b (node-2) gets pod2=updated: it becomes a peer of x/a's (node-1) ingress rule. Everything
# committed meanwhile is recorded with nft monitor.
tl_monitor_start node-1
tl_monitor_start node-2
tl_case_label 022 2 1
tl_sync
ev1=$(tl_monitor_stop node-1)
ev2=$(tl_monitor_stop node-2)
echo "node-1 committed:"
sed 's/^/    /' <<<"$ev1"
st1=${TL_ST[node-1]}
st2=${TL_ST[node-2]}
echo "node-1 last_reconcile: $(jq -c .last_reconcile <<<"$st1")"
echo "node-2 last_reconcile: $(jq -c .last_reconcile <<<"$st2")"
jq -e --argjson g "$gen1" '.programmed_generation > $g' <<<"$st1" >/dev/null ||
	fail "node-1: the relabel was not programmed: $st1"
# x/b's two addresses (v4, v6) join the rule's two peer sets: exactly two element additions.
want="add element inet $TL_TABLE x_allow-client-a-via-pod-selector_in0_pods4 { 10.244.2.11 }
add element inet $TL_TABLE x_allow-client-a-via-pod-selector_in0_pods6 { fd00:10:244:2::11 }"
[[ $(sed 's/^create /add /' <<<"$ev1" | sort) == "$want" ]] || fail "node-1 committed more than x/b's set elements:
$ev1"
[[ -z $ev2 ]] || fail "node-2 committed something though no local pod is concerned: $ev2"
# The status tells the same when the sync's own reconcile did the commit; when inotify's
# debounced reconcile got there first, the sync's reconcile had nothing left to do (0).
jq -e '.last_reconcile.batch_elements <= 2 and .last_reconcile.batch_messages <= 4
	and (.last_reconcile.batch_elements == 0) == (.last_reconcile.batch_messages == 0)' \
	<<<"$st1" >/dev/null || fail "node-1: relabel batch: $(jq -c .last_reconcile <<<"$st1")"
pass "node-1 committed exactly 2 set elements (status: $(jq -c '.last_reconcile | {batch_messages, batch_elements}' <<<"$st1"))"

after1=$(tl_table_handles node-1)
after2=$(tl_table_handles node-2)
changed=$(diff <(echo "$before1") <(echo "$after1") | grep '^[<>]' | cut -c3-)
[[ -n $changed ]] || fail "node-1: the table did not change"
# every changed object is a set; listed without its elements, it is the same set as before
bad=$(jq -c 'select(has("set") | not)' <<<"$changed")
[[ -z $bad ]] || fail "node-1: objects other than sets changed: $bad"
names=$(jq -r '.set.name' <<<"$changed" | sort -u)
shapes=$(jq -c '.set | del(.elem)' <<<"$changed" | sort | uniq -c | awk '$1 != 2')
[[ -z $shapes ]] || fail "node-1: a set was recreated or changed type: $shapes"
for n in $names; do
	[[ $n == x_allow-client-a-via-pod-selector_in0_pods[46] ]] ||
		fail "node-1: unexpected set $n changed"
done
grep -q 10.244.2.11 <<<"$changed" || fail "node-1: x/b's IPv4 address was not added"
grep -q fd00:10:244:2::11 <<<"$changed" || fail "node-1: x/b's IPv6 address was not added"
pass "node-1: only the sets $(echo $names) changed (x/b's addresses added; handles kept)"

[[ $before2 == "$after2" ]] || fail "node-2's table changed though no local pod is concerned:
$(diff <(echo "$before2") <(echo "$after2"))"
jq -e '.last_reconcile.batch_elements == 0' <<<"$st2" >/dev/null ||
	fail "node-2 committed elements: $(jq -c .last_reconcile <<<"$st2")"
pass "node-2 (no pod selected by the policy): table untouched"

tl_probe_expect --timeout 300 --tries 2 < <(tl_case_probes 022 2)
[[ $TL_MISMATCH -eq 0 ]] || fail "case 022 step 2: $TL_MISMATCH of $TL_PROBED probes wrong"
pass "after the relabel: $TL_PROBED probes as upstream case 022 step 2 expects"

# And back: the label removed, the elements go again, still only set elements.
tl_monitor_start node-1
tl_world_manifests "$TL_M"
tl_sync
ev1=$(tl_monitor_stop node-1)
[[ $(sed 's/^delete /add /' <<<"$ev1" | sort) == "$want" ]] ||
	fail "node-1: relabel back committed more than the two deletions: $ev1"
back1=$(tl_table_handles node-1)
[[ $back1 == "$before1" ]] || fail "node-1: table not back to the original:
$(diff <(echo "$before1") <(echo "$back1"))"
pass "relabel undone: node-1's table is identical to the original, handles included"
echo "test_targeted_incremental: passed"
