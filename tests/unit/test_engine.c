/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine on hand-built clusters: one test per NetworkPolicy semantic
 * (isolation, peers, ports, named ports, ipBlock, hostNetwork, lifecycle,
 * self traffic, services), explanations, and the change log contents.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>

#include "engine.h"

/* ---- object builders ---- */

static void set_labels(struct labels *l, const char *spec)
{
	/* "k=v,k2=v2" */
	char buf[256];
	char *tok = buf;

	if (!spec || !*spec)
		return;
	snprintf(buf, sizeof(buf), "%s", spec);
	while (tok) {
		char *comma = strchr(tok, ','), *eq;

		if (comma)
			*comma = 0;
		eq = strchr(tok, '=');
		ck_assert_ptr_nonnull(eq);
		*eq = 0;
		ck_assert_int_eq(labels_set(l, tok, eq + 1), 0);
		tok = comma ? comma + 1 : NULL;
	}
}

static void add_ns(struct engine *e, const char *name, const char *labels)
{
	struct namespace_obj *o = calloc(1, sizeof(*o));
	struct k8s_object k = {.kind = OBJ_NAMESPACE};

	o->name = strdup(name);
	labels_set(&o->labels, "kubernetes.io/metadata.name", name);
	set_labels(&o->labels, labels);
	k.ns = o;
	ck_assert_int_eq(engine_apply(e, &k), 0);
}

static struct pod_obj *mk_pod(const char *ns, const char *name, const char *labels, const char *ip4,
			      const char *ip6)
{
	struct pod_obj *o = calloc(1, sizeof(*o));

	o->ns = strdup(ns);
	o->name = strdup(name);
	o->uid = strdup(name);
	o->node_name = strdup("node-a");
	o->phase = POD_PHASE_RUNNING;
	set_labels(&o->labels, labels);
	if (ip4)
		ck_assert_int_eq(ip_addr_parse(ip4, &o->ips[o->n_ips++]), 0);
	if (ip6)
		ck_assert_int_eq(ip_addr_parse(ip6, &o->ips[o->n_ips++]), 0);
	return o;
}

static void pod_port(struct pod_obj *o, const char *name, uint16_t port, enum proto proto)
{
	o->ports = realloc(o->ports, (o->n_ports + 1) * sizeof(*o->ports));
	o->ports[o->n_ports++] =
		(struct container_port){.name = name ? strdup(name) : NULL, .port = port, .proto = proto};
}

static void apply_pod(struct engine *e, struct pod_obj *o)
{
	struct k8s_object k = {.kind = OBJ_POD, .pod = o};

	ck_assert_int_eq(engine_apply(e, &k), 0);
}

static void add_pod(struct engine *e, const char *ns, const char *name, const char *labels,
		    const char *ip4, const char *ip6)
{
	apply_pod(e, mk_pod(ns, name, labels, ip4, ip6));
}

static struct netpol *mk_pol(const char *ns, const char *name, const char *podsel, bool in, bool eg)
{
	struct netpol *o = calloc(1, sizeof(*o));

	o->ns = strdup(ns);
	o->name = strdup(name);
	o->uid = strdup(name);
	set_labels(&o->pod_selector.match_labels, podsel);
	o->type_ingress = in;
	o->type_egress = eg;
	return o;
}

static struct np_rule *add_rule(struct netpol *p, enum direction d)
{
	struct np_rule **v = d == DIR_INGRESS ? &p->ingress : &p->egress;
	size_t *n = d == DIR_INGRESS ? &p->n_ingress : &p->n_egress;

