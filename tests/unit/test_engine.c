/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine on hand-built clusters: one test per NetworkPolicy semantic
 * (isolation, peers, ports, named ports, ipBlock, hostNetwork, lifecycle,
 * self traffic, services), explanations and lookups. The change log has its
 * own suite, test_engine_changes.c.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>

#include "engine_fixture.h"

static bool allowed(struct engine *e, const char *src, const char *dst, enum proto proto,
		    uint16_t port)
{
	struct endpoint s, d;
	struct explanation x;
	bool fast;

	fx_ep(e, src, &s);
	fx_ep(e, dst, &d);
	fast = engine_verdict(e, &s, &d, proto, port, NULL);
	ck_assert_int_eq(engine_verdict(e, &s, &d, proto, port, &x), fast);
	ck_assert_int_eq(x.allowed, fast);
	return fast;
}

START_TEST(test_no_policy_allows)
{
	struct engine *e = fx_cluster();

	ck_assert(allowed(e, "a/web", "a/db", TCP, 5432));
	ck_assert(allowed(e, "b/client", "a/db", UDP, 1));
	ck_assert(allowed(e, "192.0.2.1", "a/db", SCTP, 9));
	ck_assert(!engine_pod_isolated(e, engine_pod(e, "a", "db"), DIR_INGRESS));
	engine_free(e);
}
END_TEST

START_TEST(test_isolation_per_direction)
{
	struct engine *e = fx_cluster();
	struct netpol *p = fx_mk_pol("a", "db-in", "app=db", true, false);

	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), "app=web", NULL);
	fx_apply_pol(e, p);
	ck_assert(engine_pod_isolated(e, engine_pod(e, "a", "db"), DIR_INGRESS));
	ck_assert(!engine_pod_isolated(e, engine_pod(e, "a", "db"), DIR_EGRESS));
	ck_assert(!engine_pod_isolated(e, engine_pod(e, "a", "web"), DIR_INGRESS));
	ck_assert(allowed(e, "a/web", "a/db", TCP, 5432));
	ck_assert(!allowed(e, "a/other", "a/db", TCP, 5432));
	ck_assert(!allowed(e, "b/web", "a/db", TCP, 5432)); /* pod-only peer: policy's ns */
	ck_assert(allowed(e, "a/db", "a/other", TCP, 80)); /* egress not isolated */

	/* Egress isolation of the source is needed too: both halves must allow. */
	p = fx_mk_pol("a", "web-out", "app=web", false, true);
	fx_peer_sel(fx_add_rule(p, DIR_EGRESS), "app=other", NULL);
	fx_apply_pol(e, p);
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 5432));
	ck_assert(allowed(e, "a/web", "a/other", TCP, 1));
	ck_assert(!allowed(e, "a/web", "192.0.2.1", TCP, 443));

	/* Union: a second policy adds to what the first allows. */
	p = fx_mk_pol("a", "web-out-2", "app=web", false, true);
	fx_peer_sel(fx_add_rule(p, DIR_EGRESS), "app=db", NULL);
	fx_apply_pol(e, p);
	ck_assert(allowed(e, "a/web", "a/db", TCP, 5432));
	engine_free(e);
}
END_TEST

START_TEST(test_deny_all_and_allow_all_rules)
{
	struct engine *e = fx_cluster();
	struct netpol *p = fx_mk_pol("a", "deny", "", true, true);

	fx_apply_pol(e, p);
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 1));
	ck_assert(!allowed(e, "b/web", "a/db", TCP, 1));
	ck_assert(allowed(e, "b/web", "b/client", TCP, 1));
	/* ingress: [{}] allows everything in. */
	p = fx_mk_pol("a", "allow-in", "app=db", true, false);
	fx_add_rule(p, DIR_INGRESS);
	fx_apply_pol(e, p);
	ck_assert(allowed(e, "b/web", "a/db", UDP, 7));
	ck_assert(allowed(e, "198.51.100.7", "a/db", SCTP, 7));
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 1)); /* a/web's egress is still denied */
	engine_free(e);
}
END_TEST

