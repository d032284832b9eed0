/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dataplane's pure layer (policy/plan.c): names, element encodings,
 * ipBlock/except interval arithmetic, per-pod chains built from small
 * engines, and the diff of two plans. Runs as any user.
 */
#include <arpa/inet.h>
#include <check.h>
#include <linux/netfilter.h>
#include <stdio.h>

#include "decode.h"
#include "engine.h"
#include "plan.h"

static void sink_obj(void *ud, struct k8s_object *o)
{
	ck_assert_int_eq(engine_apply(ud, o), 0);
}

static void sink_err(void *ud, const struct decode_diag *d)
{
	ck_abort_msg("decode: %s", d->message);
}

static void load(struct engine *e, const char *yaml)
{
	struct decode_sink sink = {.object = sink_obj, .error = sink_err, .userdata = e};

	ck_assert_int_ge(decode_manifest(yaml, strlen(yaml), "test", &sink), 0);
}

static const char *WORLD =
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n---\n"
	"apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: default, labels: {app: web}}\n"
	"spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}\n"
	"status: {phase: Running, podIPs: [{ip: 10.0.0.1}, {ip: 'fd00::1'}]}\n---\n"
	"apiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: default, labels: {app: client}}\n"
	"spec: {nodeName: n2, containers: [{name: c}]}\n"
	"status: {phase: Running, podIPs: [{ip: 10.0.1.1}]}\n---\n"
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: allow-web, namespace: default}\n"
	"spec:\n  podSelector: {matchLabels: {app: web}}\n  ingress:\n"
	"  - from: [{podSelector: {matchLabels: {app: client}}}, {ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24]}}]\n"
	"    ports: [{port: http}, {port: 9000, endPort: 9010, protocol: UDP}]\n";

static void ip(const char *s, struct ip_addr *ret)
{
	ck_assert_int_eq(ip_addr_parse(s, ret), 0);
}

START_TEST(test_names)
{
	char a[PLAN_NAME_MAX], b[PLAN_NAME_MAX], c[PLAN_NAME_MAX];
	char longname[300];

	plan_chain_name(DIR_INGRESS, "default", "web-1", a);
	ck_assert_str_eq(a, "in_default_web-1");
	plan_chain_name(DIR_EGRESS, "default", "web-1", a);
	ck_assert_str_eq(a, "eg_default_web-1");
	plan_rule_key("ns", "pol.x", DIR_EGRESS, 3, a);
	ck_assert_str_eq(a, "ns_pol.x_eg3");
	plan_set_name(a, PLAN_SET_NAMED6, b);
	ck_assert_str_eq(b, "ns_pol.x_eg3_named6");

	memset(longname, 'a', 253);
	longname[253] = '\0';
	plan_rule_key("ns", longname, DIR_INGRESS, 0, a);
	plan_rule_key("ns", longname, DIR_INGRESS, 0, b);
	ck_assert_str_eq(a, b); /* deterministic */
	ck_assert_uint_le(strlen(a) + strlen("_named6"), PLAN_NAME_MAX - 1);
	plan_rule_key("ns", longname, DIR_INGRESS, 1, c);
	ck_assert_str_ne(a, c); /* distinct after the cut thanks to the hash */
	plan_chain_name(DIR_INGRESS, "ns", longname, a);
	ck_assert_uint_le(strlen(a), PLAN_NAME_MAX - 1);
}
END_TEST

START_TEST(test_elems)
{
	struct ip_addr a;
	struct plan_elem el;

	ip("10.1.2.3", &a);
	plan_elem_named(&a, 6, 8080, &el);
	ck_assert_uint_eq(el.klen, 12);
	const uint8_t want[12] = {10, 1, 2, 3, 6, 0, 0, 0, 0x1f, 0x90, 0, 0};
	ck_assert_mem_eq(el.key, want, 12);
	ip("fd00::1", &a);
	plan_elem_named(&a, 17, 53, &el);
	ck_assert_uint_eq(el.klen, 24);
	ck_assert_uint_eq(el.key[16], 17);
	ck_assert_uint_eq(el.key[21], 53);
}
END_TEST

