#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Replays the upstream NetworkPolicy conformance cases (tests/conformance) with real packets.

Called by tests/world/test_conformance.sh once the world exists and one netpold runs per node,
all reading the manifest folder given here. For every case (each from the base world with no
policy), every step: the step's objects are written into the folder, POST /v1/sync goes to every
daemon (answered once that state is in the kernel: no sleeping anywhere), the label/delete ops
rewrite or remove the corresponding files, sync again, then every asserted pair of every probe of
the step is probed at once with the probe tool and compared with the expectation.

Families: a case whose manifests render identically for IPv4 and IPv6 (all but the ipBlock
cases) is replayed once and probed in both families in the same probe run; the others are
replayed once per family, each with that family's addresses. Both families count separately.

Verdicts: a probe is allowed when probe says ok. With --deny-action drop, a denied probe must
fail with a timeout; with --deny-action reject (the daemons started so), TCP must be refused and
UDP/SCTP unreachable. Any other failure is reported as an anomaly and fails the replay too.

Probing: each probe is tried once with --timeout; those that failed where an allow was expected
are tried again (--tries more) before being called a mismatch, so a denied pair costs a single
timeout and all probes of a step run in parallel.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from netpold_test import request, synced  # noqa: E402  (tests/lib/netpold_test.py)


class Failure(Exception):
    pass


def log(msg):
    print(msg, flush=True)


