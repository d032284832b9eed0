/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The typed model of the Kubernetes objects netpold reads: Namespace, Pod,
 * NetworkPolicy (networking.k8s.io/v1) and Service, holding only the fields
 * policy enforcement needs. Decoders fill these; the engine takes ownership.
 * Every object owns all of its strings and arrays; *_free() accepts NULL.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Limits applied by every decoder; documented in docs/design.md. */
#define MODEL_MAX_NAME_LEN 253      /* DNS subdomain */
#define MODEL_MAX_LABEL_KEY_LEN 317 /* prefix(253) + '/' + name(63) */
#define MODEL_MAX_LABEL_VALUE_LEN 63
#define MODEL_MAX_LABELS 256 /* labels per object */
#define MODEL_MAX_SELECTOR_EXPRS 64
#define MODEL_MAX_SELECTOR_VALUES 256
#define MODEL_MAX_RULES 256 /* ingress or egress rules per policy */
#define MODEL_MAX_PEERS 256 /* peers per rule */
#define MODEL_MAX_PORTS 256 /* ports per rule */
#define MODEL_MAX_EXCEPT 256
#define MODEL_MAX_CONTAINER_PORTS 1024 /* over all containers of a pod */
#define MODEL_MAX_SERVICE_PORTS 256
#define MODEL_MAX_POD_IPS 2 /* one per family */

enum proto {
	PROTO_TCP = 6,
	PROTO_UDP = 17,
	PROTO_SCTP = 132,
};

/* "TCP"/"UDP"/"SCTP" (exact case, as the API) -> enum; returns 0 or -EINVAL. */
int proto_parse(const char *s, enum proto *ret);
const char *proto_name(enum proto p);

struct label {
	char *key;
	char *value;
};

/* A label map, kept sorted by key with unique keys. */
struct labels {
	struct label *v;
	size_t n;
};

/* Value of key, or NULL if absent. O(log n). */
const char *labels_get(const struct labels *l, const char *key);
/* Insert or replace; copies key and value. Keeps the array sorted. 0 or -ENOMEM. */
int labels_set(struct labels *l, const char *key, const char *value);
void labels_clear(struct labels *l);
bool labels_equal(const struct labels *a, const struct labels *b);

/*
 * Kubernetes name syntax, as the API server validates it. Pure predicates.
 * labels_key_valid: [prefix/]name, prefix a DNS subdomain, name 1-63 of
 * [A-Za-z0-9-_.] beginning and ending alphanumeric. labels_value_valid: empty,
 * or like a key's name part. port_name_valid: IANA_SVC_NAME (1-15 of [a-z0-9-],
 * at least one letter, no leading, trailing or double '-'). dns_label_valid:
 * RFC 1123 label (namespace names); dns_subdomain_valid: RFC 1123 subdomain
 * of at most 253 bytes (object names).
 */
bool labels_key_valid(const char *s);
bool labels_value_valid(const char *s);
bool port_name_valid(const char *s);
bool dns_label_valid(const char *s);
bool dns_subdomain_valid(const char *s);

enum selector_op {
	SEL_OP_IN,
	SEL_OP_NOT_IN,
	SEL_OP_EXISTS,
	SEL_OP_DOES_NOT_EXIST,
};

struct selector_req {
	char *key;
	enum selector_op op;
	char **values; /* sorted, unique; empty for Exists/DoesNotExist */
	size_t n_values;
};

/*
 * metav1.LabelSelector. An empty selector (no labels, no expressions)
 * matches everything. Whether a selector is present at all is tracked by
 * the owner (see struct np_peer).
 */
struct selector {
	struct labels match_labels;
	struct selector_req *exprs;
	size_t n_exprs;
};

void selector_clear(struct selector *s);

struct namespace_obj {
	char *name;
	struct labels labels; /* always includes kubernetes.io/metadata.name=<name> */
};

enum pod_phase {
	POD_PHASE_UNKNOWN = 0,
	POD_PHASE_PENDING,
	POD_PHASE_RUNNING,
	POD_PHASE_SUCCEEDED,
	POD_PHASE_FAILED,
};

