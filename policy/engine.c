/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine's object store: namespaces, pods, policies and services in hash
 * tables keyed by namespace/name, pods with dense ids, the change log and
 * the lookups of engine.h. Index maintenance lives in engine_index.c, the
 * matcher in engine_match.c.
 */
#include <stdio.h>

#include "engine_int.h"

const char *direction_name(enum direction d)
{
	return d == DIR_INGRESS ? "ingress" : "egress";
}

static bool ns_eq(const void *val, const void *key)
{
	return strcmp(((const struct ns_ent *)val)->name, key) == 0;
}

struct nskey {
	const char *ns, *name;
};

static bool pod_key_eq(const void *val, const void *key)
{
	const struct pod_ent *p = val;
	const struct nskey *k = key;

	return strcmp(p->obj->name, k->name) == 0 && strcmp(p->obj->ns, k->ns) == 0;
}

static bool pol_key_eq(const void *val, const void *key)
{
	const struct pol_ent *p = val;
	const struct nskey *k = key;

	return strcmp(p->obj->name, k->name) == 0 && strcmp(p->obj->ns, k->ns) == 0;
}

static bool svc_key_eq(const void *val, const void *key)
{
	const struct service_obj *s = val;
	const struct nskey *k = key;

	return strcmp(s->name, k->name) == 0 && strcmp(s->ns, k->ns) == 0;
}

struct engine *engine_new(void)
{
	return calloc(1, sizeof(struct engine));
}

const struct ns_ent *engine_ns_find(const struct engine *e, const char *name)
{
	return hmap_get(&e->namespaces, hash_str2(name, NULL), ns_eq, name);
}

const struct labels *ns_ent_labels(const struct ns_ent *n)
{
	return n->obj ? &n->obj->labels : &n->synth;
}

struct ns_ent *engine_ns_get(struct engine *e, const char *name, bool create)
{
	uint64_t h = hash_str2(name, NULL);
	struct ns_ent *n = hmap_get(&e->namespaces, h, ns_eq, name);

	if (n || !create)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name || labels_set(&n->synth, "kubernetes.io/metadata.name", name) < 0 ||
	    hmap_put(&e->namespaces, h, n) < 0) {
		labels_clear(&n->synth);
		free(n->name);
		free(n);
		return NULL;
	}
	if (index_ns_init(e, n) < 0)
		return NULL; /* stays registered, with a partial index */
	return n;
}

