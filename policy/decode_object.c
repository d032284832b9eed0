/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Validation of one Kubernetes object held as a jansson tree, and its
 * conversion into the typed model: common metadata, Namespaces, Pods and
 * Services here, NetworkPolicies in decode_netpol.c. Shared by the JSON and
 * YAML front ends; every rejection names the JSON path of the field at fault.
 */
#include <stdio.h>

#include "decode_internal.h"

static int read_meta(struct dctx *c, const json_t *obj, bool namespaced, struct decode_meta *ret)
{
	size_t old;
	bool has;
	int r;

	*ret = (struct decode_meta){0};
	r = dctx_get(c, obj, "metadata", JSON_OBJECT, &ret->m);
	if (r < 0)
		return r;
	if (!ret->m)
		return dctx_fail(c, "metadata.name: required");
	old = dctx_push_key(c, "metadata");
	r = dctx_get_str(c, ret->m, "name", MODEL_MAX_NAME_LEN, &ret->name);
	if (r >= 0 && (!ret->name || !*ret->name))
		r = dctx_fail_key(c, "name", "required");
	if (r >= 0 && !(namespaced ? dns_subdomain_valid(ret->name) : dns_label_valid(ret->name)))
		r = dctx_fail_key(c, "name", "invalid name %s (must be a lowercase RFC 1123 %s)",
				  Q(ret->name), namespaced ? "subdomain" : "label");
	if (r >= 0 && namespaced) {
		r = dctx_get_str(c, ret->m, "namespace", MODEL_MAX_NAME_LEN, &ret->ns);
		if (r >= 0 && (!ret->ns || !*ret->ns))
			ret->ns = "default";
		else if (r >= 0 && !dns_label_valid(ret->ns))
			r = dctx_fail_key(c, "namespace",
					  "invalid namespace %s (must be a lowercase RFC 1123 label)",
					  Q(ret->ns));
	}
	if (r >= 0)
		r = dctx_get_str(c, ret->m, "uid", MODEL_MAX_NAME_LEN, &ret->uid);
	if (r >= 0)
		r = dctx_get_int(c, ret->m, "generation", 0, INT64_MAX, &has, &ret->generation);
	dctx_pop(c, old);
	return r;
}

int decode_meta(struct dctx *c, const json_t *obj, struct decode_meta *ret, char **ret_ns,
		char **ret_name, char **ret_uid)
{
	int r;

	r = read_meta(c, obj, ret_ns != NULL, ret);
	if (r < 0)
		return r;
	if ((ret_ns && dctx_dup_str(c, ret->ns, ret_ns) < 0) ||
	    dctx_dup_str(c, ret->name, ret_name) < 0 ||
	    (ret_uid && dctx_dup_str(c, ret->uid, ret_uid) < 0))
		return -ENOMEM;
	return 0;
}

/* metadata.labels */
static int decode_meta_labels(struct dctx *c, const struct decode_meta *m, struct labels *ret)
{
	size_t old = dctx_push_key(c, "metadata");
	int r;

	r = dctx_get_labels(c, m->m, "labels", NULL, ret);
	dctx_pop(c, old);
	return r;
}

static int decode_namespace(struct dctx *c, const json_t *obj, struct namespace_obj **ret)
{
	_cleanup_(namespace_obj_freep) struct namespace_obj *o = calloc(1, sizeof(*o));
	struct decode_meta m;
	int r;

	if (!o)
		return dctx_oom(c);
	r = decode_meta(c, obj, &m, NULL, &o->name, NULL);
	if (r < 0)
		return r;
	r = decode_meta_labels(c, &m, &o->labels);
	if (r < 0)
		return r;
	if (labels_set(&o->labels, "kubernetes.io/metadata.name", m.name) < 0)
		return dctx_oom(c);
	*ret = TAKE_PTR(o);
	return 0;
}

