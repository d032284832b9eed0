#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The upstream NetworkPolicy cases through kubectl and a real kube-apiserver, with real packets.

Called by tests/e2e/test_conformance_kubectl.sh (subcommand "replay") and
tests/e2e/test_apply_latency.sh (subcommand "latency") once the cluster, the network-namespace
world, the API objects of tests/conformance/world.json and one netpold per node namespace
(--kubeconfig) exist. Probing, the upstream-style tables and the per-family grouping come from
tests/world/replay.py (the manifest-mode replay), imported here.

Waiting for enforcement, never sleeping: every kubectl mutation gives the object's
resourceVersion (RV; etcd revisions, compared as integers). For each node, the status socket's
source.resources[] shows the last RV netpold's watch of that resource saw; once it is at least
the object's RV the change is in netpold's store, and POST /v1/sync then answers when all of the
store is programmed (programmed_generation == input_generation). Policies are then checked one by
one with GET /v1/policies/NS/NAME (programmed, same metadata.generation); a deleted policy is
awaited as a 404 there.

replay: per case (each from the base world: no policy, the world's labels), per step:
`kubectl apply -f -` of the step's policies, wait; the ops (`kubectl label --overwrite` with
`key-` removals, `kubectl delete networkpolicy`), wait; probe every asserted pair of every probe
in the family under test and compare. Then `kubectl delete networkpolicy --all -A` and the
labels put back with kubectl label, waited for the same way.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(_here, "..", "world"), os.path.join(_here, "..", "lib")]
import replay as world_replay  # noqa: E402  (tests/world/replay.py)
from netpold_test import pct, request, synced  # noqa: E402  (tests/lib/netpold_test.py)

Failure = world_replay.Failure
log = world_replay.log
DEADLINE = 20.0  # seconds any single wait may take


def http(path_sock, method, url):
    status, _, body = request(path_sock, method, url)
    return status, json.loads(body) if body else None


class Nodes:
    """The netpolds, through their status sockets."""

    def __init__(self, sockets):
        self.sockets = dict(sorted(sockets.items()))
        self.t_wait = 0.0
        self.n_wait = 0
        self.wait_max = 0.0

    def status(self, node):
        st, j = http(self.sockets[node], "GET", "/v1/status")
        if st != 200:
            raise Failure("%s: GET /v1/status answered %d" % (node, st))
        return j

    @staticmethod
    def rv_of(status, resource):
        for r in status["source"].get("resources", []):
            if r["resource"].split(".")[0] == resource:
                return int(r["resource_version"] or 0)
        raise Failure("no resource %s in the status" % resource)

    def sync(self, node, what):
        st, j = http(self.sockets[node], "POST", "/v1/sync")
        if st != 200:
            raise Failure("%s: POST /v1/sync to %s answered %d: %s" % (what, node, st, j))
        if not synced(j):
            raise Failure("%s: %s after sync: %s" % (what, node, json.dumps(j)))
        return j

    def poll(self, what, cond, node):
        end = time.monotonic() + DEADLINE
        while True:
            got = cond(node)
            if got:
                return got
            if time.monotonic() > end:
                raise Failure("%s: %s not there within %.0fs (status %s)"
                              % (what, node, DEADLINE, json.dumps(self.status(node))))
            time.sleep(0.002)

    def barrier(self, what, rvs=None, gone=(), present=None):
        """Wait on every node: watch RVs reached (rvs: {resource: rv}), the policies in gone
        unknown, then POST /v1/sync, then the policies in present ({(ns, name): generation})
        programmed with that generation."""
        t0 = time.monotonic()
        for node in self.sockets:
            for res, rv in (rvs or {}).items():
                self.poll("%s: %s RV %d" % (what, res, rv),
                          lambda n: self.rv_of(self.status(n), res) >= rv, node)
            for ns, name in gone:
                self.poll("%s: policy %s/%s gone" % (what, ns, name),
                          lambda n: http(self.sockets[n], "GET",
                                         "/v1/policies/%s/%s" % (ns, name))[0] == 404, node)
            self.sync(node, what)
            for (ns, name), gen in (present or {}).items():
                st, j = http(self.sockets[node], "GET", "/v1/policies/%s/%s" % (ns, name))
                if st != 200 or not j.get("programmed") or j.get("generation") != gen:
                    raise Failure("%s: %s: policy %s/%s generation %s not programmed: %d %s"
                                  % (what, node, ns, name, gen, st, json.dumps(j)))
        dt = time.monotonic() - t0
        self.t_wait += dt
        self.n_wait += 1
        self.wait_max = max(self.wait_max, dt)


