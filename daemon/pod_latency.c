/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pod programming latency (pod_latency.h): a local pod is stamped with the
 * input time of the reconcile in which the engine first reports it with an
 * address, and observed when a commit succeeds. A pod is measured once per
 * appearance: removal forgets it, a later re-creation is measured again.
 */
#include <stdio.h>

#include "pod_latency.h"

int pod_latency_init(struct pod_latency *pl, const char *node_name)
{
	*pl = (struct pod_latency){0};
	pl->node_name = strdup_or_null(node_name);
	return node_name && !pl->node_name ? -ENOMEM : 0;
}

void pod_latency_clear(struct pod_latency *pl)
{
	free(pl->node_name);
	plan_map_clear(&pl->seen, NULL);
	plan_map_clear(&pl->pending, free);
	*pl = (struct pod_latency){0};
}

void pod_latency_input(struct pod_latency *pl, uint64_t usec)
{
	pl->input_usec = usec;
}

void pod_latency_hook(void *ud, const struct pod_obj *pod, bool removed)
{
	struct pod_latency *pl = ud;
	char key[2 * MODEL_MAX_NAME_LEN + 2];
	uint64_t *t;

	snprintf(key, sizeof(key), "%s/%s", pod->ns, pod->name);
	if (removed) {
		plan_map_dels(&pl->seen, key);
		free(plan_map_dels(&pl->pending, key));
		return;
	}
	if (!pl->node_name || !pod->node_name || strcmp(pod->node_name, pl->node_name) != 0 ||
	    pod->host_network || pod->n_ips == 0 || plan_map_gets(&pl->seen, key))
		return;
	if (!pl->armed) {
		(void)plan_map_puts(&pl->seen, key, (void *)1, NULL);
		return;
	}
	if (pl->pending.n >= POD_LATENCY_PENDING_MAX) {
		pl->overflow++;
		return;
	}
	t = malloc(sizeof(*t));
	if (!t)
		return;
	*t = pl->input_usec;
	if (plan_map_puts(&pl->seen, key, (void *)1, NULL) < 0 ||
	    plan_map_puts(&pl->pending, key, t, NULL) < 0) {
		plan_map_dels(&pl->seen, key);
		free(t);
	}
}

void pod_latency_committed(struct pod_latency *pl, uint64_t now_usec)
{
	struct plan_map_ent *ent;

	pl->armed = true;
	if (!pl->pending.n)
		return;
	for (size_t i = 0; plan_map_next(&pl->pending, &i, &ent);) {
		uint64_t t = *(uint64_t *)ent->val;
		double s = now_usec > t && t ? (double)(now_usec - t) / 1e6 : 0.0;

		pl->ring[pl->count % POD_LATENCY_RING] = s;
		pl->count++;
		pl->sum += s;
	}
	plan_map_clear(&pl->pending, free);
}

size_t pod_latency_read(const struct pod_latency *pl, uint64_t *cursor, double *ret, size_t max,
			uint64_t *ret_lost)
{
	uint64_t c = *cursor, lost = 0;
	size_t n = 0;

	if (c > pl->count)
		c = pl->count;
	if (pl->count - c > POD_LATENCY_RING) {
		lost = pl->count - c - POD_LATENCY_RING;
		c = pl->count - POD_LATENCY_RING;
	}
	for (; c < pl->count && n < max; c++)
		ret[n++] = pl->ring[c % POD_LATENCY_RING];
	*cursor = c;
	if (ret_lost)
		*ret_lost = lost;
	return n;
}
