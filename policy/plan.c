/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dataplane's desired state: deterministic names, set elements, interval
 * arithmetic for ipBlock/except, per-pod chains built from the engine, and
 * the diff of two states. Pure; see include/plan.h and docs/dataplane.md.
 */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <stdio.h>

#include "plan.h"

/* ---- hash map ---- */

static uint32_t hash_bytes(const void *key, size_t len)
{
	const uint8_t *p = key;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	h ^= h >> 29;
	return (uint32_t)h < 2 ? (uint32_t)h + 2 : (uint32_t)h;
}

static struct plan_map_ent *find_slot(const struct plan_map *m, uint32_t h, const void *key,
				      size_t klen, bool for_insert)
{
	struct plan_map_ent *tomb = NULL;
	size_t mask = m->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct plan_map_ent *ent = &m->v[i];

		if (ent->hash == 0)
			return for_insert && tomb ? tomb : (for_insert ? ent : NULL);
		if (ent->hash == 1) {
			if (!tomb)
				tomb = ent;
			continue;
		}
		if (ent->hash == h && ent->klen == klen && memcmp(ent->key, key, klen) == 0)
			return ent;
	}
}

void *plan_map_get(const struct plan_map *m, const void *key, size_t klen)
{
	struct plan_map_ent *ent;

	if (!m->cap)
		return NULL;
	ent = find_slot(m, hash_bytes(key, klen), key, klen, false);
	return ent ? ent->val : NULL;
}

static int grow(struct plan_map *m)
{
	struct plan_map n = {0};

	n.cap = m->cap ? m->cap * 2 : 16;
	while (m->n * 2 >= n.cap)
		n.cap *= 2;
	n.v = calloc(n.cap, sizeof(*n.v));
	if (!n.v)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct plan_map_ent *ent = &m->v[i];

		if (ent->hash < 2)
			continue;
		*find_slot(&n, ent->hash, ent->key, ent->klen, true) = *ent;
		n.n++;
	}
	n.used = n.n;
	free(m->v);
	*m = n;
	return 0;
}

int plan_map_put(struct plan_map *m, const void *key, size_t klen, void *val, void **ret_old)
{
	uint32_t h = hash_bytes(key, klen);
	struct plan_map_ent *ent;

	if (ret_old)
		*ret_old = NULL;
	if ((m->used + 1) * 4 >= m->cap * 3 && grow(m) < 0)
		return -ENOMEM;
	ent = find_slot(m, h, key, klen, true);
	if (ent->hash >= 2) {
		if (ret_old)
			*ret_old = ent->val;
		ent->val = val;
		return 0;
	}
	void *k = malloc(klen ? klen : 1);
	if (!k)
		return -ENOMEM;
	memcpy(k, key, klen);
	if (ent->hash == 0)
		m->used++;
	*ent = (struct plan_map_ent){.hash = h, .klen = klen, .key = k, .val = val};
	m->n++;
	return 0;
}

void *plan_map_del(struct plan_map *m, const void *key, size_t klen)
{
	struct plan_map_ent *ent;
	void *val;

	if (!m->cap)
		return NULL;
	ent = find_slot(m, hash_bytes(key, klen), key, klen, false);
	if (!ent)
		return NULL;
	val = ent->val;
	free(ent->key);
	*ent = (struct plan_map_ent){.hash = 1};
	m->n--;
	return val;
}

bool plan_map_next(const struct plan_map *m, size_t *i, struct plan_map_ent **ret)
{
	for (; *i < m->cap; (*i)++)
		if (m->v[*i].hash >= 2) {
			*ret = &m->v[(*i)++];
			return true;
		}
	return false;
}

void plan_map_clear(struct plan_map *m, void (*free_val)(void *))
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->v[i].hash >= 2) {
			free(m->v[i].key);
			if (free_val)
				free_val(m->v[i].val);
		}
	free(m->v);
	*m = (struct plan_map){0};
}

/* ---- objects ---- */

void plan_elem_free(struct plan_elem *el)
{
	if (!el)
		return;
	free(el->chain);
	free(el);
}

static void elem_free_v(void *p)
{
	plan_elem_free(p);
}

void plan_set_free(struct plan_set *s)
{
	if (!s)
		return;
	plan_map_clear(&s->elems, elem_free_v);
	free(s->name);
	free(s->comment);
	free(s);
}

static void rule_clear(struct plan_rule *r)
{
	free(r->set);
	free(r->comment);
}

void plan_chain_free(struct plan_chain *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_rules; i++)
		rule_clear(&c->rules[i]);
	free(c->rules);
	for (size_t i = 0; i < c->n_rule_keys; i++)
		free(c->rule_keys[i]);
	free(c->rule_keys);
	free(c->pod);
	free(c->name);
	free(c->comment);
	free(c);
}

static void set_free_v(void *p)
{
	plan_set_free(p);
}

static void chain_free_v(void *p)
{
	plan_chain_free(p);
}

void plan_clear(struct plan *p)
{
	plan_map_clear(&p->sets, set_free_v);
	plan_map_clear(&p->chains, chain_free_v);
	p->has_table = false;
}

void plan_record_free(struct plan_record *r)
{
	if (!r)
		return;
	free(r->v);
	free(r);
}

static void record_free_v(void *p)
{
	plan_record_free(p);
}

void plan_rule_info_free(struct plan_rule_info *ri)
{
	if (!ri)
		return;
	plan_map_clear(&ri->records, record_free_v);
	free(ri);
}