int engine_record(struct engine *e, enum engine_change_kind k, uint32_t rule_id,
		  const struct pod_obj *pod)
{
	if (e->n_chg == e->cap_chg) {
		/* Grow by half: an initial sync logs millions of entries. */
		size_t ncap = e->cap_chg ? e->cap_chg + e->cap_chg / 2 : 64;
		struct engine_change *nv = realloc(e->chg, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		e->chg = nv;
		e->cap_chg = ncap;
	}
	e->chg[e->n_chg++] = (struct engine_change){.kind = k, .rule_id = rule_id, .pod = pod};
	return 0;
}

struct pod_ent *engine_pod_ent(const struct engine *e, const struct pod_obj *pod)
{
	return pmap_get(&e->pod_ptrs, pod);
}

struct pname {
	int32_t id;
	char s[];
};

static bool pname_eq(const void *val, const void *key)
{
	return strcmp(((const struct pname *)val)->s, key) == 0;
}

int32_t port_name_id(struct engine *e, const char *s)
{
	uint64_t h = hash_str2(s, NULL);
	struct pname *x = hmap_get(&e->port_names, h, pname_eq, s);
	size_t len;

	if (x)
		return x->id;
	len = strlen(s);
	x = malloc(sizeof(*x) + len + 1);
	if (!x)
		return -1;
	x->id = e->next_port_name++;
	memcpy(x->s, s, len + 1);
	if (hmap_put(&e->port_names, h, x) < 0) {
		free(x);
		return -1;
	}
	return x->id;
}

static void intern(struct hmap *pool, char **s)
{
	char *x;

	if (!*s)
		return;
	x = spool_get(pool, *s);
	if (x) { /* on ENOMEM the object keeps its own copy */
		free(*s);
		*s = x;
	}
}

static void pod_intern(struct engine *e, struct pod_obj *o)
{
	intern(&e->strings, &o->ns);
	intern(&e->strings, &o->node_name);
	for (size_t i = 0; i < o->labels.n; i++) {
		intern(&e->strings, &o->labels.v[i].key);
		intern(&e->strings, &o->labels.v[i].value);
	}
	for (size_t i = 0; i < o->n_ports; i++)
		intern(&e->strings, &o->ports[i].name);
}

/* Free a stored pod: pooled strings go back to the pool. */
static void pod_release(struct engine *e, struct pod_obj *o)
{
	if (!o)
		return;
	spool_release(&e->strings, TAKE_PTR(o->ns));
	spool_release(&e->strings, TAKE_PTR(o->node_name));
	for (size_t i = 0; i < o->labels.n; i++) {
		spool_release(&e->strings, TAKE_PTR(o->labels.v[i].key));
		spool_release(&e->strings, TAKE_PTR(o->labels.v[i].value));
	}
	for (size_t i = 0; i < o->n_ports; i++)
		spool_release(&e->strings, TAKE_PTR(o->ports[i].name));
	pod_obj_free(o);
}

/* The pod's named container ports, compiled for the matcher. */
static int pod_compile(struct engine *e, struct pod_ent *p)
{
	const struct pod_obj *o = p->obj;
	struct cport *v = NULL;
	uint32_t n = 0;

	for (size_t i = 0; i < o->n_ports; i++) {
		int32_t id;

		if (!o->ports[i].name)
			continue;
		if (!v) {
			v = calloc(o->n_ports, sizeof(*v));
			if (!v)
				return -ENOMEM;
		}
		id = port_name_id(e, o->ports[i].name);
		if (id < 0) {
			free(v);
			return -ENOMEM;
		}
		v[n++] = (struct cport){.name = id, .port = o->ports[i].port,
					.proto = (uint8_t)o->ports[i].proto};
	}
	free(p->cports);
	p->cports = v;
	p->n_cports = n;
	p->target = pod_is_target(o);
	return 0;
}

static bool ports_equal(const struct container_port *a, size_t na, const struct container_port *b,
			size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		if (a[i].port != b[i].port || a[i].proto != b[i].proto)
			return false;
		if (!a[i].name != !b[i].name || (a[i].name && strcmp(a[i].name, b[i].name) != 0))
			return false;
	}
	return true;
}

static bool ips_equal(const struct pod_obj *a, const struct pod_obj *b)
{
	if (a->n_ips != b->n_ips)
		return false;
	for (size_t i = 0; i < a->n_ips; i++)
		if (!ip_addr_equal(&a->ips[i], &b->ips[i]))
			return false;
	return true;
}

static bool str_eq_null(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool pod_equal(const struct pod_obj *a, const struct pod_obj *b)
{
	return str_eq_null(a->uid, b->uid) && str_eq_null(a->node_name, b->node_name) &&
	       a->host_network == b->host_network && a->phase == b->phase && ips_equal(a, b) &&
	       ports_equal(a->ports, a->n_ports, b->ports, b->n_ports) &&
	       labels_equal(&a->labels, &b->labels);
}

static bool peer_equal(const struct np_peer *a, const struct np_peer *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == PEER_IPBLOCK) {
		if (a->n_except != b->n_except || memcmp(&a->cidr, &b->cidr, sizeof(a->cidr)) != 0)
			return false;
		for (size_t i = 0; i < a->n_except; i++)
			if (memcmp(&a->except[i], &b->except[i], sizeof(a->except[i])) != 0)
				return false;
		return true;
	}
	return a->has_pod_selector == b->has_pod_selector &&
	       a->has_ns_selector == b->has_ns_selector &&
	       (!a->has_pod_selector || selector_equal(&a->pod_selector, &b->pod_selector)) &&
	       (!a->has_ns_selector || selector_equal(&a->ns_selector, &b->ns_selector));
}

