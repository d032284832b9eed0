/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kubeconfig_load() on fuzzer-written files. Byte 0 picks the --context
 * (bits 0-1: none, "ctx", "kind-kind", "missing"), bit 2 splits the rest
 * at its first NUL into two files loaded as a $KUBECONFIG list (merge
 * rules), bit 3 feeds the rest to k8s_base64_decode and k8s_token_normalize
 * instead. The files live in a private temporary folder that also holds
 * ca.crt, client.crt, client.key and token for relative references.
 * Seeds: corpus/fuzz_kubeconfig.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "kubeconfig.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/netpold-fuzz-kubeconfig.XXXXXX";
static char path1[PATH_MAX], path2[PATH_MAX], list[2 * PATH_MAX + 64];

static const char *const aux_files[] = {"ca.crt", "client.crt", "client.key", "token", "config",
					"config2"};

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *p = data;

	FUZZ_CHECK(fd >= 0, "open %s: %m", path);
	while (len > 0) {
		ssize_t k = write(fd, p, len);

		FUZZ_CHECK(k > 0, "write %s: %m", path);
		p += k;
		len -= (size_t)k;
	}
	close(fd);
}

static void aux(const char *name, const char *text)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	write_file(p, text, strlen(text));
}

static void cleanup(void)
{
	char p[PATH_MAX];

	for (size_t i = 0; i < ELEMENTSOF(aux_files); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, aux_files[i]);
		unlink(p);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n"
				  "-----END CERTIFICATE-----\n";

	FUZZ_CHECK(mkdtemp(dir), "mkdtemp: %m");
	atexit(cleanup);
	aux("ca.crt", pem);
	aux("client.crt", pem);
	aux("client.key",
	    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI\n-----END EC PRIVATE KEY-----\n");
	aux("token", "  eyJhbGciOiJSUzI1NiJ9.e30.sig\n");
	snprintf(path1, sizeof(path1), "%s/config", dir);
	snprintf(path2, sizeof(path2), "%s/config2", dir);
	snprintf(list, sizeof(list), "%s:%s/absent:%s", path1, dir, path2);
	return 0;
}

static void check_config(const struct k8s_conn_config *c)
{
	size_t n;

	FUZZ_CHECK(c->server && c->origin, "server/origin missing");
	n = strlen(c->server);
	FUZZ_CHECK(n > 0 && c->server[n - 1] != '/', "server \"%s\"", c->server);
	FUZZ_CHECK(!strncmp(c->server, "https://", 8) || !strncmp(c->server, "http://", 7),
		   "server \"%s\"", c->server);
	FUZZ_CHECK(!c->cert.len == !c->key.len, "certificate and key apart");
	FUZZ_CHECK(!(c->insecure && c->ca.len), "insecure with a CA");
	if (c->ca.len)
		FUZZ_CHECK(c->ca.data[c->ca.len] == '\0', "CA not NUL-terminated");
	if (c->token) {
		FUZZ_CHECK(*c->token, "empty token");
		for (const char *p = c->token; *p; p++)
			FUZZ_CHECK(*p > 0x20 && *p < 0x7f, "token byte 0x%02x", (unsigned char)*p);
	}
	if ((c->token || c->token_file || c->has_exec))
		FUZZ_CHECK(!strncmp(c->server, "https://", 8), "credentials over %s", c->server);
	if (c->has_exec) {
		FUZZ_CHECK(c->exec.command && c->exec.argv && c->exec.n_argv >= 1, "exec argv");
		FUZZ_CHECK(!strcmp(c->exec.argv[0], c->exec.command), "argv[0]");
		FUZZ_CHECK(c->exec.argv[c->exec.n_argv] == NULL, "argv not NULL-terminated");
		FUZZ_CHECK(c->exec.n_argv < KUBECONFIG_MAX_EXEC_ARGS, "argv too long");
		FUZZ_CHECK(!c->exec.env || c->exec.env[c->exec.n_env] == NULL,
			   "env not NULL-terminated");
		for (size_t i = 0; i < c->exec.n_env; i++)
			FUZZ_CHECK(strchr(c->exec.env[i], '=') != c->exec.env[i],
				   "env entry \"%s\"", c->exec.env[i]);
	}
}

static void fuzz_base64(const uint8_t *data, size_t size)
{
	struct k8s_blob b;
	int r = k8s_base64_decode((const char *)data, size, &b);

	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL && !b.data, "base64 returned %d", r);
		return;
	}
	FUZZ_CHECK(b.len <= size / 4 * 3 + 2 && b.data[b.len] == '\0', "base64 output");
	r = k8s_token_normalize(&b);
	if (r == 0) {
		FUZZ_CHECK(b.len > 0 && b.data[b.len] == '\0' && strlen(b.data) == b.len, "token");
		FUZZ_CHECK(b.data[0] > 0x20 && b.data[b.len - 1] > 0x20, "token not trimmed");
	}
	k8s_blob_clear(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const contexts[] = {NULL, "ctx", "kind-kind", "missing"};
	struct k8s_conn_config cfg;
	const uint8_t *nul;
	char *err = NULL;
	const char *paths = path1;
	uint8_t sel;
	int r;

	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	if (sel & 8) {
		fuzz_base64(data, size);
		return 0;
	}
	nul = (sel & 4) ? memchr(data, '\0', size) : NULL;
	if (nul) {
		write_file(path1, data, (size_t)(nul - data));
		write_file(path2, nul + 1, size - (size_t)(nul - data) - 1);
		paths = list;
	} else {
		write_file(path1, data, size);
	}
	r = kubeconfig_load(paths, contexts[sel & 3], &cfg, &err);
	if (r == 0) {
		FUZZ_CHECK(!err, "success with a message");
		check_config(&cfg);
	} else {
		FUZZ_CHECK(r < 0, "returned %d", r);
		FUZZ_CHECK(err && *err, "failure %d without a message", r);
		FUZZ_CHECK(cfg.server == NULL && !cfg.has_exec, "output filled on failure");
	}
	free(err);
	k8s_conn_config_clear(&cfg);
	return 0;
}
