/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Incremental selector index. Selector peers are deduplicated into atoms;
 * each namespace knows its policies, the pod-only atoms scoped to it and the
 * namespace-selector atoms matching it. A pod change evaluates only those
 * atoms, then re-evaluates the rules using the ones that match (plus the
 * rules it was a member of); every transition lands in the change log.
 */
#include "engine_int.h"

static bool rule_id_eq(const void *val, const void *key)
{
	return ((const struct crule *)val)->pub.id == *(const uint32_t *)key;
}

static uint64_t hash_id(uint32_t id)
{
	return (uint64_t)id * 0x9E3779B97F4A7C15ULL + 1;
}

#define FOREACH_ID(set, var)                                                                       \
	for (uint32_t _i_ = 0, var; _i_ < (set)->cap; _i_++)                                       \
		if (((var) = (set)->v[_i_]) != UINT32_MAX)

bool engine_index_peer_selects(const struct np_peer *pp, const struct pol_ent *pe,
			const struct pod_ent *p)
{
	if (pp->kind != PEER_SELECTOR || (!pp->has_pod_selector && !pp->has_ns_selector))
		return false;
	if (pp->has_ns_selector) {
		if (!selector_matches(&pp->ns_selector, engine_ns_labels(p->ns)))
			return false;
	} else if (p->ns != pe->ns) {
		return false;
	}
	return !pp->has_pod_selector || selector_matches(&pp->pod_selector, &p->obj->labels);
}

bool engine_crule_matches_member(const struct crule *r, const struct pod_ent *p)
{
	const struct np_rule *nr = r->pub.rule;

	if (!pod_is_peer(p->obj))
		return false;
	for (size_t i = 0; i < nr->n_peers; i++)
		if (engine_index_peer_selects(&nr->peers[i], r->pol, p))
			return true;
	return false;
}

/* Bring r's membership of p up to date and log the transition. */
static int member_update(struct engine *e, struct crule *r, struct pod_ent *p,
			 const struct pod_obj *old, bool reannounce)
{
	bool now = engine_crule_matches_member(r, p), was = engine_u32set_has(&r->members, p->id);
	int k;

	if (now && !was) {
		k = engine_u32set_add(&r->members, p->id);
		if (k < 0)
			return k;
		if (engine_pvec_push(&p->member_of, r) < 0) {
			engine_u32set_del(&r->members, p->id);
			return -ENOMEM;
		}
		return engine_record(e, ENGINE_CHG_MEMBER_ADDED, r->pub.id, p->obj);
	}
	if (!now && was) {
		engine_u32set_del(&r->members, p->id);
		engine_pvec_remove(&p->member_of, r);
		return engine_record(e, ENGINE_CHG_MEMBER_REMOVED, r->pub.id, old ? old : p->obj);
	}
	if (now && reannounce && old) {
		k = engine_record(e, ENGINE_CHG_MEMBER_REMOVED, r->pub.id, old);
		return k < 0 ? k : engine_record(e, ENGINE_CHG_MEMBER_ADDED, r->pub.id, p->obj);
	}
	return 0;
}

static int cand_push(struct engine *e, struct pvec *cand, struct crule *r)
{
	if (r->mark == e->mark)
		return 0;
	r->mark = e->mark;
	return engine_pvec_push(cand, r);
}

static bool atom_matches_pod(const struct atom *a, const struct pod_ent *p)
{
	return !a->has_pod || selector_matches(&a->pod_sel, &p->obj->labels);
}

/* Rules that may now count p as a member: users of its namespace's matching atoms. */
static int cand_from_atoms(struct engine *e, struct pvec *cand, const struct pvec *atoms,
			   const struct pod_ent *p)
{
	for (size_t i = 0; i < atoms->n; i++) {
		const struct atom *a = atoms->v[i];

		if (!atom_matches_pod(a, p))
			continue;
		for (size_t j = 0; j < a->users.n; j++)
			if (cand_push(e, cand, a->users.v[j]) < 0)
				return -ENOMEM;
	}
	return 0;
}