bool engine_rule_equal(const struct np_rule *a, const struct np_rule *b)
{
	if (a->n_peers != b->n_peers || a->n_ports != b->n_ports)
		return false;
	for (size_t i = 0; i < a->n_peers; i++)
		if (!peer_equal(&a->peers[i], &b->peers[i]))
			return false;
	for (size_t i = 0; i < a->n_ports; i++) {
		const struct np_port *x = &a->ports[i], *y = &b->ports[i];

		if (x->proto != y->proto || x->has_port != y->has_port || x->port != y->port ||
		    x->end_port != y->end_port || !str_eq_null(x->name, y->name))
			return false;
	}
	return true;
}

static bool rules_equal(const struct np_rule *a, size_t na, const struct np_rule *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!engine_rule_equal(&a[i], &b[i]))
			return false;
	return true;
}

bool engine_rules_same(const struct netpol *a, const struct netpol *b)
{
	return rules_equal(a->ingress, a->n_ingress, b->ingress, b->n_ingress) &&
	       rules_equal(a->egress, a->n_egress, b->egress, b->n_egress);
}

static bool netpol_equal(const struct netpol *a, const struct netpol *b)
{
	return str_eq_null(a->uid, b->uid) && a->generation == b->generation &&
	       a->mode == b->mode && a->type_ingress == b->type_ingress &&
	       a->type_egress == b->type_egress && selector_equal(&a->pod_selector, &b->pod_selector) &&
	       rules_equal(a->ingress, a->n_ingress, b->ingress, b->n_ingress) &&
	       rules_equal(a->egress, a->n_egress, b->egress, b->n_egress);
}

static void ip_index(struct engine *e, struct pod_ent *p, bool add)
{
	const struct pod_obj *o = p->obj;

	if (!pod_is_peer(o))
		return;
	for (size_t i = 0; i < o->n_ips; i++) {
		uint64_t h = hash_ip(&o->ips[i]);

		if (add)
			(void)hmap_put(&e->pod_ips, h, p); /* best effort: lookup only */
		else
			hmap_del(&e->pod_ips, h, p);
	}
}