/* One entry of a container's ports, appended to the pod's (room was made for it). */
static int decode_container_port(struct dctx *c, const json_t *po, void *pod)
{
	struct pod_obj *o = pod;
	struct container_port *cp = &o->ports[o->n_ports];
	const char *name = NULL;
	int64_t num = 0;
	bool has = false;
	int r = 0;

	if (po)
		r = dctx_get_int(c, po, "containerPort", 1, 65535, &has, &num);
	if (r >= 0 && !has)
		r = dctx_fail_key(c, "containerPort", "required");
	if (r >= 0)
		r = dctx_get_str(c, po, "name", 64, &name);
	if (r >= 0 && name && !port_name_valid(name))
		r = dctx_fail_key(c, "name", "invalid port name %s (must be an IANA_SVC_NAME)", Q(name));
	*cp = (struct container_port){.port = (uint16_t)num, .proto = PROTO_TCP};
	if (r >= 0)
		r = dctx_get_proto(c, po, &cp->proto);
	if (r >= 0)
		r = dctx_dup_str(c, name, &cp->name);
	if (r >= 0)
		o->n_ports++;
	return r;
}

static int decode_container(struct dctx *c, const json_t *co, void *pod)
{
	struct pod_obj *o = pod;
	struct container_port *v;
	json_t *ports;
	size_t n;
	int r;

	if (!co)
		return 0;
	r = dctx_get(c, co, "ports", JSON_ARRAY, &ports);
	n = json_array_size(ports);
	if (r < 0 || n == 0)
		return r;
	if (o->n_ports + n > MODEL_MAX_CONTAINER_PORTS)
		return dctx_fail(c, "too many container ports in the pod (max %d)",
				 MODEL_MAX_CONTAINER_PORTS);
	v = realloc(o->ports, (o->n_ports + n) * sizeof(*v));
	if (!v)
		return dctx_oom(c);
	o->ports = v;
	return dctx_each(c, "ports", ports, o, 0, decode_container_port);
}

/* containers[].ports[] or initContainers[].ports[], appended to o->ports. */
static int decode_container_ports(struct dctx *c, const json_t *spec, const char *key,
				  struct pod_obj *o)
{
	json_t *ctrs;
	int r;

	r = dctx_get(c, spec, key, JSON_ARRAY, &ctrs);
	if (r < 0 || !ctrs)
		return r;
	return dctx_each(c, key, ctrs, o, 0, decode_container);
}

/* An address at field key of the current path; one per family, the first wins. */
static int add_pod_ip(struct dctx *c, struct pod_obj *o, const char *key, const char *s)
{
	struct ip_addr ip;
	size_t old;
	int r = 0;

	old = dctx_push_key(c, key);
	if (!s || ip_addr_parse(s, &ip) < 0)
		r = dctx_fail(c, "invalid IP address %s", Q(s ? s : ""));
	else if (!pod_ip(o, ip.family))
		o->ips[o->n_ips++] = ip;
	dctx_pop(c, old);
	return r;
}

static int decode_pod_ip(struct dctx *c, const json_t *e, void *pod)
{
	const char *ip = NULL;
	int r = 0;

	if (e)
		r = dctx_get_str(c, e, "ip", 64, &ip);
	if (r < 0)
		return r;
	return add_pod_ip(c, pod, "ip", ip);
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
	json_t *ips;
	int r;

	r = dctx_get_str(c, status, "phase", 64, &phase);
	if (r < 0)
		return r;
	for (size_t i = 0; phase && i < ELEMENTSOF(phases); i++)
		if (strcmp(phase, phases[i].name) == 0)
			o->phase = phases[i].phase;
	r = dctx_get(c, status, "podIPs", JSON_ARRAY, &ips);
	if (r < 0)
		return r;
	if (json_array_size(ips) > 0)
		return dctx_each(c, "podIPs", ips, o, 0, decode_pod_ip);
	r = dctx_get_str(c, status, "podIP", 64, &ip);
	if (r < 0 || !ip || !*ip)
		return r;
	return add_pod_ip(c, o, "podIP", ip);
}

