/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kubeconfig and in-cluster configuration. Every file of a $KUBECONFIG list
 * is parsed with libyaml's document API; clusters, users and contexts merge
 * by name (first file wins, as client-go's loader), then the chosen context
 * is resolved and its files read, so errors name the file and the field.
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <yaml.h>

#include "kubeconfig.h"

#define MAX_NAMED 4096 /* clusters, users or contexts over all files */

struct kc_file {
	char *path;
	char *dir;
	yaml_document_t doc;
	bool loaded;
};

/* One named entry of clusters/users/contexts: where it was defined. */
struct kc_named {
	const char *name;
	struct kc_file *file;
	size_t index;      /* position in that file's list, for messages */
	yaml_node_t *body; /* the "cluster"/"user"/"context" map, or NULL */
};

struct kc_table {
	struct kc_named *v;
	size_t n;
};

struct kc {
	struct kc_file files[KUBECONFIG_MAX_FILES];
	size_t n_files;
	struct kc_table clusters, users, contexts;
	const char *current_context;
	struct kc_file *current_context_file;
	char **err;
};

void k8s_blob_clear(struct k8s_blob *b)
{
	if (b->data)
		explicit_bzero(b->data, b->len);
	free(b->data);
	*b = (struct k8s_blob){0};
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

void k8s_conn_config_clear(struct k8s_conn_config *c)
{
	free(c->server);
	free(c->origin);
	free(c->ca_file);
	k8s_blob_clear(&c->ca);
	free(c->tls_server_name);
	free(c->cert_file);
	free(c->key_file);
	k8s_blob_clear(&c->cert);
	k8s_blob_clear(&c->key);
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	free(c->token_file);
	free(c->exec.command);
	strv_free(c->exec.argv);
	strv_free(c->exec.env);
	free(c->exec.api_version);
	*c = (struct k8s_conn_config){0};
}

static int fail(char **ret_err, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(char **ret_err, int r, const char *fmt, ...)
{
	va_list ap;

	if (ret_err) {
		free(*ret_err);
		va_start(ap, fmt);
		if (vasprintf(ret_err, fmt, ap) < 0)
			*ret_err = NULL;
		va_end(ap);
	}
	return r;
}

int k8s_read_file(const char *path, size_t max, struct k8s_blob *ret)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t n = 0;

	*ret = (struct k8s_blob){0};
	/* O_NONBLOCK: a FIFO at that path must not block the loop before the type check */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k = read(fd, buf + n, max + 1 - n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		n += (size_t)k;
		if (n > max)
			return -EFBIG;
	}
	buf[n] = '\0';
	ret->data = TAKE_PTR(buf);
	ret->len = n;
	return 0;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int k8s_base64_decode(const char *s, size_t len, struct k8s_blob *ret)
{
	_cleanup_free_ char *out = NULL;
	uint32_t acc = 0;
	size_t n = 0, bits = 0, pad = 0;

	*ret = (struct k8s_blob){0};
	out = malloc(len / 4 * 3 + 4);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad)
			return -EINVAL; /* data after padding */
		v = b64_value(c);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2 || bits >= 6)
		return -EINVAL;
	out[n] = '\0';
	ret->data = TAKE_PTR(out);
	ret->len = n;
	return 0;
}

int k8s_token_normalize(struct k8s_blob *b)
{
	size_t s = 0, e = b->len;

	while (s < e && strchr(" \t\r\n", b->data[s]))
		s++;
	while (e > s && strchr(" \t\r\n", b->data[e - 1]))
		e--;
	if (e == s)
		return -EINVAL;
	for (size_t i = s; i < e; i++)
		if ((unsigned char)b->data[i] < 0x21 || (unsigned char)b->data[i] > 0x7e)
			return -EINVAL; /* would break the Authorization header */
	memmove(b->data, b->data + s, e - s);
	b->len = e - s;
	b->data[b->len] = '\0';
	return 0;
}

/* ---- YAML helpers ---- */

static yaml_node_t *root_of(struct kc_file *f)
{
	return yaml_document_get_root_node(&f->doc);
}

static const char *scalar(yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(yaml_document_get_node(doc, p->key));

		if (k && strcmp(k, key) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

static bool is_null(yaml_node_t *n)
{
	const char *s = scalar(n);

	return !n || (s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		      (strcmp(s, "") == 0 || strcmp(s, "null") == 0 || strcmp(s, "~") == 0));
}

/* ---- loading and merging ---- */

static int load_one(struct kc *kc, const char *path, bool must_exist)
{
	struct kc_file *f = &kc->files[kc->n_files];
	_cleanup_(k8s_blob_clear) struct k8s_blob b = {0};
	yaml_parser_t parser;
	char *dir_copy;
	int r;

	r = k8s_read_file(path, KUBECONFIG_MAX_FILE_BYTES, &b);
	if (r == -ENOENT && !must_exist)
		return 0;
	if (r == -ENOENT)
		return fail(kc->err, r, "kubeconfig %s: file not found", path);
	if (r == -EFBIG)
		return fail(kc->err, -EINVAL, "kubeconfig %s: larger than %u bytes", path,
			    KUBECONFIG_MAX_FILE_BYTES);
	if (r < 0)
		return fail(kc->err, r, "kubeconfig %s: %s", path, strerror(-r));

	*f = (struct kc_file){0};
	f->path = strdup(path);
	dir_copy = strdup(path);
	if (!f->path || !dir_copy) {
		free(dir_copy);
		free(f->path);
		return -ENOMEM;
	}
	f->dir = strdup(dirname(dir_copy));
	free(dir_copy);
	if (!f->dir) {
		free(f->path);
		return -ENOMEM;
	}
	kc->n_files++; /* owned by kc from here on */

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)b.data, b.len);
	if (!yaml_parser_load(&parser, &f->doc)) {
		r = fail(kc->err, -EINVAL, "kubeconfig %s:%zu:%zu: %s", path,
			 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "invalid YAML");
		yaml_parser_delete(&parser);
		return r;
	}
	yaml_parser_delete(&parser);
	f->loaded = true;
	if (root_of(f) && root_of(f)->type != YAML_MAPPING_NODE)
		return fail(kc->err, -EINVAL, "kubeconfig %s: not a map", path);
	return 0;
}

static struct kc_named *table_find(struct kc_table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return &t->v[i];
	return NULL;
}

/* Add the entries of list `key` ("clusters") whose body is under `body` ("cluster"). */
static int merge_list(struct kc *kc, struct kc_file *f, const char *key, const char *body,
		      struct kc_table *t)
{
	yaml_node_t *list = map_get(&f->doc, root_of(f), key);
	size_t i = 0;

	if (is_null(list))
		return 0;
	if (list->type != YAML_SEQUENCE_NODE)
		return fail(kc->err, -EINVAL, "kubeconfig %s: %s: expected a list", f->path, key);
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	     it < list->data.sequence.items.top; it++, i++) {
		yaml_node_t *item = yaml_document_get_node(&f->doc, *it);
		const char *name = scalar(map_get(&f->doc, item, "name"));
		yaml_node_t *b = map_get(&f->doc, item, body);
		struct kc_named *v;

		if (!item || item->type != YAML_MAPPING_NODE)
			return fail(kc->err, -EINVAL, "kubeconfig %s: %s[%zu]: expected a map",
				    f->path, key, i);
		if (!name || !name[0])
			return fail(kc->err, -EINVAL, "kubeconfig %s: %s[%zu].name: missing",
				    f->path, key, i);
		if (!is_null(b) && b->type != YAML_MAPPING_NODE)
			return fail(kc->err, -EINVAL, "kubeconfig %s: %s[%zu].%s: expected a map",
				    f->path, key, i, body);
		if (table_find(t, name))
			continue; /* the first file to set a map key wins */
		if (t->n >= MAX_NAMED)
			return fail(kc->err, -E2BIG, "kubeconfig %s: more than %u %s", f->path,
				    MAX_NAMED, key);
		v = reallocarray(t->v, t->n + 1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v;
		t->v[t->n++] = (struct kc_named){name, f, i, is_null(b) ? NULL : b};
	}
	return 0;
}

static void kc_free(struct kc *kc)
{
	for (size_t i = 0; i < kc->n_files; i++) {
		if (kc->files[i].loaded)
			yaml_document_delete(&kc->files[i].doc);
		free(kc->files[i].path);
		free(kc->files[i].dir);
	}
	free(kc->clusters.v);
	free(kc->users.v);
	free(kc->contexts.v);
}

/* ---- field extraction for the chosen context ---- */

struct field_ctx {
	struct kc *kc;
	struct kc_named *e;
	const char *list;  /* "clusters" */
	const char *body;  /* "cluster" */
};

static int field_fail(struct field_ctx *c, const char *field, int r, const char *fmt, ...)
	_printf_(4, 5);
static int field_fail(struct field_ctx *c, const char *field, int r, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	return fail(c->kc->err, r, "kubeconfig %s: %s[%zu].%s.%s: %s", c->e->file->path, c->list,
		    c->e->index, c->body, field, msg ? msg : "invalid");
}

/* A string field: NULL if absent or empty; -EINVAL if not a scalar. */
static int get_str(struct field_ctx *c, const char *field, const char **ret)
{
	yaml_node_t *n = map_get(&c->e->file->doc, c->e->body, field);

	*ret = NULL;
	if (is_null(n))
		return 0;
	if (!scalar(n))
		return field_fail(c, field, -EINVAL, "expected a string");
	*ret = scalar(n);
	return 0;
}

static int get_bool(struct field_ctx *c, const char *field, bool *ret)
{
	const char *s;
	int r = get_str(c, field, &s);

	*ret = false;
	if (r < 0 || !s)
		return r;
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
		*ret = true;
	else if (strcmp(s, "false") != 0 && strcmp(s, "False") != 0 && strcmp(s, "FALSE") != 0)
		return field_fail(c, field, -EINVAL, "expected true or false, got \"%s\"", s);
	return 0;
}

/* path resolved against the folder of the file holding it. */
static int resolve_path(struct field_ctx *c, const char *path, char **ret)
{
	if (path[0] == '/' || path[0] == '\0')
		*ret = strdup(path);
	else if (asprintf(ret, "%s/%s", c->e->file->dir, path) < 0)
		*ret = NULL;
	return *ret ? 0 : -ENOMEM;
}

static int read_field_file(struct field_ctx *c, const char *field, const char *path,
			   struct k8s_blob *ret)
{
	int r = k8s_read_file(path, KUBECONFIG_MAX_FILE_BYTES, ret);

	if (r == -ENOENT)
		return field_fail(c, field, r, "file not found (%s)", path);
	if (r == -EFBIG)
		return field_fail(c, field, -EINVAL, "%s is larger than %u bytes", path,
				  KUBECONFIG_MAX_FILE_BYTES);
	if (r < 0)
		return field_fail(c, field, r, "%s: %s", path, strerror(-r));
	if (ret->len == 0) {
		k8s_blob_clear(ret);
		return field_fail(c, field, -EINVAL, "%s is empty", path);
	}
	return 0;
}

/*
 * "X-data" (base64) wins over "X" (a path); the path is kept in *ret_path for
 * messages. Neither given: *ret left empty.
 */
static int get_pem(struct field_ctx *c, const char *field, struct k8s_blob *ret, char **ret_path)
{
	char data_field[64];
	const char *data, *path;
	int r;

	snprintf(data_field, sizeof(data_field), "%s-data", field);
	r = get_str(c, data_field, &data);
	if (r >= 0)
		r = get_str(c, field, &path);
	if (r < 0)
		return r;
	if (data) {
		r = k8s_base64_decode(data, strlen(data), ret);
		if (r == -ENOMEM)
			return r;
		if (r < 0 || ret->len == 0)
			return field_fail(c, data_field, -EINVAL, "invalid base64");
		if (!memmem(ret->data, ret->len, "-----BEGIN", 10))
			return field_fail(c, data_field, -EINVAL, "not PEM data");
		return 0;
	}
	if (!path)
		return 0;
	r = resolve_path(c, path, ret_path);
	if (r < 0)
		return r;
	r = read_field_file(c, field, *ret_path, ret);
	if (r < 0)
		return r;
	if (!memmem(ret->data, ret->len, "-----BEGIN", 10))
		return field_fail(c, field, -EINVAL, "%s is not a PEM file", *ret_path);
	return 0;
}

static int get_cluster(struct kc *kc, struct kc_named *e, struct k8s_conn_config *cfg)
{
	struct field_ctx c = {kc, e, "clusters", "cluster"};
	const char *server, *tsn, *proxy;
	size_t len;
	int r;

	if (!e->body)
		return fail(kc->err, -EINVAL, "kubeconfig %s: clusters[%zu].cluster: missing",
			    e->file->path, e->index);
	r = get_str(&c, "server", &server);
	if (r < 0)
		return r;
	if (!server)
		return field_fail(&c, "server", -EINVAL, "missing");
	if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
		return field_fail(&c, "server", -EINVAL, "\"%s\" is not an http(s) URL", server);
	if (strlen(server) > 2048 || strpbrk(server, " \t\r\n?#"))
		return field_fail(&c, "server", -EINVAL, "invalid URL \"%s\"", server);
	cfg->server = strdup(server);
	if (!cfg->server)
		return -ENOMEM;
	len = strlen(cfg->server);
	while (len > 0 && cfg->server[len - 1] == '/')
		cfg->server[--len] = '\0';

	r = get_pem(&c, "certificate-authority", &cfg->ca, &cfg->ca_file);
	if (r >= 0)
		r = get_bool(&c, "insecure-skip-tls-verify", &cfg->insecure);
	if (r >= 0)
		r = get_str(&c, "tls-server-name", &tsn);
	if (r >= 0)
		r = get_str(&c, "proxy-url", &proxy);
	if (r < 0)
		return r;
	if (cfg->insecure && cfg->ca.len)
		return field_fail(&c, "insecure-skip-tls-verify", -EINVAL,
				  "cannot be combined with certificate-authority");
	if (proxy)
		return field_fail(&c, "proxy-url", -EOPNOTSUPP,
				  "not supported (use the https_proxy environment variable)");
	if (tsn && !(cfg->tls_server_name = strdup(tsn)))
		return -ENOMEM;
	return 0;
}

static int get_strv_list(struct field_ctx *c, yaml_node_t *list, const char *field, char ***v,
			 size_t *n)
{
	yaml_document_t *doc = &c->e->file->doc;
	size_t i = 0;

	if (is_null(list))
		return 0;
	if (list->type != YAML_SEQUENCE_NODE)
		return field_fail(c, field, -EINVAL, "expected a list");
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	     it < list->data.sequence.items.top; it++, i++) {
		yaml_node_t *item = yaml_document_get_node(doc, *it);
		char *s, **nv;
		char f[64];

		if (*n + 2 > KUBECONFIG_MAX_EXEC_ARGS)
			return field_fail(c, field, -E2BIG, "more than %u entries",
					  KUBECONFIG_MAX_EXEC_ARGS);
		snprintf(f, sizeof(f), "%s[%zu]", field, i);
		if (strcmp(field, "exec.env") == 0) {
			const char *name = scalar(map_get(doc, item, "name"));
			const char *value = scalar(map_get(doc, item, "value"));

			if (!name || !name[0] || strchr(name, '='))
				return field_fail(c, f, -EINVAL, "name: missing or invalid");
			if (asprintf(&s, "%s=%s", name, value ? value : "") < 0)
				return -ENOMEM;
		} else {
			if (!scalar(item))
				return field_fail(c, f, -EINVAL, "expected a string");
			s = strdup(scalar(item));
			if (!s)
				return -ENOMEM;
		}
		nv = reallocarray(*v, *n + 2, sizeof(char *));
		if (!nv) {
			free(s);
			return -ENOMEM;
		}
		*v = nv;
		nv[(*n)++] = s;
		nv[*n] = NULL;
	}
	return 0;
}

