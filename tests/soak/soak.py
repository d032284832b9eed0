#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Churn soak for netpold, judged by an independent oracle.

Driven by tests/world/test_soak.sh (which builds the world and starts one netpold per node
reading MANIFESTS). For DURATION seconds, each step:

  1. applies 1-3 random operations to the manifest folder: relabel a real pod (one that is a
     network namespace of the world) or remove/restore its Pod object; create, relabel or delete
     a "virtual" pod on node-3 (an address no namespace holds, only a peer-set member); create,
     relabel or delete a namespace (virtual namespaces take their pods and policies with them);
     create, replace or delete a random NetworkPolicy;
  2. POST /v1/sync to every netpold (round trip timed: the programming latency);
  3. samples VmRSS of every netpold;
  4. draws a random sample of pairs: real pod -> real pod (IPv4/IPv6, port 80/81, TCP/UDP),
     and pairs with a virtual end (explain only);
  5. asks the ORACLE (tests/tools/oracle.c: the reference evaluator over the same folder) for
     the expected verdicts, runs real probes (tests/tools/probe.c) for the real pairs, and
     GET /v1/explain for every pair; any disagreement with the oracle is a wrong verdict.

A real-probe disagreement is re-probed once with long timeouts before it counts: if the
re-probe agrees with the oracle it is reported as a flaky probe (a packet lost on a loaded
machine), not as a wrong verdict. The folder of the first failing steps is kept for replay.

Prints a report and a last line `SOAK-RESULT {json}`; exit 1 on any wrong verdict, a failed
sync, a dead netpold or RSS growth beyond START * 1.2 + 4 MiB after the warm-up.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from netpold_test import pct, request, synced  # noqa: E402  (tests/lib/netpold_test.py)


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


POD_KEYS = {"app": ["web", "db", "cache"], "tier": ["fe", "be"], "role": ["client", "server"]}
NS_KEYS = {"team": ["red", "blue"], "env": ["prod", "dev"]}
NAMED = ["serve-80-tcp", "serve-81-tcp", "serve-80-udp", "serve-81-udp", "nope"]


