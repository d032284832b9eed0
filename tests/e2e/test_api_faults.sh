#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2015 # "a && b || c" is meant as written here
#
# API faults against a real kube-apiserver (tests/e2e/cluster.sh). netpold runs in the host
# network namespace with its own table and status socket and talks to the API server through a
# TLS-terminating fault proxy (python3, in this script): it serves the cluster's own serving
# certificate (so the kubeconfig's CA verifies it), offers only HTTP/1.1, forwards every
# request to the real API server, and on command (a file RESOURCE.ACTION in its command folder,
# consumed when applied) damages the next list or watch answer of that resource:
#
#   list-truncate    a list body cut in the middle, connection closed
#   list-garbage     a list answered 200 with a body that is not JSON
#   garbage          a watch stream gets a line of garbage before the next event
#   badevent         a watch stream gets well-formed JSON events that are not valid events
#   truncate         a watch event cut in the middle, connection reset
#   truncate-clean   a watch event cut in the middle, then a clean end of the stream
#   huge             a watch stream gets a 9 MiB line (over the 8 MiB event bound)
#
# After each: netpold is alive, its log names the error, and a change made through the API
# server right after the damage is programmed (converged). Then kube-apiserver is SIGKILLed:
# the table stays byte-identical while it is down, the status says degraded with a reason, and
# after a restart changes converge; then etcd is SIGKILLed and restarted the same way.
# Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

# shellcheck source=e2e_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
E2E_POLL=0.02
E2E_CLUSTER_LOG_LINES=20
# shellcheck disable=SC2317 # called from the EXIT trap
e2e_dump_more() {
	echo "--- proxy log (last 20 lines)"
	tail -n 20 "$WORK/proxy.log" 2>/dev/null
}
e2e_init "netpold_apif_$$" netpold-e2e-apif
CMD=$WORK/proxy-cmd
mkdir -p "$CMD"

# ---- the fault proxy ------------------------------------------------------------------------
cat >"$WORK/proxy.py" <<'EOF'
import asyncio, os, re, ssl, sys, time

listen_port_file, upstream_port, cert, key, ca, cmd_dir, log_path = sys.argv[1:8]
logf = open(log_path, "a", buffering=1)
def log(*a):
    logf.write("%.3f %s\n" % (time.time(), " ".join(str(x) for x in a)))

def take(resource, actions):
    """The first armed command among actions for resource; consumed."""
    for a in actions:
        p = os.path.join(cmd_dir, "%s.%s" % (resource, a))
        try:
            os.unlink(p)
            log("applied", resource, a)
            return a
        except FileNotFoundError:
            pass
    return None

def resource_of(path):
    m = re.match(r"^/(?:api/v1|apis/[^/]+/[^/]+)/(?:namespaces/[^/]+/)?([a-z]+)", path)
    return m.group(1) if m else "?"

async def read_head(r):
    head = await r.readuntil(b"\r\n\r\n")
    return head

def headers(head):
    lines = head.decode("latin-1").split("\r\n")
    h = {}
    for l in lines[1:]:
        if ":" in l:
            k, v = l.split(":", 1)
            h[k.strip().lower()] = v.strip()
    return lines[0], h

