/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Label selector evaluation used by the engine's index. Both the selector's
 * matchLabels and the object's labels are sorted by key, so matchLabels is a
 * merge walk; expressions use binary search on the object's labels.
 */
#include <string.h>

#include "selector.h"

bool selector_labels_match(const struct labels *sel, const struct labels *l)
{
	size_t j = 0;

	/* Both maps are sorted by key: one linear merge. */
	for (size_t i = 0; i < sel->n; i++) {
		int c = 1;

		while (j < l->n && (c = strcmp(l->v[j].key, sel->v[i].key)) < 0)
			j++;
		if (j >= l->n || c != 0)
			return false;
		if (strcmp(l->v[j].value, sel->v[i].value) != 0)
			return false;
		j++;
	}
	return true;
}

static bool values_contain(const struct selector_req *r, const char *v)
{
	size_t lo = 0, hi = r->n_values;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->values[mid], v);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool req_matches(const struct selector_req *r, const struct labels *l)
{
	const char *v = labels_get(l, r->key);

	switch (r->op) {
	case SEL_OP_IN:
		return v && values_contain(r, v);
	case SEL_OP_NOT_IN:
		return !v || !values_contain(r, v);
	case SEL_OP_EXISTS:
		return v != NULL;
	case SEL_OP_DOES_NOT_EXIST:
		return v == NULL;
	}
	/* Unknown operator from a lenient decoder: fail closed. */
	return false;
}

bool selector_matches(const struct selector *s, const struct labels *l)
{
	if (!selector_labels_match(&s->match_labels, l))
		return false;
	for (size_t i = 0; i < s->n_exprs; i++)
		if (!req_matches(&s->exprs[i], l))
			return false;
	return true;
}

bool selector_is_empty(const struct selector *s)
{
	return s->match_labels.n == 0 && s->n_exprs == 0;
}

bool selector_equal(const struct selector *a, const struct selector *b)
{
	if (!labels_equal(&a->match_labels, &b->match_labels) || a->n_exprs != b->n_exprs)
		return false;
	for (size_t i = 0; i < a->n_exprs; i++) {
		const struct selector_req *x = &a->exprs[i], *y = &b->exprs[i];

		if (x->op != y->op || x->n_values != y->n_values || strcmp(x->key, y->key) != 0)
			return false;
		for (size_t j = 0; j < x->n_values; j++)
			if (strcmp(x->values[j], y->values[j]) != 0)
				return false;
	}
	return true;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	/* FNV-1a, with a separator so "ab"+"c" differs from "a"+"bc". */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return (h ^ 0xff) * 0x100000001b3ULL;
}

uint64_t selector_hash(const struct selector *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < s->match_labels.n; i++) {
		h = hash_str(h, s->match_labels.v[i].key);
		h = hash_str(h, s->match_labels.v[i].value);
	}
	for (size_t i = 0; i < s->n_exprs; i++) {
		h = hash_str(h, s->exprs[i].key);
		h = (h ^ (uint64_t)s->exprs[i].op) * 0x100000001b3ULL;
		for (size_t j = 0; j < s->exprs[i].n_values; j++)
			h = hash_str(h, s->exprs[i].values[j]);
	}
	return h;
}

int selector_copy(struct selector *dst, const struct selector *src)
{
	*dst = (struct selector){0};
	for (size_t i = 0; i < src->match_labels.n; i++)
		if (labels_set(&dst->match_labels, src->match_labels.v[i].key,
			       src->match_labels.v[i].value) < 0)
			goto oom;
	if (!src->n_exprs)
		return 0;
	dst->exprs = calloc(src->n_exprs, sizeof(*dst->exprs));
	if (!dst->exprs)
		goto oom;
	for (size_t i = 0; i < src->n_exprs; i++) {
		const struct selector_req *s = &src->exprs[i];
		struct selector_req *d = &dst->exprs[i];

		dst->n_exprs = i + 1;
		d->op = s->op;
		d->key = strdup(s->key);
		if (!d->key)
			goto oom;
		if (!s->n_values)
			continue;
		d->values = calloc(s->n_values, sizeof(char *));
		if (!d->values)
			goto oom;
		for (size_t j = 0; j < s->n_values; j++) {
			d->values[j] = strdup(s->values[j]);
			if (!d->values[j])
				goto oom;
			d->n_values = j + 1;
		}
	}
	return 0;
oom:
	selector_clear(dst);
	return -ENOMEM;
}