	*v = realloc(*v, (*n + 1) * sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	return &(*v)[(*n)++];
}

static struct np_peer *add_peer(struct np_rule *r)
{
	r->peers = realloc(r->peers, (r->n_peers + 1) * sizeof(*r->peers));
	memset(&r->peers[r->n_peers], 0, sizeof(*r->peers));
	return &r->peers[r->n_peers++];
}

/* podsel / nssel: NULL = absent, "" = empty selector. */
static void peer_sel(struct np_rule *r, const char *podsel, const char *nssel)
{
	struct np_peer *p = add_peer(r);

	p->kind = PEER_SELECTOR;
	p->has_pod_selector = podsel != NULL;
	p->has_ns_selector = nssel != NULL;
	set_labels(&p->pod_selector.match_labels, podsel);
	set_labels(&p->ns_selector.match_labels, nssel);
}

static void peer_ipblock(struct np_rule *r, const char *cidr, const char *ex1, const char *ex2)
{
	struct np_peer *p = add_peer(r);

	p->kind = PEER_IPBLOCK;
	ck_assert_int_eq(cidr_parse(cidr, &p->cidr), 0);
	p->except = calloc(2, sizeof(*p->except));
	if (ex1)
		ck_assert_int_eq(cidr_parse(ex1, &p->except[p->n_except++]), 0);
	if (ex2)
		ck_assert_int_eq(cidr_parse(ex2, &p->except[p->n_except++]), 0);
}

static void rule_port(struct np_rule *r, enum proto proto, uint16_t port, uint16_t end,
		      const char *name)
{
	r->ports = realloc(r->ports, (r->n_ports + 1) * sizeof(*r->ports));
	r->ports[r->n_ports++] = (struct np_port){.proto = proto, .has_port = port || name,
						  .name = name ? strdup(name) : NULL, .port = port,
						  .end_port = end ? end : port};
}

static void apply_pol(struct engine *e, struct netpol *p)
{
	struct k8s_object k = {.kind = OBJ_NETWORK_POLICY, .pol = p};

	ck_assert_int_eq(engine_apply(e, &k), 0);
}

/* ---- verdict helpers ---- */

/* "ns/name" (a pod, IPv4), "ns/name@6" (IPv6), or an address. */
static void ep(struct engine *e, const char *spec, struct endpoint *ret)
{
	char buf[128];
	char *at, *slash;

	snprintf(buf, sizeof(buf), "%s", spec);
	slash = strchr(buf, '/');
	if (slash) {
		int fam = AF_INET;
		const struct pod_obj *p;

		at = strchr(buf, '@');
		if (at) {
			*at = 0;
			fam = AF_INET6;
		}
		*slash = 0;
		p = engine_pod(e, buf, slash + 1);
		ck_assert_msg(p != NULL, "no pod %s", spec);
		ck_assert_int_eq(endpoint_from_pod(p, fam, ret), 0);
	} else {
		struct ip_addr ip;

		ck_assert_int_eq(ip_addr_parse(buf, &ip), 0);
		engine_endpoint_from_ip(e, &ip, ret);
	}
}

static bool allowed(struct engine *e, const char *src, const char *dst, enum proto proto,
		    uint16_t port)
{
	struct endpoint s, d;
	struct explanation x;
	bool fast;

	ep(e, src, &s);
	ep(e, dst, &d);
	fast = engine_verdict(e, &s, &d, proto, port, NULL);
	ck_assert_int_eq(engine_verdict(e, &s, &d, proto, port, &x), fast);
	ck_assert_int_eq(x.allowed, fast);
	return fast;
}

#define TCP PROTO_TCP
#define UDP PROTO_UDP
#define SCTP PROTO_SCTP

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

#define ANY UINT32_MAX

static uint32_t rule_id(struct engine *e, const char *pod, enum direction d, size_t i)
{
	struct endpoint x;
	const struct compiled_rule *const *rv;

	ep(e, pod, &x);
	ck_assert_uint_gt(engine_pod_rules(e, x.pod, d, &rv), i);
	return rv[i]->id;
}

static int count_cb(void *ud, const struct pod_obj *p)
{
	(*(int *)ud)++;
	return 0;
}

static int members(struct engine *e, uint32_t id)
{
	int n = 0;

	ck_assert_int_ge(engine_rule_members(e, id, count_cb, &n), 0);
	return n;
}

/* A small cluster: ns a (team=x), ns b (team=y), ns c has no Namespace object. */
static struct engine *cluster(void)
{
	struct engine *e = engine_new();

