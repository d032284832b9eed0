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
struct status_server;

#define STATUS_MAX_CONNECTIONS 32
#define STATUS_CONNECTION_MEMORY (32u * 1024) /* per connection, request line and headers */
#define STATUS_TIMEOUT_SECONDS 30u            /* idle connection timeout */
#define STATUS_MAX_URL_LEN 512
#define STATUS_MAX_BODY 4096
#define STATUS_SYNC_TIMEOUT_USEC 30000000u /* a POST /v1/sync answers 503 after this */

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
 * The daemon finished a reconcile that read the source after every request
 * up to ticket covered was made: answer those POST /v1/sync requests with
 * the status object, 200 when ok, else 503. Accepts NULL.
 */
void status_server_reconciled(struct status_server *s, uint64_t covered, bool ok);