static void check_ival(const struct plan_elem *el, const char *lo, const char *end)
{
	char buf[64];
	struct ip_addr x = {.family = el->klen == 4 ? AF_INET : AF_INET6};

	memcpy(x.a, el->key, el->klen);
	ck_assert_str_eq(ip_addr_fmt(&x, buf, sizeof(buf)), lo);
	if (!end) {
		ck_assert(!el->has_end);
		return;
	}
	ck_assert(el->has_end);
	memcpy(x.a, el->end, el->klen);
	ck_assert_str_eq(ip_addr_fmt(&x, buf, sizeof(buf)), end);
}

static struct np_peer block(const char *cidr, const char **except, size_t n)
{
	struct np_peer p = {.kind = PEER_IPBLOCK};

	ck_assert_int_eq(cidr_parse(cidr, &p.cidr), 0);
	p.except = calloc(n + 1, sizeof(*p.except));
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(cidr_parse(except[i], &p.except[i]), 0);
	p.n_except = n;
	return p;
}

START_TEST(test_intervals)
{
	struct plan_elem out[16];
	const char *ex1[] = {"10.1.0.0/16", "10.2.0.0/16", "10.200.0.0/16"};
	const char *ex2[] = {"10.0.0.0/8"};
	const char *ex6[] = {"fd00::/16", "fdff::/16"};
	struct np_peer peers[4];
	struct np_rule r = {.peers = peers};
	int n;

	peers[0] = block("10.0.0.0/8", ex1, 3);
	r.n_peers = 1;
	n = plan_rule_intervals(&r, AF_INET, out, 16);
	ck_assert_int_eq(n, 3);
	check_ival(&out[0], "10.0.0.0", "10.1.0.0");
	check_ival(&out[1], "10.3.0.0", "10.200.0.0");
	check_ival(&out[2], "10.201.0.0", "11.0.0.0");

	/* the whole space minus one block: the last interval is open-ended */
	free(peers[0].except);
	peers[0] = block("0.0.0.0/0", ex2, 1);
	n = plan_rule_intervals(&r, AF_INET, out, 16);
	ck_assert_int_eq(n, 2);
	check_ival(&out[0], "0.0.0.0", "10.0.0.0");
	check_ival(&out[1], "11.0.0.0", NULL);

	/* overlapping and adjacent peers merge; other families are ignored */
	peers[1] = block("10.0.0.0/8", NULL, 0);
	peers[2] = block("fd00::/8", ex6, 2);
	peers[3] = block("11.0.0.0/8", NULL, 0);
	r.n_peers = 4;
	n = plan_rule_intervals(&r, AF_INET, out, 16);
	ck_assert_int_eq(n, 1);
	check_ival(&out[0], "0.0.0.0", NULL);
	n = plan_rule_intervals(&r, AF_INET6, out, 16);
	ck_assert_int_eq(n, 1);
	check_ival(&out[0], "fd01::", "fdff::");
	ck_assert_int_eq(plan_rule_intervals(&r, AF_INET6, out, 0), -E2BIG);

	/* ::/0 except fd00::/8: the full 128-bit span */
	const char *ex7[] = {"fd00::/8"};
	free(peers[0].except);
	peers[0] = block("::/0", ex7, 1);
	r.n_peers = 1;
	n = plan_rule_intervals(&r, AF_INET6, out, 16);
	ck_assert_int_eq(n, 2);
	check_ival(&out[0], "::", "fd00::");
	check_ival(&out[1], "fe00::", NULL);
	for (int i = 0; i < 4; i++)
		free(peers[i].except);
}
END_TEST