class Kubectl:
    def __init__(self, binary):
        self.bin = binary
        self.n = 0
        self.t = 0.0

    def __call__(self, *argv, stdin=None):
        t0 = time.monotonic()
        r = subprocess.run([self.bin, *argv], input=stdin.encode() if stdin else None,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        self.t += time.monotonic() - t0
        self.n += 1
        if r.returncode != 0:
            raise Failure("kubectl %s: exit %d: %s" % (" ".join(argv), r.returncode,
                                                       r.stderr.decode().strip()))
        return r.stdout.decode()


def items_of(out):
    j = json.loads(out)
    return j["items"] if j.get("kind") == "List" else [j]


class KubectlReplay(world_replay.Replay):
    def __init__(self, a):
        a.manifests = None
        a.deny_action = "drop"  # the kubectl world runs drop only: a denied probe times out
        super().__init__(a)
        self.kubectl = Kubectl(a.kubectl)
        self.nodes = Nodes(self.sockets)
        self.base_labels = {}
        for obj in json.loads(self.render("world", "--family", "dual", "--api"))["items"]:
            self.base_labels[self.key(obj)] = dict(obj["metadata"].get("labels", {}))
        self.labels = {k: dict(v) for k, v in self.base_labels.items()}
        self.policies = set()
        self.n_apply = self.n_label = self.n_delete = 0

    @staticmethod
    def key(obj):
        md = obj["metadata"]
        return (obj["kind"], md.get("namespace", "-"), md["name"])

    # ---- mutations, each awaited on every node -------------------------------------------
    def apply(self, where, text):
        items = items_of(self.kubectl("apply", "-f", "-", "-o", "json", stdin=text))
        self.n_apply += 1
        rvs, present = {}, {}
        for it in items:
            if it["kind"] != "NetworkPolicy":
                raise Failure("%s: the step applies a %s" % (where, it["kind"]))
            md = it["metadata"]
            rvs["networkpolicies"] = max(rvs.get("networkpolicies", 0), int(md["resourceVersion"]))
            present[(md["namespace"], md["name"])] = md["generation"]
            self.policies.add((md["namespace"], md["name"]))
        self.nodes.barrier(where + " apply", rvs=rvs, present=present)

    def relabel(self, where, kind, ns, name, new):
        k = (kind, ns, name)
        cur = self.labels[k]
        args = ["%s=%s" % (l, v) for l, v in sorted(new.items()) if cur.get(l) != v]
        args += ["%s-" % l for l in sorted(cur) if l not in new]
        if not args:
            return
        target = ["pod", "-n", ns, name] if kind == "Pod" else ["namespace", name]
        rv = int(self.kubectl("label", "--overwrite", *target, *args, "-o",
                              "jsonpath={.metadata.resourceVersion}"))
        self.n_label += 1
        self.labels[k] = dict(new)
        self.nodes.barrier("%s label %s %s" % (where, kind, name),
                           rvs={"pods" if kind == "Pod" else "namespaces": rv})

    def delete_policy(self, where, ns, name):
        self.kubectl("delete", "networkpolicy", "-n", ns, name)
        self.n_delete += 1
        self.policies.discard((ns, name))
        self.nodes.barrier("%s delete %s/%s" % (where, ns, name), gone=[(ns, name)])

    def back_to_base(self, where):
        if self.policies:
            self.kubectl("delete", "networkpolicy", "--all", "--all-namespaces")
            self.n_delete += 1
            gone, self.policies = sorted(self.policies), set()
            self.nodes.barrier(where + " delete all", gone=gone)
        for (kind, ns, name), labels in self.base_labels.items():
            if self.labels[(kind, ns, name)] != labels:
                self.relabel(where + " restore", kind, ns, name, labels)
        for node in self.nodes.sockets:
            st = self.nodes.status(node)
            if st["counts"]["policies"] != 0:
                raise Failure("%s: %s still has %d policies" % (where, node,
                                                                 st["counts"]["policies"]))

    # ---- one case -------------------------------------------------------------------------
    def run_case(self, case, nsteps, fams, base=None):
        label = "%s [IPv%s]" % (case, "+".join(fams))
        for n in range(1, nsteps + 1):
            where = "%s step %d" % (case, n)
            text = self.render("step", case, str(n), "--family", fams[0], "--api")
            if json.loads(text)["items"]:
                self.apply(where, text)
            ops = [o.split() for o in self.render("ops", case, str(n)).splitlines() if o.strip()]
            for op in ops:
                if op[0] == "label":
                    new = dict(kv.split("=", 1) for kv in op[4:])
                    self.relabel(where, op[1], op[2], op[3], new)
                elif op[0] == "delete" and op[1] == "NetworkPolicy":
                    self.delete_policy(where, op[2], op[3])
                else:
                    raise Failure("%s: unknown op %s" % (where, " ".join(op)))
            self.probe_step(where, case, n, fams)
        self.back_to_base(case)
        return label

    def run(self):
        t0 = time.monotonic()
        self.nodes.barrier("base world")
        n, bad = self.full_matrix("base world, no policy")
        log("base world, no policy: %d probes (TCP/UDP/SCTP 80/81, IPv4+IPv6), %d denied" % (n, bad))
        extra_bad = bad
        fams_wanted = self.a.families.split()
        self.run_cases(fams_wanted)
        n, bad = self.full_matrix("base world again, policies removed")
        log("base world again, all policies removed: %d probes, %d denied" % (n, bad))
        extra_bad += bad
        total = time.monotonic() - t0

        log("")
        log("summary (kubectl against kube-apiserver, deny-action drop, probe --timeout %d ms, "
            "retries %d):" % (self.a.timeout, self.a.tries))
        mism = self.family_summary(fams_wanted)
        log("  denied probes that did not time out: %d" % self.anomalies)
        log("  full-matrix checks (no policy) failing: %d" % extra_bad)
        log("  %d kubectl runs (%d apply, %d label, %d delete) in %.1fs"
            % (self.kubectl.n, self.n_apply, self.n_label, self.n_delete, self.kubectl.t))
        log("  %d waits for both daemons in %.2fs, slowest %.0f ms; %d probe runs in %.2fs"
            % (self.nodes.n_wait, self.nodes.t_wait, self.nodes.wait_max * 1000,
               self.n_probe_runs, self.t_probe))
        log("  replay time %.1fs" % total)
        self.write_summary(fams_wanted, extra_bad, total, kubectl=self.kubectl.n)
        return 0 if mism == 0 and self.anomalies == 0 and extra_bad == 0 else 1


# ---- apply latency ------------------------------------------------------------------------

def parse_time(s):
    """'2026-11-25T18:37:36.312Z' -> seconds since the epoch."""
    import calendar
    base, frac = s.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(frac) / 1000.0


def latency(a):
    """N times: kubectl apply of a new policy (namespace x, every pod: x/a, x/c on node-1 and x/b
    on node-2); from kubectl's return, poll every node's GET /v1/policies/x/NAME every ~2 ms
    until it is programmed, and check programmed_generation == input_generation then."""
    kubectl = Kubectl(a.kubectl)
    nodes = Nodes(dict(s.split("=", 1) for s in a.socket))
    rows = []
    for i in range(1, a.count + 1):
        name = "lat-%d" % i
        pol = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": name, "namespace": "x"},
               "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                        "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.%d/32" % i}}],
                                     "ports": [{"port": 8000 + i, "protocol": "TCP"}]}]}}
        t0 = time.time()
        rv = int(items_of(kubectl("apply", "-f", "-", "-o", "json",
                                  stdin=json.dumps(pol)))[0]["metadata"]["resourceVersion"])
        t1 = time.time()
        seen, event = {}, {}
        end = time.monotonic() + DEADLINE
        while len(seen) < len(nodes.sockets):
            for node, sock in nodes.sockets.items():
                if node in seen:
                    continue
                if node not in event and nodes.rv_of(nodes.status(node), "networkpolicies") >= rv:
                    event[node] = time.time()
                st, j = http(sock, "GET", "/v1/policies/x/" + name)
                if st == 200 and j.get("programmed"):
                    s = nodes.status(node)
                    if s["programmed_generation"] != s["input_generation"]:
                        continue
                    seen[node] = (time.time(), parse_time(j["programmed_since"]))
                    event.setdefault(node, seen[node][0])
            if time.monotonic() > end:
                raise Failure("%s not programmed on %s within %.0fs" %
                              (name, sorted(set(nodes.sockets) - set(seen)), DEADLINE))
            time.sleep(0.002)
        polled = max(t for t, _ in seen.values()) - t1
        since = max(p for _, p in seen.values()) - t1
        rows.append((max(event.values()) - t1, polled, since, t1 - t0))
        time.sleep(a.gap / 1000.0)
    polled = [r[1] * 1000 for r in rows]
    since = [r[2] * 1000 for r in rows]
    kc = [r[3] * 1000 for r in rows]
    ev = [r[0] * 1000 for r in rows]
    out = {"applies": len(rows),
           "polled_p50_ms": pct(polled, 50), "polled_p99_ms": pct(polled, 99),
           "polled_max_ms": max(polled),
           "since_p50_ms": pct(since, 50), "since_p99_ms": pct(since, 99),
           "event_p50_ms": pct(ev, 50), "event_p99_ms": pct(ev, 99),
           "kubectl_p50_ms": pct(kc, 50), "kubectl_p99_ms": pct(kc, 99)}
    log("apply -> committed on both nodes, %d kubectl applies (from kubectl's return):" % len(rows))
    log("  watch event in both netpolds (their networkpolicies RV reached the object's): "
        "p50 %.1f ms, p99 %.1f ms" % (out["event_p50_ms"], out["event_p99_ms"]))
    log("  committed, seen by polling (every ~2 ms): p50 %.1f ms, p99 %.1f ms, max %.1f ms"
        % (out["polled_p50_ms"], out["polled_p99_ms"], out["polled_max_ms"]))
    log("  committed, by /v1/policies programmed_since (ms resolution; < 0: before kubectl "
        "returned): "
        "p50 %.1f ms, p99 %.1f ms" % (out["since_p50_ms"], out["since_p99_ms"]))
    log("  kubectl apply itself (process start to exit): p50 %.0f ms, p99 %.0f ms"
        % (out["kubectl_p50_ms"], out["kubectl_p99_ms"]))
    if a.summary_json:
        with open(a.summary_json, "w") as f:
            json.dump(out, f)
    ok = out["polled_p99_ms"] < a.target_ms
    log("  target p99 < %.0f ms: %s" % (a.target_ms, "met" if ok else "NOT MET"))
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("replay")
    r.add_argument("--render", required=True, help="conformance_render binary")
    r.add_argument("--probe", required=True, help="probe binary")
    r.add_argument("--pods", required=True, help="lib.sh's $WORLD_DIR/pods")
    r.add_argument("--kubectl", required=True)
    r.add_argument("--socket", action="append", required=True, help="NODE=STATUS_SOCKET")
    r.add_argument("--timeout", type=int, default=400, help="probe timeout per try, ms")
    r.add_argument("--tries", type=int, default=2, help="retries of unexpected failures")
    r.add_argument("--families", default="4 6")
    r.add_argument("--summary-json")
    r.add_argument("cases", nargs="*", help="case name prefixes (default: all)")
    l = sub.add_parser("latency")
    l.add_argument("--kubectl", required=True)
    l.add_argument("--socket", action="append", required=True, help="NODE=STATUS_SOCKET")
    l.add_argument("--count", type=int, default=30)
    l.add_argument("--gap", type=int, default=100, help="ms between applies")
    l.add_argument("--target-ms", type=float, default=100.0)
    l.add_argument("--summary-json")
    a = p.parse_args()
    try:
        return KubectlReplay(a).run() if a.cmd == "replay" else latency(a)
    except Failure as e:
        log("FAIL: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