struct plan_set *plan_set_new(const char *name, enum plan_set_kind kind, const char *comment)
{
	struct plan_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->name = strdup(name);
	s->comment = comment ? strndup(comment, PLAN_COMMENT_MAX - 1) : NULL;
	if (!s->name || (comment && !s->comment)) {
		plan_set_free(s);
		return NULL;
	}
	s->kind = kind;
	switch (kind) {
	case PLAN_SET_PODS4:
	case PLAN_SET_CIDR4:
	case PLAN_SET_VMAP4:
		s->key_type = PLAN_TYPE_IPV4;
		s->key_len = 4;
		break;
	case PLAN_SET_PODS6:
	case PLAN_SET_CIDR6:
	case PLAN_SET_VMAP6:
		s->key_type = PLAN_TYPE_IPV6;
		s->key_len = 16;
		break;
	case PLAN_SET_NAMED4:
		s->key_type = PLAN_TYPE_CONCAT(PLAN_TYPE_IPV4, PLAN_TYPE_PROTO, PLAN_TYPE_SERVICE);
		s->key_len = 12;
		break;
	case PLAN_SET_NAMED6:
		s->key_type = PLAN_TYPE_CONCAT(PLAN_TYPE_IPV6, PLAN_TYPE_PROTO, PLAN_TYPE_SERVICE);
		s->key_len = 24;
		break;
	default:
		break;
	}
	if (kind == PLAN_SET_CIDR4 || kind == PLAN_SET_CIDR6)
		s->flags = 0x4; /* NFT_SET_INTERVAL */
	if (kind == PLAN_SET_VMAP4 || kind == PLAN_SET_VMAP6) {
		s->flags = 0x8; /* NFT_SET_MAP */
		s->data_type = PLAN_DATA_VERDICT;
	}
	return s;
}

int plan_set_add(struct plan_set *s, const struct plan_elem *el)
{
	struct plan_elem *cur = plan_map_get(&s->elems, el->key, el->klen);
	struct plan_elem *n;

	if (cur) {
		cur->refs++;
		return 0;
	}
	n = malloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	*n = *el;
	n->refs = 1;
	n->chain = NULL;
	if (el->chain && !(n->chain = strdup(el->chain))) {
		free(n);
		return -ENOMEM;
	}
	if (plan_map_put(&s->elems, n->key, n->klen, n, NULL) < 0) {
		plan_elem_free(n);
		return -ENOMEM;
	}
	return 0;
}

bool plan_set_same_type(const struct plan_set *a, const struct plan_set *b)
{
	return a->key_type == b->key_type && a->key_len == b->key_len && a->flags == b->flags &&
	       a->data_type == b->data_type;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool elem_equal(const struct plan_elem *a, const struct plan_elem *b)
{
	return a->klen == b->klen && memcmp(a->key, b->key, a->klen) == 0 &&
	       a->has_end == b->has_end && (!a->has_end || memcmp(a->end, b->end, a->klen) == 0) &&
	       str_eq(a->chain, b->chain);
}

bool plan_set_same_elems(const struct plan_set *a, const struct plan_set *b)
{
	struct plan_map_ent *ent;

	if (a->elems.n != b->elems.n)
		return false;
	for (size_t i = 0; plan_map_next(&a->elems, &i, &ent);) {
		const struct plan_elem *o = plan_map_get(&b->elems, ent->key, ent->klen);

		if (!o || !elem_equal(ent->val, o))
			return false;
	}
	return true;
}

bool plan_rule_equal(const struct plan_rule *a, const struct plan_rule *b)
{
	return a->nfproto == b->nfproto && a->ct_estrel == b->ct_estrel &&
	       a->icmpv6_nd == b->icmpv6_nd && a->addr == b->addr && a->named == b->named &&
	       str_eq(a->set, b->set) && a->l4proto == b->l4proto && a->has_ports == b->has_ports &&
	       (!a->has_ports || (a->port_lo == b->port_lo && a->port_hi == b->port_hi)) &&
	       a->verdict == b->verdict && str_eq(a->comment, b->comment);
}

bool plan_chain_equal(const struct plan_chain *a, const struct plan_chain *b)
{
	if (a->base != b->base || (a->base && a->hooknum != b->hooknum) ||
	    !str_eq(a->comment, b->comment) || a->n_rules != b->n_rules)
		return false;
	for (size_t i = 0; i < a->n_rules; i++)
		if (!plan_rule_equal(&a->rules[i], &b->rules[i]))
			return false;
	return true;
}

/* ---- names ---- */

static void bounded_name(char ret[PLAN_NAME_MAX], const char *full, size_t reserve)
{
	size_t len = strlen(full);
	size_t max = PLAN_NAME_MAX - 1 - reserve;

	if (len <= max) {
		memcpy(ret, full, len + 1);
		return;
	}
	/* cut, then "_h" + 16 hex digits of a hash of the whole name */
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)full[i];
		h *= 1099511628211ull;
	}
	size_t keep = max - 18;
	memcpy(ret, full, keep);
	snprintf(ret + keep, PLAN_NAME_MAX - keep, "_h%016llx", (unsigned long long)h);
}

void plan_chain_name(enum direction dir, const char *ns, const char *pod, char ret[PLAN_NAME_MAX])
{
	char full[1024];

	snprintf(full, sizeof(full), "%s_%s_%s", dir == DIR_INGRESS ? "in" : "eg", ns, pod);
	bounded_name(ret, full, 0);
}

#define SET_SUFFIX_MAX 7 /* "_named6" */

void plan_rule_key(const char *ns, const char *pol, enum direction dir, unsigned idx,
		   char ret[PLAN_NAME_MAX])
{
	char full[1024];

	snprintf(full, sizeof(full), "%s_%s_%s%u", ns, pol, dir == DIR_INGRESS ? "in" : "eg", idx);
	bounded_name(ret, full, SET_SUFFIX_MAX);
}

