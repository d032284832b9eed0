/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Read-only lookups of the engine: objects by key and by address, stable
 * ordered iteration (namespace, then name) and counts.
 */
#include "engine_int.h"

const struct namespace_obj *engine_namespace(const struct engine *e, const char *name)
{
	const struct ns_ent *n = engine_hmap_get(&e->namespaces, engine_hash_str2(name, NULL), engine_ns_key_eq, name);

	return n ? n->obj : NULL;
}

const struct pod_obj *engine_pod(const struct engine *e, const char *ns, const char *name)
{
	struct nskey k = {ns, name};
	const struct pod_ent *p = engine_hmap_get(&e->pods, engine_hash_str2(ns, name), engine_pod_key_eq, &k);

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
	h = engine_hash_ip(ip);
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
	const struct pol_ent *p = engine_hmap_get(&e->pols, engine_hash_str2(ns, name), engine_pol_key_eq, &k);

	return p ? p->obj : NULL;
}

const struct service_obj *engine_service(const struct engine *e, const char *ns, const char *name)
{
	struct nskey k = {ns, name};

	return engine_hmap_get(&e->svcs, engine_hash_str2(ns, name), engine_svc_key_eq, &k);
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
