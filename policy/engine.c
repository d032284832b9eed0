/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine's object store: namespaces, pods, policies and services in hash
 * tables keyed by namespace/name, pods with dense ids, and the change log.
 * Interning lives in engine_pool.c, lookups in engine_query.c, index
 * maintenance in engine_index.c, the matcher in engine_match.c.
 */
#include "engine_int.h"

const char *direction_name(enum direction d)
{
	return d == DIR_INGRESS ? "ingress" : "egress";
}

bool engine_ns_key_eq(const void *val, const void *key)
{
	return strcmp(((const struct ns_ent *)val)->name, key) == 0;
}

bool engine_pod_key_eq(const void *val, const void *key)
{
	const struct pod_ent *p = val;
	const struct nskey *k = key;

	return strcmp(p->obj->name, k->name) == 0 && strcmp(p->obj->ns, k->ns) == 0;
}

bool engine_pol_key_eq(const void *val, const void *key)
{
	const struct pol_ent *p = val;
	const struct nskey *k = key;

	return strcmp(p->obj->name, k->name) == 0 && strcmp(p->obj->ns, k->ns) == 0;
}

bool engine_svc_key_eq(const void *val, const void *key)
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
	return engine_hmap_get(&e->namespaces, engine_hash_str2(name, NULL), engine_ns_key_eq, name);
}

const struct labels *engine_ns_labels(const struct ns_ent *n)
{
	return n->obj ? &n->obj->labels : &n->synth;
}

struct ns_ent *engine_ns_get(struct engine *e, const char *name, bool create)
{
	uint64_t h = engine_hash_str2(name, NULL);
	struct ns_ent *n = engine_hmap_get(&e->namespaces, h, engine_ns_key_eq, name);

	if (n || !create)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name || labels_set(&n->synth, "kubernetes.io/metadata.name", name) < 0 ||
	    engine_hmap_put(&e->namespaces, h, n) < 0) {
		labels_clear(&n->synth);
		free(n->name);
		free(n);
		return NULL;
	}
	if (engine_index_ns_init(e, n) < 0)
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
	uint32_t id = engine_pod_id(e, pod);

	return id == UINT32_MAX ? NULL : e->pod_v[id];
}

void engine_pod_hot_sync(struct engine *e, const struct pod_ent *p)
{
	uint8_t flags = p->peer ? HOT_PEER : 0;

	for (int d = 0; d < 2; d++)
		if (p->target && p->isolated[d])
			flags |= (uint8_t)(HOT_ENFORCED << d);
	e->hot[p->id].tb = p->tcache;
	e->hot[p->id].ns = p->ns;
	e->hot[p->id].flags = flags;
}

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
		id = engine_port_name_id(e, o->ports[i].name);
		if (id < 0) {
			free(v);
			return -ENOMEM;
		}
		v[n++] = (struct cport){.name = id, .port = o->ports[i].port,
					.proto = (uint8_t)o->ports[i].proto};
	}
	free(e->hot[p->id].cports);
	e->hot[p->id].cports = v;
	e->hot[p->id].n_cports = n;
	p->target = pod_is_target(o);
	p->peer = pod_is_peer(o);
	engine_pod_hot_sync(e, p);
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
		uint64_t h = engine_hash_ip(&o->ips[i]);

		if (add)
			(void)engine_hmap_put(&e->pod_ips, h, p); /* best effort: lookup only */
		else
			engine_hmap_del(&e->pod_ips, h, p);
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
		struct pod_hot *nh;

		if (!nv)
			return -ENOMEM;
		e->pod_v = nv;
		nh = realloc(e->hot, ncap * sizeof(*nh));
		if (!nh)
			return -ENOMEM; /* pod_v keeps its larger size; cap_pod_v still matches hot */
		e->hot = nh;
		e->cap_pod_v = ncap;
	}
	e->pod_v[e->n_pod_v] = NULL;
	e->hot[e->n_pod_v] = (struct pod_hot){0};
	*ret = e->n_pod_v++;
	return 0;
}

static int free_pod_id(struct engine *e, uint32_t id)
{
	e->pod_v[id] = NULL;
	e->hot[id] = (struct pod_hot){0};
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
	if (engine_pvec_push(&e->graveyard, o) < 0) {
		/* Cannot keep it: drop the pointers that would dangle. */
		for (size_t i = 0; i < e->n_chg; i++)
			if (e->chg[i].pod == o)
				e->chg[i].pod = NULL;
		engine_pod_release(e, o);
	}
}

