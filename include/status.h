/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The status socket: a small HTTP/1.1 server (libmicrohttpd driven by the
 * daemon's epoll loop, no threads) on a unix socket, answering JSON about
 * what netpold enforces. POST /v1/sync is a long poll: the connection is
 * suspended until the daemon has programmed the requested state.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct daemon;
struct source;
struct status_server;

#define STATUS_MAX_CONNECTIONS 32
#define STATUS_CONNECTION_MEMORY (32u * 1024) /* per connection, request line and headers */
#define STATUS_TIMEOUT_SECONDS 30u            /* idle connection timeout */
#define STATUS_MAX_URL_LEN 512
#define STATUS_MAX_BODY 4096
#define STATUS_SYNC_TIMEOUT_USEC 30000000u /* a POST /v1/sync answers 503 after this */
#define STATUS_METRICS_MAX_CONNECTIONS 16
#define STATUS_MAX_EVENT_STREAMS 8         /* concurrent GET /v1/events */
/* an empty line on idle event streams, so a reader that went away is noticed */
#define STATUS_EVENTS_KEEPALIVE_USEC 25000000u
#define STATUS_MAX_RESPONSE (16u * 1024 * 1024) /* a bigger answer is refused with 507 */
#define STATUS_MAX_POD_LIST 100000         /* items in /v1/pods and /v1/policies */
#define STATUS_RECENT_EVENTS 64            /* deny records kept for GET /v1/events?follow=false */

/*
 * Create the socket at d->cfg.status_socket (parent created 0755, socket 0660,
 * group d->cfg.socket_group when set), replacing a stale socket, and serve it
 * on d->loop. Returns 0, -EADDRINUSE when a live server answers on the path
 * (netpold refuses to start twice), or -errno; logs the failure.
 */
int status_server_new(struct daemon *d, struct status_server **ret);
/* Answer pending long polls (503), stop serving, remove the socket. Accepts NULL. */
void status_server_free(struct status_server *s);

/*
 * Have src report its rejected objects (per kind/namespace/name, for
 * /v1/policies and /v1/status) to s. Call once, before the first sync.
 */
void status_server_attach_source(struct status_server *s, struct source *src);

/*
 * The daemon's reconcile just ran the source's sync: r is its result, since
 * the loop time (loop_now_usec) of the first change that sync read. Starts the
 * programming-latency clock when input changed. Accepts NULL.
 */
void status_server_source_synced(struct status_server *s, int r, uint64_t since_usec);

/*
 * The daemon finished a reconcile (every reconcile, whatever its result):
 * observe the metrics, stamp newly programmed policies and pods, and, when
 * covered > 0, answer the POST /v1/sync requests up to ticket covered
 * (which read the source after they were made) with the status object,
 * 200 when ok, else 503. Accepts NULL.
 */
void status_server_reconciled(struct status_server *s, uint64_t covered, bool ok);
