#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# --deny-action reject: denied traffic is refused at once instead of dropped. A denied TCP
# connection gets a TCP reset (probe: refused), denied UDP and SCTP get ICMP administratively
# prohibited (probe: unreachable), in IPv4 and IPv6, for ingress denials (rejected by the
# destination's node) and egress denials (rejected by the source's node); allowed pairs are
# untouched; and the whole matrix completes far below one probe timeout, so nothing was
# silently dropped. The daemons start with the default (drop) and are restarted with reject:
# the restarted netpold adopts the table and turns its denials into rejects.
# Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

# shellcheck source=tests/world/targeted_lib.sh
source "$(dirname "$0")/targeted_lib.sh"
tl_init reject
tl_world
# Policies: namespace x denies all ingress (upstream case 001) and all egress (case 026).
tl_case_manifests 001 1
tl_case_manifests 026 1
tl_start node-1
tl_start node-2
tl_sync
# with drop, a denied probe times out
tl_probe_expect --timeout 300 --tries 1 <<-EOF
	drop:tcp y/b x/a 4 80 tcp fail(timeout)
	drop:udp y/b x/a 6 80 udp fail(timeout)
	drop:egress x/a y/b 4 80 tcp fail(timeout)
EOF
[[ $TL_MISMATCH -eq 0 ]] || fail "drop mode"
before=$(tl_table_text node-1)
for n in node-1 node-2; do
	tl_stop "$n"
	tl_start "$n" --deny-action reject
done
tl_sync
[[ $(tl_table_text node-1) != "$before" ]] || fail "restart with reject left the table as it was"
for n in node-1 node-2; do
	jq -e '.table.deny_action == "reject"' <<<"${TL_ST[$n]}" >/dev/null ||
		fail "$n: status deny_action is not reject: ${TL_ST[$n]}"
done

# The kernel rate-limits the ICMP errors it sends (per destination, and per namespace); the
# node namespaces are ours, so lift the limits there: this tests netpold, not the limiter.
for n in node-1 node-2; do
	node_exec "$n" sh -c 'echo 0 >/proc/sys/net/ipv4/icmp_ratelimit
		echo 0 >/proc/sys/net/ipv6/icmp/ratelimit
		echo 100000 >/proc/sys/net/ipv4/icmp_msgs_per_sec
		echo 100000 >/proc/sys/net/ipv4/icmp_msgs_burst' || fail "icmp sysctls in $n"
done

# Every non-self pair, TCP/UDP/SCTP port 80, both families. A pair involving namespace x is
# denied (egress of the source or ingress of the destination); the expected reason says how.
mapfile -t pods < <(world_pods)
probes=$(for f in 4 6; do
	for from in "${pods[@]}"; do
		for to in "${pods[@]}"; do
			[[ $from == "$to" ]] && continue
			for proto in tcp udp sctp; do
				want=ok
				if [[ $from == x/* || $to == x/* ]]; then
					want="fail(unreachable)"
					[[ $proto == tcp ]] && want="fail(refused)"
				fi
				echo "v$f:$proto:$from>$to $from $to $f 80 $proto $want"
			done
		done
	done
done)
t0=$(tl_now)
# tries 1 and a long timeout: a drop would cost 3 s, a reject costs a round trip
tl_probe_expect --timeout 3000 --tries 1 <<<"$probes"
ms=$(tl_ms "$t0")
[[ $TL_MISMATCH -eq 0 ]] || fail "$TL_MISMATCH of $TL_PROBED probes wrong (see above)"
[[ $ms -lt 2000 ]] || fail "the matrix took $ms ms: some denial was not answered at once"
n_den=$(grep -c 'fail' <<<"$probes")
pass "$TL_PROBED probes in $ms ms: $n_den denied ones refused (TCP reset) or unreachable (ICMP admin-prohibited), the rest allowed"

# the rules say so too
for n in node-1 node-2; do
	rules=$(node_exec "$n" nft list table inet "$TL_TABLE")
	grep -q 'reject with tcp reset' <<<"$rules" || fail "$n: no tcp reset rule"
	grep -q 'reject with icmpx admin-prohibited' <<<"$rules" || fail "$n: no icmpx reject rule"
	if grep -qw 'drop' <<<"$rules"; then fail "$n: a drop rule in reject mode"; fi
done
pass "per-pod chains end with reject with tcp reset / icmpx admin-prohibited, no drop (the drop table was adopted and turned into this on restart)"
echo "test_targeted_reject: passed"
