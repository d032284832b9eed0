# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# The test world: two "node" network namespaces joined by a veth link, and one namespace per
# pod routed to its node the way Calico/kindnet do it, each pod running podserver. netpold is
# then run inside the node namespaces and judged with probe. Source this file; see README.md.
#
# Every name this library creates starts with $WORLD_PREFIX (default np<PID>), and everything it
# creates is recorded under $WORLD_DIR so that world_destroy removes exactly that, even after a
# partial world_create. Nothing is created in the caller's own network namespace.

WORLD_PREFIX=${WORLD_PREFIX:-np$$}
WORLD_PORTS=${WORLD_PORTS:-80,81}
# All state is in files under WORLD_DIR, so a world_create run in a subshell (at the end of a
# pipe, say) is still seen, and cleaned up, by the parent shell.
WORLD_DIR=${WORLD_DIR:-${TMPDIR:-/tmp}/$WORLD_PREFIX.world}
if [[ -z ${WORLD_TOOLS:-} ]]; then
	if [[ -n ${NETPOLD_BUILD_DIR:-} ]]; then
		WORLD_TOOLS=$NETPOLD_BUILD_DIR
	else
		WORLD_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build
	fi
fi

# Fixed addressing (README.md): the node link, the pod ranges and the pods' gateways.
WORLD_NODES=(node-1 node-2)
declare -A WORLD_NODE_LINK4=([node-1]=192.168.77.1 [node-2]=192.168.77.2)
declare -A WORLD_NODE_LINK6=([node-1]=fd00:77::1 [node-2]=fd00:77::2)
declare -A WORLD_NODE_CIDR4=([node-1]=10.244.1.0/24 [node-2]=10.244.2.0/24)
declare -A WORLD_NODE_CIDR6=([node-1]=fd00:10:244:1::/64 [node-2]=fd00:10:244:2::/64)
WORLD_GW4=169.254.1.1
WORLD_GW6=fe80::1

_world_err() {
	echo "world: $*" >&2
}

# world_spec_lines FILE: the spec as 'POD_ID NODE IPV4 IPV6' lines on stdout. FILE is either that
# line format ('#' comments, IPV6 may be '-') or a JSON world file: every object carrying a
# nodeName (or node, or spec.nodeName) is a pod; its name is name or metadata.name, its
# namespace namespace, metadata.namespace or the name of the nearest enclosing object; its
# addresses ipv4 and ipv6, or else the first IPv4 and IPv6 literals found inside it. This reads
# tests/conformance/world.json.
world_spec_lines() {
	local file=$1 first

	first=$(grep -m1 -o '[^[:space:]]' "$file" | head -n1)
	[[ -n $first ]] || {
		_world_err "$file: empty spec"
		return 1
	}
	if [[ $first != '{' && $first != '[' ]]; then
		grep -v '^[[:space:]]*\(#\|$\)' "$file"
		return 0
	fi
	command -v jq >/dev/null || {
		_world_err "jq is needed to read $file"
		return 1
	}
	jq -r '
		def is4: test("^[0-9]{1,3}(\\.[0-9]{1,3}){3}$");
		def is6: test("^[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,7}$");
		def nodeof: .nodeName // .node // (.spec | objects | .nodeName) // null;
		. as $root
		| [paths(objects and (nodeof | type == "string"))]
		| map(select(.[-1] != "spec"))[] as $p
		| ($root | getpath($p)) as $o
		| ($o.name // $o.metadata.name
		   // (if ($p[-1] | type) == "string" then $p[-1] else null end)) as $name
		| ($o.namespace // $o.metadata.namespace
		   // ([range(($p | length) - 1; -1; -1) as $k | $root | getpath($p[0:$k])
		       | objects | .name | strings][0])) as $ns
		| ($o.ipv4 // [($o | .. | strings | select(is4))][0]) as $v4
		| ($o.ipv6 // [($o | .. | strings | select(is6))][0]) as $v6
		| select($name != null and $v4 != null)
		| "\(if $ns then "\($ns)/" else "" end)\($name) \($o | nodeof) \($v4) \($v6 // "-")"
	' "$file"
}

_world_sanitize() {
	local s=${1//\//-}

	echo "${s//[^A-Za-z0-9_.-]/_}"
}

# Runs ip's batch mode inside a namespace: one process for many commands.
_world_ip_batch() {
	local ns=$1

	ip -n "$ns" -batch - || {
		_world_err "ip commands failed in $ns"
		return 1
	}
}

_world_netns_add() {
	local ns=$1

	if [[ -e /run/netns/$ns ]]; then
		_world_err "netns $ns already exists"
		return 1
	fi
	ip netns add "$ns" || return 1
	echo "$ns" >>"$WORLD_DIR/netns"
}

# sysctls are per network namespace; /proc/sys/net shows the namespace of the writer. A new
# namespace inherits the host's IPv4 settings: arp_ignore/arp_filter are reset because the node
# answers ARP for 169.254.1.1, which lives on its lo, not on the pod's veth.
_world_sysctls() {
	local ns=$1 router=$2

	ip netns exec "$ns" sh -ec '
		cd /proc/sys/net
		for c in all default; do
			echo 0 >ipv6/conf/$c/accept_dad
			echo 0 >ipv6/conf/$c/accept_ra
			echo 0 >ipv4/conf/$c/arp_ignore
			echo 0 >ipv4/conf/$c/arp_filter
		done
		if [ "$1" = 1 ]; then
			echo 1 >ipv4/ip_forward
			echo 1 >ipv6/conf/all/forwarding
		fi
	' sh "$router"
}

_world_in_cidr() {
	local ip=$1 node=$2

	case $ip in
	*:*) [[ $ip == "${WORLD_NODE_CIDR6[$node]%%::/64}":* ]] ;;
	*) [[ $ip == "${WORLD_NODE_CIDR4[$node]%.0/24}".* ]] ;;
	esac
}

