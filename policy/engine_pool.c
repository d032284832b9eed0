/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Interning for stored pods: label keys and values, namespace, node and port
 * names go to a refcounted string pool, and whole label maps and port lists
 * are shared between the pods of one workload. This keeps 100k pods well
 * under 100 MB. Port names also get small integer ids for the matcher.
 */
#include "engine_int.h"

struct pname {
	int32_t id;
	char s[];
};

static bool pname_eq(const void *val, const void *key)
{
	return strcmp(((const struct pname *)val)->s, key) == 0;
}

int32_t engine_port_name_id(struct engine *e, const char *s)
{
	uint64_t h = engine_hash_str2(s, NULL);
	struct pname *x = engine_hmap_get(&e->port_names, h, pname_eq, s);
	size_t len;

	if (x)
		return x->id;
	len = strlen(s);
	x = malloc(sizeof(*x) + len + 1);
	if (!x)
		return -1;
	x->id = e->next_port_name++;
	memcpy(x->s, s, len + 1);
	if (engine_hmap_put(&e->port_names, h, x) < 0) {
		free(x);
		return -1;
	}
	return x->id;
}

static bool intern(struct hmap *pool, char **s)
{
	char *x;

	if (!*s)
		return true;
	x = engine_spool_get(pool, *s);
	if (!x)
		return false; /* on ENOMEM the object keeps its own copy */
	free(*s);
	*s = x;
	return true;
}

/*
 * Whole label maps and port lists are shared too: the pods of one workload
 * carry identical ones. Entries hold pooled strings, so pointer equality is
 * content equality. A shared array owns one reference on each string.
 */
struct lset {
	uint32_t refs;
	uint32_t n;
	struct label v[];
};

struct pset {
	uint32_t refs;
	uint32_t n;
	struct container_port v[];
};

struct arr_key {
	const void *v;
	size_t n;
};

static uint64_t mix(uint64_t h, uint64_t x)
{
	return (h ^ x) * 0x100000001b3ULL + (x >> 29);
}

static uint64_t labels_hash(const struct label *v, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ n;

	for (size_t i = 0; i < n; i++)
		h = mix(mix(h, (uintptr_t)v[i].key), (uintptr_t)v[i].value);
	return h;
}

static bool lset_eq(const void *val, const void *key)
{
	const struct lset *a = val;
	const struct arr_key *k = key;
	const struct label *v = k->v;

	if (a->n != k->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].key != v[i].key || a->v[i].value != v[i].value)
			return false;
	return true;
}

static uint64_t ports_hash(const struct container_port *v, size_t n)
{
	uint64_t h = 0x84222325cbf29ce4ULL ^ n;

	for (size_t i = 0; i < n; i++)
		h = mix(mix(h, (uintptr_t)v[i].name), ((uint64_t)v[i].port << 8) | v[i].proto);
	return h;
}

static bool pset_eq(const void *val, const void *key)
{
	const struct pset *a = val;
	const struct arr_key *k = key;
	const struct container_port *v = k->v;

	if (a->n != k->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].name != v[i].name || a->v[i].port != v[i].port ||
		    a->v[i].proto != v[i].proto)
			return false;
	return true;
}

static void share_labels(struct engine *e, struct pod_obj *o)
{
	struct arr_key k = {o->labels.v, o->labels.n};
	uint64_t h = labels_hash(o->labels.v, o->labels.n);
	struct lset *ls = engine_hmap_get(&e->label_sets, h, lset_eq, &k);

	if (ls) {
		ls->refs++;
		for (size_t i = 0; i < o->labels.n; i++) {
			engine_spool_release(&e->strings, o->labels.v[i].key);
			engine_spool_release(&e->strings, o->labels.v[i].value);
		}
	} else {
		ls = malloc(sizeof(*ls) + o->labels.n * sizeof(struct label));
		if (!ls)
			return;
		ls->refs = 1;
		ls->n = (uint32_t)o->labels.n;
		memcpy(ls->v, o->labels.v, o->labels.n * sizeof(struct label));
		if (engine_hmap_put(&e->label_sets, h, ls) < 0) {
			free(ls);
			return;
		}
	}
	free(o->labels.v);
	o->labels.v = ls->v;
}