class Replay:
    def __init__(self, args):
        self.a = args
        self.render_bin = args.render
        self.dir = args.manifests
        self.sockets = dict(s.split("=", 1) for s in args.socket)
        self.pods = {}  # id -> (netns, ipv4, ipv6)
        self.order = []
        with open(args.pods) as f:
            for line in f:
                p = line.split()
                if len(p) >= 5:
                    self.pods[p[0]] = (p[4], p[2], p[3])
                    self.order.append(p[0])
        self.stats = {
            fam: {"cases": set(), "steps": 0, "probes": 0, "mismatches": 0} for fam in ("4", "6")
        }
        self.anomalies = 0
        self.mismatch_reports = []
        self.t_sync = 0.0
        self.t_probe = 0.0
        self.n_sync = 0
        self.n_probe_runs = 0
        self.sync_max = 0.0

    # ---- conformance_render -------------------------------------------------------------
    def render(self, *argv):
        r = subprocess.run([self.render_bin, *argv], stdout=subprocess.PIPE, check=False)
        if r.returncode != 0:
            raise Failure("conformance_render %s: exit %d" % (" ".join(argv), r.returncode))
        return r.stdout.decode()

    @staticmethod
    def fname(prefix, obj):
        md = obj.get("metadata", {})
        parts = [p for p in (md.get("namespace"), md.get("name")) if p]
        return "%s-%s-%s.json" % (prefix, obj["kind"], "-".join(parts))

    def world_prefix(self, kind):
        return "00" if kind == "Namespace" else "01"

    def base_state(self):
        state = {}
        for obj in json.loads(self.render("world", "--family", "dual"))["items"]:
            state[self.fname(self.world_prefix(obj["kind"]), obj)] = obj
        return state

    # ---- the manifest folder ------------------------------------------------------------
    def write_state(self, state):
        want = {n: json.dumps(o, indent=1, sort_keys=True) + "\n" for n, o in state.items()}
        for n in os.listdir(self.dir):
            if n.startswith("."):
                continue
            if n not in want:
                os.unlink(os.path.join(self.dir, n))
        for n, text in want.items():
            path = os.path.join(self.dir, n)
            try:
                with open(path) as f:
                    if f.read() == text:
                        continue
            except FileNotFoundError:
                pass
            tmp = os.path.join(self.dir, ".tmp." + n)
            with open(tmp, "w") as f:
                f.write(text)
            os.rename(tmp, path)

    # ---- the daemons --------------------------------------------------------------------
    def sync(self, what, state):
        """POST /v1/sync to every daemon; each must answer 200, programmed, with exactly the
        folder's namespaces, pods and policies loaded."""
        want = {k: sum(1 for o in state.values() if o["kind"] == kind)
                for k, kind in (("namespaces", "Namespace"), ("pods", "Pod"),
                                ("policies", "NetworkPolicy"))}
        t0 = time.monotonic()
        for node, path in sorted(self.sockets.items()):
            try:
                code, _, body = request(path, "POST", "/v1/sync")
            except OSError as e:
                raise Failure("%s: POST /v1/sync to %s: %s" % (what, node, e))
            body = body.decode()
            if code != 200:
                raise Failure("%s: POST /v1/sync to %s answered %d: %s" % (what, node, code, body))
            st = json.loads(body)
            if not synced(st):
                raise Failure("%s: %s after sync: %s" % (what, node, body))
            got = {k: st["counts"][k] for k in want}
            if got != want:
                raise Failure("%s: %s holds %s, the folder %s" % (what, node, got, want))
        dt = time.monotonic() - t0
        self.t_sync += dt
        self.sync_max = max(self.sync_max, dt)
        self.n_sync += 1

    # ---- probing ------------------------------------------------------------------------
    def run_probe(self, lines, tries):
        t0 = time.monotonic()
        r = subprocess.run(
            [self.a.probe, "--timeout", str(self.a.timeout), "--tries", str(tries)],
            input="".join(lines).encode(), stdout=subprocess.PIPE, check=False)
        self.t_probe += time.monotonic() - t0
        self.n_probe_runs += 1
        if r.returncode != 0:
            raise Failure("probe exited %d" % r.returncode)
        out = {}
        for line in r.stdout.decode().splitlines():
            pid, res = line.split(None, 1)
            out[pid] = res.strip()
        return out

    def probe_all(self, probes):
        """probes: {id: (from, dst_ip, port, proto, want_allow)} -> {id: result string}"""
        lines = []
        for pid, (frm, dst, port, proto, _) in probes.items():
            lines.append("%s %s %s %s %s\n" % (pid, self.pods[frm][0], dst, port, proto.lower()))
        res = self.run_probe(lines, 1)
        again = [ln for ln in lines
                 if probes[ln.split()[0]][4] and not res[ln.split()[0]].startswith("ok")]
        if again:
            res.update(self.run_probe(again, self.a.tries))
        return res

    # ---- tables -------------------------------------------------------------------------
    def table(self, title, cell):
        pods = self.order
        w = max(len(p) for p in pods) + 1
        out = [title, "-".ljust(w) + "".join(p.ljust(w) for p in pods)]
        for f in pods:
            out.append(f.ljust(w) + "".join(cell(f, t).ljust(w) for t in pods))
        return "\n".join(out)

    def report(self, where, want, got):
        """want/got: {(from, to): bool}; upstream's notation: '.' allowed, 'X' denied."""
        mark = lambda v: "." if v else "X"
        text = [
            "MISMATCH %s" % where,
            self.table("expected:", lambda f, t: mark(want[(f, t)]) if (f, t) in want else "-"),
            self.table("observed:", lambda f, t: mark(got[(f, t)]) if (f, t) in got else "-"),
            self.table("comparison ('.' agrees, 'X' differs):",
                       lambda f, t: ("." if want[(f, t)] == got[(f, t)] else "X")
                       if (f, t) in want else "-"),
        ]
        return "\n\n".join(text)

    # ---- one case -----------------------------------------------------------------------
    def run_case(self, case, nsteps, fams, base):
        state = dict(base)
        label = "%s [IPv%s]" % (case, "+".join(fams))
        render_fam = fams[0]
        for n in range(1, nsteps + 1):
            where = "%s step %d" % (case, n)
            for obj in json.loads(self.render("step", case, str(n), "--family", render_fam))["items"]:
                state[self.fname("20", obj)] = obj
            self.write_state(state)
            self.sync(where, state)
            ops = [o.split() for o in self.render("ops", case, str(n)).splitlines() if o.strip()]
            for i, op in enumerate(ops, 1):
                if op[0] == "label":
                    obj = json.loads(self.render("label", case, str(n), str(i), "--family", "dual"))
                    state[self.fname(self.world_prefix(obj["kind"]), obj)] = obj
                elif op[0] == "delete":
                    kind, ns, name = op[1], op[2], op[3]
                    key = [k for k, o in state.items() if o["kind"] == kind
                           and o["metadata"]["name"] == name
                           and o["metadata"].get("namespace", "-") == ns]
                    if not key:
                        raise Failure("%s: delete of unknown %s %s/%s" % (where, kind, ns, name))
                    for k in key:
                        del state[k]
                else:
                    raise Failure("%s: unknown op %s" % (where, " ".join(op)))
            if ops:
                self.write_state(state)
                self.sync(where + " ops", state)
            self.probe_step(where, case, n, fams)
        return label

    def probe_step(self, where, case, n, fams):
        """Every asserted pair of every probe of the step, in every family, in one probe run;
        counts, reports mismatches (upstream's tables) and denials for the wrong reason."""
        probes = {}
        for fam in fams:
            for line in self.render("probes", case, str(n), "--family", fam).splitlines():
                port, proto, frm, _fip, to, tip, want = line.split()
                pid = "v%s:%s:%s:%s>%s" % (fam, proto, port, frm, to)
                probes[pid] = (frm, tip, port, proto, want == "allow")
        res = self.probe_all(probes)
        groups = {}
        for pid, (frm, _tip, port, proto, want) in probes.items():
            fam = pid[1]
            r = res[pid]
            ok = r.startswith("ok")
            g = groups.setdefault((fam, port, proto), ({}, {}))
            g[0][(frm, pid.split(">")[1])] = want
            g[1][(frm, pid.split(">")[1])] = ok
            self.stats[fam]["probes"] += 1
            deny_reason = "fail(timeout)"
            if self.a.deny_action == "reject":
                deny_reason = "fail(refused)" if proto == "TCP" else "fail(unreachable)"
            if not ok and r != deny_reason:
                self.anomalies += 1
                log("ANOMALY %s: %s %s (deny-action %s: a denied probe must give %s)"
                    % (where, pid, r, self.a.deny_action, deny_reason))
        for (fam, port, proto), (want, got) in sorted(groups.items()):
            bad = sum(1 for k in want if want[k] != got[k])
            if bad:
                self.stats[fam]["mismatches"] += bad
                rep = self.report("%s, IPv%s, %s/%s: %d pair(s) differ"
                                  % (where, fam, port, proto, bad), want, got)
                self.mismatch_reports.append(rep)
                log(rep)
        for fam in fams:
            self.stats[fam]["steps"] += 1
            self.stats[fam]["cases"].add(case)

    def full_matrix(self, what):
        """Every non-self pair, TCP/UDP/SCTP x 80/81 x both families: must all be allowed."""
        probes = {}
        for fam, col in (("4", 1), ("6", 2)):
            for f in self.order:
                for t in self.order:
                    if f == t:
                        continue
                    for proto in ("TCP", "UDP", "SCTP"):
                        for port in ("80", "81"):
                            pid = "v%s:%s:%s:%s>%s" % (fam, proto, port, f, t)
                            probes[pid] = (f, self.pods[t][col], port, proto, True)
        res = self.probe_all(probes)
        bad = sorted(p for p in probes if not res[p].startswith("ok"))
        for p in bad[:20]:
            log("MISMATCH %s: %s %s, expected allowed" % (what, p, res[p]))
        return len(probes), len(bad)

    def run(self):
        t0 = time.monotonic()
        base = self.base_state()
        self.write_state(base)
        self.sync("base world", base)
        n, bad = self.full_matrix("base world, no policy")
        log("base world, no policy: %d probes (TCP/UDP/SCTP 80/81, IPv4+IPv6), %d denied" % (n, bad))
        extra_bad = bad
        fams_wanted = self.a.families.split()
        self.run_cases(fams_wanted, base)
        # back to the base world: every policy removed, everything open again
        self.write_state(base)
        self.sync("back to base world", base)
        n, bad = self.full_matrix("base world again, policies removed")
        log("base world again, all policies removed: %d probes, %d denied" % (n, bad))
        extra_bad += bad
        total = time.monotonic() - t0

        log("")
        log("summary (deny-action %s, probe --timeout %d ms, retries %d):"
            % (self.a.deny_action, self.a.timeout, self.a.tries))
        mism = self.family_summary(fams_wanted)
        log("  denied probes failing for the wrong reason: %d" % self.anomalies)
        log("  full-matrix checks (no policy) failing: %d" % extra_bad)
        log("  %d syncs (both daemons each) in %.2fs, slowest %.0f ms; %d probe runs in %.2fs"
            % (self.n_sync, self.t_sync, self.sync_max * 1000, self.n_probe_runs, self.t_probe))
        log("  replay time %.1fs" % total)
        self.write_summary(fams_wanted, extra_bad, total)
        return 0 if mism == 0 and self.anomalies == 0 and extra_bad == 0 else 1

    # ---- shared by every replay (also tests/e2e/replay_lib.py) ------------------------------
    def run_cases(self, fams_wanted, base=None):
        """Every case (or those named by prefix): once for all families when its steps render
        the same in IPv4 and IPv6, else once per family; one line per run."""
        cases = []
        for line in self.render("list").splitlines():
            name, steps = line.split("\t")[:2]
            if self.a.cases and not any(name.startswith(c) for c in self.a.cases):
                continue
            cases.append((name, int(steps)))
        for name, steps in cases:
            same = all(self.render("step", name, str(n), "--family", "4")
                       == self.render("step", name, str(n), "--family", "6")
                       for n in range(1, steps + 1))
            groups = [fams_wanted] if same else [[f] for f in fams_wanted]
            for fams in groups:
                tc = time.monotonic()
                m0 = sum(self.stats[f]["mismatches"] for f in fams)
                label = self.run_case(name, steps, fams, base)
                m = sum(self.stats[f]["mismatches"] for f in fams) - m0
                log("%-55s %d step(s) %s %5.2fs" % (label, steps, "ok  " if m == 0 else
                                                     "FAIL(%d)" % m, time.monotonic() - tc))

    def family_summary(self, fams_wanted):
        """One summary line per family; the number of mismatches over all of them."""
        mism = 0
        for fam in fams_wanted:
            s = self.stats[fam]
            mism += s["mismatches"]
            log("  IPv%s: %d cases, %d steps, %d probes checked, %d mismatches"
                % (fam, len(s["cases"]), s["steps"], s["probes"], s["mismatches"]))
        return mism

    def write_summary(self, fams_wanted, extra_bad, total, **more):
        if self.a.summary_json:
            with open(self.a.summary_json, "w") as f:
                json.dump(dict({"families": {k: dict(v, cases=len(v["cases"])) for k, v in
                                             self.stats.items() if k in fams_wanted},
                                "anomalies": self.anomalies, "full_matrix_failures": extra_bad},
                               **more, seconds=total), f)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--render", required=True, help="conformance_render binary")
    p.add_argument("--probe", required=True, help="probe binary")
    p.add_argument("--pods", required=True, help="lib.sh's $WORLD_DIR/pods")
    p.add_argument("--manifests", required=True, help="the folder every netpold reads")
    p.add_argument("--socket", action="append", required=True, help="NODE=STATUS_SOCKET")
    p.add_argument("--timeout", type=int, default=400, help="probe timeout per try, ms")
    p.add_argument("--tries", type=int, default=2, help="retries of unexpected failures")
    p.add_argument("--families", default="4 6")
    p.add_argument("--deny-action", choices=("drop", "reject"), default="drop",
                   help="what the daemons were started with")
    p.add_argument("--summary-json")
    p.add_argument("cases", nargs="*", help="case name prefixes (default: all)")
    a = p.parse_args()
    try:
        return Replay(a).run()
    except Failure as e:
        log("FAIL: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
