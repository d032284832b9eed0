/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Loader for the conformance data in tests/conformance/: the world
 * (world.json) and the upstream NetworkPolicy e2e cases (cases/ *.json).
 * Everything is validated at load time (pods named, templates well formed) so
 * that replays fail early and with the file's name. Rendering: conformance_render.c.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conformance_int.h"

int conformance_fail(char **ret_err, const char *fmt, ...)
{
	va_list ap;

	if (!ret_err)
		return -EINVAL;
	va_start(ap, fmt);
	if (vasprintf(ret_err, fmt, ap) < 0)
		*ret_err = NULL;
	va_end(ap);
	return -EINVAL;
}
char *conformance_default_dir(void)
{
	const char *e;
	char *r;

	e = getenv("NETPOLD_CONFORMANCE_DIR");
	if (e && *e)
		return strdup(e);
	e = getenv("NETPOLD_SOURCE_DIR");
	if (e && *e)
		return asprintf(&r, "%s/tests/conformance", e) < 0 ? NULL : r;
	/* CMake compiles with absolute source paths: .../tests/lib/conformance.c */
	const char *self = __FILE__;
	const char *tail = strstr(self, "/tests/lib/conformance.c");
	if (self[0] == '/' && tail)
		return asprintf(&r, "%.*s/tests/conformance", (int)(tail - self), self) < 0 ? NULL : r;
	return strdup("tests/conformance");
}

static json_t *load_json(const char *path, char **ret_err)
{
	json_error_t e;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);

	if (!j)
		conformance_fail(ret_err, "%s:%d:%d: %s", path, e.line, e.column, e.text);
	return j;
}

int conformance_world_load(const char *path, struct conformance_world **ret, char **ret_err)
{
	_cleanup_json_ json_t *root = NULL;
	struct conformance_world *w;
	json_t *pods, *p;
	size_t i;

	root = load_json(path, ret_err);
	if (!root)
		return -EINVAL;
	pods = json_object_get(root, "pods");
	if (!json_is_array(pods) || json_array_size(pods) == 0 || json_array_size(pods) > MAX_WORLD_PODS)
		return conformance_fail(ret_err, "%s: \"pods\" must be an array of 1..%d pods", path, MAX_WORLD_PODS);
	if (!json_is_array(json_object_get(root, "namespaces")))
		return conformance_fail(ret_err, "%s: \"namespaces\" must be an array", path);

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->pods = calloc(json_array_size(pods), sizeof(*w->pods));
	if (!w->pods) {
		free(w);
		return -ENOMEM;
	}
	w->namespaces = json_object_get(root, "namespaces");
	w->protocols = json_object_get(root, "protocols");
	w->ports = json_object_get(root, "ports");
	w->image = obj_str(root, "image");
	w->container = obj_str(root, "container");
	w->command = json_object_get(root, "command");
	w->root = TAKE_PTR(root);
	*ret = w; /* from here on conformance_world_free() cleans up */

	json_array_foreach(pods, i, p) {
		struct world_pod *wp = &w->pods[i];
		struct in6_addr a6;
		struct in_addr a4;

		wp->ns = obj_str(p, "namespace");
		wp->name = obj_str(p, "name");
		wp->node = obj_str(p, "nodeName");
		wp->uid = obj_str(p, "uid");
		wp->ip4 = obj_str(p, "ipv4");
		wp->ip6 = obj_str(p, "ipv6");
		wp->labels = json_object_get(p, "labels");
		w->n_pods = i + 1;
		if (!wp->ns || !wp->name || !wp->node || !wp->uid || !wp->ip4 || !wp->ip6 ||
		    !json_is_object(wp->labels)) {
			conformance_fail(ret_err, "%s: pods[%zu]: namespace, name, uid, nodeName, ipv4, ipv6 and labels are required",
			     path, i);
			goto err;
		}
		if (inet_pton(AF_INET, wp->ip4, &a4) != 1 || inet_pton(AF_INET6, wp->ip6, &a6) != 1) {
			conformance_fail(ret_err, "%s: pods[%zu]: bad address", path, i);
			goto err;
		}
		if (asprintf(&wp->id, "%s/%s", wp->ns, wp->name) < 0) {
			wp->id = NULL;
			conformance_world_free(w);
			*ret = NULL;
			return -ENOMEM;
		}
	}
	if (!json_is_array(w->protocols) || !json_is_array(w->ports) || !w->image || !w->container) {
		conformance_fail(ret_err, "%s: protocols, ports, image and container are required", path);
		goto err;
	}
	return 0;
err:
	conformance_world_free(w);
	*ret = NULL;
	return -EINVAL;
}