	ck_assert_ptr_nonnull(e);
	add_ns(e, "a", "team=x");
	add_ns(e, "b", "team=y");
	add_pod(e, "a", "web", "app=web", "10.0.0.1", "fd00::1");
	add_pod(e, "a", "db", "app=db", "10.0.0.2", "fd00::2");
	add_pod(e, "a", "other", "app=other", "10.0.0.3", NULL);
	add_pod(e, "b", "web", "app=web", "10.0.1.1", "fd00::1:1");
	add_pod(e, "b", "client", "app=client", "10.0.1.2", NULL);
	add_pod(e, "c", "web", "app=web", "10.0.2.1", NULL);
	engine_discard_changes(e);
	return e;
}

START_TEST(test_no_policy_allows)
{
	struct engine *e = cluster();

	ck_assert(allowed(e, "a/web", "a/db", TCP, 5432));
	ck_assert(allowed(e, "b/client", "a/db", UDP, 1));
	ck_assert(allowed(e, "192.0.2.1", "a/db", SCTP, 9));
	ck_assert(!engine_pod_isolated(e, engine_pod(e, "a", "db"), DIR_INGRESS));
	engine_free(e);
}
END_TEST

START_TEST(test_isolation_per_direction)
{
	struct engine *e = cluster();
	struct netpol *p = mk_pol("a", "db-in", "app=db", true, false);

	peer_sel(add_rule(p, DIR_INGRESS), "app=web", NULL);
	apply_pol(e, p);
	ck_assert(engine_pod_isolated(e, engine_pod(e, "a", "db"), DIR_INGRESS));
	ck_assert(!engine_pod_isolated(e, engine_pod(e, "a", "db"), DIR_EGRESS));
	ck_assert(!engine_pod_isolated(e, engine_pod(e, "a", "web"), DIR_INGRESS));
	ck_assert(allowed(e, "a/web", "a/db", TCP, 5432));
	ck_assert(!allowed(e, "a/other", "a/db", TCP, 5432));
	ck_assert(!allowed(e, "b/web", "a/db", TCP, 5432)); /* pod-only peer: policy's ns */
	ck_assert(allowed(e, "a/db", "a/other", TCP, 80)); /* egress not isolated */

	/* Egress isolation of the source is needed too: both halves must allow. */
	p = mk_pol("a", "web-out", "app=web", false, true);
	peer_sel(add_rule(p, DIR_EGRESS), "app=other", NULL);
	apply_pol(e, p);
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 5432));
	ck_assert(allowed(e, "a/web", "a/other", TCP, 1));
	ck_assert(!allowed(e, "a/web", "192.0.2.1", TCP, 443));

	/* Union: a second policy adds to what the first allows. */
	p = mk_pol("a", "web-out-2", "app=web", false, true);
	peer_sel(add_rule(p, DIR_EGRESS), "app=db", NULL);
	apply_pol(e, p);
	ck_assert(allowed(e, "a/web", "a/db", TCP, 5432));
	engine_free(e);
}
END_TEST

START_TEST(test_deny_all_and_allow_all_rules)
{
	struct engine *e = cluster();
	struct netpol *p = mk_pol("a", "deny", "", true, true);

	apply_pol(e, p);
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 1));
	ck_assert(!allowed(e, "b/web", "a/db", TCP, 1));
	ck_assert(allowed(e, "b/web", "b/client", TCP, 1));
	/* ingress: [{}] allows everything in. */
	p = mk_pol("a", "allow-in", "app=db", true, false);
	add_rule(p, DIR_INGRESS);
	apply_pol(e, p);
	ck_assert(allowed(e, "b/web", "a/db", UDP, 7));
	ck_assert(allowed(e, "198.51.100.7", "a/db", SCTP, 7));
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 1)); /* a/web's egress is still denied */
	engine_free(e);
}
END_TEST

