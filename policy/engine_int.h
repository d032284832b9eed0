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

typedef bool (*engine_hmap_eq_fn)(const void *val, const void *key);

void *engine_hmap_get(const struct hmap *m, uint64_t h, engine_hmap_eq_fn eq, const void *key);
int engine_hmap_put(struct hmap *m, uint64_t h, void *val);
/* Remove the entry holding exactly val (hashed as h). Returns whether found. */
bool engine_hmap_del(struct hmap *m, uint64_t h, const void *val);
void engine_hmap_clear(struct hmap *m);

/* Set of uint32 ids (UINT32_MAX is reserved). */
struct u32set {
	uint32_t *v;
	uint32_t cap, n;
};

static inline uint32_t u32_slot(uint32_t x, uint32_t mask)
{
	return (uint32_t)((x * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

static inline bool engine_u32set_has(const struct u32set *s, uint32_t x)
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
int engine_u32set_add(struct u32set *s, uint32_t x);
/* Whether it was present. */
bool engine_u32set_del(struct u32set *s, uint32_t x);
void engine_u32set_clear(struct u32set *s);

/* A growable array of pointers. */
struct pvec {
	void **v;
	uint32_t n, cap;
};
int engine_pvec_push(struct pvec *p, void *x);
/* Remove the first occurrence of x, not keeping order. Returns whether found. */
bool engine_pvec_remove(struct pvec *p, const void *x);
void engine_pvec_clear(struct pvec *p);

/* Pointer -> pointer map with inline keys (one cache line per probe). */
struct pmap {
	struct pmap_ent {
		const void *k;
		void *v;
	} *e;
	size_t cap, n;
};

static inline void *engine_pmap_get(const struct pmap *m, const void *k)
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
int engine_pmap_put(struct pmap *m, const void *k, void *v);
void engine_pmap_del(struct pmap *m, const void *k);
void engine_pmap_clear(struct pmap *m);

/*
 * Refcounted string pool for label keys and values, namespace and node
 * names and port names of stored pods: 100k pods share a few thousand
 * distinct strings.
 */
char *engine_spool_get(struct hmap *pool, const char *s);
/* Drop one reference if s is pooled, else free it. Accepts NULL. */
void engine_spool_release(struct hmap *pool, char *s);

uint64_t engine_hash_str2(const char *a, const char *b);
uint64_t engine_hash_ip(const struct ip_addr *ip);

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
	bool local_all;        /* has a peer podSelector: {} alone: every peer pod of local_ns */
	const struct ns_ent *local_ns; /* the policy's namespace */
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

/* A stored pod; its named ports live in e->hot[id] only. */
struct pod_ent {
	const struct crule *const *rules[2]; /* applying, in stable order */
	uint32_t n_rules[2];
	uint32_t id;
	bool target;      /* pod_is_target */
	bool peer;        /* pod_is_peer */
	bool isolated[2]; /* some selecting enforcing policy has the type */
	bool audit[2];    /* not isolated, but some selecting audit-mode policy has the type */
	struct ns_ent *ns;
	const struct netpol *const *pols[2]; /* isolating, by name */
	uint32_t n_pols[2];
	struct tblock *tcache; /* one block holding rules[] and pols[] */
	struct pod_obj *obj;
	struct pvec sel;       /* pol_ents selecting it (target pods), by name */
	struct pvec member_of; /* crules it is a member of */
};

/*
 * A target pod's applying rules and isolating policies, in one allocation
 * shared (refcounted, in engine.tblocks) by all pods with the same ones: the
 * pods of a workload. 100k pods need about 10k blocks.
 */
struct tblock {
	uint64_t hash;
	uint32_t refs;
	uint32_t n_rules[2], n_pols[2];
	const void *v[]; /* rules[ingress], rules[egress], pols[ingress], pols[egress] */
};
/* Drop one reference to b. Accepts NULL. */
void engine_tblock_release(struct engine *e, struct tblock *b);

/*
 * What the matcher's fast path reads of a pod, 32 bytes in a dense array by
 * pod id: a random verdict touches two of these lines instead of two whole
 * pod_ents scattered over the heap. A mirror of pod_ent, kept by
 * engine_pod_hot_sync.
 */
enum {
	HOT_PEER = 1,		       /* pod_is_peer */
	HOT_ENFORCED = 2,	       /* << d: target and isolated in direction d */
};

struct pod_hot {
	const struct tblock *tb; /* NULL: no selecting policy */
	struct cport *cports; /* owned */
	const struct ns_ent *ns;
	uint32_t n_cports;
	uint8_t flags;
};

struct engine {
	struct hmap namespaces; /* ns_ent by name */
	struct hmap pods;       /* pod_ent by ns/name */
	struct pmap pod_ptrs;   /* pod id + 1 by pod_obj pointer */
	struct hmap strings;    /* string pool */
	struct hmap label_sets; /* shared label arrays of stored pods */
	struct hmap port_sets;  /* shared container port arrays of stored pods */
	struct hmap port_names; /* interned port names */
	struct hmap tblocks;    /* shared struct tblock */
	int32_t next_port_name;
	struct hmap pod_ips;    /* pod_ent by ip (peer pods; several per ip possible) */
	struct hmap pols;       /* pol_ent by ns/name */
	struct hmap svcs;       /* service_obj by ns/name */
	struct hmap rules;      /* crule by id */
	struct hmap atoms;      /* all atoms */
	struct pvec nsatoms;    /* atoms with a namespaceSelector */

	struct pod_ent **pod_v; /* by id */
	struct pod_hot *hot;    /* by id, same capacity as pod_v */
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
struct nskey {
	const char *ns, *name;
};
bool engine_ns_key_eq(const void *val, const void *key);  /* ns_ent by name */
bool engine_pod_key_eq(const void *val, const void *key); /* pod_ent by struct nskey */
bool engine_pol_key_eq(const void *val, const void *key); /* pol_ent by struct nskey */
bool engine_svc_key_eq(const void *val, const void *key); /* service_obj by struct nskey */

struct ns_ent *engine_ns_get(struct engine *e, const char *name, bool create);
const struct ns_ent *engine_ns_find(const struct engine *e, const char *name);
const struct labels *engine_ns_labels(const struct ns_ent *n);
int engine_record(struct engine *e, enum engine_change_kind k, uint32_t rule_id,
		  const struct pod_obj *pod);
struct pod_ent *engine_pod_ent(const struct engine *e, const struct pod_obj *pod);

/* The id of a stored pod, UINT32_MAX if pod is not one. */
static inline uint32_t engine_pod_id(const struct engine *e, const struct pod_obj *pod)
{
	void *v = engine_pmap_get(&e->pod_ptrs, pod);

	return v ? (uint32_t)((uintptr_t)v - 1) : UINT32_MAX;
}

/* Refresh e->hot[p->id] from p (all but the named ports, which live there). */
void engine_pod_hot_sync(struct engine *e, const struct pod_ent *p);
bool engine_rule_equal(const struct np_rule *a, const struct np_rule *b);
bool engine_rules_same(const struct netpol *a, const struct netpol *b);

/* engine_pool.c */
/* Move o's strings (and label/port arrays) into the pools; never fails (falls back to owning). */
void engine_pod_intern(struct engine *e, struct pod_obj *o);
/* Free a stored pod, returning pooled parts. Accepts NULL. */
void engine_pod_release(struct engine *e, struct pod_obj *o);
/* Interned id of a port name (stable for the engine's lifetime), or -1 on ENOMEM. */
int32_t engine_port_name_id(struct engine *e, const char *s);

/* engine_index.c: every function logs its transitions; < 0 only on -ENOMEM. */
/* Whether p (a peer pod) is selected by some selector peer of r. */
bool engine_crule_matches_member(const struct crule *r, const struct pod_ent *p);
/* Whether selector peer pp of policy pe selects p (ignores pod_is_peer). */
bool engine_index_peer_selects(const struct np_peer *pp, const struct pol_ent *pe,
			       const struct pod_ent *p);
/*
 * p was added or replaced (old: the previous version or NULL). relabel: its
 * labels or peer-ness changed, re-evaluate memberships; reannounce: its IPs
 * or ports changed, report kept memberships as removed + added.
 */
int engine_index_pod_members(struct engine *e, struct pod_ent *p, const struct pod_obj *old,
			     bool relabel, bool reannounce);
/* p goes away: leave every rule, then POD_REMOVED. */
int engine_index_pod_leave(struct engine *e, struct pod_ent *p);
/* Rebuild p's applying rules (resel: re-match its namespace's policies); POD_TARGET if changed or force. */
int engine_index_pod_targets(struct engine *e, struct pod_ent *p, bool resel, bool force);
/* A new namespace entry: find the namespace-selector atoms matching it. */
int engine_index_ns_init(struct engine *e, struct ns_ent *n);
/* n's effective labels changed: fix atom matches and the memberships of its pods. */
int engine_index_ns_relabel(struct engine *e, struct ns_ent *n);
/* pe->obj was set (old_obj: the previous version or NULL): diff rules by index, refresh targets. */
int engine_index_policy_set(struct engine *e, struct pol_ent *pe, struct netpol *old_obj);
/* pe was unlinked from its namespace: remove its rules, refresh targets. */
int engine_index_policy_remove(struct engine *e, struct pol_ent *pe);
void engine_index_rule_free(struct crule *r);
/* Free all atoms (engine teardown). */
void engine_index_free(struct engine *e);