int engine_index_pod_members(struct engine *e, struct pod_ent *p, const struct pod_obj *old,
		      bool relabel, bool reannounce)
{
	struct pvec cand = {0};
	int r = 0;

	if (!relabel) {
		for (size_t i = 0; reannounce && i < p->member_of.n && r >= 0; i++) {
			uint32_t id = ((struct crule *)p->member_of.v[i])->pub.id;

			r = engine_record(e, ENGINE_CHG_MEMBER_REMOVED, id, old);
			if (r >= 0)
				r = engine_record(e, ENGINE_CHG_MEMBER_ADDED, id, p->obj);
		}
		return r;
	}
	e->mark++;
	for (size_t i = 0; i < p->member_of.n; i++)
		if (cand_push(e, &cand, p->member_of.v[i]) < 0)
			goto oom;
	if (pod_is_peer(p->obj) && (cand_from_atoms(e, &cand, &p->ns->localatoms, p) < 0 ||
				    cand_from_atoms(e, &cand, &p->ns->nsatoms, p) < 0))
		goto oom;
	for (size_t i = 0; i < cand.n && r >= 0; i++)
		r = member_update(e, cand.v[i], p, old, reannounce);
	engine_pvec_clear(&cand);
	return r;
oom:
	engine_pvec_clear(&cand);
	return -ENOMEM;
}

int engine_index_pod_leave(struct engine *e, struct pod_ent *p)
{
	int r = 0;

	for (size_t i = 0; i < p->member_of.n; i++) {
		struct crule *c = p->member_of.v[i];

		engine_u32set_del(&c->members, p->id);
		if (r >= 0)
			r = engine_record(e, ENGINE_CHG_MEMBER_REMOVED, c->pub.id, p->obj);
	}
	p->member_of.n = 0;
	p->sel.n = 0;
	engine_tblock_release(e, p->tcache);
	p->tcache = NULL;
	for (int d = 0; d < 2; d++) {
		p->n_pols[d] = p->n_rules[d] = 0;
		p->isolated[d] = p->audit[d] = false;
	}
	engine_pod_hot_sync(e, p);
	return r < 0 ? r : engine_record(e, ENGINE_CHG_POD_REMOVED, 0, p->obj);
}

static size_t tblock_len(const struct tblock *b)
{
	return (size_t)b->n_rules[0] + b->n_rules[1] + b->n_pols[0] + b->n_pols[1];
}

static bool tblock_eq(const void *val, const void *key)
{
	const struct tblock *x = val, *y = key;

	return memcmp(x->n_rules, y->n_rules, sizeof(x->n_rules)) == 0 &&
	       memcmp(x->n_pols, y->n_pols, sizeof(x->n_pols)) == 0 &&
	       memcmp(x->v, y->v, tblock_len(x) * sizeof(void *)) == 0;
}

/* The shared copy of b (taking a reference), or b itself, now shared if possible. */
static struct tblock *tblock_intern(struct engine *e, struct tblock *b)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	struct tblock *have;

	for (int d = 0; d < 2; d++)
		h = (h ^ b->n_rules[d] ^ ((uint64_t)b->n_pols[d] << 32)) * 0x100000001b3ULL;
	for (size_t i = 0; i < tblock_len(b); i++)
		h = (h ^ (uint64_t)(uintptr_t)b->v[i]) * 0x9E3779B97F4A7C15ULL;
	h ^= h >> 29;
	b->hash = h;
	b->refs = 1;
	have = engine_hmap_get(&e->tblocks, h, tblock_eq, b);
	if (have) {
		free(b);
		have->refs++;
		return have;
	}
	(void)engine_hmap_put(&e->tblocks, h, b); /* on ENOMEM it stays private */
	return b;
}

void engine_tblock_release(struct engine *e, struct tblock *b)
{
	if (!b || --b->refs)
		return;
	engine_hmap_del(&e->tblocks, b->hash, b);
	free(b);
}

