/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HTTP GETs to the API server with libcurl's multi socket API on the
 * daemon's loop: curl's sockets become loop_io handlers, its timeout one
 * loop timer. No threads, nothing blocks. Bodies stream to a callback; the
 * body of an error answer is kept (bounded) so its Status can be read.
 * Never logs: failures come back in struct k8s_http_result.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kubeconfig.h"
#include "loop.h"

#define K8S_HTTP_MAX_ERROR_BODY (64u * 1024)
#define K8S_HTTP_CONNECT_TIMEOUT_SEC 10

struct k8s_http;
struct k8s_http_req;

struct k8s_http_result {
	int error;            /* 0: a complete HTTP answer; else negative errno (transport) */
	int curl_code;        /* CURLcode, 0 when fine */
	long status;          /* HTTP status, 0 when none was received */
	const char *message;  /* curl's error text (CURLOPT_ERRORBUFFER) when error != 0 */
	const char *body;     /* a non-2xx answer's body (bounded), else NULL */
	size_t body_len;
	uint64_t retry_after_usec; /* Retry-After of a 429/503, 0 if none */
};

struct k8s_http_ops {
	/*
	 * Body bytes of a 2xx answer, in arbitrary pieces. Return 0 to go on or
	 * a negative errno to abort (done() then reports that error).
	 */
	int (*data)(void *ud, const char *buf, size_t len);
	/* The 2xx headers arrived (the request is accepted). May be NULL. */
	void (*headers)(void *ud, long status);
	/*
	 * The request finished; the handle is already freed when this runs.
	 * May start new requests.
	 */
	void (*done)(void *ud, const struct k8s_http_result *res);
};

/* What to send: the TLS and credential material comes from cfg. */
struct k8s_http_request {
	const struct k8s_conn_config *cfg;
	const char *path_query; /* "/api/v1/pods?limit=500" */
	const char *bearer;     /* token, or NULL; refused unless the server is https */
	const struct k8s_blob *cert, *key; /* client certificate override (exec plugin), or NULL */
	long timeout_sec;       /* whole request; 0: none */
};

/* Attach to loop l. Returns 0 or -errno. */
int k8s_http_new(struct loop *l, struct k8s_http **ret);
/* Cancel every request (no done() calls) and free. Accepts NULL. */
void k8s_http_free(struct k8s_http *h);

/*
 * Start a GET. ops and ud must outlive the request. *ret (may be NULL) is
 * the handle for cancel, valid until done() runs. Returns 0 or -errno
 * (-EINVAL for a bearer token over plain http).
 */
int k8s_http_get(struct k8s_http *h, const struct k8s_http_request *rq,
		 const struct k8s_http_ops *ops, void *ud, struct k8s_http_req **ret);
/* Abort a request without calling done(). Not from inside its own data(). Accepts NULL. */
void k8s_http_cancel(struct k8s_http_req *r);
