/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The upstream NetworkPolicy e2e suite as data (tests/conformance/): loads the
 * world (namespaces x,y,z; pods a,b,c with fixed nodes and addresses) and the
 * case files, expands their ${...} templates for one address family, and
 * renders Kubernetes manifests (JSON) for decode_manifest, kubectl or a
 * real-packet replay. Never logs; errors come back as allocated messages.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct conformance_world;
struct conformance_case;

/*
 * The data directory (holding world.json and cases/): $NETPOLD_CONFORMANCE_DIR,
 * else $NETPOLD_SOURCE_DIR/tests/conformance, else the source tree this file
 * was compiled from. Returns an allocated path, or NULL on allocation failure.
 */
char *conformance_default_dir(void);

/* Load dir/world.json. Returns 0, or -errno with *ret_err allocated (caller frees). */
int conformance_world_load(const char *path, struct conformance_world **ret, char **ret_err);
void conformance_world_free(struct conformance_world *w);

size_t conformance_world_n_pods(const struct conformance_world *w);
const char *conformance_world_pod_id(const struct conformance_world *w, size_t i); /* "x/a" */
const char *conformance_world_pod_ns(const struct conformance_world *w, size_t i);
const char *conformance_world_pod_name(const struct conformance_world *w, size_t i);
/* Textual address of pod i in family (AF_INET / AF_INET6). */
const char *conformance_world_pod_ip(const struct conformance_world *w, size_t i, int family);
/* Index of "ns/name", or -ENOENT. */
int conformance_world_pod_index(const struct conformance_world *w, const char *id);

/*
 * Sorted paths of dir/cases/ *.json. Returns the count (>= 0) with *ret an
 * allocated NULL-terminated array (free with conformance_strv_free), or -errno.
 */
int conformance_list_cases(const char *dir, char ***ret);
void conformance_strv_free(char **v);
/*
 * Resolve a case given as a path, a file name ("001-default-deny-ingress" with
 * or without .json) or a number ("1", "001"). Returns 0 with *ret_path
 * allocated, -ENOENT, or -EINVAL when the spec is ambiguous.
 */
int conformance_find_case(const char *dir, const char *spec, char **ret_path);

/*
 * Load and validate a case against the world (every pod it names must exist,
 * every template must be well formed). Returns 0, or -errno with *ret_err.
 */
int conformance_case_load(const struct conformance_world *w, const char *path,
			  struct conformance_case **ret, char **ret_err);
void conformance_case_free(struct conformance_case *c);

const char *conformance_case_name(const struct conformance_case *c);
const char *conformance_case_upstream(const struct conformance_case *c);
size_t conformance_case_n_steps(const struct conformance_case *c);
size_t conformance_case_n_probes(const struct conformance_case *c); /* over all steps */
/* Whether world pod i is one of the pods upstream creates for this case. */
bool conformance_case_has_pod(const struct conformance_case *c, size_t i);

/*
 * The world as a JSON List of Namespaces and Pods (status.podIPs of family:
 * AF_INET, AF_INET6, or AF_UNSPEC for dual-stack; spec.nodeName set; phase
 * Running). With model == NULL: all pods, each with the container ports of
 * every case (80/81 x TCP/UDP/SCTP). With a case: upstream's model for that
 * case, only its pods, with its ports and protocols. Returns 0 with *ret_json
 * allocated, or -errno.
 */
int conformance_render_world(const struct conformance_world *w, const struct conformance_case *model,
			     int family, char **ret_json);

/* Step n's objects to apply (templates expanded for family) as a JSON List. */
int conformance_render_step(const struct conformance_world *w, const struct conformance_case *c,
			    size_t n, int family, char **ret_json);

enum conformance_op_kind {
	CONFORMANCE_OP_LABEL,  /* replace the object's labels with labels[] */
	CONFORMANCE_OP_DELETE,
};

struct conformance_op {
	enum conformance_op_kind op;
	const char *kind; /* "Pod", "Namespace", "NetworkPolicy" */
	const char *ns;   /* NULL for namespaces */
	const char *name;
	size_t n_labels; /* LABEL: the full new label set */
	const char *const *label_keys;
	const char *const *label_values;
};

/*
 * Step n's label and delete operations, in the order a replay performs them
 * (after applying the step's objects: labels, then deletes). *ret valid while
 * c lives. Returns the count.
 */
size_t conformance_step_ops(const struct conformance_case *c, size_t n, const struct conformance_op **ret);

/*
 * The object a LABEL op yields, as a JSON manifest: the world's Pod or
 * Namespace with the op's labels (pods rendered as conformance_render_world
 * renders them for model and family). Returns 0 with *ret_json, or -errno.
 */
int conformance_render_label(const struct conformance_world *w, const struct conformance_case *model,
			     const struct conformance_op *op, int family, char **ret_json);

struct conformance_probe {
	uint16_t port;
	const char *protocol; /* "TCP", "UDP", "SCTP" */
	/* expect[from * n_pods + to] over world pods: 1 allowed, 0 denied, -1 not asserted (self) */
	const int8_t *expect;
};

/* Step n's probes. *ret valid while c lives. Returns the count. */
size_t conformance_step_probes(const struct conformance_case *c, size_t n,
			       const struct conformance_probe **ret);
const char *conformance_step_description(const struct conformance_case *c, size_t n);

/*
 * Print a truth table in upstream's style (rows: from, columns: to; "." for
 * true, "X" for false, "-" for not asserted), limited to pods for which
 * only(i) is true (all when only == NULL).
 */
void conformance_print_matrix(FILE *f, const struct conformance_world *w, const int8_t *m,
			      bool (*only)(void *ud, size_t i), void *ud);

/*
 * Expand the ${...} templates of one string for family (see README.md).
 * Returns 0 with *ret allocated, or -EINVAL with *ret_err allocated.
 */
int conformance_expand(const struct conformance_world *w, const char *s, int family, char **ret,
		       char **ret_err);
