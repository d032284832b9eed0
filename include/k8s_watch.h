/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The list/watch protocol of one resource as a pure state machine, and the
 * store of what it has seen. The caller does the HTTP and feeds results in;
 * the machine says which request comes next and when, keeps the
 * resourceVersion, backs off, and turns relists into synthesised deletions.
 * No I/O, no clock, no randomness of its own (both are passed in); never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define K8S_LIST_LIMIT 500
#define K8S_WATCH_TIMEOUT_MIN 300 /* seconds; each watch asks for [min, max] at random */
#define K8S_WATCH_TIMEOUT_MAX 600
#define K8S_BACKOFF_INITIAL_USEC 800000ull
#define K8S_BACKOFF_MAX_USEC 30000000ull
#define K8S_BACKOFF_RESET_USEC 120000000ull /* healthy this long: back to the initial delay */
#define K8S_SHORT_WATCH_USEC 1000000ull     /* a watch this short with no event is an error */
#define K8S_MAX_OBJECTS_PER_RESOURCE 1000000
#define K8S_MAX_RV_LEN 256
#define K8S_MAX_CONTINUE_LEN 8192
#define K8S_ERROR_MAX 512

enum k8s_resource {
	K8S_NAMESPACES,
	K8S_PODS,
	K8S_NETWORKPOLICIES,
	K8S_SERVICES,
	K8S_N_RESOURCES,
};

struct k8s_resource_info {
	const char *name;           /* "networkpolicies" */
	const char *group_resource; /* "networkpolicies.networking.k8s.io" (for messages) */
	const char *path;           /* "/apis/networking.k8s.io/v1/networkpolicies" */
	enum obj_kind kind;
	bool namespaced;
};

const struct k8s_resource_info *k8s_resource_info(enum k8s_resource r);

/* ---- the store: keys known per resource, and changes not yet given to the engine ---- */

enum k8s_pending {
	K8S_PENDING_NONE,
	K8S_PENDING_UPSERT,
	K8S_PENDING_DELETE,
};

struct k8s_entry {
	char *key;  /* "ns/name", or "name" when cluster-scoped */
	char *ns;   /* NULL when cluster-scoped */
	char *name;
	bool present;       /* exists in the API (as far as we know) */
	bool seen;          /* listed by the relist in progress */
	char *invalid;      /* the rejection message while the current version is invalid */
	enum k8s_pending pending;
	struct k8s_object obj; /* K8S_PENDING_UPSERT: the new version */
	struct k8s_entry *hnext;      /* hash chain */
	struct k8s_entry *pnext;      /* pending list */
};

struct k8s_store {
	enum obj_kind kind;
	struct k8s_entry **buckets;
	size_t n_buckets;
	size_t n_entries;
	size_t n_present;
	size_t n_invalid;
	struct k8s_entry *pending_head, **pending_tail;
	size_t n_pending;
	bool relisting;
};

void k8s_store_init(struct k8s_store *s, enum obj_kind kind);
void k8s_store_clear(struct k8s_store *s);

/*
 * A valid object (listed, ADDED or MODIFIED): queued for the engine. Takes
 * ownership of obj's contents in every case (obj is cleared). 0, -ENOMEM,
 * -E2BIG (too many objects).
 */
int k8s_store_upsert(struct k8s_store *s, const char *ns, const char *name,
		     struct k8s_object *obj);
/*
 * An object the decoder rejected: it exists, but the engine keeps its last
 * valid version (if any). Returns 1 when this rejection is new (log it), 0
 * when the same message stands already, or -ENOMEM/-E2BIG.
 */
int k8s_store_invalid(struct k8s_store *s, const char *ns, const char *name, const char *msg);
/* A DELETED event: queue the deletion. 0 or -ENOMEM. */
int k8s_store_delete(struct k8s_store *s, const char *ns, const char *name);

/* A relist begins: the keys it lists are marked seen. */
void k8s_store_relist_begin(struct k8s_store *s);
/* The relist completed: every present key it did not list is deleted. Returns how many. */
size_t k8s_store_relist_end(struct k8s_store *s);

/*
 * Hand every queued change to the callbacks, in arrival order, and forget
 * them. upsert takes ownership of obj's contents. Returns the number of
 * changes handed out.
 */
struct k8s_store_sink {
	void (*upsert)(void *ud, struct k8s_object *obj);
	void (*remove)(void *ud, enum obj_kind kind, const char *ns, const char *name);
	void *ud;
};
size_t k8s_store_drain(struct k8s_store *s, const struct k8s_store_sink *sink);

const struct k8s_entry *k8s_store_find(const struct k8s_store *s, const char *ns, const char *name);

/*
 * Call fn for every key whose current version was rejected (e->invalid set),
 * in no particular order; fn must not change the store. Returns how many.
 */
