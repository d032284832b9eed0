#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2015 # "a && b || c" is meant as written here
#
# Builds the binaries of netpold's e2e test cluster from Go modules, through
# the Go module proxy, and caches them by version outside the repository:
#
#   $NETPOLD_E2E_CACHE/k8s-<ver>/{kube-apiserver,kubectl}
#   $NETPOLD_E2E_CACHE/etcd-<ver>/etcd
#   $NETPOLD_E2E_CACHE/gomod, $NETPOLD_E2E_CACHE/gocache   (module and build caches)
#
# NETPOLD_E2E_CACHE defaults to /var/cache/netpold-e2e. The versions come
# from tests/e2e/k8s/go.mod and tests/e2e/etcd/go.mod. Idempotent: when the
# cached binaries exist and report the expected version it does nothing.
#
# Usage: build-cluster.sh [--print-env]
#   --print-env  print shell assignments (E2E_KUBE_APISERVER=..., E2E_KUBECTL=...,
#                E2E_ETCD=...) instead of the human-readable summary, for eval.
# Exit: 0 ok, 1 build failed, 77 no Go toolchain can be had.
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${NETPOLD_E2E_CACHE:-/var/cache/netpold-e2e}

print_env=0
[ "${1:-}" = "--print-env" ] && print_env=1

log() { echo "build-cluster: $*" >&2; }

modver() { # modver GOMOD MODULE -> version required in GOMOD
	awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) && $0 !~ /=>/ {
		for (i = 1; i <= NF; i++) if ($i ~ /^v[0-9]/) { print $i; exit } }' "$1"
}

K8S_VERSION=$(modver "$E2E_DIR/k8s/go.mod" k8s.io/kubernetes)
ETCD_VERSION=$(modver "$E2E_DIR/etcd/go.mod" go.etcd.io/etcd/server/v3)
[ -n "$K8S_VERSION" ] && [ -n "$ETCD_VERSION" ] || { log "cannot read versions from go.mod"; exit 1; }

K8S_DIR=$CACHE/k8s-$K8S_VERSION
ETCD_DIR=$CACHE/etcd-$ETCD_VERSION
KUBE_APISERVER=$K8S_DIR/kube-apiserver
KUBECTL=$K8S_DIR/kubectl
ETCD=$ETCD_DIR/etcd

k8s_minor=${K8S_VERSION#v}; k8s_major=${k8s_minor%%.*}; k8s_minor=${k8s_minor#*.}; k8s_minor=${k8s_minor%%.*}

apiserver_ok() { [ -x "$KUBE_APISERVER" ] && [ "$("$KUBE_APISERVER" --version 2>/dev/null)" = "Kubernetes $K8S_VERSION" ]; }
# (capture first: "cmd | grep -q" fails under pipefail when grep exits early)
kubectl_ok() {
	local out
	[ -x "$KUBECTL" ] && out=$("$KUBECTL" version --client 2>/dev/null) &&
		grep -qx "Client Version: $K8S_VERSION" <<<"$out"
}
etcd_ok() {
	local out
	[ -x "$ETCD" ] && out=$("$ETCD" --version 2>/dev/null) && grep -qx "etcd Version: ${ETCD_VERSION#v}" <<<"$out"
}
all_ok() { apiserver_ok && kubectl_ok && etcd_ok; }

report() {
	if [ $print_env = 1 ]; then
		printf 'E2E_KUBE_APISERVER=%q\nE2E_KUBECTL=%q\nE2E_ETCD=%q\nE2E_K8S_VERSION=%q\nE2E_ETCD_VERSION=%q\n' \
			"$KUBE_APISERVER" "$KUBECTL" "$ETCD" "$K8S_VERSION" "$ETCD_VERSION"
	else
		echo "kube-apiserver $K8S_VERSION: $KUBE_APISERVER"
		echo "kubectl        $K8S_VERSION: $KUBECTL"
		echo "etcd           $ETCD_VERSION: $ETCD"
	fi
}

if all_ok; then report; exit 0; fi

mkdir -p "$CACHE"
# One builder at a time; a second caller waits, then finds the binaries built.
exec 9>"$CACHE/.build.lock"
flock 9
if all_ok; then report; exit 0; fi

if ! command -v go >/dev/null 2>&1; then
	for d in /usr/local/go/bin /usr/lib/go/bin; do [ -x "$d/go" ] && PATH=$d:$PATH; done
fi
if ! command -v go >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	# Debian's Go may be older than the modules need; GOTOOLCHAIN=auto then
	# fetches the required toolchain through the Go module proxy.
	log "installing golang-go"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go ca-certificates >&2 || true
fi
command -v go >/dev/null 2>&1 || { log "no Go toolchain"; exit 77; }

export GOMODCACHE=$CACHE/gomod GOCACHE=$CACHE/gocache
export GOFLAGS="-modcacherw -buildvcs=false"
export CGO_ENABLED=0 GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
# Two cores are shared: -p 2, and keep the compiler itself from fanning out.
export GOMAXPROCS=${GOMAXPROCS:-2}
JOBS=${NETPOLD_E2E_BUILD_JOBS:-2}

gobuild() { # gobuild MODDIR OUT PKG LDFLAGS
	local tmp="$2.tmp.$$"
	mkdir -p "$(dirname "$2")"
	log "go build $3 -> $2"
	(cd "$1" && go build -p "$JOBS" -trimpath -ldflags "-s -w $4" -o "$tmp" "$3") || { rm -f "$tmp"; return 1; }
	mv -f "$tmp" "$2"
}

start=$(date +%s)
log "building into $CACHE with $(go version) (GOMODCACHE=$GOMODCACHE)"

kver=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kver+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$k8s_major -X $p.gitMinor=$k8s_minor -X $p.gitTreeState=clean"
done
etcd_ok || gobuild "$E2E_DIR/etcd" "$ETCD" go.etcd.io/etcd/server/v3 ""
apiserver_ok || gobuild "$E2E_DIR/k8s" "$KUBE_APISERVER" k8s.io/kubernetes/cmd/kube-apiserver "$kver"
kubectl_ok || gobuild "$E2E_DIR/k8s" "$KUBECTL" k8s.io/kubernetes/cmd/kubectl "$kver"

all_ok || { log "built binaries do not report the expected versions"; exit 1; }
log "built in $(( $(date +%s) - start )) s"
report
