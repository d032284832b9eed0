/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine's change log on hand-built clusters: which changes (pod and
 * rule-member additions and removals, rules) each update queues, and that
 * re-applying an identical object queues none.
 */
#include <check.h>
#include <stdio.h>

#include "engine_fixture.h"

#define ANY UINT32_MAX

/* ---- change log capture ---- */

struct rec {
	enum engine_change_kind kind;
	uint32_t rule;
	char pod[64];
	char ip[64];
};

struct log {
	struct rec v[256];
	size_t n;
};

static void on_chg(void *ud, const struct engine_change *c)
{
	struct log *l = ud;
	struct rec *r;

	ck_assert_uint_lt(l->n, 256);
	r = &l->v[l->n++];
	*r = (struct rec){.kind = c->kind, .rule = c->rule_id};
	if (c->pod) {
		snprintf(r->pod, sizeof(r->pod), "%s/%s", c->pod->ns, c->pod->name);
		if (c->pod->n_ips)
			ip_addr_fmt(&c->pod->ips[0], r->ip, sizeof(r->ip));
	}
}

static void drain(struct engine *e, struct log *l)
{
	l->n = 0;
	engine_drain_changes(e, on_chg, l);
}

static size_t count(const struct log *l, enum engine_change_kind k, uint32_t rule, const char *pod)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].kind == k && (rule == UINT32_MAX || l->v[i].rule == rule) &&
		    (!pod || strcmp(l->v[i].pod, pod) == 0))
			n++;
	return n;
}

START_TEST(test_changelog_pods)
{
	struct engine *e = fx_cluster();
	struct netpol *p = fx_mk_pol("a", "in", "app=db", true, false);
	struct log l;
	uint32_t id;
	struct pod_obj *o;

	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), "app=web", NULL);
	fx_apply_pol(e, p);
	drain(e, &l);
	id = fx_rule_id(e, "a/db", DIR_INGRESS, 0);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_RULE_ADDED, id, NULL), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_ADDED, id, "a/web"), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_ADDED, ANY, NULL), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_POD_TARGET, ANY, "a/db"), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_POD_TARGET, ANY, NULL), 1);

	/* New member pod. */
	fx_add_pod(e, "a", "web2", "app=web", "10.0.0.20", NULL);
	drain(e, &l);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_ADDED, id, "a/web2"), 1);
	ck_assert_int_eq(fx_members(e, id), 2);

	/* Relabel out of the rule, then a new target by relabel. */
	fx_add_pod(e, "a", "web2", "app=db", "10.0.0.20", NULL);
	drain(e, &l);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_REMOVED, id, "a/web2"), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_POD_TARGET, ANY, "a/web2"), 1);
	ck_assert_uint_eq(l.n, 2);

	/* IP change of a member: removed (old IP) then added (new IP); target too. */
	fx_add_pod(e, "a", "web", "app=web", "10.0.0.99", "fd00::1");
	drain(e, &l);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_int_eq(l.v[0].kind, ENGINE_CHG_MEMBER_REMOVED);
	ck_assert_str_eq(l.v[0].ip, "10.0.0.1");
	ck_assert_int_eq(l.v[1].kind, ENGINE_CHG_MEMBER_ADDED);
	ck_assert_str_eq(l.v[1].ip, "10.0.0.99");
	ck_assert_int_eq(l.v[2].kind, ENGINE_CHG_POD_TARGET);

	/* Container port change of a member: the same. */
	o = fx_mk_pod("a", "web", "app=web", "10.0.0.99", "fd00::1");
	fx_pod_port(o, "http", 80, TCP);
	fx_apply_pod(e, o);
	drain(e, &l);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_REMOVED, id, "a/web"), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_ADDED, id, "a/web"), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_POD_TARGET, ANY, "a/web"), 1);

	/* Node change of a target: POD_TARGET only. */
	o = fx_mk_pod("a", "db", "app=db", "10.0.0.2", "fd00::2");
	free(o->node_name);
	o->node_name = strdup("node-b");
	fx_apply_pod(e, o);
	drain(e, &l);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_int_eq(l.v[0].kind, ENGINE_CHG_POD_TARGET);

	/* Delete: MEMBER_REMOVED entries, then POD_REMOVED. */
	ck_assert_int_eq(engine_delete(e, OBJ_POD, "a", "web"), 0);
	drain(e, &l);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_int_eq(l.v[0].kind, ENGINE_CHG_MEMBER_REMOVED);
	ck_assert_str_eq(l.v[0].pod, "a/web");
	ck_assert_int_eq(l.v[1].kind, ENGINE_CHG_POD_REMOVED);
	ck_assert_int_eq(fx_members(e, id), 0);
	ck_assert_int_eq(engine_delete(e, OBJ_POD, "a", "web"), -ENOENT);
	engine_free(e);
}
END_TEST

