#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Restart without a window: a loop probes a fixed set of allowed and denied pairs, IPv4 and
# IPv6, over and over, while netpold on node-1 is killed with SIGKILL (as a crash or an OOM kill
# would) and started again. The table stays in the kernel meanwhile, so no denied pair is ever
# allowed and no allowed pair is ever denied, in any round; the restarted netpold adopts the
# table and commits an empty diff (nothing recreated, handles unchanged). Then an edit made
# while netpold is down: the restarted netpold commits exactly that difference.
# Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

# shellcheck source=tests/world/targeted_lib.sh
source "$(dirname "$0")/targeted_lib.sh"
tl_init restart
tl_world
# upstream case 022 after its relabel: x/a (node-1) admits x/b only
tl_case_manifests 022 1
tl_case_label 022 2 1
tl_start node-1
tl_start node-2
tl_sync

# The fixed set: same-node and cross-node pairs through node-1's forward hook, both families.
set_file=$TL_TMP/pairs
for f in 4 6; do
	cat <<-EOF
		v$f:allow:x/b>x/a x/b x/a $f 80 tcp ok
		v$f:allow:x/b>x/a:udp x/b x/a $f 80 udp ok
		v$f:allow:x/a>x/c x/a x/c $f 80 tcp ok
		v$f:allow:y/b>z/a y/b z/a $f 81 tcp ok
		v$f:allow:z/b>y/b z/b y/b $f 80 tcp ok
		v$f:deny:x/c>x/a x/c x/a $f 80 tcp fail
		v$f:deny:y/b>x/a y/b x/a $f 80 tcp fail
		v$f:deny:y/a>x/a y/a x/a $f 81 tcp fail
		v$f:deny:z/b>x/a:udp z/b x/a $f 80 udp fail
	EOF
done >"$set_file"
tl_probe_expect --timeout 300 --tries 2 <"$set_file"
[[ $TL_MISMATCH -eq 0 ]] || fail "the fixed set is not as expected before the restart"

# The probe loop, in the background: one round = every pair once; a round's results are
# appended to rounds as 'ROUND ID RESULT' lines, the round count to count.
rounds=$TL_TMP/rounds
count=$TL_TMP/count
stop=$TL_TMP/stop
echo 0 >"$count"
(
	r=0
	while [[ ! -e $stop ]]; do
		r=$((r + 1))
		awk '{ print $1, $2, $3, $4, $5, $6 }' "$set_file" |
			world_probe --timeout 400 --tries 3 | sed "s/^/$r /" >>"$rounds"
		echo "$r" >"$count"
	done
) &
loop=$!
TL_AT_EXIT+=('touch "$stop"; kill "$loop" 2>/dev/null; wait "$loop" 2>/dev/null')
# wait_rounds N: until N more rounds have completed (polling the loop, with a deadline).
wait_rounds() {
	local want=$(($(cat "$count") + $1)) deadline=$(($(tl_now) + 20000))
	while [[ $(cat "$count") -lt $want ]]; do
		[[ $(tl_now) -lt $deadline ]] || fail "the probe loop is stuck"
		kill -0 "$loop" 2>/dev/null || fail "the probe loop died"
		sleep 0.02
	done
}
wait_rounds 2
before=$(tl_table_handles node-1)

tl_kill9 node-1
r_kill=$(cat "$count")
node_exec node-1 nft list table inet "$TL_TABLE" >/dev/null || fail "table gone after SIGKILL"
# at least two whole rounds with no netpold at all
wait_rounds 2
tl_monitor_start node-1
t0=$(tl_now)
tl_start node-1
tl_sync node-1
restart_ms=$(tl_ms "$t0")
ev=$(tl_monitor_stop node-1)
r_back=$(cat "$count")
wait_rounds 2
touch "$stop"
wait "$loop"

sj=${TL_ST[node-1]}
after=$(tl_table_handles node-1)
[[ -z $ev ]] || fail "the restarted netpold committed changes:
$ev"
[[ $before == "$after" ]] || fail "the table differs after the restart:
$(diff <(echo "$before") <(echo "$after"))"
jq -e '.last_reconcile.batch_messages == 0 and .last_reconcile.batch_elements == 0
	and .reconcile_failures == 0' <<<"$sj" >/dev/null ||
	fail "the restarted netpold's reconcile was not empty: $(jq -c .last_reconcile <<<"$sj")"
pass "restart: ready again in $restart_ms ms, empty diff (no nft event, same handles), last_reconcile $(jq -c '.last_reconcile | {batch_messages, batch_elements}' <<<"$sj")"

# Every round must have given every pair its verdict.
n_rounds=$(cat "$count")
bad=$(awk 'FNR == NR { want[$1] = $7; next }
	{ g = $3; sub(/\(.*/, "", g); if (g != want[$2]) print "round " $1 ": " $2 " " $3 }' \
	"$set_file" "$rounds")
[[ -z $bad ]] || fail "verdicts changed around the restart (netpold killed after round $r_kill, back after round $r_back):
$bad"
n=$(wc -l <"$rounds")
pass "$n_rounds probe rounds ($n probes; killed after round $r_kill, back in round $r_back): no denied pair ever allowed, no allowed pair ever denied"

# A change made while netpold is down is exactly what the restarted one commits: x/b loses its
# label again (upstream case 022 step 1), so two set elements go, nothing else.
tl_kill9 node-1
tl_world_manifests "$TL_M"
tl_monitor_start node-1
tl_start node-1
tl_sync node-1
ev=$(tl_monitor_stop node-1)
want="delete element inet $TL_TABLE x_allow-client-a-via-pod-selector_in0_pods4 { 10.244.2.11 }
delete element inet $TL_TABLE x_allow-client-a-via-pod-selector_in0_pods6 { fd00:10:244:2::11 }"
[[ $(sort <<<"$ev") == "$want" ]] || fail "restart after an edit committed:
$ev"
tl_sync node-2
tl_probe_expect --timeout 300 --tries 2 < <(tl_case_probes 022 1)
[[ $TL_MISMATCH -eq 0 ]] || fail "after the restart with an edit: $TL_MISMATCH of $TL_PROBED probes wrong"
pass "an edit made while netpold was down: the restarted netpold committed exactly its 2 element deletions; $TL_PROBED probes right"
echo "test_targeted_restart: passed"
