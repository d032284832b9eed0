#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# netpold keeps CAP_NET_ADMIN and nothing else (daemon/caps.c): started as root in a fresh network
# namespace its effective, permitted and bounding sets are exactly CAP_NET_ADMIN (bit 12) and it
# still programs its table; started as a non-root user holding CAP_NET_ADMIN as an ambient
# capability (setpriv) it works as well; --user switches from root to another user keeping only
# CAP_NET_ADMIN; without CAP_NET_ADMIN it says so. Also measures netpold's peak RSS (VmHWM).
# Exits 77 only when network namespaces cannot be made.
set -uo pipefail

# shellcheck source=tests/world/node_lib.sh
source "$(dirname "$0")/node_lib.sh"
bin=$build/netpold

np_preamble test_privileges "network namespaces, nftables" "$bin" ip nft curl jq setpriv

NS=nppriv-$$
TMP=$(mktemp -d /tmp/nppriv.XXXXXX)
chmod 755 "$TMP"
M=$TMP/manifests
LOG=$TMP/netpold.log
EMPTY=$TMP/empty.conf
: >"$EMPTY"
chmod 644 "$EMPTY"
PID=
NET_ADMIN_MASK=0000000000001000

stop_daemon() {
	np_stop_pid "$PID" 250
	PID=
}
cleanup() {
	stop_daemon
	ip netns del "$NS" 2>/dev/null
	rm -rf -- "$TMP"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	echo "--- netpold log" >&2
	cat "$LOG" >&2 2>/dev/null
	exit 1
}
pass() { echo "ok: $*"; }

np_netns test_privileges "$NS"

mkdir -p "$M"
np_demo_deny_all >"$M/all.yaml"
chmod -R a+rX "$M"

