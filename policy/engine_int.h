/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internal state of the policy engine, shared by policy/engine*.c only: the
 * object store, the selector index (per-namespace policy and rule lists,
 * per-rule member sets, per-pod reverse links) and the change log.
 */
#pragma once

#include "engine.h"
#include "selector.h"

/* Open-addressing hash table of non-NULL pointers; keys are derived from values. */
struct hmap {
	uint64_t *h;
	void **v;
	size_t cap, n; /* cap is 0 or a power of two */
};

typedef bool (*hmap_eq_fn)(const void *val, const void *key);

void *hmap_get(const struct hmap *m, uint64_t h, hmap_eq_fn eq, const void *key);
int hmap_put(struct hmap *m, uint64_t h, void *val);
/* Remove the entry holding exactly val (hashed as h). Returns whether found. */
bool hmap_del(struct hmap *m, uint64_t h, const void *val);
void hmap_clear(struct hmap *m);

/* Set of uint32 ids (UINT32_MAX is reserved). */
struct u32set {
	uint32_t *v;
	uint32_t cap, n;
};

static inline uint32_t u32_slot(uint32_t x, uint32_t mask)
{
	return (uint32_t)((x * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

static inline bool u32set_has(const struct u32set *s, uint32_t x)
{
	uint32_t mask, i;

	if (!s->n)
		return false;
	mask = s->cap - 1;
	for (i = u32_slot(x, mask); s->v[i] != UINT32_MAX; i = (i + 1) & mask)
		if (s->v[i] == x)
			return true;
	return false;
}
/* 1 added, 0 already present, -ENOMEM. */
int u32set_add(struct u32set *s, uint32_t x);
/* Whether it was present. */
bool u32set_del(struct u32set *s, uint32_t x);
void u32set_clear(struct u32set *s);

/* A growable array of pointers. */
struct pvec {
	void **v;
	uint32_t n, cap;
};
int pvec_push(struct pvec *p, void *x);
/* Remove the first occurrence of x, not keeping order. Returns whether found. */
bool pvec_remove(struct pvec *p, const void *x);
void pvec_clear(struct pvec *p);

/* Pointer -> pointer map with inline keys (one cache line per probe). */
struct pmap {
	struct pmap_ent {
		const void *k;
		void *v;
	} *e;
	size_t cap, n;
};

static inline void *pmap_get(const struct pmap *m, const void *k)
{
	size_t mask, i;
	uint64_t x = (uint64_t)(uintptr_t)k;

	if (!m->n)
		return NULL;
	mask = m->cap - 1;
	x = (x ^ (x >> 29)) * 0xbf58476d1ce4e5b9ULL;
	for (i = (size_t)(x >> 32) & mask; m->e[i].k; i = (i + 1) & mask)
		if (m->e[i].k == k)
			return m->e[i].v;
	return NULL;
}
int pmap_put(struct pmap *m, const void *k, void *v);
void pmap_del(struct pmap *m, const void *k);
void pmap_clear(struct pmap *m);

/*
 * Refcounted string pool for label keys and values, namespace and node
 * names and port names of stored pods: 100k pods share a few thousand
 * distinct strings.
 */
char *spool_get(struct hmap *pool, const char *s);
/* Drop one reference if s is pooled, else free it. Accepts NULL. */
void spool_release(struct hmap *pool, char *s);

uint64_t hash_str2(const char *a, const char *b);
uint64_t hash_ip(const struct ip_addr *ip);

struct ns_ent;
struct pol_ent;

/*
 * A distinct selector peer: (podSelector?, namespaceSelector?, and for
 * pod-only peers the policy's namespace). Rules sharing one are evaluated
 * once per pod: 1,000 "from the monitoring namespace" peers are one atom.
 */
struct atom {
	uint64_t hash;
	uint32_t refs; /* referencing peers */
	bool has_pod, has_ns;
	struct selector pod_sel, ns_sel; /* own copies */
	struct ns_ent *local_ns;         /* !has_ns: the scope */
	struct pvec users;               /* crules, one entry per referencing peer */
	struct pvec nsmatch;             /* has_ns: ns_ents whose labels match ns_sel */
};

/* A port item compiled for the matcher; name >= 0 is an interned port name. */
struct fport {
	int32_t name;
	uint16_t lo, hi;
	uint8_t proto;
};

/* A named container port of a pod, compiled. */
struct cport {
	int32_t name;
	uint16_t port;
	uint8_t proto;
};

/* One compiled rule. pub must stay first: compiled_rule pointers are crule pointers. */
struct crule {
	struct compiled_rule pub;
	struct pol_ent *pol;
	struct u32set members; /* pod ids */
	bool any_peer;         /* no peers: every source/destination */
	bool has_ipblock;
	uint32_t n_fports;     /* 0: every port and protocol */
	struct fport *fports;
	struct pvec atoms;   /* of its selector peers */
	uint64_t mark;       /* visit stamp for deduplication */
};

struct pol_ent {
	struct netpol *obj;
	struct ns_ent *ns;
	struct pvec rules[2]; /* struct crule *, by rule index; empty if type not set */
};

struct ns_ent {
	char *name;
	struct namespace_obj *obj; /* NULL: not known, labels are synth */
	struct labels synth;       /* kubernetes.io/metadata.name=<name> */
	struct u32set pods;        /* pod ids living here */
	struct pvec pols;          /* struct pol_ent * living here */
	struct pvec localatoms;    /* pod-only atoms scoped here */
	struct pvec nsatoms;       /* namespace-selector atoms matching this ns */
};

/* Hot fields first: the matcher reads only the first cache line. */
struct pod_ent {
	const struct crule *const *rules[2]; /* applying, in stable order */
	uint32_t n_rules[2];
	uint32_t id;
	bool target;      /* pod_is_target */
	bool isolated[2]; /* some selecting policy has the type */
	uint32_t n_cports;
	struct cport *cports;
	const struct netpol *const *pols[2]; /* isolating, by name */
	uint32_t n_pols[2];
	void *tcache; /* one block holding rules[] and pols[] */
	struct pod_obj *obj;
	struct ns_ent *ns;
	struct pvec sel;       /* pol_ents selecting it (target pods), by name */
	struct pvec member_of; /* crules it is a member of */
};

struct engine {
	struct hmap namespaces; /* ns_ent by name */
	struct hmap pods;       /* pod_ent by ns/name */
	struct pmap pod_ptrs;   /* pod_ent by pod_obj pointer */
	struct hmap strings;    /* string pool */
	struct hmap port_names; /* interned port names */
	int32_t next_port_name;
	struct hmap pod_ips;    /* pod_ent by ip (peer pods; several per ip possible) */
	struct hmap pols;       /* pol_ent by ns/name */
	struct hmap svcs;       /* service_obj by ns/name */
	struct hmap rules;      /* crule by id */
	struct hmap atoms;      /* all atoms */
	struct pvec nsatoms;    /* atoms with a namespaceSelector */

	struct pod_ent **pod_v; /* by id */
	uint32_t n_pod_v, cap_pod_v;
	uint32_t *free_v; /* unused pod ids, a stack */
	uint32_t n_free, cap_free;
	size_t n_pods;

	uint32_t next_rule_id;
	uint64_t mark;

	struct engine_change *chg;
	size_t n_chg, cap_chg;
	struct pvec graveyard; /* pod_objs kept alive until the next drain */
};

/* engine.c */
/* Interned id of a port name (stable for the engine's lifetime), or -1 on ENOMEM. */
int32_t port_name_id(struct engine *e, const char *s);
struct ns_ent *engine_ns_get(struct engine *e, const char *name, bool create);
const struct ns_ent *engine_ns_find(const struct engine *e, const char *name);
const struct labels *ns_ent_labels(const struct ns_ent *n);
int engine_record(struct engine *e, enum engine_change_kind k, uint32_t rule_id,
		  const struct pod_obj *pod);
struct pod_ent *engine_pod_ent(const struct engine *e, const struct pod_obj *pod);
bool engine_rule_equal(const struct np_rule *a, const struct np_rule *b);
bool engine_rules_same(const struct netpol *a, const struct netpol *b);

/* engine_index.c */
bool crule_matches_member(const struct crule *r, const struct pod_ent *p);
int index_pod_members(struct engine *e, struct pod_ent *p, const struct pod_obj *old,
		      bool relabel, bool reannounce);
bool index_peer_selects(const struct np_peer *pp, const struct pol_ent *pe,
			const struct pod_ent *p);
int index_pod_leave(struct engine *e, struct pod_ent *p);
int index_pod_targets(struct engine *e, struct pod_ent *p, bool resel, bool force);
int index_ns_init(struct engine *e, struct ns_ent *n);
void index_rule_free(struct crule *r);
void index_free(struct engine *e);
int index_policy_set(struct engine *e, struct pol_ent *pe, struct netpol *old_obj);
int index_policy_remove(struct engine *e, struct pol_ent *pe);
int index_ns_relabel(struct engine *e, struct ns_ent *n);