void conformance_world_free(struct conformance_world *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_pods; i++)
		free(w->pods[i].id);
	free(w->pods);
	json_decref(w->root);
	free(w);
}

size_t conformance_world_n_pods(const struct conformance_world *w)
{
	return w->n_pods;
}

const char *conformance_world_pod_id(const struct conformance_world *w, size_t i)
{
	return i < w->n_pods ? w->pods[i].id : NULL;
}

const char *conformance_world_pod_ns(const struct conformance_world *w, size_t i)
{
	return i < w->n_pods ? w->pods[i].ns : NULL;
}

const char *conformance_world_pod_name(const struct conformance_world *w, size_t i)
{
	return i < w->n_pods ? w->pods[i].name : NULL;
}

const char *conformance_world_pod_ip(const struct conformance_world *w, size_t i, int family)
{
	if (i >= w->n_pods)
		return NULL;
	return family == AF_INET6 ? w->pods[i].ip6 : w->pods[i].ip4;
}

int conformance_world_pod_index(const struct conformance_world *w, const char *id)
{
	for (size_t i = 0; i < w->n_pods; i++)
		if (strcmp(w->pods[i].id, id) == 0)
			return (int)i;
	return -ENOENT;
}

/* ----------------------------------------------------------------- cases */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void conformance_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

int conformance_list_cases(const char *dir, char ***ret)
{
	_cleanup_free_ char *cdir = NULL;
	char **v = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	if (asprintf(&cdir, "%s/cases", dir) < 0)
		return -ENOMEM;
	d = opendir(cdir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char **nv;

		if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		nv = realloc(v, (n + 2) * sizeof(*v));
		if (!nv)
			goto oom;
		v = nv;
		if (asprintf(&v[n], "%s/%s", cdir, de->d_name) < 0)
			goto oom;
		v[++n] = NULL;
	}
	closedir(d);
	if (!v) {
		v = calloc(1, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	qsort(v, n, sizeof(*v), str_cmp);
	*ret = v;
	return (int)n;
oom:
	closedir(d);
	if (v)
		v[n] = NULL;
	conformance_strv_free(v);
	return -ENOMEM;
}

int conformance_find_case(const char *dir, const char *spec, char **ret_path)
{
	char **all = NULL;
	const char *found = NULL;
	bool numeric = *spec != '\0';
	int n, matches = 0;
	int64_t num = -1;

	if (strchr(spec, '/')) {
		if (access(spec, R_OK) < 0)
			return -errno;
		*ret_path = strdup(spec);
		return *ret_path ? 0 : -ENOMEM;
	}
	for (const char *p = spec; *p; p++)
		if (*p < '0' || *p > '9')
			numeric = false;
	if (numeric && parse_int64(spec, 0, 999999, &num) < 0)
		return -EINVAL;

	n = conformance_list_cases(dir, &all);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		const char *base = strrchr(all[i], '/') + 1;
		size_t bl = strlen(base) - 5, sl = strlen(spec);

		if (numeric) {
			char *end;
			unsigned long v = strtoul(base, &end, 10);

			if (end != base && *end == '-' && (int64_t)v == num) {
				found = all[i];
				matches++;
			}
		} else if ((sl == bl && strncmp(base, spec, bl) == 0) || strcmp(base, spec) == 0) {
			found = all[i];
			matches = 1;
			break;
		} else if (strncmp(base, spec, sl) == 0 || (bl > 4 && strncmp(base + 4, spec, sl) == 0)) {
			/* a prefix of the name, with or without its number */
			found = all[i];
			matches++;
		}
	}
	if (matches == 1)
		*ret_path = strdup(found);
	conformance_strv_free(all);
	if (matches == 0)
		return -ENOENT;
	if (matches > 1)
		return -EINVAL;
	return *ret_path ? 0 : -ENOMEM;
}

static void step_clear(struct case_step *s)
{
	for (size_t i = 0; i < s->n_ops; i++) {
		free((void *)s->ops[i].label_keys);
		free((void *)s->ops[i].label_values);
	}
	free(s->ops);
	for (size_t i = 0; i < s->n_probes; i++)
		free((void *)s->probes[i].expect);
	free(s->probes);
}

void conformance_case_free(struct conformance_case *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_steps; i++)
		step_clear(&c->steps[i]);
	free(c->steps);
	free(c->has_pod);
	json_decref(c->root);
	free(c);
}