# world_create SPEC: build the world described by SPEC (a file, or - for stdin) and start a
# podserver in every pod. Returns non-zero on the first failure, leaving what was made recorded
# for world_destroy: callers set 'trap world_destroy EXIT' first.
world_create() {
	local spec=$1 lines id node v4 v6 ns veth extra k=0 n other
	local -A seen_ns=()

	if [[ ! -x $WORLD_TOOLS/podserver ]]; then
		_world_err "no podserver in $WORLD_TOOLS (set WORLD_TOOLS or NETPOLD_BUILD_DIR)"
		return 1
	fi
	# mkdir, not mkdir -p: fails if the directory (or anything by that name) exists.
	if ! mkdir -m 0700 "$WORLD_DIR"; then
		_world_err "cannot create $WORLD_DIR (a world with prefix $WORLD_PREFIX exists?)"
		return 1
	fi
	: >"$WORLD_DIR/netns"
	: >"$WORLD_DIR/pids"
	: >"$WORLD_DIR/pods"
	if [[ $spec == - ]]; then
		cat >"$WORLD_DIR/spec.in" || return 1
		spec=$WORLD_DIR/spec.in
	fi
	lines=$(world_spec_lines "$spec") || return 1

	# Validate everything before creating anything.
	while read -r id node v4 v6 extra; do
		[[ -z $id ]] && continue
		if [[ -n $extra || -z $v4 ]]; then
			_world_err "bad spec line: $id $node $v4 $v6 $extra"
			return 1
		fi
		if [[ -z ${WORLD_NODE_LINK4[$node]:-} ]]; then
			_world_err "pod $id: unknown node '$node' (node-1, node-2)"
			return 1
		fi
		ns=$WORLD_PREFIX-$(_world_sanitize "$id")
		if [[ -n ${seen_ns[$ns]:-} || $ns == "$WORLD_PREFIX-node-"[12] ]]; then
			_world_err "pod $id: duplicate or reserved name"
			return 1
		fi
		seen_ns[$ns]=1
		k=$((k + 1))
		echo "$id $node $v4 ${v6:--} $ns vp$k" >>"$WORLD_DIR/pods"
	done <<<"$lines"
	if [[ $k -eq 0 ]]; then
		_world_err "no pods in $1"
		return 1
	fi

	for node in "${WORLD_NODES[@]}"; do
		ns=$WORLD_PREFIX-$node
		_world_netns_add "$ns" || return 1
		_world_sysctls "$ns" 1 || return 1
	done
	ip -n "$WORLD_PREFIX-node-1" link add eth1 type veth peer name eth1 \
		netns "$WORLD_PREFIX-node-2" || return 1
	for node in "${WORLD_NODES[@]}"; do
		ns=$WORLD_PREFIX-$node
		other="node-1"
		[[ $node == node-1 ]] && other="node-2"
		_world_ip_batch "$ns" <<-EOF || return 1
			link set lo up
			addr add $WORLD_GW4/32 dev lo scope link
			addr add ${WORLD_NODE_LINK4[$node]}/24 dev eth1
			addr add ${WORLD_NODE_LINK6[$node]}/64 dev eth1 nodad
			link set eth1 up
			route add ${WORLD_NODE_CIDR4[$other]} via ${WORLD_NODE_LINK4[$other]} dev eth1
			route add ${WORLD_NODE_CIDR6[$other]} via ${WORLD_NODE_LINK6[$other]} dev eth1
		EOF
	done

	# Pods: eth0 holds the pod's /32 and /128; the gateways are link-local addresses the node
	# answers for (169.254.1.1 on its lo, fe80::1 on each host-side veth); the node routes
	# the pod's addresses to the host-side veth, and talks to its pods from its node-link
	# address, as a kubelet's probes come from the node's InternalIP.
	while read -r id node v4 v6 ns veth; do
		other="node-1"
		[[ $node == node-1 ]] && other="node-2"
		_world_netns_add "$ns" || return 1
		_world_sysctls "$ns" 0 || return 1
		ip -n "$WORLD_PREFIX-$node" link add "$veth" type veth peer name eth0 netns "$ns" ||
			return 1
		{
			echo "addr add $WORLD_GW6/64 dev $veth nodad"
			echo "link set $veth up"
			echo "route add $v4/32 dev $veth src ${WORLD_NODE_LINK4[$node]}"
			if [[ $v6 != - ]]; then
				echo "route add $v6/128 dev $veth src ${WORLD_NODE_LINK6[$node]}"
			fi
		} | _world_ip_batch "$WORLD_PREFIX-$node" || return 1
		{
			echo "link set lo up"
			echo "addr add $v4/32 dev eth0"
			if [[ $v6 != - ]]; then
				echo "addr add $v6/128 dev eth0 nodad"
			fi
			echo "link set eth0 up"
			echo "route add $WORLD_GW4/32 dev eth0 scope link"
			echo "route add default via $WORLD_GW4 dev eth0"
			# single-stack pods: under pipefail a false test here would fail the pipe
			if [[ $v6 != - ]]; then
				echo "route add default via $WORLD_GW6 dev eth0"
			fi
		} | _world_ip_batch "$ns" || return 1
		# A pod outside its node's range still gets reached through a host route.
		if ! _world_in_cidr "$v4" "$node"; then
			ip -n "$WORLD_PREFIX-$other" route add "$v4/32" via "${WORLD_NODE_LINK4[$node]}" ||
				return 1
		fi
		if [[ $v6 != - ]] && ! _world_in_cidr "$v6" "$node"; then
			ip -n "$WORLD_PREFIX-$other" -6 route add "$v6/128" \
				via "${WORLD_NODE_LINK6[$node]}" || return 1
		fi
	done <"$WORLD_DIR/pods"

	while read -r id node v4 v6 ns veth; do
		world_start_server "$id" || return 1
	done <"$WORLD_DIR/pods"
	n=$(wc -l <"$WORLD_DIR/pods")
	echo "world: $n pods on ${#WORLD_NODES[@]} nodes, prefix $WORLD_PREFIX, state $WORLD_DIR" >&2
}

