/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pod programming latency: the time from a local pod first appearing with
 * an address in the input (the source event that brought it) to the commit
 * that programmed its rules. Fed from the dataplane's pod hook and the
 * daemon's reconcile; observations go to a ring that readers (metrics:
 * netpold_pod_programming_latency_seconds) follow with a cursor. Never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "plan.h"

#define POD_LATENCY_RING 1024         /* observations kept for readers */
#define POD_LATENCY_PENDING_MAX 65536 /* pods awaiting their commit */

struct pod_latency {
	char *node_name;
	uint64_t input_usec;     /* loop_now_usec() of the source event being reconciled */
	struct plan_map seen;    /* "ns/name" of local pods seen with an address */
	struct plan_map pending; /* "ns/name" -> uint64_t * first-seen usec, not yet committed */
	double ring[POD_LATENCY_RING]; /* seconds, observation i at ring[i % POD_LATENCY_RING] */
	uint64_t count;          /* observations so far (the next one's sequence number) */
	double sum;              /* of all observations, seconds */
	uint64_t overflow;       /* pods not tracked because pending was full */
	bool armed; /* after the first successful commit (pods present at start are not new) */
};

/* Start tracking pods of node_name (copied). 0 or -ENOMEM. */
int pod_latency_init(struct pod_latency *pl, const char *node_name);
void pod_latency_clear(struct pod_latency *pl);

/* The input time of the changes the next dataplane sync drains (source event time). */
void pod_latency_input(struct pod_latency *pl, uint64_t usec);

/* dataplane_pod_fn: a pod changed (ud is the struct pod_latency). */
void pod_latency_hook(void *ud, const struct pod_obj *pod, bool removed);

/*
 * A commit succeeded at now_usec: every pending pod becomes one observation.
 * The first call only arms the tracker: the pods programmed by netpold's
 * first sync were not new.
 */
void pod_latency_committed(struct pod_latency *pl, uint64_t now_usec);

/*
 * Copy the observations after *cursor (a sequence number, 0 at first) into
 * ret (at most max, oldest first) and advance *cursor. Observations that
 * fell out of the ring before being read are skipped and counted in
 * *ret_lost (may be NULL). Returns the count copied.
 */
size_t pod_latency_read(const struct pod_latency *pl, uint64_t *cursor, double *ret, size_t max,
			uint64_t *ret_lost);