static int parse_op(const struct conformance_world *w, json_t *j, enum conformance_op_kind kind,
		    struct conformance_op *op, const char *where, char **ret_err)
{
	const char *k, *v;
	json_t *labels, *jv;
	size_t i = 0;

	op->op = kind;
	op->kind = obj_str(j, "kind");
	op->ns = obj_str(j, "namespace");
	op->name = obj_str(j, "name");
	if (!op->kind || !op->name)
		return conformance_fail(ret_err, "%s: kind and name are required", where);
	if (strcmp(op->kind, "Namespace") == 0) {
		op->ns = NULL;
	} else if (!op->ns) {
		return conformance_fail(ret_err, "%s: namespace is required for %s", where, op->kind);
	}
	if (kind == CONFORMANCE_OP_DELETE) {
		if (strcmp(op->kind, "NetworkPolicy") && strcmp(op->kind, "Pod") && strcmp(op->kind, "Namespace"))
			return conformance_fail(ret_err, "%s: cannot delete a %s", where, op->kind);
		return 0;
	}
	if (strcmp(op->kind, "Pod") == 0) {
		char id[256];

		snprintf(id, sizeof(id), "%s/%s", op->ns, op->name);
		if (conformance_world_pod_index(w, id) < 0)
			return conformance_fail(ret_err, "%s: no pod %s in the world", where, id);
	} else if (strcmp(op->kind, "Namespace") != 0) {
		return conformance_fail(ret_err, "%s: can only relabel a Pod or a Namespace", where);
	}
	labels = json_object_get(j, "labels");
	if (!json_is_object(labels))
		return conformance_fail(ret_err, "%s: labels (the full new set) are required", where);
	op->n_labels = json_object_size(labels);
	op->label_keys = calloc(op->n_labels + 1, sizeof(char *));
	op->label_values = calloc(op->n_labels + 1, sizeof(char *));
	if (!op->label_keys || !op->label_values)
		return -ENOMEM;
	json_object_foreach(labels, k, jv) {
		v = json_string_value(jv);
		if (!v)
			return conformance_fail(ret_err, "%s: label %s: value must be a string", where, k);
		((const char **)op->label_keys)[i] = k;
		((const char **)op->label_values)[i] = v;
		i++;
	}
	return 0;
}