static int get_exec(struct field_ctx *c, yaml_node_t *ex, struct k8s_conn_config *cfg)
{
	yaml_document_t *doc = &c->e->file->doc;
	struct k8s_exec_config *x = &cfg->exec;
	const char *cmd = scalar(map_get(doc, ex, "command"));
	const char *api = scalar(map_get(doc, ex, "apiVersion"));
	const char *pci = scalar(map_get(doc, ex, "provideClusterInfo"));
	int r;

	if (ex->type != YAML_MAPPING_NODE)
		return field_fail(c, "exec", -EINVAL, "expected a map");
	if (!cmd || !cmd[0])
		return field_fail(c, "exec.command", -EINVAL, "missing");
	if (!api || (strcmp(api, "client.authentication.k8s.io/v1") != 0 &&
		     strcmp(api, "client.authentication.k8s.io/v1beta1") != 0))
		return field_fail(c, "exec.apiVersion", -EINVAL,
				  "must be client.authentication.k8s.io/v1 or v1beta1");
	if (strchr(cmd, '/')) {
		r = resolve_path(c, cmd, &x->command);
		if (r < 0)
			return r;
	} else if (!(x->command = strdup(cmd)))
		return -ENOMEM;
	x->api_version = strdup(api);
	x->argv = calloc(2, sizeof(char *));
	if (!x->api_version || !x->argv || !(x->argv[0] = strdup(x->command)))
		return -ENOMEM;
	x->n_argv = 1;
	r = get_strv_list(c, map_get(doc, ex, "args"), "exec.args", &x->argv, &x->n_argv);
	if (r < 0)
		return r;
	r = get_strv_list(c, map_get(doc, ex, "env"), "exec.env", &x->env, &x->n_env);
	if (r < 0)
		return r;
	x->provide_cluster_info = pci && strcmp(pci, "true") == 0;
	cfg->has_exec = true;
	return 0;
}

