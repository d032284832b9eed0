/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Credentials of the Kubernetes API source (daemon/k8s_auth.c): a static
 * token, a token file re-read every minute (a projected service account token
 * rotates), or an exec plugin whose answer is kept until shortly before it
 * expires. Logs token rotation and plugin answers; failures are left in
 * token_error / exec_error for the caller's messages.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "k8s_exec.h"
#include "k8s_http.h"
#include "k8s_watch.h"
#include "kubeconfig.h"
#include "loop.h"

struct k8s_auth {
	const struct k8s_conn_config *cfg; /* borrowed from the owner */
	struct loop *loop;
	/* called once the exec plugin answered (r < 0: it failed, see exec_error) */
	void (*ready)(void *ud, int r);
	void *ud;

	char *file_token;      /* last token read from cfg->token_file */
	char token_error[256]; /* why the token file could not be read */
	uint64_t token_read_at;
	struct loop_timer *token_timer;
	struct k8s_exec *exec;
	struct k8s_exec_credential cred;
	bool have_cred;
	char exec_error[K8S_ERROR_MAX];
};

/* Set up a (zeroed) a for cfg, which must outlive it. Reads nothing yet. */
void k8s_auth_init(struct k8s_auth *a, const struct k8s_conn_config *cfg,
		   void (*ready)(void *ud, int r), void *ud);

/*
 * On the loop: read the token file, if any (a failure is logged as a warning
 * and retried by the timer), and start re-reading it every minute. Returns 0
 * or a negative errno, logged.
 */
int k8s_auth_start(struct k8s_auth *a, struct loop *l);

/*
 * 0: credentials at hand; 1: the exec plugin runs and ready() follows;
 * < 0: the plugin cannot run (exec_error says why).
 */
int k8s_auth_ensure(struct k8s_auth *a);

/* The server answered 401: fetch new credentials before the next request. */
void k8s_auth_refused(struct k8s_auth *a);

/* Put the bearer token and client certificate (from a plugin), if any, into rq. */
void k8s_auth_fill(const struct k8s_auth *a, struct k8s_http_request *rq);

/* Stop a running plugin and wipe the credentials. Does not free a. */
void k8s_auth_clear(struct k8s_auth *a);
