/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The difference between two plans (what the kernel holds, what we want), as
 * lists of objects and elements to add, delete, flush or refill.
 */
#include "plan.h"

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

		if ((!w || !plan_elem_equal(w, ent->val)) &&
		    (r = plan_delta_add_elem(d, false, cur, ent->val)) < 0)
			return r;
	}
	for (size_t i = 0; plan_map_next(&want->elems, &i, &ent);) {
		const struct plan_elem *c = plan_map_get(&cur->elems, ent->key, ent->klen);

		if ((!c || !plan_elem_equal(c, ent->val)) &&
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