static int get_user(struct kc *kc, struct kc_named *e, struct k8s_conn_config *cfg)
{
	struct field_ctx c = {kc, e, "users", "user"};
	const char *token, *token_file, *s;
	yaml_node_t *ex;
	int r;

	if (!e->body)
		return 0; /* an anonymous user */
	r = get_pem(&c, "client-certificate", &cfg->cert, &cfg->cert_file);
	if (r >= 0)
		r = get_pem(&c, "client-key", &cfg->key, &cfg->key_file);
	if (r < 0)
		return r;
	if (cfg->cert.len && !cfg->key.len)
		return field_fail(&c, "client-key", -EINVAL, "missing (client-certificate is set)");
	if (cfg->key.len && !cfg->cert.len)
		return field_fail(&c, "client-certificate", -EINVAL,
				  "missing (client-key is set)");

	r = get_str(&c, "token", &token);
	if (r >= 0)
		r = get_str(&c, "tokenFile", &token_file);
	if (r < 0)
		return r;
	if (token) {
		struct k8s_blob b = {.data = strdup(token), .len = strlen(token)};

		if (!b.data)
			return -ENOMEM;
		if (k8s_token_normalize(&b) < 0) {
			k8s_blob_clear(&b);
			return field_fail(&c, "token", -EINVAL, "not a valid token");
		}
		cfg->token = b.data;
	} else if (token_file) {
		_cleanup_(k8s_blob_clear) struct k8s_blob b = {0};

		r = resolve_path(&c, token_file, &cfg->token_file);
		if (r < 0)
			return r;
		/* checked now so a typo fails at start; re-read at runtime */
		r = read_field_file(&c, "tokenFile", cfg->token_file, &b);
		if (r < 0)
			return r;
	}

	ex = map_get(&e->file->doc, e->body, "exec");
	if (!is_null(ex)) {
		r = get_exec(&c, ex, cfg);
		if (r < 0)
			return r;
	}
	if (get_str(&c, "username", &s) >= 0 && s)
		return field_fail(&c, "username", -EOPNOTSUPP,
				  "basic authentication is not supported");
	if (!is_null(map_get(&e->file->doc, e->body, "auth-provider")))
		return field_fail(&c, "auth-provider", -EOPNOTSUPP,
				  "not supported (use an exec credential plugin)");
	if (get_str(&c, "as", &s) >= 0 && s)
		return field_fail(&c, "as", -EOPNOTSUPP, "impersonation is not supported");
	return 0;
}

