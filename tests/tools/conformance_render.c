/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * conformance_render: prints the conformance world and cases
 * (tests/conformance/) as Kubernetes manifests and plain lines, so that shell
 * and Python replays (network namespaces, a real kube-apiserver) drive the
 * same data as the matcher-level unit test. See tests/conformance/README.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "conformance.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: conformance_render [--dir DIR] COMMAND ...\n"
	      "  list                                   NAME STEPS PROBES UPSTREAM-TEXT, tab-separated\n"
	      "  world [--family 4|6|dual] [--case CASE]  Namespaces and Pods (JSON List); with --case\n"
	      "                                         only upstream's pods and ports for that case\n"
	      "  step CASE N [--family 4|6]              objects to apply in step N (JSON List)\n"
	      "  ops CASE N                             label/delete lines of step N:\n"
	      "                                           label KIND NS|- NAME KEY=VALUE...\n"
	      "                                           delete KIND NS|- NAME\n"
	      "  label CASE N I [--family 4|6|dual] [--upstream]\n"
	      "                                         the object op I of step N yields (JSON)\n"
	      "  probes CASE N [--family 4|6] [--upstream]\n"
	      "                                         PORT PROTO FROM FROM_IP TO TO_IP allow|deny\n"
	      "                                         (--upstream: only pairs of upstream's pods)\n"
	      "  steps CASE                             N DESCRIPTION per step\n"
	      "  pod-status [--family 4|6|dual] [--case CASE]\n"
	      "                                         NS NAME STATUS-JSON per pod, for\n"
	      "                                         kubectl patch --subresource=status --type=merge\n"
	      "--api: drop metadata.uid and status from Pods (for kubectl against an API server)\n"
	      "Steps are numbered from 1. CASE: a path, a name, a name prefix or a number.\n",
	      f);
}

struct opts {
	const char *dir;
	int family;
	const char *model_case;
	bool upstream;
	bool api;
	const char *args[4];
	size_t n_args;
};

static int parse_family(const char *s, int *ret)
{
	if (strcmp(s, "4") == 0)
		*ret = AF_INET;
	else if (strcmp(s, "6") == 0)
		*ret = AF_INET6;
	else if (strcmp(s, "dual") == 0 || strcmp(s, "46") == 0)
		*ret = AF_UNSPEC;
	else
		return -EINVAL;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	o->family = AF_INET;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if ((strcmp(a, "--family") == 0 || strcmp(a, "-f") == 0) && i + 1 < argc) {
			if (parse_family(argv[++i], &o->family) < 0)
				return -EINVAL;
		} else if (strncmp(a, "--family=", 9) == 0) {
			if (parse_family(a + 9, &o->family) < 0)
				return -EINVAL;
		} else if (strcmp(a, "--dir") == 0 && i + 1 < argc) {
			o->dir = argv[++i];
		} else if (strcmp(a, "--case") == 0 && i + 1 < argc) {
			o->model_case = argv[++i];
		} else if (strcmp(a, "--upstream") == 0) {
			o->upstream = true;
		} else if (strcmp(a, "--api") == 0) {
			o->api = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (a[0] == '-' && a[1] != '\0') {
			return -EINVAL;
		} else if (o->n_args < ELEMENTSOF(o->args)) {
			o->args[o->n_args++] = a;
		} else {
			return -EINVAL;
		}
	}
	return o->n_args > 0 ? 0 : -EINVAL;
}

static int load_case(const char *dir, const struct conformance_world *w, const char *spec,
		     struct conformance_case **ret)
{
	_cleanup_free_ char *path = NULL, *err = NULL;
	int r;

	r = conformance_find_case(dir, spec, &path);
	if (r < 0) {
		fprintf(stderr, "conformance_render: case %s: %s\n", spec,
			r == -EINVAL ? "ambiguous" : strerror(-r));
		return r;
	}
	r = conformance_case_load(w, path, ret, &err);
	if (r < 0)
		fprintf(stderr, "conformance_render: %s\n", err ? err : strerror(-r));
	return r;
}