size_t k8s_store_foreach_invalid(const struct k8s_store *s,
				 void (*fn)(void *ud, const struct k8s_entry *e), void *ud);

/* ---- the list/watch machine ---- */

enum k8s_watch_state {
	K8S_WS_LIST,    /* a list page request is due or in flight */
	K8S_WS_WATCH,   /* a watch request is due or in flight */
	K8S_WS_BACKOFF, /* waiting until `retry_at`, then `next` */
};

enum k8s_failure {
	K8S_FAIL_TRANSPORT, /* connection, TLS, timeout, truncated body */
	K8S_FAIL_HTTP,      /* an unexpected HTTP status (401, 403, 500, ...) */
	K8S_FAIL_EXPIRED,   /* 410 Gone/Expired, or 504 "too large resource version" */
	K8S_FAIL_STREAM,    /* the stream was unusable (over-long or malformed event) */
};

struct k8s_watch {
	enum k8s_resource res;
	enum k8s_watch_state state;
	enum k8s_watch_state next;   /* K8S_WS_BACKOFF: what follows */
	uint64_t retry_at;           /* K8S_WS_BACKOFF: deadline (caller's clock) */
	bool synced;                 /* one complete list done */
	char rv[K8S_MAX_RV_LEN];     /* last resourceVersion seen ("" none) */
	char list_rv[K8S_MAX_RV_LEN]; /* resourceVersion the next list asks for */
	char *cont;                  /* continue token of the list in progress */
	bool list_consistent;        /* the list in progress asked for RV "" */
	bool rv_from_list;           /* rv came from a list, no watch event since */
	unsigned failures;           /* consecutive, for the backoff */
	uint64_t last_failure;       /* time of the last failure, 0 none */
	uint64_t watch_started;      /* time the running watch was asked for */
	uint64_t watch_events;       /* events received by the running watch */
	/* counters for status */
	uint64_t lists, relists, watches, watch_restarts, expired, errors;
	char last_error[K8S_ERROR_MAX]; /* "" when the last request succeeded */
	struct k8s_store store;
};

void k8s_watch_init(struct k8s_watch *w, enum k8s_resource res);
void k8s_watch_clear(struct k8s_watch *w);

/*
 * The path and query of the request the current state asks for (LIST or
 * WATCH), into buf. rnd picks the watch timeout. Returns the length, or
 * -ENOBUFS when buf is too small.
 */
int k8s_watch_request(const struct k8s_watch *w, uint32_t rnd, char *buf, size_t len);

/* The watch request was sent (for the short-watch rule). */
void k8s_watch_started(struct k8s_watch *w, uint64_t now);

/*
 * A list page arrived (HTTP 200 and decoded). rv and cont as in its
 * metadata (cont NULL or "" on the last page). On the last page: the store's relist ends
 * (deletions synthesised, returned through *ret_deleted), the machine moves
 * to WATCH from rv. 0 or -ENOMEM/-EINVAL (an over-long token: treat as a
 * K8S_FAIL_STREAM).
 */
int k8s_watch_list_page(struct k8s_watch *w, const char *rv, const char *cont, uint64_t now,
			size_t *ret_deleted);

/* A list page is about to be decoded into the store: its first page begins a relist. */
void k8s_watch_page_begin(struct k8s_watch *w);

/* An event of the running watch carried resourceVersion rv (may be NULL). */
void k8s_watch_event(struct k8s_watch *w, const char *rv);

/*
 * The watch body ended cleanly (the server's timeout). Re-watch from the
 * last RV at once; a watch shorter than K8S_SHORT_WATCH_USEC with no event
 * counts as a failure. Returns the delay before the next request (usec).
 */
uint64_t k8s_watch_ended(struct k8s_watch *w, uint64_t now, uint32_t rnd);

/*
 * A request failed. message (may be NULL) becomes last_error. retry_after:
 * the server's Retry-After in usec (0 none). Expired: relist (with the last
 * RV, or "" when that list expired too), without delay the first time.
 * Others: back off (800 ms x 2^n, jitter, 30 s cap, reset after 2 min of
 * health), then re-watch from the last RV when synced, else list again.
 * Returns the delay before the next request (usec); state is BACKOFF.
 */
uint64_t k8s_watch_failed(struct k8s_watch *w, enum k8s_failure f, const char *message,
			  uint64_t retry_after, uint64_t now, uint32_t rnd);

/* The backoff delay is over: state becomes `next`. */
void k8s_watch_retry(struct k8s_watch *w);

/* A request succeeded at the HTTP level (2xx headers): clears last_error. */
void k8s_watch_healthy(struct k8s_watch *w);

/* The backoff the n-th consecutive failure gets, before jitter. */
uint64_t k8s_backoff_base(unsigned failures);

const char *k8s_watch_state_name(enum k8s_watch_state s);