START_TEST(test_peer_scopes)
{
	struct engine *e = cluster();
	struct netpol *p = mk_pol("a", "ns-only", "app=db", true, false);

	peer_sel(add_rule(p, DIR_INGRESS), NULL, "team=y");
	apply_pol(e, p);
	ck_assert(allowed(e, "b/web", "a/db", TCP, 1));
	ck_assert(allowed(e, "b/client", "a/db", TCP, 1));
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 1));
	ck_assert(!allowed(e, "c/web", "a/db", TCP, 1));

	p = mk_pol("a", "ns-only", "app=db", true, false);
	peer_sel(add_rule(p, DIR_INGRESS), "app=web", "team=y"); /* both: AND */
	apply_pol(e, p);
	ck_assert(allowed(e, "b/web", "a/db", TCP, 1));
	ck_assert(!allowed(e, "b/client", "a/db", TCP, 1));

	p = mk_pol("a", "ns-only", "app=db", true, false);
	peer_sel(add_rule(p, DIR_INGRESS), "", NULL); /* empty pod selector: own ns */
	apply_pol(e, p);
	ck_assert(allowed(e, "a/other", "a/db", TCP, 1));
	ck_assert(!allowed(e, "b/web", "a/db", TCP, 1));

	p = mk_pol("a", "ns-only", "app=db", true, false);
	peer_sel(add_rule(p, DIR_INGRESS), NULL, ""); /* empty ns selector: all namespaces */
	apply_pol(e, p);
	ck_assert(allowed(e, "b/web", "a/db", TCP, 1));
	ck_assert(allowed(e, "c/web", "a/db", TCP, 1));
	ck_assert(!allowed(e, "192.0.2.1", "a/db", TCP, 1));

	/* c has no Namespace object: it carries only kubernetes.io/metadata.name. */
	p = mk_pol("a", "ns-only", "app=db", true, false);
	peer_sel(add_rule(p, DIR_INGRESS), NULL, "kubernetes.io/metadata.name=c");
	apply_pol(e, p);
	ck_assert(allowed(e, "c/web", "a/db", TCP, 1));
	ck_assert(!allowed(e, "b/web", "a/db", TCP, 1));
	/* When it appears with labels, selectors see them. */
	add_ns(e, "c", "team=y");
	p = mk_pol("a", "ns-only", "app=db", true, false);
	peer_sel(add_rule(p, DIR_INGRESS), NULL, "team=y");
	apply_pol(e, p);
	ck_assert(allowed(e, "c/web", "a/db", TCP, 1));
	ck_assert_int_eq(engine_delete(e, OBJ_NAMESPACE, NULL, "c"), 0);
	ck_assert(!allowed(e, "c/web", "a/db", TCP, 1));
	engine_free(e);
}
END_TEST

START_TEST(test_ports)
{
	struct engine *e = cluster();
	struct netpol *p = mk_pol("a", "ports", "app=db", true, false);
	struct np_rule *r = add_rule(p, DIR_INGRESS);

	rule_port(r, TCP, 5432, 0, NULL);
	rule_port(r, UDP, 1000, 1010, NULL); /* endPort, inclusive */
	rule_port(r, SCTP, 0, 0, NULL);      /* every SCTP port */
	apply_pol(e, p);
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
	struct engine *e = cluster();
	struct pod_obj *db = mk_pod("a", "db", "app=db", "10.0.0.2", "fd00::2");
	struct netpol *p;
	struct np_rule *r;

	pod_port(db, "pg", 5432, TCP);
	pod_port(db, "metrics", 9187, UDP);
	apply_pod(e, db);
	/* Ingress: resolved on the selected pod itself. */
	p = mk_pol("a", "in", "app=db", true, false);
	r = add_rule(p, DIR_INGRESS);
	rule_port(r, TCP, 0, 0, "pg");
	rule_port(r, TCP, 0, 0, "metrics"); /* protocol must match too: metrics is UDP */
	rule_port(r, TCP, 0, 0, "nope");
	apply_pol(e, p);
	ck_assert(allowed(e, "a/web", "a/db", TCP, 5432));
	ck_assert(allowed(e, "a/web@6", "a/db@6", TCP, 5432));
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 9187));
	ck_assert(!allowed(e, "a/web", "a/db", UDP, 9187));
	ck_assert(!allowed(e, "a/web", "a/db", TCP, 5433));

	/* Egress: resolved on the peer (destination) pod; never on a bare IP. */
	p = mk_pol("a", "out", "app=web", false, true);
	r = add_rule(p, DIR_EGRESS);
	rule_port(r, TCP, 0, 0, "pg");
	apply_pol(e, p);
	ck_assert(allowed(e, "a/web", "a/db", TCP, 5432));
	ck_assert(!allowed(e, "a/web", "a/other", TCP, 5432)); /* other has no port "pg" */
	ck_assert(!allowed(e, "a/web", "192.0.2.1", TCP, 5432));
	engine_free(e);
}
END_TEST