static const char *const set_suffix[_PLAN_SET_KIND_MAX] = {
	[PLAN_SET_PODS4] = "pods4",   [PLAN_SET_PODS6] = "pods6",   [PLAN_SET_CIDR4] = "cidr4",
	[PLAN_SET_CIDR6] = "cidr6",   [PLAN_SET_NAMED4] = "named4", [PLAN_SET_NAMED6] = "named6",
	[PLAN_SET_VMAP4] = "vmap4",   [PLAN_SET_VMAP6] = "vmap6",
};

void plan_set_name(const char *rule_key, enum plan_set_kind kind, char ret[PLAN_NAME_MAX])
{
	size_t a = strnlen(rule_key, PLAN_NAME_MAX - 1 - SET_SUFFIX_MAX);
	size_t b = strlen(set_suffix[kind]);

	/* rule keys are bounded (plan_rule_key) so the suffix always fits */
	memcpy(ret, rule_key, a);
	ret[a] = '_';
	memcpy(ret + a + 1, set_suffix[kind], b + 1);
}

const char *plan_vmap_name(enum direction dir, int family)
{
	if (dir == DIR_INGRESS)
		return family == AF_INET ? "ingress4" : "ingress6";
	return family == AF_INET ? "egress4" : "egress6";
}

/* ---- elements ---- */

void plan_elem_addr(const struct ip_addr *ip, struct plan_elem *ret)
{
	*ret = (struct plan_elem){.klen = ip_addr_len(ip)};
	memcpy(ret->key, ip->a, ret->klen);
}

void plan_elem_named(const struct ip_addr *ip, uint8_t proto, uint16_t port, struct plan_elem *ret)
{
	size_t alen = ip_addr_len(ip);
	uint16_t be = htons(port);

	*ret = (struct plan_elem){.klen = alen + 8};
	memcpy(ret->key, ip->a, alen);
	ret->key[alen] = proto;
	memcpy(ret->key + alen + 4, &be, 2);
}

typedef unsigned __int128 u128;

struct ival {
	u128 lo, hi; /* inclusive */
};

static u128 addr_to_u128(const uint8_t *a, size_t len)
{
	u128 v = 0;

	for (size_t i = 0; i < len; i++)
		v = v << 8 | a[i];
	return v;
}

static void u128_to_addr(u128 v, uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0;) {
		a[i] = (uint8_t)v;
		v >>= 8;
	}
}

static struct ival cidr_ival(const struct cidr *c)
{
	size_t len = ip_addr_len(&c->addr);
	unsigned bits = len * 8;
	u128 lo = addr_to_u128(c->addr.a, len);
	u128 host = c->plen >= bits ? 0 : (((u128)1 << (bits - c->plen)) - 1);

	return (struct ival){lo, lo | host};
}

