/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Containers for the engine's index: hash tables with linear probing and
 * backward-shift deletion (no tombstones, so lookups stay short under churn),
 * a uint32 id set for rule members, a pointer vector, and the refcounted
 * string pool.
 */
#include "engine_int.h"

static size_t slot_of(uint64_t h, size_t cap)
{
	return (size_t)((h * 0x9E3779B97F4A7C15ULL) >> 17) & (cap - 1);
}

void *engine_hmap_get(const struct hmap *m, uint64_t h, engine_hmap_eq_fn eq, const void *key)
{
	size_t mask, i;

	if (!m->n)
		return NULL;
	mask = m->cap - 1;
	for (i = slot_of(h, m->cap); m->v[i]; i = (i + 1) & mask)
		if (m->h[i] == h && eq(m->v[i], key))
			return m->v[i];
	return NULL;
}

static void hmap_insert(uint64_t *hs, void **vs, size_t cap, uint64_t h, void *val)
{
	size_t i;

	for (i = slot_of(h, cap); vs[i]; i = (i + 1) & (cap - 1))
		;
	hs[i] = h;
	vs[i] = val;
}

int engine_hmap_put(struct hmap *m, uint64_t h, void *val)
{
	/* Load up to 7/8: probe runs stay short enough, memory matters at 100k pods. */
	if ((m->n + 1) * 8 > m->cap * 7) {
		size_t ncap = m->cap ? m->cap * 2 : 16;
		uint64_t *nh = calloc(ncap, sizeof(*nh));
		void **nv = calloc(ncap, sizeof(*nv));

		if (!nh || !nv) {
			free(nh);
			free(nv);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->v[i])
				hmap_insert(nh, nv, ncap, m->h[i], m->v[i]);
		free(m->h);
		free(m->v);
		m->h = nh;
		m->v = nv;
		m->cap = ncap;
	}
	hmap_insert(m->h, m->v, m->cap, h, val);
	m->n++;
	return 0;
}

bool engine_hmap_del(struct hmap *m, uint64_t h, const void *val)
{
	size_t mask, i, j;

	if (!m->n)
		return false;
	mask = m->cap - 1;
	for (i = slot_of(h, m->cap); m->v[i] != val; i = (i + 1) & mask)
		if (!m->v[i])
			return false;
	/* Backward shift: pull later entries of the probe run into the hole. */
	for (j = (i + 1) & mask; m->v[j]; j = (j + 1) & mask) {
		size_t home = slot_of(m->h[j], m->cap);

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->h[i] = m->h[j];
			m->v[i] = m->v[j];
			i = j;
		}
	}
	m->v[i] = NULL;
	m->n--;
	return true;
}

void engine_hmap_clear(struct hmap *m)
{
	free(m->h);
	free(m->v);
	*m = (struct hmap){0};
}

static void u32_insert(uint32_t *v, uint32_t cap, uint32_t x)
{
	uint32_t i;

	for (i = u32_slot(x, cap - 1); v[i] != UINT32_MAX; i = (i + 1) & (cap - 1))
		;
	v[i] = x;
}

int engine_u32set_add(struct u32set *s, uint32_t x)
{
	if (engine_u32set_has(s, x))
		return 0;
	if ((s->n + 1) * 4 > s->cap * 3) {
		uint32_t ncap = s->cap ? s->cap * 2 : 4;
		uint32_t *nv = malloc(ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		memset(nv, 0xff, ncap * sizeof(*nv));
		for (uint32_t i = 0; i < s->cap; i++)
			if (s->v[i] != UINT32_MAX)
				u32_insert(nv, ncap, s->v[i]);
		free(s->v);
		s->v = nv;
		s->cap = ncap;
	}
	u32_insert(s->v, s->cap, x);
	s->n++;
	return 1;
}

bool engine_u32set_del(struct u32set *s, uint32_t x)
{
	uint32_t mask, i, j;

	if (!s->n)
		return false;
	mask = s->cap - 1;
	for (i = u32_slot(x, mask); s->v[i] != x; i = (i + 1) & mask)
		if (s->v[i] == UINT32_MAX)
			return false;
	for (j = (i + 1) & mask; s->v[j] != UINT32_MAX; j = (j + 1) & mask) {
		uint32_t home = u32_slot(s->v[j], mask);

		if (((j - home) & mask) >= ((j - i) & mask)) {
			s->v[i] = s->v[j];
			i = j;
		}
	}
	s->v[i] = UINT32_MAX;
	s->n--;
	return true;
}

void engine_u32set_clear(struct u32set *s)
{
	free(s->v);
	*s = (struct u32set){0};
}

int engine_pvec_push(struct pvec *p, void *x)
{
	if (p->n == p->cap) {
		uint32_t ncap = p->cap ? p->cap * 2 : 3;
		void **nv = realloc(p->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		p->v = nv;
		p->cap = ncap;
	}
	p->v[p->n++] = x;
	return 0;
}

bool engine_pvec_remove(struct pvec *p, const void *x)
{
	for (uint32_t i = 0; i < p->n; i++)
		if (p->v[i] == x) {
			p->v[i] = p->v[--p->n];
			return true;
		}
	return false;
}

void engine_pvec_clear(struct pvec *p)
{
	free(p->v);
	*p = (struct pvec){0};
}

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
	const uint8_t *d = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ d[i]) * 0x100000001b3ULL;
	return h;
}