# world_start_server POD [podserver args...]: start a podserver in POD (default ports
# $WORLD_PORTS); returns once it serves. Its PID is recorded for world_destroy.
world_start_server() {
	local id=$1 ns pidfile pid
	shift

	ns=$(world_pod_ns "$id") || return 1
	pidfile=$WORLD_DIR/podserver.$(_world_sanitize "$id").$(wc -l <"$WORLD_DIR/pids").pid
	if [[ $# -eq 0 ]]; then
		set -- --ports "$WORLD_PORTS"
	fi
	ip netns exec "$ns" "$WORLD_TOOLS/podserver" --daemon --pidfile "$pidfile" "$@" || {
		_world_err "podserver failed to start in $id"
		return 1
	}
	read -r pid <"$pidfile" || return 1
	echo "$pid $ns" >>"$WORLD_DIR/pids"
}

# world_stop_server POD: stop the podserver(s) this library started in POD.
world_stop_server() {
	local ns pid pns

	ns=$(world_pod_ns "$1") || return 1
	while read -r pid pns; do
		[[ $pns == "$ns" ]] && _world_kill "$pid"
	done <"$WORLD_DIR/pids"
	return 0
}

# True while PID runs; a zombie counts as gone (our daemons are reparented to PID 1, which
# may reap late).
_world_alive() {
	local stat

	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# Kills one process by PID; callers check first that it is one we started.
_world_kill() {
	local pid=$1 i

	_world_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		_world_alive "$pid" || return 0
		sleep 0.02
	done
	kill -KILL "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		_world_alive "$pid" || return 0
		sleep 0.02
	done
	_world_err "process $pid would not exit"
	return 1
}

_world_is_ours() {
	local pid=$1 ns=$2 comm

	[[ -r /proc/$pid/comm ]] || return 1
	read -r comm <"/proc/$pid/comm" 2>/dev/null || return 1
	[[ $comm == podserver ]] || return 1
	# Same network namespace as the one recorded (pods are never shared).
	[[ $(stat -L -c %d:%i "/proc/$pid/ns/net" 2>/dev/null) == \
		$(stat -L -c %d:%i "/run/netns/$ns" 2>/dev/null) ]]
}

# world_destroy: stop every recorded podserver, then any process still inside one of the
# world's namespaces, delete the namespaces (their veths go with them) and the state. Safe to
# call twice or after a partial world_create. Returns non-zero if something remained.
world_destroy() {
	local rc=0 pid ns left

	[[ -d $WORLD_DIR ]] || return 0
	if [[ -f $WORLD_DIR/pids ]]; then
		while read -r pid ns; do
			if _world_is_ours "$pid" "$ns"; then
				_world_kill "$pid" || rc=1
			fi
		done <"$WORLD_DIR/pids"
	fi
	if [[ -f $WORLD_DIR/netns ]]; then
		# Anything else still running in our namespaces (a daemon a test forgot) would
		# keep them alive after the names are gone.
		while read -r ns; do
			[[ -e /run/netns/$ns ]] || continue
			for pid in $(ip netns pids "$ns" 2>/dev/null); do
				_world_err "stopping leftover process $pid in $ns"
				_world_kill "$pid" || rc=1
			done
		done <"$WORLD_DIR/netns"
		tac "$WORLD_DIR/netns" | while read -r ns; do
			if [[ -e /run/netns/$ns ]]; then
				ip netns del "$ns" || _world_err "could not delete netns $ns"
			fi
		done
		left=$(while read -r ns; do
			if [[ -e /run/netns/$ns ]]; then echo "$ns"; fi
		done <"$WORLD_DIR/netns")
		if [[ -n $left ]]; then
			_world_err "namespaces left: $left"
			rc=1
		fi
	fi
	rm -rf -- "$WORLD_DIR"
	return $rc
}

# Lookups. POD is the ID from the spec (e.g. x/a); NODE is node-1 or node-2.
_world_pod_field() {
	local id=$1 field=$2 out

	out=$(awk -v id="$id" -v f="$field" '$1 == id { print $f; exit }' "$WORLD_DIR/pods")
	if [[ -z $out ]]; then
		_world_err "no pod '$id'"
		return 1
	fi
	echo "$out"
}

# world_pods: every pod ID, in spec order.
world_pods() {
	awk '{ print $1 }' "$WORLD_DIR/pods"
}

# world_pods_on NODE: the pods scheduled on NODE.
world_pods_on() {
	awk -v n="$1" '$2 == n { print $1 }' "$WORLD_DIR/pods"
}

world_pod_node() { _world_pod_field "$1" 2; }
world_pod_ns() { _world_pod_field "$1" 5; }
world_pod_veth() { _world_pod_field "$1" 6; }

# world_pod_ip POD [4|6]: the pod's address in that family (default 4).
world_pod_ip() {
	case ${2:-4} in
	4) _world_pod_field "$1" 3 ;;
	6) _world_pod_field "$1" 4 ;;
	*) _world_err "family must be 4 or 6" && return 1 ;;
	esac
}