async def handle(cr, cw):
    sctx = ssl.create_default_context(cafile=ca)
    sctx.set_alpn_protocols(["http/1.1"])
    try:
        ur, uw = await asyncio.open_connection("127.0.0.1", int(upstream_port), ssl=sctx,
                                               server_hostname="127.0.0.1")
    except Exception as e:
        log("upstream connect failed:", e)
        cw.close()
        return
    try:
        while True:
            try:
                head = await read_head(cr)
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            first, h = headers(head)
            method, path = first.split(" ")[:2]
            # no compression: the damage is done on plain bytes
            lines = [l for l in head.decode("latin-1").split("\r\n")
                     if not l.lower().startswith("accept-encoding:")]
            uw.write("\r\n".join(lines).encode("latin-1"))
            n = int(h.get("content-length", "0") or 0)
            if n:
                uw.write(await cr.readexactly(n))
            await uw.drain()
            res = resource_of(path)
            watch = "watch=1" in path or "watch=true" in path
            rhead = await read_head(ur)
            status, rh = headers(rhead)
            log(method, path[:120], "->", status)
            if not watch and method == "GET":
                a = take(res, ["list-truncate", "list-garbage"])
                if a == "list-garbage":
                    body = b'{"kind":"PodList","items":[{"metadata": garbage ]]] \x00\xff'
                    cw.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(body) + body)
                    await cw.drain()
                    break
                if a == "list-truncate":
                    cw.write(rhead)
                    data = await read_body(ur, rh)
                    if rh.get("transfer-encoding", "").lower() == "chunked":
                        half = data[: len(data) // 2]
                        cw.write(b"%x\r\n" % len(half) + half + b"\r\n")
                    else:
                        cw.write(data[: len(data) // 2])
                    await cw.drain()
                    break
            cw.write(rhead)
            await cw.drain()
            if rh.get("transfer-encoding", "").lower() == "chunked":
                if not await pump_chunks(ur, cw, res if watch else None):
                    break
            elif "content-length" in rh:
                cw.write(await ur.readexactly(int(rh["content-length"])))
                await cw.drain()
            else:
                while True:
                    b = await ur.read(65536)
                    if not b:
                        break
                    cw.write(b)
                    await cw.drain()
                break
            if rh.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError) as e:
        log("connection ended:", type(e).__name__, e)
    finally:
        for w in (cw, uw):
            try:
                w.close()
            except Exception:
                pass

async def read_body(ur, rh):
    if rh.get("transfer-encoding", "").lower() == "chunked":
        out = b""
        while True:
            size = int((await ur.readuntil(b"\r\n")).split(b";")[0], 16)
            data = await ur.readexactly(size + 2)
            if size == 0:
                return out
            out += data[:-2]
    return await ur.readexactly(int(rh.get("content-length", "0")))

def chunk(b):
    return b"%x\r\n" % len(b) + b + b"\r\n"

async def pump_chunks(ur, cw, watch_res):
    """Forward a chunked body; for a watch, apply armed commands. False: connection cut."""
    while True:
        size = int((await ur.readuntil(b"\r\n")).split(b";")[0], 16)
        data = await ur.readexactly(size + 2)
        payload = data[:-2]
        if size == 0:
            cw.write(b"0\r\n\r\n")
            await cw.drain()
            return True
        if watch_res:
            a = take(watch_res, ["garbage", "badevent", "truncate", "truncate-clean", "huge"])
            if a == "garbage":
                cw.write(chunk(b"this is not JSON {{{ \x01\x02\n"))
            elif a == "badevent":
                # a valid event with an invalid object first (the watch goes on), then
                # events that are not events (the watch is dropped)
                cw.write(chunk(b'{"type":"ADDED","object":{"metadata":{"name":"ghost","namespace":"demo",'
                               b'"resourceVersion":"1"},"spec":{"nodeName":"node-1"},'
                               b'"status":{"podIP":"10.244.1.300"}}}\n'
                               b'{"type":"ADDED","object":42}\n'
                               b'{"type":"BOGUS","object":{}}\n'
                               b'[1,2,3]\n'))
            elif a == "huge":
                cw.write(chunk(b'{"type":"ADDED","object":{"metadata":{"name":"' +
                               b"h" * (9 << 20) + b'"}}}\n'))
            elif a in ("truncate", "truncate-clean"):
                half = payload[: max(1, len(payload) // 2)]
                cw.write(chunk(half))
                if a == "truncate-clean":
                    cw.write(b"0\r\n\r\n")
                await cw.drain()
                return False
        cw.write(chunk(payload))
        await cw.drain()

async def main():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    srv = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    port = srv.sockets[0].getsockname()[1]
    with open(listen_port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(listen_port_file + ".tmp", listen_port_file)
    log("listening on", port)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
EOF
python3 "$WORK/proxy.py" "$WORK/proxy.port" "$CLUSTER_APISERVER_PORT" "$CLUSTER_DIR/pki/apiserver.crt" \
	"$CLUSTER_DIR/pki/apiserver.key" "$CLUSTER_CA" "$CMD" "$WORK/proxy.log" 2>>"$WORK/proxy.log" &
E2E_KILL=$!
for _ in $(seq 1 100); do [ -s "$WORK/proxy.port" ] && break; sleep 0.05; done
[ -s "$WORK/proxy.port" ] || fatal "the fault proxy did not start"
PROXY=https://127.0.0.1:$(cat "$WORK/proxy.port")
out=$(curl -sS --cacert "$CLUSTER_CA" -H "Authorization: Bearer $CLUSTER_ADMIN_TOKEN" "$PROXY/readyz") &&
	[ "$out" = ok ] && ok "fault proxy at $PROXY (TLS with the cluster's certificate)" || fatal "proxy: $out"

KCFG=$WORK/netpold.kubeconfig
cluster_write_kubeconfig "$KCFG" admin "$CLUSTER_ADMIN_TOKEN" "$PROXY"

# ---- helpers ----------------------------------------------------------------------------------
table_text() {
	nft -j list table inet "$TABLE" 2>/dev/null | python3 -c '
import json, sys
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k != "handle"}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
objs = [strip(o) for o in json.load(sys.stdin)["nftables"] if "metainfo" not in o]
for o in objs:
    for v in o.values():
        if isinstance(v, dict) and isinstance(v.get("elem"), list):
            v["elem"].sort(key=json.dumps)
print("\n".join(sorted(json.dumps(o, sort_keys=True) for o in objs)))'
}
alive() { kill -0 "$NETPOLD_PID" 2>/dev/null; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
programmed='s["ready"] and not s["degraded"] and s["programmed_generation"] == s["input_generation"]'
kc() { kubectl "$@" >/dev/null; }
policy() { # policy NAME N: admit 192.0.2.N/32 to the web pod
	kc apply -f - <<-EOF
		apiVersion: networking.k8s.io/v1
		kind: NetworkPolicy
		metadata: {name: $1, namespace: demo}
		spec:
		  podSelector: {matchLabels: {app: web}}
		  ingress: [{from: [{ipBlock: {cidr: 192.0.2.$2/32}}]}]
	EOF
}
arm() { : >"$CMD/$1"; }
# wait_applied CMD SECONDS: the proxy consumed the command
wait_applied() {
	for _ in $(seq 1 $(($2 * 20))); do [ -e "$CMD/$1" ] || return 0; sleep 0.05; done
	return 1
}
log_since() { tail -n +"$(($1 + 1))" "$LOG"; }

# ---- objects ----------------------------------------------------------------------------------
kc create namespace demo || fatal "namespace"
kc apply -f - <<'EOF' || fatal "objects"
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: demo, labels: {app: web}}
spec:
  nodeName: node-1
  containers: [{name: c, image: pause, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo, labels: {role: client}}
spec:
  nodeName: node-2
  containers: [{name: c, image: pause}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-clients, namespace: demo}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {role: client}}}], ports: [{port: http}]}]