START_TEST(test_chain_from_engine)
{
	struct engine *e = engine_new();
	struct plan_config cfg = {.node_name = "n1"};
	const struct pod_obj *web, *client;
	struct plan_chain *c;

	load(e, WORLD);
	web = engine_pod(e, "default", "web-1");
	client = engine_pod(e, "default", "client");
	ck_assert_ptr_nonnull(web);
	ck_assert_int_eq(plan_pod_chain(e, &cfg, web, DIR_INGRESS, &c), 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "in_default_web-1");
	ck_assert_str_eq(c->comment, "pod default/web-1 ingress");
	/* (pods4, pods6, cidr4) x (tcp/8080 named->resolved, udp 9000-9010) + drop */
	ck_assert_uint_eq(c->n_rules, 7);
	ck_assert_str_eq(c->rules[0].set, "default_allow-web_in0_pods4");
	ck_assert_int_eq(c->rules[0].addr, PLAN_ADDR_SRC);
	ck_assert_int_eq(c->rules[0].nfproto, NFPROTO_IPV4);
	ck_assert_uint_eq(c->rules[0].l4proto, 6);
	ck_assert_uint_eq(c->rules[0].port_lo, 8080);
	ck_assert_uint_eq(c->rules[1].l4proto, 17);
	ck_assert_uint_eq(c->rules[1].port_lo, 9000);
	ck_assert_uint_eq(c->rules[1].port_hi, 9010);
	ck_assert_str_eq(c->rules[4].set, "default_allow-web_in0_cidr4");
	ck_assert_str_eq(c->rules[0].comment, "default/allow-web ingress[0]");
	ck_assert_int_eq(c->rules[6].verdict, PLAN_V_DROP);
	ck_assert_uint_eq(c->n_rule_keys, 1);
	plan_chain_free(c);
	/* not isolated for egress; client is not local */
	ck_assert_int_eq(plan_pod_chain(e, &cfg, web, DIR_EGRESS, &c), 0);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(plan_pod_chain(e, &cfg, client, DIR_INGRESS, &c), 0);
	ck_assert_ptr_null(c);

	cfg.reject = true;
	ck_assert_int_eq(plan_pod_chain(e, &cfg, web, DIR_INGRESS, &c), 0);
	ck_assert_int_eq(c->rules[c->n_rules - 2].verdict, PLAN_V_REJECT_TCP);
	ck_assert_int_eq(c->rules[c->n_rules - 1].verdict, PLAN_V_REJECT_ICMPX);
	plan_chain_free(c);
	engine_free(e);
}
END_TEST

static void info_free(void *p)
{
	plan_rule_info_free(p);
}

START_TEST(test_build_and_diff)
{
	struct engine *e = engine_new();
	struct plan_config cfg = {.node_name = "n1"};
	struct plan a, b;
	struct plan_delta d;
	struct plan_set *s;
	struct plan_map rules;

	load(e, WORLD);
	ck_assert_int_eq(plan_build(e, &cfg, &a, &rules), 0);
	ck_assert_uint_eq(rules.n, 1);
	s = plan_map_gets(&a.sets, "default_allow-web_in0_pods4");
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->elems.n, 1);
	s = plan_map_gets(&a.sets, "default_allow-web_in0_cidr4");
	ck_assert_uint_eq(s->elems.n, 2);
	s = plan_map_gets(&a.sets, "ingress6");
	ck_assert_uint_eq(s->elems.n, 1);
	ck_assert_ptr_nonnull(plan_map_gets(&a.chains, "forward"));
	ck_assert_ptr_nonnull(plan_map_gets(&a.chains, "input"));
	ck_assert_ptr_null(plan_map_gets(&a.sets, "default_allow-web_in0_named4"));

	/* deterministic: a second build is an empty diff */
	ck_assert_int_eq(plan_build(e, &cfg, &b, NULL), 0);
	ck_assert_int_eq(plan_diff(&a, &b, &d), 0);
	ck_assert(plan_delta_empty(&d));
	plan_delta_clear(&d);
	plan_clear(&b);

	/* a relabelled client: only one element changes */
	load(e, "apiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: default, labels: {app: other}}\n"
		"spec: {nodeName: n2, containers: [{name: c}]}\n"
		"status: {phase: Running, podIPs: [{ip: 10.0.1.1}]}\n");
	ck_assert_int_eq(plan_build(e, &cfg, &b, NULL), 0);
	ck_assert_int_eq(plan_diff(&a, &b, &d), 0);
	ck_assert_uint_eq(d.n_del_elems, 1);
	ck_assert_uint_eq(d.n_add_elems, 0);
	ck_assert_uint_eq(d.n_add_chains + d.n_del_chains + d.n_replace_chains, 0);
	ck_assert_uint_eq(d.n_add_sets + d.n_del_sets + d.n_flush_sets, 0);
	ck_assert_str_eq(d.del_elems[0].set->name, "default_allow-web_in0_pods4");
	plan_delta_clear(&d);

	/* from nothing: table, all sets and chains */
	struct plan empty = {0};
	ck_assert_int_eq(plan_diff(&empty, &b, &d), 0);
	ck_assert(d.add_table);
	ck_assert_uint_eq(d.n_add_chains, 3);
	ck_assert_uint_eq(d.n_add_sets, 4 + 3);
	plan_delta_clear(&d);

	/* the reverse deletes what is extra */
	ck_assert_int_eq(plan_diff(&b, &empty, &d), 0);
	ck_assert_uint_eq(d.n_del_chains, 3);
	plan_delta_clear(&d);

	plan_clear(&a);
	plan_clear(&b);
	plan_map_clear(&rules, info_free);
	engine_free(e);
}
END_TEST