START_TEST(test_peer_scopes)
{
	struct engine *e = fx_cluster();
	struct netpol *p = fx_mk_pol("a", "ns-only", "app=db", true, false);

	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), NULL, "team=y");
	fx_apply_pol(e, p);
	ck_assert(allowed(e, "b/web", "a/db", TCP, 1));
	ck_assert(allowed(e, "b/client", "a/db", TCP, 1));
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 1));
	ck_assert(!allowed(e, "c/web", "a/db", TCP, 1));

	p = fx_mk_pol("a", "ns-only", "app=db", true, false);
	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), "app=web", "team=y"); /* both: AND */
	fx_apply_pol(e, p);
	ck_assert(allowed(e, "b/web", "a/db", TCP, 1));
	ck_assert(!allowed(e, "b/client", "a/db", TCP, 1));

	p = fx_mk_pol("a", "ns-only", "app=db", true, false);
	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), "", NULL); /* empty pod selector: own ns */
	fx_apply_pol(e, p);
	ck_assert(allowed(e, "a/other", "a/db", TCP, 1));
	ck_assert(!allowed(e, "b/web", "a/db", TCP, 1));

	p = fx_mk_pol("a", "ns-only", "app=db", true, false);
	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), NULL, ""); /* empty ns selector: all namespaces */
	fx_apply_pol(e, p);
	ck_assert(allowed(e, "b/web", "a/db", TCP, 1));
	ck_assert(allowed(e, "c/web", "a/db", TCP, 1));
	ck_assert(!allowed(e, "192.0.2.1", "a/db", TCP, 1));

	/* c has no Namespace object: it carries only kubernetes.io/metadata.name. */
	p = fx_mk_pol("a", "ns-only", "app=db", true, false);
	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), NULL, "kubernetes.io/metadata.name=c");
	fx_apply_pol(e, p);
	ck_assert(allowed(e, "c/web", "a/db", TCP, 1));
	ck_assert(!allowed(e, "b/web", "a/db", TCP, 1));
	/* When it appears with labels, selectors see them. */
	fx_add_ns(e, "c", "team=y");
	p = fx_mk_pol("a", "ns-only", "app=db", true, false);
	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), NULL, "team=y");
	fx_apply_pol(e, p);
	ck_assert(allowed(e, "c/web", "a/db", TCP, 1));
	ck_assert_int_eq(engine_delete(e, OBJ_NAMESPACE, NULL, "c"), 0);
	ck_assert(!allowed(e, "c/web", "a/db", TCP, 1));
	engine_free(e);
}
END_TEST

START_TEST(test_ports)
{
	struct engine *e = fx_cluster();
	struct netpol *p = fx_mk_pol("a", "ports", "app=db", true, false);
	struct np_rule *r = fx_add_rule(p, DIR_INGRESS);

	fx_rule_port(r, TCP, 5432, 0, NULL);
	fx_rule_port(r, UDP, 1000, 1010, NULL); /* endPort, inclusive */
	fx_rule_port(r, SCTP, 0, 0, NULL);      /* every SCTP port */
	fx_apply_pol(e, p);
	ck_assert(allowed(e, "a/web", "a/db", TCP, 5432));
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 5433));
	ck_assert(!allowed(e, "a/web", "a/db", UDP, 5432));
	ck_assert(!allowed(e, "a/web", "a/db", UDP, 999));
	ck_assert(allowed(e, "a/web", "a/db", UDP, 1000));
	ck_assert(allowed(e, "a/web", "a/db", UDP, 1010));
	ck_assert(!allowed(e, "a/web", "a/db", UDP, 1011));
	ck_assert(allowed(e, "a/web", "a/db", SCTP, 1));
	ck_assert(allowed(e, "a/web", "a/db", SCTP, 65535));
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 1000));
	engine_free(e);
}
END_TEST

