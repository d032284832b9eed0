/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Kubernetes API source: lists then watches namespaces, pods,
 * networkpolicies and services on the daemon's loop (libcurl multi, no
 * threads) and feeds the engine through the source interface. Per-resource
 * state is exposed for the status socket.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s_watch.h"
#include "source.h"

#define K8S_LIST_TIMEOUT_SEC 120
#define K8S_TOKEN_REREAD_USEC (60ull * 1000000) /* token files: client-go re-reads every minute */
#define K8S_EXEC_EXPIRY_SLACK_SEC 10           /* re-run a plugin this long before expiry */

struct k8s_source_options {
	const char *kubeconfig; /* a file or ':'-list ($KUBECONFIG); NULL: in-cluster */
	const char *context;    /* overrides current-context; may be NULL */
	const char *sa_dir;     /* in-cluster service account folder; NULL: the default */
};

/*
 * Create the source from a kubeconfig or the in-cluster configuration. The
 * configuration is loaded now, so a bad kubeconfig fails here: returns 0, or
 * -errno with *ret_err an allocated message naming the file and field. The
 * API server need not be reachable: start() only schedules the first lists.
 */
int k8s_source_new(const struct k8s_source_options *o, void (*notify)(void *ud), void *ud,
		   struct source **ret, char **ret_err);

/* Whether s is a Kubernetes source. */
bool k8s_source_is(const struct source *s);

struct k8s_resource_status {
	const char *resource;         /* "pods", "networkpolicies.networking.k8s.io", ... */
	const char *state;            /* "listing", "watching", "backoff" */
	bool synced;                  /* its first list completed */
	const char *resource_version; /* last seen, "" when none */
	const char *last_error;       /* NULL when the last request succeeded */
	uint64_t lists, relists, watches, watch_restarts, expired, errors;
	size_t objects;               /* present in the API as far as we know */
	size_t invalid;               /* rejected by the decoder, last valid version kept */
};

/*
 * Per-resource status, K8S_N_RESOURCES entries at most, in the order of enum
 * k8s_resource. Strings point into the source and stay valid until the loop
 * runs again. Returns the count, or -EINVAL when s is not a Kubernetes source.
 */
int k8s_source_status(const struct source *s, struct k8s_resource_status *ret, size_t max);