static int parse_step(const struct conformance_case *c, const char *s, size_t *ret)
{
	int64_t v;

	if (parse_int64(s, 1, (int64_t)conformance_case_n_steps(c), &v) < 0) {
		fprintf(stderr, "conformance_render: %s has steps 1..%zu, not %s\n", conformance_case_name(c),
			conformance_case_n_steps(c), s);
		return -EINVAL;
	}
	*ret = (size_t)v - 1;
	return 0;
}

/* Pods as a client creates them: the API server assigns uid, the kubelet status. */
static void strip_pod(json_t *o)
{
	if (!json_is_object(o) || !json_is_string(json_object_get(o, "kind")) ||
	    strcmp(json_string_value(json_object_get(o, "kind")), "Pod") != 0)
		return;
	json_object_del(json_object_get(o, "metadata"), "uid");
	json_object_del(o, "status");
}

static int print_json(int r, char *json, bool api)
{
	if (r < 0) {
		fprintf(stderr, "conformance_render: %s\n", strerror(-r));
		return 1;
	}
	if (api) {
		json_t *root = json_loads(json, 0, NULL), *v;
		size_t i;

		free(json);
		if (!root)
			return 1;
		strip_pod(root);
		json_array_foreach(json_object_get(root, "items"), i, v)
			strip_pod(v);
		json = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		json_decref(root);
		if (!json)
			return 1;
	}
	puts(json);
	free(json);
	return 0;
}

