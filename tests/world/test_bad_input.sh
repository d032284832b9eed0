#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Bad input end to end. Two netpolds enforce upstream case 022 (x/a admits x/b only) from one
# manifest folder. Then, one at a time, a bad file is dropped next to the valid manifests:
# every bad-* object of tests/data/decode/bad-objects.yaml (one file each), every file of
# tests/data/bad/, and generated ones (a 5000-label Pod, 10 000-deep nesting in JSON and in
# YAML, non-UTF-8 label values, a 5 MB NetworkPolicy with 200 000 excepts, a 20 MB file,
# a 2 000-byte name). For each: POST /v1/sync answers 200 with everything valid programmed,
# both statuses count the rejection (source.errors), the log names the file, a rejected
# NetworkPolicy shows its error on GET /v1/policies/NS/NAME, the fixed probe set is right,
# both daemons live; the file is removed and the error count returns to 0. A valid 4 MB
# object (a huge annotation) must be accepted. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

# shellcheck source=tests/world/targeted_lib.sh
source "$(dirname "$0")/targeted_lib.sh"
tl_init bad_input
tl_world
tl_case_manifests 022 1
tl_case_label 022 2 1
tl_start node-1
tl_start node-2
tl_sync
ref=$(tl_table_text node-1)

set_file=$TL_TMP/pairs
for f in 4 6; do
	cat <<-EOF
		v$f:allow:x/b>x/a x/b x/a $f 80 tcp ok
		v$f:allow:x/a>x/c x/a x/c $f 80 tcp ok
		v$f:allow:y/b>z/a y/b z/a $f 81 udp ok
		v$f:deny:x/c>x/a x/c x/a $f 80 tcp fail
		v$f:deny:y/b>x/a:udp y/b x/a $f 81 udp fail
	EOF
done >"$set_file"
tl_probe_expect --timeout 300 --tries 2 <"$set_file"
[[ $TL_MISMATCH -eq 0 ]] || fail "the fixed set is not as expected before any bad input"

cat_dir=$TL_TMP/catalogue
mkdir -p "$cat_dir"
# bad-objects.yaml, one file per bad-* object; the first line names the policy when the object
# is a NetworkPolicy ('# policy NS/NAME').
python3 - "$TL_SRC/tests/data/decode/bad-objects.yaml" "$cat_dir" <<-'EOF'
	import re, sys
	docs = re.split(r"^---[ \t]*$", open(sys.argv[1]).read(), flags=re.M)
	n = 0
	for d in docs:
	    m = re.search(r"name: (bad-[a-z0-9-]+)", d)
	    if not m:
	        continue
	    head = ""
	    k = re.search(r"^kind: (\S+)", d, re.M)
	    ns = re.search(r"namespace: ([a-z0-9-]+)", d)
	    if k and k.group(1) == "NetworkPolicy" and ns:
	        head = "# policy %s/%s\n" % (ns.group(1), m.group(1))
	    open("%s/decode-%s.yaml" % (sys.argv[2], m.group(1)), "w").write(head + d.strip() + "\n")
	    n += 1
	print(n, file=sys.stderr)