static int parse_probe(const struct conformance_world *w, json_t *j, struct conformance_probe *pr,
		       const char *where, char **ret_err)
{
	json_t *exp, *row, *val;
	const char *from, *to;
	int8_t *m;
	json_int_t port;

	port = json_integer_value(json_object_get(j, "port"));
	pr->protocol = obj_str(j, "protocol");
	if (!json_is_integer(json_object_get(j, "port")) || port < 1 || port > 65535)
		return conformance_fail(ret_err, "%s: port must be 1..65535", where);
	if (!pr->protocol || (strcmp(pr->protocol, "TCP") && strcmp(pr->protocol, "UDP") &&
			      strcmp(pr->protocol, "SCTP")))
		return conformance_fail(ret_err, "%s: protocol must be TCP, UDP or SCTP", where);
	pr->port = (uint16_t)port;
	m = malloc(w->n_pods * w->n_pods);
	if (!m)
		return -ENOMEM;
	memset(m, -1, w->n_pods * w->n_pods);
	pr->expect = m;
	exp = json_object_get(j, "expect");
	if (!json_is_object(exp))
		return conformance_fail(ret_err, "%s: expect must be an object", where);
	json_object_foreach(exp, from, row) {
		int fi = conformance_world_pod_index(w, from);

		if (fi < 0 || !json_is_object(row))
			return conformance_fail(ret_err, "%s: expect: unknown pod %s", where, from);
		json_object_foreach(row, to, val) {
			int ti = conformance_world_pod_index(w, to);

			if (ti < 0)
				return conformance_fail(ret_err, "%s: expect[%s]: unknown pod %s", where, from, to);
			if (json_is_null(val) || fi == ti)
				continue; /* self pairs are never asserted */
			if (!json_is_boolean(val))
				return conformance_fail(ret_err, "%s: expect[%s][%s] must be true, false or null", where,
					    from, to);
			m[fi * w->n_pods + ti] = json_is_true(val) ? 1 : 0;
		}
	}
	return 0;
}

static int parse_step(const struct conformance_world *w, json_t *j, struct case_step *s,
		      const char *where, char **ret_err)
{
	json_t *apply, *del, *lab, *probes, *v;
	char at[600]; /* where (512) plus the index suffix */
	size_t i;
	int r;

	s->description = obj_str(j, "description");
	apply = json_object_get(j, "apply");
	del = json_object_get(j, "delete");
	lab = json_object_get(j, "label");
	probes = json_object_get(j, "probes");
	if ((apply && !json_is_array(apply)) || (del && !json_is_array(del)) || (lab && !json_is_array(lab)) ||
	    (probes && !json_is_array(probes)))
		return conformance_fail(ret_err, "%s: apply, delete, label and probes must be arrays", where);
	s->apply = apply;
	json_array_foreach(apply, i, v) {
		static const int families[] = {AF_INET, AF_INET6};

		if (!json_is_object(v) || !obj_str(v, "kind"))
			return conformance_fail(ret_err, "%s: apply[%zu]: not an object with a kind", where, i);
		/* Templates must expand in both families. */
		for (size_t f = 0; f < ELEMENTSOF(families); f++) {
			json_t *e = conformance_expand_tree(w, v, families[f], ret_err);

			if (!e)
				return -EINVAL;
			json_decref(e);
		}
	}
	s->ops = calloc(json_array_size(lab) + json_array_size(del) + 1, sizeof(*s->ops));
	if (!s->ops)
		return -ENOMEM;
	json_array_foreach(lab, i, v) {
		snprintf(at, sizeof(at), "%s: label[%zu]", where, i);
		r = parse_op(w, v, CONFORMANCE_OP_LABEL, &s->ops[s->n_ops++], at, ret_err);
		if (r < 0)
			return r;
	}
	json_array_foreach(del, i, v) {
		snprintf(at, sizeof(at), "%s: delete[%zu]", where, i);
		r = parse_op(w, v, CONFORMANCE_OP_DELETE, &s->ops[s->n_ops++], at, ret_err);
		if (r < 0)
			return r;
	}
	s->probes = calloc(json_array_size(probes) + 1, sizeof(*s->probes));
	if (!s->probes)
		return -ENOMEM;
	json_array_foreach(probes, i, v) {
		snprintf(at, sizeof(at), "%s: probes[%zu]", where, i);
		s->n_probes++;
		r = parse_probe(w, v, &s->probes[i], at, ret_err);
		if (r < 0)
			return r;
	}
	return 0;
}