START_TEST(test_named_ports)
{
	struct engine *e = fx_cluster();
	struct pod_obj *db = fx_mk_pod("a", "db", "app=db", "10.0.0.2", "fd00::2");
	struct netpol *p;
	struct np_rule *r;

	fx_pod_port(db, "pg", 5432, TCP);
	fx_pod_port(db, "metrics", 9187, UDP);
	fx_apply_pod(e, db);
	/* Ingress: resolved on the selected pod itself. */
	p = fx_mk_pol("a", "in", "app=db", true, false);
	r = fx_add_rule(p, DIR_INGRESS);
	fx_rule_port(r, TCP, 0, 0, "pg");
	fx_rule_port(r, TCP, 0, 0, "metrics"); /* protocol must match too: metrics is UDP */
	fx_rule_port(r, TCP, 0, 0, "nope");
	fx_apply_pol(e, p);
	ck_assert(allowed(e, "a/web", "a/db", TCP, 5432));
	ck_assert(allowed(e, "a/web@6", "a/db@6", TCP, 5432));
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 9187));
	ck_assert(!allowed(e, "a/web", "a/db", UDP, 9187));
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 5433));

	/* Egress: resolved on the peer (destination) pod; never on a bare IP. */
	p = fx_mk_pol("a", "out", "app=web", false, true);
	r = fx_add_rule(p, DIR_EGRESS);
	fx_rule_port(r, TCP, 0, 0, "pg");
	fx_apply_pol(e, p);
	ck_assert(allowed(e, "a/web", "a/db", TCP, 5432));
	ck_assert(!allowed(e, "a/web", "a/other", TCP, 5432)); /* other has no port "pg" */
	ck_assert(!allowed(e, "a/web", "192.0.2.1", TCP, 5432));
	engine_free(e);
}
END_TEST

START_TEST(test_ipblock)
{
	struct engine *e = fx_cluster();
	struct netpol *p = fx_mk_pol("a", "cidr", "app=db", true, false);
	struct np_rule *r = fx_add_rule(p, DIR_INGRESS);

	fx_peer_ipblock(r, "10.0.0.0/16", "10.0.1.0/24", "10.0.0.3/32");
	fx_peer_ipblock(r, "fd00::/120", NULL, NULL);
	fx_apply_pol(e, p);
	ck_assert(allowed(e, "a/web", "a/db", TCP, 1));       /* pod IP inside cidr */
	ck_assert(!allowed(e, "a/other", "a/db", TCP, 1));    /* pod IP in except */
	ck_assert(!allowed(e, "b/web", "a/db", TCP, 1));      /* 10.0.1.1 in except */
	ck_assert(allowed(e, "10.0.200.9", "a/db", TCP, 1));  /* bare address */
	ck_assert(!allowed(e, "10.1.0.1", "a/db", TCP, 1));
	ck_assert(allowed(e, "a/web@6", "a/db@6", TCP, 1));
	ck_assert(!allowed(e, "fd00::1:1", "a/db@6", TCP, 1));  /* outside /120 */
	ck_assert(!allowed(e, "2001:db8::1", "a/db@6", TCP, 1)); /* v4 block never matches v6 */
	engine_free(e);
}
END_TEST

START_TEST(test_ipv6_endpoints)
{
	struct engine *e = fx_cluster();
	struct endpoint x;
	struct netpol *p = fx_mk_pol("a", "in", "app=db", true, false);

	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), "app=web", NULL);
	fx_apply_pol(e, p);
	ck_assert(allowed(e, "a/web@6", "a/db@6", TCP, 1));
	ck_assert(!allowed(e, "fd00::1:1", "a/db@6", TCP, 1));
	/* Pod IPv6 found by address, and selectors see it as that pod. */
	ck_assert(allowed(e, "fd00::1", "a/db@6", TCP, 1));
	ck_assert_int_eq(endpoint_from_pod(engine_pod(e, "a", "other"), AF_INET6, &x),
			 -EADDRNOTAVAIL);
	engine_free(e);
}
END_TEST