EOF
cp "$TL_SRC"/tests/data/bad/*.yaml "$TL_SRC"/tests/data/bad/*.json "$cat_dir"/
python3 - "$cat_dir" <<-'EOF'
	import json, sys
	d = sys.argv[1]
	def pol(name, spec, meta_extra=None):
	    m = {"name": name, "namespace": "x"}
	    m.update(meta_extra or {})
	    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": m,
	            "spec": spec}
	# 5000 labels on a Pod (limit 256)
	labels = {"k%d" % i: "v%d" % i for i in range(5000)}
	json.dump({"apiVersion": "v1", "kind": "Pod",
	           "metadata": {"name": "many-labels", "namespace": "x", "labels": labels},
	           "spec": {"nodeName": "node-1"}}, open(d + "/gen-labels-huge.json", "w"))
	# 10 000-deep nesting, JSON and YAML (limit 64)
	open(d + "/gen-deep.json", "w").write(
	    '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"deep"},"x":' +
	    "[" * 10000 + "]" * 10000 + "}\n")
	open(d + "/gen-deep.yaml", "w").write(
	    "apiVersion: v1\nkind: Namespace\nmetadata: {name: deep-yaml}\nx: " +
	    "[" * 10000 + "]" * 10000 + "\n")
	# non-UTF-8 bytes in a label value and in a name
	open(d + "/gen-non-utf8.yaml", "wb").write(
	    b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: latin1\n  namespace: x\n"
	    b"  labels: {app: caf\xe9\xff\xfe}\nspec: {nodeName: node-1}\n")
	open(d + "/gen-non-utf8-name.json", "wb").write(
	    b'{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":'
	    b'{"name":"\xc3\x28bad","namespace":"x"},"spec":{"podSelector":{}}}\n')
	# 5 MB policy: 200 000 excepts (limit 256)
	exc = ["10.%d.%d.0/24" % (i // 256 % 256, i % 256) for i in range(200000)]
	json.dump(pol("huge-except", {"podSelector": {}, "ingress": [{"from": [
	    {"ipBlock": {"cidr": "10.0.0.0/8", "except": exc}}]}]}),
	    open(d + "/gen-5mb-except.json", "w"))
	# 20 MB file (limit 16 MiB), valid JSON otherwise
	json.dump(pol("too-big", {"podSelector": {}}, {"annotations": {"a": "x" * (20 << 20)}}),
	          open(d + "/gen-20mb.json", "w"))
	# a 2000-byte name
	json.dump(pol("n" * 2000, {"podSelector": {}}), open(d + "/gen-long-name.json", "w"))
EOF

# sync_ok NAME MIN_ERRORS MAX_ERRORS: POST /v1/sync to both nodes, 200 with everything valid
# programmed and source.errors within bounds.
sync_ok() {
	local name=$1 lo=$2 hi=$3 n out code
	for n in node-1 node-2; do
		out=$(_tl_api "$n" -X POST -w '\n%{http_code}' http://localhost/v1/sync) ||
			fail "$name: POST /v1/sync to $n: no answer (netpold alive: $(kill -0 "${TL_PID[$n]}" 2>&1 && echo yes))"
		code=${out##*$'\n'}
		out=${out%$'\n'*}
		[[ $code == 200 ]] || fail "$name: POST /v1/sync to $n answered $code: $out"
		jq -e ".ready and .programmed_generation == .input_generation
			and .source.errors >= $lo and .source.errors <= $hi" <<<"$out" >/dev/null ||
			fail "$name: $n status: $(jq -c '{ready, degraded, reason, source, input_generation, programmed_generation}' <<<"$out")"
		TL_ST[$n]=$out
		kill -0 "${TL_PID[$n]}" 2>/dev/null || fail "$name: netpold on $n died"
	done
}

results=$TL_TMP/results
: >"$results"
n_files=0
n_pol=0
: >"$TL_TMP/pol_missing"
for f in "$cat_dir"/*; do
	base=$(basename "$f")
	dst=zz-$base
	n_files=$((n_files + 1))
	l0=$(wc -l <"$TL_TMP/node-1.log")
	cp "$f" "$TL_M/.tmp.$dst" && mv "$TL_M/.tmp.$dst" "$TL_M/$dst"
	t0=$(tl_now)
	sync_ok "$base" 1 1000000
	ms=$(tl_ms "$t0")
	errs=$(jq .source.errors <<<"${TL_ST[node-1]}")
	msg=$(tail -n +"$((l0 + 1))" "$TL_TMP/node-1.log" | grep -F "$dst" | head -n 3)
	[[ -n $msg ]] || fail "$base: no log line names $dst"
	pol_err=-
	first=$(head -n1 "$f" | tr -d '\0')
	if [[ $first == "# policy "* ]]; then
		p=${first#\# policy }
		pj=$(_tl_api node-1 "http://localhost/v1/policies/$p") || fail "$base: GET /v1/policies/$p"
		pol_err=$(jq -r '(.errors // []) | map(.message // tostring) | join(" | ")' <<<"$pj" 2>/dev/null)
		# judged at the end, so that the whole catalogue runs
		[[ -n $pol_err ]] || echo "$base: GET /v1/policies/$p after POST /v1/sync: $pj" >>"$TL_TMP/pol_missing"
		n_pol=$((n_pol + 1))
	fi
	tl_probe_expect --timeout 300 --tries 2 <"$set_file"
	[[ $TL_MISMATCH -eq 0 ]] || fail "$base: $TL_MISMATCH probes wrong with it present"
	[[ $(tl_table_text node-1) == "$ref" ]] || fail "$base: node-1's table changed"
	rm -f "$TL_M/$dst"
	sync_ok "$base removed" 0 0
	printf '%s\t%s\t%s ms\t%s\t%s\n' "$base" "$errs" "$ms" "${msg//$'\n'/ // }" "$pol_err" >>"$results"
done
echo "--- bad input catalogue: file, source.errors, sync ms, log line(s), /v1/policies error"
sed "s|$TL_M/||g; s|netpold\[[0-9]*\] ||g" "$results" | cut -c1-400
pass "$n_files bad files, one at a time: each rejected with a log line naming it and counted in source.errors, enforcement unchanged, no crash"

# A valid 4 MB object is accepted (big is not bad).
python3 - "$TL_M" <<-'EOF'
	import json, os, sys
	o = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	     "metadata": {"name": "big-ok", "namespace": "z", "annotations": {"note": "y" * (4 << 20)}},
	     "spec": {"podSelector": {"matchLabels": {"pod": "nobody"}}, "ingress": []}}
	p = os.path.join(sys.argv[1], "zz-big-ok.json")
	json.dump(o, open(p + ".tmp", "w"))
	os.rename(p + ".tmp", p)
EOF
sync_ok "valid 4 MB object" 0 0
jq -e '.counts.policies == 2' <<<"${TL_ST[node-1]}" >/dev/null ||
	fail "valid 4 MB object not accepted: $(jq -c .counts <<<"${TL_ST[node-1]}")"
rm -f "$TL_M/zz-big-ok.json"
tl_sync
tl_probe_expect --timeout 300 --tries 2 <"$set_file"
[[ $TL_MISMATCH -eq 0 ]] || fail "probes wrong at the end"
pass "a valid 4 MB NetworkPolicy accepted; at the end everything converged (0 errors, table identical)"
if [[ -s $TL_TMP/pol_missing ]]; then
	fail "$(wc -l <"$TL_TMP/pol_missing") of $n_pol rejected NetworkPolicies show no error on GET /v1/policies/NS/NAME once a POST /v1/sync has run (source.errors still counts them):
$(head -n 3 "$TL_TMP/pol_missing")"
fi
pass "$n_pol rejected NetworkPolicies show their error on GET /v1/policies/NS/NAME"
echo "test_bad_input: passed"