uint64_t engine_hash_str2(const char *a, const char *b)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fnv(h, a, strlen(a) + 1);
	if (b)
		h = fnv(h, b, strlen(b));
	return h;
}

uint64_t engine_hash_ip(const struct ip_addr *ip)
{
	return fnv(0xcbf29ce484222325ULL ^ ip->family, ip->a, ip_addr_len(ip));
}

static size_t pmap_slot(const void *k, size_t mask)
{
	uint64_t x = (uint64_t)(uintptr_t)k;

	x = (x ^ (x >> 29)) * 0xbf58476d1ce4e5b9ULL;
	return (size_t)(x >> 32) & mask;
}

static void pmap_insert(struct pmap_ent *es, size_t cap, const void *k, void *v)
{
	size_t i;

	for (i = pmap_slot(k, cap - 1); es[i].k; i = (i + 1) & (cap - 1))
		;
	es[i] = (struct pmap_ent){k, v};
}

int engine_pmap_put(struct pmap *m, const void *k, void *v)
{
	if ((m->n + 1) * 8 > m->cap * 7) {
		size_t ncap = m->cap ? m->cap * 2 : 16;
		struct pmap_ent *ne = calloc(ncap, sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		for (size_t i = 0; i < m->cap; i++)
			if (m->e[i].k)
				pmap_insert(ne, ncap, m->e[i].k, m->e[i].v);
		free(m->e);
		m->e = ne;
		m->cap = ncap;
	}
	pmap_insert(m->e, m->cap, k, v);
	m->n++;
	return 0;
}

void engine_pmap_del(struct pmap *m, const void *k)
{
	size_t mask, i, j;

	if (!m->n)
		return;
	mask = m->cap - 1;
	for (i = pmap_slot(k, mask); m->e[i].k != k; i = (i + 1) & mask)
		if (!m->e[i].k)
			return;
	for (j = (i + 1) & mask; m->e[j].k; j = (j + 1) & mask) {
		size_t home = pmap_slot(m->e[j].k, mask);

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->e[i] = m->e[j];
			i = j;
		}
	}
	m->e[i] = (struct pmap_ent){0};
	m->n--;
}

void engine_pmap_clear(struct pmap *m)
{
	free(m->e);
	*m = (struct pmap){0};
}

struct istr {
	uint32_t refs;
	char s[];
};

static bool istr_eq(const void *val, const void *key)
{
	return strcmp(((const struct istr *)val)->s, key) == 0;
}

char *engine_spool_get(struct hmap *pool, const char *s)
{
	uint64_t h = engine_hash_str2(s, NULL);
	struct istr *x = engine_hmap_get(pool, h, istr_eq, s);
	size_t len;

	if (x) {
		x->refs++;
		return x->s;
	}
	len = strlen(s);
	x = malloc(sizeof(*x) + len + 1);
	if (!x)
		return NULL;
	x->refs = 1;
	memcpy(x->s, s, len + 1);
	if (engine_hmap_put(pool, h, x) < 0) {
		free(x);
		return NULL;
	}
	return x->s;
}

void engine_spool_release(struct hmap *pool, char *s)
{
	uint64_t h;
	struct istr *x;

	if (!s)
		return;
	h = engine_hash_str2(s, NULL);
	x = engine_hmap_get(pool, h, istr_eq, s);
	if (!x || x->s != s) {
		free(s); /* not pooled: the object still owns it */
		return;
	}
	if (--x->refs == 0) {
		engine_hmap_del(pool, h, x);
		free(x);
	}
}
