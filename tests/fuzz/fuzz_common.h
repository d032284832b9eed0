/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the libFuzzer targets of tests/fuzz: a reader that turns the
 * fuzzer's bytes into choices, and checks that a decoded object keeps every
 * promise model.h makes (sorted unique labels, valid names, canonical and
 * nested CIDRs, ...). A broken promise aborts, which libFuzzer reports.
 */
#pragma once

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "util.h"

/* Harness code only: a violated property must stop the run with a message. */
#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);  \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The fuzzer's bytes as a stream of choices; reads past the end give zeros. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fz_u8(struct fuzz_in *in)
{
	uint8_t v;

	if (in->n == 0)
		return 0;
	v = *in->p++;
	in->n--;
	return v;
}

static inline uint16_t fz_u16(struct fuzz_in *in)
{
	uint16_t hi = fz_u8(in);

	return (uint16_t)(hi << 8 | fz_u8(in));
}

/* A value in [0, n); n > 0. */
static inline unsigned fz_below(struct fuzz_in *in, unsigned n)
{
	return n <= 256 ? fz_u8(in) % n : fz_u16(in) % n;
}

static inline bool fz_bool(struct fuzz_in *in)
{
	return fz_u8(in) & 1;
}

/* ---- model invariants ---- */

static inline void fuzz_check_labels(const struct labels *l, bool strict)
{
	FUZZ_CHECK(l->n <= MODEL_MAX_LABELS, "%zu labels", l->n);
	for (size_t i = 0; i < l->n; i++) {
		FUZZ_CHECK(l->v[i].key && l->v[i].value, "label %zu has a NULL", i);
		if (strict) {
			FUZZ_CHECK(labels_key_valid(l->v[i].key), "label key \"%s\"", l->v[i].key);
			FUZZ_CHECK(labels_value_valid(l->v[i].value), "label value \"%s\"",
				   l->v[i].value);
		}
		if (i > 0)
			FUZZ_CHECK(strcmp(l->v[i - 1].key, l->v[i].key) < 0,
				   "labels not sorted/unique: \"%s\" then \"%s\"", l->v[i - 1].key,
				   l->v[i].key);
		FUZZ_CHECK(labels_get(l, l->v[i].key) == l->v[i].value, "labels_get(\"%s\")",
			   l->v[i].key);
	}
}

static inline void fuzz_check_selector(const struct selector *s)
{
	fuzz_check_labels(&s->match_labels, true);
	FUZZ_CHECK(s->n_exprs <= MODEL_MAX_SELECTOR_EXPRS, "%zu exprs", s->n_exprs);
	for (size_t i = 0; i < s->n_exprs; i++) {
		const struct selector_req *q = &s->exprs[i];

		FUZZ_CHECK(q->key && labels_key_valid(q->key), "expression key");
		FUZZ_CHECK(q->op <= SEL_OP_DOES_NOT_EXIST, "op %d", (int)q->op);
		if (q->op == SEL_OP_EXISTS || q->op == SEL_OP_DOES_NOT_EXIST)
			FUZZ_CHECK(q->n_values == 0, "Exists/DoesNotExist with %zu values",
				   q->n_values);
		else
			FUZZ_CHECK(q->n_values > 0, "In/NotIn without values");
		FUZZ_CHECK(q->n_values <= MODEL_MAX_SELECTOR_VALUES, "%zu values", q->n_values);
		for (size_t j = 0; j < q->n_values; j++) {
			FUZZ_CHECK(q->values[j] &&
					   strlen(q->values[j]) <= MODEL_MAX_LABEL_VALUE_LEN,
				   "value %zu", j);
			if (j > 0)
				FUZZ_CHECK(strcmp(q->values[j - 1], q->values[j]) < 0,
					   "values not sorted/unique");
		}
	}
}

static inline bool fuzz_proto_ok(enum proto p)
{
	return p == PROTO_TCP || p == PROTO_UDP || p == PROTO_SCTP;
}

static inline void fuzz_check_cidr(const struct cidr *c)
{
	unsigned bits = c->addr.family == AF_INET ? 32 : 128;

	FUZZ_CHECK(c->addr.family == AF_INET || c->addr.family == AF_INET6, "family %u",
		   c->addr.family);
	FUZZ_CHECK(c->plen <= bits, "plen %u", c->plen);
	for (unsigned b = c->plen; b < 128; b++)
		FUZZ_CHECK(!(c->addr.a[b / 8] & (1u << (7 - b % 8))), "host bit %u set (plen %u)",
			   b, c->plen);
}

