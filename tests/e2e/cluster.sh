#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2015,SC2119,SC2120 # "a && b || c" as meant; optional args
#
# A throw-away Kubernetes control plane (etcd + kube-apiserver, no scheduler,
# no kubelet, no controller-manager) on 127.0.0.1 for netpold's e2e tests.
#
# As a library (source it):
#   . tests/e2e/cluster.sh
#   cluster_start "$(mktemp -d)"      # or cluster_start DIR; DIR must be new or empty
#   trap cluster_stop EXIT
#   kubectl get ns                    # KUBECONFIG is the admin's
#   apiserver_stop; apiserver_start   # restart on the same etcd and port
#
# As a command:
#   cluster.sh start DIR   # starts, prints the environment (eval-able), leaves it running
#   cluster.sh stop DIR    # stops what "start DIR" started and removes DIR
#   cluster.sh env DIR     # prints the environment of a running cluster
#
# After cluster_start (or cluster_load DIR) these are exported:
#   CLUSTER_DIR CLUSTER_SERVER (https://127.0.0.1:PORT) CLUSTER_APISERVER_PORT
#   CLUSTER_ETCD_URL CLUSTER_CA CLUSTER_ADMIN_TOKEN CLUSTER_NETPOLD_TOKEN
#   CLUSTER_ADMIN_KUBECONFIG CLUSTER_NETPOLD_KUBECONFIG KUBECONFIG (= admin)
#   CLUSTER_NETPOLD_CLIENT_CERT/_KEY (client certificate, CN=netpold)
#   E2E_KUBE_APISERVER E2E_KUBECTL E2E_ETCD, and PATH starts with kubectl's folder.
# Users: "admin" (token, group system:masters) and "netpold" (token or client
# certificate, no groups but system:authenticated; RBAC denies it everything
# until a test binds a role).
#
# Functions return non-zero on failure; they do not exit the caller.

CLUSTER_E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER_MARKER=.netpold-e2e-cluster

cluster_log() { echo "cluster: $*" >&2; }

# Finds (building if needed) the binaries; sets E2E_KUBE_APISERVER, E2E_KUBECTL, E2E_ETCD.
# Returns 77 when no Go toolchain can be had to build them.
cluster_bins() {
	[ -n "${E2E_KUBE_APISERVER:-}" ] && [ -x "$E2E_KUBE_APISERVER" ] &&
		[ -x "${E2E_KUBECTL:-}" ] && [ -x "${E2E_ETCD:-}" ] && return 0
	local out rc=0
	out=$("$CLUSTER_E2E_DIR/build-cluster.sh" --print-env) || rc=$?
	[ $rc = 0 ] || return $rc
	eval "$out"
	export E2E_KUBE_APISERVER E2E_KUBECTL E2E_ETCD E2E_K8S_VERSION E2E_ETCD_VERSION
}

# Prints a TCP port on 127.0.0.1 with nothing listening on it, below the
# ephemeral range so that outgoing connections do not take it meanwhile.
cluster_free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		if command -v ss >/dev/null 2>&1; then
			[ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] || continue
		else
			(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
		fi
		echo "$p"
		return 0
	done
	return 1
}

