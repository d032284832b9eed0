#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The systemd integration: systemd/netpold.service carries the directives docs/operations.md
# promises; "cmake --install" into a DESTDIR installs the unit (with this prefix's paths written
# in), the sysusers.d entry and the example configuration; systemd-analyze verify accepts the
# installed unit; the example configuration parses. As root (in a network namespace of its own),
# netpold speaks the notify protocol: READY=1 after programming, STATUS=, WATCHDOG=1 at half
# WATCHDOG_USEC, STOPPING=1 on SIGTERM.
set -uo pipefail

src=${NETPOLD_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${NETPOLD_BUILD_DIR:-$src/build}
bin=$build/netpold
unit=$src/systemd/netpold.service

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
pass() { echo "ok: $*"; }

[[ -x $bin ]] || fail "no $bin (build first)"
command -v systemd-analyze >/dev/null || {
	echo "test_systemd_units: systemd-analyze missing" >&2
	exit 77
}

TMP=$(mktemp -d /tmp/npunit.XXXXXX)
NS=
PID=
LPID=
cleanup() {
	[[ -n $PID ]] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	[[ -n $LPID ]] && kill -TERM "$LPID" 2>/dev/null && wait "$LPID" 2>/dev/null
	[[ -n $NS ]] && ip netns del "$NS" 2>/dev/null
	rm -rf -- "$TMP"
}
trap cleanup EXIT

# 1. The directives the issue and docs/operations.md promise.
want=(
	"Type=notify" "WatchdogSec=30s" "Restart=on-failure" "User=netpold" "DynamicUser=no"
	"AmbientCapabilities=CAP_NET_ADMIN" "CapabilityBoundingSet=CAP_NET_ADMIN"
	"NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "RuntimeDirectory=netpold"
	"RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6"
	"SystemCallFilter=@system-service" "ProtectKernelModules=yes" "ProtectKernelTunables=yes"
	"ExecStart=/usr/sbin/netpold --config /etc/netpold/netpold.conf"
	"RestartPreventExitStatus=2 3" "WantedBy=multi-user.target"
)
for d in "${want[@]}"; do
	grep -qxF -- "$d" "$unit" || fail "$unit lacks \"$d\""
done
# what would break netlink or the host's nftables: a private network or user namespace
for d in PrivateNetwork=yes PrivateUsers=yes; do
	grep -qxF -- "$d" "$unit" && fail "$unit has $d (netpold programs the host namespace)"
done
pass "netpold.service has the ${#want[@]} required directives and no PrivateNetwork/PrivateUsers"

# 2. cmake --install into a DESTDIR.
dest=$TMP/root
DESTDIR=$dest cmake --install "$build" >"$TMP/install.log" 2>&1 || {
	cat "$TMP/install.log" >&2
	fail "cmake --install failed"
}
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
installed=$(find "$dest" -path '*/systemd/system/netpold.service' | head -n1)
[[ -f $installed ]] || fail "no netpold.service installed: $(cat "$TMP/install.log")"
sysusers=$(find "$dest" -path '*/sysusers.d/netpold.conf' | head -n1)
[[ -f $sysusers ]] || fail "no sysusers.d/netpold.conf installed"
exec_line=$(sed -n 's/^ExecStart=//p' "$installed")
exe=${exec_line%% *}
conf=${exec_line##* }
[[ $exe == "$prefix"/* ]] || fail "installed ExecStart $exe is not under the prefix $prefix"
[[ -x $dest$exe ]] || fail "ExecStart $exe not installed ($dest$exe)"
[[ -f $dest$conf ]] || fail "configuration $conf not installed"
grep -q '^u netpold ' "$sysusers" || fail "sysusers entry does not create user netpold"
pass "installed: $installed, $sysusers, $conf"

# 3. systemd-analyze verify: the installed unit with ExecStart pointing into the DESTDIR.
mkdir -p "$TMP/verify"
sed "s|^ExecStart=$exe|ExecStart=$dest$exe|" "$installed" >"$TMP/verify/netpold.service"
if ! (cd "$TMP/verify" && systemd-analyze verify --man=no ./netpold.service) >"$TMP/verify.log" 2>&1; then
	cat "$TMP/verify.log" >&2
	fail "systemd-analyze verify rejected the unit"
fi
[[ -s $TMP/verify.log ]] && { cat "$TMP/verify.log" >&2; fail "systemd-analyze verify warned"; }
pass "systemd-analyze verify accepts the installed unit"
if systemd-analyze security --offline=yes "$TMP/verify/netpold.service" >"$TMP/sec.log" 2>&1; then
	grep -o 'Overall exposure level.*' "$TMP/sec.log" | sed 's/^/info: /'
fi

# 4. sysusers.d syntax, without touching the system's users.
if command -v systemd-sysusers >/dev/null; then
	out=$(systemd-sysusers --dry-run --root="$dest" "$sysusers" 2>&1) ||
		fail "systemd-sysusers rejects $sysusers: $out"
	grep -q "user 'netpold'" <<<"$out" || fail "systemd-sysusers would not create netpold: $out"
	pass "systemd-sysusers --dry-run creates user netpold"
fi

# 5. The example configuration parses (--version reads and checks the file first).
"$bin" --config "$src/systemd/netpold.conf" --version >/dev/null 2>"$TMP/conf.err" ||
	fail "example configuration rejected: $(cat "$TMP/conf.err")"
pass "systemd/netpold.conf parses"

# 6. The notify protocol, when we may run netpold (root, network namespaces).
if [[ $(id -u) -ne 0 ]] || ! command -v python3 >/dev/null || ! ip netns add "npunit-$$" 2>/dev/null; then
	echo "skip: notify protocol (needs root, python3 and network namespaces)"
	exit 0
fi
NS=npunit-$$
ip -n "$NS" link set lo up
mkdir -p "$TMP/m"
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n' >"$TMP/m/ns.yaml"
python3 - "$TMP/notify.sock" "$TMP/notify.log" <<-'PY' &
	import socket, sys
	s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	s.bind(sys.argv[1])
	with open(sys.argv[2], "a", buffering=1) as log:
	    while True:
	        for line in s.recv(4096).decode().splitlines():
	            log.write(line + "\n")
PY
LPID=$!
for _ in $(seq 100); do [[ -S $TMP/notify.sock ]] && break; sleep 0.02; done
: >"$TMP/empty.conf"
NOTIFY_SOCKET=$TMP/notify.sock WATCHDOG_USEC=200000 ip netns exec "$NS" "$bin" \
	--manifests "$TMP/m" --node-name node-1 --table npunit --status-socket "$TMP/run/s.sock" \
	--config "$TMP/empty.conf" >"$TMP/netpold.log" 2>&1 &
PID=$!
for _ in $(seq 150); do
	[[ $(grep -c '^WATCHDOG=1$' "$TMP/notify.log" 2>/dev/null) -ge 5 ]] && break
	sleep 0.02
done
kill -TERM "$PID"
wait "$PID"
rc=$?
PID=
for _ in $(seq 50); do grep -q '^STOPPING=1$' "$TMP/notify.log" && break; sleep 0.02; done
ip netns exec "$NS" "$bin" --cleanup --table npunit --config "$TMP/empty.conf" >/dev/null 2>&1
[[ $rc == 0 ]] || fail "netpold exited $rc: $(cat "$TMP/netpold.log")"
grep -q '^READY=1$' "$TMP/notify.log" || fail "no READY=1: $(cat "$TMP/notify.log")"
grep -q '^STATUS=enforcing' "$TMP/notify.log" || fail "no STATUS=enforcing"
n=$(grep -c '^WATCHDOG=1$' "$TMP/notify.log")
[[ $n -ge 5 ]] || fail "only $n WATCHDOG=1 in 3 s with WATCHDOG_USEC=200000"
grep -q '^STOPPING=1$' "$TMP/notify.log" || fail "no STOPPING=1"
pass "notify protocol: READY=1, STATUS=enforcing, $n x WATCHDOG=1, STOPPING=1"
exit 0
