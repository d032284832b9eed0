#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Established connections across a policy change. docs/dataplane.md: the forward and input
# chains accept 'ct state established,related' before any per-pod chain, so a connection
# allowed when it was opened keeps working, both ways, until it closes, even after a policy
# change that denies it; new connections are judged by the new policy at once.
#
# Three long-lived TCP connections (bash /dev/tcp clients inside pods, a line echo server in
# python3 on port 8080 of the server pods), opened while no policy exists:
#   C1 x/b -> x/a IPv4, across nodes      newly denied by x's default deny ingress (case 001)
#   C2 x/c -> x/a IPv6, on node-1         same policy
#   C3 z/a -> y/a IPv4, across nodes      newly denied by a default deny egress in z
# After the change: each still echoes, several times; a new connection for the same pair is
# denied (probe: timeout); once the client closes, reconnecting is denied too.
# Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

# shellcheck source=tests/world/targeted_lib.sh
source "$(dirname "$0")/targeted_lib.sh"
tl_init established
tl_world
tl_start node-1
tl_start node-2
tl_sync
PORT=8080

# a line echo server, IPv4 and IPv6, one thread per connection
server='
import socket, sys, threading
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.listen(16)
def serve(c):
    try:
        with c:
            for line in c.makefile("rb"):
                c.sendall(line)
    except OSError:
        pass  # probes reset their connections
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'
declare -a SERVERS=()
for p in x/a y/a; do
	ip netns exec "$(world_pod_ns "$p")" python3 -c "$server" "$PORT" >>"$TL_TMP/server.log" 2>&1 &
	SERVERS+=($!)
done
stop_servers() {
	local pid
	for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null; done
}
TL_AT_EXIT+=(stop_servers)
# startup only: until both servers accept
for ((i = 0; ; i++)); do
	out=$(printf 'up1 x/b x/a 4 %s tcp\nup2 z/a y/a 4 %s tcp\n' "$PORT" "$PORT" |
		world_probe --timeout 200)
	[[ $(grep -c ' ok$' <<<"$out") == 2 ]] && break
	[[ $i -lt 100 ]] || fail "echo servers not listening: $out"
	sleep 0.05
done

# client NAME FROM DST_IP: a bash client in FROM holding one connection to DST_IP:8080; each
# line written to it is sent, and 'got LINE' or 'lost' comes back (2 s to answer).
declare -A CIN=() COUT=() CPID=()
client() {
	local name=$1 from=$2 ip=$3 dir=$TL_TMP/client-$1

	mkdir "$dir" && mkfifo "$dir/in" "$dir/out" || fail "fifos"
	# the other clients' fifo ends must not leak into this one (or they never see EOF)
	(
	for fd in "${CIN[@]}" "${COUT[@]}"; do eval "exec $fd>&-"; done
	exec ip netns exec "$(world_pod_ns "$from")" bash -c '
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		while read -r line; do
			echo "$line" >&3
			if read -r -t 2 reply <&3; then echo "got $reply"; else echo lost; fi
		done
		exec 3>&-' sh "$ip" "$PORT"
	) <"$dir/in" >"$dir/out" 2>>"$TL_TMP/client.log" &
	CPID[$name]=$!
	exec {fd}>"$dir/in"
	CIN[$name]=$fd
	exec {fd}<"$dir/out"
	COUT[$name]=$fd
}
# ping NAME WORD: one round trip on the connection; fails the test unless echoed
ping() {
	local name=$1 word=$2 reply
	echo "$word" 2>/dev/null 1>&"${CIN[$name]}" || fail "$name: client gone"
	read -r -t 5 reply <&"${COUT[$name]}" || reply="(no answer)"
	[[ $reply == "got $word" ]] || fail "$name: sent $word, got $reply"
}
close_client() {
	local name=$1 fd
	fd=${CIN[$name]}
	exec {fd}>&-
	wait "${CPID[$name]}" || fail "$name: client exited with an error"
	fd=${COUT[$name]}
	exec {fd}<&-
}

client C1 x/b "$(world_pod_ip x/a 4)"
client C2 x/c "$(world_pod_ip x/a 6)"
client C3 z/a "$(world_pod_ip y/a 4)"
for c in C1 C2 C3; do ping "$c" hello; done
pass "three connections open and echoing (no policy)"

# the pairs, as probes of new connections on the same port (and on 80)
new_conns() {
	local want=$1
	cat <<-EOF
		C1:$PORT x/b x/a 4 $PORT tcp $want
		C1:80 x/b x/a 4 80 tcp $want
		C2:$PORT x/c x/a 6 $PORT tcp $want
		C2:80 x/c x/a 6 80 tcp $want
		C3:$PORT z/a y/a 4 $PORT tcp $want
		C3:80 z/a y/a 4 80 tcp $want
	EOF
}
tl_probe_expect --timeout 300 --tries 2 < <(new_conns ok)
[[ $TL_MISMATCH -eq 0 ]] || fail "new connections not allowed before the policy change"

# the change: x denies all ingress, z denies all egress
tl_case_manifests 001 1
tl_put 20-NetworkPolicy-z-deny-egress.json <<-'EOF'
	{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	 "metadata": {"name": "deny-egress", "namespace": "z"},
	 "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}
EOF
tl_sync
jq -e '.counts.policies == 2' <<<"${TL_ST[node-1]}" >/dev/null || fail "policies not loaded: ${TL_ST[node-1]}"

tl_probe_expect --timeout 300 --tries 2 < <(new_conns "fail(timeout)")
[[ $TL_MISMATCH -eq 0 ]] || fail "new connections not denied after the policy change"
pass "after the change: new connections for the three pairs are denied (ports $PORT and 80)"

for i in 1 2 3; do
	for c in C1 C2 C3; do ping "$c" "after-change-$i"; done
done
pass "the three established connections still echo both ways (3 round trips each)"

# a sync with nothing new changes nothing for them
tl_sync
for c in C1 C2 C3; do ping "$c" "after-resync"; done

for c in C1 C2 C3; do close_client "$c"; done
tl_probe_expect --timeout 300 --tries 2 < <(new_conns "fail(timeout)")
[[ $TL_MISMATCH -eq 0 ]] || fail "reconnecting after the close is not denied"
# and a fresh bash client cannot connect either
if ip netns exec "$(world_pod_ns x/b)" timeout 2 bash -c \
	"exec 3<>/dev/tcp/$(world_pod_ip x/a 4)/$PORT" 2>/dev/null; then
	fail "x/b reconnected to x/a:$PORT after the close"
fi
pass "once closed, reconnecting is denied"
stop_servers
echo "test_targeted_established: passed"