static int cmp_pol_ent(const void *a, const void *b)
{
	const struct pol_ent *x = *(const struct pol_ent *const *)a;
	const struct pol_ent *y = *(const struct pol_ent *const *)b;

	return strcmp(x->obj->name, y->obj->name);
}

static bool has_type(const struct netpol *np, int d)
{
	return d == DIR_INGRESS ? np->type_ingress : np->type_egress;
}

/* Whether np counts for a pod's direction d, given whether only audit policies isolate it there. */
static bool counts(const struct netpol *np, int d, bool audit)
{
	return has_type(np, d) && (np->mode == NP_MODE_AUDIT) == audit;
}

int engine_index_pod_targets(struct engine *e, struct pod_ent *p, bool resel, bool force)
{
	size_t np[2] = {0, 0}, nr[2] = {0, 0};
	bool audit[2] = {false, false};
	bool changed = false;
	struct tblock *block = NULL;
	const void **at = NULL;

	if (resel) {
		p->sel.n = 0;
		if (p->target)
			for (size_t i = 0; i < p->ns->pols.n; i++) {
				struct pol_ent *pe = p->ns->pols.v[i];

				if (selector_matches(&pe->obj->pod_selector, &p->obj->labels) &&
				    engine_pvec_push(&p->sel, pe) < 0)
					return -ENOMEM;
			}
		if (p->sel.n > 1)
			qsort(p->sel.v, p->sel.n, sizeof(void *), cmp_pol_ent);
	}
	/*
	 * Policies are additive, so an audit-mode policy only matters where it is
	 * the reason for isolation: with an enforcing policy in d, only the
	 * enforcing ones count (audit rules open nothing); otherwise the audit
	 * ones do, and the pod is audited, not isolated.
	 */
	for (int d = 0; d < 2; d++) {
		size_t n_enf = 0;

		for (size_t i = 0; i < p->sel.n; i++) {
			struct pol_ent *pe = p->sel.v[i];

			if (has_type(pe->obj, d) && pe->obj->mode != NP_MODE_AUDIT)
				n_enf++;
		}
		audit[d] = n_enf == 0;
		for (size_t i = 0; i < p->sel.n; i++) {
			struct pol_ent *pe = p->sel.v[i];

			if (counts(pe->obj, d, audit[d])) {
				np[d]++;
				nr[d] += pe->rules[d].n;
			}
		}
		audit[d] = audit[d] && np[d] > 0;
	}
	/* One block: rules[ingress], rules[egress], pols[ingress], pols[egress]. */
	if (np[0] + np[1]) {
		block = malloc(sizeof(*block) + (np[0] + np[1] + nr[0] + nr[1]) * sizeof(void *));
		if (!block)
			return -ENOMEM;
		for (int d = 0; d < 2; d++) {
			block->n_rules[d] = (uint32_t)nr[d];
			block->n_pols[d] = (uint32_t)np[d];
		}
		at = block->v;
	}
	for (int d = 0; d < 2; d++) {
		const void **rv = at;

		for (size_t i = 0; i < p->sel.n; i++) {
			struct pol_ent *pe = p->sel.v[i];

			if (!counts(pe->obj, d, audit[d]))
				continue;
			for (size_t j = 0; j < pe->rules[d].n; j++)
				*at++ = pe->rules[d].v[j];
		}
		bool iso = np[d] > 0 && !audit[d];

		if (iso != p->isolated[d] || audit[d] != p->audit[d] || nr[d] != p->n_rules[d] ||
		    (nr[d] && memcmp(rv, p->rules[d], nr[d] * sizeof(void *)) != 0))
			changed = true;
		p->rules[d] = (const struct crule *const *)rv;
		p->n_rules[d] = (uint32_t)nr[d];
		p->isolated[d] = iso;
		p->audit[d] = audit[d];
	}
	for (int d = 0; d < 2; d++) {
		p->pols[d] = (const struct netpol *const *)at;
		p->n_pols[d] = (uint32_t)np[d];
		for (size_t i = 0; i < p->sel.n; i++) {
			struct pol_ent *pe = p->sel.v[i];

			if (counts(pe->obj, d, audit[d]))
				*at++ = pe->obj;
		}
	}
	if (block) {
		/* Same contents, same layout: only the base moves. */
		block = tblock_intern(e, block);
		p->rules[0] = (const struct crule *const *)block->v;
		p->rules[1] = p->rules[0] + nr[0];
		p->pols[0] = (const struct netpol *const *)block->v + nr[0] + nr[1];
		p->pols[1] = p->pols[0] + np[0];
	}
	engine_tblock_release(e, p->tcache);
	p->tcache = block;
	engine_pod_hot_sync(e, p);
	if (changed || force)
		return engine_record(e, ENGINE_CHG_POD_TARGET, 0, p->obj);
	return 0;
}

