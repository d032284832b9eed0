/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The questions netpolctl asks, answered against an engine: explain one
 * connection (pod, IP or service destination) and the reachability matrix.
 * netpolctl's offline mode and the status socket's /v1/explain and
 * /v1/matrix both call these, so both print exactly the same text or JSON.
 * Never logs: a refused question comes back as a message.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"

#define QUERY_MAX_NAMESPACES 256
#define QUERY_ERR_MAX 512

/* Results besides -errno. */
#define QUERY_ALLOWED 0
#define QUERY_DENIED 1

struct query {
	const char *from;  /* NAMESPACE/POD or an IP (explain) */
	const char *to;    /* NAMESPACE/POD, an IP or svc/NAMESPACE/NAME (explain) */
	const char *namespaces; /* a,b,c or NULL: all (matrix) */
	enum proto proto;
	uint16_t port;
	int family; /* AF_INET, AF_INET6; 0: pick (explain) / IPv4 (matrix) */
	bool json;
};

struct query_out {
	FILE *out;  /* the answer */
	FILE *warn; /* "netpolctl: skipping ..." notes; may be NULL */
	char err[QUERY_ERR_MAX]; /* why the question was refused */
};

/*
 * Answer explain. Returns QUERY_ALLOWED, QUERY_DENIED, or -EINVAL (bad
 * endpoint), -ENOENT (no such pod, namespace, service or service port),
 * -EADDRNOTAVAIL (no common family), -ENOMEM, with o->err set.
 */
int query_explain(const struct engine *e, const struct query *q, struct query_out *o);

/*
 * Print the matrix over the pods of q->namespaces (all when NULL) in
 * q->family. Returns 0, or -EINVAL, -ENOENT (no pods), -ENOMEM, -EIO with
 * o->err set.
 */
int query_matrix(const struct engine *e, const struct query *q, struct query_out *o);

/* Checked parsers shared by netpolctl and the status socket. 0 or -EINVAL. */
int query_parse_port(const char *s, uint16_t *ret);
int query_parse_proto(const char *s, enum proto *ret); /* any case */
int query_parse_family(const char *s, int *ret);       /* 4, 6, ipv4, ipv6 */
/* "ns/name" into ns and name (each MODEL_MAX_NAME_LEN + 1 bytes). 0 or -EINVAL. */
int query_split_name(const char *s, char *ns, char *name);
