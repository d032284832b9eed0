/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to tests/lib/conformance*.c: the loaded world and case structures
 * shared by the loader (conformance.c), the template expander
 * (conformance_template.c) and the manifest renderer (conformance_render.c).
 */
#pragma once

#include <jansson.h>

#include "conformance.h"
#include "util.h"

#define MAX_WORLD_PODS 64

struct world_pod {
	char *id; /* "ns/name" */
	const char *ns, *name, *node, *uid, *ip4, *ip6;
	json_t *labels; /* borrowed from root */
};

struct conformance_world {
	json_t *root;
	struct world_pod *pods;
	size_t n_pods;
	json_t *namespaces; /* borrowed */
	json_t *protocols, *ports;
	const char *image, *container;
	json_t *command;
};

struct case_step {
	const char *description;
	json_t *apply; /* borrowed array, may be NULL */
	struct conformance_op *ops;
	size_t n_ops;
	struct conformance_probe *probes;
	size_t n_probes;
};

struct conformance_case {
	json_t *root;
	const char *name, *upstream;
	size_t n_pods; /* the world's */
	bool *has_pod;
	json_t *model_protocols, *model_ports;
	struct case_step *steps;
	size_t n_steps;
	size_t n_probes;
};

/* jansson >= 2.9 provides json_decrefp() (NULL-safe). */
#define _cleanup_json_ _cleanup_(json_decrefp)

static inline const char *obj_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Set *ret_err (when ret_err is set) to an allocated message; returns -EINVAL. */
int conformance_fail(char **ret_err, const char *fmt, ...) _printf_(2, 3);

/* A deep copy of j with every string expanded for family; NULL on failure (*ret_err set). */
json_t *conformance_expand_tree(const struct conformance_world *w, json_t *j, int family,
				char **ret_err);