START_TEST(test_ipblock)
{
	struct engine *e = cluster();
	struct netpol *p = mk_pol("a", "cidr", "app=db", true, false);
	struct np_rule *r = add_rule(p, DIR_INGRESS);

	peer_ipblock(r, "10.0.0.0/16", "10.0.1.0/24", "10.0.0.3/32");
	peer_ipblock(r, "fd00::/120", NULL, NULL);
	apply_pol(e, p);
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
	struct engine *e = cluster();
	struct endpoint x;
	struct netpol *p = mk_pol("a", "in", "app=db", true, false);

	peer_sel(add_rule(p, DIR_INGRESS), "app=web", NULL);
	apply_pol(e, p);
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
	struct engine *e = cluster();
	struct pod_obj *hn = mk_pod("a", "hostnet", "app=db", "192.168.0.10", NULL);
	struct pod_obj *pend = mk_pod("a", "pending", "app=db", NULL, NULL);
	struct pod_obj *done = mk_pod("a", "done", "app=web", "10.0.0.9", NULL);
	struct netpol *p = mk_pol("a", "in", "app=db", true, false);
	uint32_t id;

	hn->host_network = true;
	pend->phase = POD_PHASE_PENDING;
	done->phase = POD_PHASE_SUCCEEDED;
	apply_pod(e, hn);
	apply_pod(e, pend);
	apply_pod(e, done);
	peer_sel(add_rule(p, DIR_INGRESS), "app=web", NULL);
	apply_pol(e, p);
	/* hostNetwork pods are never targets. */
	ck_assert(!engine_pod_isolated(e, engine_pod(e, "a", "hostnet"), DIR_INGRESS));
	ck_assert(allowed(e, "a/other", "a/hostnet", TCP, 1));
	/* A pending pod is isolated before it has an address. */
	ck_assert(engine_pod_isolated(e, engine_pod(e, "a", "pending"), DIR_INGRESS));
	/* A terminated pod is no peer: not a member, and its IP is no pod's. */
	id = rule_id(e, "a/db", DIR_INGRESS, 0);
	ck_assert_int_eq(members(e, id), 1); /* a/web only */
	ck_assert_ptr_null(engine_pod_by_ip(e, &engine_pod(e, "a", "done")->ips[0]));
	ck_assert(!allowed(e, "10.0.0.9", "a/db", TCP, 1));
	engine_free(e);
}
END_TEST

START_TEST(test_self_traffic)
{
	struct engine *e = cluster();
	struct endpoint s;
	struct explanation x;

	apply_pol(e, mk_pol("a", "deny", "", true, true));
	ep(e, "a/db", &s);
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
	struct engine *e = cluster();
	struct pod_obj *d1 = mk_pod("a", "db1", "app=pg", "10.0.0.11", NULL);
	struct pod_obj *d2 = mk_pod("a", "db2", "app=pg", "10.0.0.12", NULL);
	struct pod_obj *d3 = mk_pod("a", "db3", "app=pg", "10.0.0.13", NULL);
	struct service_obj *s = calloc(1, sizeof(*s));
	const struct service_obj *svc;
	struct k8s_object k = {.kind = OBJ_SERVICE};
	struct netpol *p = mk_pol("a", "pg", "app=pg", true, false);
	struct backends b = {0};
	struct endpoint cl, be;

	pod_port(d1, "sql", 5432, TCP);
	pod_port(d2, "sql", 6432, TCP); /* named targetPort differs per backend */
	pod_port(d3, "sql", 5432, UDP); /* wrong protocol: no backend */
	apply_pod(e, d1);
	apply_pod(e, d2);
	apply_pod(e, d3);
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
	rule_port(add_rule(p, DIR_INGRESS), TCP, 0, 0, "sql");
	apply_pol(e, p);
	ep(e, "a/web", &cl);
	ep(e, "a/db2", &be);
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
	struct engine *e = cluster();
	struct netpol *p1 = mk_pol("a", "b-second", "app=db", true, false);
	struct netpol *p2 = mk_pol("a", "a-first", "app=db", true, false);
	struct np_rule *r;
	struct endpoint s, d;
	struct explanation x;

	r = add_rule(p1, DIR_INGRESS);
	peer_sel(r, "app=web", NULL);
	r = add_rule(p2, DIR_INGRESS);
	peer_sel(r, "app=nobody", NULL);
	rule_port(r, TCP, 1, 0, NULL);
	r = add_rule(p2, DIR_INGRESS);
	peer_ipblock(r, "192.0.2.0/24", NULL, NULL);
	peer_sel(r, "app=web", NULL);
	rule_port(r, UDP, 53, 0, NULL);
	rule_port(r, TCP, 80, 90, NULL);
	apply_pol(e, p1);
	apply_pol(e, p2);

	ep(e, "a/web", &s);
	ep(e, "a/db", &d);
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

	ep(e, "a/other", &s);
	ck_assert(!engine_verdict(e, &s, &d, TCP, 80, &x));
	ck_assert(x.ingress.isolated && !x.ingress.allowed);
	ck_assert_uint_eq(x.ingress.n_isolating, 2);
	ck_assert_str_eq(x.ingress.isolating[0]->name, "a-first");
	ck_assert_str_eq(x.ingress.isolating[1]->name, "b-second");

	/* A bare IP source is not checked for egress. */
	ep(e, "192.0.2.5", &s);
	ck_assert(engine_verdict(e, &s, &d, UDP, 53, &x));
	ck_assert(!x.egress.checked);
	ck_assert_int_eq(x.ingress.by.peer, 0);
	ck_assert_int_eq(x.ingress.by.port, 0);
	engine_free(e);
}
END_TEST

