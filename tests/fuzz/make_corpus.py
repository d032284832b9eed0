#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ from the objects
below (as `kubectl get -o json/yaml` prints them), examples/*.yaml,
tests/data/decode/* and the policies of tests/conformance/cases/*.json.
Re-run after those change: python3 tests/fuzz/make_corpus.py. The nft rule
seeds come from the target itself (NETPOLD_FUZZ_WRITE_SEEDS, see below)."""
import glob
import hashlib
import json
import os
import random
import sys

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(SRC, "tests", "fuzz", "corpus")
KINDS = {"Namespace": 0, "Pod": 1, "NetworkPolicy": 2, "Service": 3}

MANAGED = [{
    "apiVersion": "v1", "fieldsType": "FieldsV1",
    "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
    "manager": "kubectl-client-side-apply", "operation": "Update",
    "time": "2024-05-02T09:14:11Z"}]

NAMESPACE = {
    "apiVersion": "v1", "kind": "Namespace",
    "metadata": {
        "creationTimestamp": "2024-05-02T09:14:11Z",
        "labels": {"kubernetes.io/metadata.name": "prod", "team": "payments",
                   "pod-security.kubernetes.io/enforce": "baseline"},
        "managedFields": MANAGED, "name": "prod", "resourceVersion": "1021",
        "uid": "4b1c3f0e-2a51-4d0b-9d6e-0c5e0f7ad111"},
    "spec": {"finalizers": ["kubernetes"]},
    "status": {"phase": "Active"}}

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-02T09:20:00Z"},
        "creationTimestamp": "2024-05-02T09:20:01Z",
        "generateName": "api-7d9f8b6c5d-",
        "labels": {"app": "api", "pod-template-hash": "7d9f8b6c5d", "tier": "backend",
                   "app.kubernetes.io/part-of": "shop"},
        "name": "api-7d9f8b6c5d-x2k4q", "namespace": "prod",
        "ownerReferences": [{"apiVersion": "apps/v1", "blockOwnerDeletion": True,
                             "controller": True, "kind": "ReplicaSet",
                             "name": "api-7d9f8b6c5d",
                             "uid": "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"}],
        "resourceVersion": "48213", "uid": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"},
    "spec": {
        "containers": [{
            "image": "registry.example.com/shop/api:1.4.2", "imagePullPolicy": "IfNotPresent",
            "name": "api",
            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"},
                      {"containerPort": 9090, "name": "metrics", "protocol": "TCP"},
                      {"containerPort": 5353, "name": "dns", "protocol": "UDP"}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                               "periodSeconds": 10},
            "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m"}},
            "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                              "name": "kube-api-access-abcde", "readOnly": True}]},
            {"name": "sidecar", "image": "envoyproxy/envoy:v1.30.1",
             "ports": [{"containerPort": 15001, "protocol": "SCTP"}]}],
        "dnsPolicy": "ClusterFirst", "enableServiceLinks": True, "nodeName": "node-1",
        "restartPolicy": "Always", "schedulerName": "default-scheduler",
        "serviceAccountName": "default", "terminationGracePeriodSeconds": 30,
        "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready",
                         "operator": "Exists", "tolerationSeconds": 300}]},
    "status": {
        "conditions": [{"lastProbeTime": None, "lastTransitionTime": "2024-05-02T09:20:03Z",
                        "status": "True", "type": "Ready"}],
        "hostIP": "192.168.10.11", "hostIPs": [{"ip": "192.168.10.11"}],
        "phase": "Running", "podIP": "10.244.1.17",
        "podIPs": [{"ip": "10.244.1.17"}, {"ip": "fd00:10:244:1::17"}],
        "qosClass": "Burstable", "startTime": "2024-05-02T09:20:01Z"}}

HOSTNET_POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "kube-proxy-8xq2v", "namespace": "kube-system",
                 "labels": {"k8s-app": "kube-proxy"}},
    "spec": {"hostNetwork": True, "nodeName": "node-2",
             "containers": [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.30.0"}]},
    "status": {"phase": "Running", "podIP": "192.168.10.12", "podIPs": [{"ip": "192.168.10.12"}]}}

PENDING_POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "batch-job-abcde", "namespace": "dev", "labels": {"job-name": "batch-job"}},
    "spec": {"containers": [{"name": "job", "image": "busybox"}]},
    "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]}}

POLICY = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {
        "annotations": {"netpold.io/mode": "audit"},
        "creationTimestamp": "2024-05-02T09:30:00Z", "generation": 3,
        "name": "api-allow", "namespace": "prod", "resourceVersion": "50111",
        "uid": "11111111-2222-4333-8444-555555555555"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "api"},
                        "matchExpressions": [{"key": "tier", "operator": "In",
                                              "values": ["backend", "api"]}]},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {"from": [{"podSelector": {"matchLabels": {"app": "web"}}},
                      {"namespaceSelector": {"matchExpressions": [
                          {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                           "values": ["dev"]}]},
                       "podSelector": {"matchExpressions": [
                           {"key": "role", "operator": "Exists"}]}},
                      {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}}],
             "ports": [{"port": 8080, "protocol": "TCP"}, {"port": "metrics"},
                       {"port": 30000, "endPort": 32767, "protocol": "UDP"},
                       {"protocol": "SCTP"}]},
            {}],
        "egress": [
            {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
             "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
            {"to": [{"ipBlock": {"cidr": "fd00::/8", "except": ["fd00:10:244::/48"]}},
                    {"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}}

SERVICE = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "api", "namespace": "prod", "labels": {"app": "api"},
                 "resourceVersion": "48000", "uid": "22222222-3333-4444-8555-666666666666"},
    "spec": {"clusterIP": "10.96.12.34", "clusterIPs": ["10.96.12.34", "fd00:10:96::1234"],
             "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack",
             "internalTrafficPolicy": "Cluster",
             "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"},
                       {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090},
                       {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 0}],
             "selector": {"app": "api"}, "sessionAffinity": "None", "type": "ClusterIP"},
    "status": {"loadBalancer": {}}}

HEADLESS = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "external-db", "namespace": "prod"},
    "spec": {"type": "ExternalName", "externalName": "db.example.com", "ports": [{"port": 5432}]}}

OBJECTS = [NAMESPACE, POD, HOSTNET_POD, PENDING_POD, POLICY, SERVICE, HEADLESS]


def to_yaml(v, indent=0):
    """A small YAML emitter in kubectl's block style (enough for these objects)."""
    pad = "  " * indent
    if isinstance(v, dict):
        if not v:
            return " {}"
        out = ""
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out += "\n%s%s:%s" % (pad, k, to_yaml(x, indent + 1 if isinstance(x, dict) else indent))
            else:
                out += "\n%s%s:%s" % (pad, k, to_yaml(x, indent + 1))
        return out
    if isinstance(v, list):
        if not v:
            return " []"
        out = ""
        for x in v:
            if isinstance(x, dict) and x:
                body = to_yaml(x, indent + 1).lstrip("\n")
                out += "\n%s- %s" % (pad, body.lstrip())
            else:
                out += "\n%s-%s" % (pad, to_yaml(x, indent + 1))
        return out
    if v is None:
        return " null"
    if v is True:
        return " true"
    if v is False:
        return " false"
    if isinstance(v, int):
        return " %d" % v
    s = str(v)
    if s == "" or s[0] in "{}[]&*!|>'\"%@`#-?:, " or ":" in s or s in ("true", "false", "null", "~") \
            or s.replace(".", "", 1).isdigit():
        return " " + json.dumps(s)
    return " " + s


class Corpus:
    def __init__(self, target, keep=None):
        self.dir = os.path.join(OUT, target)
        os.makedirs(self.dir, exist_ok=True)
        for name in os.listdir(self.dir):
            if not (keep and name.startswith(keep)):
                os.unlink(os.path.join(self.dir, name))
        self.seen = set()

    def add(self, name, data):
        if isinstance(data, str):
            data = data.encode()
        h = hashlib.sha1(data).hexdigest()
        if h in self.seen:
            return
        self.seen.add(h)
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)


def conformance_objects():
    objs = []
    for path in sorted(glob.glob(os.path.join(SRC, "tests/conformance/cases/*.json"))):
        case = json.load(open(path))
        for step in case.get("steps", []):
            for o in step.get("apply", []):
                if o not in objs:
                    objs.append(o)
    world = json.load(open(os.path.join(SRC, "tests/conformance/world.json")))
    for ns in world.get("namespaces", [])[:1]:
        objs.append({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": ns["name"], "labels": ns["labels"]}})
    return objs


def kubectl_list(items):
    return {"apiVersion": "v1", "kind": "List", "items": items,
            "metadata": {"resourceVersion": ""}}


def api_list(kind, items, rv="50200", cont=None):
    meta = {"resourceVersion": rv}
    if cont:
        meta["continue"] = cont
    group = "networking.k8s.io/v1" if kind == "NetworkPolicy" else "v1"
    stripped = []
    for o in items:
        o = dict(o)
        o.pop("kind", None)
        o.pop("apiVersion", None)
        stripped.append(o)
    return {"kind": kind + "List", "apiVersion": group, "metadata": meta, "items": stripped}


def status_410():
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "too old resource version: 1021 (48213)", "reason": "Expired", "code": 410}


def events_for(obj):
    kind = KINDS[obj["kind"]]
    rv = obj.get("metadata", {}).get("resourceVersion", "1")
    evs = [{"type": "ADDED", "object": obj}, {"type": "MODIFIED", "object": obj},
           {"type": "DELETED", "object": obj},
           {"type": "BOOKMARK", "object": {"kind": obj["kind"], "apiVersion": obj["apiVersion"],
                                           "metadata": {"resourceVersion": rv,
                                                        "annotations": {"k8s.io/initial-events-end": "true"}}}},
           {"type": "ERROR", "object": status_410()}]
    return kind, evs


def main():
    conf = conformance_objects()
    examples = sorted(glob.glob(os.path.join(SRC, "examples/*.yaml")))
    data_files = sorted(glob.glob(os.path.join(SRC, "tests/data/decode/*"))) + \
        sorted(glob.glob(os.path.join(SRC, "tests/data/ctl/*")))

    # decode_manifest, JSON
    c = Corpus("fuzz_manifest_json")
    for i, o in enumerate(OBJECTS):
        c.add("object-%02d.json" % i, json.dumps(o, indent=4))
    c.add("list.json", json.dumps(kubectl_list(OBJECTS), indent=4))
    c.add("api-list.json", json.dumps(api_list("Pod", [POD, PENDING_POD])))
    c.add("stream.json", "\n".join(json.dumps(o) for o in OBJECTS[:4]))
    c.add("array.json", json.dumps(OBJECTS[:3]))
    for i, o in enumerate(conf):
        c.add("conformance-%03d.json" % i, json.dumps(o))
    for p in data_files:
        if p.endswith(".json"):
            c.add("data-" + os.path.basename(p), open(p, "rb").read())

    # decode_manifest, YAML
    c = Corpus("fuzz_manifest_yaml")
    for i, o in enumerate(OBJECTS):
        c.add("object-%02d.yaml" % i, to_yaml(o).lstrip("\n") + "\n")
    c.add("list.yaml", to_yaml(kubectl_list(OBJECTS)).lstrip("\n") + "\n")
    c.add("multi.yaml", "---\n".join(to_yaml(o).lstrip("\n") + "\n" for o in OBJECTS))
    for p in examples + [p for p in data_files if not p.endswith(".json")]:
        c.add(os.path.basename(os.path.dirname(p)) + "-" + os.path.basename(p),
              open(p, "rb").read())
    c.add("anchors.yaml", """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: anchors, namespace: prod}
spec:
  podSelector: &sel {matchLabels: {app: api}}
  ingress:
  - from: [{podSelector: *sel}, {namespaceSelector: {matchLabels: &l {team: a}}, podSelector: {matchLabels: *l}}]
    ports: [{port: 0x50}, {port: "http", protocol: UDP}, {port: 1e3}]
  policyTypes: [Ingress, Egress]
""")
    c.add("quirks.yaml", """%YAML 1.1
--- !!map
apiVersion: v1
kind: Pod
metadata:
  name: "quirks"
  namespace: default
  labels: {on: yes, "off": 'no', n: ~}
  labels: {dup: key}
spec:
  containers:
  - ports:
    - {containerPort: 080, protocol: TCP, name: >-
        http}
status: {phase: Running, podIPs: [{ip: "10.0.0.1"}, {ip: "::ffff:10.0.0.1"}]}
...
---
kind: List
items: [{kind: Namespace, apiVersion: v1, metadata: {name: a}}, null, 3]
""")

    # decode_object_json, decode_watch_event, decode_list, framer
    co = Corpus("fuzz_object_json")
    cw = Corpus("fuzz_watch_event")
    cl = Corpus("fuzz_decode_list")
    cs = Corpus("fuzz_watch_stream")
    by_kind = {}
    for o in OBJECTS + conf:
        by_kind.setdefault(o["kind"], []).append(o)
    n = 0
    for o in OBJECTS + conf[:40]:
        k = KINDS[o["kind"]]
        o2 = dict(o)
        if n % 3 == 0:
            o2.pop("kind", None)  # watch objects may lack kind
        co.add("%s-%03d" % (o["kind"], n), bytes([k]) + json.dumps(o2).encode())
        n += 1
    for kind, objs in sorted(by_kind.items()):
        k = KINDS[kind]
        cl.add("list-%s" % kind, bytes([k]) + json.dumps(api_list(kind, objs[:6], cont="eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NTAyMDAsInN0YXJ0IjoieC9iXHUwMDAwIn0")).encode())
        cl.add("list-last-%s" % kind, bytes([k]) + json.dumps(api_list(kind, objs[-3:])).encode())
        cl.add("list-empty-%s" % kind, bytes([k]) + json.dumps(api_list(kind, [])).encode())
        _, evs = events_for(objs[0])
        for i, ev in enumerate(evs):
            cw.add("%s-%s" % (kind, ev["type"]), bytes([k]) + json.dumps(ev).encode())
        # streams: header byte 0 = kind | limit 0 (8 MiB); then cut count and cut offsets
        lines = []
        for o in objs[:4]:
            lines.append(json.dumps({"type": "ADDED", "object": o}))
        lines.append(json.dumps(evs[3]))
        lines.append(json.dumps({"type": "MODIFIED", "object": objs[0]}))
        lines.append(json.dumps(evs[4]))
        stream = ("\n".join(lines) + "\n").encode()
        rnd = random.Random(k)
        cuts = sorted(rnd.randrange(len(stream) + 1) for _ in range(6))
        hdr = bytes([k, len(cuts)]) + b"".join(c.to_bytes(2, "big") for c in cuts)
        cs.add("stream-%s" % kind, hdr + stream)
        crlf = stream.replace(b"\n", b"\r\n") + b"\n\n  \n" + lines[0].encode()[:40]
        cs.add("stream-crlf-%s" % kind, bytes([k | 3 << 2, 3, 0, 1, 0, 40, 1, 0]) + crlf)
    cl.add("status-410", b"\x01" + json.dumps(status_410()).encode())

    # kubeconfig: byte 0 = context choice | 4 two files split at NUL | 8 base64 mode
    ck = Corpus("fuzz_kubeconfig")
    kind_cfg = """apiVersion: v1
kind: Config
preferences: {}
current-context: kind-kind
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJzekNDQVZtZ0F3SUJBZ0lVCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K
    server: https://127.0.0.1:36443
  name: kind-kind
contexts:
- context:
    cluster: kind-kind
    user: kind-kind
    namespace: default
  name: kind-kind
users:
- name: kind-kind
  user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJzekNDQVZtZ0F3SUJBZ0lVCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K
    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSQotLS0tLUVORCBFQyBQUklWQVRFIEtFWS0tLS0tCg==
"""
    files_cfg = """apiVersion: v1
kind: Config
current-context: ctx
clusters:
- name: c1
  cluster:
    server: https://[fd00::1]:6443/prefix/
    certificate-authority: ca.crt
    tls-server-name: kubernetes.default.svc
- name: c2
  cluster: {server: "http://localhost:8080", insecure-skip-tls-verify: true}
contexts:
- name: ctx
  context: {cluster: c1, user: u1}
- name: plain
  context: {cluster: c2}
users:
- name: u1
  user: {client-certificate: client.crt, client-key: ./client.key}
- name: u2
  user: {tokenFile: token}
"""
    exec_cfg = """apiVersion: v1
kind: Config
current-context: ctx
clusters:
- {name: eks, cluster: {server: "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com", certificate-authority: /nonexistent/ca.crt}}
- {name: gke, cluster: {server: "https://34.1.2.3", insecure-skip-tls-verify: true}}
contexts:
- {name: ctx, context: {cluster: gke, user: exec}}
- {name: missing, context: {cluster: eks, user: tok}}
users:
- name: exec
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: gke-gcloud-auth-plugin
      args: [--verbose, "--x=1"]
      env: [{name: HOME, value: /root}, {name: EMPTY}]
      provideClusterInfo: true
      interactiveMode: Never
- name: tok
  user: {token: "  abc.def.ghi  ", username: admin}
"""
    ck.add("kind", b"\x00" + kind_cfg.encode())
    ck.add("files", b"\x00" + files_cfg.encode())
    ck.add("files-ctx", b"\x01" + files_cfg.encode())
    ck.add("exec", b"\x00" + exec_cfg.encode())
    ck.add("exec-missing", b"\x03" + exec_cfg.encode())
    ck.add("merged", b"\x04" + files_cfg.encode() + b"\x00" + kind_cfg.encode())
    ck.add("merged-kind", b"\x06" + b"current-context: kind-kind\n\x00" + kind_cfg.encode())
    ck.add("empty", b"\x00")
    ck.add("base64", b"\x08" + b"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t\nCk1JSUJz ekNDQVZtZ0F3SUJBZ0lV==")
    ck.add("base64-token", b"\x08" + b"ICBleUpoYkdjaU9pSlNVekkxTmlKOS5lMzAuc2lnCg==")

    # nft: udata seeds; the rule-* messages are written by the target itself:
    # NETPOLD_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/fuzz_nft_rule build-fuzz/fuzz_nft_rule
    cn = Corpus("fuzz_nft_rule", keep="rule-")
    comment = b"x/allow ingress[0]\x00"
    cn.add("udata-comment", b"\x01\x00" + bytes([0, len(comment)]) + comment)
    cn.add("udata-two", b"\x01\x00" + bytes([1, 2]) + b"a\x00" + bytes([0, 3]) + b"ok\x00")

    # ExecCredential: byte 0 = expected apiVersion (0 v1, 1 v1beta1)
    cx = Corpus("fuzz_exec_credential")
    pem_cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"
    pem_key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI\n-----END EC PRIVATE KEY-----\n"
    for i, (v, status) in enumerate([
            (0, {"token": "eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.e30.c2ln",
                 "expirationTimestamp": "2024-05-02T10:14:11Z"}),
            (1, {"clientCertificateData": pem_cert, "clientKeyData": pem_key,
                 "expirationTimestamp": "2024-05-02T10:14:11.123456+02:00"}),
            (0, {"token": "  k8s-aws-v1.aHR0cHM6Ly9zdHM  \n", "expirationTimestamp": "1969-12-31T23:59:59-00:30"}),
            (1, {"token": "", "clientCertificateData": pem_cert}),
            (0, {})]):
        doc = {"apiVersion": "client.authentication.k8s.io/" + ("v1" if v == 0 else "v1beta1"),
               "kind": "ExecCredential", "spec": {"interactive": False,
               "cluster": {"server": "https://127.0.0.1:6443", "config": None}}, "status": status}
        cx.add("cred-%d" % i, bytes([v]) + json.dumps(doc, indent=2).encode())
    cx.add("wrong-version", b"\x00" + json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1",
           "kind": "ExecCredential", "status": {"token": "x"}}).encode())

    # query: byte 0 = 1 matrix | 2 JSON, then from NUL to NUL namespaces NUL proto NUL port NUL family
    cq = Corpus("fuzz_query")
    for i, fields in enumerate([
            ["a/web", "b/client", "", "tcp", "8080", ""],
            ["b/client", "a/web", "", "TCP", "8080", "6"],
            ["b/both", "svc/a/web", "", "udp", "53", ""],
            ["b/both", "svc/a/web", "", "tcp", "80", "ipv4"],
            ["10.0.1.4", "a/web", "", "sctp", "53", "4"],
            ["a/web", "a/db", "", "tcp", "5432", ""],
            ["fd00::3", "fd00::1", "", "tcp", "8080", ""],
            ["b/hostnet", "a/done", "", "tcp", "1", ""],
            ["x/y", "svc/b/none", "", "tcp", "1", ""]]):
        for flags in (0, 2):
            cq.add("explain-%d-%d" % (i, flags), bytes([flags]) + "\0".join(fields).encode())
    for i, fields in enumerate([["", "", "", "tcp", "8080", ""], ["", "", "a,b", "udp", "53", "6"],
                                ["", "", "b,,a", "tcp", "80", "4"], ["", "", "zzz", "tcp", "80", ""]]):
        for flags in (1, 3):
            cq.add("matrix-%d-%d" % (i, flags), bytes([flags]) + "\0".join(fields).encode())

    # engine: any bytes script a world; a few of different lengths
    ce = Corpus("fuzz_engine_diff")
    rnd = random.Random(7)
    for i, n in enumerate([64, 200, 400, 800, 1500, 3000]):
        ce.add("random-%d" % i, bytes(rnd.randrange(256) for _ in range(n)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
