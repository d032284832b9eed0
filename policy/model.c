/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Constructors, destructors and small accessors of the typed model. Label
 * maps stay sorted by key so lookups are binary searches and comparisons are
 * linear.
 */
#include <stdio.h>

#include "model.h"

int proto_parse(const char *s, enum proto *ret)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "TCP") == 0)
		*ret = PROTO_TCP;
	else if (strcmp(s, "UDP") == 0)
		*ret = PROTO_UDP;
	else if (strcmp(s, "SCTP") == 0)
		*ret = PROTO_SCTP;
	else
		return -EINVAL;
	return 0;
}

const char *proto_name(enum proto p)
{
	switch (p) {
	case PROTO_TCP:
		return "TCP";
	case PROTO_UDP:
		return "UDP";
	case PROTO_SCTP:
		return "SCTP";
	}
	return "?";
}

/* Index of key, or -(insertion point) - 1. */
static ssize_t labels_find(const struct labels *l, const char *key)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->v[mid].key, key);

		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(ssize_t)lo - 1;
}

const char *labels_get(const struct labels *l, const char *key)
{
	ssize_t i = labels_find(l, key);

	return i >= 0 ? l->v[i].value : NULL;
}

int labels_set(struct labels *l, const char *key, const char *value)
{
	ssize_t i = labels_find(l, key);
	struct label *v;
	char *k, *val;
	size_t at;

	val = strdup(value);
	if (!val)
		return -ENOMEM;
	if (i >= 0) {
		free(l->v[i].value);
		l->v[i].value = val;
		return 0;
	}
	k = strdup(key);
	if (!k) {
		free(val);
		return -ENOMEM;
	}
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v) {
		free(k);
		free(val);
		return -ENOMEM;
	}
	l->v = v;
	at = (size_t)(-i - 1);
	memmove(&v[at + 1], &v[at], (l->n - at) * sizeof(*v));
	v[at] = (struct label){.key = k, .value = val};
	l->n++;
	return 0;
}

void labels_clear(struct labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

bool labels_equal(const struct labels *a, const struct labels *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, b->v[i].key) != 0 ||
		    strcmp(a->v[i].value, b->v[i].value) != 0)
			return false;
	return true;
}

void selector_clear(struct selector *s)
{
	labels_clear(&s->match_labels);
	for (size_t i = 0; i < s->n_exprs; i++) {
		free(s->exprs[i].key);
		for (size_t j = 0; j < s->exprs[i].n_values; j++)
			free(s->exprs[i].values[j]);
		free(s->exprs[i].values);
	}
	free(s->exprs);
	s->exprs = NULL;
	s->n_exprs = 0;
}

bool pod_is_peer(const struct pod_obj *p)
{
	return p->n_ips > 0 && p->phase != POD_PHASE_SUCCEEDED && p->phase != POD_PHASE_FAILED;
}

bool pod_is_target(const struct pod_obj *p)
{
	return !p->host_network;
}

const struct ip_addr *pod_ip(const struct pod_obj *p, int family)
{
	for (size_t i = 0; i < p->n_ips; i++)
		if (p->ips[i].family == family)
			return &p->ips[i];
	return NULL;
}

void namespace_obj_free(struct namespace_obj *o)
{
	if (!o)
		return;
	free(o->name);
	labels_clear(&o->labels);
	free(o);
}

void pod_obj_free(struct pod_obj *o)
{
	if (!o)
		return;
	free(o->ns);
	free(o->name);
	free(o->uid);
	free(o->node_name);
	labels_clear(&o->labels);
	for (size_t i = 0; i < o->n_ports; i++)
		free(o->ports[i].name);
	free(o->ports);
	free(o);
}

static void rules_free(struct np_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct np_rule *r = &rules[i];

		for (size_t j = 0; j < r->n_peers; j++) {
			selector_clear(&r->peers[j].pod_selector);
			selector_clear(&r->peers[j].ns_selector);
			free(r->peers[j].except);
		}
		free(r->peers);
		for (size_t j = 0; j < r->n_ports; j++)
			free(r->ports[j].name);
		free(r->ports);
	}
	free(rules);
}

void netpol_free(struct netpol *o)
{
	if (!o)
		return;
	free(o->ns);
	free(o->name);
	free(o->uid);
	selector_clear(&o->pod_selector);
	rules_free(o->ingress, o->n_ingress);
	rules_free(o->egress, o->n_egress);
	free(o);
}

void service_obj_free(struct service_obj *o)
{
	if (!o)
		return;
	free(o->ns);
	free(o->name);
	labels_clear(&o->selector);
	for (size_t i = 0; i < o->n_ports; i++) {
		free(o->ports[i].name);
		free(o->ports[i].target_name);
	}
	free(o->ports);
	free(o);
}

void k8s_object_clear(struct k8s_object *o)
{
	switch (o->kind) {
	case OBJ_NAMESPACE:
		namespace_obj_free(o->ns);
		break;
	case OBJ_POD:
		pod_obj_free(o->pod);
		break;
	case OBJ_NETWORK_POLICY:
		netpol_free(o->pol);
		break;
	case OBJ_SERVICE:
		service_obj_free(o->svc);
		break;
	}
	o->pod = NULL;
}

const char *obj_kind_name(enum obj_kind k)
{
	switch (k) {
	case OBJ_NAMESPACE:
		return "Namespace";
	case OBJ_POD:
		return "Pod";
	case OBJ_NETWORK_POLICY:
		return "NetworkPolicy";
	case OBJ_SERVICE:
		return "Service";
	}
	return "?";
}