static int cmd_pod_status(const struct conformance_world *w, const struct conformance_case *model, int family)
{
	json_t *root, *v;
	char *json = NULL;
	size_t i;
	int r;

	r = conformance_render_world(w, model, family, &json);
	if (r < 0)
		return 1;
	root = json_loads(json, 0, NULL);
	free(json);
	if (!root)
		return 1;
	json_array_foreach(json_object_get(root, "items"), i, v) {
		json_t *md = json_object_get(v, "metadata"), *patch;
		char *st;

		if (strcmp(json_string_value(json_object_get(v, "kind")) ?: "", "Pod") != 0)
			continue;
		patch = json_pack("{s:O}", "status", json_object_get(v, "status"));
		st = patch ? json_dumps(patch, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(patch);
		if (!st)
			continue;
		printf("%s %s %s\n", json_string_value(json_object_get(md, "namespace")),
		       json_string_value(json_object_get(md, "name")), st);
		free(st);
	}
	json_decref(root);
	return 0;
}

static int cmd_list(const char *dir, const struct conformance_world *w)
{
	char **paths = NULL;
	int n, rc = 0;

	n = conformance_list_cases(dir, &paths);
	if (n < 0) {
		fprintf(stderr, "conformance_render: %s/cases: %s\n", dir, strerror(-n));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		struct conformance_case *c = NULL;
		_cleanup_free_ char *err = NULL;

		if (conformance_case_load(w, paths[i], &c, &err) < 0) {
			fprintf(stderr, "conformance_render: %s\n", err ? err : paths[i]);
			rc = 1;
			continue;
		}
		printf("%s\t%zu\t%zu\t%s\n", conformance_case_name(c), conformance_case_n_steps(c),
		       conformance_case_n_probes(c), conformance_case_upstream(c));
		conformance_case_free(c);
	}
	conformance_strv_free(paths);
	return rc;
}

static void print_op(const struct conformance_op *op)
{
	printf("%s %s %s %s", op->op == CONFORMANCE_OP_LABEL ? "label" : "delete", op->kind,
	       op->ns ? op->ns : "-", op->name);
	for (size_t i = 0; i < op->n_labels; i++)
		printf(" %s=%s", op->label_keys[i], op->label_values[i]);
	putchar('\n');
}

static int cmd_probes(const struct conformance_world *w, const struct conformance_case *c, size_t step,
		      int family, bool upstream)
{
	const struct conformance_probe *pr;
	size_t n = conformance_world_n_pods(w);
	size_t np = conformance_step_probes(c, step, &pr);

	if (family == AF_UNSPEC)
		family = AF_INET;
	for (size_t k = 0; k < np; k++)
		for (size_t f = 0; f < n; f++)
			for (size_t t = 0; t < n; t++) {
				int8_t v = pr[k].expect[f * n + t];

				if (v < 0)
					continue;
				if (upstream && (!conformance_case_has_pod(c, f) || !conformance_case_has_pod(c, t)))
					continue;
				printf("%u %s %s %s %s %s %s\n", pr[k].port, pr[k].protocol,
				       conformance_world_pod_id(w, f), conformance_world_pod_ip(w, f, family),
				       conformance_world_pod_id(w, t), conformance_world_pod_ip(w, t, family),
				       v ? "allow" : "deny");
			}
	return 0;
}

int main(int argc, char **argv)
{
	_cleanup_free_ char *dir = NULL, *wpath = NULL, *err = NULL;
	struct conformance_world *w = NULL;
	struct conformance_case *c = NULL;
	struct opts o = {};
	const char *cmd;
	size_t step = 0;
	int r, rc = 1;

	if (parse_opts(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	dir = o.dir ? strdup(o.dir) : conformance_default_dir();
	if (!dir || asprintf(&wpath, "%s/world.json", dir) < 0) {
		fputs("conformance_render: out of memory\n", stderr);
		return 1;
	}
	r = conformance_world_load(wpath, &w, &err);
	if (r < 0) {
		fprintf(stderr, "conformance_render: %s\n", err ? err : strerror(-r));
		return 1;
	}
	cmd = o.args[0];

	if (strcmp(cmd, "list") == 0 && o.n_args == 1) {
		rc = cmd_list(dir, w);
	} else if (strcmp(cmd, "world") == 0 && o.n_args == 1) {
		char *json = NULL;

		if (o.model_case && load_case(dir, w, o.model_case, &c) < 0)
			goto out;
		r = conformance_render_world(w, c, o.family, &json);
		rc = print_json(r, json, o.api);
	} else if (strcmp(cmd, "pod-status") == 0 && o.n_args == 1) {
		if (o.model_case && load_case(dir, w, o.model_case, &c) < 0)
			goto out;
		rc = cmd_pod_status(w, c, o.family);
	} else if (strcmp(cmd, "steps") == 0 && o.n_args == 2) {
		if (load_case(dir, w, o.args[1], &c) < 0)
			goto out;
		for (size_t i = 0; i < conformance_case_n_steps(c); i++)
			printf("%zu %s\n", i + 1, conformance_step_description(c, i) ?: "");
		rc = 0;
	} else if ((strcmp(cmd, "step") == 0 || strcmp(cmd, "ops") == 0 || strcmp(cmd, "probes") == 0) &&
		   o.n_args == 3) {
		if (load_case(dir, w, o.args[1], &c) < 0 || parse_step(c, o.args[2], &step) < 0)
			goto out;
		if (strcmp(cmd, "step") == 0) {
			char *json = NULL;

			r = conformance_render_step(w, c, step, o.family, &json);
			rc = print_json(r, json, o.api);
		} else if (strcmp(cmd, "ops") == 0) {
			const struct conformance_op *ops;
			size_t n = conformance_step_ops(c, step, &ops);

			for (size_t i = 0; i < n; i++)
				print_op(&ops[i]);
			rc = 0;
		} else {
			rc = cmd_probes(w, c, step, o.family, o.upstream);
		}
	} else if (strcmp(cmd, "label") == 0 && o.n_args == 4) {
		const struct conformance_op *ops;
		char *json = NULL;
		int64_t i;
		size_t n;

		if (load_case(dir, w, o.args[1], &c) < 0 || parse_step(c, o.args[2], &step) < 0)
			goto out;
		n = conformance_step_ops(c, step, &ops);
		if (parse_int64(o.args[3], 1, (int64_t)n, &i) < 0 || ops[i - 1].op != CONFORMANCE_OP_LABEL) {
			fprintf(stderr, "conformance_render: step %s has no label op %s\n", o.args[2], o.args[3]);
			goto out;
		}
		r = conformance_render_label(w, o.upstream ? c : NULL, &ops[i - 1], o.family, &json);
		rc = print_json(r, json, o.api);
	} else {
		usage(stderr);
		rc = 2;
	}
out:
	conformance_case_free(c);
	conformance_world_free(w);
	return rc;
}