static int decode_pod(struct dctx *c, const json_t *obj, struct pod_obj **ret)
{
	_cleanup_(pod_obj_freep) struct pod_obj *o = calloc(1, sizeof(*o));
	json_t *spec, *status, *hn;
	struct decode_meta m;
	const char *node;
	size_t old;
	int r;

	if (!o)
		return dctx_oom(c);
	r = decode_meta(c, obj, &m, &o->ns, &o->name, &o->uid);
	if (r < 0)
		return r;
	r = decode_meta_labels(c, &m, &o->labels);
	if (r < 0)
		return r;

	r = dctx_get(c, obj, "spec", JSON_OBJECT, &spec);
	if (r < 0)
		return r;
	if (spec) {
		old = dctx_push_key(c, "spec");
		r = dctx_get_str(c, spec, "nodeName", MODEL_MAX_NAME_LEN, &node);
		if (r >= 0 && node && *node)
			r = dctx_dup_str(c, node, &o->node_name);
		if (r >= 0)
			r = dctx_get(c, spec, "hostNetwork", JSON_TRUE, &hn);
		if (r >= 0)
			o->host_network = hn && json_is_true(hn);
		if (r >= 0)
			r = decode_container_ports(c, spec, "containers", o);
		if (r >= 0)
			r = decode_container_ports(c, spec, "initContainers", o);
		dctx_pop(c, old);
		if (r < 0)
			return r;
	}

	r = dctx_get(c, obj, "status", JSON_OBJECT, &status);
	if (r < 0)
		return r;
	if (status) {
		old = dctx_push_key(c, "status");
		r = decode_pod_status(c, status, o);
		dctx_pop(c, old);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(o);
	return 0;
}

static int decode_service_port(struct dctx *c, const json_t *po, void *item)
{
	struct service_port *sp = item;
	const char *name = NULL, *tname = NULL;
	bool has = false, thas = false;
	uint16_t tport = 0;
	int64_t num = 0;
	int r;

	if (!po)
		return dctx_fail(c, "port: required");
	r = dctx_get_str(c, po, "name", MODEL_MAX_NAME_LEN, &name);
	if (r >= 0)
		r = dctx_get_proto(c, po, &sp->proto);
	if (r >= 0)
		r = dctx_get_int(c, po, "port", 1, 65535, &has, &num);
	if (r >= 0 && !has)
		r = dctx_fail_key(c, "port", "required");
	if (r >= 0 && json_is_integer(json_object_get(po, "targetPort")) &&
	    json_integer_value(json_object_get(po, "targetPort")) == 0)
		thas = false; /* 0 means "same as port" */
	else if (r >= 0)
		r = dctx_get_port(c, po, "targetPort", &thas, &tport, &tname);
	if (r < 0)
		return r;
	sp->port = (uint16_t)num;
	sp->target_port = thas && !tname ? tport : (tname ? 0 : sp->port);
	if (dctx_dup_str(c, name && *name ? name : NULL, &sp->name) < 0 ||
	    dctx_dup_str(c, tname, &sp->target_name) < 0)
		return -ENOMEM;
	return 0;
}

static int decode_service(struct dctx *c, const json_t *obj, struct service_obj **ret)
{
	_cleanup_(service_obj_freep) struct service_obj *o = calloc(1, sizeof(*o));
	struct decode_meta m;
	json_t *spec, *ports;
	void *v = NULL;
	size_t old;
	int r;

	if (!o)
		return dctx_oom(c);
	r = decode_meta(c, obj, &m, &o->ns, &o->name, NULL);
	if (r < 0)
		return r;
	r = dctx_get(c, obj, "spec", JSON_OBJECT, &spec);
	if (r < 0 || !spec)
		goto done;
	old = dctx_push_key(c, "spec");
	r = dctx_get_labels(c, spec, "selector", &o->has_selector, &o->selector);
	/* An empty selector is dropped by the API round trip: no selector. */
	if (o->selector.n == 0)
		o->has_selector = false;
	if (r >= 0)
		r = dctx_get(c, spec, "ports", JSON_ARRAY, &ports);
	if (r >= 0) {
		r = dctx_list(c, "ports", ports, MODEL_MAX_SERVICE_PORTS, sizeof(*o->ports),
			      decode_service_port, &v, &o->n_ports);
		o->ports = v;
	}
	dctx_pop(c, old);
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
		return dctx_fail(&c, "expected object, got %s", decode_json_type(obj));
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
			dctx_oom(&c);
		return r;
	}
	*ret = o;
	return 0;
}
