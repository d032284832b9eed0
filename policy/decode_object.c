/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Validation of one Kubernetes object held as a jansson tree, and its
 * conversion into the typed model (Namespace, Pod, NetworkPolicy, Service).
 * Every rejection names the JSON path of the field at fault. Shared by the
 * JSON and YAML front ends; unknown fields are ignored, null means absent.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>

#include "decode_internal.h"

struct dctx {
	char path[DECODE_PATH_MAX];
	size_t plen;
	char *err;
	size_t errlen;
};

const char *decode_json_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

const char *decode_quote(const char *s, char *buf, size_t len)
{
	size_t o = 0, max = len > 80 ? 72 : len - 8;

	if (len < 16) {
		snprintf(buf, len, "\"...\"");
		return buf;
	}
	buf[o++] = '"';
	for (; *s && o < max; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
		} else {
			buf[o++] = (char)ch;
		}
	}
	if (*s) {
		/* do not cut a UTF-8 sequence in half */
		while (o > 1 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 1 && ((unsigned char)buf[o - 1] & 0xc0) == 0xc0)
			o--;
		buf[o++] = '.';
		buf[o++] = '.';
		buf[o++] = '.';
	}
	buf[o++] = '"';
	buf[o] = 0;
	return buf;
}

#define Q(s) decode_quote((s), (char[96]){0}, 96)

static size_t push(struct dctx *c, const char *fmt, ...) _printf_(2, 3);
static size_t push(struct dctx *c, const char *fmt, ...)
{
	size_t old = c->plen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->path + c->plen, sizeof(c->path) - c->plen, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->plen += (size_t)n < sizeof(c->path) - c->plen ? (size_t)n : sizeof(c->path) - c->plen - 1;
	return old;
}

static size_t push_key(struct dctx *c, const char *key)
{
	return push(c, "%s%s", c->plen ? "." : "", key);
}

static size_t push_index(struct dctx *c, size_t i)
{
	return push(c, "[%zu]", i);
}

static void pop(struct dctx *c, size_t old)
{
	c->plen = old;
	c->path[old] = 0;
}

static int fail(struct dctx *c, const char *fmt, ...) _printf_(2, 3);
static int fail(struct dctx *c, const char *fmt, ...)
{
	char msg[DECODE_MSG_MAX - DECODE_PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->plen)
		snprintf(c->err, c->errlen, "%s: %s", c->path, msg);
	else
		snprintf(c->err, c->errlen, "%s", msg);
	return -EINVAL;
}

static int fail_key(struct dctx *c, const char *key, const char *fmt, ...) _printf_(3, 4);
static int fail_key(struct dctx *c, const char *key, const char *fmt, ...)
{
	char msg[DECODE_MSG_MAX - DECODE_PATH_MAX];
	size_t old = push_key(c, key);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail(c, "%s", msg);
	pop(c, old);
	return -EINVAL;
}

static int oom(struct dctx *c)
{
	snprintf(c->err, c->errlen, "out of memory");
	return -ENOMEM;
}

static const char *type_word(json_type t)
{
	switch (t) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "?";
	}
}

