/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dataplane's plan objects: sets, elements, chains and rules, their
 * deterministic names and equality, and the ipBlock/except interval
 * arithmetic. Pure; see include/plan.h and docs/dataplane.md (plan_build.c
 * fills a plan from the engine, plan_diff.c compares two).
 */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <stdio.h>

#include "plan.h"

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
	free(r->nset);
	free(r->log_prefix);
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
	s->comment = comment ? plan_strdup_max(comment, PLAN_COMMENT_MAX - 1) : NULL;
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

bool plan_elem_equal(const struct plan_elem *a, const struct plan_elem *b)
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

		if (!o || !plan_elem_equal(ent->val, o))
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
	       a->verdict == b->verdict && str_eq(a->comment, b->comment) &&
	       str_eq(a->nset, b->nset) && a->log == b->log && a->counter == b->counter &&
	       (!a->log || (a->log_group == b->log_group && a->log_rate == b->log_rate &&
			    a->log_burst == b->log_burst && str_eq(a->log_prefix, b->log_prefix)));
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

char *plan_strdup_max(const char *s, size_t max)
{
	size_t n = 0;
	char *d;

	/* a loop, not strndup: gcc -O3 warns when max exceeds a literal's size */
	while (n < max && s[n])
		n++;
	d = malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
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
	unsigned hbits = c->plen >= bits ? 0 : bits - c->plen;
	/* a shift by 128 is undefined: ::/0 spans everything */
	u128 host = hbits == 128 ? ~(u128)0 : (((u128)1 << hbits) - 1);

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