START_TEST(test_hostnetwork_and_lifecycle)
{
	struct engine *e = fx_cluster();
	struct pod_obj *hn = fx_mk_pod("a", "hostnet", "app=db", "192.168.0.10", NULL);
	struct pod_obj *pend = fx_mk_pod("a", "pending", "app=db", NULL, NULL);
	struct pod_obj *done = fx_mk_pod("a", "done", "app=web", "10.0.0.9", NULL);
	struct netpol *p = fx_mk_pol("a", "in", "app=db", true, false);
	uint32_t id;

	hn->host_network = true;
	pend->phase = POD_PHASE_PENDING;
	done->phase = POD_PHASE_SUCCEEDED;
	fx_apply_pod(e, hn);
	fx_apply_pod(e, pend);
	fx_apply_pod(e, done);
	fx_peer_sel(fx_add_rule(p, DIR_INGRESS), "app=web", NULL);
	fx_apply_pol(e, p);
	/* hostNetwork pods are never targets. */
	ck_assert(!engine_pod_isolated(e, engine_pod(e, "a", "hostnet"), DIR_INGRESS));
	ck_assert(allowed(e, "a/other", "a/hostnet", TCP, 1));
	/* A pending pod is isolated before it has an address. */
	ck_assert(engine_pod_isolated(e, engine_pod(e, "a", "pending"), DIR_INGRESS));
	/* A terminated pod is no peer: not a member, and its IP is no pod's. */
	id = fx_rule_id(e, "a/db", DIR_INGRESS, 0);
	ck_assert_int_eq(fx_members(e, id), 1); /* a/web only */
	ck_assert_ptr_null(engine_pod_by_ip(e, &engine_pod(e, "a", "done")->ips[0]));
	ck_assert(!allowed(e, "10.0.0.9", "a/db", TCP, 1));
	engine_free(e);
}
END_TEST

START_TEST(test_self_traffic)
{
	struct engine *e = fx_cluster();
	struct endpoint s;
	struct explanation x;

	fx_apply_pol(e, fx_mk_pol("a", "deny", "", true, true));
	fx_ep(e, "a/db", &s);
	ck_assert(engine_verdict(e, &s, &s, TCP, 80, &x));
	ck_assert(x.self && x.allowed);
	ck_assert(engine_verdict(e, &s, &s, UDP, 53, NULL));
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 80));
	engine_free(e);
}
END_TEST

struct backends {
	char names[8][32];
	uint16_t ports[8];
	int n;
};

static int on_backend(void *ud, const struct pod_obj *p, uint16_t port)
{
	struct backends *b = ud;

	snprintf(b->names[b->n], sizeof(b->names[0]), "%s", p->name);
	b->ports[b->n++] = port;
	return 0;
}

START_TEST(test_services)
{
	struct engine *e = fx_cluster();
	struct pod_obj *d1 = fx_mk_pod("a", "db1", "app=pg", "10.0.0.11", NULL);
	struct pod_obj *d2 = fx_mk_pod("a", "db2", "app=pg", "10.0.0.12", NULL);
	struct pod_obj *d3 = fx_mk_pod("a", "db3", "app=pg", "10.0.0.13", NULL);
	struct service_obj *s = calloc(1, sizeof(*s));
	const struct service_obj *svc;
	struct k8s_object k = {.kind = OBJ_SERVICE};
	struct netpol *p = fx_mk_pol("a", "pg", "app=pg", true, false);
	struct backends b = {0};
	struct endpoint cl, be;

	fx_pod_port(d1, "sql", 5432, TCP);
	fx_pod_port(d2, "sql", 6432, TCP); /* named targetPort differs per backend */
	fx_pod_port(d3, "sql", 5432, UDP); /* wrong protocol: no backend */
	fx_apply_pod(e, d1);
	fx_apply_pod(e, d2);
	fx_apply_pod(e, d3);
	s->ns = strdup("a");
	s->name = strdup("pg");
	s->has_selector = true;
	labels_set(&s->selector, "app", "pg");
	s->ports = calloc(2, sizeof(*s->ports));
	s->ports[0] = (struct service_port){.proto = TCP, .port = 5432, .target_name = strdup("sql")};
	s->ports[1] = (struct service_port){.proto = TCP, .port = 80, .target_port = 8080};
	s->n_ports = 2;
	k.svc = s;
	ck_assert_int_eq(engine_apply(e, &k), 0);
	svc = engine_service(e, "a", "pg");
	ck_assert_ptr_nonnull(svc);

	ck_assert_int_eq(engine_service_backends(e, svc, 5432, TCP, on_backend, &b), 2);
	ck_assert_str_eq(b.names[0], "db1");
	ck_assert_uint_eq(b.ports[0], 5432);
	ck_assert_str_eq(b.names[1], "db2");
	ck_assert_uint_eq(b.ports[1], 6432);
	b.n = 0;
	ck_assert_int_eq(engine_service_backends(e, svc, 80, TCP, on_backend, &b), 3);
	ck_assert_uint_eq(b.ports[2], 8080);
	ck_assert_int_eq(engine_service_backends(e, svc, 81, TCP, on_backend, &b), -ENOENT);
	ck_assert_int_eq(engine_service_backends(e, svc, 5432, UDP, on_backend, &b), -ENOENT);

	/* The policy allows the named port "sql": each backend on its own number. */
	fx_rule_port(fx_add_rule(p, DIR_INGRESS), TCP, 0, 0, "sql");
	fx_apply_pol(e, p);
	fx_ep(e, "a/web", &cl);
	fx_ep(e, "a/db2", &be);
	ck_assert(engine_verdict(e, &cl, &be, TCP, 6432, NULL));
	ck_assert(!engine_verdict(e, &cl, &be, TCP, 5432, NULL));

	/* A Service without a selector has no pod backends. */
	s = calloc(1, sizeof(*s));
	s->ns = strdup("a");
	s->name = strdup("ext");
	s->ports = calloc(1, sizeof(*s->ports));
	s->ports[0] = (struct service_port){.proto = TCP, .port = 5432, .target_port = 5432};
	s->n_ports = 1;
	k = (struct k8s_object){.kind = OBJ_SERVICE, .svc = s};
	ck_assert_int_eq(engine_apply(e, &k), 0);
	ck_assert_int_eq(engine_service_backends(e, engine_service(e, "a", "ext"), 5432, TCP,
						 on_backend, &b), 0);
	ck_assert_int_eq(engine_delete(e, OBJ_SERVICE, "a", "pg"), 0);
	ck_assert_ptr_null(engine_service(e, "a", "pg"));
	engine_free(e);
}
END_TEST