START_TEST(test_changelog_policies)
{
	struct engine *e = fx_cluster();
	struct netpol *p = fx_mk_pol("a", "in", "app=db", true, false);
	struct log l;
	uint32_t r0, r1, r1b;

	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), "app=web", NULL);
	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), "app=other", NULL);
	fx_apply_pol(e, p);
	drain(e, &l);
	r0 = fx_rule_id(e, "a/db", DIR_INGRESS, 0);
	r1 = fx_rule_id(e, "a/db", DIR_INGRESS, 1);
	ck_assert_uint_ne(r0, r1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_RULE_ADDED, ANY, NULL), 2);

	/* Identical re-apply: nothing. */
	p = fx_mk_pol("a", "in", "app=db", true, false);
	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), "app=web", NULL);
	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), "app=other", NULL);
	fx_apply_pol(e, p);
	drain(e, &l);
	ck_assert_uint_eq(l.n, 0);

	/* Change rule 1 only: rule 0 keeps its id, rule 1 gets a fresh one. */
	p = fx_mk_pol("a", "in", "app=db", true, false);
	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), "app=web", NULL);
	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), NULL, "team=y");
	fx_apply_pol(e, p);
	drain(e, &l);
	ck_assert_uint_eq(fx_rule_id(e, "a/db", DIR_INGRESS, 0), r0);
	r1b = fx_rule_id(e, "a/db", DIR_INGRESS, 1);
	ck_assert_uint_gt(r1b, r1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_RULE_REMOVED, r1, NULL), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_RULE_ADDED, r1b, NULL), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_ADDED, r1b, NULL), 2); /* b/web, b/client */
	ck_assert_uint_eq(count(&l, ENGINE_CHG_RULE_REMOVED, r0, NULL), 0);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_POD_TARGET, ANY, "a/db"), 1);
	ck_assert_ptr_null(engine_rule(e, r1));
	ck_assert_ptr_nonnull(engine_rule(e, r0));
	ck_assert_str_eq(engine_rule(e, r0)->pol->name, "in");

	/* Namespace relabel: b leaves team=y, its pods leave the rule. */
	fx_add_ns(e, "b", "team=z");
	drain(e, &l);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_REMOVED, r1b, NULL), 2);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_int_eq(fx_members(e, r1b), 0);
	fx_add_ns(e, "b", "team=z"); /* identical */
	drain(e, &l);
	ck_assert_uint_eq(l.n, 0);

	/* Policy selector change: db leaves, other becomes a target. */
	p = fx_mk_pol("a", "in", "app=other", true, false);
	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), "app=web", NULL);
	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), NULL, "team=y");
	fx_apply_pol(e, p);
	drain(e, &l);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_POD_TARGET, ANY, "a/db"), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_POD_TARGET, ANY, "a/other"), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_RULE_ADDED, ANY, NULL), 0);
	ck_assert(!engine_pod_isolated(e, engine_pod(e, "a", "db"), DIR_INGRESS));

	/* Delete: rules removed, target updated; ids never come back. */
	ck_assert_int_eq(engine_delete(e, OBJ_NETWORK_POLICY, "a", "in"), 0);
	drain(e, &l);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_RULE_REMOVED, ANY, NULL), 2);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_POD_TARGET, ANY, "a/other"), 1);
	p = fx_mk_pol("a", "in", "app=db", true, false);
	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), "app=web", NULL);
	fx_apply_pol(e, p);
	ck_assert_uint_gt(fx_rule_id(e, "a/db", DIR_INGRESS, 0), r1b);
	engine_free(e);
}
END_TEST

START_TEST(test_identical_reapply)
{
	struct engine *e = fx_cluster();
	struct log l;
	struct pod_obj *o = fx_mk_pod("a", "web", "app=web", "10.0.0.1", "fd00::1");

	fx_apply_pol(e, fx_mk_pol("a", "deny", "", true, false));
	drain(e, &l);
	fx_apply_pod(e, o);
	fx_add_ns(e, "a", "team=x");
	fx_apply_pol(e, fx_mk_pol("a", "deny", "", true, false));
	drain(e, &l);
	ck_assert_uint_eq(l.n, 0);
	engine_free(e);
}
END_TEST

static Suite *engine_changes_suite(void)
{
	Suite *s = suite_create("engine_changes");
	TCase *log = tcase_create("changelog");

	tcase_add_test(log, test_changelog_pods);
	tcase_add_test(log, test_changelog_policies);
	tcase_add_test(log, test_identical_reapply);
	suite_add_tcase(s, log);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(engine_changes_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