void engine_index_rule_free(struct crule *r)
{
	if (!r)
		return;
	engine_u32set_clear(&r->members);
	engine_pvec_clear(&r->atoms);
	free(r->fports);
	free(r);
}

static uint64_t atom_hash(const struct np_peer *pp, const struct ns_ent *scope)
{
	uint64_t h = 0x51ed27f3a7c1b9e5ULL;

	if (pp->has_pod_selector)
		h ^= selector_hash(&pp->pod_selector) * 3 + 1;
	if (pp->has_ns_selector)
		h ^= (selector_hash(&pp->ns_selector) * 5 + 7) << 1;
	else
		h ^= (uint64_t)(uintptr_t)scope * 0x9E3779B97F4A7C15ULL;
	return h;
}

struct atom_key {
	const struct np_peer *pp;
	const struct ns_ent *scope;
};

static bool atom_eq(const void *val, const void *key)
{
	const struct atom *a = val;
	const struct atom_key *k = key;

	return a->has_pod == k->pp->has_pod_selector && a->has_ns == k->pp->has_ns_selector &&
	       (a->has_ns || a->local_ns == k->scope) &&
	       (!a->has_pod || selector_equal(&a->pod_sel, &k->pp->pod_selector)) &&
	       (!a->has_ns || selector_equal(&a->ns_sel, &k->pp->ns_selector));
}

static void atom_free(struct atom *a)
{
	selector_clear(&a->pod_sel);
	selector_clear(&a->ns_sel);
	engine_pvec_clear(&a->users);
	engine_pvec_clear(&a->nsmatch);
	free(a);
}

static void atom_unref(struct engine *e, struct atom *a)
{
	if (--a->refs)
		return;
	engine_hmap_del(&e->atoms, a->hash, a);
	if (a->has_ns) {
		engine_pvec_remove(&e->nsatoms, a);
		for (size_t i = 0; i < a->nsmatch.n; i++)
			engine_pvec_remove(&((struct ns_ent *)a->nsmatch.v[i])->nsatoms, a);
	} else {
		engine_pvec_remove(&a->local_ns->localatoms, a);
	}
	atom_free(a);
}

/* Find or create the atom of a selector peer of a policy living in scope. */
static int atom_ref(struct engine *e, const struct np_peer *pp, struct ns_ent *scope,
		    struct atom **ret)
{
	struct atom_key k = {pp, scope};
	uint64_t h = atom_hash(pp, scope);
	struct atom *a = engine_hmap_get(&e->atoms, h, atom_eq, &k);