static int apply_pod(struct engine *e, struct pod_obj *obj)
{
	struct nskey k = {obj->ns, obj->name};
	uint64_t h = engine_hash_str2(obj->ns, obj->name);
	struct pod_ent *p = engine_hmap_get(&e->pods, h, engine_pod_key_eq, &k);
	struct pod_obj *old = NULL;
	bool relabel, force;
	struct ns_ent *n;
	int r;

	if (p && pod_equal(p->obj, obj)) {
		pod_obj_free(obj);
		return 0;
	}
	engine_pod_intern(e, obj);
	n = engine_ns_get(e, obj->ns, true);
	if (!n) {
		engine_pod_release(e, obj);
		return -ENOMEM;
	}
	if (!p) {
		uint32_t id;

		p = calloc(1, sizeof(*p));
		if (!p || alloc_pod_id(e, &id) < 0) {
			free(p);
			engine_pod_release(e, obj);
			return -ENOMEM;
		}
		p->id = id;
		p->ns = n;
		p->obj = obj;
		if (engine_hmap_put(&e->pods, h, p) < 0 || engine_u32set_add(&n->pods, id) < 0) {
			engine_hmap_del(&e->pods, h, p);
			free_pod_id(e, id);
			free(p);
			engine_pod_release(e, obj);
			return -ENOMEM;
		}
		e->pod_v[id] = p;
		e->n_pods++;
	} else {
		old = p->obj;
		engine_pmap_del(&e->pod_ptrs, old);
		ip_index(e, p, false);
		p->obj = obj;
		bury(e, old);
	}
	r = engine_pmap_put(&e->pod_ptrs, obj, (void *)((uintptr_t)p->id + 1));
	if (r < 0)
		return r;
	r = pod_compile(e, p);
	if (r < 0)
		return r;
	ip_index(e, p, true);

	relabel = !old || !labels_equal(&old->labels, &obj->labels) ||
		  pod_is_peer(old) != pod_is_peer(obj);
	r = engine_index_pod_members(e, p, old, relabel,
			      old && (!ips_equal(old, obj) || !ports_equal(old->ports, old->n_ports,
									   obj->ports, obj->n_ports)));
	if (r < 0)
		return r;
	force = (pod_is_target(obj) || (old && pod_is_target(old))) &&
		(!old || !ips_equal(old, obj) ||
		 !ports_equal(old->ports, old->n_ports, obj->ports, obj->n_ports) ||
		 !str_eq_null(old->node_name, obj->node_name));
	return engine_index_pod_targets(e, p,
				 !old || relabel || old->host_network != obj->host_network, force);
}

static void pod_ent_free(struct engine *e, struct pod_ent *p)
{
	engine_pvec_clear(&p->sel);
	engine_pvec_clear(&p->member_of);
	engine_tblock_release(e, p->tcache);
	free(e->hot[p->id].cports);
	e->hot[p->id] = (struct pod_hot){0};
	free(p);
}

static int delete_pod(struct engine *e, const char *ns, const char *name)
{
	struct nskey k = {ns, name};
	uint64_t h = engine_hash_str2(ns, name);
	struct pod_ent *p = engine_hmap_get(&e->pods, h, engine_pod_key_eq, &k);
	uint32_t id;
	int r;

	if (!p)
		return -ENOENT;
	id = p->id;
	r = engine_index_pod_leave(e, p);
	engine_hmap_del(&e->pods, h, p);
	engine_pmap_del(&e->pod_ptrs, p->obj);
	ip_index(e, p, false);
	engine_u32set_del(&p->ns->pods, id);
	e->n_pods--;
	bury(e, p->obj);
	pod_ent_free(e, p);
	free_pod_id(e, id);
	return r;
}