START_TEST(test_changelog_pods)
{
	struct engine *e = cluster();
	struct netpol *p = mk_pol("a", "in", "app=db", true, false);
	struct log l;
	uint32_t id;
	struct pod_obj *o;

	peer_sel(add_rule(p, DIR_INGRESS), "app=web", NULL);
	apply_pol(e, p);
	drain(e, &l);
	id = rule_id(e, "a/db", DIR_INGRESS, 0);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_RULE_ADDED, id, NULL), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_ADDED, id, "a/web"), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_ADDED, ANY, NULL), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_POD_TARGET, ANY, "a/db"), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_POD_TARGET, ANY, NULL), 1);

	/* New member pod. */
	add_pod(e, "a", "web2", "app=web", "10.0.0.20", NULL);
	drain(e, &l);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_ADDED, id, "a/web2"), 1);
	ck_assert_int_eq(members(e, id), 2);

	/* Relabel out of the rule, then a new target by relabel. */
	add_pod(e, "a", "web2", "app=db", "10.0.0.20", NULL);
	drain(e, &l);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_REMOVED, id, "a/web2"), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_POD_TARGET, ANY, "a/web2"), 1);
	ck_assert_uint_eq(l.n, 2);

	/* IP change of a member: removed (old IP) then added (new IP); target too. */
	add_pod(e, "a", "web", "app=web", "10.0.0.99", "fd00::1");
	drain(e, &l);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_int_eq(l.v[0].kind, ENGINE_CHG_MEMBER_REMOVED);
	ck_assert_str_eq(l.v[0].ip, "10.0.0.1");
	ck_assert_int_eq(l.v[1].kind, ENGINE_CHG_MEMBER_ADDED);
	ck_assert_str_eq(l.v[1].ip, "10.0.0.99");
	ck_assert_int_eq(l.v[2].kind, ENGINE_CHG_POD_TARGET);

	/* Container port change of a member: the same. */
	o = mk_pod("a", "web", "app=web", "10.0.0.99", "fd00::1");
	pod_port(o, "http", 80, TCP);
	apply_pod(e, o);
	drain(e, &l);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_REMOVED, id, "a/web"), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_ADDED, id, "a/web"), 1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_POD_TARGET, ANY, "a/web"), 1);

	/* Node change of a target: POD_TARGET only. */
	o = mk_pod("a", "db", "app=db", "10.0.0.2", "fd00::2");
	free(o->node_name);
	o->node_name = strdup("node-b");
	apply_pod(e, o);
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
	ck_assert_int_eq(members(e, id), 0);
	ck_assert_int_eq(engine_delete(e, OBJ_POD, "a", "web"), -ENOENT);
	engine_free(e);
}
END_TEST

