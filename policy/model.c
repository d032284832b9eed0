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
	/*
	 * hostNetwork pods share the node's address: selectors ignore them and
	 * their traffic is the node's (reachable through an ipBlock of the node IP).
	 */
	return !p->host_network && p->n_ips > 0 && p->phase != POD_PHASE_SUCCEEDED && p->phase != POD_PHASE_FAILED;
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

static bool is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static bool is_alnum(char ch)
{
	return is_lower_alnum(ch) || (ch >= 'A' && ch <= 'Z');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over exactly n bytes */
static bool dns_label_n(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool dns_subdomain_n(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0 || n > MODEL_MAX_NAME_LEN)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (!dns_label_n(s + start, i - start))
			return false;
		start = i + 1;
	}
	return true;
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] of at most 63 bytes, n >= 1 */
static bool qualified_name_n(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

bool labels_key_valid(const char *s)
{
	const char *slash;
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n > MODEL_MAX_LABEL_KEY_LEN)
		return false;
	slash = strchr(s, '/');
	if (!slash)
		return qualified_name_n(s, n);
	return dns_subdomain_n(s, (size_t)(slash - s)) &&
	       qualified_name_n(slash + 1, n - (size_t)(slash - s) - 1);
}

bool labels_value_valid(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	return n == 0 || qualified_name_n(s, n);
}

bool port_name_valid(const char *s)
{
	bool letter = false;
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (s[i] == '-') {
			if (s[i + 1] == '-')
				return false;
		} else if (!(s[i] >= '0' && s[i] <= '9'))
			return false;
	}
	return letter;
}

bool dns_label_valid(const char *s)
{
	return s && dns_label_n(s, strlen(s));
}

bool dns_subdomain_valid(const char *s)
{
	return s && dns_subdomain_n(s, strnlen(s, MODEL_MAX_NAME_LEN + 1));
}