START_TEST(test_named_egress)
{
	struct engine *e = engine_new();
	struct plan_config cfg = {.node_name = "n1"};
	struct plan p;
	struct plan_set *s;

	load(e, WORLD);
	load(e, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		"metadata: {name: out, namespace: default}\n"
		"spec:\n  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n  egress:\n"
		"  - to: [{podSelector: {}}, {ipBlock: {cidr: 10.0.0.0/8}}]\n"
		"    ports: [{port: http}, {port: 53, protocol: UDP}]\n");
	ck_assert_int_eq(plan_build(e, &cfg, &p, NULL), 0);
	s = plan_map_gets(&p.sets, "default_out_eg0_named4");
	ck_assert_ptr_nonnull(s);
	/* web-1 has port http (via the selector and via the block); client has none */
	ck_assert_uint_eq(s->elems.n, 1);
	s = plan_map_gets(&p.sets, "default_out_eg0_named6");
	ck_assert_uint_eq(s->elems.n, 1);
	struct plan_chain *c = plan_map_gets(&p.chains, "eg_default_web-1");
	ck_assert_ptr_nonnull(c);
	/* pods4/pods6/cidr4 x udp/53, named4, named6, drop */
	ck_assert_uint_eq(c->n_rules, 6);
	ck_assert(c->rules[3].named);
	ck_assert_int_eq(c->rules[3].addr, PLAN_ADDR_DST);
	plan_clear(&p);
	engine_free(e);
}
END_TEST

static void noop(void *p)
{
	(void)p;
}

START_TEST(test_map)
{
	struct plan_map m = {0};
	char k[16];

	for (int i = 0; i < 10000; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_int_eq(plan_map_puts(&m, k, (void *)(uintptr_t)(i + 1), NULL), 0);
	}
	for (int i = 0; i < 10000; i += 2) {
		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_ptr_eq(plan_map_dels(&m, k), (void *)(uintptr_t)(i + 1));
	}
	ck_assert_uint_eq(m.n, 5000);
	for (int i = 0; i < 10000; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_ptr_eq(plan_map_gets(&m, k), i % 2 ? (void *)(uintptr_t)(i + 1) : NULL);
	}
	plan_map_clear(&m, noop);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_elems);
	tcase_add_test(tc, test_intervals);
	tcase_add_test(tc, test_map);
	tcase_add_test(tc, test_chain_from_engine);
	tcase_add_test(tc, test_build_and_diff);
	tcase_add_test(tc, test_named_egress);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
