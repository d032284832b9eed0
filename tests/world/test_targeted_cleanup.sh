#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Uninstall: 'netpold --cleanup' in a node namespace removes netpold's table, and only it (a
# foreign table, and a second netpold table of another name, stay), after which the node
# enforces nothing: pairs denied before are allowed. A second --cleanup succeeds with no table.
# The other node keeps enforcing. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

# shellcheck source=tests/world/targeted_lib.sh
source "$(dirname "$0")/targeted_lib.sh"
tl_init cleanup
tl_world
# upstream case 001: default deny ingress in namespace x (x/a, x/c on node-1; x/b on node-2)
tl_case_manifests 001 1
tl_start node-1
tl_start node-2
tl_sync
tl_probe_expect --timeout 300 --tries 2 < <(tl_case_probes 001 1)
[[ $TL_MISMATCH -eq 0 ]] || fail "case 001 not enforced before the cleanup"

# bystanders: someone else's table, and a table of the same layout under another name
node_exec node-1 nft -f - <<-'EOF' || fail "cannot add the bystander tables"
	add table inet bystander
	add chain inet bystander c { type filter hook forward priority 10; policy accept; }
	add table inet netpold2
	add set inet netpold2 s { type ipv4_addr; }
	add element inet netpold2 s { 10.0.0.1 }
EOF

tl_stop node-1
node_exec node-1 nft list table inet "$TL_TABLE" >/dev/null || fail "SIGTERM removed the table"
tl_probe_expect --timeout 300 --tries 2 < <(tl_case_probes 001 1)
[[ $TL_MISMATCH -eq 0 ]] || fail "enforcement stopped with netpold (SIGTERM must leave the table)"
pass "netpold stopped: table left in place, still enforcing"

node_exec node-1 "$TL_BUILD/netpold" --cleanup --table "$TL_TABLE" >>"$TL_TMP/node-1.log" 2>&1 ||
	fail "--cleanup failed"
if node_exec node-1 nft list table inet "$TL_TABLE" >/dev/null 2>&1; then
	fail "table inet $TL_TABLE still there after --cleanup"
fi
node_exec node-1 nft list table inet bystander >/dev/null 2>&1 || fail "--cleanup removed inet bystander"
node_exec node-1 nft list set inet netpold2 s 2>/dev/null | grep -q 10.0.0.1 ||
	fail "--cleanup touched inet netpold2"
pass "--cleanup removed table inet $TL_TABLE and nothing else"

# node-1 enforces nothing any more: x/a and x/c (node-1) accept everyone. node-2 still
# enforces for x/b.
expect=$(tl_case_probes 001 1 | awk '{ if ($1 ~ />x\/b$/) print; else print $1, $2, $3, $4, $5, $6, "ok" }')
tl_probe_expect --timeout 300 --tries 2 <<<"$expect"
[[ $TL_MISMATCH -eq 0 ]] || fail "after --cleanup: $TL_MISMATCH of $TL_PROBED probes wrong"
pass "after --cleanup: node-1's pods open, node-2's x/b still isolated ($TL_PROBED probes)"

node_exec node-1 "$TL_BUILD/netpold" --cleanup --table "$TL_TABLE" >>"$TL_TMP/node-1.log" 2>&1 ||
	fail "a second --cleanup (no table) failed"
pass "second --cleanup with no table: exit 0"
node_exec node-1 nft delete table inet bystander
node_exec node-1 nft delete table inet netpold2
echo "test_targeted_cleanup: passed"