int conformance_case_load(const struct conformance_world *w, const char *path,
			  struct conformance_case **ret, char **ret_err)
{
	struct conformance_case *c;
	json_t *steps, *model, *v;
	char where[512];
	size_t i;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->n_pods = w->n_pods;
	c->root = load_json(path, ret_err);
	if (!c->root) {
		r = -EINVAL;
		goto err;
	}
	c->name = obj_str(c->root, "name");
	c->upstream = obj_str(c->root, "upstream");
	steps = json_object_get(c->root, "steps");
	model = json_object_get(c->root, "model");
	if (!c->name || !c->upstream || !json_is_array(steps) || !json_is_object(model)) {
		r = conformance_fail(ret_err, "%s: name, upstream, model and steps are required", path);
		goto err;
	}
	c->model_protocols = json_object_get(model, "protocols");
	c->model_ports = json_object_get(model, "ports");
	c->has_pod = calloc(w->n_pods, sizeof(bool));
	c->steps = calloc(json_array_size(steps) + 1, sizeof(*c->steps));
	if (!c->has_pod || !c->steps) {
		r = -ENOMEM;
		goto err;
	}
	if (!json_is_array(c->model_protocols) || !json_is_array(c->model_ports) ||
	    !json_is_array(json_object_get(model, "pods"))) {
		r = conformance_fail(ret_err, "%s: model needs pods, protocols and ports", path);
		goto err;
	}
	json_array_foreach(json_object_get(model, "pods"), i, v) {
		int idx = json_is_string(v) ? conformance_world_pod_index(w, json_string_value(v)) : -ENOENT;

		if (idx < 0) {
			r = conformance_fail(ret_err, "%s: model.pods[%zu]: not a pod of the world", path, i);
			goto err;
		}
		c->has_pod[idx] = true;
	}
	json_array_foreach(steps, i, v) {
		snprintf(where, sizeof(where), "%s: steps[%zu]", path, i);
		c->n_steps++;
		if (!json_is_object(v)) {
			r = conformance_fail(ret_err, "%s: not an object", where);
			goto err;
		}
		r = parse_step(w, v, &c->steps[i], where, ret_err);
		if (r < 0)
			goto err;
		c->n_probes += c->steps[i].n_probes;
	}
	*ret = c;
	return 0;
err:
	conformance_case_free(c);
	return r;
}

const char *conformance_case_name(const struct conformance_case *c)
{
	return c->name;
}

const char *conformance_case_upstream(const struct conformance_case *c)
{
	return c->upstream;
}

size_t conformance_case_n_steps(const struct conformance_case *c)
{
	return c->n_steps;
}

size_t conformance_case_n_probes(const struct conformance_case *c)
{
	return c->n_probes;
}

bool conformance_case_has_pod(const struct conformance_case *c, size_t i)
{
	return i < c->n_pods && c->has_pod[i];
}

const char *conformance_step_description(const struct conformance_case *c, size_t n)
{
	return n < c->n_steps ? c->steps[n].description : NULL;
}

size_t conformance_step_ops(const struct conformance_case *c, size_t n, const struct conformance_op **ret)
{
	if (n >= c->n_steps) {
		*ret = NULL;
		return 0;
	}
	*ret = c->steps[n].ops;
	return c->steps[n].n_ops;
}

size_t conformance_step_probes(const struct conformance_case *c, size_t n,
			       const struct conformance_probe **ret)
{
	if (n >= c->n_steps) {
		*ret = NULL;
		return 0;
	}
	*ret = c->steps[n].probes;
	return c->steps[n].n_probes;
}