START_TEST(test_explanation)
{
	struct engine *e = fx_cluster();
	struct netpol *p1 = fx_mk_pol("a", "b-second", "app=db", true, false);
	struct netpol *p2 = fx_mk_pol("a", "a-first", "app=db", true, false);
	struct np_rule *r;
	struct endpoint s, d;
	struct explanation x;

	r = fx_add_rule(p1, DIR_INGRESS);
	fx_peer_sel(r, "app=web", NULL);
	r = fx_add_rule(p2, DIR_INGRESS);
	fx_peer_sel(r, "app=nobody", NULL);
	fx_rule_port(r, TCP, 1, 0, NULL);
	r = fx_add_rule(p2, DIR_INGRESS);
	fx_peer_ipblock(r, "192.0.2.0/24", NULL, NULL);
	fx_peer_sel(r, "app=web", NULL);
	fx_rule_port(r, UDP, 53, 0, NULL);
	fx_rule_port(r, TCP, 80, 90, NULL);
	fx_apply_pol(e, p1);
	fx_apply_pol(e, p2);

	fx_ep(e, "a/web", &s);
	fx_ep(e, "a/db", &d);
	ck_assert(engine_verdict(e, &s, &d, TCP, 85, &x));
	ck_assert(!x.self && x.allowed);
	ck_assert(x.egress.checked && !x.egress.isolated && x.egress.allowed);
	ck_assert(x.ingress.checked && x.ingress.isolated && x.ingress.allowed);
	/* First by policy name: a-first, rule 1, peer 1, port 1. */
	ck_assert_str_eq(x.ingress.by.pol->name, "a-first");
	ck_assert_int_eq(x.ingress.by.dir, DIR_INGRESS);
	ck_assert_uint_eq(x.ingress.by.rule, 1);
	ck_assert_int_eq(x.ingress.by.peer, 1);
	ck_assert_int_eq(x.ingress.by.port, 1);

	ck_assert(engine_verdict(e, &s, &d, TCP, 5432, &x));
	ck_assert_str_eq(x.ingress.by.pol->name, "b-second");
	ck_assert_int_eq(x.ingress.by.peer, 0);
	ck_assert_int_eq(x.ingress.by.port, -1);

	fx_ep(e, "a/other", &s);
	ck_assert(!engine_verdict(e, &s, &d, TCP, 80, &x));
	ck_assert(x.ingress.isolated && !x.ingress.allowed);
	ck_assert_uint_eq(x.ingress.n_isolating, 2);
	ck_assert_str_eq(x.ingress.isolating[0]->name, "a-first");
	ck_assert_str_eq(x.ingress.isolating[1]->name, "b-second");

	/* A bare IP source is not checked for egress. */
	fx_ep(e, "192.0.2.5", &s);
	ck_assert(engine_verdict(e, &s, &d, UDP, 53, &x));
	ck_assert(!x.egress.checked);
	ck_assert_int_eq(x.ingress.by.peer, 0);
	ck_assert_int_eq(x.ingress.by.port, 0);
	engine_free(e);
}
END_TEST