EOF
setip demo web 10.244.1.5 && setip demo client 10.244.2.7 || fatal "pod status"

# ---- 1. the first lists damaged: netpold retries and syncs -------------------------------------
arm pods.list-truncate
arm networkpolicies.list-garbage
t0=$(now_ms)
echo "# api faults: everything is on the command line" >"$WORK/netpold.conf"
e2e_start_netpold "$KCFG" --config "$WORK/netpold.conf"
if wait_for 60 "$programmed"; then
	ok "damaged first lists (pods truncated, networkpolicies garbage): synced after $(($(now_ms) - t0)) ms"
else
	fatal "not synced after damaged first lists: $(status 's["reason"]')"
fi
[ ! -e "$CMD/pods.list-truncate" ] && [ ! -e "$CMD/networkpolicies.list-garbage" ] ||
	nok "the proxy did not apply the list damages"
grep -E "kubernetes: pods:" "$LOG" | head -n 2 | sed 's/^/# /'
grep -E "kubernetes: networkpolicies[.:]" "$LOG" | head -n 2 | sed 's/^/# /'
grep -qE "kubernetes: pods: list .*" "$LOG" && ok "truncated pods list logged" || nok "truncated pods list not logged"
grep -qE "kubernetes: networkpolicies[.:].*unreadable answer" "$LOG" && ok "garbage networkpolicies list logged" || nok "garbage list not logged"
wait_nft 10 "10.244.2.7" && ok "initial state programmed" || nok "client pod not in the table"

# ---- 2. watch damages -------------------------------------------------------------------------
# fault NAME RESOURCE ACTION CHANGE_CMD NFT_PATTERN LOG_REGEX
n_client=8
fault() {
	local name=$1 res=$2 action=$3 change=$4 pat=$5 re=$6 l0 t0 ms
	l0=$(wc -l <"$LOG")
	arm "$res.$action"
	t0=$(now_ms)
	eval "$change" || nok "$name: the change was refused by the API server"
	wait_applied "$res.$action" 20 || { nok "$name: the proxy never applied $action"; rm -f "$CMD/$res.$action"; return; }
	if wait_nft 60 "$pat" && wait_for 30 "$programmed"; then
		ms=$(($(now_ms) - t0))
		ok "$name: the change made with it converged in $ms ms"
	else
		nok "$name: not converged ($(status 's["reason"]'))"
	fi
	alive || fatal "$name: netpold died"
	if log_since "$l0" | grep -E "$re" >"$WORK/msg"; then
		ok "$name: logged: $(head -n 1 "$WORK/msg" | sed 's/^netpold\[[0-9]*\] //' | cut -c1-300)"
	else
		nok "$name: no log line matching /$re/ (new lines: $(log_since "$l0" | tail -n 5))"
	fi
}
newclient() { # a new client pod, which must join the policy's peer set
	local n=$n_client
	n_client=$((n_client + 1))
	kc apply -f - <<-EOF && setip demo "client$n" "10.244.2.$n"
		apiVersion: v1
		kind: Pod
		metadata: {name: client$n, namespace: demo, labels: {role: client}}
		spec: {nodeName: node-2, containers: [{name: c, image: pause}]}
	EOF
}
fault "garbage line in the pods watch" pods garbage "newclient" "10.244.2.8" "kubernetes: pods:"
fault "invalid events in the pods watch" pods badevent "newclient" "10.244.2.9" "kubernetes: pods:|ghost|BOGUS"
if grep -E "ghost" "$LOG" >"$WORK/msg"; then
	ok "invalid Pod in a valid watch event logged: $(head -n 1 "$WORK/msg" | sed 's/^netpold\[[0-9]*\] //' | cut -c1-300)"
