/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Validation and conversion of a NetworkPolicy: its label selectors, rules,
 * peers (selectors or ipBlocks), ports and policy types, with the API
 * server's defaults and checks. Rejections name the JSON path at fault.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "decode_internal.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted, unique values of a selector requirement. */
static int decode_values(struct dctx *c, const json_t *vals, struct selector_req *ret)
{
	json_t *v;
	size_t i, k;
	int r;

	ret->values = calloc(json_array_size(vals), sizeof(char *));
	if (!ret->values)
		return dctx_oom(c);
	json_array_foreach(vals, i, v) {
		/* Values are matched, never stored as labels: lenient syntax, bounded size. */
		if (!json_is_string(v) || json_string_length(v) > MODEL_MAX_LABEL_VALUE_LEN) {
			size_t old = dctx_push_key(c, "values");

			dctx_push_index(c, i);
			r = json_is_string(v) ? dctx_fail(c, "too long (%zu bytes, max %d)",
							  json_string_length(v), MODEL_MAX_LABEL_VALUE_LEN)
					      : dctx_fail(c, "expected string, got %s", decode_json_type(v));
			dctx_pop(c, old);
			return r;
		}
		ret->values[ret->n_values] = strdup(json_string_value(v));
		if (!ret->values[ret->n_values])
			return dctx_oom(c);
		ret->n_values++;
	}
	qsort(ret->values, ret->n_values, sizeof(char *), cmp_str);
	k = 0;
	for (i = 0; i < ret->n_values; i++) {
		if (k > 0 && strcmp(ret->values[k - 1], ret->values[i]) == 0) {
			free(ret->values[i]);
			continue;
		}
		ret->values[k++] = ret->values[i];
	}
	ret->n_values = k;
	return 0;
}

static int decode_expr(struct dctx *c, const json_t *e, void *item)
{
	static const char *const names[] = {"In", "NotIn", "Exists", "DoesNotExist"};
	static const struct {
		enum selector_op op;
		bool values;
	} ops[] = {
		{SEL_OP_IN, true},
		{SEL_OP_NOT_IN, true},
		{SEL_OP_EXISTS, false},
		{SEL_OP_DOES_NOT_EXIST, false},
	};
	struct selector_req *ret = item;
	const char *key, *op;
	json_t *vals;
	size_t n = 0, old;
	int r, k;

	if (!e)
		return dctx_fail(c, "key: required");
	r = dctx_get_str(c, e, "key", MODEL_MAX_LABEL_KEY_LEN, &key);
	if (r < 0)
		return r;
	if (!key)
		return dctx_fail_key(c, "key", "required");
	if (!labels_key_valid(key))
		return dctx_fail_key(c, "key", "invalid label key %s", Q(key));
	r = dctx_get_str(c, e, "operator", 64, &op);
	if (r < 0)
		return r;
	if (!op)
		return dctx_fail_key(c, "operator", "required");
	old = dctx_push_key(c, "operator");
	k = dctx_word(c, json_object_get(e, "operator"), "operator", names, ELEMENTSOF(names));
	dctx_pop(c, old);
	if (k < 0)
		return k;
	r = dctx_get(c, e, "values", JSON_ARRAY, &vals);
	if (r < 0)
		return r;
	if (vals)
		n = json_array_size(vals);
	r = dctx_check_count(c, "values", n, MODEL_MAX_SELECTOR_VALUES);
	if (r < 0)
		return r;
	if (ops[k].values && n == 0)
		return dctx_fail_key(c, "values", "must be non-empty for operator %s", names[k]);
	if (!ops[k].values && n > 0)
		return dctx_fail_key(c, "values", "must be empty for operator %s", names[k]);

	ret->op = ops[k].op;
	r = dctx_dup_str(c, key, &ret->key);
	if (r < 0 || n == 0)
		return r;
	return decode_values(c, vals, ret);
}

/* A metav1.LabelSelector object at the current path. */
static int decode_selector(struct dctx *c, const json_t *sel, struct selector *ret)
{
	json_t *exprs;
	void *v = NULL;
	int r;

	r = dctx_get_labels(c, sel, "matchLabels", NULL, &ret->match_labels);
	if (r < 0)
		return r;
	r = dctx_get(c, sel, "matchExpressions", JSON_ARRAY, &exprs);
	if (r < 0)
		return r;
	r = dctx_list(c, "matchExpressions", exprs, MODEL_MAX_SELECTOR_EXPRS, sizeof(*ret->exprs),
		      decode_expr, &v, &ret->n_exprs);
	ret->exprs = v;
	return r;
}

/* Field key of obj as a selector; *ret_has says whether it is there. */
static int get_selector(struct dctx *c, const json_t *obj, const char *key, bool *ret_has,
			struct selector *ret)
{
	json_t *s;
	size_t old;
	int r;

	*ret_has = false;
	r = dctx_get(c, obj, key, JSON_OBJECT, &s);
	if (r < 0 || !s)
		return r;
	*ret_has = true;
	old = dctx_push_key(c, key);
	r = decode_selector(c, s, ret);
	dctx_pop(c, old);
	return r;
}

