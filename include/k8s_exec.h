/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Exec credential plugins (client.authentication.k8s.io): the kubeconfig's
 * command runs as a child whose stdout is a pipe served by the loop, so a
 * slow plugin never blocks netpold; its ExecCredential answer is parsed into
 * a token or a client certificate with an expiry. Never logs.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "kubeconfig.h"
#include "loop.h"

#define K8S_EXEC_MAX_OUTPUT (1u * 1024 * 1024)
#define K8S_EXEC_TIMEOUT_USEC (60ull * 1000000)

struct k8s_exec_credential {
	char *token;                /* NULL when a certificate was given */
	struct k8s_blob cert, key;  /* PEM */
	int64_t expiry;             /* status.expirationTimestamp, unix seconds; 0: none */
};

void k8s_exec_credential_clear(struct k8s_exec_credential *c);

/*
 * Parse an ExecCredential JSON document (stdout of the plugin) of the given
 * apiVersion. Returns 0, or -EINVAL with *ret_err an allocated message.
 */
int k8s_exec_parse(const char *buf, size_t len, const char *api_version,
		   struct k8s_exec_credential *ret, char **ret_err);

struct k8s_exec;

/*
 * Run the plugin. done is called once from the loop with 0 and the parsed
 * credential (ownership passes), or a negative errno and a message. The
 * child is killed after K8S_EXEC_TIMEOUT_USEC. Returns 0 or -errno.
 */
typedef void (*k8s_exec_done_fn)(void *ud, int r, struct k8s_exec_credential *cred,
				 const char *message);
int k8s_exec_run(struct loop *l, const struct k8s_exec_config *cfg, const char *server,
		 k8s_exec_done_fn done, void *ud, struct k8s_exec **ret);
/* Kill and reap a running plugin without calling done. Accepts NULL. */
void k8s_exec_free(struct k8s_exec *x);