struct container_port {
	char *name; /* NULL if unnamed */
	uint16_t port;
	enum proto proto;
};

struct pod_obj {
	char *ns;
	char *name;
	char *uid;
	struct labels labels;
	char *node_name; /* NULL if unscheduled */
	bool host_network;
	enum pod_phase phase;
	struct ip_addr ips[MODEL_MAX_POD_IPS]; /* at most one per family */
	size_t n_ips;
	struct container_port *ports;
	size_t n_ports;
};

/* Whether the pod can be a selector peer: not hostNetwork, has an IP, not Succeeded/Failed. */
bool pod_is_peer(const struct pod_obj *p);
/* Whether the pod can be a policy target: not hostNetwork. */
bool pod_is_target(const struct pod_obj *p);
/* The pod's address of the given family, or NULL. */
const struct ip_addr *pod_ip(const struct pod_obj *p, int family);

struct np_port {
	enum proto proto;  /* defaults to TCP */
	bool has_port;     /* false: all ports of proto */
	char *name;        /* non-NULL: a named port (end_port unused) */
	uint16_t port;     /* numeric port when name == NULL && has_port */
	uint16_t end_port; /* inclusive; == port when no endPort given */
};

enum peer_kind {
	PEER_SELECTOR, /* podSelector and/or namespaceSelector */
	PEER_IPBLOCK,
};

struct np_peer {
	enum peer_kind kind;
	/* PEER_SELECTOR: */
	bool has_pod_selector;
	struct selector pod_selector;
	bool has_ns_selector;
	struct selector ns_selector;
	/* PEER_IPBLOCK: */
	struct cidr cidr;
	struct cidr *except; /* each inside cidr, same family */
	size_t n_except;
};

struct np_rule {
	/* n_peers == 0: from/to absent or empty, matches every peer */
	struct np_peer *peers;
	size_t n_peers;
	/* n_ports == 0: ports absent or empty, matches every port and protocol */
	struct np_port *ports;
	size_t n_ports;
};

enum np_mode {
	NP_MODE_ENFORCE = 0,
	NP_MODE_AUDIT, /* annotation netpold.io/mode: audit */
};

struct netpol {
	char *ns;
	char *name;
	char *uid;
	int64_t generation;
	enum np_mode mode;
	struct selector pod_selector; /* spec.podSelector; empty = all pods of ns */
	bool type_ingress;            /* effective policyTypes, defaults applied */
	bool type_egress;
	struct np_rule *ingress;
	size_t n_ingress;
	struct np_rule *egress;
	size_t n_egress;
};

struct service_port {
	char *name; /* NULL if unnamed */
	enum proto proto;
	uint16_t port;
	/* targetPort: a name, or a number (defaults to port) */
	char *target_name;
	uint16_t target_port;
};

struct service_obj {
	char *ns;
	char *name;
	bool has_selector; /* false: no selector, no endpoints from pods */
	struct labels selector;
	struct service_port *ports;
	size_t n_ports;
};

void namespace_obj_free(struct namespace_obj *o);
void pod_obj_free(struct pod_obj *o);
void netpol_free(struct netpol *o);
void service_obj_free(struct service_obj *o);

static inline void namespace_obj_freep(struct namespace_obj **o)
{
	namespace_obj_free(*o);
}
static inline void pod_obj_freep(struct pod_obj **o)
{
	pod_obj_free(*o);
}
static inline void netpol_freep(struct netpol **o)
{
	netpol_free(*o);
}
static inline void service_obj_freep(struct service_obj **o)
{
	service_obj_free(*o);
}

enum obj_kind {
	OBJ_NAMESPACE,
	OBJ_POD,
	OBJ_NETWORK_POLICY,
	OBJ_SERVICE,
};

/* A decoded object of any kind; owns the pointed-to object. */
struct k8s_object {
	enum obj_kind kind;
	union {
		struct namespace_obj *ns;
		struct pod_obj *pod;
		struct netpol *pol;
		struct service_obj *svc;
	};
};

void k8s_object_clear(struct k8s_object *o);
const char *obj_kind_name(enum obj_kind k);
