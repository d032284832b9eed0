/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hand-built clusters for the engine's unit tests (test_engine.c and
 * test_engine_changes.c): object builders that apply to an engine, endpoint
 * lookup by "ns/name", rule ids and members. Failures are Check assertions.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>

#include "engine_fixture.h"

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

void fx_add_ns(struct engine *e, const char *name, const char *labels)
{
	struct namespace_obj *o = calloc(1, sizeof(*o));
	struct k8s_object k = {.kind = OBJ_NAMESPACE};

	o->name = strdup(name);
	labels_set(&o->labels, "kubernetes.io/metadata.name", name);
	set_labels(&o->labels, labels);
	k.ns = o;
	ck_assert_int_eq(engine_apply(e, &k), 0);
}

struct pod_obj *fx_mk_pod(const char *ns, const char *name, const char *labels, const char *ip4,
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

void fx_pod_port(struct pod_obj *o, const char *name, uint16_t port, enum proto proto)
{
	o->ports = realloc(o->ports, (o->n_ports + 1) * sizeof(*o->ports));
	o->ports[o->n_ports++] =
		(struct container_port){.name = name ? strdup(name) : NULL, .port = port, .proto = proto};
}

void fx_apply_pod(struct engine *e, struct pod_obj *o)
{
	struct k8s_object k = {.kind = OBJ_POD, .pod = o};

	ck_assert_int_eq(engine_apply(e, &k), 0);
}

void fx_add_pod(struct engine *e, const char *ns, const char *name, const char *labels,
		    const char *ip4, const char *ip6)
{
	fx_apply_pod(e, fx_mk_pod(ns, name, labels, ip4, ip6));
}

struct netpol *fx_mk_pol(const char *ns, const char *name, const char *podsel, bool in, bool eg)
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

struct np_rule *fx_add_rule(struct netpol *p, enum direction d)
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
void fx_peer_sel(struct np_rule *r, const char *podsel, const char *nssel)
{
	struct np_peer *p = add_peer(r);

	p->kind = PEER_SELECTOR;
	p->has_pod_selector = podsel != NULL;
	p->has_ns_selector = nssel != NULL;
	set_labels(&p->pod_selector.match_labels, podsel);
	set_labels(&p->ns_selector.match_labels, nssel);
}

void fx_peer_ipblock(struct np_rule *r, const char *cidr, const char *ex1, const char *ex2)
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

void fx_rule_port(struct np_rule *r, enum proto proto, uint16_t port, uint16_t end,
		      const char *name)
{
	r->ports = realloc(r->ports, (r->n_ports + 1) * sizeof(*r->ports));
	r->ports[r->n_ports++] = (struct np_port){.proto = proto, .has_port = port || name,
						  .name = name ? strdup(name) : NULL, .port = port,
						  .end_port = end ? end : port};
}

void fx_apply_pol(struct engine *e, struct netpol *p)
{
	struct k8s_object k = {.kind = OBJ_NETWORK_POLICY, .pol = p};

	ck_assert_int_eq(engine_apply(e, &k), 0);
}

/* "ns/name" (a pod, IPv4), "ns/name@6" (IPv6), or an address. */
void fx_ep(struct engine *e, const char *spec, struct endpoint *ret)
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

uint32_t fx_rule_id(struct engine *e, const char *pod, enum direction d, size_t i)
{
	struct endpoint x;
	const struct compiled_rule *const *rv;

	fx_ep(e, pod, &x);
	ck_assert_uint_gt(engine_pod_rules(e, x.pod, d, &rv), i);
	return rv[i]->id;
}

static int count_cb(void *ud, const struct pod_obj *p)
{
	(*(int *)ud)++;
	return 0;
}

int fx_members(struct engine *e, uint32_t id)
{
	int n = 0;

	ck_assert_int_ge(engine_rule_members(e, id, count_cb, &n), 0);
	return n;
}

/* A small cluster: ns a (team=x), ns b (team=y), ns c has no Namespace object. */
struct engine *fx_cluster(void)
{
	struct engine *e = engine_new();

	ck_assert_ptr_nonnull(e);
	fx_add_ns(e, "a", "team=x");
	fx_add_ns(e, "b", "team=y");
	fx_add_pod(e, "a", "web", "app=web", "10.0.0.1", "fd00::1");
	fx_add_pod(e, "a", "db", "app=db", "10.0.0.2", "fd00::2");
	fx_add_pod(e, "a", "other", "app=other", "10.0.0.3", NULL);
	fx_add_pod(e, "b", "web", "app=web", "10.0.1.1", "fd00::1:1");
	fx_add_pod(e, "b", "client", "app=client", "10.0.1.2", NULL);
	fx_add_pod(e, "c", "web", "app=web", "10.0.2.1", NULL);
	engine_discard_changes(e);
	return e;
}
