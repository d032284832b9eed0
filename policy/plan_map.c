/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small byte-keyed hash map (open addressing, linear probing, tombstones)
 * for the dataplane's plan: names to sets and chains, element keys to
 * elements. Keys are copied; values are the caller's.
 */
#include "plan.h"

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