/* Field key of obj with type t (JSON_TRUE for any boolean): *ret NULL when absent or null. */
static int get(struct dctx *c, const json_t *obj, const char *key, json_type t, json_t **ret)
{
	json_t *v = json_object_get(obj, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (t == JSON_TRUE ? !json_is_boolean(v) : json_typeof(v) != t)
		return fail_key(c, key, "expected %s, got %s", type_word(t), decode_json_type(v));
	*ret = v;
	return 0;
}

static int get_str(struct dctx *c, const json_t *obj, const char *key, size_t maxlen,
		   const char **ret)
{
	json_t *v;
	int r;

	*ret = NULL;
	r = get(c, obj, key, JSON_STRING, &v);
	if (r < 0 || !v)
		return r;
	if (json_string_length(v) > maxlen)
		return fail_key(c, key, "too long (%zu bytes, max %zu)", json_string_length(v), maxlen);
	*ret = json_string_value(v);
	return 0;
}

static int get_int(struct dctx *c, const json_t *obj, const char *key, int64_t min, int64_t max,
		   bool *ret_has, int64_t *ret)
{
	json_t *v;
	int r;

	*ret_has = false;
	r = get(c, obj, key, JSON_INTEGER, &v);
	if (r < 0 || !v)
		return r;
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return fail_key(c, key, "%lld out of range (%lld-%lld)", (long long)json_integer_value(v),
				(long long)min, (long long)max);
	*ret_has = true;
	*ret = json_integer_value(v);
	return 0;
}

/* An element of an array that must be an object; null counts as {} as Go decodes it. */
static int elem_object(struct dctx *c, json_t *v, json_t **ret)
{
	*ret = NULL;
	if (json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail(c, "expected object, got %s", decode_json_type(v));
	*ret = v;
	return 0;
}

static int check_count(struct dctx *c, const char *key, size_t n, size_t max)
{
	if (n > max)
		return fail_key(c, key, "too many entries (%zu, max %zu)", n, max);
	return 0;
}

static int dup_str(struct dctx *c, const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : oom(c);
}

/* A label map at the current path (also Service selectors and matchLabels). */
static int decode_labels(struct dctx *c, const json_t *map, struct labels *ret)
{
	const char *k;
	json_t *v;
	int r;

	if (json_object_size(map) > MODEL_MAX_LABELS)
		return fail(c, "too many labels (%zu, max %d)", json_object_size(map), MODEL_MAX_LABELS);
	json_object_foreach((json_t *)map, k, v) {
		if (!labels_key_valid(k))
			return fail(c, "invalid label key %s", Q(k));
		if (!json_is_string(v))
			return fail(c, "value of %s: expected string, got %s", Q(k), decode_json_type(v));
		if (!labels_value_valid(json_string_value(v)))
			return fail(c, "invalid label value %s for key %s", Q(json_string_value(v)), Q(k));
		r = labels_set(ret, k, json_string_value(v));
		if (r < 0)
			return oom(c);
	}
	return 0;
}

static int get_labels(struct dctx *c, const json_t *obj, const char *key, bool *ret_has,
		      struct labels *ret)
{
	json_t *m;
	size_t old;
	int r;

	if (ret_has)
		*ret_has = false;
	r = get(c, obj, key, JSON_OBJECT, &m);
	if (r < 0 || !m)
		return r;
	if (ret_has)
		*ret_has = true;
	old = push_key(c, key);
	r = decode_labels(c, m, ret);
	pop(c, old);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int decode_expr(struct dctx *c, json_t *e, struct selector_req *ret)
{
	static const struct {
		const char *name;
		enum selector_op op;
		bool values;
	} ops[] = {
		{"In", SEL_OP_IN, true},
		{"NotIn", SEL_OP_NOT_IN, true},
		{"Exists", SEL_OP_EXISTS, false},
		{"DoesNotExist", SEL_OP_DOES_NOT_EXIST, false},
	};
	const char *key, *op;
	json_t *vals, *v;
	size_t i, n = 0, k;
	int r;

	if (!e)
		return fail(c, "key: required");
	r = get_str(c, e, "key", MODEL_MAX_LABEL_KEY_LEN, &key);
	if (r < 0)
		return r;
	if (!key)
		return fail_key(c, "key", "required");
	if (!labels_key_valid(key))
		return fail_key(c, "key", "invalid label key %s", Q(key));
	r = get_str(c, e, "operator", 64, &op);
	if (r < 0)
		return r;
	if (!op)
		return fail_key(c, "operator", "required");
	for (k = 0; k < ELEMENTSOF(ops); k++)
		if (strcmp(op, ops[k].name) == 0)
			break;
	if (k == ELEMENTSOF(ops))
		return fail_key(c, "operator", "unsupported operator %s (must be In, NotIn, Exists or DoesNotExist)",
				Q(op));
	r = get(c, e, "values", JSON_ARRAY, &vals);
	if (r < 0)
		return r;
	if (vals)
		n = json_array_size(vals);
	r = check_count(c, "values", n, MODEL_MAX_SELECTOR_VALUES);
	if (r < 0)
		return r;
	if (ops[k].values && n == 0)
		return fail_key(c, "values", "must be non-empty for operator %s", ops[k].name);
	if (!ops[k].values && n > 0)
		return fail_key(c, "values", "must be empty for operator %s", ops[k].name);

	ret->op = ops[k].op;
	r = dup_str(c, key, &ret->key);
	if (r < 0)
		return r;
	if (n == 0)
		return 0;
	ret->values = calloc(n, sizeof(char *));
	if (!ret->values)
		return oom(c);
	json_array_foreach(vals, i, v) {
		/* Values are matched, never stored as labels: lenient syntax, bounded size. */
		if (!json_is_string(v) || json_string_length(v) > MODEL_MAX_LABEL_VALUE_LEN) {
			size_t old = push_key(c, "values");

			push_index(c, i);
			r = json_is_string(v) ? fail(c, "too long (%zu bytes, max %d)", json_string_length(v),
						     MODEL_MAX_LABEL_VALUE_LEN)
					      : fail(c, "expected string, got %s", decode_json_type(v));
			pop(c, old);
			return r;
		}
		ret->values[ret->n_values] = strdup(json_string_value(v));
		if (!ret->values[ret->n_values])
			return oom(c);
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

/* A metav1.LabelSelector object at the current path. */
static int decode_selector(struct dctx *c, const json_t *sel, struct selector *ret)
{
	json_t *exprs, *e;
	size_t i, old;
	int r;

	r = get_labels(c, sel, "matchLabels", NULL, &ret->match_labels);
	if (r < 0)
		return r;
	r = get(c, sel, "matchExpressions", JSON_ARRAY, &exprs);
	if (r < 0 || !exprs || json_array_size(exprs) == 0)
		return r;
	r = check_count(c, "matchExpressions", json_array_size(exprs), MODEL_MAX_SELECTOR_EXPRS);
	if (r < 0)
		return r;
	ret->exprs = calloc(json_array_size(exprs), sizeof(*ret->exprs));
	if (!ret->exprs)
		return oom(c);
	ret->n_exprs = json_array_size(exprs);
	json_array_foreach(exprs, i, e) {
		json_t *o;

		old = push_key(c, "matchExpressions");
		push_index(c, i);
		r = elem_object(c, e, &o);
		if (r >= 0)
			r = decode_expr(c, o, &ret->exprs[i]);
		pop(c, old);
		if (r < 0)
			return r;
	}
	return 0;
}

static int get_selector(struct dctx *c, const json_t *obj, const char *key, bool *ret_has,
			struct selector *ret)
{
	json_t *s;
	size_t old;
	int r;

	*ret_has = false;
	r = get(c, obj, key, JSON_OBJECT, &s);
	if (r < 0 || !s)
		return r;
	*ret_has = true;
	old = push_key(c, key);
	r = decode_selector(c, s, ret);
	pop(c, old);
	return r;
}

struct meta {
	const char *ns;
	const char *name;
	const char *uid;
	int64_t generation;
	json_t *m;
};

static int decode_meta(struct dctx *c, const json_t *obj, bool namespaced, struct meta *ret)
{
	size_t old;
	bool has;
	int r;

	*ret = (struct meta){0};
	r = get(c, obj, "metadata", JSON_OBJECT, &ret->m);
	if (r < 0)
		return r;
	if (!ret->m)
		return fail(c, "metadata.name: required");
	old = push_key(c, "metadata");
	r = get_str(c, ret->m, "name", MODEL_MAX_NAME_LEN, &ret->name);
	if (r >= 0 && (!ret->name || !*ret->name))
		r = fail_key(c, "name", "required");
	if (r >= 0 && !(namespaced ? dns_subdomain_valid(ret->name) : dns_label_valid(ret->name)))
		r = fail_key(c, "name", "invalid name %s (must be a lowercase RFC 1123 %s)", Q(ret->name),
			     namespaced ? "subdomain" : "label");
	if (r >= 0 && namespaced) {
		r = get_str(c, ret->m, "namespace", MODEL_MAX_NAME_LEN, &ret->ns);
		if (r >= 0 && (!ret->ns || !*ret->ns))
			ret->ns = "default";
		else if (r >= 0 && !dns_label_valid(ret->ns))
			r = fail_key(c, "namespace", "invalid namespace %s (must be a lowercase RFC 1123 label)",
				     Q(ret->ns));
	}
	if (r >= 0)
		r = get_str(c, ret->m, "uid", MODEL_MAX_NAME_LEN, &ret->uid);
	if (r >= 0)
		r = get_int(c, ret->m, "generation", 0, INT64_MAX, &has, &ret->generation);
	pop(c, old);
	return r;
}

static int decode_namespace(struct dctx *c, const json_t *obj, struct namespace_obj **ret)
{
	_cleanup_(namespace_obj_freep) struct namespace_obj *o = calloc(1, sizeof(*o));
	struct meta m;
	size_t old;
	int r;

	if (!o)
		return oom(c);
	r = decode_meta(c, obj, false, &m);
	if (r < 0)
		return r;
	r = dup_str(c, m.name, &o->name);
	if (r < 0)
		return r;
	old = push_key(c, "metadata");
	r = get_labels(c, m.m, "labels", NULL, &o->labels);
	pop(c, old);
	if (r < 0)
		return r;
	if (labels_set(&o->labels, "kubernetes.io/metadata.name", m.name) < 0)
		return oom(c);
	*ret = TAKE_PTR(o);
	return 0;
}

/* containers[].ports[] or initContainers[].ports[], appended to o->ports. */
static int decode_container_ports(struct dctx *c, const json_t *spec, const char *key,
				  struct pod_obj *o)
{
	json_t *ctrs, *ctr, *ports, *p;
	size_t i, j, old;
	int r;

	r = get(c, spec, key, JSON_ARRAY, &ctrs);
	if (r < 0 || !ctrs)
		return r;
	old = push_key(c, key);
	json_array_foreach(ctrs, i, ctr) {
		size_t old2 = push_index(c, i);
		json_t *co;

		r = elem_object(c, ctr, &co);
		if (r >= 0 && co)
			r = get(c, co, "ports", JSON_ARRAY, &ports);
		else
			ports = NULL;
		if (r >= 0 && ports && o->n_ports + json_array_size(ports) > MODEL_MAX_CONTAINER_PORTS)
			r = fail(c, "too many container ports in the pod (max %d)", MODEL_MAX_CONTAINER_PORTS);
		if (r >= 0 && ports && json_array_size(ports) > 0) {
			struct container_port *v =
				realloc(o->ports, (o->n_ports + json_array_size(ports)) * sizeof(*v));

			if (!v)
				r = oom(c);
			else
				o->ports = v;
		}
		if (r >= 0 && ports)
			json_array_foreach(ports, j, p) {
				struct container_port *cp = &o->ports[o->n_ports];
				size_t old3 = push_key(c, "ports");
				const char *name = NULL, *proto = NULL;
				json_t *po;
				int64_t num = 0;
				bool has = false;

				push_index(c, j);
				r = elem_object(c, p, &po);
				if (r >= 0 && po)
					r = get_int(c, po, "containerPort", 1, 65535, &has, &num);
				if (r >= 0 && !has)
					r = fail_key(c, "containerPort", "required");
				if (r >= 0)
					r = get_str(c, po, "name", 64, &name);
				if (r >= 0 && name && !port_name_valid(name))
					r = fail_key(c, "name", "invalid port name %s (must be an IANA_SVC_NAME)",
						     Q(name));
				if (r >= 0)
					r = get_str(c, po, "protocol", 64, &proto);
				*cp = (struct container_port){.port = (uint16_t)num, .proto = PROTO_TCP};
				if (r >= 0 && proto && proto_parse(proto, &cp->proto) < 0)
					r = fail_key(c, "protocol",
						     "unsupported protocol %s (must be TCP, UDP or SCTP)", Q(proto));
				if (r >= 0)
					r = dup_str(c, name, &cp->name);
				pop(c, old3);
				if (r < 0)
					break;
				o->n_ports++;
			}
		pop(c, old2);
		if (r < 0)
			break;
	}
	pop(c, old);
	return r;
}

static int add_pod_ip(struct dctx *c, struct pod_obj *o, const char *s)
{
	struct ip_addr ip;

	if (!s || ip_addr_parse(s, &ip) < 0)
		return fail(c, "invalid IP address %s", Q(s ? s : ""));
	if (pod_ip(o, ip.family))
		return 0; /* one per family: the first wins */
	o->ips[o->n_ips++] = ip;
	return 0;
}

static int decode_pod_status(struct dctx *c, const json_t *status, struct pod_obj *o)
{
	static const struct {
		const char *name;
		enum pod_phase phase;
	} phases[] = {
		{"Pending", POD_PHASE_PENDING},
		{"Running", POD_PHASE_RUNNING},
		{"Succeeded", POD_PHASE_SUCCEEDED},
		{"Failed", POD_PHASE_FAILED},
	};
	const char *phase, *ip;
	json_t *ips, *e;
	size_t i, old;
	int r;

	r = get_str(c, status, "phase", 64, &phase);
	if (r < 0)
		return r;
	for (i = 0; phase && i < ELEMENTSOF(phases); i++)
		if (strcmp(phase, phases[i].name) == 0)
			o->phase = phases[i].phase;
	r = get(c, status, "podIPs", JSON_ARRAY, &ips);
	if (r < 0)
		return r;
	if (ips && json_array_size(ips) > 0) {
		json_array_foreach(ips, i, e) {
			json_t *eo;

			old = push_key(c, "podIPs");
			push_index(c, i);
			r = elem_object(c, e, &eo);
			ip = NULL;
			if (r >= 0 && eo)
				r = get_str(c, eo, "ip", 64, &ip);
			if (r >= 0) {
				size_t old2 = push_key(c, "ip");

				r = add_pod_ip(c, o, ip);
				pop(c, old2);
			}
			pop(c, old);
			if (r < 0)
				return r;
		}
		return 0;
	}
	r = get_str(c, status, "podIP", 64, &ip);
	if (r < 0 || !ip || !*ip)
		return r;
	old = push_key(c, "podIP");
	r = add_pod_ip(c, o, ip);
	pop(c, old);
	return r;
}

static int decode_pod(struct dctx *c, const json_t *obj, struct pod_obj **ret)
{
	_cleanup_(pod_obj_freep) struct pod_obj *o = calloc(1, sizeof(*o));
	json_t *spec, *status, *hn;
	const char *node;
	struct meta m;
	size_t old;
	int r;

	if (!o)
		return oom(c);
	r = decode_meta(c, obj, true, &m);
	if (r < 0)
		return r;
	if (dup_str(c, m.ns, &o->ns) < 0 || dup_str(c, m.name, &o->name) < 0 ||
	    dup_str(c, m.uid, &o->uid) < 0)
		return -ENOMEM;
	old = push_key(c, "metadata");
	r = get_labels(c, m.m, "labels", NULL, &o->labels);
	pop(c, old);
	if (r < 0)
		return r;

	r = get(c, obj, "spec", JSON_OBJECT, &spec);
	if (r < 0)
		return r;
	if (spec) {
		old = push_key(c, "spec");
		r = get_str(c, spec, "nodeName", MODEL_MAX_NAME_LEN, &node);
		if (r >= 0 && node && *node)
			r = dup_str(c, node, &o->node_name);
		if (r >= 0)
			r = get(c, spec, "hostNetwork", JSON_TRUE, &hn);
		if (r >= 0)
			o->host_network = hn && json_is_true(hn);
		if (r >= 0)
			r = decode_container_ports(c, spec, "containers", o);
		if (r >= 0)
			r = decode_container_ports(c, spec, "initContainers", o);
		pop(c, old);
		if (r < 0)
			return r;
	}

	r = get(c, obj, "status", JSON_OBJECT, &status);
	if (r < 0)
		return r;
	if (status) {
		old = push_key(c, "status");
		r = decode_pod_status(c, status, o);
		pop(c, old);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(o);
	return 0;
}

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* port / targetPort: an integer 1-65535, a string of digits, or a port name. */
static int decode_port_value(struct dctx *c, const json_t *obj, const char *key, bool *ret_has,
			     uint16_t *ret_num, const char **ret_name)
{
	json_t *v = json_object_get(obj, key);
	int64_t n;

	*ret_has = false;
	*ret_num = 0;
	*ret_name = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (json_string_length(v) > 64)
			return fail_key(c, key, "too long (%zu bytes)", json_string_length(v));
		if (!all_digits(s)) {
			if (!port_name_valid(s))
				return fail_key(c, key, "invalid port name %s (must be an IANA_SVC_NAME)", Q(s));
			*ret_has = true;
			*ret_name = s;
			return 0;
		}
		if (parse_int64(s, 0, INT64_MAX, &n) < 0)
			n = INT64_MAX;
	} else {
		return fail_key(c, key, "expected integer or string, got %s", decode_json_type(v));
	}
	if (n < 1 || n > 65535)
		return fail_key(c, key, "%lld out of range (1-65535)", (long long)n);
	*ret_has = true;
	*ret_num = (uint16_t)n;
	return 0;
}

static int get_proto(struct dctx *c, const json_t *obj, enum proto *ret)
{
	const char *s;
	int r;

	*ret = PROTO_TCP;
	r = get_str(c, obj, "protocol", 64, &s);
	if (r < 0 || !s)
		return r;
	if (proto_parse(s, ret) < 0)
		return fail_key(c, "protocol", "unsupported protocol %s (must be TCP, UDP or SCTP)", Q(s));
	return 0;
}

static int decode_np_port(struct dctx *c, const json_t *p, struct np_port *ret)
{
	const char *name;
	int64_t end;
	bool has_end;
	int r;

	ret->proto = PROTO_TCP;
	if (!p)
		return 0;
	r = get_proto(c, p, &ret->proto);
	if (r < 0)
		return r;
	r = decode_port_value(c, p, "port", &ret->has_port, &ret->port, &name);
	if (r < 0)
		return r;
	r = get_int(c, p, "endPort", INT64_MIN, INT64_MAX, &has_end, &end);
	if (r < 0)
		return r;
	if (has_end) {
		if (!ret->has_port)
			return fail_key(c, "endPort", "requires port");
		if (name)
			return fail_key(c, "endPort", "may not be used with a named port");
		if (end < 1 || end > 65535)
			return fail_key(c, "endPort", "%lld out of range (1-65535)", (long long)end);
		if (end < ret->port)
			return fail_key(c, "endPort", "%lld must be greater than or equal to port %u",
					(long long)end, ret->port);
	}
	ret->end_port = has_end ? (uint16_t)end : ret->port;
	if (name) {
		ret->end_port = 0;
		ret->name = strdup(name);
		if (!ret->name)
			return oom(c);
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

	r = get_str(c, b, "cidr", 128, &cidr);
	if (r < 0)
		return r;
	if (!cidr)
		return fail_key(c, "cidr", "required");
	if (cidr_parse(cidr, &ret->cidr) < 0)
		return fail_key(c, "cidr", "invalid CIDR %s", Q(cidr));
	r = get(c, b, "except", JSON_ARRAY, &except);
	if (r < 0 || !except || json_array_size(except) == 0)
		return r;
	r = check_count(c, "except", json_array_size(except), MODEL_MAX_EXCEPT);
	if (r < 0)
		return r;
	ret->except = calloc(json_array_size(except), sizeof(*ret->except));
	if (!ret->except)
		return oom(c);
	cidr_fmt(&ret->cidr, outer, sizeof(outer));
	json_array_foreach(except, i, e) {
		struct cidr *x = &ret->except[i];

		old = push_key(c, "except");
		push_index(c, i);
		if (!json_is_string(e))
			r = fail(c, "expected string, got %s", decode_json_type(e));
		else if (json_string_length(e) > 128 || cidr_parse(json_string_value(e), x) < 0)
			r = fail(c, "invalid CIDR %s", Q(json_string_value(e)));
		else if (x->addr.family != ret->cidr.addr.family)
			r = fail(c, "%s is not of the address family of cidr %s", Q(json_string_value(e)),
				 outer);
		else if (!cidr_covers(&ret->cidr, x) || x->plen <= ret->cidr.plen)
			r = fail(c, "%s is not strictly inside cidr %s", Q(json_string_value(e)), outer);
		pop(c, old);
		if (r < 0)
			return r;
		ret->n_except++;
	}
	return 0;
}

static int decode_peer(struct dctx *c, const json_t *p, struct np_peer *ret)
{
	json_t *ipb = NULL, *ps = NULL, *nss = NULL;
	size_t old;
	int r;

	if (p) {
		r = get(c, p, "ipBlock", JSON_OBJECT, &ipb);
		if (r >= 0)
			r = get(c, p, "podSelector", JSON_OBJECT, &ps);
		if (r >= 0)
			r = get(c, p, "namespaceSelector", JSON_OBJECT, &nss);
		if (r < 0)
			return r;
	}
	if (!ipb && !ps && !nss)
		return fail(c, "must specify a peer (ipBlock, podSelector or namespaceSelector)");
	if (ipb && (ps || nss))
		return fail(c, "may not specify both ipBlock and another peer");
	if (ipb) {
		ret->kind = PEER_IPBLOCK;
		old = push_key(c, "ipBlock");
		r = decode_ipblock(c, ipb, ret);
		pop(c, old);
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
	json_t *peers, *ports, *e, *o;
	size_t i, old;
	int r;

	if (!rule)
		return 0;
	r = get(c, rule, peers_key, JSON_ARRAY, &peers);
	if (r >= 0)
		r = get(c, rule, "ports", JSON_ARRAY, &ports);
	if (r < 0)
		return r;
	if (peers && json_array_size(peers) > 0) {
		r = check_count(c, peers_key, json_array_size(peers), MODEL_MAX_PEERS);
		if (r < 0)
			return r;
		ret->peers = calloc(json_array_size(peers), sizeof(*ret->peers));
		if (!ret->peers)
			return oom(c);
		ret->n_peers = json_array_size(peers);
		json_array_foreach(peers, i, e) {
			old = push_key(c, peers_key);
			push_index(c, i);
			r = elem_object(c, e, &o);
			if (r >= 0)
				r = decode_peer(c, o, &ret->peers[i]);
			pop(c, old);
			if (r < 0)
				return r;
		}
	}
	if (ports && json_array_size(ports) > 0) {
		r = check_count(c, "ports", json_array_size(ports), MODEL_MAX_PORTS);
		if (r < 0)
			return r;
		ret->ports = calloc(json_array_size(ports), sizeof(*ret->ports));
		if (!ret->ports)
			return oom(c);
		ret->n_ports = json_array_size(ports);
		json_array_foreach(ports, i, e) {
			old = push_key(c, "ports");
			push_index(c, i);
			r = elem_object(c, e, &o);
			if (r >= 0)
				r = decode_np_port(c, o, &ret->ports[i]);
			pop(c, old);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int decode_rules(struct dctx *c, const json_t *spec, const char *key, const char *peers_key,
			struct np_rule **ret, size_t *ret_n)
{
	json_t *rules, *e, *o;
	size_t i, old;
	int r;

	r = get(c, spec, key, JSON_ARRAY, &rules);
	if (r < 0 || !rules || json_array_size(rules) == 0)
		return r;
	r = check_count(c, key, json_array_size(rules), MODEL_MAX_RULES);
	if (r < 0)
		return r;
	*ret = calloc(json_array_size(rules), sizeof(**ret));
	if (!*ret)
		return oom(c);
	*ret_n = json_array_size(rules);
	json_array_foreach(rules, i, e) {
		old = push_key(c, key);
		push_index(c, i);
		r = elem_object(c, e, &o);
		if (r >= 0)
			r = decode_rule(c, o, peers_key, &(*ret)[i]);
		pop(c, old);
		if (r < 0)
			return r;
	}
	return 0;
}

static int decode_policy_types(struct dctx *c, const json_t *spec, struct netpol *o)
{
	json_t *types, *t;
	size_t i, old;

	if (get(c, spec, "policyTypes", JSON_ARRAY, &types) < 0)
		return -EINVAL;
	if (!types || json_array_size(types) == 0) {
		/* SetDefaults_NetworkPolicy */
		o->type_ingress = true;
		o->type_egress = o->n_egress > 0;
		return 0;
	}
	json_array_foreach(types, i, t) {
		int r = 0;

		old = push_key(c, "policyTypes");
		push_index(c, i);
		if (!json_is_string(t))
			r = fail(c, "expected string, got %s", decode_json_type(t));
		else if (strcmp(json_string_value(t), "Ingress") == 0)
			o->type_ingress = true;
		else if (strcmp(json_string_value(t), "Egress") == 0)
			o->type_egress = true;
		else
			r = fail(c, "unsupported policy type %s (must be Ingress or Egress)",
				 Q(json_string_value(t)));
		pop(c, old);
		if (r < 0)
			return r;
	}
	return 0;
}

static int decode_netpol(struct dctx *c, const json_t *obj, struct netpol **ret)
{
	_cleanup_(netpol_freep) struct netpol *o = calloc(1, sizeof(*o));
	json_t *ann, *spec, *ps, *mode;
	struct meta m;
	size_t old;
	int r;

	if (!o)
		return oom(c);
	r = decode_meta(c, obj, true, &m);
	if (r < 0)
		return r;
	o->generation = m.generation;
	if (dup_str(c, m.ns, &o->ns) < 0 || dup_str(c, m.name, &o->name) < 0 ||
	    dup_str(c, m.uid, &o->uid) < 0)
		return -ENOMEM;

	old = push_key(c, "metadata");
	r = get(c, m.m, "annotations", JSON_OBJECT, &ann);
	mode = ann ? json_object_get(ann, "netpold.io/mode") : NULL;
	if (r >= 0 && mode) {
		push_key(c, "annotations[\"netpold.io/mode\"]");
		if (!json_is_string(mode))
			r = fail(c, "expected string, got %s", decode_json_type(mode));
		else if (strcmp(json_string_value(mode), "audit") == 0)
			o->mode = NP_MODE_AUDIT;
		else if (strcmp(json_string_value(mode), "enforce") == 0)
			o->mode = NP_MODE_ENFORCE;
		else
			r = fail(c, "unsupported mode %s (must be audit or enforce)",
				 Q(json_string_value(mode)));
	}
	pop(c, old);
	if (r < 0)
		return r;

	r = get(c, obj, "spec", JSON_OBJECT, &spec);
	if (r < 0)
		return r;
	/* The API requires spec; an absent one reads as {} (json_object_get(NULL) is NULL). */
	old = push_key(c, "spec");
	r = get(c, spec, "podSelector", JSON_OBJECT, &ps);
	if (r >= 0 && ps) {
		size_t old2 = push_key(c, "podSelector");

		r = decode_selector(c, ps, &o->pod_selector);
		pop(c, old2);
	}
	if (r >= 0)
		r = decode_rules(c, spec, "ingress", "from", &o->ingress, &o->n_ingress);
	if (r >= 0)
		r = decode_rules(c, spec, "egress", "to", &o->egress, &o->n_egress);
	if (r >= 0)
		r = decode_policy_types(c, spec, o);
	pop(c, old);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(o);
	return 0;
}

static int decode_service(struct dctx *c, const json_t *obj, struct service_obj **ret)
{
	_cleanup_(service_obj_freep) struct service_obj *o = calloc(1, sizeof(*o));
	json_t *spec, *ports, *e, *po;
	struct meta m;
	size_t i, old;
	int r;

	if (!o)
		return oom(c);
	r = decode_meta(c, obj, true, &m);
	if (r < 0)
		return r;
	if (dup_str(c, m.ns, &o->ns) < 0 || dup_str(c, m.name, &o->name) < 0)
		return -ENOMEM;
	r = get(c, obj, "spec", JSON_OBJECT, &spec);
	if (r < 0 || !spec)
		goto done;
	old = push_key(c, "spec");
	r = get_labels(c, spec, "selector", &o->has_selector, &o->selector);
	/* An empty selector is dropped by the API round trip: no selector. */
	if (o->selector.n == 0)
		o->has_selector = false;
	if (r >= 0)
		r = get(c, spec, "ports", JSON_ARRAY, &ports);
	if (r >= 0 && ports && json_array_size(ports) > 0) {
		r = check_count(c, "ports", json_array_size(ports), MODEL_MAX_SERVICE_PORTS);
		if (r >= 0) {
			o->ports = calloc(json_array_size(ports), sizeof(*o->ports));
			if (!o->ports)
				r = oom(c);
			else
				o->n_ports = json_array_size(ports);
		}
		if (r >= 0)
			json_array_foreach(ports, i, e) {
				struct service_port *sp = &o->ports[i];
				const char *name = NULL, *tname = NULL;
				bool has = false, thas = false;
				uint16_t tport = 0;
				int64_t num = 0;
				size_t old2 = push_key(c, "ports");

				push_index(c, i);
				r = elem_object(c, e, &po);
				if (r >= 0 && !po)
					r = fail(c, "port: required");
				if (r >= 0)
					r = get_str(c, po, "name", MODEL_MAX_NAME_LEN, &name);
				if (r >= 0)
					r = get_proto(c, po, &sp->proto);
				if (r >= 0)
					r = get_int(c, po, "port", 1, 65535, &has, &num);
				if (r >= 0 && !has)
					r = fail_key(c, "port", "required");
				if (r >= 0 && json_is_integer(json_object_get(po, "targetPort")) &&
				    json_integer_value(json_object_get(po, "targetPort")) == 0)
					thas = false; /* 0 means "same as port" */
				else if (r >= 0)
					r = decode_port_value(c, po, "targetPort", &thas, &tport, &tname);
				pop(c, old2);
				if (r < 0)
					break;
				sp->port = (uint16_t)num;
				sp->target_port = thas && !tname ? tport : (tname ? 0 : sp->port);
				if (dup_str(c, name && *name ? name : NULL, &sp->name) < 0 ||
				    dup_str(c, tname, &sp->target_name) < 0) {
					r = -ENOMEM;
					break;
				}
			}
	}
	pop(c, old);
done:
	if (r < 0)
		return r;
	*ret = TAKE_PTR(o);
	return 0;
}

int decode_object_tree(const json_t *obj, enum obj_kind kind, struct k8s_object *ret, char *err,
		       size_t errlen)
{
	struct dctx c = {.err = err, .errlen = errlen};
	struct k8s_object o = {.kind = kind};
	int r = -EINVAL;

	if (errlen)
		err[0] = 0;
	if (!json_is_object(obj))
		return fail(&c, "expected object, got %s", decode_json_type(obj));
	switch (kind) {
	case OBJ_NAMESPACE:
		r = decode_namespace(&c, obj, &o.ns);
		break;
	case OBJ_POD:
		r = decode_pod(&c, obj, &o.pod);
		break;
	case OBJ_NETWORK_POLICY:
		r = decode_netpol(&c, obj, &o.pol);
		break;
	case OBJ_SERVICE:
		r = decode_service(&c, obj, &o.svc);
		break;
	}
	if (r < 0) {
		if (r == -ENOMEM)
			oom(&c);
		return r;
	}
	*ret = o;
	return 0;
}
