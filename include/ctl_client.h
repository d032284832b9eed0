/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netpolctl's client for netpold's status socket: blocking HTTP/1.1 GET
 * over the unix socket with libcurl, the answer bounded in size, and a
 * streaming variant that hands complete lines to a callback (GET
 * /v1/events). For the command-line tool only: it blocks.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define CTL_MAX_RESPONSE (64u * 1024 * 1024)
#define CTL_MAX_LINE (64u * 1024)
#define CTL_TIMEOUT_SECONDS 60L
#define CTL_HEADER_MAX 4096

struct ctl_response {
	long code;     /* HTTP status */
	char *body;    /* NUL-terminated */
	size_t len;
	char verdict[16];                /* X-Netpold-Verdict, "" if absent */
	char warnings[CTL_HEADER_MAX];   /* X-Netpold-Warnings, "" if absent */
};

void ctl_response_clear(struct ctl_response *r);

/*
 * GET path (already escaped, with its query) from the server on socket.
 * Returns 0 with *ret filled whatever the HTTP status, or -ECONNREFUSED /
 * -ENOENT (no server), -E2BIG (answer over CTL_MAX_RESPONSE), -ETIMEDOUT,
 * -EIO, -ENOMEM with err (errlen bytes) describing it.
 */
int ctl_get(const char *socket, const char *path, struct ctl_response *ret, char *err,
	    size_t errlen);

/*
 * GET path and call line_cb for each complete line of the body as it
 * arrives (without its newline) until the server ends the stream or
 * line_cb returns < 0. A non-200 answer is collected in *ret instead.
 * Returns like ctl_get.
 */
int ctl_stream(const char *socket, const char *path,
	       int (*line_cb)(void *ud, const char *line, size_t len), void *ud,
	       struct ctl_response *ret, char *err, size_t errlen);

/* Escape s for a query string (caller frees). NULL on allocation failure. */
char *ctl_escape(const char *s);