world_node_ns() {
	if [[ -z ${WORLD_NODE_LINK4[$1]:-} ]]; then
		_world_err "no node '$1'"
		return 1
	fi
	echo "$WORLD_PREFIX-$1"
}

# node_exec NODE CMD...: run CMD inside the node's namespace (where netpold runs).
node_exec() {
	local ns

	ns=$(world_node_ns "$1") || return 1
	shift
	ip netns exec "$ns" "$@"
}

# pod_exec POD CMD...: run CMD inside the pod's namespace.
pod_exec() {
	local ns

	ns=$(world_pod_ns "$1") || return 1
	shift
	ip netns exec "$ns" "$@"
}

# world_matrix [PORTS] [PROTOS] [FAMILIES]: every pod to every pod (itself included) as
# world_probe input lines, ID 'FROM>TO:vFAMILY:PROTO:PORT'. Defaults: "80 81", "tcp udp sctp",
# "4 6". Pods without an IPv6 address are left out of family 6.
world_matrix() {
	local ports=${1:-80 81} protos=${2:-tcp udp sctp} fams=${3:-4 6}

	awk -v ports="$ports" -v protos="$protos" -v fams="$fams" '
		{ id[NR] = $1; v6[NR] = $4 }
		END {
			np = split(ports, P, " ")
			nr = split(protos, R, " ")
			nf = split(fams, F, " ")
			for (i = 1; i <= NR; i++)
			for (j = 1; j <= NR; j++)
			for (f = 1; f <= nf; f++) {
				if (F[f] == 6 && (v6[i] == "-" || v6[j] == "-"))
					continue
				for (r = 1; r <= nr; r++)
				for (p = 1; p <= np; p++)
					printf "%s>%s:v%s:%s:%s %s %s %s %s %s\n", id[i], id[j],
						F[f], R[r], P[p], id[i], id[j], F[f], P[p], R[r]
			}
		}' "$WORLD_DIR/pods"
}

