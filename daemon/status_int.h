/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals shared by the status server's files: status.c (listeners, the
 * router, /v1/status, /v1/sync, health), status_api.c (policies, pods,
 * explain, matrix, events) and the metrics listener. Not a public API.
 */
#pragma once

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"
#include "events.h"
#include "status.h"

struct event_sub;
struct status_track;
struct metrics;

/* One HTTP request; MHD's per-connection pointer. */
struct request {
	struct status_server *s;
	struct http_listener *lis;
	struct MHD_Connection *conn;
	const char *url;
	size_t body_len;
	/* long poll: set while suspended in POST /v1/sync */
	bool waiting;
	bool answered; /* resumed: answer with code + status object */
	unsigned code;
	const char *why; /* reason for a non-200 long-poll answer, static */
	uint64_t ticket;
	uint64_t deadline;
	struct request *next, **pprev;
};

/* A libmicrohttpd daemon served by our loop: the unix socket, or the metrics TCP port. */
struct http_listener {
	struct status_server *s;
	struct MHD_Daemon *mhd;
	struct loop_io *io;
	struct loop_timer *timer;
	const struct route *routes;
	size_t n_routes;
	const char *name; /* for logs */
};

struct status_server {
	struct daemon *d;
	struct http_listener sock;
	struct http_listener metrics; /* .mhd NULL unless --metrics-address */
	char *path;
	dev_t dev; /* identity of the socket we bound, so we only unlink our own */
	ino_t ino;
	struct loop_timer *wait_timer;
	struct request *waiters;
	struct event_stream *streams; /* open /v1/events streams */
	size_t n_streams;
	struct loop_timer *keepalive_timer;
	bool stopping;

	struct status_track *track;   /* per policy / pod programming times, object errors */
	uint64_t tracked_generation;  /* programmed_generation the track was updated for */
	struct metrics *m;
	uint64_t pending_since; /* loop time of the oldest input synced, not committed; 0: none */
	unsigned pending_kinds; /* its kinds, 1u << enum obj_kind (metrics.h) */
	struct event_sub *deny_sub; /* deny records counted into the metrics */
	struct deny_record recent[STATUS_RECENT_EVENTS]; /* GET /v1/events?follow=false */
	size_t recent_head, n_recent;
};

enum method {
	M_GET = 1 << 0,
	M_HEAD = 1 << 1,
	M_POST = 1 << 2,
};

typedef enum MHD_Result (*route_fn)(struct status_server *s, struct request *req);

struct route {
	const char *path;
	bool prefix; /* path is a prefix ending in '/': the rest is the handler's */
	unsigned methods;
	route_fn handler;
};

/* jansson's own json_decrefp (json_auto_t) accepts NULL */
#define _cleanup_json_ _cleanup_(json_decrefp)

enum MHD_Result status_send_json(struct MHD_Connection *conn, unsigned code, json_t *body,
				 const char *allow);
enum MHD_Result status_send_error(struct MHD_Connection *conn, unsigned code, const char *msg,
				  const char *allow);
/* Send len bytes of buf (taken over: freed with free()) with the content type. */
enum MHD_Result status_send_buffer(struct MHD_Connection *conn, unsigned code, char *buf,
				   size_t len, const char *content_type);
json_t *status_json_time(const struct timespec *ts);
json_t *status_json_str_or_null(const char *s);
/* Run the listener's MHD soon (from the loop, not from the caller's stack). */
void status_kick(struct http_listener *l);

/* status_api.c */
enum MHD_Result status_h_policies(struct status_server *s, struct request *req);
enum MHD_Result status_h_policy(struct status_server *s, struct request *req);
enum MHD_Result status_h_pods(struct status_server *s, struct request *req);
enum MHD_Result status_h_pod(struct status_server *s, struct request *req);
enum MHD_Result status_h_explain(struct status_server *s, struct request *req);
enum MHD_Result status_h_matrix(struct status_server *s, struct request *req);
enum MHD_Result status_h_events(struct status_server *s, struct request *req);
enum MHD_Result status_h_metrics(struct status_server *s, struct request *req);
/* End every open event stream (stopping); returns how many were resumed. */
unsigned status_events_close_all(struct status_server *s);
/* The keep-alive timer fired: wake idle streams to write an empty line. */
void status_events_keepalive(struct loop *l, void *ud);

/* status_track.c: programming times and standing errors per object */
int status_track_new(struct status_track **ret);
void status_track_free(struct status_track *t);
/* After a commit that programmed new input: stamp policies and local pods that changed. */
void status_track_programmed(struct status_track *t, const struct daemon *d);
/* The first commit that included pol's current generation, or NULL if not programmed yet. */
const struct timespec *status_track_policy_since(const struct status_track *t,
						 const struct netpol *pol);
/* Since when a local pod has its current isolation in dir, or NULL. */
const struct timespec *status_track_pod_since(const struct status_track *t,
					      const struct pod_obj *p, enum direction dir);
/* Diagnostics of the source's current sync; kept per kind/ns/name. */
void status_track_diag(void *ud, const struct decode_diag *diag);
/*
 * The sync ended: ok keeps the diagnostics collected during it, else they are
 * dropped. complete: the sync reported every rejection standing in its source
 * (the Kubernetes source), so the ones it did not report are gone.
 */
void status_track_sync_done(struct status_track *t, bool ok, bool complete);
/* The standing errors of one object (kind "NetworkPolicy", "Pod", ...), as a JSON array. */
json_t *status_track_errors(const struct status_track *t, const char *kind, const char *ns,
			    const char *name);
/* All standing errors as a JSON array of {kind, namespace, name, source, line, message}. */
json_t *status_track_all_errors(const struct status_track *t, size_t max);
