/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kubernetes manifests from the conformance data: the world's Namespaces and
 * Pods (as upstream's model.go creates them), a step's objects with templates
 * expanded, relabelled objects, and upstream-style truth tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conformance_int.h"

static int dump_list(json_t *items, char **ret_json)
{
	_cleanup_json_ json_t *list = NULL;

	list = json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "List", "items", items);
	if (!list)
		return -ENOMEM;
	*ret_json = json_dumps(list, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	return *ret_json ? 0 : -ENOMEM;
}

static json_t *namespace_json(const char *name, json_t *labels)
{
	return json_pack("{s:s, s:s, s:{s:s, s:O}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
			 "name", name, "labels", labels);
}

/* model.go ContainerSpecs: for each protocol, for each port. */
static json_t *pod_json(const struct conformance_world *w, const struct world_pod *p, json_t *labels,
			json_t *protocols, json_t *ports, int family)
{
	_cleanup_json_ json_t *env = json_array(), *cports = json_array(), *ips = json_array();
	_cleanup_json_ json_t *command = w->command ? json_incref(w->command) : json_array();
	json_t *proto, *port;
	const char *first_ip = NULL;
	size_t i, j;

	if (!env || !cports || !ips || !command)
		return NULL;
	json_array_foreach(protocols, i, proto) {
		json_array_foreach(ports, j, port) {
			const char *ps = json_string_value(proto);
			json_int_t pn = json_integer_value(port);
			char name[64], ename[64], lower[8];
			size_t k;

			if (!ps)
				return NULL;
			for (k = 0; ps[k] && k < sizeof(lower) - 1; k++)
				lower[k] = (char)(ps[k] >= 'A' && ps[k] <= 'Z' ? ps[k] - 'A' + 'a' : ps[k]);
			lower[k] = '\0';
			snprintf(name, sizeof(name), "serve-%lld-%s", (long long)pn, lower);
			snprintf(ename, sizeof(ename), "SERVE_%s_PORT_%lld", ps, (long long)pn);
			if (json_array_append_new(env, json_pack("{s:s, s:s}", "name", ename, "value", "foo")) < 0 ||
			    json_array_append_new(cports, json_pack("{s:s, s:I, s:s}", "name", name,
								    "containerPort", pn, "protocol", ps)) < 0)
				return NULL;
		}
	}
	if (family == AF_INET || family == AF_UNSPEC)
		if (json_array_append_new(ips, json_pack("{s:s}", "ip", p->ip4)) < 0)
			return NULL;
	if (family == AF_INET6 || family == AF_UNSPEC)
		if (json_array_append_new(ips, json_pack("{s:s}", "ip", p->ip6)) < 0)
			return NULL;
	first_ip = family == AF_INET6 ? p->ip6 : p->ip4;

	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:O}, "
			 "s:{s:s, s:i, s:[{s:s, s:s, s:s, s:O, s:O, s:O}]}, "
			 "s:{s:s, s:s, s:O}}",
			 "apiVersion", "v1", "kind", "Pod",
			 "metadata", "name", p->name, "namespace", p->ns, "uid", p->uid, "labels", labels,
			 "spec", "nodeName", p->node, "terminationGracePeriodSeconds", 0,
			 "containers", "name", w->container, "image", w->image, "imagePullPolicy",
			 "IfNotPresent", "command", command, "env", env,
			 "ports", cports,
			 "status", "phase", "Running", "podIP", first_ip, "podIPs", ips);
}

static bool family_ok(int family)
{
	return family == AF_INET || family == AF_INET6 || family == AF_UNSPEC;
}

int conformance_render_world(const struct conformance_world *w, const struct conformance_case *model,
			     int family, char **ret_json)
{
	json_t *items, *ns;
	size_t i;

	if (!family_ok(family))
		return -EINVAL;
	items = json_array();
	if (!items)
		return -ENOMEM;
	json_array_foreach(w->namespaces, i, ns) {
		const char *name = obj_str(ns, "name");
		json_t *labels = json_object_get(ns, "labels");

		if (!name || !json_is_object(labels) ||
		    json_array_append_new(items, namespace_json(name, labels)) < 0)
			goto oom;
	}
	for (i = 0; i < w->n_pods; i++) {
		if (model && !model->has_pod[i])
			continue;
		if (json_array_append_new(items, pod_json(w, &w->pods[i], w->pods[i].labels,
							  model ? model->model_protocols : w->protocols,
							  model ? model->model_ports : w->ports, family)) < 0)
			goto oom;
	}
	return dump_list(items, ret_json);
oom:
	json_decref(items);
	return -ENOMEM;
}

int conformance_render_step(const struct conformance_world *w, const struct conformance_case *c,
			    size_t n, int family, char **ret_json)
{
	json_t *items, *v;
	size_t i;

	if (n >= c->n_steps || !family_ok(family))
		return -EINVAL;
	if (family == AF_UNSPEC)
		family = AF_INET; /* ipBlocks are single-family; dual-stack replays use IPv4's */
	items = json_array();
	if (!items)
		return -ENOMEM;
	json_array_foreach(c->steps[n].apply, i, v) {
		json_t *e = conformance_expand_tree(w, v, family, NULL);

		if (!e || json_array_append_new(items, e) < 0) {
			json_decref(items);
			return -ENOMEM;
		}
	}
	return dump_list(items, ret_json);
}

int conformance_render_label(const struct conformance_world *w, const struct conformance_case *model,
			     const struct conformance_op *op, int family, char **ret_json)
{
	_cleanup_json_ json_t *labels = NULL, *obj = NULL;
	char id[256];
	int idx;

	if (op->op != CONFORMANCE_OP_LABEL || !family_ok(family))
		return -EINVAL;
	labels = json_object();
	if (!labels)
		return -ENOMEM;
	for (size_t i = 0; i < op->n_labels; i++)
		if (json_object_set_new(labels, op->label_keys[i], json_string(op->label_values[i])) < 0)
			return -ENOMEM;
	if (strcmp(op->kind, "Namespace") == 0) {
		obj = namespace_json(op->name, labels);
	} else {
		snprintf(id, sizeof(id), "%s/%s", op->ns, op->name);
		idx = conformance_world_pod_index(w, id);
		if (idx < 0)
			return -ENOENT;
		obj = pod_json(w, &w->pods[idx], labels, model ? model->model_protocols : w->protocols,
			       model ? model->model_ports : w->ports, family);
	}
	if (!obj)
		return -ENOMEM;
	*ret_json = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	return *ret_json ? 0 : -ENOMEM;
}

void conformance_print_matrix(FILE *f, const struct conformance_world *w, const int8_t *m,
			      bool (*only)(void *ud, size_t i), void *ud)
{
	size_t n = w->n_pods;

	fputs("-", f);
	for (size_t t = 0; t < n; t++)
		if (!only || only(ud, t))
			fprintf(f, "\t%s", w->pods[t].id);
	fputc('\n', f);
	for (size_t fr = 0; fr < n; fr++) {
		if (only && !only(ud, fr))
			continue;
		fputs(w->pods[fr].id, f);
		for (size_t t = 0; t < n; t++) {
			int8_t v = m[fr * n + t];

			if (only && !only(ud, t))
				continue;
			fprintf(f, "\t%s", v < 0 ? "-" : v ? "." : "X");
		}
		fputc('\n', f);
	}
}