else
	nok "the invalid Pod demo/ghost in a valid watch event was not logged"
fi
fault "pods watch cut mid-object" pods truncate "newclient" "10.244.2.10" "kubernetes: pods:"
fault "networkpolicies watch cut mid-object" networkpolicies truncate "policy p1 1" "192.0.2.1" "kubernetes: networkpolicies[.:]"
fault "networkpolicies watch cut mid-object, clean end" networkpolicies truncate-clean "policy p2 2" "192.0.2.2" "kubernetes: networkpolicies[.:]"
fault "9 MiB line in the networkpolicies watch" networkpolicies huge "policy p3 3" "192.0.2.3" "kubernetes: networkpolicies[.:]"
alive && ok "netpold alive after every stream damage (PID $NETPOLD_PID)" || fatal "netpold died"

# ---- 3. kube-apiserver SIGKILLed and restarted ------------------------------------------------
wait_for 30 "$programmed" || nok "not settled before the apiserver fault"
before=$(table_text)
t0=$(now_ms)
apiserver_stop --kill
if wait_for 60 's["degraded"]'; then
	ok "apiserver killed: degraded after $(($(now_ms) - t0)) ms, reason: $(status 's["reason"]')"
else
	nok "apiserver killed: never degraded"
fi
sleep 2 # the API server stays down a while; enforcement must not move meanwhile
[ "$(table_text)" = "$before" ] && ok "apiserver down: the table is identical (every element kept)" ||
	nok "apiserver down: the table changed: $(diff <(echo "$before") <(table_text) | head -n 10)"
[ "$(status 's["ready"]')" = True ] && ok "apiserver down: still ready" || nok "apiserver down: not ready"
alive || fatal "netpold died while the API server was down"
apiserver_start || fatal "apiserver_start"
t0=$(now_ms)
kc -n demo delete networkpolicy p1 || nok "delete p1"
policy p4 4 || nok "create p4"
if wait_nft 90 "192.0.2.4" && wait_nft 30 "192.0.2.1" absent && wait_for 60 "$programmed"; then
	ok "apiserver back: changes converged $(($(now_ms) - t0)) ms after the restart"
else
	nok "apiserver back: not converged ($(status 's["reason"], s["degraded"]'))"
fi

# ---- 4. etcd SIGKILLed and restarted ----------------------------------------------------------
before=$(table_text)
etcd_stop --kill
sleep 3
[ "$(table_text)" = "$before" ] && ok "etcd down: the table is identical" || nok "etcd down: the table changed"
echo "# etcd down 3 s: degraded=$(status 's["degraded"]') reason=$(status 's["reason"]')"
alive || fatal "netpold died while etcd was down"
etcd_start || fatal "etcd_start"
cluster_wait_ready 60 || fatal "apiserver not ready after etcd_start"
t0=$(now_ms)
policy p5 5 || nok "create p5"
if wait_nft 90 "192.0.2.5" && wait_for 60 "$programmed"; then
	ok "etcd back: a change converged in $(($(now_ms) - t0)) ms"
else
	nok "etcd back: not converged ($(status 's["reason"]'))"
fi

# ---- the end ----------------------------------------------------------------------------------
alive && ok "netpold never crashed (PID $NETPOLD_PID)" || nok "netpold is gone"
grep -E "AddressSanitizer|Segmentation|assert" "$LOG" && nok "crash traces in the log"
echo "# proxy: $(grep -c applied "$WORK/proxy.log") damages applied over $(grep -c -- '->' "$WORK/proxy.log") requests"
echo "# watch restarts/relists: $(grep -cE 'relist|watch' "$LOG") log lines mention watches or relists"
kill "$NETPOLD_PID" && wait "$NETPOLD_PID"
rc=$?
[ "$rc" = 0 ] && ok "clean exit" || nok "exit status $rc on SIGTERM"
NETPOLD_PID=
finish
