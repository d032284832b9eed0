/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How to reach the API server: a kubeconfig (one file or a $KUBECONFIG
 * ':'-list, merged as client-go does) or the in-cluster service account,
 * resolved into one struct k8s_conn_config with certificates already read.
 * Reads files; never logs (errors come back as a message naming the field).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define KUBECONFIG_MAX_FILE_BYTES (1u * 1024 * 1024) /* a kubeconfig, a PEM file, a token */
#define KUBECONFIG_MAX_FILES 32                      /* entries of a $KUBECONFIG list */
#define KUBECONFIG_MAX_EXEC_ARGS 256                 /* exec args and env entries */
#define K8S_SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Bytes read from a file or decoded from base64 (PEM text, NUL-terminated for convenience). */
struct k8s_blob {
	char *data;
	size_t len;
};

/* users[].user.exec: a client.authentication.k8s.io credential plugin. */
struct k8s_exec_config {
	char *command;   /* resolved against the kubeconfig's folder when it holds a '/' */
	char **argv;     /* argv[0] = command, NULL-terminated */
	size_t n_argv;
	char **env;      /* "NAME=VALUE" added to netpold's environment, NULL-terminated */
	size_t n_env;
	char *api_version; /* client.authentication.k8s.io/v1 or v1beta1 */
	bool provide_cluster_info;
};

struct k8s_conn_config {
	char *server;    /* "https://host:port[/path]", no trailing '/' */
	char *origin;    /* "kubeconfig FILE (context NAME)" or "in-cluster service account" */
	char *ca_file;   /* where ca came from, for messages; NULL for -data or system CAs */
	struct k8s_blob ca; /* empty: the system's CA store */
	bool insecure;   /* insecure-skip-tls-verify */
	char *tls_server_name;
	char *cert_file, *key_file; /* for messages; NULL for -data */
	struct k8s_blob cert, key;  /* client certificate and key (PEM), both or neither */
	char *token;      /* static bearer token (token:) */
	char *token_file; /* re-read at runtime (tokenFile: / the service account token) */
	bool has_exec;
	struct k8s_exec_config exec;
};

void k8s_conn_config_clear(struct k8s_conn_config *c);

/*
 * Load a kubeconfig. paths is one file, or a ':'-list as $KUBECONFIG holds
 * (missing files in a list are skipped; a single named file must exist).
 * Maps merge as client-go's loader does: the first file to define a
 * cluster, user or context name (or current-context) wins. context (may be
 * NULL) overrides current-context. Relative paths resolve against the folder
 * of the file that holds them; certificate and key files are read now.
 * Returns 0, or -errno with *ret_err an allocated message such as
 * "kubeconfig /x/config: users[0].user.client-key: file not found".
 */
int kubeconfig_load(const char *paths, const char *context, struct k8s_conn_config *ret,
		    char **ret_err);

/*
 * The in-cluster configuration: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
 * (IPv6 bracketed), the token file and ca.crt of sa_dir (K8S_SERVICE_ACCOUNT_DIR).
 * Returns 0, -ENOENT when the variables are not set, or -errno with *ret_err set.
 */
int kubeconfig_in_cluster(const char *sa_dir, struct k8s_conn_config *ret, char **ret_err);

/*
 * Read a whole regular file of at most max bytes, NUL-terminated. Returns 0,
 * -ENOENT, -EACCES, -EFBIG (too large), -EINVAL (not a regular file) or -errno.
 */
int k8s_read_file(const char *path, size_t max, struct k8s_blob *ret);

/* Decode base64 (whitespace ignored). Returns 0 or -EINVAL / -ENOMEM. */
int k8s_base64_decode(const char *s, size_t len, struct k8s_blob *ret);

void k8s_blob_clear(struct k8s_blob *b);

/* A token as read from a token file: surrounding whitespace trimmed. -EINVAL if empty. */
int k8s_token_normalize(struct k8s_blob *b);