START_TEST(test_changelog_policies)
{
	struct engine *e = cluster();
	struct netpol *p = mk_pol("a", "in", "app=db", true, false);
	struct log l;
	uint32_t r0, r1, r1b;

	peer_sel(add_rule(p, DIR_INGRESS), "app=web", NULL);
	peer_sel(add_rule(p, DIR_INGRESS), "app=other", NULL);
	apply_pol(e, p);
	drain(e, &l);
	r0 = rule_id(e, "a/db", DIR_INGRESS, 0);
	r1 = rule_id(e, "a/db", DIR_INGRESS, 1);
	ck_assert_uint_ne(r0, r1);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_RULE_ADDED, ANY, NULL), 2);

	/* Identical re-apply: nothing. */
	p = mk_pol("a", "in", "app=db", true, false);
	peer_sel(add_rule(p, DIR_INGRESS), "app=web", NULL);
	peer_sel(add_rule(p, DIR_INGRESS), "app=other", NULL);
	apply_pol(e, p);
	drain(e, &l);
	ck_assert_uint_eq(l.n, 0);

	/* Change rule 1 only: rule 0 keeps its id, rule 1 gets a fresh one. */
	p = mk_pol("a", "in", "app=db", true, false);
	peer_sel(add_rule(p, DIR_INGRESS), "app=web", NULL);
	peer_sel(add_rule(p, DIR_INGRESS), NULL, "team=y");
	apply_pol(e, p);
	drain(e, &l);
	ck_assert_uint_eq(rule_id(e, "a/db", DIR_INGRESS, 0), r0);
	r1b = rule_id(e, "a/db", DIR_INGRESS, 1);
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
	add_ns(e, "b", "team=z");
	drain(e, &l);
	ck_assert_uint_eq(count(&l, ENGINE_CHG_MEMBER_REMOVED, r1b, NULL), 2);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_int_eq(members(e, r1b), 0);
	add_ns(e, "b", "team=z"); /* identical */
	drain(e, &l);
	ck_assert_uint_eq(l.n, 0);

	/* Policy selector change: db leaves, other becomes a target. */
	p = mk_pol("a", "in", "app=other", true, false);
	peer_sel(add_rule(p, DIR_INGRESS), "app=web", NULL);
	peer_sel(add_rule(p, DIR_INGRESS), NULL, "team=y");
	apply_pol(e, p);
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
	p = mk_pol("a", "in", "app=db", true, false);
	peer_sel(add_rule(p, DIR_INGRESS), "app=web", NULL);
	apply_pol(e, p);
	ck_assert_uint_gt(rule_id(e, "a/db", DIR_INGRESS, 0), r1b);
	engine_free(e);
}
END_TEST

START_TEST(test_identical_reapply)
{
	struct engine *e = cluster();
	struct log l;
	struct pod_obj *o = mk_pod("a", "web", "app=web", "10.0.0.1", "fd00::1");

	apply_pol(e, mk_pol("a", "deny", "", true, false));
	drain(e, &l);
	apply_pod(e, o);
	add_ns(e, "a", "team=x");
	apply_pol(e, mk_pol("a", "deny", "", true, false));
	drain(e, &l);
	ck_assert_uint_eq(l.n, 0);
	engine_free(e);
}
END_TEST

START_TEST(test_lookups)
{
	struct engine *e = cluster();
	struct pod_obj *dup = mk_pod("b", "zz-dup", "app=x", "10.0.0.1", NULL);
	struct pod_obj *dup2 = mk_pod("a", "aa-dup", "app=x", "10.0.0.1", NULL);
	struct engine_counts c;
	struct ip_addr ip;
	struct port_range pr[4];
	struct np_rule r = {0};

	dup->phase = POD_PHASE_PENDING;
	dup2->phase = POD_PHASE_PENDING;
	apply_pod(e, dup);
	apply_pod(e, dup2);
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
	rule_port(&r, TCP, 0, 0, "http");
	rule_port(&r, UDP, 100, 200, NULL);
	rule_port(&r, SCTP, 0, 0, NULL);
	ck_assert_int_eq(engine_resolve_ports(&r, NULL, pr, 4), 2);
	ck_assert_uint_eq(pr[0].proto, UDP);
	ck_assert_uint_eq(pr[0].lo, 100);
	ck_assert_uint_eq(pr[0].hi, 200);
	ck_assert_uint_eq(pr[1].hi, 65535);
	dup = mk_pod("a", "x", "", "10.9.9.9", NULL);
	pod_port(dup, "http", 8080, TCP);
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
	TCase *log = tcase_create("changelog");

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
	tcase_add_test(log, test_changelog_pods);
	tcase_add_test(log, test_changelog_policies);
	tcase_add_test(log, test_identical_reapply);
	suite_add_tcase(s, sem);
	suite_add_tcase(s, log);
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