static int ival_cmp(const void *a, const void *b)
{
	const struct ival *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

int plan_rule_intervals(const struct np_rule *rule, int family, struct plan_elem *ret, size_t max)
{
	size_t alen = family == AF_INET ? 4 : 16;
	u128 top = family == AF_INET ? 0xffffffffu : ~(u128)0;
	struct ival *v = NULL;
	size_t n = 0, cap = 0;
	int r;

	for (size_t p = 0; p < rule->n_peers; p++) {
		const struct np_peer *peer = &rule->peers[p];

		if (peer->kind != PEER_IPBLOCK || peer->cidr.addr.family != family)
			continue;
		/* cidr minus the excepts, as a sorted list of pieces */
		size_t start = n;
		if (n + 1 + peer->n_except > cap) {
			cap = (n + 1 + peer->n_except) * 2;
			struct ival *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = cidr_ival(&peer->cidr);
		for (size_t x = 0; x < peer->n_except; x++) {
			struct ival ex = cidr_ival(&peer->except[x]);

			for (size_t k = start; k < n; k++) {
				struct ival *piece = &v[k];

				if (ex.hi < piece->lo || ex.lo > piece->hi)
					continue;
				if (ex.lo > piece->lo && ex.hi < piece->hi) {
					/* split; capacity: each except adds at most one piece */
					v[n++] = (struct ival){ex.hi + 1, piece->hi};
					piece->hi = ex.lo - 1;
				} else if (ex.lo <= piece->lo && ex.hi >= piece->hi) {
					v[k] = v[--n];
					k--;
				} else if (ex.lo <= piece->lo) {
					piece->lo = ex.hi + 1;
				} else {
					piece->hi = ex.lo - 1;
				}
			}
		}
	}
	qsort(v, n, sizeof(*v), ival_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		/* merge overlapping and adjacent pieces: the kernel wants disjoint intervals */
		if (m > 0 && (v[m - 1].hi == top || v[i].lo <= v[m - 1].hi + 1)) {
			if (v[i].hi > v[m - 1].hi)
				v[m - 1].hi = v[i].hi;
			continue;
		}
		v[m++] = v[i];
	}
	if (m > max) {
		free(v);
		return -E2BIG;
	}
	for (size_t i = 0; i < m; i++) {
		ret[i] = (struct plan_elem){.klen = alen};
		u128_to_addr(v[i].lo, ret[i].key, alen);
		if (v[i].hi != top) {
			ret[i].has_end = true;
			u128_to_addr(v[i].hi + 1, ret[i].end, alen);
		}
	}
	r = (int)m;
	free(v);
	return r;
}

/* ---- rules of a pod ---- */

bool plan_pod_local(const struct plan_config *cfg, const struct pod_obj *pod)
{
	return pod->node_name && cfg->node_name && strcmp(pod->node_name, cfg->node_name) == 0 &&
	       pod_is_target(pod);
}

static bool rule_has_selector(const struct np_rule *r)
{
	for (size_t i = 0; i < r->n_peers; i++)
		if (r->peers[i].kind == PEER_SELECTOR)
			return true;
	return false;
}

static bool rule_has_ipblock(const struct np_rule *r, int family)
{
	for (size_t i = 0; i < r->n_peers; i++)
		if (r->peers[i].kind == PEER_IPBLOCK &&
		    (!family || r->peers[i].cidr.addr.family == family))
			return true;
	return false;
}

bool plan_rule_has_named(const struct compiled_rule *cr)
{
	if (cr->dir != DIR_EGRESS)
		return false;
	for (size_t i = 0; i < cr->rule->n_ports; i++)
		if (cr->rule->ports[i].name)
			return true;
	return false;
}

bool plan_rule_named_ipblock(const struct compiled_rule *cr)
{
	return plan_rule_has_named(cr) &&
	       (cr->rule->n_peers == 0 || rule_has_ipblock(cr->rule, 0));
}

static int chain_push(struct plan_chain *c, const struct plan_rule *r)
{
	struct plan_rule *n = realloc(c->rules, (c->n_rules + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	c->rules = n;
	n[c->n_rules] = *r;
	n[c->n_rules].set = r->set ? strdup(r->set) : NULL;
	n[c->n_rules].comment = r->comment ? strndup(r->comment, PLAN_COMMENT_MAX - 1) : NULL;
	c->n_rules++;
	if ((r->set && !n[c->n_rules - 1].set) || (r->comment && !n[c->n_rules - 1].comment))
		return -ENOMEM;
	return 0;
}

static int chain_add_key(struct plan_chain *c, const char *key)
{
	char **n = realloc(c->rule_keys, (c->n_rule_keys + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	c->rule_keys = n;
	if (!(n[c->n_rule_keys] = strdup(key)))
		return -ENOMEM;
	c->n_rule_keys++;
	return 0;
}

static struct plan_chain *chain_new(const char *name, const char *comment)
{
	struct plan_chain *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->name = strdup(name);
	c->comment = strndup(comment, PLAN_COMMENT_MAX - 1);
	if (!c->name || !c->comment) {
		plan_chain_free(c);
		return NULL;
	}
	return c;
}

#define MAX_PORT_RANGES 512

static int add_rule_lines(struct plan_chain *c, const struct pod_obj *pod, enum direction dir,
			  const struct compiled_rule *cr)
{
	struct port_range pr[MAX_PORT_RANGES];
	char key[PLAN_NAME_MAX], set[PLAN_NAME_MAX], comment[PLAN_COMMENT_MAX];
	enum plan_set_kind targets[4];
	size_t nt = 0;
	int n, r;

	plan_rule_key(cr->pol->ns, cr->pol->name, dir, cr->index, key);
	snprintf(comment, sizeof(comment), "%s/%s %s[%u]", cr->pol->ns, cr->pol->name,
		 direction_name(dir), cr->index);
	/* ingress: ports resolve on the pod itself; egress: numeric here, named via the named sets */
	n = engine_resolve_ports(cr->rule, dir == DIR_INGRESS ? pod : NULL, pr, MAX_PORT_RANGES);
	if (n < 0)
		return n;
	if (rule_has_selector(cr->rule)) {
		targets[nt++] = PLAN_SET_PODS4;
		targets[nt++] = PLAN_SET_PODS6;
	}
	if (rule_has_ipblock(cr->rule, AF_INET))
		targets[nt++] = PLAN_SET_CIDR4;
	if (rule_has_ipblock(cr->rule, AF_INET6))
		targets[nt++] = PLAN_SET_CIDR6;
	bool named = plan_rule_has_named(cr);
	if (nt > 0 || named) {
		if ((r = chain_add_key(c, key)) < 0)
			return r;
	}

	for (size_t t = 0; t < (cr->rule->n_peers ? nt : 1); t++) {
		for (int i = 0; i < n; i++) {
			struct plan_rule pl = {.verdict = PLAN_V_RETURN, .comment = comment};

			if (cr->rule->n_peers) {
				bool v4 = targets[t] == PLAN_SET_PODS4 || targets[t] == PLAN_SET_CIDR4;

				plan_set_name(key, targets[t], set);
				pl.nfproto = v4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
				pl.addr = dir == DIR_INGRESS ? PLAN_ADDR_SRC : PLAN_ADDR_DST;
				pl.set = set;
			}
			if (!pr[i].all_protocols) {
				pl.l4proto = pr[i].proto;
				if (pr[i].lo != 0 || pr[i].hi != 65535) {
					pl.has_ports = true;
					pl.port_lo = pr[i].lo;
					pl.port_hi = pr[i].hi;
				}
			}
			if ((r = chain_push(c, &pl)) < 0)
				return r;
		}
	}
	if (named) {
		for (int f = 0; f < 2; f++) {
			struct plan_rule pl = {
				.verdict = PLAN_V_RETURN,
				.comment = comment,
				.nfproto = f == 0 ? NFPROTO_IPV4 : NFPROTO_IPV6,
				.addr = PLAN_ADDR_DST,
				.named = true,
				.set = set,
			};

			plan_set_name(key, f == 0 ? PLAN_SET_NAMED4 : PLAN_SET_NAMED6, set);
			if ((r = chain_push(c, &pl)) < 0)
				return r;
		}
	}
	return 0;
}

int plan_pod_chain(const struct engine *e, const struct plan_config *cfg,
		   const struct pod_obj *pod, enum direction dir, struct plan_chain **ret)
{
	const struct compiled_rule *const *crs;
	char name[PLAN_NAME_MAX], comment[PLAN_COMMENT_MAX];
	struct plan_chain *c;
	size_t n;
	int r;

	*ret = NULL;
	if (!plan_pod_local(cfg, pod) || !engine_pod_isolated(e, pod, dir))
		return 0;
	plan_chain_name(dir, pod->ns, pod->name, name);
	snprintf(comment, sizeof(comment), "pod %s/%s %s", pod->ns, pod->name, direction_name(dir));
	c = chain_new(name, comment);
	if (!c)
		return -ENOMEM;
	if (asprintf(&c->pod, "%s/%s", pod->ns, pod->name) < 0) {
		c->pod = NULL;
		plan_chain_free(c);
		return -ENOMEM;
	}
	n = engine_pod_rules(e, pod, dir, &crs);
	for (size_t i = 0; i < n; i++)
		if ((r = add_rule_lines(c, pod, dir, crs[i])) < 0)
			goto fail;
	if (cfg->reject) {
		struct plan_rule tcp = {.l4proto = PROTO_TCP, .verdict = PLAN_V_REJECT_TCP,
					.comment = "deny"};
		struct plan_rule any = {.verdict = PLAN_V_REJECT_ICMPX, .comment = "deny"};

		if ((r = chain_push(c, &tcp)) < 0 || (r = chain_push(c, &any)) < 0)
			goto fail;
	} else {
		struct plan_rule drop = {.verdict = PLAN_V_DROP, .comment = "deny"};

		if ((r = chain_push(c, &drop)) < 0)
			goto fail;
	}
	*ret = c;
	return 0;
fail:
	plan_chain_free(c);
	return r;
}

/* ---- base objects ---- */

static int add_base_chain(struct plan *p, const char *name, uint32_t hook, bool ingress)
{
	static const struct {
		enum direction dir;
		int family;
	} dispatch[] = {
		{DIR_EGRESS, AF_INET},
		{DIR_EGRESS, AF_INET6},
		{DIR_INGRESS, AF_INET},
		{DIR_INGRESS, AF_INET6},
	};
	struct plan_chain *c = chain_new(name, "netpold: dispatch to per-pod chains");
	struct plan_rule est = {.ct_estrel = true, .verdict = PLAN_V_ACCEPT,
				.comment = "established"};
	struct plan_rule nd = {.nfproto = NFPROTO_IPV6, .l4proto = 58, .icmpv6_nd = true,
			       .verdict = PLAN_V_ACCEPT, .comment = "neighbour discovery"};
	int r;

	if (!c)
		return -ENOMEM;
	c->base = true;
	c->hooknum = hook;
	if ((r = chain_push(c, &est)) < 0 || (r = chain_push(c, &nd)) < 0)
		goto fail;
	for (size_t i = 0; i < ELEMENTSOF(dispatch); i++) {
		if (dispatch[i].dir == DIR_INGRESS && !ingress)
			continue;
		struct plan_rule v = {
			.nfproto = dispatch[i].family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6,
			.addr = dispatch[i].dir == DIR_INGRESS ? PLAN_ADDR_DST : PLAN_ADDR_SRC,
			.set = (char *)plan_vmap_name(dispatch[i].dir, dispatch[i].family),
			.verdict = PLAN_V_VMAP,
			.comment = dispatch[i].dir == DIR_INGRESS ? "ingress of local pods"
								  : "egress of local pods",
		};
		if ((r = chain_push(c, &v)) < 0)
			goto fail;
	}
	if ((r = plan_map_puts(&p->chains, name, c, NULL)) < 0)
		goto fail;
	return 0;
fail:
	plan_chain_free(c);
	return r;
}

int plan_add_base(struct plan *p)
{
	static const enum direction dirs[] = {DIR_INGRESS, DIR_EGRESS};
	int r;

	p->has_table = true;
	if ((r = add_base_chain(p, "forward", NF_INET_FORWARD, true)) < 0 ||
	    (r = add_base_chain(p, "input", NF_INET_LOCAL_IN, false)) < 0)
		return r;
	for (size_t d = 0; d < 2; d++)
		for (int f = 0; f < 2; f++) {
			const char *name = plan_vmap_name(dirs[d], f ? AF_INET6 : AF_INET);
			struct plan_set *s = plan_set_new(name, f ? PLAN_SET_VMAP6 : PLAN_SET_VMAP4,
							  dirs[d] == DIR_INGRESS
								  ? "local pods isolated for ingress"
								  : "local pods isolated for egress");

			if (!s)
				return -ENOMEM;
			if ((r = plan_map_puts(&p->sets, name, s, NULL)) < 0) {
				plan_set_free(s);
				return r;
			}
		}
	return 0;
}

/* ---- rule sets ---- */

static bool named_port_of(const struct np_port *np, const struct pod_obj *pod, uint16_t *ret)
{
	for (size_t i = 0; i < pod->n_ports; i++)
		if (pod->ports[i].name && strcmp(pod->ports[i].name, np->name) == 0 &&
		    pod->ports[i].proto == np->proto) {
			*ret = pod->ports[i].port;
			return true;
		}
	return false;
}

static int named_elems(const struct compiled_rule *cr, const struct pod_obj *pod,
		       struct plan_member_elem *ret, size_t max, size_t n)
{
	for (size_t f = 0; f < pod->n_ips; f++)
		for (size_t i = 0; i < cr->rule->n_ports; i++) {
			const struct np_port *np = &cr->rule->ports[i];
			uint16_t port;

			if (!np->name || !named_port_of(np, pod, &port))
				continue;
			if (n >= max)
				return -E2BIG;
			ret[n].kind = pod->ips[f].family == AF_INET ? PLAN_SET_NAMED4 : PLAN_SET_NAMED6;
			plan_elem_named(&pod->ips[f], np->proto, port, &ret[n].el);
			n++;
		}
	return (int)n;
}

int plan_member_elems(const struct compiled_rule *cr, const struct pod_obj *pod,
		      struct plan_member_elem *ret, size_t max)
{
	size_t n = 0;

	if (rule_has_selector(cr->rule))
		for (size_t f = 0; f < pod->n_ips; f++) {
			if (n >= max)
				return -E2BIG;
			ret[n].kind = pod->ips[f].family == AF_INET ? PLAN_SET_PODS4 : PLAN_SET_PODS6;
			plan_elem_addr(&pod->ips[f], &ret[n].el);
			n++;
		}
	if (plan_rule_has_named(cr))
		return named_elems(cr, pod, ret, max, n);
	return (int)n;
}

#define MAX_MEMBER_ELEMS (MODEL_MAX_POD_IPS * (MODEL_MAX_PORTS + 1))

struct rule_sets_ctx {
	const struct compiled_rule *cr;
	struct plan_set *sets[_PLAN_SET_KIND_MAX];
	struct plan_map *records;
	struct plan_member_elem buf[MAX_MEMBER_ELEMS];
	int err;
};

static int add_member_elems(struct rule_sets_ctx *ctx, const struct plan_member_elem *v, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		struct plan_set *s = ctx->sets[v[i].kind];

		if (s && (r = plan_set_add(s, &v[i].el)) < 0)
			return r;
	}
	return 0;
}

static int member_cb(void *ud, const struct pod_obj *pod)
{
	struct rule_sets_ctx *ctx = ud;
	int n = plan_member_elems(ctx->cr, pod, ctx->buf, MAX_MEMBER_ELEMS);
	int r;

	if (n < 0)
		return ctx->err = n;
	if ((r = add_member_elems(ctx, ctx->buf, n)) < 0)
		return ctx->err = r;
	if (ctx->records) {
		char key[2 * MODEL_MAX_NAME_LEN + 2];
		struct plan_record *rec = calloc(1, sizeof(*rec));

		snprintf(key, sizeof(key), "%s/%s", pod->ns, pod->name);
		if (!rec || (n && !(rec->v = malloc(n * sizeof(*rec->v))))) {
			free(rec);
			return ctx->err = -ENOMEM;
		}
		rec->n = n;
		memcpy(rec->v, ctx->buf, n * sizeof(*rec->v));
		void *old;
		if (plan_map_puts(ctx->records, key, rec, &old) < 0) {
			plan_record_free(rec);
			return ctx->err = -ENOMEM;
		}
		plan_record_free(old);
	}
	return 0;
}

static bool in_ipblock(const struct np_rule *r, const struct ip_addr *ip)
{
	for (size_t i = 0; i < r->n_peers; i++) {
		const struct np_peer *p = &r->peers[i];
		bool excluded = false;

		if (p->kind != PEER_IPBLOCK || !cidr_contains(&p->cidr, ip))
			continue;
		for (size_t x = 0; x < p->n_except && !excluded; x++)
			excluded = cidr_contains(&p->except[x], ip);
		if (!excluded)
			return true;
	}
	return false;
}

static int all_pods_cb(void *ud, const struct pod_obj *pod)
{
	struct rule_sets_ctx *ctx = ud;
	struct pod_obj one;
	int n, r;

	if (!pod_is_peer(pod))
		return 0;
	/* a named port applies to pods inside the ipBlock (by address), never to other addresses */
	one = *pod;
	one.n_ips = 0;
	for (size_t f = 0; f < pod->n_ips; f++)
		if (ctx->cr->rule->n_peers == 0 || in_ipblock(ctx->cr->rule, &pod->ips[f]))
			one.ips[one.n_ips++] = pod->ips[f];
	if (!one.n_ips)
		return 0;
	n = named_elems(ctx->cr, &one, ctx->buf, MAX_MEMBER_ELEMS, 0);
	if (n < 0)
		return ctx->err = n;
	if ((r = add_member_elems(ctx, ctx->buf, n)) < 0)
		return ctx->err = r;
	return 0;
}

#define MAX_INTERVALS (MODEL_MAX_PEERS * (MODEL_MAX_EXCEPT + 1))

int plan_add_rule_sets(const struct engine *e, const struct compiled_rule *cr, struct plan *p,
		       struct plan_map *records)
{
	struct rule_sets_ctx *ctx;
	char key[PLAN_NAME_MAX], name[PLAN_NAME_MAX], comment[PLAN_COMMENT_MAX];
	int r = 0;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->cr = cr;
	ctx->records = records;
	plan_rule_key(cr->pol->ns, cr->pol->name, cr->dir, cr->index, key);
	snprintf(comment, sizeof(comment), "%s/%s %s[%u]", cr->pol->ns, cr->pol->name,
		 direction_name(cr->dir), cr->index);
	bool want[_PLAN_SET_KIND_MAX] = {
		[PLAN_SET_PODS4] = rule_has_selector(cr->rule),
		[PLAN_SET_PODS6] = rule_has_selector(cr->rule),
		[PLAN_SET_CIDR4] = rule_has_ipblock(cr->rule, AF_INET),
		[PLAN_SET_CIDR6] = rule_has_ipblock(cr->rule, AF_INET6),
		[PLAN_SET_NAMED4] = plan_rule_has_named(cr),
		[PLAN_SET_NAMED6] = plan_rule_has_named(cr),
	};
	for (int k = 0; k < _PLAN_SET_KIND_MAX; k++) {
		if (!want[k])
			continue;
		plan_set_name(key, k, name);
		ctx->sets[k] = plan_set_new(name, k, comment);
		if (!ctx->sets[k]) {
			r = -ENOMEM;
			goto out;
		}
		void *old;
		if ((r = plan_map_puts(&p->sets, name, ctx->sets[k], &old)) < 0) {
			plan_set_free(ctx->sets[k]);
			goto out;
		}
		plan_set_free(old);
	}
	if (want[PLAN_SET_PODS4] || want[PLAN_SET_NAMED4]) {
		r = engine_rule_members(e, cr->id, member_cb, ctx);
		if (ctx->err < 0 || r < 0) {
			r = ctx->err < 0 ? ctx->err : r;
			goto out;
		}
	}
	if (plan_rule_named_ipblock(cr)) {
		engine_foreach_pod(e, all_pods_cb, ctx);
		if ((r = ctx->err) < 0)
			goto out;
	}
	for (int k = PLAN_SET_CIDR4; k <= PLAN_SET_CIDR6; k++) {
		if (!want[k])
			continue;
		struct plan_elem *iv = malloc(MAX_INTERVALS * sizeof(*iv));
		if (!iv) {
			r = -ENOMEM;
			goto out;
		}
		int n = plan_rule_intervals(cr->rule, k == PLAN_SET_CIDR4 ? AF_INET : AF_INET6, iv,
					    MAX_INTERVALS);
		for (int i = 0; i < n && r >= 0; i++)
			r = plan_set_add(ctx->sets[k], &iv[i]);
		free(iv);
		if (n < 0 || r < 0) {
			r = n < 0 ? n : r;
			goto out;
		}
	}
	r = 0;
out:
	free(ctx);
	return r;
}

/* ---- the whole desired state ---- */

struct build_ctx {
	const struct engine *e;
	const struct plan_config *cfg;
	struct plan *p;
	struct plan_map rules; /* key -> struct plan_rule_info */
	int err;
};

static void rule_info_free_v(void *p)
{
	plan_rule_info_free(p);
}

static int build_pod_cb(void *ud, const struct pod_obj *pod)
{
	struct build_ctx *ctx = ud;
	int r;

	for (int d = 0; d < 2; d++) {
		struct plan_chain *c;
		const struct compiled_rule *const *crs;
		size_t n;

		if ((r = plan_pod_chain(ctx->e, ctx->cfg, pod, d, &c)) < 0)
			return ctx->err = r;
		if (!c)
			continue;
		if ((r = plan_map_puts(&ctx->p->chains, c->name, c, NULL)) < 0) {
			plan_chain_free(c);
			return ctx->err = r;
		}
		/* reference counts of the rules' sets */
		n = engine_pod_rules(ctx->e, pod, d, &crs);
		for (size_t i = 0; i < n; i++) {
			char key[PLAN_NAME_MAX];
			struct plan_rule_info *ri;
			bool used = false;

			plan_rule_key(crs[i]->pol->ns, crs[i]->pol->name, d, crs[i]->index, key);
			for (size_t k = 0; k < c->n_rule_keys && !used; k++)
				used = strcmp(c->rule_keys[k], key) == 0;
			if (!used)
				continue;
			ri = plan_map_gets(&ctx->rules, key);
			if (!ri) {
				ri = calloc(1, sizeof(*ri));
				if (!ri || plan_map_puts(&ctx->rules, key, ri, NULL) < 0) {
					free(ri);
					return ctx->err = -ENOMEM;
				}
				ri->id = crs[i]->id;
				ri->all_pods = plan_rule_named_ipblock(crs[i]);
				if ((r = plan_add_rule_sets(ctx->e, crs[i], ctx->p, &ri->records)) < 0)
					return ctx->err = r;
			}
			ri->refs++;
		}
		/* vmap elements: the pod's addresses jump to its chain */
		for (size_t f = 0; f < pod->n_ips; f++) {
			struct plan_set *s = plan_map_gets(
				&ctx->p->sets, plan_vmap_name(d, pod->ips[f].family));
			struct plan_elem el;

			plan_elem_addr(&pod->ips[f], &el);
			el.chain = c->name;
			if (s && !plan_map_get(&s->elems, el.key, el.klen) &&
			    (r = plan_set_add(s, &el)) < 0)
				return ctx->err = r;
		}
	}
	return 0;
}

int plan_build(const struct engine *e, const struct plan_config *cfg, struct plan *ret,
	       struct plan_map *ret_rules)
{
	struct build_ctx ctx = {.e = e, .cfg = cfg, .p = ret};
	int r;

	*ret = (struct plan){0};
	if ((r = plan_add_base(ret)) < 0)
		goto fail;
	engine_foreach_pod(e, build_pod_cb, &ctx);
	if ((r = ctx.err) < 0)
		goto fail;
	if (ret_rules)
		*ret_rules = ctx.rules;
	else
		plan_map_clear(&ctx.rules, rule_info_free_v);
	return 0;
fail:
	plan_map_clear(&ctx.rules, rule_info_free_v);
	plan_clear(ret);
	return r;
}

/* ---- diff ---- */

int plan_delta_push(const void ***arr, size_t *n, const void *obj)
{
	const void **v = realloc(*arr, (*n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	v[(*n)++] = obj;
	*arr = v;
	return 0;
}

#define PUSH(arr, n, obj) plan_delta_push((const void ***)&(arr), &(n), (obj))

int plan_delta_add_elem(struct plan_delta *d, bool add, const struct plan_set *s,
			const struct plan_elem *el)
{
	struct plan_elem_op **arr = add ? &d->add_elems : &d->del_elems;
	size_t *n = add ? &d->n_add_elems : &d->n_del_elems;
	struct plan_elem_op *v;

	/* grow geometrically: element lists can be long */
	if ((*n & (*n - 1)) == 0 || *n == 0) {
		v = realloc(*arr, (*n ? *n * 2 : 16) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		*arr = v;
	}
	(*arr)[(*n)++] = (struct plan_elem_op){s, el};
	return 0;
}

void plan_delta_clear(struct plan_delta *d)
{
	free(d->add_sets);
	free(d->del_sets);
	free(d->flush_sets);
	free(d->add_chains);
	free(d->del_chains);
	free(d->replace_chains);
	free(d->add_elems);
	free(d->del_elems);
	*d = (struct plan_delta){0};
}

bool plan_delta_empty(const struct plan_delta *d)
{
	return !d->add_table && !d->n_add_sets && !d->n_del_sets && !d->n_flush_sets &&
	       !d->n_add_chains && !d->n_del_chains && !d->n_replace_chains && !d->n_add_elems &&
	       !d->n_del_elems;
}

static bool is_interval(const struct plan_set *s)
{
	return s->flags & 0x4;
}

int plan_diff_set(const struct plan_set *cur, const struct plan_set *want, struct plan_delta *d)
{
	struct plan_map_ent *ent;
	int r;

	if (is_interval(want)) {
		if (plan_set_same_elems(cur, want))
			return 0;
		if ((r = PUSH(d->flush_sets, d->n_flush_sets, want)) < 0)
			return r;
		for (size_t i = 0; plan_map_next(&want->elems, &i, &ent);)
			if ((r = plan_delta_add_elem(d, true, want, ent->val)) < 0)
				return r;
		return 0;
	}
	for (size_t i = 0; plan_map_next(&cur->elems, &i, &ent);) {
		const struct plan_elem *w = plan_map_get(&want->elems, ent->key, ent->klen);

		if ((!w || !elem_equal(w, ent->val)) &&
		    (r = plan_delta_add_elem(d, false, cur, ent->val)) < 0)
			return r;
	}
	for (size_t i = 0; plan_map_next(&want->elems, &i, &ent);) {
		const struct plan_elem *c = plan_map_get(&cur->elems, ent->key, ent->klen);

		if ((!c || !elem_equal(c, ent->val)) &&
		    (r = plan_delta_add_elem(d, true, want, ent->val)) < 0)
			return r;
	}
	return 0;
}

int plan_diff(const struct plan *cur, const struct plan *want, struct plan_delta *d)
{
	struct plan_map_ent *ent;
	struct plan_map retyped = {0};
	int r = 0;

	*d = (struct plan_delta){.add_table = !cur->has_table && want->has_table};
	for (size_t i = 0; plan_map_next(&cur->sets, &i, &ent);) {
		const struct plan_set *w = plan_map_get(&want->sets, ent->key, ent->klen);

		if (!w || !plan_set_same_type(w, ent->val)) {
			if ((r = PUSH(d->del_sets, d->n_del_sets, ent->val)) < 0)
				goto out;
			if (w && (r = plan_map_puts(&retyped, w->name, (void *)w, NULL)) < 0)
				goto out;
		}
	}
	for (size_t i = 0; plan_map_next(&want->sets, &i, &ent);) {
		const struct plan_set *w = ent->val;
		const struct plan_set *c = plan_map_get(&cur->sets, ent->key, ent->klen);

		if (!c || plan_map_gets(&retyped, w->name)) {
			struct plan_map_ent *el;

			if ((r = PUSH(d->add_sets, d->n_add_sets, w)) < 0)
				goto out;
			for (size_t j = 0; plan_map_next(&w->elems, &j, &el);)
				if ((r = plan_delta_add_elem(d, true, w, el->val)) < 0)
					goto out;
		} else if ((r = plan_diff_set(c, w, d)) < 0) {
			goto out;
		}
	}
	for (size_t i = 0; plan_map_next(&cur->chains, &i, &ent);)
		if (!plan_map_get(&want->chains, ent->key, ent->klen) &&
		    (r = PUSH(d->del_chains, d->n_del_chains, ent->val)) < 0)
			goto out;
	for (size_t i = 0; plan_map_next(&want->chains, &i, &ent);) {
		const struct plan_chain *w = ent->val;
		const struct plan_chain *c = plan_map_get(&cur->chains, ent->key, ent->klen);
		bool uses_retyped = false;

		for (size_t k = 0; k < w->n_rules && !uses_retyped && retyped.n; k++)
			uses_retyped = w->rules[k].set && plan_map_gets(&retyped, w->rules[k].set);
		if (!c)
			r = PUSH(d->add_chains, d->n_add_chains, w);
		else if (!plan_chain_equal(c, w) || uses_retyped)
			r = PUSH(d->replace_chains, d->n_replace_chains, w);
		if (r < 0)
			goto out;
	}
	/* a retyped set is deleted: chains still holding rules on it must be flushed first */
	if (retyped.n)
		for (size_t i = 0; plan_map_next(&cur->chains, &i, &ent);) {
			const struct plan_chain *c = ent->val;
			const struct plan_chain *w = plan_map_get(&want->chains, ent->key, ent->klen);
			bool listed = false;

			if (!w)
				continue;
			for (size_t k = 0; k < d->n_replace_chains && !listed; k++)
				listed = d->replace_chains[k] == w;
			for (size_t k = 0; k < c->n_rules && !listed; k++)
				if (c->rules[k].set && plan_map_gets(&retyped, c->rules[k].set)) {
					if ((r = PUSH(d->replace_chains, d->n_replace_chains, w)) < 0)
						goto out;
					listed = true;
				}
		}
out:
	plan_map_clear(&retyped, NULL);
	if (r < 0)
		plan_delta_clear(d);
	return r;
}
