#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
Authoring aid for the conformance data: the upstream Kubernetes v1.36.3
NetworkPolicy e2e cases (test/e2e/network/netpol/network_policy.go), translated
by hand, one function per ginkgo It, mirroring the Go source line by line
(policies as the policies.go helpers build them, reachability as the Go
Reachability calls build it). Writes world.json and cases/NNN-slug.json.

It also cross-checks every expectation against an independent reference
evaluation of the NetworkPolicy spec (below), in both families, on the full
9-pod world and on upstream's per-case pod subset:
  - pairs between pods upstream creates for the case must agree exactly;
  - pairs involving the other pods (upstream v1.36 creates only a subset; the
    Go Reachability calls are replayed over all 9 pods, as upstream did when it
    created all of them) take the reference value where the replayed calls
    would be wrong, and the case lists those pairs under "notes".

  gen_cases.py          regenerate the files
  gen_cases.py --check  verify the files on disk are what this script writes
"""
import copy
import ipaddress
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM_VERSION = "v1.36.3"
UPSTREAM_FILE = "test/e2e/network/netpol/network_policy.go"
NS_LABEL = "kubernetes.io/metadata.name"

NAMESPACES = ["x", "y", "z"]
PODS = ["a", "b", "c"]
ALL = [f"{n}/{p}" for n in NAMESPACES for p in PODS]

# ---------------------------------------------------------------- the world
# Nodes and addresses are ours (upstream lets the cluster pick); they only
# have to be fixed so every replay of a case sees the same addresses.
POD_ADDR = {
    # pod: (node, IPv4, IPv6)
    "x/a": ("node-1", "10.244.1.10", "fd00:10:244:1::10"),
    "x/b": ("node-2", "10.244.2.11", "fd00:10:244:2::11"),
    "x/c": ("node-1", "10.244.1.12", "fd00:10:244:1::12"),
    "y/a": ("node-2", "10.244.2.20", "fd00:10:244:2::20"),
    "y/b": ("node-1", "10.244.1.21", "fd00:10:244:1::21"),
    "y/c": ("node-2", "10.244.2.22", "fd00:10:244:2::22"),
    "z/a": ("node-1", "10.244.1.30", "fd00:10:244:1::30"),
    "z/b": ("node-2", "10.244.2.31", "fd00:10:244:2::31"),
    "z/c": ("node-1", "10.244.1.32", "fd00:10:244:1::32"),
}

# The framework's CreateNamespace (test/e2e/framework/framework.go, util.go)
# labels every namespace: pod-security levels (the Netpol describes ask for
# baseline), e2e-run (the run's UUID; fixed here), and the API server adds
# kubernetes.io/metadata.name. Upstream names are "<baseName>-<ns>-<random>".
E2E_RUN = "6e7c3a0e-0000-4000-8000-000000000000"


def ns_labels(name):
    return {
        NS_LABEL: name,
        "e2e-run": E2E_RUN,
        "pod-security.kubernetes.io/audit": "baseline",
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/warn": "baseline",
    }


def container_ports(protocols, ports):
    # model.go ContainerSpecs: for protocol { for port { serve-<port>-<proto> } }
    return [{"name": f"serve-{port}-{proto.lower()}", "containerPort": port, "protocol": proto}
            for proto in protocols for port in ports]


def make_world():
    nodes = [
        {"name": "node-1", "podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"]},
        {"name": "node-2", "podCIDRs": ["10.244.2.0/24", "fd00:10:244:2::/64"]},
    ]
    nss = []
    for n in NAMESPACES:
        nss.append({
            "name": n,
            "labels": ns_labels(n),
            "upstream_name": {
                "Netpol": f"netpol-{n}-<random>",
                "Netpol [LinuxOnly]": f"udp-network-policy-{n}-<random>",
                "Netpol [Feature:SCTPConnectivity] [LinuxOnly]": f"sctp-network-policy-{n}-<random>",
            },
        })
    pods = []
    for i, ps in enumerate(ALL):
        n, p = ps.split("/")
        node, ip4, ip6 = POD_ADDR[ps]
        pods.append({
            "namespace": n,
            "name": p,
            "uid": f"00000000-0000-4000-8000-0000000000{i + 1:02d}",
            "labels": {"pod": p},
            "nodeName": node,
            "ipv4": ip4,
            "ipv6": ip6,
        })
    return {
        "description": "The pods and namespaces of the upstream NetworkPolicy e2e model "
                       "(test/e2e/network/netpol/model.go, kubemanager.go), with fixed "
                       "names, nodes and addresses. See README.md.",
        "upstream": f"kubernetes {UPSTREAM_VERSION} test/e2e/network/netpol",
        "image": "registry.k8s.io/e2e-test-images/agnhost:2.63.0",
        "container": "agnhost",
        "command": ["/agnhost", "porter"],
        # The union of every case's model: ports {80,81} x protocols {TCP,UDP,SCTP}.
        "protocols": ["TCP", "UDP", "SCTP"],
        "ports": [80, 81],
        "nodes": nodes,
        "namespaces": nss,
        "pods": pods,
    }


# ------------------------------------------------------ policies.go helpers
def sel(match_labels=None, exprs=None):
    """metav1.LabelSelector as Go marshals it (empty fields omitted)."""
    s = {}
    if match_labels:
        s["matchLabels"] = dict(match_labels)
    if exprs:
        s["matchExpressions"] = [{"key": k, "operator": op, "values": list(v)} if v is not None
                                 else {"key": k, "operator": op} for k, op, v in exprs]
    return s


def peer(pod=None, ns=None):
    p = {}
    if pod is not None:
        p["podSelector"] = pod
    if ns is not None:
        p["namespaceSelector"] = ns
    return p


def ipblock(cidr, except_=None):
    b = {"cidr": cidr}
    if except_:
        b["except"] = list(except_)
    return {"ipBlock": b}


def port(port=None, protocol=None, end_port=None):
    p = {}
    if protocol is not None:
        p["protocol"] = protocol
    if port is not None:
        p["port"] = port
    if end_port is not None:
        p["endPort"] = end_port
    return p


def rule(peers=None, ports=None, key="from"):
    r = {}
    if ports:
        r["ports"] = ports
    if peers:
        r[key] = peers
    return r


def ingress(*rules):
    return ("ingress", list(rules))


def egress(*rules):
    return ("egress", list(rules))


def gen_policy(name, ns, pod_selector, *setters, policy_types=None):
    """GenNetworkPolicyWithNameAndPod{MatchLabel,Selector}(name, sel, Set...)."""
    spec = {"podSelector": pod_selector}
    types = []
    for kind, rules in setters:
        # SetSpecIngressRules / SetSpecEgressRules: the first call creates the
        # list and appends the policy type; empty lists are omitted on the wire.
        types.append("Ingress" if kind == "ingress" else "Egress")
        if rules:
            spec[kind] = spec.get(kind, []) + [dict(r) for r in rules]
    spec["policyTypes"] = policy_types if policy_types is not None else types
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def match_label(labels):
    return sel(labels)


# --------------------------------------------------- reachability.go mirror
class Reach:
    def __init__(self, default=True):
        self.v = {f: {t: default for t in ALL} for f in ALL}

    @staticmethod
    def _m(peer_, ps):
        n, p = ps.split("/")
        return (peer_.get("ns") in (None, n)) and (peer_.get("pod") in (None, p))

    def expect(self, f, t, v):
        self.v[f][t] = v

    def all_ingress(self, t, v):
        for f in ALL:
            self.v[f][t] = v

    def all_egress(self, f, v):
        for t in ALL:
            self.v[f][t] = v

    def peer(self, fp, tp, v):
        for f in ALL:
            if self._m(fp, f):
                for t in ALL:
                    if self._m(tp, t):
                        self.v[f][t] = v


def P(ns=None, pod=None):
    d = {}
    if ns:
        d["ns"] = ns
    if pod:
        d["pod"] = pod
    return d


def probe(port_, proto, reach):
    return {"port": port_, "protocol": proto, "reach": reach}


def step(desc, apply=(), delete=(), label=(), probes=()):
    return {"description": desc, "apply": list(apply), "delete": list(delete),
            "label": list(label), "probes": list(probes)}


CASES = []


def case(slug, upstream, line, pods, protocols, ports, context="Netpol NetworkPolicy between server and client"):
    def deco(fn):
        CASES.append({"slug": slug, "upstream": upstream, "line": line, "context": context,
                      "pods": pods, "protocols": protocols, "ports": ports, "fn": fn})
        return fn
    return deco


TCP, UDP, SCTP = "TCP", "UDP", "SCTP"
X, Y, Z = "x", "y", "z"
EMPTY = {}


# ------------------------------------------------------------------ cases
@case("default-deny-ingress", "should support a 'default-deny-ingress' policy", 80,
      ["x/a", "x/b", "y/a", "y/b"], [TCP], [80])
def _():
    pol = gen_policy("deny-ingress", X, EMPTY, ingress())
    r = Reach()
    r.peer(P(), P(X), False)
    return [step("deny-ingress in x", apply=[pol], probes=[probe(80, TCP, r)])]


@case("default-deny-all", "should support a 'default-deny-all' policy", 110,
      ["x/a", "x/b", "y/a"], [TCP], [80])
def _():
    pol = gen_policy("deny-all", X, EMPTY, ingress(), egress())
    r = Reach()
    r.peer(P(), P(X), False)
    r.peer(P(X), P(), False)
    return [step("deny-all (ingress and egress) in x", apply=[pol], probes=[probe(80, TCP, r)])]


@case("podselector-within-server-ns",
      "should enforce policy to allow traffic from pods within server namespace based on PodSelector", 129,
      ["x/a", "x/b", "x/c", "y/a"], [TCP], [80])
def _():
    pol = gen_policy("x-a-allows-x-b", X, match_label({"pod": "a"}),
                     ingress(rule([peer(pod=sel({"pod": "b"}))])))
    r = Reach()
    r.all_ingress("x/a", False)
    r.expect("x/b", "x/a", True)
    return [step("x/a allows ingress from x/b", apply=[pol], probes=[probe(80, TCP, r)])]


@case("ingress-for-a-target", "should enforce policy to allow ingress traffic for a target", 155,
      ["x/a", "x/b", "y/a"], [TCP], [80])
def _():
    deny = gen_policy("deny-all", X, EMPTY, ingress())
    allow = gen_policy("allow-all-to-a", X, match_label({"pod": "a"}),
                       ingress(rule([peer(pod=EMPTY, ns=EMPTY)])))
    r = Reach()
    r.all_ingress("x/a", True)
    r.all_ingress("x/b", False)
    return [step("deny-all ingress in x, then allow all to x/a", apply=[deny, allow],
                 probes=[probe(80, TCP, r)])]


@case("ingress-from-all-namespaces",
      "should enforce policy to allow ingress traffic from pods in all namespaces", 182,
      ["x/a", "x/b", "y/a", "z/a"], [TCP], [80])
def _():
    pol = gen_policy("allow-from-another-ns", X, match_label({"pod": "a"}),
                     ingress(rule([peer(ns=sel({}))])))
    r = Reach()
    return [step("x/a allows ingress from every namespace", apply=[pol], probes=[probe(80, TCP, r)])]


@case("only-from-other-ns-nsselector",
      "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector", 200,
      ["x/a", "x/b", "y/a", "z/a"], [TCP], [80])
def _():
    pol = gen_policy("allow-client-a-via-ns-selector", X, match_label({"pod": "a"}),
                     ingress(rule([peer(ns=sel({NS_LABEL: Y}))])))
    r = Reach()
    r.peer(P(X), P(X, "a"), False)
    r.peer(P(Z), P(X, "a"), False)
    return [step("x/a allows ingress from namespace y", apply=[pol], probes=[probe(80, TCP, r)])]


@case("podselector-matchexpressions", "should enforce policy based on PodSelector with MatchExpressions", 222,
      ["x/a", "x/b", "y/a"], [TCP], [80])
def _():
    pol = gen_policy("x-a-allows-x-b", X, match_label({"pod": "a"}),
                     ingress(rule([peer(pod=sel(exprs=[("pod", "In", ["b"])]))])))
    r = Reach()
    r.all_ingress("x/a", False)
    r.expect("x/b", "x/a", True)
    return [step("x/a allows ingress from pod In [b]", apply=[pol], probes=[probe(80, TCP, r)])]


@case("nsselector-matchexpressions", "should enforce policy based on NamespaceSelector with MatchExpressions", 249,
      ["x/a", "x/b", "y/a", "z/a"], [TCP], [80])
def _():
    pol = gen_policy("allow-ns-y-match-selector", X, match_label({"pod": "a"}),
                     ingress(rule([peer(ns=sel(exprs=[(NS_LABEL, "In", [Y])]))])))
    r = Reach()
    r.peer(P(X), P(X, "a"), False)
    r.peer(P(Z), P(X, "a"), False)
    return [step("x/a allows ingress from namespaces In [y]", apply=[pol], probes=[probe(80, TCP, r)])]


@case("podselector-or-nsselector", "should enforce policy based on PodSelector or NamespaceSelector", 278,
      ["x/a", "x/b", "x/c", "y/a"], [TCP], [80])
def _():
    pol = gen_policy("allow-ns-y-match-selector", X, match_label({"pod": "a"}),
                     ingress(rule([peer(ns=sel(exprs=[(NS_LABEL, "NotIn", [X])])),
                                   peer(pod=sel({"pod": "b"}))])))
    r = Reach()
    r.expect("x/a", "x/a", False)
    r.expect("x/c", "x/a", False)
    return [step("x/a allows ingress from namespaces NotIn [x] or from x/b", apply=[pol],
                 probes=[probe(80, TCP, r)])]


@case("podselector-and-nsselector", "should enforce policy based on PodSelector and NamespaceSelector", 312,
      ["x/a", "x/b", "y/a", "y/b", "z/b"], [TCP], [80])
def _():
    pol = gen_policy("allow-ns-y-podselector-and-nsselector", X, match_label({"pod": "a"}),
                     ingress(rule([peer(ns=sel(exprs=[(NS_LABEL, "NotIn", [X])]),
                                        pod=sel({"pod": "b"}))])))
    r = Reach()
    r.all_ingress("x/a", False)
    r.expect("y/b", "x/a", True)
    r.expect("z/b", "x/a", True)
    return [step("x/a allows ingress from pod b in namespaces NotIn [x]", apply=[pol],
                 probes=[probe(80, TCP, r)])]


@case("multiple-podselectors-and-nsselectors",
      "should enforce policy based on Multiple PodSelectors and NamespaceSelectors", 347,
      ["x/a", "x/b", "y/a", "y/b", "y/c"], [TCP], [80])
def _():
    pol = gen_policy("allow-ns-y-z-pod-b-c", X, match_label({"pod": "a"}),
                     ingress(rule([peer(ns=sel(exprs=[(NS_LABEL, "NotIn", [X])]),
                                        pod=sel(exprs=[("pod", "In", ["b", "c"])]))])))
    r = Reach()
    r.peer(P(X), P(X, "a"), False)
    r.expect("y/a", "x/a", False)
    return [step("x/a allows ingress from pods In [b,c] in namespaces NotIn [x]", apply=[pol],
                 probes=[probe(80, TCP, r)])]


@case("any-podselectors", "should enforce policy based on any PodSelectors", 382,
      ["x/a", "x/b", "x/c"], [TCP], [80])
def _():
    pol = gen_policy("allow-ns-x-pod-b-c", X, match_label({"pod": "a"}),
                     ingress(rule([peer(pod=sel({"pod": "b"})), peer(pod=sel({"pod": "c"}))])))
    r = Reach()
    r.all_ingress("x/a", False)
    r.expect("x/b", "x/a", True)
    r.expect("x/c", "x/a", True)
    return [step("x/a allows ingress from x/b or x/c", apply=[pol], probes=[probe(80, TCP, r)])]


def pod_in_other_ns(proto, port_, polname="allow-ns-y-pod-a-via-namespace-pod-selector"):
    pol = gen_policy(polname, X, match_label({"pod": "a"}),
                     ingress(rule([peer(ns=sel({NS_LABEL: Y}), pod=sel({"pod": "a"}))])))
    r = Reach()
    r.all_ingress("x/a", False)
    r.expect("y/a", "x/a", True)
    return [step("x/a allows ingress from y/a only", apply=[pol], probes=[probe(port_, proto, r)])]


@case("pod-in-other-ns-pod-and-ns-selector",
      "should enforce policy to allow traffic only from a pod in a different namespace based on "
      "PodSelector and NamespaceSelector", 407,
      ["x/a", "x/b", "y/a", "y/b", "z/a"], [TCP], [80])
def _():
    return pod_in_other_ns(TCP, 80)


@case("ports", "should enforce policy based on Ports", 438,
      ["x/a", "x/b", "y/a", "y/b", "z/a"], [TCP], [81])
def _():
    pol = gen_policy("allow-client-a-via-ns-selector", X, match_label({"pod": "a"}),
                     ingress(rule([peer(ns=sel({NS_LABEL: Y}))], [port(81, TCP)])))
    r = Reach()
    r.peer(P(X), P(X, "a"), False)
    r.peer(P(Y), P(X, "a"), True)
    r.peer(P(Z), P(X, "a"), False)
    return [step("x/a allows ingress from namespace y on TCP 81", apply=[pol],
                 probes=[probe(81, TCP, r)])]


@case("stacked-overlapping-policies", "should enforce multiple, stacked policies with overlapping podSelectors", 468,
      ["x/a", "x/b", "y/a", "y/b", "z/a"], [TCP], [80, 81])
def _():
    ns_y = sel({NS_LABEL: Y})
    p81 = gen_policy("allow-client-a-via-ns-selector", X, match_label({"pod": "a"}),
                     ingress(rule([peer(ns=ns_y)], [port(81, TCP)])))
    allow = Reach()
    allow.peer(P(X), P(X, "a"), False)
    allow.peer(P(Y), P(X, "a"), True)
    allow.peer(P(Z), P(X, "a"), False)
    deny = Reach()
    deny.all_ingress("x/a", False)
    p80 = gen_policy("allow-client-a-via-ns-selector-80", X, match_label({"pod": "a"}),
                     ingress(rule([peer(ns=ns_y)], [port(80, TCP)])))
    return [
        step("x/a allows namespace y on TCP 81", apply=[p81],
             probes=[probe(81, TCP, allow), probe(80, TCP, deny)]),
        step("a second policy also allows namespace y on TCP 80", apply=[p80],
             probes=[probe(80, TCP, allow)]),
    ]


@case("allow-all", "should support allow-all policy", 513, ["x/a", "x/b", "y/a"], [TCP], [80, 81])
def _():
    pol = gen_policy("allow-all", X, match_label({}), ingress({}))
    r = Reach()
    return [step("allow-all ingress in x", apply=[pol], probes=[probe(80, TCP, r), probe(81, TCP, r)])]


@case("ingress-named-port", "should allow ingress access on one named port", 531,
      ["x/a", "x/b", "y/a"], [TCP], [80, 81])
def _():
    pol = gen_policy("allow-all", X, match_label({}), ingress(rule(None, [port("serve-81-tcp")])))
    r81 = Reach()
    r80 = Reach()
    r80.peer(P(), P(X), False)
    return [step("x allows ingress on named port serve-81-tcp", apply=[pol],
                 probes=[probe(81, TCP, r81), probe(80, TCP, r80)])]


@case("ingress-from-ns-named-port", "should allow ingress access from namespace on one named port", 555,
      ["x/a", "x/b", "y/a", "z/a"], [TCP], [80, 81])
def _():
    pol = gen_policy("allow-client-a-via-ns-selector-80", X, match_label({"pod": "a"}),
                     ingress(rule([peer(ns=sel({NS_LABEL: Y}))], [port("serve-80-tcp", TCP)])))
    r = Reach()
    r.peer(P(X), P(X, "a"), False)
    r.peer(P(Z), P(X, "a"), False)
    fail = Reach()
    fail.all_ingress("x/a", False)
    return [step("x/a allows namespace y on named port serve-80-tcp", apply=[pol],
                 probes=[probe(80, TCP, r), probe(81, TCP, fail)])]


@case("egress-named-port", "should allow egress access on one named port", 590, ["x/a", "y/a"], [TCP], [80, 81])
def _():
    pol = gen_policy("allow-egress", X, match_label({}), egress(rule(None, [port("serve-80-tcp")], key="to")))
    r80 = Reach()
    r81 = Reach()
    r81.peer(P(X), P(), False)
    return [step("x allows egress on named port serve-80-tcp only", apply=[pol],
                 probes=[probe(80, TCP, r80), probe(81, TCP, r81)])]


@case("updated-policy", "should enforce updated policy", 613, ["x/a", "y/a"], [TCP], [81])
def _():
    pol = gen_policy("allow-all-mutate-to-deny-all", X, match_label({}), ingress({}))
    upd = copy.deepcopy(pol)
    # policy.Spec.Ingress = []: policyTypes stays [Ingress]; the empty list is omitted.
    del upd["spec"]["ingress"]
    r = Reach()
    deny = Reach()
    deny.peer(P(), P(X), False)
    return [
        step("allow-all ingress in x", apply=[pol], probes=[probe(81, TCP, r)]),
        step("update the policy to no ingress rules (deny all)", apply=[upd],
             probes=[probe(81, TCP, deny)]),
    ]


@case("updated-namespace", "should allow ingress access from updated namespace", 639, ["x/a", "y/a"], [TCP], [80])
def _():
    pol = gen_policy("allow-client-a-via-ns-selector", X, match_label({"pod": "a"}),
                     ingress(rule([peer(ns=sel({"ns2": "updated"}))])))
    r = Reach()
    r.all_ingress("x/a", False)
    rl = Reach()
    rl.all_ingress("x/a", False)
    rl.peer(P(Y), P(), True)
    labels = ns_labels(Y)
    labels["ns2"] = "updated"
    return [
        step("x/a allows ingress from namespaces labelled ns2=updated (none yet)", apply=[pol],
             probes=[probe(80, TCP, r)]),
        step("label namespace y ns2=updated",
             label=[{"kind": "Namespace", "name": Y, "labels": labels}],
             probes=[probe(80, TCP, rl)]),
    ]


@case("updated-pod", "should allow ingress access from updated pod", 672, ["x/a", "x/b"], [TCP], [80])
def _():
    ml = {"pod": "b", "pod2": "updated"}
    pol = gen_policy("allow-client-a-via-pod-selector", X, match_label({"pod": "a"}),
                     ingress(rule([peer(pod=sel(ml))])))
    r = Reach()
    r.all_ingress("x/a", False)
    rl = Reach()
    rl.all_ingress("x/a", False)
    rl.expect("x/b", "x/a", True)
    return [
        step("x/a allows ingress from pods labelled pod=b,pod2=updated (none yet)", apply=[pol],
             probes=[probe(80, TCP, r)]),
        step("label pod x/b pod2=updated",
             label=[{"kind": "Pod", "namespace": X, "name": "b", "labels": dict(ml)}],
             probes=[probe(80, TCP, rl)]),
    ]


@case("deny-ingress-other-namespaces", "should deny ingress from pods on other namespaces", 703,
      ["x/a", "x/b", "y/a", "z/a"], [TCP], [80])
def _():
    pol = gen_policy("deny-empty-policy", X, EMPTY, ingress(rule([peer(pod=sel({}))])))
    r = Reach()
    r.peer(P(Y), P(X), False)
    r.peer(P(Z), P(X), False)
    return [step("x allows ingress from its own pods only", apply=[pol], probes=[probe(80, TCP, r)])]


@case("deny-ingress-updated-pod", "should deny ingress access to updated pod", 724, ["x/a", "y/a"], [TCP], [80])
def _():
    pol = gen_policy("deny-ingress-via-label-selector", X, sel({"target": "isolated"}), ingress())
    r = Reach()
    ri = Reach()
    ri.all_ingress("x/a", False)
    return [
        step("deny ingress to pods labelled target=isolated (none yet)", apply=[pol],
             probes=[probe(80, TCP, r)]),
        step("label pod x/a target=isolated",
             label=[{"kind": "Pod", "namespace": X, "name": "a",
                     "labels": {"pod": "a", "target": "isolated"}}],
             probes=[probe(80, TCP, ri)]),
    ]


@case("deny-egress-podselector", "should deny egress from pods based on PodSelector", 749,
      ["x/a", "x/b", "y/a"], [TCP], [80])
def _():
    pol = gen_policy("deny-egress-pod-a", X, sel({"pod": "a"}), egress())
    r = Reach()
    r.all_egress("x/a", False)
    return [step("deny all egress of x/a", apply=[pol], probes=[probe(80, TCP, r)])]


@case("deny-egress-namespace", "should deny egress from all pods in a namespace", 766,
      ["x/a", "x/b", "y/a"], [TCP], [80])
def _():
    pol = gen_policy("deny-egress-ns-x", X, EMPTY, egress())
    r = Reach()
    r.peer(P(X), P(), False)
    return [step("deny all egress in x", apply=[pol], probes=[probe(80, TCP, r)])]


@case("ingress-egress-together", "should work with Ingress, Egress specified together", 783,
      ["x/a", "x/b", "x/c", "y/a"], [TCP], [80, 81])
def _():
    pol = gen_policy("allow-client-a-via-pod-selector", X, match_label({"pod": "a"}),
                     ingress(rule([peer(pod=sel({"pod": "b"}))])))
    pol["spec"]["egress"] = [{"ports": [port(80)]}]
    pol["spec"]["policyTypes"] = ["Egress", "Ingress"]
    # NetworkPolicySpec field order, as Go marshals it.
    pol["spec"] = {k: pol["spec"][k] for k in ("podSelector", "ingress", "egress", "policyTypes")}
    r80 = Reach()
    r80.all_ingress("x/a", False)
    r80.expect("x/b", "x/a", True)
    r81 = Reach()
    r81.all_ingress("x/a", False)
    r81.all_egress("x/a", False)
    r81.expect("x/b", "x/a", True)
    return [step("x/a: ingress from x/b, egress to port 80", apply=[pol],
                 probes=[probe(80, TCP, r80), probe(81, TCP, r81)])]


@case("deny-egress-client-side",
      "should support denying of egress traffic on the client side (even if the server explicitly allows "
      "this traffic)", 825, ["x/a", "y/a", "y/b"], [TCP], [80])
def _():
    eg = gen_policy("allow-to-ns-y-pod-a", X, match_label({"pod": "a"}),
                    egress(rule([peer(ns=sel({NS_LABEL: Y}), pod=sel({"pod": "a"}))], key="to")))
    ing_rule = rule([peer(ns=sel({NS_LABEL: X}), pod=sel({"pod": "a"}))])
    ia = gen_policy("allow-from-xa-on-ya-match-selector", Y, match_label({"pod": "a"}), ingress(ing_rule))
    ib = gen_policy("allow-from-xa-on-yb-match-selector", Y, match_label({"pod": "b"}), ingress(ing_rule))
    r = Reach()
    r.peer(P(X, "a"), P(), False)
    r.peer(P(), P(Y, "a"), False)
    r.peer(P(X, "a"), P(Y, "a"), True)
    r.peer(P(), P(Y, "b"), False)
    return [step("x/a egress to y/a only; y/a and y/b allow ingress from x/a", apply=[eg, ia, ib],
                 probes=[probe(80, TCP, r)])]


@case("egress-pod-and-ns-selector",
      "should enforce egress policy allowing traffic to a server in a different namespace based on "
      "PodSelector and NamespaceSelector", 883, ["x/a", "y/a", "y/b"], [TCP], [80])
def _():
    pol = gen_policy("allow-to-ns-y-pod-a", X, match_label({"pod": "a"}),
                     egress(rule([peer(ns=sel({NS_LABEL: Y}), pod=sel({"pod": "a"}))], key="to")))
    r = Reach()
    r.all_egress("x/a", False)
    r.expect("x/a", "y/a", True)
    return [step("x/a egress to y/a only", apply=[pol], probes=[probe(80, TCP, r)])]


@case("ingress-any-port-one-protocol",
      "should enforce ingress policy allowing any port traffic to a server on a specific protocol", 912,
      ["x/a", "y/a"], [TCP, UDP], [80])
def _():
    pol = gen_policy("allow-ingress-by-proto", X, match_label({"pod": "a"}),
                     ingress(rule(None, [port(protocol=TCP)])))
    rt = Reach()
    ru = Reach()
    ru.peer(P(), P(X, "a"), False)
    return [step("x/a allows ingress on any TCP port", apply=[pol],
                 probes=[probe(80, TCP, rt), probe(80, UDP, ru)])]


@case("ingress-allow-all-precedence",
      "should enforce multiple ingress policies with ingress allow-all policy taking precedence", 933,
      ["x/a", "y/a"], [TCP], [81])
def _():
    p80 = gen_policy("allow-ingress-port-80", X, match_label({}), ingress(rule(None, [port(80)])))
    r = Reach()
    r.peer(P(), P(X), False)
    pall = gen_policy("allow-ingress", X, match_label({}), ingress({}))
    return [
        step("x allows ingress on port 80 only", apply=[p80], probes=[probe(81, TCP, r)]),
        step("add an allow-all ingress policy", apply=[pall], probes=[probe(81, TCP, Reach())]),
    ]


@case("egress-allow-all-precedence",
      "should enforce multiple egress policies with egress allow-all policy taking precedence", 961,
      ["x/a", "y/a"], [TCP], [81])
def _():
    p80 = gen_policy("allow-egress-port-80", X, match_label({}), egress(rule(None, [port(80)], key="to")))
    r = Reach()
    r.peer(P(X), P(), False)
    pall = gen_policy("allow-egress", X, match_label({}), egress({}))
    return [
        step("x allows egress on port 80 only", apply=[p80], probes=[probe(81, TCP, r)]),
        step("add an allow-all egress policy", apply=[pall], probes=[probe(81, TCP, Reach())]),
    ]


@case("stop-after-delete", "should stop enforcing policies after they are deleted", 989,
      ["x/a", "y/a"], [TCP], [80])
def _():
    pol = gen_policy("deny-all", X, EMPTY, ingress(), egress())
    r = Reach()
    r.peer(P(X), P(), False)
    r.peer(P(), P(X), False)
    return [
        step("deny-all (ingress and egress) in x", apply=[pol], probes=[probe(80, TCP, r)]),
        step("delete every policy (cleanNetworkPolicies)",
             delete=[{"kind": "NetworkPolicy", "namespace": X, "name": "deny-all"}],
             probes=[probe(80, TCP, Reach())]),
    ]


@case("egress-cidr", "should allow egress access to server in CIDR block", 1019,
      ["x/a", "y/a", "y/b"], [TCP], [80])
def _():
    pol = gen_policy("allow-client-a-via-cidr-egress-rule", X, match_label({"pod": "a"}),
                     egress(rule([ipblock("${IP:y/b}/${HOSTMASK}")], key="to")))
    r = Reach()
    r.all_egress("x/a", False)
    r.expect("x/a", "y/b", True)
    return [step("x/a egress to y/b's IP only", apply=[pol], probes=[probe(80, TCP, r)])]


def except_policy():
    # makeLargeCIDRForIP: the /4 containing the pod's IP, in either family.
    return gen_policy("allow-client-a-via-cidr-egress-rule", X, match_label({"pod": "a"}),
                      egress(rule([ipblock("${NET:x/b:4:4}", ["${IP:x/b}/${HOSTMASK}"])], key="to")))


@case("egress-cidr-except", "should enforce except clause while egress access to server in CIDR block", 1050,
      ["x/a", "x/b", "x/c"], [TCP], [80])
def _():
    r = Reach()
    r.expect("x/a", "x/b", False)
    return [step("x/a egress to the /4 around x/b except x/b", apply=[except_policy()],
                 probes=[probe(80, TCP, r)])]


@case("cidr-and-except-overlap",
      "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed", 1085,
      ["x/a", "x/b", "x/c"], [TCP], [80])
def _():
    r = Reach()
    r.expect("x/a", "x/b", False)
    upd = gen_policy("allow-client-a-via-cidr-egress-rule", X, match_label({"pod": "a"}),
                     egress(rule([ipblock("${IP:x/b}/${HOSTMASK}")], key="to")))
    ra = Reach()
    ra.all_egress("x/a", False)
    ra.expect("x/a", "x/b", True)
    return [
        step("x/a egress to the /4 around x/b except x/b", apply=[except_policy()],
             probes=[probe(80, TCP, r)]),
        step("update the policy to egress to x/b's IP only", apply=[upd], probes=[probe(80, TCP, ra)]),
    ]


@case("ingress-egress-independent",
      "should enforce policies to check ingress and egress policies can be controlled independently based "
      "on PodSelector", 1135, ["x/a", "x/b", "y/a"], [TCP], [80])
def _():
    tl = {"pod": "a"}
    eg = gen_policy("allow-egress-for-target", X, sel(tl), egress({}))
    den = gen_policy("deny-ingress-via-label-selector", X, sel(tl), ingress())
    r = Reach()
    r.all_ingress("x/a", False)
    return [
        step("x/a allows all egress", apply=[eg], probes=[probe(80, TCP, Reach())]),
        step("x/a denies all ingress", apply=[den], probes=[probe(80, TCP, r)]),
    ]


@case("sctp-not-tcp",
      "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP",
      1176, ["x/a", "y/a"], [TCP], [81])
def _():
    deny = gen_policy("deny-ingress", X, EMPTY, ingress())
    sctp = gen_policy("allow-only-sctp-ingress-on-port-81", X, match_label({"pod": "a"}),
                      ingress(rule(None, [port(81, SCTP)])))
    r = Reach()
    r.peer(P(), P(X), False)
    return [step("deny ingress in x; x/a allows SCTP 81", apply=[deny, sctp], probes=[probe(81, TCP, r)])]


@case("sctp-isolates",
      "should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't "
      "support SCTP", 1204, ["x/a", "y/a"], [TCP], [81])
def _():
    pol = gen_policy("allow-only-sctp-ingress-on-port-80", X, match_label({"pod": "a"}),
                     ingress(rule(None, [port(80, SCTP)])))
    r = Reach()
    r.all_ingress("x/a", False)
    return [step("x/a allows SCTP 80 only", apply=[pol], probes=[probe(81, TCP, r)])]


@case("udp-only-not-tcp", "should not allow access by TCP when a policy specifies only UDP", 1224,
      ["x/a", "y/a"], [TCP], [81])
def _():
    pol = gen_policy("allow-only-udp-ingress-on-port-81", X, match_label({"pod": "a"}),
                     ingress(rule(None, [port(81, UDP)])))
    r = Reach()
    r.all_ingress("x/a", False)
    return [step("x/a allows UDP 81 only", apply=[pol], probes=[probe(81, TCP, r)])]


@case("default-ns-label-matchlabels",
      "should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label",
      1246, ["x/a", "x/b", "y/a", "z/a"], [TCP], [80])
def _():
    pol = gen_policy("allow-client-a-via-ns-selector-for-immutable-ns-label", X, match_label({"pod": "a"}),
                     ingress(rule([peer(ns=sel({NS_LABEL: Y}))])))
    r = Reach()
    r.peer(P(X), P(X, "a"), False)
    r.peer(P(Z), P(X, "a"), False)
    return [step("x/a allows ingress from kubernetes.io/metadata.name=y", apply=[pol],
                 probes=[probe(80, TCP, r)])]


@case("default-ns-label-matchexpressions",
      "should enforce policy based on NamespaceSelector with MatchExpressions using default ns label", 1273,
      ["x/a", "x/b", "y/a", "z/a"], [TCP], [80])
def _():
    pol = gen_policy("allow-ns-y-match-selector-for-immutable-ns-label", X, match_label({"pod": "a"}),
                     egress(rule([peer(ns=sel(exprs=[(NS_LABEL, "NotIn", [Y])]))], key="to")))
    r = Reach()
    r.peer(P(X, "a"), P(Y), False)
    return [step("x/a egress to namespaces NotIn [y]", apply=[pol], probes=[probe(80, TCP, r)])]


def deny_ingress_proto(proto):
    pol = gen_policy("deny-all", X, EMPTY, ingress())
    r = Reach()
    r.peer(P(), P(X), False)
    return [step("deny-all ingress in x", apply=[pol], probes=[probe(80, proto, r)])]


def ports_proto(proto):
    pol = gen_policy("allow-ingress-on-port-81-ns-x", X, match_label({"pod": "a"}),
                     ingress(rule([peer(ns=sel({NS_LABEL: Y}))], [port(81, proto)])))
    r = Reach()
    r.peer(P(X), P(X, "a"), False)
    r.peer(P(Z), P(X, "a"), False)
    return [step(f"x/a allows namespace y on {proto} 81", apply=[pol], probes=[probe(81, proto, r)])]


UDP_CTX = "Netpol [LinuxOnly] NetworkPolicy between server and client using UDP"
SCTP_CTX = "Netpol [Feature:SCTPConnectivity] [LinuxOnly] NetworkPolicy between server and client using SCTP"


@case("udp-default-deny-ingress", "should support a 'default-deny-ingress' policy", 1313,
      ["x/a", "x/b", "y/a", "y/b"], [UDP], [80], context=UDP_CTX)
def _():
    return deny_ingress_proto(UDP)


@case("udp-ports", "should enforce policy based on Ports", 1331,
      ["x/a", "x/b", "y/a", "z/a"], [UDP], [81], context=UDP_CTX)
def _():
    return ports_proto(UDP)


@case("udp-pod-in-other-ns-pod-and-ns-selector",
      "should enforce policy to allow traffic only from a pod in a different namespace based on "
      "PodSelector and NamespaceSelector", 1360, ["x/a", "x/b", "y/a"], [UDP], [80], context=UDP_CTX)
def _():
    return pod_in_other_ns(UDP, 80)


@case("sctp-default-deny-ingress", "should support a 'default-deny-ingress' policy", 1405,
      ["x/a", "x/b", "y/a", "y/b"], [SCTP], [80], context=SCTP_CTX)
def _():
    return deny_ingress_proto(SCTP)


@case("sctp-ports", "should enforce policy based on Ports", 1423,
      ["x/a", "x/b", "y/a", "z/a"], [SCTP], [81], context=SCTP_CTX)
def _():
    return ports_proto(SCTP)


@case("sctp-pod-in-other-ns-pod-and-ns-selector",
      "should enforce policy to allow traffic only from a pod in a different namespace based on "
      "PodSelector and NamespaceSelector", 1452, ["x/a", "x/b", "y/a"], [SCTP], [80], context=SCTP_CTX)
def _():
    return pod_in_other_ns(SCTP, 80)


SKIPPED = [
    ("network_policy_api.go", "Netpol API", "should support creating NetworkPolicy API operations",
     "API test: create/get/list/watch/patch/update/delete through the API server; no traffic is probed"),
    ("network_policy_api.go", "Netpol API", "should support creating NetworkPolicy API with endport field",
     "API test: endPort validation by the API server; no traffic is probed"),
]


# ------------------------------------------------------------- templates
def expand(s, fam, world_pods):
    out = []
    i = 0
    while i < len(s):
        if s.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if s.startswith("${", i):
            j = s.index("}", i)
            out.append(expand_one(s[i + 2:j], fam, world_pods))
            i = j + 1
            continue
        out.append(s[i])
        i += 1
    return "".join(out)


def expand_one(t, fam, world_pods):
    parts = t.split(":")
    if parts == ["HOSTMASK"]:
        return "32" if fam == 4 else "128"
    if parts == ["FAMILY"]:
        return str(fam)
    if parts[0] == "IP" and len(parts) == 2:
        return world_pods[parts[1]]["ipv4" if fam == 4 else "ipv6"]
    if parts[0] == "NET" and len(parts) == 4:
        ip = world_pods[parts[1]]["ipv4" if fam == 4 else "ipv6"]
        plen = int(parts[2] if fam == 4 else parts[3])
        return str(ipaddress.ip_network(f"{ip}/{plen}", strict=False))
    raise ValueError(f"bad template ${{{t}}}")


def expand_tree(o, fam, world_pods):
    if isinstance(o, str):
        return expand(o, fam, world_pods)
    if isinstance(o, list):
        return [expand_tree(v, fam, world_pods) for v in o]
    if isinstance(o, dict):
        return {k: expand_tree(v, fam, world_pods) for k, v in o.items()}
    return o


# ---------------------------------------------------- reference evaluator
# An independent, literal reading of the NetworkPolicy v1 spec, used only to
# cross-check the hand-built expectations.
def sel_match(s, labels):
    for k, v in s.get("matchLabels", {}).items():
        if labels.get(k) != v:
            return False
    for e in s.get("matchExpressions", []):
        k, op, vals = e["key"], e["operator"], e.get("values", [])
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def peer_match(pr, pol_ns, other, state, fam):
    if "ipBlock" in pr:
        ip = ipaddress.ip_address(other["ip"][fam])
        net = ipaddress.ip_network(pr["ipBlock"]["cidr"], strict=False)
        if ip.version != net.version or ip not in net:
            return False
        return not any(ip in ipaddress.ip_network(e, strict=False) for e in pr["ipBlock"].get("except", []))
    if "namespaceSelector" in pr:
        if not sel_match(pr["namespaceSelector"], state["ns"][other["ns"]]):
            return False
    elif other["ns"] != pol_ns:
        return False
    if "podSelector" in pr and not sel_match(pr["podSelector"], other["labels"]):
        return False
    return True


def port_match(pp, dst, proto, port_):
    if pp.get("protocol", "TCP") != proto:
        return False
    if "port" not in pp:
        return True
    p = pp["port"]
    if isinstance(p, str):
        return any(cp["name"] == p and cp["protocol"] == proto and cp["containerPort"] == port_
                   for cp in dst["ports"])
    return p <= port_ <= pp.get("endPort", p)


def allowed_dir(pod, other, dst, direction, state, fam, proto, port_):
    key, peers_key, typ = ("ingress", "from", "Ingress") if direction == "in" else ("egress", "to", "Egress")
    isolated = False
    for pol in state["policies"].values():
        if pol["metadata"]["namespace"] != pod["ns"]:
            continue
        if typ not in pol["spec"].get("policyTypes", []):
            continue
        if not sel_match(pol["spec"]["podSelector"], pod["labels"]):
            continue
        isolated = True
        for r in pol["spec"].get(key, []):
            peers = r.get(peers_key, [])
            if peers and not any(peer_match(pr, pod["ns"], other, state, fam) for pr in peers):
                continue
            ports = r.get("ports", [])
            if ports and not any(port_match(pp, dst, proto, port_) for pp in ports):
                continue
            return True
    return not isolated


def reference(state, fam, proto, port_, pods):
    m = {}
    for f in pods:
        for t in pods:
            if f == t:
                continue
            src, dst = state["pods"][f], state["pods"][t]
            m[(f, t)] = (allowed_dir(src, dst, dst, "out", state, fam, proto, port_) and
                         allowed_dir(dst, src, dst, "in", state, fam, proto, port_))
    return m


def initial_state(world, pods, protocols, ports):
    st = {"ns": {n["name"]: dict(n["labels"]) for n in world["namespaces"]}, "pods": {}, "policies": {}}
    for p in world["pods"]:
        k = f'{p["namespace"]}/{p["name"]}'
        if k in pods:
            st["pods"][k] = {"ns": p["namespace"], "labels": dict(p["labels"]),
                             "ip": {4: p["ipv4"], 6: p["ipv6"]},
                             "ports": container_ports(protocols, ports)}
    return st


# ------------------------------------------------------------------ main
def build():
    world = make_world()
    wp = {f'{p["namespace"]}/{p["name"]}': p for p in world["pods"]}
    out = {"world.json": world}
    problems = []
    index = []
    for num, c in enumerate(CASES, 1):
        name = f'{num:03d}-{c["slug"]}'
        steps = c["fn"]()
        notes = []
        # Simulate on the full world and on upstream's subset, both families.
        sims = {}
        for mode, pods, protos, ports_ in (("full", ALL, world["protocols"], world["ports"]),
                                           ("upstream", c["pods"], c["protocols"], c["ports"])):
            for fam in (4, 6):
                st = initial_state(world, pods, protos, ports_)
                res = []
                for s in steps:
                    for o in s["apply"]:
                        o = expand_tree(o, fam, wp)
                        st["policies"][(o["metadata"]["namespace"], o["metadata"]["name"])] = o
                    for lab in s["label"]:
                        if lab["kind"] == "Namespace":
                            st["ns"][lab["name"]] = dict(lab["labels"])
                        elif f'{lab["namespace"]}/{lab["name"]}' in st["pods"]:
                            st["pods"][f'{lab["namespace"]}/{lab["name"]}']["labels"] = dict(lab["labels"])
                    for d in s["delete"]:
                        del st["policies"][(d["namespace"], d["name"])]
                    res.append([reference(st, fam, pr["protocol"], pr["port"], pods) for pr in s["probes"]])
                sims[(mode, fam)] = res
        jsteps = []
        for si, s in enumerate(steps):
            jprobes = []
            for pi, pr in enumerate(s["probes"]):
                exp = {}
                for f in ALL:
                    exp[f] = {}
                    for t in ALL:
                        if f == t:
                            continue
                        go = pr["reach"].v[f][t]
                        refs = {sims[("full", fam)][si][pi][(f, t)] for fam in (4, 6)}
                        if len(refs) != 1:
                            problems.append(f"{name}: families disagree on {f}->{t}")
                        ref = refs.pop()
                        if f in c["pods"] and t in c["pods"]:
                            for fam in (4, 6):
                                if sims[("upstream", fam)][si][pi][(f, t)] != go:
                                    problems.append(f"{name} step {si} {pr['protocol']}/{pr['port']} "
                                                    f"{f}->{t}: upstream expects {go}, reference (upstream "
                                                    f"model, IPv{fam}) says {not go}")
                            if ref != go:
                                problems.append(f"{name} step {si}: {f}->{t} full world differs from "
                                                f"upstream model")
                            exp[f][t] = go
                        else:
                            if ref != go:
                                notes.append(f"step {si + 1} {pr['protocol']}/{pr['port']}: {f} -> {t} is "
                                             f"{'allowed' if ref else 'denied'}; upstream's calls replayed "
                                             f"over 9 pods would say {'allowed' if go else 'denied'} "
                                             f"({f if f not in c['pods'] else t} is not in upstream's model)")
                            exp[f][t] = ref
                jprobes.append({"port": pr["port"], "protocol": pr["protocol"], "expect": exp})
            js = {"description": s["description"]}
            if s["apply"]:
                js["apply"] = s["apply"]
            if s["delete"]:
                js["delete"] = s["delete"]
            if s["label"]:
                js["label"] = s["label"]
            js["probes"] = jprobes
            jsteps.append(js)
        doc = {
            "name": name,
            "upstream": c["upstream"],
            "upstream_context": c["context"],
            "upstream_source": f'kubernetes {UPSTREAM_VERSION} {UPSTREAM_FILE}:{c["line"]}',
            "model": {"pods": c["pods"], "protocols": c["protocols"], "ports": c["ports"]},
        }
        if notes:
            doc["notes"] = notes
        doc["steps"] = jsteps
        out[f"cases/{name}.json"] = doc
        index.append((name, len(steps), notes))
    return out, problems, index


def _compact(o):
    # Leaves (scalars, short lists/objects of scalars, truth-table rows) stay on one line.
    if isinstance(o, dict):
        return all(not isinstance(v, (dict, list)) for v in o.values())
    if isinstance(o, list):
        return all(not isinstance(v, (dict, list)) for v in o)
    return True


def _fmt(o, ind):
    if _compact(o):
        return json.dumps(o, separators=(", ", ": "))
    pad = "  " * (ind + 1)
    if isinstance(o, dict):
        items = [f"{pad}{json.dumps(k)}: {_fmt(v, ind + 1)}" for k, v in o.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * ind + "}"
    items = [pad + _fmt(v, ind + 1) for v in o]
    return "[\n" + ",\n".join(items) + "\n" + "  " * ind + "]"


def dump(o):
    return _fmt(o, 0) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    out, problems, index = build()
    for p in problems:
        print("PROBLEM:", p, file=sys.stderr)
    if problems:
        return 1
    bad = 0
    if check:
        for rel, doc in out.items():
            path = os.path.join(HERE, rel)
            try:
                with open(path) as f:
                    cur = f.read()
            except OSError:
                cur = None
            if cur != dump(doc):
                print(f"differs: {rel}", file=sys.stderr)
                bad += 1
        have = set(os.listdir(os.path.join(HERE, "cases")))
        want = {os.path.basename(k) for k in out if k.startswith("cases/")}
        for extra in sorted(have - want):
            print(f"stale: cases/{extra}", file=sys.stderr)
            bad += 1
        print(f"{len(index)} cases checked, {bad} differ")
        return 1 if bad else 0
    os.makedirs(os.path.join(HERE, "cases"), exist_ok=True)
    for rel, doc in out.items():
        with open(os.path.join(HERE, rel), "w") as f:
            f.write(dump(doc))
    for name, n, notes in index:
        print(f"{name}: {n} step(s){', %d note(s)' % len(notes) if notes else ''}")
        for nt in notes:
            print("   ", nt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