int kubeconfig_load(const char *paths, const char *context, struct k8s_conn_config *ret,
		    char **ret_err)
{
	_cleanup_free_ char *copy = NULL;
	struct kc kc = {.err = ret_err};
	struct k8s_conn_config cfg = {0};
	struct kc_named *ctx, *cl, *us;
	struct field_ctx c;
	const char *cname, *uname;
	bool single;
	char *p, *rest;
	int r;

	if (ret_err)
		*ret_err = NULL;
	*ret = (struct k8s_conn_config){0};
	if (!paths || !paths[0])
		return fail(ret_err, -EINVAL, "kubeconfig: no file given");
	copy = strdup(paths);
	if (!copy)
		return -ENOMEM;
	single = !strchr(paths, ':');
	rest = copy;
	while ((p = strsep(&rest, ":"))) {
		bool dup = false;

		if (!p[0])
			continue;
		for (size_t i = 0; i < kc.n_files; i++)
			dup |= strcmp(kc.files[i].path, p) == 0;
		if (dup)
			continue;
		if (kc.n_files >= KUBECONFIG_MAX_FILES) {
			r = fail(ret_err, -E2BIG, "kubeconfig: more than %u files in \"%s\"",
				 KUBECONFIG_MAX_FILES, paths);
			goto out;
		}
		r = load_one(&kc, p, single);
		if (r < 0)
			goto out;
	}
	if (kc.n_files == 0) {
		r = fail(ret_err, -ENOENT, "kubeconfig: none of \"%s\" exists", paths);
		goto out;
	}
	for (size_t i = 0; i < kc.n_files; i++) {
		struct kc_file *f = &kc.files[i];
		const char *cc;

		if (!root_of(f))
			continue; /* an empty file */
		r = merge_list(&kc, f, "clusters", "cluster", &kc.clusters);
		if (r >= 0)
			r = merge_list(&kc, f, "users", "user", &kc.users);
		if (r >= 0)
			r = merge_list(&kc, f, "contexts", "context", &kc.contexts);
		if (r < 0)
			goto out;
		cc = scalar(map_get(&f->doc, root_of(f), "current-context"));
		if (!kc.current_context && cc && cc[0]) {
			kc.current_context = cc;
			kc.current_context_file = f;
		}
	}

	if (context && context[0]) {
		ctx = table_find(&kc.contexts, context);
		if (!ctx) {
			r = fail(ret_err, -ENOENT, "kubeconfig %s: context \"%s\" (--context) not found",
				 paths, context);
			goto out;
		}
	} else {
		if (!kc.current_context) {
			r = fail(ret_err, -EINVAL,
				 "kubeconfig %s: current-context: not set (use --context)", paths);
			goto out;
		}
		ctx = table_find(&kc.contexts, kc.current_context);
		if (!ctx) {
			r = fail(ret_err, -ENOENT, "kubeconfig %s: current-context: context \"%s\" not found",
				 kc.current_context_file->path, kc.current_context);
			goto out;
		}
	}
	c = (struct field_ctx){&kc, ctx, "contexts", "context"};
	if (!ctx->body) {
		r = fail(ret_err, -EINVAL, "kubeconfig %s: contexts[%zu].context: missing",
			 ctx->file->path, ctx->index);
		goto out;
	}
	r = get_str(&c, "cluster", &cname);
	if (r >= 0)
		r = get_str(&c, "user", &uname);
	if (r < 0)
		goto out;
	if (!cname) {
		r = field_fail(&c, "cluster", -EINVAL, "missing");
		goto out;
	}
	cl = table_find(&kc.clusters, cname);
	if (!cl) {
		r = field_fail(&c, "cluster", -ENOENT, "cluster \"%s\" not found", cname);
		goto out;
	}
	us = uname ? table_find(&kc.users, uname) : NULL;
	if (uname && !us) {
		r = field_fail(&c, "user", -ENOENT, "user \"%s\" not found", uname);
		goto out;
	}
	r = get_cluster(&kc, cl, &cfg);
	if (r >= 0 && us)
		r = get_user(&kc, us, &cfg);
	if (r < 0)
		goto out;
	if ((cfg.token || cfg.token_file || cfg.has_exec) && strncmp(cfg.server, "https://", 8)) {
		c = (struct field_ctx){&kc, cl, "clusters", "cluster"};
		r = field_fail(&c, "server", -EINVAL,
			       "\"%s\": a bearer token is only ever sent over https", cfg.server);
		goto out;
	}
	if (asprintf(&cfg.origin, "kubeconfig %s (context %s)", ctx->file->path, ctx->name) < 0) {
		cfg.origin = NULL;
		r = -ENOMEM;
		goto out;
	}
	*ret = cfg;
	cfg = (struct k8s_conn_config){0};
	r = 0;
out:
	if (r == -ENOMEM && ret_err && !*ret_err)
		fail(ret_err, r, "kubeconfig %s: out of memory", paths);
	k8s_conn_config_clear(&cfg);
	kc_free(&kc);
	return r;
}