static int alloc_pod_id(struct engine *e, uint32_t *ret)
{
	if (e->n_free) {
		*ret = e->free_v[--e->n_free];
		return 0;
	}
	if (e->n_pod_v == e->cap_pod_v) {
		uint32_t ncap = e->cap_pod_v ? e->cap_pod_v * 2 : 64;
		struct pod_ent **nv = realloc(e->pod_v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		e->pod_v = nv;
		e->cap_pod_v = ncap;
	}
	e->pod_v[e->n_pod_v] = NULL;
	*ret = e->n_pod_v++;
	return 0;
}

static int free_pod_id(struct engine *e, uint32_t id)
{
	e->pod_v[id] = NULL;
	if (e->n_free == e->cap_free) {
		uint32_t ncap = e->cap_free ? e->cap_free * 2 : 64;
		uint32_t *nv = realloc(e->free_v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM; /* the id leaks; harmless */
		e->free_v = nv;
		e->cap_free = ncap;
	}
	e->free_v[e->n_free++] = id;
	return 0;
}

static void bury(struct engine *e, struct pod_obj *o)
{
	/* Changes may point at o until the next drain. */
	if (pvec_push(&e->graveyard, o) < 0) {
		/* Cannot keep it: drop the pointers that would dangle. */
		for (size_t i = 0; i < e->n_chg; i++)
			if (e->chg[i].pod == o)
				e->chg[i].pod = NULL;
		pod_release(e, o);
	}
}

static int apply_pod(struct engine *e, struct pod_obj *obj)
{
	struct nskey k = {obj->ns, obj->name};
	uint64_t h = hash_str2(obj->ns, obj->name);
	struct pod_ent *p = hmap_get(&e->pods, h, pod_key_eq, &k);
	struct pod_obj *old = NULL;
	bool relabel, force;
	struct ns_ent *n;
	int r;

	if (p && pod_equal(p->obj, obj)) {
		pod_obj_free(obj);
		return 0;
	}
	pod_intern(e, obj);
	n = engine_ns_get(e, obj->ns, true);
	if (!n) {
		pod_release(e, obj);
		return -ENOMEM;
	}
	if (!p) {
		uint32_t id;

		p = calloc(1, sizeof(*p));
		if (!p || alloc_pod_id(e, &id) < 0) {
			free(p);
			pod_release(e, obj);
			return -ENOMEM;
		}
		p->id = id;
		p->ns = n;
		p->obj = obj;
		if (hmap_put(&e->pods, h, p) < 0 || u32set_add(&n->pods, id) < 0) {
			hmap_del(&e->pods, h, p);
			free_pod_id(e, id);
			free(p);
			pod_release(e, obj);
			return -ENOMEM;
		}
		e->pod_v[id] = p;
		e->n_pods++;
	} else {
		old = p->obj;
		pmap_del(&e->pod_ptrs, old);
		ip_index(e, p, false);
		p->obj = obj;
		bury(e, old);
	}
	r = pmap_put(&e->pod_ptrs, obj, p);
	if (r < 0)
		return r;
	r = pod_compile(e, p);
	if (r < 0)
		return r;
	ip_index(e, p, true);

	relabel = !old || !labels_equal(&old->labels, &obj->labels) ||
		  pod_is_peer(old) != pod_is_peer(obj);
	r = index_pod_members(e, p, old, relabel,
			      old && (!ips_equal(old, obj) || !ports_equal(old->ports, old->n_ports,
									   obj->ports, obj->n_ports)));
	if (r < 0)
		return r;
	force = (pod_is_target(obj) || (old && pod_is_target(old))) &&
		(!old || !ips_equal(old, obj) ||
		 !ports_equal(old->ports, old->n_ports, obj->ports, obj->n_ports) ||
		 !str_eq_null(old->node_name, obj->node_name));
	return index_pod_targets(e, p,
				 !old || relabel || old->host_network != obj->host_network, force);
}

static void pod_ent_free(struct pod_ent *p)
{
	pvec_clear(&p->sel);
	pvec_clear(&p->member_of);
	free(p->tcache);
	free(p->cports);
	free(p);
}

static int delete_pod(struct engine *e, const char *ns, const char *name)
{
	struct nskey k = {ns, name};
	uint64_t h = hash_str2(ns, name);
	struct pod_ent *p = hmap_get(&e->pods, h, pod_key_eq, &k);
	int r;

	if (!p)
		return -ENOENT;
	r = index_pod_leave(e, p);
	hmap_del(&e->pods, h, p);
	pmap_del(&e->pod_ptrs, p->obj);
	ip_index(e, p, false);
	u32set_del(&p->ns->pods, p->id);
	free_pod_id(e, p->id);
	e->n_pods--;
	bury(e, p->obj);
	pod_ent_free(p);
	return r;
}

static int apply_policy(struct engine *e, struct netpol *obj)
{
	struct nskey k = {obj->ns, obj->name};
	uint64_t h = hash_str2(obj->ns, obj->name);
	struct pol_ent *pe = hmap_get(&e->pols, h, pol_key_eq, &k);
	struct netpol *old;
	int r;

	if (pe && netpol_equal(pe->obj, obj)) {
		netpol_free(obj);
		return 0;
	}
	if (!pe) {
		struct ns_ent *n = engine_ns_get(e, obj->ns, true);

		pe = n ? calloc(1, sizeof(*pe)) : NULL;
		if (!pe) {
			netpol_free(obj);
			return -ENOMEM;
		}
		pe->ns = n;
		pe->obj = obj;
		if (hmap_put(&e->pols, h, pe) < 0) {
			free(pe);
			netpol_free(obj);
			return -ENOMEM;
		}
		if (pvec_push(&n->pols, pe) < 0) {
			hmap_del(&e->pols, h, pe);
			free(pe);
			netpol_free(obj);
			return -ENOMEM;
		}
		old = NULL;
	} else {
		old = pe->obj;
		pe->obj = obj;
	}
	r = index_policy_set(e, pe, old);
	netpol_free(old);
	return r;
}

static int delete_policy(struct engine *e, const char *ns, const char *name)
{
	struct nskey k = {ns, name};
	uint64_t h = hash_str2(ns, name);
	struct pol_ent *pe = hmap_get(&e->pols, h, pol_key_eq, &k);
	int r;

	if (!pe)
		return -ENOENT;
	hmap_del(&e->pols, h, pe);
	pvec_remove(&pe->ns->pols, pe);
	r = index_policy_remove(e, pe);
	netpol_free(pe->obj);
	free(pe);
	return r;
}

static int apply_namespace(struct engine *e, struct namespace_obj *obj)
{
	struct ns_ent *n = engine_ns_get(e, obj->name, true);
	bool same;

	if (!n) {
		namespace_obj_free(obj);
		return -ENOMEM;
	}
	same = labels_equal(ns_ent_labels(n), &obj->labels);
	namespace_obj_free(n->obj);
	n->obj = obj;
	return same ? 0 : index_ns_relabel(e, n);
}

static int delete_namespace(struct engine *e, const char *name)
{
	struct ns_ent *n = engine_ns_get(e, name, false);
	bool same;

	if (!n || !n->obj)
		return -ENOENT;
	same = labels_equal(&n->obj->labels, &n->synth);
	namespace_obj_free(n->obj);
	n->obj = NULL;
	return same ? 0 : index_ns_relabel(e, n);
}

static int apply_service(struct engine *e, struct service_obj *obj)
{
	struct nskey k = {obj->ns, obj->name};
	uint64_t h = hash_str2(obj->ns, obj->name);
	struct service_obj *s = hmap_get(&e->svcs, h, svc_key_eq, &k);

	if (s) {
		hmap_del(&e->svcs, h, s);
		service_obj_free(s);
	}
	if (hmap_put(&e->svcs, h, obj) < 0) {
		service_obj_free(obj);
		return -ENOMEM;
	}
	return 0;
}

int engine_apply(struct engine *e, struct k8s_object *obj)
{
	int r = -EINVAL;

	switch (obj->kind) {
	case OBJ_NAMESPACE:
		r = apply_namespace(e, obj->ns);
		break;
	case OBJ_POD:
		r = apply_pod(e, obj->pod);
		break;
	case OBJ_NETWORK_POLICY:
		r = apply_policy(e, obj->pol);
		break;
	case OBJ_SERVICE:
		r = apply_service(e, obj->svc);
		break;
	}
	obj->pod = NULL;
	return r;
}

int engine_delete(struct engine *e, enum obj_kind kind, const char *ns, const char *name)
{
	switch (kind) {
	case OBJ_NAMESPACE:
		return delete_namespace(e, name);
	case OBJ_POD:
		return delete_pod(e, ns, name);
	case OBJ_NETWORK_POLICY:
		return delete_policy(e, ns, name);
	case OBJ_SERVICE: {
		struct nskey k = {ns, name};
		uint64_t h = hash_str2(ns, name);
		struct service_obj *s = hmap_get(&e->svcs, h, svc_key_eq, &k);

		if (!s)
			return -ENOENT;
		hmap_del(&e->svcs, h, s);
		service_obj_free(s);
		return 0;
	}
	}
	return -EINVAL;
}

static void free_graveyard(struct engine *e)
{
	for (size_t i = 0; i < e->graveyard.n; i++)
		pod_release(e, e->graveyard.v[i]);
	e->graveyard.n = 0;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->pols.cap; i++) {
		struct pol_ent *pe = e->pols.v[i];

		if (!pe)
			continue;
		for (int d = 0; d < 2; d++) {
			for (size_t j = 0; j < pe->rules[d].n; j++)
				index_rule_free(pe->rules[d].v[j]);
			pvec_clear(&pe->rules[d]);
		}
		netpol_free(pe->obj);
		free(pe);
	}
	for (uint32_t i = 0; i < e->n_pod_v; i++)
		if (e->pod_v[i]) {
			pod_release(e, e->pod_v[i]->obj);
			pod_ent_free(e->pod_v[i]);
		}
	for (size_t i = 0; i < e->namespaces.cap; i++) {
		struct ns_ent *n = e->namespaces.v[i];

		if (!n)
			continue;
		namespace_obj_free(n->obj);
		labels_clear(&n->synth);
		free(n->name);
		u32set_clear(&n->pods);
		pvec_clear(&n->pols);
		pvec_clear(&n->localatoms);
		pvec_clear(&n->nsatoms);
		free(n);
	}
	for (size_t i = 0; i < e->svcs.cap; i++)
		service_obj_free(e->svcs.v[i]);
	free_graveyard(e);
	pvec_clear(&e->graveyard);
	hmap_clear(&e->namespaces);
	hmap_clear(&e->pods);
	pmap_clear(&e->pod_ptrs);
	for (size_t i = 0; i < e->strings.cap; i++)
		free(e->strings.v[i]); /* none left unless a pod was leaked */
	hmap_clear(&e->strings);
	for (size_t i = 0; i < e->port_names.cap; i++)
		free(e->port_names.v[i]);
	hmap_clear(&e->port_names);
	hmap_clear(&e->pod_ips);
	hmap_clear(&e->pols);
	hmap_clear(&e->svcs);
	hmap_clear(&e->rules);
	index_free(e);
	free(e->pod_v);
	free(e->free_v);
	free(e->chg);
	free(e);
}

const struct namespace_obj *engine_namespace(const struct engine *e, const char *name)
{
	const struct ns_ent *n = hmap_get(&e->namespaces, hash_str2(name, NULL), ns_eq, name);

	return n ? n->obj : NULL;
}

const struct pod_obj *engine_pod(const struct engine *e, const char *ns, const char *name)
{
	struct nskey k = {ns, name};
	const struct pod_ent *p = hmap_get(&e->pods, hash_str2(ns, name), pod_key_eq, &k);

	return p ? p->obj : NULL;
}

/* On an address collision: Running first, then the lowest namespace/name. */
static bool better_ip_owner(const struct pod_obj *a, const struct pod_obj *b)
{
	bool ra = a->phase == POD_PHASE_RUNNING, rb = b->phase == POD_PHASE_RUNNING;
	int c;

	if (ra != rb)
		return ra;
	c = strcmp(a->ns, b->ns);
	return c < 0 || (c == 0 && strcmp(a->name, b->name) < 0);
}

const struct pod_obj *engine_pod_by_ip(const struct engine *e, const struct ip_addr *ip)
{
	const struct hmap *m = &e->pod_ips;
	const struct pod_obj *best = NULL;
	uint64_t h;
	size_t i, mask;

	if (!m->n)
		return NULL;
	h = hash_ip(ip);
	mask = m->cap - 1;
	/* Walk the whole probe run: several pods may claim one address. */
	for (i = (size_t)((h * 0x9E3779B97F4A7C15ULL) >> 17) & mask; m->v[i]; i = (i + 1) & mask) {
		const struct pod_obj *o = ((const struct pod_ent *)m->v[i])->obj;
		const struct ip_addr *pip;

		if (m->h[i] != h)
			continue;
		pip = pod_ip(o, ip->family);
		if (!pip || !ip_addr_equal(pip, ip))
			continue;
		if (!best || better_ip_owner(o, best))
			best = o;
	}
	return best;
}

const struct netpol *engine_policy(const struct engine *e, const char *ns, const char *name)
{
	struct nskey k = {ns, name};
	const struct pol_ent *p = hmap_get(&e->pols, hash_str2(ns, name), pol_key_eq, &k);

	return p ? p->obj : NULL;
}

const struct service_obj *engine_service(const struct engine *e, const char *ns, const char *name)
{
	struct nskey k = {ns, name};

	return hmap_get(&e->svcs, hash_str2(ns, name), svc_key_eq, &k);
}

static int cmp_nsname(const char *ans, const char *an, const char *bns, const char *bn)
{
	int c = strcmp(ans, bns);

	return c ? c : strcmp(an, bn);
}

static int cmp_pod(const void *a, const void *b)
{
	const struct pod_obj *x = *(const struct pod_obj *const *)a;
	const struct pod_obj *y = *(const struct pod_obj *const *)b;

	return cmp_nsname(x->ns, x->name, y->ns, y->name);
}

static int cmp_pol(const void *a, const void *b)
{
	const struct netpol *x = *(const struct netpol *const *)a;
	const struct netpol *y = *(const struct netpol *const *)b;

	return cmp_nsname(x->ns, x->name, y->ns, y->name);
}

static int cmp_ns(const void *a, const void *b)
{
	const struct namespace_obj *x = *(const struct namespace_obj *const *)a;
	const struct namespace_obj *y = *(const struct namespace_obj *const *)b;

	return strcmp(x->name, y->name);
}

/* Snapshot the objects of one table, sorted, then visit them. */
static int foreach_sorted(const struct hmap *m, const void *(*obj_of)(const void *val),
			  int (*cmp)(const void *, const void *), int (*cb)(void *ud, const void *o),
			  void *ud)
{
	_cleanup_free_ const void **v = calloc(m->n ? m->n : 1, sizeof(*v));
	size_t n = 0;
	int r = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		const void *o = m->v[i] ? obj_of(m->v[i]) : NULL;

		if (o)
			v[n++] = o;
	}
	qsort(v, n, sizeof(*v), cmp);
	for (size_t i = 0; i < n; i++) {
		r = cb(ud, v[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

struct tramp {
	void *ud;
	union {
		int (*pod)(void *ud, const struct pod_obj *p);
		int (*pol)(void *ud, const struct netpol *p);
		int (*ns)(void *ud, const struct namespace_obj *n);
	};
};

static int tramp_pod(void *ud, const void *o)
{
	const struct tramp *t = ud;

	return t->pod(t->ud, o);
}

static int tramp_pol(void *ud, const void *o)
{
	const struct tramp *t = ud;

	return t->pol(t->ud, o);
}

static int tramp_ns(void *ud, const void *o)
{
	const struct tramp *t = ud;

	return t->ns(t->ud, o);
}

static const void *pod_of(const void *val)
{
	return ((const struct pod_ent *)val)->obj;
}

static const void *pol_of(const void *val)
{
	return ((const struct pol_ent *)val)->obj;
}

static const void *ns_of(const void *val)
{
	return ((const struct ns_ent *)val)->obj;
}

int engine_foreach_pod(const struct engine *e, int (*cb)(void *ud, const struct pod_obj *p), void *ud)
{
	struct tramp t = {.ud = ud, .pod = cb};

	return foreach_sorted(&e->pods, pod_of, cmp_pod, tramp_pod, &t);
}

int engine_foreach_policy(const struct engine *e, int (*cb)(void *ud, const struct netpol *p), void *ud)
{
	struct tramp t = {.ud = ud, .pol = cb};

	return foreach_sorted(&e->pols, pol_of, cmp_pol, tramp_pol, &t);
}

int engine_foreach_namespace(const struct engine *e,
			     int (*cb)(void *ud, const struct namespace_obj *n), void *ud)
{
	struct tramp t = {.ud = ud, .ns = cb};

	return foreach_sorted(&e->namespaces, ns_of, cmp_ns, tramp_ns, &t);
}

void engine_counts(const struct engine *e, struct engine_counts *ret)
{
	size_t nss = 0;

	for (size_t i = 0; i < e->namespaces.cap; i++)
		if (e->namespaces.v[i] && ((struct ns_ent *)e->namespaces.v[i])->obj)
			nss++;
	*ret = (struct engine_counts){
		.namespaces = nss,
		.pods = e->n_pods,
		.policies = e->pols.n,
		.services = e->svcs.n,
		.rules = e->rules.n,
	};
}

size_t engine_drain_changes(struct engine *e, void (*cb)(void *ud, const struct engine_change *c),
			    void *ud)
{
	size_t n = e->n_chg;

	for (size_t i = 0; i < n; i++)
		cb(ud, &e->chg[i]);
	engine_discard_changes(e);
	return n;
}

void engine_discard_changes(struct engine *e)
{
	e->n_chg = 0;
	if (e->cap_chg > 65536) {
		/* Give back the initial sync's log. */
		free(e->chg);
		e->chg = NULL;
		e->cap_chg = 0;
	}
	free_graveyard(e);
}