static int decode_np_port(struct dctx *c, const json_t *p, void *item)
{
	struct np_port *ret = item;
	const char *name;
	int64_t end;
	bool has_end;
	int r;

	ret->proto = PROTO_TCP;
	if (!p)
		return 0;
	r = dctx_get_proto(c, p, &ret->proto);
	if (r < 0)
		return r;
	r = dctx_get_port(c, p, "port", &ret->has_port, &ret->port, &name);
	if (r < 0)
		return r;
	r = dctx_get_int(c, p, "endPort", INT64_MIN, INT64_MAX, &has_end, &end);
	if (r < 0)
		return r;
	if (has_end) {
		if (!ret->has_port)
			return dctx_fail_key(c, "endPort", "requires port");
		if (name)
			return dctx_fail_key(c, "endPort", "may not be used with a named port");
		if (end < 1 || end > 65535)
			return dctx_fail_key(c, "endPort", "%lld out of range (1-65535)", (long long)end);
		if (end < ret->port)
			return dctx_fail_key(c, "endPort", "%lld must be greater than or equal to port %u",
					     (long long)end, ret->port);
	}
	ret->end_port = has_end ? (uint16_t)end : ret->port;
	if (name) {
		ret->end_port = 0;
		ret->name = strdup(name);
		if (!ret->name)
			return dctx_oom(c);
	}
	return 0;
}

static int decode_ipblock(struct dctx *c, const json_t *b, struct np_peer *ret)
{
	char outer[INET6_ADDRSTRLEN + 8];
	const char *cidr;
	json_t *except, *e;
	size_t i, old;
	int r;

	r = dctx_get_str(c, b, "cidr", 128, &cidr);
	if (r < 0)
		return r;
	if (!cidr)
		return dctx_fail_key(c, "cidr", "required");
	if (cidr_parse(cidr, &ret->cidr) < 0)
		return dctx_fail_key(c, "cidr", "invalid CIDR %s", Q(cidr));
	r = dctx_get(c, b, "except", JSON_ARRAY, &except);
	if (r < 0 || !except || json_array_size(except) == 0)
		return r;
	r = dctx_check_count(c, "except", json_array_size(except), MODEL_MAX_EXCEPT);
	if (r < 0)
		return r;
	ret->except = calloc(json_array_size(except), sizeof(*ret->except));
	if (!ret->except)
		return dctx_oom(c);
	cidr_fmt(&ret->cidr, outer, sizeof(outer));
	json_array_foreach(except, i, e) {
		struct cidr *x = &ret->except[i];

		old = dctx_push_key(c, "except");
		dctx_push_index(c, i);
		if (!json_is_string(e))
			r = dctx_fail(c, "expected string, got %s", decode_json_type(e));
		else if (json_string_length(e) > 128 || cidr_parse(json_string_value(e), x) < 0)
			r = dctx_fail(c, "invalid CIDR %s", Q(json_string_value(e)));
		else if (x->addr.family != ret->cidr.addr.family)
			r = dctx_fail(c, "%s is not of the address family of cidr %s",
				      Q(json_string_value(e)), outer);
		else if (!cidr_covers(&ret->cidr, x) || x->plen <= ret->cidr.plen)
			r = dctx_fail(c, "%s is not strictly inside cidr %s", Q(json_string_value(e)),
				      outer);
		dctx_pop(c, old);
		if (r < 0)
			return r;
		ret->n_except++;
	}
	return 0;
}

static int decode_peer(struct dctx *c, const json_t *p, void *item)
{
	json_t *ipb = NULL, *ps = NULL, *nss = NULL;
	struct np_peer *ret = item;
	size_t old;
	int r;

	if (p) {
		r = dctx_get(c, p, "ipBlock", JSON_OBJECT, &ipb);
		if (r >= 0)
			r = dctx_get(c, p, "podSelector", JSON_OBJECT, &ps);
		if (r >= 0)
			r = dctx_get(c, p, "namespaceSelector", JSON_OBJECT, &nss);
		if (r < 0)
			return r;
	}
	if (!ipb && !ps && !nss)
		return dctx_fail(c, "must specify a peer (ipBlock, podSelector or namespaceSelector)");
	if (ipb && (ps || nss))
		return dctx_fail(c, "may not specify both ipBlock and another peer");
	if (ipb) {
		ret->kind = PEER_IPBLOCK;
		old = dctx_push_key(c, "ipBlock");
		r = decode_ipblock(c, ipb, ret);
		dctx_pop(c, old);
		return r;
	}
	ret->kind = PEER_SELECTOR;
	r = get_selector(c, p, "podSelector", &ret->has_pod_selector, &ret->pod_selector);
	if (r < 0)
		return r;
	return get_selector(c, p, "namespaceSelector", &ret->has_ns_selector, &ret->ns_selector);
}