int kubeconfig_in_cluster(const char *sa_dir, struct k8s_conn_config *ret, char **ret_err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	struct k8s_conn_config cfg = {0};
	_cleanup_(k8s_blob_clear) struct k8s_blob tok = {0};
	int64_t pn;
	int r;

	if (ret_err)
		*ret_err = NULL;
	*ret = (struct k8s_conn_config){0};
	if (!host || !host[0] || !port || !port[0])
		return fail(ret_err, -ENOENT,
			    "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
			    "are not set");
	if (strlen(host) > 255 || strpbrk(host, "/[]@?# ") ||
	    parse_int64(port, 1, 65535, &pn) < 0)
		return fail(ret_err, -EINVAL, "in-cluster: invalid KUBERNETES_SERVICE_HOST/PORT %s:%s",
			    host, port);
	if (asprintf(&cfg.server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
		     port) < 0 ||
	    asprintf(&cfg.token_file, "%s/token", sa_dir) < 0 ||
	    asprintf(&cfg.ca_file, "%s/ca.crt", sa_dir) < 0 ||
	    !(cfg.origin = strdup("in-cluster service account"))) {
		r = -ENOMEM;
		goto out;
	}
	r = k8s_read_file(cfg.ca_file, KUBECONFIG_MAX_FILE_BYTES, &cfg.ca);
	if (r < 0) {
		fail(ret_err, r, "in-cluster: %s: %s", cfg.ca_file,
		     r == -EFBIG ? "too large" : strerror(-r));
		goto out;
	}
	r = k8s_read_file(cfg.token_file, KUBECONFIG_MAX_FILE_BYTES, &tok);
	if (r < 0) {
		fail(ret_err, r, "in-cluster: %s: %s", cfg.token_file,
		     r == -EFBIG ? "too large" : strerror(-r));
		goto out;
	}
	*ret = cfg;
	return 0;
out:
	k8s_conn_config_clear(&cfg);
	return r;
}
