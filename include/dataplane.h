/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The nftables dataplane: programs netpold's own table (default inet netpold)
 * over netlink with libnftnl/libmnl, one atomic batch per reconcile, from the
 * engine's compiled state and its change log. Adopts an existing table on
 * start (diff, never flush), watches for foreign changes (drift) and repairs.
 * Logs kernel errors once, naming the policy or pod that caused them.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

enum deny_action {
	DENY_DROP = 0,
	DENY_REJECT, /* TCP RST / ICMP(v6) administratively prohibited */
};

struct dataplane_config {
	const char *table;     /* "netpold" unless configured */
	const char *node_name; /* pods with this spec.nodeName are local */
	enum deny_action deny_action;
	/* deny records (docs/deny-records.md): log rules before deny verdicts, audit chains */
	bool deny_log;
	uint16_t nflog_group;
	uint32_t log_rate, log_burst; /* packets per second and burst, per pod chain */
	/* fail-closed ranges (copied): unknown addresses inside are rejected */
	const struct cidr *fc_cidrs;
	size_t n_fc_cidrs;
};

struct dataplane_stats {
	uint64_t commits;       /* batches committed */
	uint64_t last_batch_msgs; /* netlink messages in the last batch */
	uint64_t last_batch_elems; /* set elements added + removed in the last batch */
	uint64_t drift_repairs; /* foreign changes repaired */
	uint64_t kernel_errors; /* failed batches */
	uint64_t set_elements;  /* elements currently programmed */
	double last_commit_seconds; /* wall time of the last commit (build + kernel) */
	double last_kernel_seconds; /* of which waiting for the kernel's acks */
};

struct dataplane;

/*
 * Open netlink sockets (commit and monitor). Does not touch the kernel's
 * ruleset yet. Returns 0 or -errno.
 */
int dataplane_new(const struct dataplane_config *cfg, struct dataplane **ret);
/* Close sockets. Leaves the table in place (enforcement continues). Accepts NULL. */
void dataplane_free(struct dataplane *dp);

/*
 * Bring the kernel in line with the engine. The first call (and any call
 * after dataplane_mark_resync() or detected drift) reads the existing table,
 * if any, and commits the difference to the full desired state; later calls
 * drain the engine's change log and commit only the affected set elements
 * and chains. One atomic batch per call; nothing is committed if nothing
 * changed. Returns 0, or -errno when the batch failed (the kernel keeps the
 * previous state; a full resync is scheduled).
 */
int dataplane_sync(struct dataplane *dp, struct engine *e);

/* Force the next sync to be a full resync (after lost events). */
void dataplane_mark_resync(struct dataplane *dp);

/* The nftables monitor socket: poll for readability, then call dataplane_monitor_read(). */
int dataplane_monitor_fd(const struct dataplane *dp);
/*
 * Read pending notifications. Returns 1 if a foreign change to our table was
 * seen (the caller schedules a sync, which repairs it), 0 if none, -errno on
 * error (ENOBUFS means events were lost: resync).
 */
int dataplane_monitor_read(struct dataplane *dp);

void dataplane_get_stats(const struct dataplane *dp, struct dataplane_stats *ret);

/*
 * Called during dataplane_sync() for every pod the engine's change log
 * reports (POD_TARGET: removed = false; POD_REMOVED: removed = true), before
 * the batch is committed; pod is only valid during the call. For the
 * pod-programming latency. cb NULL clears it.
 */
typedef void (*dataplane_pod_fn)(void *ud, const struct pod_obj *pod, bool removed);
void dataplane_set_pod_hook(struct dataplane *dp, dataplane_pod_fn cb, void *ud);

/*
 * Per-rule packet counters: the `counter` of every line compiled from rule
 * index of policy ns/name in dir, summed over the per-pod chains (local
 * pods). The kernel's rules are dumped at most once per
 * DATAPLANE_COUNTERS_MAX_AGE seconds (a short blocking netlink dump on the
 * commit socket), else the cached values are used. A rule on no chain has 0.
 * Returns 0 or -errno; does not log.
 */
#define DATAPLANE_COUNTERS_MAX_AGE 1.0
struct dataplane_counters {
	uint64_t packets, bytes;
};
int dataplane_rule_counters(struct dataplane *dp, const char *ns, const char *name,
			    enum direction dir, unsigned index, struct dataplane_counters *ret);

/* Remove our table (uninstall). Returns 0, or 0 as well when it does not exist. */
int dataplane_cleanup(const char *table);