static int decode_rule(struct dctx *c, const json_t *rule, const char *peers_key, struct np_rule *ret)
{
	json_t *peers, *ports;
	void *v = NULL;
	int r;

	if (!rule)
		return 0;
	r = dctx_get(c, rule, peers_key, JSON_ARRAY, &peers);
	if (r >= 0)
		r = dctx_get(c, rule, "ports", JSON_ARRAY, &ports);
	if (r < 0)
		return r;
	r = dctx_list(c, peers_key, peers, MODEL_MAX_PEERS, sizeof(*ret->peers), decode_peer, &v,
		      &ret->n_peers);
	ret->peers = v;
	if (r < 0)
		return r;
	v = NULL;
	r = dctx_list(c, "ports", ports, MODEL_MAX_PORTS, sizeof(*ret->ports), decode_np_port, &v,
		      &ret->n_ports);
	ret->ports = v;
	return r;
}

static int decode_ingress_rule(struct dctx *c, const json_t *rule, void *item)
{
	return decode_rule(c, rule, "from", item);
}

static int decode_egress_rule(struct dctx *c, const json_t *rule, void *item)
{
	return decode_rule(c, rule, "to", item);
}

static int decode_rules(struct dctx *c, const json_t *spec, const char *key, dctx_elem_fn fn,
			struct np_rule **ret, size_t *ret_n)
{
	json_t *rules;
	void *v = NULL;
	int r;

	r = dctx_get(c, spec, key, JSON_ARRAY, &rules);
	if (r < 0)
		return r;
	r = dctx_list(c, key, rules, MODEL_MAX_RULES, sizeof(**ret), fn, &v, ret_n);
	*ret = v;
	return r;
}

static int decode_policy_types(struct dctx *c, const json_t *spec, struct netpol *o)
{
	static const char *const types[] = {"Ingress", "Egress"};
	json_t *list, *t;
	size_t i, old;

	if (dctx_get(c, spec, "policyTypes", JSON_ARRAY, &list) < 0)
		return -EINVAL;
	if (!list || json_array_size(list) == 0) {
		/* SetDefaults_NetworkPolicy */
		o->type_ingress = true;
		o->type_egress = o->n_egress > 0;
		return 0;
	}
	json_array_foreach(list, i, t) {
		int k;

		old = dctx_push_key(c, "policyTypes");
		dctx_push_index(c, i);
		k = dctx_word(c, t, "policy type", types, ELEMENTSOF(types));
		dctx_pop(c, old);
		if (k < 0)
			return k;
		if (k == 0)
			o->type_ingress = true;
		else
			o->type_egress = true;
	}
	return 0;
}

/* The netpold.io/mode annotation: audit or enforce. */
static int decode_mode(struct dctx *c, const json_t *meta, struct netpol *o)
{
	static const char *const modes[] = {"audit", "enforce"};
	json_t *ann, *mode;
	size_t old;
	int r;

	old = dctx_push_key(c, "metadata");
	r = dctx_get(c, meta, "annotations", JSON_OBJECT, &ann);
	mode = ann ? json_object_get(ann, "netpold.io/mode") : NULL;
	if (r >= 0 && mode) {
		dctx_push_key(c, "annotations[\"netpold.io/mode\"]");
		r = dctx_word(c, mode, "mode", modes, ELEMENTSOF(modes));
		if (r >= 0)
			o->mode = r == 0 ? NP_MODE_AUDIT : NP_MODE_ENFORCE;
	}
	dctx_pop(c, old);
	return r < 0 ? r : 0;
}

int decode_netpol(struct dctx *c, const json_t *obj, struct netpol **ret)
{
	_cleanup_(netpol_freep) struct netpol *o = calloc(1, sizeof(*o));
	struct decode_meta m;
	json_t *spec, *ps;
	size_t old;
	int r;

	if (!o)
		return dctx_oom(c);
	r = decode_meta(c, obj, &m, &o->ns, &o->name, &o->uid);
	if (r < 0)
		return r;
	o->generation = m.generation;
	r = decode_mode(c, m.m, o);
	if (r < 0)
		return r;

	r = dctx_get(c, obj, "spec", JSON_OBJECT, &spec);
	if (r < 0)
		return r;
	/* The API requires spec; an absent one reads as {} (json_object_get(NULL) is NULL). */
	old = dctx_push_key(c, "spec");
	r = dctx_get(c, spec, "podSelector", JSON_OBJECT, &ps);
	if (r >= 0 && ps) {
		size_t old2 = dctx_push_key(c, "podSelector");

		r = decode_selector(c, ps, &o->pod_selector);
		dctx_pop(c, old2);
	}
	if (r >= 0)
		r = decode_rules(c, spec, "ingress", decode_ingress_rule, &o->ingress, &o->n_ingress);
	if (r >= 0)
		r = decode_rules(c, spec, "egress", decode_egress_rule, &o->egress, &o->n_egress);
	if (r >= 0)
		r = decode_policy_types(c, spec, o);
	dctx_pop(c, old);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(o);
	return 0;
}
