/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Credentials for the Kubernetes API source: the static token, the token
 * file (re-read every minute and after a 401, keeping the previous token
 * while a rotation writes the file) and the exec plugin's answer.
 */
#include <stdio.h>
#include <time.h>

#include "k8s.h"
#include "k8s_auth.h"
#include "log.h"

void k8s_auth_init(struct k8s_auth *a, const struct k8s_conn_config *cfg,
		   void (*ready)(void *ud, int r), void *ud)
{
	a->cfg = cfg;
	a->ready = ready;
	a->ud = ud;
}

static int read_token_file(struct k8s_auth *a)
{
	struct k8s_blob b = {0};
	int r;

	a->token_read_at = loop_now_usec();
	r = k8s_read_file(a->cfg->token_file, KUBECONFIG_MAX_FILE_BYTES, &b);
	if (r >= 0 && k8s_token_normalize(&b) < 0)
		r = -EINVAL;
	if (r < 0) {
		k8s_blob_clear(&b);
		snprintf(a->token_error, sizeof(a->token_error), "cannot read token file %s: %s",
			 a->cfg->token_file,
			 r == -EINVAL ? "empty or not a token" : strerror(-r));
		/* keep the previous token: a rotation may be writing the file right now */
		return r;
	}
	a->token_error[0] = '\0';
	if (a->file_token && strcmp(a->file_token, b.data) != 0)
		log_info("kubernetes: token file %s changed, using the new token", a->cfg->token_file);
	if (a->file_token)
		explicit_bzero(a->file_token, strlen(a->file_token));
	free(a->file_token);
	a->file_token = b.data;
	return 0;
}

static void on_token_timer(struct loop *l, void *ud)
{
	struct k8s_auth *a = ud;

	(void)read_token_file(a);
	loop_timer_arm(a->token_timer, K8S_TOKEN_REREAD_USEC);
}

int k8s_auth_start(struct k8s_auth *a, struct loop *l)
{
	int r;

	a->loop = l;
	if (!a->cfg->token_file)
		return 0;
	r = loop_timer_new(l, on_token_timer, a, &a->token_timer);
	if (r < 0)
		return log_error_errno(r, "kubernetes: cannot create a timer");
	if (read_token_file(a) < 0)
		log_warning("kubernetes: %s", a->token_error);
	loop_timer_arm(a->token_timer, K8S_TOKEN_REREAD_USEC);
	return 0;
}

static bool cred_valid(const struct k8s_auth *a)
{
	struct timespec ts;

	if (!a->have_cred)
		return false;
	if (!a->cred.expiry)
		return true;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec + K8S_EXEC_EXPIRY_SLACK_SEC < a->cred.expiry;
}

static void on_exec_done(void *ud, int r, struct k8s_exec_credential *cred, const char *message)
{
	struct k8s_auth *a = ud;

	k8s_exec_free(a->exec);
	a->exec = NULL;
	if (r < 0) {
		snprintf(a->exec_error, sizeof(a->exec_error), "exec credential plugin %s: %s",
			 a->cfg->exec.command, message ? message : strerror(-r));
	} else {
		k8s_exec_credential_clear(&a->cred);
		a->cred = *cred;
		*cred = (struct k8s_exec_credential){0};
		a->have_cred = true;
		a->exec_error[0] = '\0';
		log_debug("kubernetes: exec credential plugin %s answered", a->cfg->exec.command);
	}
	a->ready(a->ud, r);
}

int k8s_auth_ensure(struct k8s_auth *a)
{
	int r;

	if (!a->cfg->has_exec || cred_valid(a))
		return 0;
	if (a->exec)
		return 1;
	r = k8s_exec_run(a->loop, &a->cfg->exec, a->cfg->server, on_exec_done, a, &a->exec);
	if (r < 0) {
		snprintf(a->exec_error, sizeof(a->exec_error),
			 "exec credential plugin %s: cannot run: %s", a->cfg->exec.command,
			 strerror(-r));
		return r;
	}
	return 1;
}

void k8s_auth_refused(struct k8s_auth *a)
{
	if (a->cfg->token_file && loop_now_usec() - a->token_read_at > 1000000)
		(void)read_token_file(a);
	if (a->cfg->has_exec)
		a->have_cred = false;
}

void k8s_auth_fill(const struct k8s_auth *a, struct k8s_http_request *rq)
{
	if (a->cfg->has_exec && a->cred.token)
		rq->bearer = a->cred.token;
	else if (a->cfg->token)
		rq->bearer = a->cfg->token;
	else
		rq->bearer = a->file_token;
	rq->cert = a->cred.cert.len ? &a->cred.cert : NULL;
	rq->key = a->cred.key.len ? &a->cred.key : NULL;
}

void k8s_auth_clear(struct k8s_auth *a)
{
	k8s_exec_free(a->exec);
	a->exec = NULL;
	k8s_exec_credential_clear(&a->cred);
	loop_timer_free(a->token_timer);
	a->token_timer = NULL;
	if (a->file_token)
		explicit_bzero(a->file_token, strlen(a->file_token));
	free(a->file_token);
	a->file_token = NULL;
}