static inline void fuzz_check_rule(const struct np_rule *r)
{
	FUZZ_CHECK(r->n_peers <= MODEL_MAX_PEERS && r->n_ports <= MODEL_MAX_PORTS, "rule sizes");
	for (size_t i = 0; i < r->n_peers; i++) {
		const struct np_peer *p = &r->peers[i];

		if (p->kind == PEER_SELECTOR) {
			FUZZ_CHECK(p->has_pod_selector || p->has_ns_selector,
				   "peer without selector");
			fuzz_check_selector(&p->pod_selector);
			fuzz_check_selector(&p->ns_selector);
			continue;
		}
		FUZZ_CHECK(p->kind == PEER_IPBLOCK, "peer kind %d", (int)p->kind);
		fuzz_check_cidr(&p->cidr);
		FUZZ_CHECK(p->n_except <= MODEL_MAX_EXCEPT, "%zu except", p->n_except);
		for (size_t j = 0; j < p->n_except; j++) {
			fuzz_check_cidr(&p->except[j]);
			FUZZ_CHECK(p->except[j].addr.family == p->cidr.addr.family &&
					   cidr_covers(&p->cidr, &p->except[j]),
				   "except %zu not inside cidr", j);
		}
	}
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct np_port *p = &r->ports[i];

		FUZZ_CHECK(fuzz_proto_ok(p->proto), "proto %d", (int)p->proto);
		if (p->name) {
			FUZZ_CHECK(p->has_port && port_name_valid(p->name), "port name \"%s\"",
				   p->name);
		} else if (p->has_port) {
			FUZZ_CHECK(p->port >= 1 && p->end_port >= p->port, "port range %u-%u",
				   p->port, p->end_port);
		}
	}
}

/* Every promise model.h makes about a decoded object of the given kind. */
static inline void fuzz_check_object(const struct k8s_object *o, enum obj_kind want)
{
	FUZZ_CHECK(o->kind == want, "kind %d, expected %d", (int)o->kind, (int)want);
	switch (o->kind) {
	case OBJ_NAMESPACE: {
		const struct namespace_obj *n = o->ns;

		FUZZ_CHECK(n && n->name && dns_label_valid(n->name), "namespace name");
		fuzz_check_labels(&n->labels, true);
		FUZZ_CHECK(labels_get(&n->labels, "kubernetes.io/metadata.name") &&
				   strcmp(labels_get(&n->labels, "kubernetes.io/metadata.name"),
					  n->name) == 0,
			   "namespace %s lacks kubernetes.io/metadata.name", n->name);
		break;
	}
	case OBJ_POD: {
		const struct pod_obj *p = o->pod;

		FUZZ_CHECK(p && p->ns && dns_label_valid(p->ns), "pod namespace");
		FUZZ_CHECK(p->name && dns_subdomain_valid(p->name), "pod name");
		fuzz_check_labels(&p->labels, true);
		FUZZ_CHECK(p->n_ips <= MODEL_MAX_POD_IPS, "%zu ips", p->n_ips);
		for (size_t i = 0; i < p->n_ips; i++) {
			FUZZ_CHECK(p->ips[i].family == AF_INET || p->ips[i].family == AF_INET6,
				   "ip family");
			if (p->ips[i].family == AF_INET)
				for (unsigned b = 4; b < 16; b++)
					FUZZ_CHECK(p->ips[i].a[b] == 0, "v4 address, tail");
			for (size_t j = 0; j < i; j++)
				FUZZ_CHECK(p->ips[i].family != p->ips[j].family,
					   "two ips of a family");
		}
		FUZZ_CHECK(p->n_ports <= MODEL_MAX_CONTAINER_PORTS, "%zu ports", p->n_ports);
		for (size_t i = 0; i < p->n_ports; i++) {
			FUZZ_CHECK(fuzz_proto_ok(p->ports[i].proto), "container port proto");
			FUZZ_CHECK(p->ports[i].port >= 1, "container port 0");
			FUZZ_CHECK(!p->ports[i].name || port_name_valid(p->ports[i].name),
				   "container port name");
		}
		break;
	}
	case OBJ_NETWORK_POLICY: {
		const struct netpol *np = o->pol;

		FUZZ_CHECK(np && np->ns && dns_label_valid(np->ns), "policy namespace");
		FUZZ_CHECK(np->name && dns_subdomain_valid(np->name), "policy name");
		FUZZ_CHECK(np->generation >= 0, "generation");
		fuzz_check_selector(&np->pod_selector);
		FUZZ_CHECK(np->type_ingress || np->type_egress, "policy with no type");
		FUZZ_CHECK(np->n_ingress <= MODEL_MAX_RULES && np->n_egress <= MODEL_MAX_RULES,
			   "rules");
		for (size_t i = 0; i < np->n_ingress; i++)
			fuzz_check_rule(&np->ingress[i]);
		for (size_t i = 0; i < np->n_egress; i++)
			fuzz_check_rule(&np->egress[i]);
		break;
	}
	case OBJ_SERVICE: {
		const struct service_obj *s = o->svc;

		FUZZ_CHECK(s && s->ns && dns_label_valid(s->ns), "service namespace");
		FUZZ_CHECK(s->name && dns_subdomain_valid(s->name), "service name");
		fuzz_check_labels(&s->selector, true);
		FUZZ_CHECK(s->has_selector || s->selector.n == 0, "selector without has_selector");
		FUZZ_CHECK(s->n_ports <= MODEL_MAX_SERVICE_PORTS, "%zu ports", s->n_ports);
		for (size_t i = 0; i < s->n_ports; i++) {
			FUZZ_CHECK(fuzz_proto_ok(s->ports[i].proto), "service port proto");
			FUZZ_CHECK(s->ports[i].port >= 1, "service port 0");
		}
		break;
	}
	default:
		FUZZ_CHECK(0, "kind %d", (int)o->kind);
	}
}
