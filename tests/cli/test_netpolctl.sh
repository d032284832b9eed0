#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# netpolctl offline mode on examples/ and tests/data/ctl/: explain verdicts
# (with the policy and rule that decided), matrix cells, exit statuses and
# error messages. Exit 0 pass, 1 fail.
set -uo pipefail

src=${NETPOLD_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${NETPOLD_BUILD_DIR:-$src/build}
ctl=$build/netpolctl
ex=$src/examples
bad=$src/tests/data/ctl

if [ ! -x "$ctl" ]; then
	echo "FAIL: $ctl not built"
	exit 1
fi
command -v python3 >/dev/null || { echo "FAIL: python3 needed"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
n=0

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# run NAME EXPECTED_STATUS ARGS...: runs netpolctl, keeps stdout/stderr in $out/$err.
run() {
	local name=$1 want=$2
	shift 2
	n=$((n + 1))
	"$ctl" "$@" >"$tmp/out" 2>"$tmp/err"
	status=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
	if [ "$status" -ne "$want" ]; then
		fail "$name: exit status $status, expected $want (netpolctl $*)"
		sed 's/^/    | /' "$tmp/out" "$tmp/err"
		return 1
	fi
	return 0
}

# has NAME TEXT: $out (or $err with has_err) contains TEXT.
has() {
	grep -qF -- "$2" <<<"$out" || { fail "$1: output lacks '$2'"; sed 's/^/    | /' "$tmp/out"; }
}
has_err() {
	grep -qF -- "$2" <<<"$err" || { fail "$1: stderr lacks '$2'"; sed 's/^/    | /' "$tmp/err"; }
}
# json NAME PYTHON_EXPR: evaluates EXPR with the parsed stdout as j; must be true.
json() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
		"$tmp/out" "$2" || { fail "$1: JSON check failed: $2"; sed 's/^/    | /' "$tmp/out"; }
}

E="explain --manifests $ex"

# --- allowed, with the rule that allowed it ---
run web-api 0 $E --from frontend/web --to backend/api --port 80 &&
	{ has web-api "ALLOWED"; has web-api "allowed by backend/api-ingress spec.ingress[0]"; }
run web-api-json 0 $E --from frontend/web --to backend/api --port 80 --json &&
	json web-api-json 'j["allowed"] and j["ingress"]["allowed_by"] == {"policy":"backend/api-ingress","direction":"ingress","rule":0,"peer":0,"port":0} and not j["egress"]["isolated"] and j["family"] == 4'
run prom-db-metrics 0 $E --from monitoring/prometheus --to secure/db --port 81 --json &&
	json prom-db-metrics 'j["ingress"]["allowed_by"]["policy"] == "secure/db-metrics" and j["egress"]["allowed_by"]["policy"] == "monitoring/prometheus-egress"'
run api-web-ipblock 0 $E --from backend/api --to frontend/web --port 80 &&
	{ has api-web-ipblock "frontend/web-ingress spec.ingress[0]"; has api-web-ipblock "ipBlock 10.244.0.0/16 except 10.244.2.0/24"; }
run api-web-ipv6 0 $E --from backend/api --to frontend/web --port 80 --family 6 --json &&
	json api-web-ipv6 'j["family"] == 6 and j["ingress"]["allowed_by"]["peer"] == 1'
run db-api-udp 0 $E --from secure/db --to backend/api --port 81 --protocol UDP --json &&
	json db-api-udp 'j["protocol"] == "UDP" and j["egress"]["allowed_by"]["policy"] == "secure/db-egress-udp" and j["ingress"]["allowed_by"]["rule"] == 2'
run web-api-sctp 0 $E --from frontend/web --to backend/api --port 80 --protocol sctp --json &&
	json web-api-sctp 'j["ingress"]["allowed_by"]["rule"] == 2 and j["ingress"]["allowed_by"]["port"] == 1'
run debug-legacy-allowall 0 $E --from dev/debug --to dev/legacy --port 5000 --json &&
	json debug-legacy-allowall 'j["ingress"]["allowed_by"] == {"policy":"dev/allow-all-ingress","direction":"ingress","rule":0,"peer":-1,"port":-1}'
run self 0 $E --from backend/worker --to backend/worker --port 80 && has self "same pod"
run by-ip 0 $E --from 10.244.1.10 --to backend/api --port 80 --json &&
	json by-ip 'j["from"]["pod"] == "frontend/web"'

# --- denied, naming the policies that deny ---
run api-db-81 1 $E --from backend/api --to secure/db --port 81 &&
	{ has api-db-81 "DENIED"; has api-db-81 "secure/db-metrics"; has api-db-81 "secure/default-deny-ingress"; }
run api-db-81-json 1 $E --from backend/api --to secure/db --port 81 --json &&
	json api-db-81-json 'not j["allowed"] and not j["ingress"]["allowed"] and "secure/db-from-api" in j["ingress"]["isolating"] and j["ingress"]["allowed_by"] is None'
run debug-api 1 $E --from dev/debug --to backend/api --port 80 --json &&
	json debug-api 'j["egress"]["isolating"] == ["dev/debug-egress"] and not j["egress"]["allowed"]'
run web-worker 1 $E --from frontend/web --to backend/worker --port 80 --json &&
	json web-worker 'j["ingress"]["isolating"] == ["backend/worker-egress"] and not j["ingress"]["allowed"]'
run worker-web 1 $E --from backend/worker --to frontend/web --port 80 &&
	has worker-web "backend/worker-egress"
run bare-ip 1 $E --from 192.168.0.5 --to frontend/web --port 80 --json &&
	json bare-ip 'j["from"]["pod"] is None and not j["egress"]["checked"] and not j["allowed"]'
run prom-legacy 1 $E --from monitoring/prometheus --to dev/legacy --port 80 --json &&
	json prom-legacy 'not j["egress"]["allowed"] and j["ingress"]["allowed"]'

# --- services: one verdict per backend, named targetPort resolved per pod ---
run svc-http 0 $E --from frontend/web --to svc/backend/api --port 8080 --json &&
	json svc-http 'j["allowed"] and [(b["backend"], b["target_port"]) for b in j["backends"]] == [("backend/api", 80), ("backend/api-v2", 81)]'
run svc-metrics 1 $E --from monitoring/prometheus --to svc/backend/api --port 9090 &&
	{ has svc-metrics "backend backend/api, target port 81"; has svc-metrics "DENIED: 1 of 2 backends allowed"; has svc-metrics "http/TCP (named: 81 on backend/api-v2)"; }
run svc-noport 2 $E --from frontend/web --to svc/backend/api --port 1234 &&
	has_err svc-noport "service backend/api has no port 1234/TCP"

# --- matrix ---
run matrix 0 matrix --manifests "$ex" --port 80 &&
	{ has matrix "frontend/web"; [ "$(head -c1 <<<"$out")" = "-" ] || fail "matrix: header must start with '-'"; }
run matrix-json 0 matrix --manifests "$ex" --port 80 --json &&
	json matrix-json 'len(j) == 8 and j["frontend/web"]["backend/api"] and not j["backend/api"]["backend/worker"] and j["backend/worker"]["backend/worker"] and not j["secure/db"]["frontend/web"] and j["backend/api-v2"]["secure/db"] and not j["monitoring/prometheus"]["backend/api-v2"]'
run matrix-ns 0 matrix --manifests "$ex" --port 81 --namespaces secure,monitoring --json &&
	json matrix-ns 'sorted(j) == ["monitoring/prometheus", "secure/db"] and j["monitoring/prometheus"]["secure/db"]'
run matrix-v6 0 matrix --manifests "$ex" --port 80 --family 6 --json &&
	{ json matrix-v6 'len(j) == 7 and "dev/legacy" not in j'; has_err matrix-v6 "skipping dev/legacy: no IPv6 address"; }

# --- diagnostics do not stop the command ---
run diag 0 explain --manifests "$bad" --from t/client --to t/server --port 80 &&
	{ has diag "ALLOWED"; has_err diag "10-bad.yaml:"; has_err diag "t/bad-cidr"; has_err diag "t/bad-port"; }
run global-manifests 1 --manifests "$bad" explain --from t/client --to t/server --port 81

# --- errors: exit status 2 with a clear message ---
run unknown-pod 2 $E --from frontend/nope --to backend/api --port 80 && has_err unknown-pod "pod frontend/nope not found"
run unknown-ns 2 $E --from nons/x --to backend/api --port 80 && has_err unknown-ns "no namespace nons"
run unknown-svc 2 $E --from frontend/web --to svc/backend/nope --port 80 && has_err unknown-svc "service backend/nope not found"
run bad-endpoint 2 $E --from a/b/c --to backend/api --port 80 && has_err bad-endpoint "expected NAMESPACE/POD"
run bad-port 2 $E --from frontend/web --to backend/api --port 0 && has_err bad-port "--port"
run bad-port2 2 $E --from frontend/web --to backend/api --port 80x && has_err bad-port2 "--port"
run bad-proto 2 $E --from frontend/web --to backend/api --port 80 --protocol ICMP && has_err bad-proto "--protocol"
run bad-family 2 $E --from frontend/web --to backend/api --port 80 --family 5 && has_err bad-family "--family"
run no-v6 2 explain --manifests "$bad" --from t/client --to t/server --port 80 --family 6 &&
	has_err no-v6 "t/client has no IPv6 address"
run pending 2 explain --manifests "$bad" --from t/client --to t/pending --port 80 &&
	has_err pending "t/pending has no IP address"
run missing-args 2 $E --from frontend/web --port 80 && has_err missing-args "required"
run missing-manifests 2 explain --from a/b --to c/d --port 80 && has_err missing-manifests "--manifests DIR is required"
run no-dir 2 matrix --manifests "$tmp/none" --port 80 && has_err no-dir "cannot read manifests"
run unknown-cmd 2 frobnicate && has_err unknown-cmd 'unknown command "frobnicate"'
run no-cmd 2 && has_err no-cmd "missing command"
run socket 2 --socket "$tmp/no.sock" explain --from a/b --to c/d --port 80 && has_err socket "cannot talk to netpold on $tmp/no.sock"
run live-only 2 --manifests "$ex" status && has_err live-only "asks a running netpold"
run help 0 --help && { has help "explain"; has help "matrix"; }
run explain-help 0 explain --help && has explain-help "svc/NAMESPACE/NAME"
run version 0 --version && has version "netpolctl "

echo "$((n - fails))/$n netpolctl checks passed"
[ "$fails" -eq 0 ] || exit 1
exit 0