# world_probe [probe options]: read 'ID FROM TO FAMILY PORT PROTO' lines on stdin and print
# probe's 'ID ok|fail(REASON)' lines. FROM is a pod ID or a node name; TO is a pod ID (its
# address in FAMILY) or an IP literal (FAMILY then ignored).
world_probe() {
	awk -v prefix="$WORLD_PREFIX" '
		FNR == NR { ns[$1] = $5; ip4[$1] = $3; ip6[$1] = $4; next }
		/^[[:space:]]*(#|$)/ { next }
		{
			from = ($2 in ns) ? ns[$2] : ($2 ~ /^node-[12]$/ ? prefix "-" $2 : "")
			if (from == "") {
				print "world_probe: unknown source " $2 > "/dev/stderr"
				exit 1
			}
			if ($3 in ns) dst = ($4 == 6) ? ip6[$3] : ip4[$3]
			else dst = $3
			if (dst == "-" || dst == "") {
				print "world_probe: no address for " $3 " v" $4 > "/dev/stderr"
				exit 1
			}
			print $1, from, dst, $5, $6
		}' "$WORLD_DIR/pods" - | "$WORLD_TOOLS/probe" "$@"
	local st=("${PIPESTATUS[@]}")

	[[ ${st[0]} -eq 0 ]] || return 2
	return "${st[1]}"
}
