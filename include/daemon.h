/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one struct daemon netpold has: configuration, the loop, the engine,
 * the source, the dataplane, the status server, and the bookkeeping of
 * generations and reconcile results that the status socket reports. Events
 * only mark it dirty; daemon_reconcile() runs at most once per loop pass.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "dataplane.h"
#include "engine.h"
#include "loop.h"
#include "pod_latency.h"
#include "source.h"

#define DAEMON_DEBOUNCE_USEC 20000u       /* quiet time after a source event */
#define DAEMON_MAX_DELAY_USEC 500000u     /* a busy source still syncs this often */
#define DAEMON_RETRY_MIN_USEC 100000u     /* first retry after a failed reconcile */
#define DAEMON_RETRY_MAX_USEC 5000000u    /* backoff cap */
#define DAEMON_REASON_MAX 256

struct status_server;
struct event_hub;
struct nflog;

struct reconcile_result {
	bool valid;         /* a reconcile has run */
	struct timespec time; /* CLOCK_REALTIME at its end */
	double duration_seconds;
	uint64_t batch_messages; /* of the batch it committed (0: nothing to commit) */
	uint64_t batch_elements;
	int error;          /* 0 or the negative errno that failed it */
	char error_text[DAEMON_REASON_MAX];
};

struct daemon_counts {
	size_t namespaces, pods, local_pods, policies, services;
};

struct daemon {
	struct config cfg;
	int argc; /* kept to parse the command line again on SIGHUP */
	char **argv;
	const char *default_config_file;

	struct loop *loop;
	struct engine *engine;
	struct source *source;
	struct dataplane *dp;
	struct status_server *status;
	struct event_hub *events;   /* deny records: NFLOG publishes, /v1/events subscribes */
	struct nflog *nflog;        /* the deny-record reader (NULL: --deny-log off or unavailable) */
	struct loop_io *nflog_io;
	/*
	 * netpold_pod_programming_latency_seconds: observations (seconds) from a
	 * local pod's first appearance with an address to its commit; read them
	 * with pod_latency_read(&d->pod_latency, &cursor, ...), plus .count and
	 * .sum for the histogram's _count and _sum.
	 */
	struct pod_latency pod_latency;

	int signal_fd;
	struct loop_io *signal_io;
	struct loop_io *monitor_io;
	struct loop_timer *debounce_timer; /* source events settle, then reconcile */
	struct loop_timer *retry_timer;    /* backoff after a failed reconcile */
	struct loop_timer *watchdog_timer; /* WATCHDOG=1 to systemd (NULL: no WatchdogSec=) */
	uint64_t watchdog_usec;            /* systemd's watchdog interval */

	/* what the next reconcile has to do */
	bool source_dirty;     /* the source reported changes */
	bool source_full;      /* ... and should re-read everything */
	bool reconcile_due;    /* run a reconcile in this pass's before-sleep */
	uint64_t dirty_since;  /* loop_now_usec() of the first unsynced event, 0 if none */
	uint64_t retry_usec;   /* current backoff, 0 when healthy */

	/* generations (see docs/daemon.md) */
	uint64_t input_generation;      /* bumped whenever the source changed the engine */
	uint64_t programmed_generation; /* input generation of the last successful commit */
	uint64_t sync_requests;         /* POST /v1/sync tickets handed out */
	uint64_t sync_served;           /* tickets covered by the last successful reconcile */

	bool ready;    /* the source synced once and that state was programmed */
	bool degraded; /* the last reconcile (source or dataplane) failed */
	char reason[DAEMON_REASON_MAX];

	struct reconcile_result last;
	struct daemon_counts counts;
	uint64_t reconciles;
	uint64_t reconcile_failures;
	struct timespec started;
};

/*
 * Set up everything from d->cfg (already loaded): loop, signals, engine,
 * source, dataplane, status socket. Logs the failure it returns. Returns 0,
 * -EADDRINUSE when another netpold answers on the status socket, or -errno.
 */
int daemon_init(struct daemon *d);
/* Run until SIGTERM/SIGINT. Returns 0 on a clean stop or -errno. */
int daemon_run(struct daemon *d);
/* Tear down; the nftables table is left in place. Safe on a partly initialised daemon. */
void daemon_done(struct daemon *d);

/* A source event: mark dirty and (re)arm the debounce. Never reconciles directly. */
void daemon_source_changed(struct daemon *d, bool full);
/* Reconcile in this loop pass, skipping the debounce. */
void daemon_schedule_now(struct daemon *d);
/*
 * POST /v1/sync: force a full source rescan and a reconcile now. Returns a
 * ticket; the request is satisfied once d->sync_served >= ticket.
 */
uint64_t daemon_request_sync(struct daemon *d);

/* One reconcile: source sync, dataplane sync, bookkeeping. Logs what failed. */
void daemon_reconcile(struct daemon *d);