# cap_field PID NAME: the hex mask of CapEff/CapPrm/CapBnd/CapInh/CapAmb.
cap_field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# wait_ready SOCKET: poll GET /v1/status until ready (10 s at most).
wait_ready() {
	local out
	for _ in $(seq 200); do
		kill -0 "$PID" 2>/dev/null || fail "netpold exited: $(cat "$LOG")"
		out=$(curl -sS --max-time 2 --unix-socket "$1" http://localhost/v1/status 2>/dev/null) &&
			[[ $(jq -r .ready <<<"$out" 2>/dev/null) == true ]] && return 0
		sleep 0.05
	done
	fail "netpold did not become ready on $1 (last: ${out:-none})"
}

# check_caps WHAT: the running daemon holds CAP_NET_ADMIN only.
check_caps() {
	local f v
	for f in CapEff CapPrm; do
		v=$(cap_field "$PID" $f)
		[[ $v == "$NET_ADMIN_MASK" ]] || fail "$1: $f is $v, expected $NET_ADMIN_MASK"
	done
	for f in CapInh CapAmb; do
		v=$(cap_field "$PID" $f)
		[[ $v == 0000000000000000 ]] || fail "$1: $f is $v, expected none"
	done
	[[ $(awk '$1 == "NoNewPrivs:" {print $2}' "/proc/$PID/status") == 1 ]] ||
		fail "$1: NoNewPrivs not set"
}

check_table() {
	ip netns exec "$NS" nft list table inet "$1" >"$TMP/table.txt" 2>&1 ||
		fail "$2: table inet $1 missing: $(cat "$TMP/table.txt")"
	grep -q 10.244.1.10 "$TMP/table.txt" || fail "$2: pod address not programmed in inet $1"
}

hwm() { awk '$1 == "VmHWM:" {print $2 " " $3}' "/proc/$PID/status"; }

# 1. root: drops to CAP_NET_ADMIN alone, bounding set included, and still programs its table.
S1=$TMP/root/netpold.sock
ip netns exec "$NS" "$bin" --manifests "$M" --node-name node-1 --table privroot \
	--status-socket "$S1" --config "$EMPTY" >"$LOG" 2>&1 &
PID=$!
wait_ready "$S1"
check_caps root
bnd=$(cap_field "$PID" CapBnd)
[[ $bnd == "$NET_ADMIN_MASK" ]] || fail "root: CapBnd is $bnd, expected $NET_ADMIN_MASK"
[[ $(awk '$1 == "Uid:" {print $2}' "/proc/$PID/status") == 0 ]] || fail "root: uid changed"
check_table privroot root
pass "root: CapEff=CapPrm=CapBnd=$NET_ADMIN_MASK, CapInh=CapAmb=0, NoNewPrivs, table programmed"
echo "footprint: 1 local pod, 1 policy: VmHWM $(hwm)"
stop_daemon
ip netns exec "$NS" "$bin" --cleanup --table privroot --config "$EMPTY" >>"$LOG" 2>&1 ||
	fail "root: --cleanup failed"

# 2. non-root with an ambient CAP_NET_ADMIN, its status socket in a folder it owns.
mkdir -p "$TMP/nobody"
chown nobody:nogroup "$TMP/nobody"
S2=$TMP/nobody/netpold.sock
ip netns exec "$NS" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	--inh-caps=+net_admin --ambient-caps=+net_admin \
	"$bin" --manifests "$M" --node-name node-1 --table privuser \
	--status-socket "$S2" --config "$EMPTY" >"$LOG" 2>&1 &
PID=$!
wait_ready "$S2"
check_caps "ambient non-root"
[[ $(awk '$1 == "Uid:" {print $2}' "/proc/$PID/status") == "$(id -u nobody)" ]] ||
	fail "ambient non-root: not running as nobody"
[[ $(stat -c %U "$S2") == nobody ]] || fail "ambient non-root: socket not owned by nobody"
check_table privuser "ambient non-root"
pass "non-root (nobody) with ambient CAP_NET_ADMIN: CAP_NET_ADMIN only, socket and table made"
stop_daemon
ip netns exec "$NS" "$bin" --cleanup --table privuser --config "$EMPTY" >>"$LOG" 2>&1 ||
	fail "ambient non-root: --cleanup failed"

# 3. root with --user: switches, keeps CAP_NET_ADMIN (KEEPCAPS), bounding set dropped.
S3=$TMP/nobody/user.sock
ip netns exec "$NS" "$bin" --user nobody --manifests "$M" --node-name node-1 --table privsw \
	--status-socket "$S3" --config "$EMPTY" >"$LOG" 2>&1 &
PID=$!
wait_ready "$S3"
check_caps "--user"
[[ $(cap_field "$PID" CapBnd) == "$NET_ADMIN_MASK" ]] || fail "--user: bounding set not dropped"
read -r _ ruid euid suid _ < <(grep '^Uid:' "/proc/$PID/status")
nb=$(id -u nobody)
[[ $ruid == "$nb" && $euid == "$nb" && $suid == "$nb" ]] || fail "--user: uids $ruid $euid $suid"
check_table privsw "--user"
pass "--user nobody from root: uid $nb, CAP_NET_ADMIN only, table programmed"
stop_daemon
ip netns exec "$NS" "$bin" --cleanup --table privsw --config "$EMPTY" >>"$LOG" 2>&1 ||
	fail "--user: --cleanup failed"

# 4. --user without the privilege to switch, and an unknown user: exit 1 with a message.
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$bin" --user root --manifests "$M" \
	--node-name node-1 --config "$EMPTY" 2>&1)
rc=$?
[[ $rc == 1 && $out == *"CAP_SETUID"* ]] || fail "--user as non-root: rc $rc, $out"
out=$("$bin" --user no-such-user-np --manifests "$M" --node-name node-1 --config "$EMPTY" 2>&1)
rc=$?
[[ $rc == 1 && $out == *"unknown user"* ]] || fail "--user unknown: rc $rc, $out"
pass "--user refused without CAP_SETUID and for an unknown user (exit 1)"

# 5. non-root without CAP_NET_ADMIN: a warning, then the dataplane refuses.
S5=$TMP/nobody/nocap.sock
ip netns exec "$NS" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$bin" --manifests "$M" --node-name node-1 --table privnocap \
	--status-socket "$S5" --config "$EMPTY" >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q "without CAP_NET_ADMIN" "$LOG" && break; sleep 0.05; done
grep -q "without CAP_NET_ADMIN" "$LOG" || fail "no warning without CAP_NET_ADMIN"
stop_daemon
ip netns exec "$NS" nft list table inet privnocap >/dev/null 2>&1 && fail "table made without CAP_NET_ADMIN"
pass "without CAP_NET_ADMIN: warned, no table"
exit 0