static int apply_policy(struct engine *e, struct netpol *obj)
{
	struct nskey k = {obj->ns, obj->name};
	uint64_t h = engine_hash_str2(obj->ns, obj->name);
	struct pol_ent *pe = engine_hmap_get(&e->pols, h, engine_pol_key_eq, &k);
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
		if (engine_hmap_put(&e->pols, h, pe) < 0) {
			free(pe);
			netpol_free(obj);
			return -ENOMEM;
		}
		if (engine_pvec_push(&n->pols, pe) < 0) {
			engine_hmap_del(&e->pols, h, pe);
			free(pe);
			netpol_free(obj);
			return -ENOMEM;
		}
		old = NULL;
	} else {
		old = pe->obj;
		pe->obj = obj;
	}
	r = engine_index_policy_set(e, pe, old);
	netpol_free(old);
	return r;
}

static int delete_policy(struct engine *e, const char *ns, const char *name)
{
	struct nskey k = {ns, name};
	uint64_t h = engine_hash_str2(ns, name);
	struct pol_ent *pe = engine_hmap_get(&e->pols, h, engine_pol_key_eq, &k);
	int r;

	if (!pe)
		return -ENOENT;
	engine_hmap_del(&e->pols, h, pe);
	engine_pvec_remove(&pe->ns->pols, pe);
	r = engine_index_policy_remove(e, pe);
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
	same = labels_equal(engine_ns_labels(n), &obj->labels);
	namespace_obj_free(n->obj);
	n->obj = obj;
	return same ? 0 : engine_index_ns_relabel(e, n);
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
	return same ? 0 : engine_index_ns_relabel(e, n);
}

static int apply_service(struct engine *e, struct service_obj *obj)
{
	struct nskey k = {obj->ns, obj->name};
	uint64_t h = engine_hash_str2(obj->ns, obj->name);
	struct service_obj *s = engine_hmap_get(&e->svcs, h, engine_svc_key_eq, &k);

	if (s) {
		engine_hmap_del(&e->svcs, h, s);
		service_obj_free(s);
	}
	if (engine_hmap_put(&e->svcs, h, obj) < 0) {
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
		uint64_t h = engine_hash_str2(ns, name);
		struct service_obj *s = engine_hmap_get(&e->svcs, h, engine_svc_key_eq, &k);

		if (!s)
			return -ENOENT;
		engine_hmap_del(&e->svcs, h, s);
		service_obj_free(s);
		return 0;
	}
	}
	return -EINVAL;
}

static void free_graveyard(struct engine *e)
{
	for (size_t i = 0; i < e->graveyard.n; i++)
		engine_pod_release(e, e->graveyard.v[i]);
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
				engine_index_rule_free(pe->rules[d].v[j]);
			engine_pvec_clear(&pe->rules[d]);
		}
		netpol_free(pe->obj);
		free(pe);
	}
	for (uint32_t i = 0; i < e->n_pod_v; i++)
		if (e->pod_v[i]) {
			engine_pod_release(e, e->pod_v[i]->obj);
			pod_ent_free(e, e->pod_v[i]);
		}
	for (size_t i = 0; i < e->namespaces.cap; i++) {
		struct ns_ent *n = e->namespaces.v[i];

		if (!n)
			continue;
		namespace_obj_free(n->obj);
		labels_clear(&n->synth);
		free(n->name);
		engine_u32set_clear(&n->pods);
		engine_pvec_clear(&n->pols);
		engine_pvec_clear(&n->localatoms);
		engine_pvec_clear(&n->nsatoms);
		free(n);
	}
	for (size_t i = 0; i < e->svcs.cap; i++)
		service_obj_free(e->svcs.v[i]);
	free_graveyard(e);
	engine_pvec_clear(&e->graveyard);
	engine_hmap_clear(&e->namespaces);
	engine_hmap_clear(&e->pods);
	engine_pmap_clear(&e->pod_ptrs);
	for (size_t i = 0; i < e->strings.cap; i++)
		free(e->strings.v[i]); /* none left unless a pod was leaked */
	engine_hmap_clear(&e->strings);
	engine_hmap_clear(&e->label_sets);
	engine_hmap_clear(&e->port_sets);
	for (size_t i = 0; i < e->port_names.cap; i++)
		free(e->port_names.v[i]);
	engine_hmap_clear(&e->port_names);
	engine_hmap_clear(&e->pod_ips);
	engine_hmap_clear(&e->pols);
	engine_hmap_clear(&e->svcs);
	engine_hmap_clear(&e->rules);
	engine_hmap_clear(&e->tblocks);
	engine_index_free(e);
	free(e->pod_v);
	free(e->hot);
	free(e->free_v);
	free(e->chg);
	free(e);
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