START_TEST(test_lookups)
{
	struct engine *e = fx_cluster();
	struct pod_obj *dup = fx_mk_pod("b", "zz-dup", "app=x", "10.0.0.1", NULL);
	struct pod_obj *dup2 = fx_mk_pod("a", "aa-dup", "app=x", "10.0.0.1", NULL);
	struct engine_counts c;
	struct ip_addr ip;
	struct port_range pr[4];
	struct np_rule r = {0};

	dup->phase = POD_PHASE_PENDING;
	dup2->phase = POD_PHASE_PENDING;
	fx_apply_pod(e, dup);
	fx_apply_pod(e, dup2);
	ip_addr_parse("10.0.0.1", &ip);
	/* Running wins a collision. */
	ck_assert_str_eq(engine_pod_by_ip(e, &ip)->name, "web");
	ck_assert_int_eq(engine_delete(e, OBJ_POD, "a", "web"), 0);
	ck_assert_str_eq(engine_pod_by_ip(e, &ip)->name, "aa-dup");
	engine_counts(e, &c);
	ck_assert_uint_eq(c.namespaces, 2);
	ck_assert_uint_eq(c.pods, 7);
	ck_assert_ptr_nonnull(engine_namespace(e, "a"));
	ck_assert_ptr_null(engine_namespace(e, "c"));
	ck_assert_int_eq(engine_delete(e, OBJ_NAMESPACE, NULL, "zz"), -ENOENT);

	/* engine_resolve_ports */
	ck_assert_int_eq(engine_resolve_ports(&r, NULL, pr, 4), 1);
	ck_assert(pr[0].all_protocols);
	fx_rule_port(&r, TCP, 0, 0, "http");
	fx_rule_port(&r, UDP, 100, 200, NULL);
	fx_rule_port(&r, SCTP, 0, 0, NULL);
	ck_assert_int_eq(engine_resolve_ports(&r, NULL, pr, 4), 2);
	ck_assert_uint_eq(pr[0].proto, UDP);
	ck_assert_uint_eq(pr[0].lo, 100);
	ck_assert_uint_eq(pr[0].hi, 200);
	ck_assert_uint_eq(pr[1].hi, 65535);
	dup = fx_mk_pod("a", "x", "", "10.9.9.9", NULL);
	fx_pod_port(dup, "http", 8080, TCP);
	ck_assert_int_eq(engine_resolve_ports(&r, dup, pr, 4), 3);
	ck_assert_uint_eq(pr[0].lo, 8080);
	ck_assert_int_eq(engine_resolve_ports(&r, dup, pr, 2), -E2BIG);
	pod_obj_free(dup);
	for (size_t i = 0; i < r.n_ports; i++)
		free(r.ports[i].name);
	free(r.ports);
	engine_free(e);
}
END_TEST

static Suite *engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *sem = tcase_create("semantics");

	tcase_add_test(sem, test_no_policy_allows);
	tcase_add_test(sem, test_isolation_per_direction);
	tcase_add_test(sem, test_deny_all_and_allow_all_rules);
	tcase_add_test(sem, test_peer_scopes);
	tcase_add_test(sem, test_ports);
	tcase_add_test(sem, test_named_ports);
	tcase_add_test(sem, test_ipblock);
	tcase_add_test(sem, test_ipv6_endpoints);
	tcase_add_test(sem, test_hostnetwork_and_lifecycle);
	tcase_add_test(sem, test_self_traffic);
	tcase_add_test(sem, test_services);
	tcase_add_test(sem, test_explanation);
	tcase_add_test(sem, test_lookups);
	suite_add_tcase(s, sem);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(engine_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