cluster_certs() {
	local d=$CLUSTER_DIR/pki
	mkdir -p "$d" && chmod 700 "$d" || return 1
	(
		set -e
		cd "$d"
		ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
		# shellcheck disable=SC2086
		openssl req -x509 $ec -keyout ca.key -out ca.crt -days 7 -subj "/CN=netpold-e2e-ca" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
		cat >server.ext <<-EOF
			basicConstraints=CA:FALSE
			keyUsage=critical,digitalSignature,keyEncipherment
			extendedKeyUsage=serverAuth
			subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
		EOF
		# shellcheck disable=SC2086
		openssl req -new $ec -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver"
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
			-extfile server.ext -out apiserver.crt
		printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >client.ext
		# shellcheck disable=SC2086
		openssl req -new $ec -keyout netpold-client.key -out netpold-client.csr -subj "/CN=netpold"
		openssl x509 -req -in netpold-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
			-extfile client.ext -out netpold-client.crt
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key
		openssl pkey -in sa.key -pubout -out sa.pub
		rm -f ./*.csr ./*.srl
	) >"$CLUSTER_DIR/openssl.log" 2>&1 || { cluster_log "openssl failed:"; cat "$CLUSTER_DIR/openssl.log" >&2; return 1; }
	CLUSTER_CA=$d/ca.crt
	CLUSTER_NETPOLD_CLIENT_CERT=$d/netpold-client.crt
	CLUSTER_NETPOLD_CLIENT_KEY=$d/netpold-client.key
}

cluster_tokens() {
	CLUSTER_ADMIN_TOKEN=$(openssl rand -hex 24) && CLUSTER_NETPOLD_TOKEN=$(openssl rand -hex 24) || return 1
	# token,user,uid[,"groups"]; everyone authenticated also gets system:authenticated.
	{
		echo "$CLUSTER_ADMIN_TOKEN,admin,admin-uid,\"system:masters\""
		echo "$CLUSTER_NETPOLD_TOKEN,netpold,netpold-uid"
	} >"$CLUSTER_DIR/tokens.csv" && chmod 600 "$CLUSTER_DIR/tokens.csv"
}

# cluster_write_kubeconfig FILE USER TOKEN [SERVER [TLS_SERVER_NAME]]: a kubeconfig (mode 600)
# for USER with TOKEN, trusting the cluster's CA; SERVER defaults to $CLUSTER_SERVER.
cluster_write_kubeconfig() {
	cat >"$1" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: netpold-e2e
		  cluster:
		    server: ${4:-$CLUSTER_SERVER}
		    certificate-authority: $CLUSTER_CA${5:+
		    tls-server-name: $5}
		users:
		- name: $2
		  user:
		    token: $3
		contexts:
		- name: $2@netpold-e2e
		  context:
		    cluster: netpold-e2e
		    user: $2
		current-context: $2@netpold-e2e
	EOF
	chmod 600 "$1"
}

# cluster_rbac_netpold RESOURCES [SUBJECT]: ClusterRole netpold (get, list, watch of the core
# RESOURCES, e.g. "pods, namespaces", and of networkpolicies) bound to SUBJECT (default: user
# netpold). Returns kubectl's status.
cluster_rbac_netpold() {
	kubectl apply -f - >/dev/null <<-EOF
		apiVersion: rbac.authorization.k8s.io/v1
		kind: ClusterRole
		metadata: {name: netpold}
		rules:
		- apiGroups: [""]
		  resources: [$1]
		  verbs: [get, list, watch]
		- apiGroups: [networking.k8s.io]
		  resources: [networkpolicies]
		  verbs: [get, list, watch]
		---
		apiVersion: rbac.authorization.k8s.io/v1
		kind: ClusterRoleBinding
		metadata: {name: netpold}
		roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: netpold}
		subjects:
		- ${2:-"{apiGroup: rbac.authorization.k8s.io, kind: User, name: netpold}"}
	EOF
}

cluster_save_env() {
	local v f=$CLUSTER_DIR/cluster.env
	: >"$f.tmp" || return 1
	for v in CLUSTER_DIR CLUSTER_SERVER CLUSTER_APISERVER_PORT CLUSTER_ETCD_URL CLUSTER_ETCD_CLIENT_PORT \
		CLUSTER_ETCD_PEER_PORT CLUSTER_CA CLUSTER_ADMIN_TOKEN CLUSTER_NETPOLD_TOKEN \
		CLUSTER_ADMIN_KUBECONFIG CLUSTER_NETPOLD_KUBECONFIG CLUSTER_NETPOLD_CLIENT_CERT \
		CLUSTER_NETPOLD_CLIENT_KEY E2E_KUBE_APISERVER E2E_KUBECTL E2E_ETCD; do
		printf 'export %s=%q\n' "$v" "${!v:-}" >>"$f.tmp"
	done
	printf 'export KUBECONFIG=%q\n' "${CLUSTER_ADMIN_KUBECONFIG:-}" >>"$f.tmp"
	# shellcheck disable=SC2016
	[ -z "${E2E_KUBECTL:-}" ] || printf 'export PATH=%q:"$PATH"\n' "$(dirname "$E2E_KUBECTL")" >>"$f.tmp"
	mv -f "$f.tmp" "$f"
}

# cluster_load DIR: adopt a cluster started elsewhere (e.g. by "cluster.sh start DIR").
cluster_load() {
	[ -f "$1/cluster.env" ] || { cluster_log "$1: no cluster.env"; return 1; }
	# shellcheck disable=SC1091
	. "$1/cluster.env"
	case ":$PATH:" in *":$(dirname "$E2E_KUBECTL"):"*) ;; *) PATH=$(dirname "$E2E_KUBECTL"):$PATH ;; esac
	export PATH
}

# cluster_pid NAME: prints the recorded PID of NAME (etcd|apiserver) if that
# process is still alive and is the one we started (its command line names
# our data folder), so a reused PID is never signalled.
cluster_pid() {
	local f=$CLUSTER_DIR/$1.pid pid
	[ -f "$f" ] || return 1
	pid=$(cat "$f")
	[ -n "$pid" ] && cluster_alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$CLUSTER_DIR/" || return 1
	echo "$pid"
}

# cluster_alive PID: true while PID exists and is not a zombie.
cluster_alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# cluster_kill NAME [TIMEOUT [SIGNAL]]: SIGTERM (or SIGNAL), wait, then
# SIGKILL the process we started.
cluster_kill() {
	local pid i t=${2:-30}
	pid=$(cluster_pid "$1") || { rm -f "$CLUSTER_DIR/$1.pid"; return 0; }
	kill -"${3:-TERM}" "$pid" 2>/dev/null
	for ((i = 0; i < t * 10; i++)); do
		cluster_alive "$pid" || break
		sleep 0.1
	done
	if cluster_alive "$pid"; then
		cluster_log "$1 (pid $pid) ignored SIGTERM for ${t}s; SIGKILL"
		kill -KILL "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do cluster_alive "$pid" || break; sleep 0.1; done
	fi
	rm -f "$CLUSTER_DIR/$1.pid"
	return 0
}

# cluster_spawn NAME LOG CMD...: start CMD in the background, record its PID.
cluster_spawn() {
	local name=$1 log=$2
	shift 2
	"$@" </dev/null >>"$log" 2>&1 &
	echo $! >"$CLUSTER_DIR/$name.pid"
	# not a job of this shell: no "Killed" notices, and it is still reaped
	disown $! 2>/dev/null || true
}

etcd_start() {
	local url fixed=0
	# a restart (after etcd_stop) keeps its ports and data
	[ -n "${CLUSTER_ETCD_CLIENT_PORT:-}" ] && fixed=1
	if cluster_pid etcd >/dev/null; then cluster_log "etcd already running"; return 1; fi
	for _ in 1 2 3; do
		if [ $fixed = 0 ]; then
			CLUSTER_ETCD_CLIENT_PORT=$(cluster_free_port) && CLUSTER_ETCD_PEER_PORT=$(cluster_free_port) || return 1
			[ "$CLUSTER_ETCD_CLIENT_PORT" != "$CLUSTER_ETCD_PEER_PORT" ] || continue
		fi
		url=http://127.0.0.1:$CLUSTER_ETCD_CLIENT_PORT
		cluster_spawn etcd "$CLUSTER_DIR/etcd.log" "$E2E_ETCD" \
			--name netpold-e2e --data-dir "$CLUSTER_DIR/etcd-data" \
			--listen-client-urls "$url" --advertise-client-urls "$url" \
			--listen-peer-urls "http://127.0.0.1:$CLUSTER_ETCD_PEER_PORT" \
			--initial-advertise-peer-urls "http://127.0.0.1:$CLUSTER_ETCD_PEER_PORT" \
			--initial-cluster "netpold-e2e=http://127.0.0.1:$CLUSTER_ETCD_PEER_PORT" \
			--initial-cluster-state new --log-level warn --unsafe-no-fsync \
			--quota-backend-bytes $((1 << 30))
		local i
		for ((i = 0; i < 300; i++)); do
			if curl -fsS --max-time 2 "$url/health" 2>/dev/null | grep -q '"health":"true"'; then
				CLUSTER_ETCD_URL=$url
				export CLUSTER_ETCD_URL CLUSTER_ETCD_CLIENT_PORT CLUSTER_ETCD_PEER_PORT
				return 0
			fi
			cluster_pid etcd >/dev/null || break
			sleep 0.1
		done
		cluster_kill etcd 5
		if [ $fixed = 0 ] && grep -q "address already in use" "$CLUSTER_DIR/etcd.log"; then
			cluster_log "etcd port taken; retrying with other ports"
			rm -rf "$CLUSTER_DIR/etcd-data"
			continue
		fi
		break
	done
	cluster_log "etcd did not become healthy; last lines of $CLUSTER_DIR/etcd.log:"
	tail -n 30 "$CLUSTER_DIR/etcd.log" >&2
	return 1
}

# etcd_stop [--kill]: graceful stop (can take ~7 s while kube-apiserver is
# connected), or with --kill a crash (SIGKILL; no data is lost since only the
# process dies).
etcd_stop() {
	if [ "${1:-}" = --kill ]; then cluster_kill etcd 10 KILL; else cluster_kill etcd 20; fi
}

# apiserver_start: start kube-apiserver on the cluster's etcd; on the first
# start it picks a free port, later starts (after apiserver_stop) reuse it.
# Extra arguments are passed to kube-apiserver (e.g. --feature-gates=...).
apiserver_start() {
	local fixed=0 rc
	[ -n "${CLUSTER_APISERVER_PORT:-}" ] && fixed=1
	if cluster_pid apiserver >/dev/null; then cluster_log "apiserver already running"; return 1; fi
	for _ in 1 2 3; do
		if [ $fixed = 0 ]; then
			CLUSTER_APISERVER_PORT=$(cluster_free_port) || return 1
		fi
		CLUSTER_SERVER=https://127.0.0.1:$CLUSTER_APISERVER_PORT
		export CLUSTER_APISERVER_PORT CLUSTER_SERVER
		echo "=== start $(date -u +%FT%TZ) port $CLUSTER_APISERVER_PORT" >>"$CLUSTER_DIR/apiserver.log"
		cluster_spawn apiserver "$CLUSTER_DIR/apiserver.log" "$E2E_KUBE_APISERVER" \
			--bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
			--secure-port="$CLUSTER_APISERVER_PORT" \
			--etcd-servers="$CLUSTER_ETCD_URL" \
			--cert-dir="$CLUSTER_DIR/apiserver-certs" \
			--tls-cert-file="$CLUSTER_DIR/pki/apiserver.crt" \
			--tls-private-key-file="$CLUSTER_DIR/pki/apiserver.key" \
			--client-ca-file="$CLUSTER_CA" \
			--token-auth-file="$CLUSTER_DIR/tokens.csv" \
			--authorization-mode=RBAC \
			--endpoint-reconciler-type=none \
			--service-account-issuer=https://kubernetes.default.svc.cluster.local \
			--service-account-key-file="$CLUSTER_DIR/pki/sa.pub" \
			--service-account-signing-key-file="$CLUSTER_DIR/pki/sa.key" \
			--service-cluster-ip-range=10.96.0.0/16 \
			--disable-admission-plugins=ServiceAccount \
			--enable-priority-and-fairness=false \
			--profiling=false \
			--v="${NETPOLD_E2E_APISERVER_V:-1}" \
			"$@"
		rc=0
		cluster_wait_ready 60 || rc=$?
		[ $rc = 0 ] && return 0
		cluster_kill apiserver 10
		if [ $fixed = 0 ] && tail -n 50 "$CLUSTER_DIR/apiserver.log" | grep -q "address already in use"; then
			cluster_log "apiserver port taken; retrying with another port"
			continue
		fi
		break
	done
	cluster_log "kube-apiserver did not become ready; last lines of $CLUSTER_DIR/apiserver.log:"
	tail -n 40 "$CLUSTER_DIR/apiserver.log" >&2
	return 1
}

# apiserver_stop [--kill]: graceful stop, or with --kill a crash (SIGKILL).
apiserver_stop() {
	if [ "${1:-}" = --kill ]; then cluster_kill apiserver 10 KILL; else cluster_kill apiserver 30; fi
}

# cluster_wait_ready [SECONDS]: poll /readyz with the admin token and the CA.
cluster_wait_ready() {
	local t=${1:-60} i out
	for ((i = 0; i < t * 4; i++)); do
		out=$(curl -sS --max-time 2 --cacert "$CLUSTER_CA" -H "Authorization: Bearer $CLUSTER_ADMIN_TOKEN" \
			"$CLUSTER_SERVER/readyz" 2>/dev/null) && [ "$out" = ok ] && return 0
		cluster_pid apiserver >/dev/null || { cluster_log "kube-apiserver exited"; return 1; }
		sleep 0.25
	done
	cluster_log "timed out after ${t}s waiting for $CLUSTER_SERVER/readyz (last answer: ${out:-none})"
	return 1
}

# cluster_start DIR [kube-apiserver args...]
cluster_start() {
	local dir=${1:?cluster_start DIR}
	shift
	cluster_bins || return $?
	command -v openssl >/dev/null && command -v curl >/dev/null || { cluster_log "needs openssl and curl"; return 77; }
	if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
		cluster_log "$dir exists and is not empty"
		return 1
	fi
	mkdir -p "$dir" || return 1
	CLUSTER_DIR=$(cd "$dir" && pwd)
	export CLUSTER_DIR
	: >"$CLUSTER_DIR/$CLUSTER_MARKER"
	unset CLUSTER_APISERVER_PORT CLUSTER_ETCD_CLIENT_PORT CLUSTER_ETCD_PEER_PORT
	cluster_certs && cluster_tokens || { cluster_stop; return 1; }
	export CLUSTER_CA CLUSTER_ADMIN_TOKEN CLUSTER_NETPOLD_TOKEN CLUSTER_NETPOLD_CLIENT_CERT CLUSTER_NETPOLD_CLIENT_KEY
	etcd_start || { cluster_stop; return 1; }
	cluster_save_env
	apiserver_start "$@" || { cluster_stop; return 1; }
	CLUSTER_ADMIN_KUBECONFIG=$CLUSTER_DIR/admin.kubeconfig
	CLUSTER_NETPOLD_KUBECONFIG=$CLUSTER_DIR/netpold.kubeconfig
	cluster_write_kubeconfig "$CLUSTER_ADMIN_KUBECONFIG" admin "$CLUSTER_ADMIN_TOKEN"
	cluster_write_kubeconfig "$CLUSTER_NETPOLD_KUBECONFIG" netpold "$CLUSTER_NETPOLD_TOKEN"
	KUBECONFIG=$CLUSTER_ADMIN_KUBECONFIG
	export CLUSTER_ADMIN_KUBECONFIG CLUSTER_NETPOLD_KUBECONFIG KUBECONFIG
	case ":$PATH:" in *":$(dirname "$E2E_KUBECTL"):"*) ;; *) PATH=$(dirname "$E2E_KUBECTL"):$PATH ;; esac
	export PATH
	cluster_save_env
	cluster_log "up: $CLUSTER_SERVER (etcd $CLUSTER_ETCD_URL, data $CLUSTER_DIR)"
}

# cluster_dump_logs [LINES]: print the tails of the component logs (for failures).
cluster_dump_logs() {
	local f n=${1:-40}
	[ -n "${CLUSTER_DIR:-}" ] || return 0
	for f in "$CLUSTER_DIR"/etcd.log "$CLUSTER_DIR"/apiserver.log; do
		[ -f "$f" ] || continue
		echo "----- last $n lines of $f" >&2
		tail -n "$n" "$f" >&2
	done
}

# cluster_stop [DIR]: stop what cluster_start started (by recorded PID) and
# remove the data folder. Safe to call twice, from a trap, or on a half-started
# cluster. NETPOLD_E2E_KEEP=1 keeps the folder (logs) for inspection.
cluster_stop() {
	if [ -n "${1:-}" ]; then CLUSTER_DIR=$(cd "$1" 2>/dev/null && pwd) || return 0; fi
	[ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ] || return 0
	if [ ! -e "$CLUSTER_DIR/$CLUSTER_MARKER" ]; then
		cluster_log "$CLUSTER_DIR is not a netpold e2e cluster folder; not touching it"
		return 1
	fi
	apiserver_stop
	etcd_stop
	if [ "${NETPOLD_E2E_KEEP:-0}" = 1 ]; then
		cluster_log "stopped; kept $CLUSTER_DIR"
	else
		rm -rf "$CLUSTER_DIR"
	fi
	unset CLUSTER_DIR
	return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -uo pipefail
	case "${1:-} ${2:+x}" in
	"start x")
		dir=$2
		shift 2
		cluster_start "$dir" "$@" || exit $?
		cat "$CLUSTER_DIR/cluster.env"
		;;
	"stop x") cluster_stop "$2" ;;
	"env x") cat "$2/cluster.env" ;;
	*)
		echo "usage: $0 start DIR [kube-apiserver args...] | stop DIR | env DIR" >&2
		exit 2
		;;
	esac
fi