	if (a) {
		a->refs++;
		*ret = a;
		return 0;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->hash = h;
	a->refs = 1;
	a->has_pod = pp->has_pod_selector;
	a->has_ns = pp->has_ns_selector;
	a->local_ns = a->has_ns ? NULL : scope;
	if ((a->has_pod && selector_copy(&a->pod_sel, &pp->pod_selector) < 0) ||
	    (a->has_ns && selector_copy(&a->ns_sel, &pp->ns_selector) < 0) ||
	    engine_hmap_put(&e->atoms, h, a) < 0) {
		atom_free(a);
		return -ENOMEM;
	}
	*ret = a;
	if (!a->has_ns)
		return engine_pvec_push(&scope->localatoms, a);
	if (engine_pvec_push(&e->nsatoms, a) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < e->namespaces.cap; i++) {
		struct ns_ent *n = e->namespaces.v[i];

		if (!n || !selector_matches(&a->ns_sel, engine_ns_labels(n)))
			continue;
		if (engine_pvec_push(&n->nsatoms, a) < 0 || engine_pvec_push(&a->nsmatch, n) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Ports of a rule in the matcher's form, one entry per port item. */
static int crule_compile_ports(struct engine *e, struct crule *r, const struct np_rule *nr)
{
	if (!nr->n_ports)
		return 0;
	r->fports = calloc(nr->n_ports, sizeof(*r->fports));
	if (!r->fports)
		return -ENOMEM;
	for (size_t i = 0; i < nr->n_ports; i++) {
		const struct np_port *pp = &nr->ports[i];
		struct fport *f = &r->fports[i];

		f->proto = (uint8_t)pp->proto;
		f->name = -1;
		if (pp->name) {
			f->name = engine_port_name_id(e, pp->name);
			if (f->name < 0)
				return -ENOMEM;
		} else if (pp->has_port) {
			f->lo = pp->port;
			f->hi = pp->end_port > pp->port ? pp->end_port : pp->port;
		} else {
			f->hi = UINT16_MAX;
		}
	}
	r->n_fports = (uint32_t)nr->n_ports;
	return 0;
}

static int crule_members_from(struct engine *e, struct crule *r, const struct ns_ent *n,
			      const struct atom *a)
{
	FOREACH_ID(&n->pods, id)
	{
		struct pod_ent *p = e->pod_v[id];
		int k;

		if (!pod_is_peer(p->obj) || !atom_matches_pod(a, p))
			continue;
		k = member_update(e, r, p, NULL, false);
		if (k < 0)
			return k;
	}
	return 0;
}

static int crule_new(struct engine *e, struct pol_ent *pe, int d, unsigned idx,
		     struct crule **ret)
{
	const struct np_rule *nr = d == DIR_INGRESS ? &pe->obj->ingress[idx] : &pe->obj->egress[idx];
	struct crule *r = calloc(1, sizeof(*r));
	int k;

	if (!r)
		return -ENOMEM;
	r->pub = (struct compiled_rule){
		.id = e->next_rule_id++,
		.pol = pe->obj,
		.dir = (enum direction)d,
		.index = idx,
		.rule = nr,
	};
	r->pol = pe;
	r->local_ns = pe->ns;
	r->any_peer = nr->n_peers == 0;
	if (crule_compile_ports(e, r, nr) < 0 || engine_hmap_put(&e->rules, hash_id(r->pub.id), r) < 0) {
		engine_index_rule_free(r);
		return -ENOMEM;
	}
	*ret = r; /* registered: the caller owns it from here on */
	k = engine_record(e, ENGINE_CHG_RULE_ADDED, r->pub.id, NULL);
	if (k < 0)
		return k;
	for (size_t i = 0; i < nr->n_peers; i++) {
		const struct np_peer *pp = &nr->peers[i];
		struct atom *a;

		if (pp->kind != PEER_SELECTOR) {
			r->has_ipblock = true;
			continue;
		}
		if (!pp->has_pod_selector && !pp->has_ns_selector)
			continue; /* invalid: selects nothing */
		if (!pp->has_ns_selector && selector_is_empty(&pp->pod_selector))
			r->local_all = true;
		k = atom_ref(e, pp, pe->ns, &a);
		if (k < 0)
			return k;
		if (engine_pvec_push(&r->atoms, a) < 0) {
			atom_unref(e, a);
			return -ENOMEM;
		}
		if (engine_pvec_push(&a->users, r) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < r->atoms.n; i++) {
		const struct atom *a = r->atoms.v[i];

		if (!a->has_ns)
			k = crule_members_from(e, r, a->local_ns, a);
		for (size_t j = 0; a->has_ns && j < a->nsmatch.n && k >= 0; j++)
			k = crule_members_from(e, r, a->nsmatch.v[j], a);
		if (k < 0)
			return k;
	}
	return 0;
}

static void crule_remove(struct engine *e, struct crule *r)
{
	engine_hmap_del(&e->rules, hash_id(r->pub.id), r);
	for (size_t i = 0; i < r->atoms.n; i++) {
		struct atom *a = r->atoms.v[i];

		engine_pvec_remove(&a->users, r);
		atom_unref(e, a);
	}
	FOREACH_ID(&r->members, id)
	engine_pvec_remove(&e->pod_v[id]->member_of, r);
	engine_index_rule_free(r);
}

/* Refresh the target caches of the pods of pe's namespace after pe changed. */
static int refresh_ns_targets(struct engine *e, struct pol_ent *pe, bool resel, bool force)
{
	FOREACH_ID(&pe->ns->pods, id)
	{
		struct pod_ent *p = e->pod_v[id];
		bool was = false;
		int k;

		for (size_t i = 0; i < p->sel.n && !was; i++)
			was = p->sel.v[i] == pe;
		if (!was && !resel)
			continue;
		k = engine_index_pod_targets(e, p, resel, force && was);
		if (k < 0)
			return k;
	}
	return 0;
}

int engine_index_policy_set(struct engine *e, struct pol_ent *pe, struct netpol *old)
{
	struct netpol *obj = pe->obj;
	bool resel = !old || !selector_equal(&old->pod_selector, &obj->pod_selector);
	bool force = old && old->mode != obj->mode;
	int k;

	/*
	 * A pod's cached rule list may hold pointers to rules freed below, and
	 * a new rule may reuse such an address: pods selected before any rule
	 * change are reported unconditionally rather than by comparison.
	 */
	if (old && (old->type_ingress != obj->type_ingress || old->type_egress != obj->type_egress ||
		    !engine_rules_same(old, obj)))
		force = true;

	for (int d = 0; d < 2; d++) {
		const struct np_rule *nrules = d == DIR_INGRESS ? obj->ingress : obj->egress;
		size_t nnew = has_type(obj, d) ? (d == DIR_INGRESS ? obj->n_ingress : obj->n_egress) : 0;
		struct pvec *cur = &pe->rules[d];
		size_t nold = cur->n;
		struct pvec next = {0};

		/* Removals first, so the log reads: gone, then new. */
		for (size_t i = 0; i < nold; i++) {
			struct crule *c = cur->v[i];

			if (i < nnew && engine_rule_equal(c->pub.rule, &nrules[i]))
				continue;
			k = engine_record(e, ENGINE_CHG_RULE_REMOVED, c->pub.id, NULL);
			crule_remove(e, c);
			cur->v[i] = NULL;
			if (k < 0)
				return k;
		}
		for (size_t i = 0; i < nnew; i++) {
			struct crule *c = i < nold ? cur->v[i] : NULL;

			if (c) {
				c->pub.pol = obj;
				c->pub.rule = &nrules[i];
			} else {
				k = crule_new(e, pe, d, (unsigned)i, &c);
				if (k < 0 && !c) {
					engine_pvec_clear(&next);
					return k;
				}
			}
			if (engine_pvec_push(&next, c) < 0) {
				crule_remove(e, c);
				engine_pvec_clear(&next);
				return -ENOMEM;
			}
		}
		engine_pvec_clear(cur);
		*cur = next;
	}
	return refresh_ns_targets(e, pe, resel, force);
}

int engine_index_policy_remove(struct engine *e, struct pol_ent *pe)
{
	int r = 0;

	for (int d = 0; d < 2; d++) {
		for (size_t i = 0; i < pe->rules[d].n; i++) {
			struct crule *c = pe->rules[d].v[i];

			if (r >= 0)
				r = engine_record(e, ENGINE_CHG_RULE_REMOVED, c->pub.id, NULL);
			crule_remove(e, c);
		}
		engine_pvec_clear(&pe->rules[d]);
	}
	/* pe is already gone from its namespace's list: reselect its pods. */
	FOREACH_ID(&pe->ns->pods, id)
	{
		struct pod_ent *p = e->pod_v[id];
		bool was = false;

		for (size_t i = 0; i < p->sel.n && !was; i++)
			was = p->sel.v[i] == pe;
		if (was && r >= 0)
			r = engine_index_pod_targets(e, p, true, false);
	}
	return r;
}

int engine_index_ns_init(struct engine *e, struct ns_ent *n)
{
	for (size_t i = 0; i < e->nsatoms.n; i++) {
		struct atom *a = e->nsatoms.v[i];

		if (selector_matches(&a->ns_sel, engine_ns_labels(n)) &&
		    (engine_pvec_push(&n->nsatoms, a) < 0 || engine_pvec_push(&a->nsmatch, n) < 0))
			return -ENOMEM;
	}
	return 0;
}

int engine_index_ns_relabel(struct engine *e, struct ns_ent *n)
{
	struct pvec cand = {0}, before = n->nsatoms;
	int k = 0;

	/* Only rules of atoms that stopped or started matching n change for its pods. */
	e->mark++;
	n->nsatoms = (struct pvec){0};
	for (size_t i = 0; i < before.n; i++) {
		struct atom *a = before.v[i];

		engine_pvec_remove(&a->nsmatch, n);
		if (selector_matches(&a->ns_sel, engine_ns_labels(n)))
			continue;
		for (size_t j = 0; j < a->users.n; j++)
			if (cand_push(e, &cand, a->users.v[j]) < 0)
				goto oom;
	}
	for (size_t i = 0; i < e->nsatoms.n; i++) {
		struct atom *a = e->nsatoms.v[i];
		bool was = false;

		if (!selector_matches(&a->ns_sel, engine_ns_labels(n)))
			continue;
		if (engine_pvec_push(&n->nsatoms, a) < 0 || engine_pvec_push(&a->nsmatch, n) < 0)
			goto oom;
		for (size_t j = 0; j < before.n && !was; j++)
			was = before.v[j] == a;
		for (size_t j = 0; !was && j < a->users.n; j++)
			if (cand_push(e, &cand, a->users.v[j]) < 0)
				goto oom;
	}
	FOREACH_ID(&n->pods, id)
	{
		for (size_t i = 0; i < cand.n && k >= 0; i++)
			k = member_update(e, cand.v[i], e->pod_v[id], NULL, false);
	}
	engine_pvec_clear(&before);
	engine_pvec_clear(&cand);
	return k;
oom:
	engine_pvec_clear(&before);
	engine_pvec_clear(&cand);
	return -ENOMEM;
}

void engine_index_free(struct engine *e)
{
	for (size_t i = 0; i < e->atoms.cap; i++)
		if (e->atoms.v[i])
			atom_free(e->atoms.v[i]);
	engine_hmap_clear(&e->atoms);
	engine_pvec_clear(&e->nsatoms);
}

const struct compiled_rule *engine_rule(const struct engine *e, uint32_t rule_id)
{
	const struct crule *r = engine_hmap_get(&e->rules, hash_id(rule_id), rule_id_eq, &rule_id);

	return r ? &r->pub : NULL;
}

int engine_rule_members(const struct engine *e, uint32_t rule_id,
			int (*cb)(void *ud, const struct pod_obj *p), void *ud)
{
	const struct crule *r = engine_hmap_get(&e->rules, hash_id(rule_id), rule_id_eq, &rule_id);
	int n = 0;

	if (!r)
		return 0;
	FOREACH_ID(&r->members, id)
	{
		int k = cb(ud, e->pod_v[id]->obj);

		if (k < 0)
			return k;
		n++;
	}
	return n;
}
