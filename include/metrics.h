/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netpold's Prometheus metrics: the histograms and counters the daemon
 * observes as it runs (programming latency, reconcile duration, batch sizes,
 * deny records per namespace), and the text exposition format (version
 * 0.0.4) written from them plus a snapshot of the daemon's gauges. The
 * /metrics handlers of the status socket and of --metrics-address serve it.
 * Pure bookkeeping: no I/O besides the FILE written to, never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "model.h"
#include "pod_latency.h"

/* Distinct namespace label values of netpold_deny_records_total; the rest count as "_other". */
#define METRICS_MAX_DENY_NAMESPACES 64
#define METRICS_MAX_RESOURCES 8

/*
 * Triggers of the programming-latency histogram: bits 1u << enum obj_kind
 * (namespace, pod, policy, service) plus this one for input whose kind the
 * source could not tell (a rescan, POST /v1/sync, a source without
 * changed_kinds()).
 */
#define METRICS_TRIGGER_UNKNOWN_BIT (1u << 8)

struct metrics;

/* Empty registry. Returns 0 or -ENOMEM. */
int metrics_new(struct metrics **ret);
/* Accepts NULL. */
void metrics_free(struct metrics *m);

/*
 * Input that changed seconds ago reached the kernel: one observation per
 * trigger bit in kinds (1u << enum obj_kind | METRICS_TRIGGER_UNKNOWN_BIT).
 * Accepts m == NULL (all observers do).
 */
void metrics_observe_latency(struct metrics *m, unsigned kinds, double seconds);
/*
 * One reconcile took seconds; its batch had msgs netlink messages and elems
 * set elements (msgs 0: nothing committed, no batch observed).
 */
void metrics_observe_reconcile(struct metrics *m, double seconds, uint64_t msgs, uint64_t elems);
/* One deny record of a pod in namespace ns (NULL: not a pod, counted as "_none"). */
void metrics_count_deny(struct metrics *m, const char *ns);
/*
 * Observe pod programming latencies (netpold_pod_programming_latency_seconds)
 * that pl recorded since the last call: m keeps its own cursor into pl's
 * ring. Observations that fell out of the ring unread are counted in
 * netpold_pod_programming_latency_lost_total. Call after every commit and at
 * scrape time; cheap when nothing is new.
 */
void metrics_read_pod_latency(struct metrics *m, const struct pod_latency *pl);

/* The daemon's current values, read at scrape time. */
struct metrics_resource {
	const char *resource; /* "pods", ... */
	uint64_t watch_restarts, relists;
};

struct metrics_snapshot {
	bool ready;
	bool degraded;
	uint64_t reconciles, reconcile_failures;
	uint64_t commits, kernel_errors, drift_repairs, set_elements;
	uint64_t objects[4]; /* by enum obj_kind */
	uint64_t local_pods;
	uint64_t source_errors;
	uint64_t deny_records_dropped; /* records lost by slow /v1/events readers */
	/* the NFLOG reader's counters (nflog_get_stats); has_nflog false: no reader */
	bool has_nflog;
	uint64_t nflog_malformed, nflog_overruns, nflog_unattributed, nflog_audit_records;
	double start_time_seconds;     /* unix time netpold started */
	struct metrics_resource resources[METRICS_MAX_RESOURCES];
	size_t n_resources; /* 0: the source is not the Kubernetes API */
};

/* Write the exposition of m and snap. Returns 0 or -EIO. */
int metrics_write(const struct metrics *m, const struct metrics_snapshot *snap, FILE *f);

/*
 * Parse a numeric listen address: "127.0.0.1:9617", "[::1]:9617", ":9617"
 * (every IPv4 address). Port 1..65535. Returns 0 or -EINVAL.
 */
int metrics_address_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);