static void share_ports(struct engine *e, struct pod_obj *o)
{
	struct arr_key k = {o->ports, o->n_ports};
	uint64_t h = ports_hash(o->ports, o->n_ports);
	struct pset *ps = engine_hmap_get(&e->port_sets, h, pset_eq, &k);

	if (ps) {
		ps->refs++;
		for (size_t i = 0; i < o->n_ports; i++)
			engine_spool_release(&e->strings, o->ports[i].name);
	} else {
		ps = malloc(sizeof(*ps) + o->n_ports * sizeof(struct container_port));
		if (!ps)
			return;
		ps->refs = 1;
		ps->n = (uint32_t)o->n_ports;
		memcpy(ps->v, o->ports, o->n_ports * sizeof(struct container_port));
		if (engine_hmap_put(&e->port_sets, h, ps) < 0) {
			free(ps);
			return;
		}
	}
	free(o->ports);
	o->ports = ps->v;
}

void engine_pod_intern(struct engine *e, struct pod_obj *o)
{
	bool all = true;

	intern(&e->strings, &o->ns);
	intern(&e->strings, &o->node_name);
	for (size_t i = 0; i < o->labels.n; i++) {
		all &= intern(&e->strings, &o->labels.v[i].key);
		all &= intern(&e->strings, &o->labels.v[i].value);
	}
	if (all && o->labels.n)
		share_labels(e, o);
	all = true;
	for (size_t i = 0; i < o->n_ports; i++)
		all &= intern(&e->strings, &o->ports[i].name);
	if (all && o->n_ports)
		share_ports(e, o);
}

/* Free a stored pod: pooled strings and arrays go back to their pools. */
void engine_pod_release(struct engine *e, struct pod_obj *o)
{
	struct lset *ls = NULL;
	struct pset *ps = NULL;

	if (!o)
		return;
	engine_spool_release(&e->strings, TAKE_PTR(o->ns));
	engine_spool_release(&e->strings, TAKE_PTR(o->node_name));
	if (o->labels.n) {
		struct arr_key k = {o->labels.v, o->labels.n};

		ls = engine_hmap_get(&e->label_sets, labels_hash(o->labels.v, o->labels.n), lset_eq, &k);
		if (ls && ls->v != o->labels.v)
			ls = NULL;
	}
	if (ls) {
		if (--ls->refs == 0) {
			engine_hmap_del(&e->label_sets, labels_hash(ls->v, ls->n), ls);
			for (size_t i = 0; i < ls->n; i++) {
				engine_spool_release(&e->strings, ls->v[i].key);
				engine_spool_release(&e->strings, ls->v[i].value);
			}
			free(ls);
		}
		o->labels.v = NULL;
		o->labels.n = 0;
	}
	for (size_t i = 0; i < o->labels.n; i++) {
		engine_spool_release(&e->strings, TAKE_PTR(o->labels.v[i].key));
		engine_spool_release(&e->strings, TAKE_PTR(o->labels.v[i].value));
	}
	if (o->n_ports) {
		struct arr_key k = {o->ports, o->n_ports};

		ps = engine_hmap_get(&e->port_sets, ports_hash(o->ports, o->n_ports), pset_eq, &k);
		if (ps && ps->v != o->ports)
			ps = NULL;
	}
	if (ps) {
		if (--ps->refs == 0) {
			engine_hmap_del(&e->port_sets, ports_hash(ps->v, ps->n), ps);
			for (size_t i = 0; i < ps->n; i++)
				engine_spool_release(&e->strings, ps->v[i].name);
			free(ps);
		}
		o->ports = NULL;
		o->n_ports = 0;
	}
	for (size_t i = 0; i < o->n_ports; i++)
		engine_spool_release(&e->strings, TAKE_PTR(o->ports[i].name));
	pod_obj_free(o);
}

/* The pod's named container ports, compiled for the matcher. */