class Soak:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.m = a.manifests
        self.ops = {}
        self.real = []  # dicts: id ns name node v4 v6 netns obj present
        self.nss = {}  # name -> {"labels":..., "virtual": bool}
        self.vpods = {}  # (ns, name) -> {"labels", "v4", "v6"}
        self.pols = {}  # (ns, name) -> obj
        self.next_ip = 1
        self.next_pol = 0
        self.next_ns = 0
        self.verdicts_kernel = 0
        self.verdicts_explain = 0
        self.allowed = 0
        self.wrong = []
        self.flaky = []
        self.sync_ms = {s: [] for s in a.sockets}
        self.rss = {p: [] for p in a.pids}
        self.steps = 0
        self.kept = 0
        self.fail_dir = a.fail_dir
        with open(a.pods) as f:
            for line in f:
                pid_, node, v4, v6, netns, _veth = line.split()
                ns, name = pid_.split("/")
                fn = os.path.join(self.m, "01-Pod-%s-%s.json" % (ns, name))
                with open(fn) as g:
                    obj = json.load(g)
                self.real.append(dict(id=pid_, ns=ns, name=name, node=node, v4=v4,
                                      v6=v6, netns=netns, obj=obj, file=fn, present=True))
        for fn in sorted(os.listdir(self.m)):
            if fn.startswith("00-Namespace-"):
                with open(os.path.join(self.m, fn)) as g:
                    o = json.load(g)
                self.nss[o["metadata"]["name"]] = dict(obj=o, virtual=False)

    # ---- folder writes ----
    def put(self, fn, obj):
        tmp = os.path.join(self.m, ".tmp." + fn)
        with open(tmp, "w") as f:
            json.dump(obj, f)
            f.write("\n")
        os.rename(tmp, os.path.join(self.m, fn))

    def rm(self, fn):
        try:
            os.unlink(os.path.join(self.m, fn))
        except FileNotFoundError:
            pass

    def count(self, op):
        self.ops[op] = self.ops.get(op, 0) + 1

    # ---- random objects ----
    def rand_pod_labels(self, name):
        labels = {"pod": name}
        for k, vals in POD_KEYS.items():
            if self.rng.random() < 0.6:
                labels[k] = self.rng.choice(vals)
        return labels

    def rand_ns_labels(self, name, base=None):
        labels = dict(base or {})
        labels["kubernetes.io/metadata.name"] = name
        for k, vals in NS_KEYS.items():
            labels.pop(k, None)
            if self.rng.random() < 0.6:
                labels[k] = self.rng.choice(vals)
        return labels

    def rand_selector(self, keys):
        r = self.rng.random()
        if r < 0.25:
            return {}
        sel = {}
        if r < 0.75:
            k = self.rng.choice(list(keys))
            sel["matchLabels"] = {k: self.rng.choice(keys[k])}
        if r >= 0.6:
            k = self.rng.choice(list(keys))
            op = self.rng.choice(["In", "NotIn", "Exists", "DoesNotExist"])
            e = {"key": k, "operator": op}
            if op in ("In", "NotIn"):
                e["values"] = self.rng.sample(keys[k], self.rng.randint(1, len(keys[k])))
            sel["matchExpressions"] = [e]
        return sel

    def rand_ipblock(self):
        r = self.rng.random()
        if r < 0.3:
            return {"cidr": "10.244.0.0/16", "except": [self.rng.choice(
                ["10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"])]}
        if r < 0.5:
            return {"cidr": "fd00:10:244::/48", "except": ["fd00:10:244:1::/64"]}
        if r < 0.8:
            p = self.rng.choice(self.real)
            return {"cidr": p["v4"] + "/32"}
        return {"cidr": self.rng.choice(["10.244.2.0/24", "fd00:10:244:2::/64",
                                          "0.0.0.0/0", "::/0"])}

    def rand_peer(self):
        r = self.rng.random()
        if r < 0.35:
            return {"podSelector": self.rand_selector(POD_KEYS)}
        if r < 0.6:
            return {"namespaceSelector": self.rand_selector(NS_KEYS)}
        if r < 0.8:
            return {"namespaceSelector": self.rand_selector(NS_KEYS),
                    "podSelector": self.rand_selector(POD_KEYS)}
        return {"ipBlock": self.rand_ipblock()}

    def rand_ports(self):
        r = self.rng.random()
        if r < 0.35:
            return None
        out = []
        for _ in range(self.rng.randint(1, 2)):
            q = self.rng.random()
            if q < 0.35:
                out.append({"protocol": self.rng.choice(["TCP", "UDP"]),
                            "port": self.rng.choice([80, 81])})
            elif q < 0.5:
                out.append({"protocol": self.rng.choice(["TCP", "UDP"])})
            elif q < 0.75:
                out.append({"port": self.rng.choice(NAMED),
                            "protocol": self.rng.choice(["TCP", "UDP"])})
            else:
                out.append({"protocol": self.rng.choice(["TCP", "UDP"]), "port": 80,
                            "endPort": self.rng.choice([80, 81, 90])})
        return out

    def rand_rules(self, key):
        rules = []
        for _ in range(self.rng.choice([0, 1, 1, 2])):
            rule = {}
            if self.rng.random() < 0.85:
                rule[key] = [self.rand_peer() for _ in range(self.rng.randint(1, 2))]
            ports = self.rand_ports()
            if ports:
                rule["ports"] = ports
            rules.append(rule)
        return rules

    def rand_policy(self, ns, name):
        types = self.rng.choice([["Ingress"], ["Ingress"], ["Egress"], ["Ingress", "Egress"]])
        spec = {"podSelector": self.rand_selector(POD_KEYS), "policyTypes": types}
        if "Ingress" in types:
            spec["ingress"] = self.rand_rules("from")
        if "Egress" in types:
            spec["egress"] = self.rand_rules("to")
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": name, "namespace": ns}, "spec": spec}

    def vpod_obj(self, ns, name, v):
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": v["labels"],
                             "uid": "soak-%s-%s" % (ns, name)},
                "spec": {"nodeName": "node-3", "containers": [{"name": "c", "image": "pause",
                         "ports": [{"name": "serve-80-tcp", "containerPort": 80},
                                   {"name": "serve-80-udp", "containerPort": 80,
                                    "protocol": "UDP"}]}]},
                "status": {"phase": "Running", "podIP": v["v4"],
                           "podIPs": [{"ip": v["v4"]}, {"ip": v["v6"]}]}}

    # ---- operations ----
    def op_relabel_real(self):
        p = self.rng.choice(self.real)
        if not p["present"]:
            p["present"] = True
            self.count("real pod restored")
        else:
            self.count("real pod relabelled")
        p["obj"]["metadata"]["labels"] = self.rand_pod_labels(p["name"])
        self.put(os.path.basename(p["file"]), p["obj"])

    def op_remove_real(self):
        p = self.rng.choice(self.real)
        if p["present"]:
            p["present"] = False
            self.rm(os.path.basename(p["file"]))
            self.count("real pod deleted")
        else:
            self.op_relabel_real()

    def op_vpod(self):
        r = self.rng.random()
        if self.vpods and (r < 0.35 or len(self.vpods) >= self.a.max_vpods):
            key = self.rng.choice(sorted(self.vpods))
            del self.vpods[key]
            self.rm("10-Pod-%s-%s.json" % key)
            self.count("virtual pod deleted")
            return
        if self.vpods and r < 0.6:
            key = self.rng.choice(sorted(self.vpods))
            v = self.vpods[key]
            v["labels"] = self.rand_pod_labels(key[1])
            self.put("10-Pod-%s-%s.json" % key, self.vpod_obj(key[0], key[1], v))
            self.count("virtual pod relabelled")
            return
        ns = self.rng.choice(sorted(self.nss))
        n = self.next_ip
        self.next_ip += 1
        name = "v%d" % n
        host = 1 + (n % 250)
        v = {"labels": self.rand_pod_labels(name), "v4": "10.244.3.%d" % host,
             "v6": "fd00:10:244:3::%x" % n}
        # a recycled /32 must not collide with a live virtual pod
        if any(x["v4"] == v["v4"] for x in self.vpods.values()):
            return
        self.vpods[(ns, name)] = v
        self.put("10-Pod-%s-%s.json" % (ns, name), self.vpod_obj(ns, name, v))
        self.count("virtual pod created")

    def op_ns(self):
        r = self.rng.random()
        virt = [n for n, v in self.nss.items() if v["virtual"]]
        if virt and r < 0.3:
            ns = self.rng.choice(virt)
            del self.nss[ns]
            self.rm("00-Namespace-%s.json" % ns)
            for key in [k for k in self.vpods if k[0] == ns]:
                del self.vpods[key]
                self.rm("10-Pod-%s-%s.json" % key)
            for key in [k for k in self.pols if k[0] == ns]:
                del self.pols[key]
                self.rm("20-NetworkPolicy-%s-%s.json" % key)
            self.count("namespace deleted")
            return
        if r < 0.55 and len(virt) < 3:
            self.next_ns += 1
            ns = "vns%d" % self.next_ns
            o = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": ns, "labels": self.rand_ns_labels(ns)}}
            self.nss[ns] = dict(obj=o, virtual=True)
            self.put("00-Namespace-%s.json" % ns, o)
            self.count("namespace created")
            return
        ns = self.rng.choice(sorted(self.nss))
        o = self.nss[ns]["obj"]
        o["metadata"]["labels"] = self.rand_ns_labels(ns, o["metadata"].get("labels"))
        self.put("00-Namespace-%s.json" % ns, o)
        self.count("namespace relabelled")

    def op_pol(self):
        r = self.rng.random()
        if self.pols and (r < 0.3 or len(self.pols) >= self.a.max_policies):
            key = self.rng.choice(sorted(self.pols))
            del self.pols[key]
            self.rm("20-NetworkPolicy-%s-%s.json" % key)
            self.count("policy deleted")
            return
        if self.pols and r < 0.55:
            key = self.rng.choice(sorted(self.pols))
            self.count("policy replaced")
        else:
            # policies mostly where the real pods are
            ns = self.rng.choice(["x", "y", "z"] * 3 + sorted(self.nss))
            self.next_pol += 1
            key = (ns, "p%d" % self.next_pol)
            self.count("policy created")
        o = self.rand_policy(*key)
        self.pols[key] = o
        self.put("20-NetworkPolicy-%s-%s.json" % key, o)

    def step_ops(self):
        for _ in range(self.rng.randint(1, 3)):
            r = self.rng.random()
            if r < 0.2:
                self.op_relabel_real()
            elif r < 0.25:
                self.op_remove_real()
            elif r < 0.45:
                self.op_vpod()
            elif r < 0.55:
                self.op_ns()
            else:
                self.op_pol()

    # ---- checks ----
    def sync_all(self):
        for s in self.a.sockets:
            t0 = time.monotonic()
            code, _, body = request(s, "POST", "/v1/sync", 60)
            ms = (time.monotonic() - t0) * 1000.0
            self.sync_ms[s].append(ms)
            st = json.loads(body)
            if code != 200 or not synced(st):
                raise SystemExit("step %d: POST /v1/sync to %s: %d %s" % (self.steps, s, code, body[:400]))

    def sample(self):
        real, virt = [], []
        for i in range(self.a.pairs):
            src, dst = self.rng.sample(self.real, 2)
            fam = self.rng.choice([4, 6])
            port = self.rng.choice([80, 81])
            proto = self.rng.choice(["tcp", "udp"])
            sip = src["v4"] if fam == 4 else src["v6"]
            dip = dst["v4"] if fam == 4 else dst["v6"]
            real.append(dict(id="s%d:r%d:%s>%s:v%d:%s:%d" % (self.steps, i, src["id"], dst["id"],
                                                            fam, proto, port),
                             src=sip, dst=dip, netns=src["netns"], port=port, proto=proto))
        for i in range(self.a.virtual_pairs if self.vpods else 0):
            v = self.vpods[self.rng.choice(sorted(self.vpods))]
            p = self.rng.choice(self.real)
            fam = self.rng.choice([4, 6])
            a_ip = v["v4"] if fam == 4 else v["v6"]
            b_ip = p["v4"] if fam == 4 else p["v6"]
            if self.rng.random() < 0.5:
                a_ip, b_ip = b_ip, a_ip
            virt.append(dict(id="s%d:v%d:%s>%s" % (self.steps, i, a_ip, b_ip), src=a_ip, dst=b_ip,
                             port=self.rng.choice([80, 81]), proto=self.rng.choice(["tcp", "udp"])))
        return real, virt

    def oracle(self, pairs):
        inp = "".join("%s %s %s %d %s\n" % (p["id"], p["src"], p["dst"], p["port"], p["proto"])
                      for p in pairs)
        out = subprocess.run([self.a.oracle, self.m], input=inp, capture_output=True, text=True,
                             check=True).stdout
        return dict(line.split() for line in out.splitlines())

    def probe(self, pairs, timeout, tries):
        inp = "".join("%s %s %s %d %s\n" % (p["id"], p["netns"], p["dst"], p["port"], p["proto"])
                      for p in pairs)
        out = subprocess.run([self.a.probe, "--timeout", str(timeout), "--tries", str(tries)],
                             input=inp, capture_output=True, text=True, check=True).stdout
        res = {}
        for line in out.splitlines():
            k, v = line.split(None, 1)
            res[k] = "allow" if v == "ok" else "deny"
        return res

    def explain(self, sock, p):
        q = urllib.parse.urlencode({"from": p["src"], "to": p["dst"], "port": p["port"],
                                    "protocol": p["proto"]})
        code, h, body = request(sock, "GET", "/v1/explain?" + q, 60)
        if code != 200:
            return "error(%d %s)" % (code, body[:200])
        v = h.get("x-netpold-verdict")
        return {"allowed": "allow", "denied": "deny"}.get(v, "error(header %r)" % v)

    def keep_folder(self, why):
        if self.kept >= 3 or not self.fail_dir:
            return None
        self.kept += 1
        d = os.path.join(self.fail_dir, "step%d" % self.steps)
        shutil.copytree(self.m, d, ignore=shutil.ignore_patterns(".tmp.*"))
        with open(os.path.join(d, "WHY"), "w") as f:
            f.write(why + "\n")
        return d

    def check(self):
        real, virt = self.sample()
        want = self.oracle(real + virt)
        got = self.probe(real, self.a.probe_timeout, 2)
        bad = [p for p in real if got[p["id"]] != want[p["id"]]]
        if bad:
            again = self.probe(bad, 1500, 3)
            for p in bad:
                if again[p["id"]] == want[p["id"]]:
                    self.flaky.append("%s: oracle %s, probe %s then %s" % (
                        p["id"], want[p["id"]], got[p["id"]], again[p["id"]]))
                else:
                    msg = "%s: oracle %s, kernel %s (twice)" % (p["id"], want[p["id"]],
                                                               again[p["id"]])
                    d = self.keep_folder(msg)
                    self.wrong.append(msg + (" [folder kept in %s]" % d if d else ""))
        self.verdicts_kernel += len(real)
        for p in real:
            self.allowed += want[p["id"]] == "allow"
        socks = self.a.sockets
        for i, p in enumerate(real + virt):
            s = socks[i % len(socks)]
            e = self.explain(s, p)
            self.verdicts_explain += 1
            if e != want[p["id"]]:
                msg = "%s: oracle %s, explain on %s %s" % (p["id"], want[p["id"]],
                                                          os.path.basename(os.path.dirname(s)), e)
                d = self.keep_folder(msg)
                self.wrong.append(msg + (" [folder kept in %s]" % d if d else ""))

    def run(self):
        t_end = time.monotonic() + self.a.seconds
        t_start = time.monotonic()
        warm = None
        last_report = t_start
        while time.monotonic() < t_end:
            self.steps += 1
            self.step_ops()
            self.sync_all()
            for pid in self.a.pids:
                r = rss_kib(pid)
                if r is None:
                    raise SystemExit("step %d: netpold %d is gone" % (self.steps, pid))
                self.rss[pid].append((time.monotonic() - t_start, r))
            self.check()
            if warm is None and time.monotonic() - t_start >= self.a.warmup:
                warm = {pid: self.rss[pid][-1][1] for pid in self.a.pids}
            if time.monotonic() - last_report >= self.a.report_every:
                last_report = time.monotonic()
                print("soak: t=%.0fs steps=%d ops=%d policies=%d vpods=%d kernel=%d explain=%d "
                      "wrong=%d flaky=%d rss=%s" % (
                          time.monotonic() - t_start, self.steps, sum(self.ops.values()),
                          len(self.pols), len(self.vpods), self.verdicts_kernel,
                          self.verdicts_explain, len(self.wrong), len(self.flaky),
                          ",".join("%d" % self.rss[p][-1][1] for p in self.a.pids)), flush=True)
        elapsed = time.monotonic() - t_start
        if warm is None:
            warm = {pid: self.rss[pid][0][1] for pid in self.a.pids}
        return self.report(elapsed, warm)

    def report(self, elapsed, warm):
        ok = True
        res = {"seconds": round(elapsed, 1), "seed": self.a.seed, "steps": self.steps,
               "operations": sum(self.ops.values()), "ops": self.ops,
               "verdicts_kernel": self.verdicts_kernel,
               "verdicts_explain": self.verdicts_explain, "wrong": len(self.wrong),
               "kernel_expected_allowed": self.allowed,
               "flaky_probes": len(self.flaky), "final_policies": len(self.pols),
               "final_virtual_pods": len(self.vpods), "rss_kib": {}, "sync_ms": {}}
        print("soak: %d steps in %.1f s (seed %d), %d operations:" % (
            self.steps, elapsed, self.a.seed, res["operations"]))
        for k in sorted(self.ops):
            print("  %-24s %d" % (k, self.ops[k]))
        print("soak: verdicts checked against the oracle: %d kernel (real probes; %d expected "
              "allowed, %d denied), %d explain; wrong %d, flaky probes %d" % (
                  self.verdicts_kernel, self.allowed, self.verdicts_kernel - self.allowed,
                  self.verdicts_explain, len(self.wrong), len(self.flaky)))
        for w in self.wrong[:20]:
            print("  WRONG " + w)
        for w in self.flaky[:10]:
            print("  flaky " + w)
        if self.wrong:
            ok = False
        for pid in self.a.pids:
            series = self.rss[pid]
            start, end = warm[pid], series[-1][1]
            mx = max(r for _, r in series)
            limit = start * 1.2 + 4096
            res["rss_kib"][str(pid)] = {"first": series[0][1], "after_warmup": start,
                                        "end": end, "max": mx}
            # RSS over time, ten points
            idx = sorted(set(int(i * (len(series) - 1) / 9) for i in range(10)))
            print("soak: netpold %d VmRSS KiB: first %d, after warm-up %d, end %d, max %d "
                  "(limit %d); over time: %s" % (pid, series[0][1], start, end, mx, limit,
                                                 " ".join("%.0fs:%d" % series[i] for i in idx)))
            if end > limit:
                print("soak: FAIL: netpold %d RSS grew from %d to %d KiB" % (pid, start, end))
                ok = False
        for s, v in self.sync_ms.items():
            name = os.path.basename(os.path.dirname(s))
            res["sync_ms"][name] = {"n": len(v), "p50": round(pct(v, 50), 2),
                                    "p99": round(pct(v, 99), 2), "max": round(max(v), 2)}
            print("soak: POST /v1/sync round trip %s: n=%d p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
                name, len(v), pct(v, 50), pct(v, 99), max(v)))
        print("SOAK-RESULT " + json.dumps(res, sort_keys=True))
        return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifests", required=True)
    ap.add_argument("--pods", required=True, help="lib.sh's $WORLD_DIR/pods")
    ap.add_argument("--socket", dest="sockets", action="append", required=True)
    ap.add_argument("--pid", dest="pids", action="append", type=int, required=True)
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--probe", required=True)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--pairs", type=int, default=12, help="real pairs probed per step")
    ap.add_argument("--virtual-pairs", type=int, default=6, help="explain-only pairs per step")
    ap.add_argument("--probe-timeout", type=int, default=250)
    ap.add_argument("--max-policies", type=int, default=40)
    ap.add_argument("--max-vpods", type=int, default=60)
    ap.add_argument("--warmup", type=float, default=None, help="seconds (default 20%%, <= 60)")
    ap.add_argument("--report-every", type=float, default=30)
    ap.add_argument("--fail-dir", default=None)
    a = ap.parse_args()
    if a.warmup is None:
        a.warmup = min(60.0, a.seconds * 0.2)
    sys.exit(Soak(a).run())


if __name__ == "__main__":
    main()
