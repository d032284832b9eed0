/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of the manifest decoder: JSON and YAML front ends, Lists, every
 * rejection (with the path it must name and the siblings it must spare),
 * limits, duplicate keys, broken encodings, watch events and list responses.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "decode.h"

struct diag_copy {
	unsigned line;
	char *kind, *ns, *name, *message;
};

struct collect {
	struct k8s_object *objs;
	size_t n, cap;
	struct diag_copy *errs;
	size_t n_err, cap_err;
};

static void on_object(void *ud, struct k8s_object *o)
{
	struct collect *c = ud;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->objs = realloc(c->objs, c->cap * sizeof(*c->objs));
		ck_assert_ptr_nonnull(c->objs);
	}
	c->objs[c->n++] = *o;
}

static void on_error(void *ud, const struct decode_diag *d)
{
	struct collect *c = ud;

	ck_assert_ptr_nonnull(d->message);
	ck_assert_str_eq(d->source, "test-input");
	if (c->n_err == c->cap_err) {
		c->cap_err = c->cap_err ? c->cap_err * 2 : 16;
		c->errs = realloc(c->errs, c->cap_err * sizeof(*c->errs));
		ck_assert_ptr_nonnull(c->errs);
	}
	c->errs[c->n_err++] = (struct diag_copy){
		.line = d->line,
		.kind = strdup_or_null(d->kind),
		.ns = strdup_or_null(d->ns),
		.name = strdup_or_null(d->name),
		.message = strdup(d->message),
	};
}

static void collect_clear(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		k8s_object_clear(&c->objs[i]);
	for (size_t i = 0; i < c->n_err; i++) {
		free(c->errs[i].kind);
		free(c->errs[i].ns);
		free(c->errs[i].name);
		free(c->errs[i].message);
	}
	free(c->objs);
	free(c->errs);
	*c = (struct collect){0};
}

static int decode_buf(struct collect *c, const char *buf, size_t len)
{
	struct decode_sink sink = {.object = on_object, .error = on_error, .userdata = c};

	return decode_manifest(buf, len, "test-input", &sink);
}

static int decode_str(struct collect *c, const char *s)
{
	return decode_buf(c, s, strlen(s));
}

static char *read_fixture(const char *name, size_t *ret_len)
{
	const char *src = getenv("NETPOLD_SOURCE_DIR");
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	if (src) {
		snprintf(path, sizeof(path), "%s/tests/data/decode/%s", src, name);
	} else {
		/* __FILE__ is .../tests/unit/test_decode.c */
		const char *slash = strrchr(__FILE__, '/');
		int dlen = slash ? (int)(slash - __FILE__) : 1;

		snprintf(path, sizeof(path), "%.*s/../data/decode/%s", dlen, slash ? __FILE__ : ".", name);
	}
	f = fopen(path, "rb");
	ck_assert_msg(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*ret_len = (size_t)n;
	return buf;
}

static const struct k8s_object *find_obj(const struct collect *c, enum obj_kind k, const char *name)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct k8s_object *o = &c->objs[i];
		const char *n = NULL;

		if (o->kind != k)
			continue;
		switch (k) {
		case OBJ_NAMESPACE:
			n = o->ns->name;
			break;
		case OBJ_POD:
			n = o->pod->name;
			break;
		case OBJ_NETWORK_POLICY:
			n = o->pol->name;
			break;
		case OBJ_SERVICE:
			n = o->svc->name;
			break;
		}
		if (strcmp(n, name) == 0)
			return o;
	}
	return NULL;
}

static const struct diag_copy *find_err(const struct collect *c, const char *name)
{
	const struct diag_copy *found = NULL;

	for (size_t i = 0; i < c->n_err; i++)
		if (c->errs[i].name && strcmp(c->errs[i].name, name) == 0) {
			ck_assert_msg(!found, "%s reported twice", name);
			found = &c->errs[i];
		}
	return found;
}

static const struct diag_copy *err_containing(const struct collect *c, const char *needle)
{
	for (size_t i = 0; i < c->n_err; i++)
		if (strstr(c->errs[i].message, needle))
			return &c->errs[i];
	return NULL;
}

static void dump_errs(const struct collect *c)
{
	for (size_t i = 0; i < c->n_err; i++)
		fprintf(stderr, "  diag line %u %s %s/%s: %s\n", c->errs[i].line,
			c->errs[i].kind ? c->errs[i].kind : "-", c->errs[i].ns ? c->errs[i].ns : "-",
			c->errs[i].name ? c->errs[i].name : "-", c->errs[i].message);
}

/* A canonical text form of the model, to compare decodes. */
static void dump_selector(FILE *f, const struct selector *s)
{
	fprintf(f, "{");
	for (size_t i = 0; i < s->match_labels.n; i++)
		fprintf(f, "%s=%s,", s->match_labels.v[i].key, s->match_labels.v[i].value);
	for (size_t i = 0; i < s->n_exprs; i++) {
		fprintf(f, "%s op%d(", s->exprs[i].key, s->exprs[i].op);
		for (size_t j = 0; j < s->exprs[i].n_values; j++)
			fprintf(f, "%s,", s->exprs[i].values[j]);
		fprintf(f, "),");
	}
	fprintf(f, "}");
}

static void dump_rules(FILE *f, const char *dir, const struct np_rule *r, size_t n)
{
	char b[64];

	for (size_t i = 0; i < n; i++) {
		fprintf(f, " %s[%zu]:", dir, i);
		for (size_t j = 0; j < r[i].n_peers; j++) {
			const struct np_peer *p = &r[i].peers[j];

			if (p->kind == PEER_IPBLOCK) {
				fprintf(f, " ip %s", cidr_fmt(&p->cidr, b, sizeof(b)));
				for (size_t k = 0; k < p->n_except; k++)
					fprintf(f, " -%s", cidr_fmt(&p->except[k], b, sizeof(b)));
			} else {
				fprintf(f, " pod%d", p->has_pod_selector);
				dump_selector(f, &p->pod_selector);
				fprintf(f, " ns%d", p->has_ns_selector);
				dump_selector(f, &p->ns_selector);
			}
		}
		for (size_t j = 0; j < r[i].n_ports; j++) {
			const struct np_port *p = &r[i].ports[j];

			fprintf(f, " port %s/%d/%s/%u-%u", proto_name(p->proto), p->has_port,
				p->name ? p->name : "-", p->port, p->end_port);
		}
	}
}

static char *dump(const struct collect *c)
{
	char *p = NULL, b[64];
	size_t len = 0;
	FILE *f = open_memstream(&p, &len);

	for (size_t i = 0; i < c->n; i++) {
		const struct k8s_object *o = &c->objs[i];

		fprintf(f, "%s ", obj_kind_name(o->kind));
		switch (o->kind) {
		case OBJ_NAMESPACE:
			fprintf(f, "%s", o->ns->name);
			for (size_t j = 0; j < o->ns->labels.n; j++)
				fprintf(f, " %s=%s", o->ns->labels.v[j].key, o->ns->labels.v[j].value);
			break;
		case OBJ_POD:
			fprintf(f, "%s/%s uid=%s node=%s hn=%d phase=%d", o->pod->ns, o->pod->name,
				o->pod->uid ? o->pod->uid : "-", o->pod->node_name ? o->pod->node_name : "-",
				o->pod->host_network, o->pod->phase);
			for (size_t j = 0; j < o->pod->labels.n; j++)
				fprintf(f, " %s=%s", o->pod->labels.v[j].key, o->pod->labels.v[j].value);
			for (size_t j = 0; j < o->pod->n_ips; j++)
				fprintf(f, " ip=%s", ip_addr_fmt(&o->pod->ips[j], b, sizeof(b)));
			for (size_t j = 0; j < o->pod->n_ports; j++)
				fprintf(f, " cport=%s/%u/%s", o->pod->ports[j].name ? o->pod->ports[j].name : "-",
					o->pod->ports[j].port, proto_name(o->pod->ports[j].proto));
			break;
		case OBJ_NETWORK_POLICY:
			fprintf(f, "%s/%s uid=%s gen=%lld mode=%d in=%d eg=%d sel=", o->pol->ns, o->pol->name,
				o->pol->uid ? o->pol->uid : "-", (long long)o->pol->generation, o->pol->mode,
				o->pol->type_ingress, o->pol->type_egress);
			dump_selector(f, &o->pol->pod_selector);
			dump_rules(f, "in", o->pol->ingress, o->pol->n_ingress);
			dump_rules(f, "eg", o->pol->egress, o->pol->n_egress);
			break;
		case OBJ_SERVICE:
			fprintf(f, "%s/%s sel%d", o->svc->ns, o->svc->name, o->svc->has_selector);
			for (size_t j = 0; j < o->svc->selector.n; j++)
				fprintf(f, " %s=%s", o->svc->selector.v[j].key, o->svc->selector.v[j].value);
			for (size_t j = 0; j < o->svc->n_ports; j++) {
				const struct service_port *sp = &o->svc->ports[j];

				fprintf(f, " port=%s/%s/%u->%s/%u", sp->name ? sp->name : "-", proto_name(sp->proto),
					sp->port, sp->target_name ? sp->target_name : "-", sp->target_port);
			}
			break;
		}
		fprintf(f, "\n");
	}
	fclose(f);
	return p;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- well-formed input ---- */

START_TEST(test_yaml_multi_doc)
{
	struct collect c = {0};
	const struct k8s_object *o;
	const struct netpol *p;
	int r;

	r = decode_str(&c, "# leading comment\n"
			   "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n  labels:\n    team: a\n"
			   "---\n"
			   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n"
			   "---\n"
			   "---\n"
			   "apiVersion: networking.k8s.io/v1\n"
			   "kind: NetworkPolicy\n"
			   "metadata:\n  name: deny\n"
			   "spec:\n  podSelector: {}\n  egress:\n  - {}\n"
			   "...\n");
	dump_errs(&c);
	ck_assert_int_eq(r, 2);
	ck_assert_uint_eq(c.n_err, 0);
	o = find_obj(&c, OBJ_NAMESPACE, "prod");
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(labels_get(&o->ns->labels, "kubernetes.io/metadata.name"), "prod");
	ck_assert_str_eq(labels_get(&o->ns->labels, "team"), "a");
	o = find_obj(&c, OBJ_NETWORK_POLICY, "deny");
	ck_assert_ptr_nonnull(o);
	p = o->pol;
	ck_assert_str_eq(p->ns, "default");
	ck_assert(p->type_ingress && p->type_egress);
	ck_assert_uint_eq(p->n_egress, 1);
	ck_assert_uint_eq(p->egress[0].n_peers, 0);
	ck_assert_uint_eq(p->egress[0].n_ports, 0);
	ck_assert_uint_eq(p->n_ingress, 0);
	collect_clear(&c);
}
END_TEST

START_TEST(test_policy_defaults)
{
	struct collect c = {0};
	const struct netpol *p;

	ck_assert_int_eq(decode_str(&c, "kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\n"
					"metadata: {name: a, namespace: x}\n"
					"spec:\n  ingress: null\n  egress: []\n"),
			 1);
	p = c.objs[0].pol;
	ck_assert(p->type_ingress);
	ck_assert(!p->type_egress);
	ck_assert_uint_eq(p->pod_selector.match_labels.n + p->pod_selector.n_exprs, 0);
	ck_assert_int_eq(p->mode, NP_MODE_ENFORCE);
	collect_clear(&c);

	/* spec absent: read as {} (API would refuse it) */
	ck_assert_int_eq(decode_str(&c, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"b\"}}"), 1);
	ck_assert(c.objs[0].pol->type_ingress && !c.objs[0].pol->type_egress);
	collect_clear(&c);

	/* explicit policyTypes win over the defaults */
	ck_assert_int_eq(decode_str(&c, "kind: NetworkPolicy\nmetadata: {name: c}\n"
					"spec:\n  podSelector: {}\n  policyTypes: [Egress]\n"
					"  ingress: [{}]\n"),
			 1);
	ck_assert(!c.objs[0].pol->type_ingress && c.objs[0].pol->type_egress);
	ck_assert_uint_eq(c.objs[0].pol->n_ingress, 1);
	collect_clear(&c);
}
END_TEST

START_TEST(test_ports_and_selectors)
{
	struct collect c = {0};
	const struct netpol *p;
	const struct selector *s;

	ck_assert_int_eq(decode_str(&c, "kind: NetworkPolicy\nmetadata: {name: a, namespace: x,"
					" annotations: {netpold.io/mode: audit}}\n"
					"spec:\n  podSelector:\n    matchExpressions:\n"
					"    - {key: b, operator: In, values: [z, a, z, m]}\n"
					"    - {key: c, operator: Exists}\n"
					"  ingress:\n  - ports:\n"
					"    - {port: 80}\n"
					"    - {port: \"8080\", protocol: UDP}\n"
					"    - {port: 1000, endPort: 2000, protocol: SCTP}\n"
					"    - {port: web-2}\n"
					"    - {protocol: UDP}\n"
					"    - null\n"),
			 1);
	p = c.objs[0].pol;
	ck_assert_int_eq(p->mode, NP_MODE_AUDIT);
	s = &p->pod_selector;
	ck_assert_uint_eq(s->n_exprs, 2);
	ck_assert_str_eq(s->exprs[0].key, "b");
	ck_assert_int_eq(s->exprs[0].op, SEL_OP_IN);
	ck_assert_uint_eq(s->exprs[0].n_values, 3);
	ck_assert_str_eq(s->exprs[0].values[0], "a");
	ck_assert_str_eq(s->exprs[0].values[1], "m");
	ck_assert_str_eq(s->exprs[0].values[2], "z");
	ck_assert_int_eq(s->exprs[1].op, SEL_OP_EXISTS);
	ck_assert_uint_eq(s->exprs[1].n_values, 0);
	ck_assert_uint_eq(p->ingress[0].n_ports, 6);
	ck_assert(p->ingress[0].ports[0].has_port && p->ingress[0].ports[0].port == 80 &&
		  p->ingress[0].ports[0].end_port == 80 && p->ingress[0].ports[0].proto == PROTO_TCP);
	ck_assert(p->ingress[0].ports[1].port == 8080 && !p->ingress[0].ports[1].name &&
		  p->ingress[0].ports[1].proto == PROTO_UDP);
	ck_assert(p->ingress[0].ports[2].port == 1000 && p->ingress[0].ports[2].end_port == 2000 &&
		  p->ingress[0].ports[2].proto == PROTO_SCTP);
	ck_assert_str_eq(p->ingress[0].ports[3].name, "web-2");
	ck_assert(p->ingress[0].ports[3].has_port);
	ck_assert(!p->ingress[0].ports[4].has_port && p->ingress[0].ports[4].proto == PROTO_UDP);
	ck_assert(!p->ingress[0].ports[5].has_port && p->ingress[0].ports[5].proto == PROTO_TCP);
	collect_clear(&c);
}
END_TEST

START_TEST(test_pod_and_service)
{
	struct collect c = {0};
	const struct pod_obj *pod;
	const struct service_obj *svc;
	char b[64];

	ck_assert_int_eq(decode_str(&c, "kind: Pod\napiVersion: v1\nmetadata: {name: p, uid: u1}\n"
					"spec:\n  hostNetwork: false\n  containers:\n"
					"  - name: a\n    ports: [{containerPort: 80, name: http},"
					" {containerPort: 53, protocol: UDP}]\n  - name: b\n"
					"status:\n  phase: Failed\n  podIP: 10.0.0.1\n"
					"  podIPs: [{ip: 10.0.0.1}, {ip: 10.0.0.2}, {ip: \"fd00::1\"}, {ip: \"fd00::2\"}]\n"
					"---\nkind: Pod\nmetadata: {name: q}\nstatus: {podIP: 10.9.9.9, phase: Weird}\n"
					"---\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {}\n"
					"  ports: [{port: 80}, {port: 81, targetPort: \"8081\"}, {port: 82, targetPort: 0},"
					" {port: 83, targetPort: metrics, protocol: UDP, name: m}]\n"
					"---\nkind: Service\nmetadata: {name: t}\nspec: {type: ExternalName}\n"),
			 4);
	dump_errs(&c);
	pod = find_obj(&c, OBJ_POD, "p")->pod;
	ck_assert_str_eq(pod->ns, "default");
	ck_assert_str_eq(pod->uid, "u1");
	ck_assert_int_eq(pod->phase, POD_PHASE_FAILED);
	ck_assert(!pod_is_peer(pod));
	ck_assert_uint_eq(pod->n_ips, 2);
	ck_assert_str_eq(ip_addr_fmt(pod_ip(pod, AF_INET), b, sizeof(b)), "10.0.0.1");
	ck_assert_str_eq(ip_addr_fmt(pod_ip(pod, AF_INET6), b, sizeof(b)), "fd00::1");
	ck_assert_uint_eq(pod->n_ports, 2);
	ck_assert_str_eq(pod->ports[0].name, "http");
	ck_assert_ptr_null(pod->ports[1].name);
	ck_assert_int_eq(pod->ports[1].proto, PROTO_UDP);
	pod = find_obj(&c, OBJ_POD, "q")->pod;
	ck_assert_int_eq(pod->phase, POD_PHASE_UNKNOWN);
	ck_assert_uint_eq(pod->n_ips, 1);
	ck_assert_ptr_null(pod->node_name);
	svc = find_obj(&c, OBJ_SERVICE, "s")->svc;
	ck_assert(!svc->has_selector);
	ck_assert_uint_eq(svc->n_ports, 4);
	ck_assert_uint_eq(svc->ports[0].target_port, 80);
	ck_assert_uint_eq(svc->ports[1].target_port, 8081);
	ck_assert_uint_eq(svc->ports[2].target_port, 82);
	ck_assert_str_eq(svc->ports[3].target_name, "metrics");
	ck_assert_str_eq(svc->ports[3].name, "m");
	ck_assert_int_eq(svc->ports[3].proto, PROTO_UDP);
	svc = find_obj(&c, OBJ_SERVICE, "t")->svc;
	ck_assert(!svc->has_selector);
	ck_assert_uint_eq(svc->n_ports, 0);
	collect_clear(&c);
}
END_TEST

START_TEST(test_json_list_and_concat)
{
	struct collect c = {0};
	int r;

	r = decode_str(&c, "{\"apiVersion\":\"v1\",\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"5\"},\n"
			   "\"items\":[{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"}},\n"
			   "          {\"metadata\":{\"name\":\"b\",\"namespace\":\"n\"},\"status\":{\"podIP\":\"1.2.3.4\"}}]}\n"
			   "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicyList\",\"items\":[\n"
			   " {\"metadata\":{\"name\":\"p\",\"namespace\":\"n\"},\"spec\":{}}]}"
			   "{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[\n"
			   " {\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"n\"}},\n"
			   " {\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"cm\"}},\n"
			   " {\"kind\":\"Service\",\"apiVersion\":\"serving.knative.dev/v1\",\"metadata\":{\"name\":\"kn\"}},\n"
			   " {\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"nokind\"}},\n"
			   " {\"kind\":\"Pod\",\"metadata\":{\"name\":\"BAD\"}}]}\n");
	dump_errs(&c);
	ck_assert_int_eq(r, 4);
	ck_assert_ptr_nonnull(find_obj(&c, OBJ_POD, "a"));
	ck_assert_ptr_nonnull(find_obj(&c, OBJ_POD, "b"));
	ck_assert_ptr_nonnull(find_obj(&c, OBJ_NETWORK_POLICY, "p"));
	ck_assert_ptr_nonnull(find_obj(&c, OBJ_NAMESPACE, "n"));
	ck_assert_uint_eq(c.n_err, 2);
	ck_assert_str_eq(find_err(&c, "nokind")->message, "kind: required");
	ck_assert_uint_eq(find_err(&c, "nokind")->line, 9);
	ck_assert(strstr(find_err(&c, "BAD")->message, "metadata.name: invalid name \"BAD\""));
	ck_assert_uint_eq(find_err(&c, "BAD")->line, 10);
	ck_assert_str_eq(find_err(&c, "BAD")->kind, "Pod");
	collect_clear(&c);

	/* a top-level array is not a manifest */
	ck_assert_int_eq(decode_str(&c, "[{\"kind\":\"Pod\"}]"), 0);
	ck_assert_uint_eq(c.n_err, 1);
	ck_assert(strstr(c.errs[0].message, "expected object, got array"));
	collect_clear(&c);
}
END_TEST

START_TEST(test_yaml_list_lines)
{
	struct collect c = {0};

	ck_assert_int_eq(decode_str(&c, "apiVersion: v1\nkind: List\nitems:\n"
					"- kind: Pod\n  metadata: {name: a}\n"
					"- kind: Pod\n  metadata: {name: b}\n  spec: {hostNetwork: 1}\n"
					"- kind: Pod\n  metadata: {name: c}\n"
					"metadata: {}\n"
					"---\n"
					"apiVersion: v1\nkind: ServiceList\nitems:\n"
					"- metadata: {name: s1}\n"
					"- metadata: {name: s2}\n  spec: {ports: [{port: x}]}\n"),
			 3);
	ck_assert_uint_eq(c.n_err, 2);
	ck_assert_uint_eq(find_err(&c, "b")->line, 6);
	ck_assert_str_eq(find_err(&c, "b")->message, "spec.hostNetwork: expected boolean, got integer");
	ck_assert_uint_eq(find_err(&c, "s2")->line, 17);
	ck_assert_str_eq(find_err(&c, "s2")->kind, "Service");
	ck_assert_str_eq(find_err(&c, "s2")->ns, "default");
	ck_assert_str_eq(find_err(&c, "s2")->message, "spec.ports[0].port: expected integer, got string");
	ck_assert_ptr_nonnull(find_obj(&c, OBJ_SERVICE, "s1"));
	collect_clear(&c);
}
END_TEST

START_TEST(test_kubectl_dump)
{
	struct collect c = {0};
	const struct pod_obj *pod;
	const struct netpol *p;
	const struct service_obj *svc;
	size_t len;
	char *buf = read_fixture("kubectl-get-all.yaml", &len), b[64];
	int r;

	r = decode_buf(&c, buf, len);
	dump_errs(&c);
	ck_assert_uint_eq(c.n_err, 0);
	ck_assert_int_eq(r, 7);
	ck_assert_str_eq(labels_get(&find_obj(&c, OBJ_NAMESPACE, "prod")->ns->labels, "team"), "payments");
	pod = find_obj(&c, OBJ_POD, "web-7d9c8b6f5d-x2k9p")->pod;
	ck_assert_str_eq(pod->ns, "prod");
	ck_assert_str_eq(pod->node_name, "worker-1");
	ck_assert_str_eq(pod->uid, "0d6a1f7e-77b4-4b8e-a2f1-3c1b8f2e9a01");
	ck_assert_int_eq(pod->phase, POD_PHASE_RUNNING);
	ck_assert_uint_eq(pod->labels.n, 3);
	ck_assert_uint_eq(pod->n_ips, 2);
	ck_assert_str_eq(ip_addr_fmt(&pod->ips[1], b, sizeof(b)), "fd00:10:244:1::11");
	ck_assert_uint_eq(pod->n_ports, 4);
	ck_assert_str_eq(pod->ports[2].name, "dns");
	ck_assert_int_eq(pod->ports[2].proto, PROTO_UDP);
	ck_assert_uint_eq(pod->ports[3].port, 7000);
	ck_assert(pod_is_peer(pod) && pod_is_target(pod));
	pod = find_obj(&c, OBJ_POD, "kube-proxy-abcde")->pod;
	ck_assert(pod->host_network && !pod_is_target(pod));
	ck_assert(!pod_is_peer(find_obj(&c, OBJ_POD, "batch-job-q8z")->pod));
	svc = find_obj(&c, OBJ_SERVICE, "web")->svc;
	ck_assert(svc->has_selector);
	ck_assert_str_eq(svc->ports[0].target_name, "http");
	ck_assert_uint_eq(svc->ports[1].target_port, 9090);
	ck_assert(!find_obj(&c, OBJ_SERVICE, "kubernetes")->svc->has_selector);
	p = find_obj(&c, OBJ_NETWORK_POLICY, "web-allow")->pol;
	ck_assert_int_eq(p->mode, NP_MODE_AUDIT);
	ck_assert_int_eq(p->generation, 4);
	ck_assert(p->type_ingress && p->type_egress);
	ck_assert_uint_eq(p->ingress[0].n_peers, 2);
	ck_assert_uint_eq(p->ingress[0].peers[0].pod_selector.exprs[0].n_values, 2);
	ck_assert_int_eq(p->ingress[0].peers[1].kind, PEER_IPBLOCK);
	ck_assert_str_eq(cidr_fmt(&p->ingress[0].peers[1].except[0], b, sizeof(b)), "192.168.1.0/24");
	ck_assert_str_eq(p->ingress[0].ports[0].name, "http");
	ck_assert_uint_eq(p->ingress[0].ports[1].end_port, 32768);
	ck_assert(p->egress[0].peers[0].has_ns_selector && p->egress[0].peers[0].has_pod_selector);
	collect_clear(&c);
	free(buf);
}
END_TEST

START_TEST(test_json_yaml_equal)
{
	struct collect cy = {0}, cj = {0};
	size_t ly, lj;
	char *y = read_fixture("policies.yaml", &ly), *j = read_fixture("policies.json", &lj);
	char *dy, *dj;

	ck_assert_int_eq(decode_buf(&cy, y, ly), 5);
	ck_assert_int_eq(decode_buf(&cj, j, lj), 5);
	dump_errs(&cy);
	dump_errs(&cj);
	dy = dump(&cy);
	dj = dump(&cj);
	ck_assert_str_eq(dy, dj);
	/* spot checks: masking, v6 except, first IP of each family, numeric string label */
	ck_assert(strstr(dy, " ip 10.0.0.0/8"));
	ck_assert(strstr(dy, " ip 2001:db8::/32 -2001:db8:1::/48 -2001:db8:2::/48"));
	ck_assert(strstr(dy, "ip=fd00::10 ip=10.2.0.10 cport"));
	ck_assert(strstr(dy, "tier=1"));
	ck_assert(strstr(dy, "port TCP/1/-/9000-9100"));
	ck_assert(strstr(dy, "port SCTP/0/-/0-0"));
	ck_assert(strstr(dy, "in=1 eg=1"));
	free(dy);
	free(dj);
	collect_clear(&cy);
	collect_clear(&cj);
	free(y);
	free(j);
}
END_TEST

/* ---- the bad-input catalogue ---- */

static const struct {
	const char *name;
	const char *message;
} catalogue[] = {
	{"bad-cidr", "spec.ingress[0].from[1].ipBlock.cidr: invalid CIDR \"10.0.0/33\""},
	{"bad-ipblock-and-selector", "spec.egress[0].to[0]: may not specify both ipBlock and another peer"},
	{"bad-empty-peer", "spec.ingress[0].from[0]: must specify a peer"},
	{"bad-except-outside", "spec.ingress[0].from[0].ipBlock.except[1]: \"10.1.0.0/24\" is not strictly inside cidr 10.0.0.0/16"},
	{"bad-except-family", "spec.ingress[0].from[0].ipBlock.except[0]: \"fd00::/64\" is not of the address family"},
	{"bad-except-equal", "spec.ingress[0].from[0].ipBlock.except[0]: \"10.0.0.0/16\" is not strictly inside"},
	{"bad-protocol", "spec.ingress[0].ports[0].protocol: unsupported protocol \"ICMP\""},
	{"bad-port-zero", "spec.ingress[0].ports[0].port: 0 out of range (1-65535)"},
	{"bad-port-big", "spec.egress[0].ports[0].port: 70000 out of range (1-65535)"},
	{"bad-port-name", "spec.ingress[0].ports[1].port: invalid port name \"Http\""},
	{"bad-port-name-dash", "spec.ingress[0].ports[0].port: invalid port name \"my--port\""},
	{"bad-port-name-long", "spec.ingress[0].ports[0].port: invalid port name \"abcdefghijklmnop\""},
	{"bad-port-type", "spec.ingress[0].ports[0].port: expected integer or string, got array"},
	{"bad-endport-no-port", "spec.ingress[0].ports[0].endPort: requires port"},
	{"bad-endport-named", "spec.ingress[0].ports[0].endPort: may not be used with a named port"},
	{"bad-endport-below", "spec.ingress[0].ports[0].endPort: 90 must be greater than or equal to port 100"},
	{"bad-endport-big", "spec.ingress[0].ports[0].endPort: 65536 out of range (1-65535)"},
	{"bad-operator", "spec.podSelector.matchExpressions[0].operator: unsupported operator \"Equals\""},
	{"bad-in-empty", "spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].values: must be non-empty for operator In"},
	{"bad-exists-values", "spec.podSelector.matchExpressions[0].values: must be empty for operator Exists"},
	{"bad-label-key", "spec.podSelector.matchLabels: invalid label key \"bad key\""},
	{"bad-label-value", "spec.podSelector.matchLabels: invalid label value \"-web\" for key \"app\""},
	{"bad-label-type", "spec.podSelector.matchLabels: value of \"enabled\": expected string, got boolean"},
	{"bad-policy-type", "spec.policyTypes[1]: unsupported policy type \"Sideways\""},
	{"bad-mode", "metadata.annotations[\"netpold.io/mode\"]: unsupported mode \"yolo\""},
	{"bad-selector-type", "spec.podSelector: expected object, got string"},
	{"bad-api-version", "apiVersion: unsupported \"extensions/v1beta1\" (must be networking.k8s.io/v1)"},
	{"bad-rule-type", "spec.ingress: expected array, got object"},
	{"bad-container-port", "spec.containers[0].ports[0].containerPort: required"},
	{"bad-pod-ip", "status.podIPs[1].ip: invalid IP address \"10.1.0.300\""},
	{"bad-host-network", "spec.hostNetwork: expected boolean, got string"},
	{"Bad_Name", "metadata.name: invalid name \"Bad_Name\""},
	{"bad-svc-port", "spec.ports[0].port: required"},
	{"bad-svc-target", "spec.ports[0].targetPort: invalid port name \"web_port\""},
	{"bad-no-kind", "kind: required"},
	{"bad-ns-labels", "metadata.labels: duplicate key \"dup\""},
};

START_TEST(test_bad_catalogue)
{
	struct collect c = {0};
	size_t len;
	char *buf = read_fixture("bad-objects.yaml", &len);
	int r;

	r = decode_buf(&c, buf, len);
	dump_errs(&c);
	ck_assert_int_eq(r, 3);
	ck_assert_ptr_nonnull(find_obj(&c, OBJ_NAMESPACE, "good-ns"));
	ck_assert_ptr_nonnull(find_obj(&c, OBJ_POD, "good-pod"));
	ck_assert_ptr_nonnull(find_obj(&c, OBJ_SERVICE, "good-svc"));
	for (size_t i = 0; i < ELEMENTSOF(catalogue); i++) {
		const struct diag_copy *d = find_err(&c, catalogue[i].name);

		ck_assert_msg(d, "%s not reported", catalogue[i].name);
		ck_assert_msg(strncmp(d->message, catalogue[i].message, strlen(catalogue[i].message)) == 0,
			      "%s: got '%s', want '%s...'", catalogue[i].name, d->message, catalogue[i].message);
		if (strcmp(catalogue[i].name, "bad-no-kind") != 0)
			ck_assert_ptr_nonnull(d->kind);
		ck_assert_uint_gt(d->line, 0);
	}
	/* the nameless pod: identity is what could be read */
	ck_assert_ptr_nonnull(err_containing(&c, "metadata.name: required"));
	ck_assert_uint_eq(c.n_err, ELEMENTSOF(catalogue) + 1);
	ck_assert_str_eq(find_err(&c, "bad-cidr")->ns, "prod");
	ck_assert_str_eq(find_err(&c, "bad-cidr")->kind, "NetworkPolicy");
	ck_assert_uint_eq(find_err(&c, "bad-cidr")->line, 9);
	ck_assert_ptr_null(find_err(&c, "bad-ns-labels")->ns);
	collect_clear(&c);
	free(buf);
}
END_TEST

START_TEST(test_scalar_typing)
{
	struct collect c = {0};
	const struct pod_obj *pod;

	/* Quoted scalars are strings; plain ones are typed; yes/on stay strings. */
	ck_assert_int_eq(decode_str(&c, "kind: Pod\nmetadata:\n  name: p\n  labels:\n"
					"    a: \"true\"\n    b: '80'\n    c: yes\n    d: \"\"\n    e: |-\n      x1\n"
					"    f: 1.5e3x\n"
					"spec:\n  hostNetwork: True\n  containers:\n  - ports:\n"
					"    - {containerPort: 0x50}\n    - {containerPort: 0o17}\n"
					"    - {containerPort: +443}\n"),
			 1);
	dump_errs(&c);
	pod = c.objs[0].pod;
	ck_assert_str_eq(labels_get(&pod->labels, "a"), "true");
	ck_assert_str_eq(labels_get(&pod->labels, "b"), "80");
	ck_assert_str_eq(labels_get(&pod->labels, "c"), "yes");
	ck_assert_str_eq(labels_get(&pod->labels, "d"), "");
	ck_assert_str_eq(labels_get(&pod->labels, "e"), "x1");
	ck_assert_str_eq(labels_get(&pod->labels, "f"), "1.5e3x");
	ck_assert(pod->host_network);
	ck_assert_uint_eq(pod->ports[0].port, 80);
	ck_assert_uint_eq(pod->ports[1].port, 15);
	ck_assert_uint_eq(pod->ports[2].port, 443);
	collect_clear(&c);

	ck_assert_int_eq(decode_str(&c, "kind: Pod\nmetadata: {name: p, labels: {v: 1.0}}\n"
					"---\nkind: Pod\nmetadata: {name: q, labels: {v: ~}}\n"
					"---\nkind: Pod\nmetadata: {name: r}\nspec: {containers: [{ports: [{containerPort: \"80\"}]}]}\n"),
			 0);
	ck_assert_str_eq(find_err(&c, "p")->message, "metadata.labels: value of \"v\": expected string, got number");
	ck_assert_str_eq(find_err(&c, "q")->message, "metadata.labels: value of \"v\": expected string, got null");
	ck_assert_str_eq(find_err(&c, "r")->message,
			 "spec.containers[0].ports[0].containerPort: expected integer, got string");
	collect_clear(&c);
}
END_TEST

/* ---- parse failures, duplicates, encodings ---- */

START_TEST(test_yaml_parse_error_continues)
{
	struct collect c = {0};
	const struct diag_copy *d;

	ck_assert_int_eq(decode_str(&c, "kind: Namespace\nmetadata: {name: one}\n"
					"---\n"
					"kind: Namespace\nmetadata: {name: two\n"
					"  labels: [\n"
					"---\n"
					"kind: Namespace\nmetadata:\n  name: three\n"
					"---\n"
					"kind: Namespace\n metadata: x\n  bad indent: [\n"
					"---\n"
					"kind: Namespace\nmetadata: {name: four}\n"),
			 3);
	dump_errs(&c);
	ck_assert_uint_eq(c.n_err, 2);
	d = &c.errs[0];
	ck_assert(strstr(d->message, "invalid YAML at line 6 column 9: did not find expected"));
	ck_assert_uint_eq(d->line, 6);
	ck_assert_uint_eq(c.errs[1].line, 13);
	ck_assert_ptr_nonnull(find_obj(&c, OBJ_NAMESPACE, "one"));
	ck_assert_ptr_nonnull(find_obj(&c, OBJ_NAMESPACE, "three"));
	ck_assert_ptr_nonnull(find_obj(&c, OBJ_NAMESPACE, "four"));
	collect_clear(&c);

	/* nothing parses: the buffer as a whole is refused */
	ck_assert_int_eq(decode_str(&c, "kind: [\n"), -EINVAL);
	ck_assert_uint_eq(c.n_err, 1);
	collect_clear(&c);

	/* empty and comment-only input */
	ck_assert_int_eq(decode_str(&c, ""), 0);
	ck_assert_int_eq(decode_str(&c, "# nothing\n---\n...\n---\n"), 0);
	ck_assert_int_eq(decode_str(&c, "\n  \n"), 0);
	ck_assert_uint_eq(c.n_err, 0);
	/* a scalar document */
	ck_assert_int_eq(decode_str(&c, "just a string\n"), 0);
	ck_assert_str_eq(c.errs[0].message, "expected object, got string");
	collect_clear(&c);
}
END_TEST

START_TEST(test_json_parse_errors)
{
	struct collect c = {0};

	/* truncated */
	ck_assert_int_eq(decode_str(&c, "{\"kind\":\"Pod\",\n\"metadata\":{\"name\":\"a\""), -EINVAL);
	ck_assert_uint_eq(c.n_err, 1);
	ck_assert(strstr(c.errs[0].message, "invalid JSON at line 2"));
	collect_clear(&c);

	/* a broken document between two good ones: framing holds */
	ck_assert_int_eq(decode_str(&c, "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"}}\n"
					"{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"b\",}}\n"
					"{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"c\"}}\n"),
			 2);
	ck_assert_uint_eq(c.n_err, 1);
	ck_assert_uint_eq(c.errs[0].line, 2);
	ck_assert(strstr(c.errs[0].message, "invalid JSON at line 2 column"));
	collect_clear(&c);

	/* trailing garbage */
	ck_assert_int_eq(decode_str(&c, "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"}} xyz"), 1);
	ck_assert_uint_eq(c.n_err, 1);
	collect_clear(&c);
}
END_TEST

START_TEST(test_duplicate_keys)
{
	struct collect c = {0};

	/* JSON: the object holding the duplicate is rejected */
	ck_assert_int_eq(decode_str(&c, "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\",\"name\":\"b\"}}"),
			 0);
	ck_assert_uint_eq(c.n_err, 1);
	ck_assert(strstr(c.errs[0].message, "duplicate"));
	collect_clear(&c);

	/* JSON List: only the item with the duplicate */
	ck_assert_int_eq(decode_str(&c, "{\"kind\":\"List\",\"items\":[\n"
					"{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"}},\n"
					"{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"b\",\"labels\":{\"x\":\"1\",\"x\":\"2\"}}},\n"
					"{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"c\"}}]}"),
			 2);
	dump_errs(&c);
	ck_assert_uint_eq(c.n_err, 1);
	ck_assert_str_eq(c.errs[0].name, "b");
	ck_assert_uint_eq(c.errs[0].line, 3);
	ck_assert(strstr(c.errs[0].message, "duplicate"));
	collect_clear(&c);

	/* JSON List with a duplicate in the envelope: all of it */
	ck_assert_int_eq(decode_str(&c, "{\"kind\":\"List\",\"items\":[\n"
					"{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"}}],\"items\":[]}"),
			 0);
	ck_assert_uint_eq(c.n_err, 1);
	collect_clear(&c);

	/* YAML List: only the item */
	ck_assert_int_eq(decode_str(&c, "kind: List\nitems:\n"
					"- kind: Namespace\n  metadata: {name: a}\n"
					"- kind: Namespace\n  metadata:\n    name: b\n    name: c\n"
					"- kind: Namespace\n  metadata: {name: d}\n"),
			 2);
	ck_assert_uint_eq(c.n_err, 1);
	ck_assert_str_eq(c.errs[0].message, "metadata: duplicate key \"name\" at line 8");
	ck_assert_uint_eq(c.errs[0].line, 5);
	collect_clear(&c);

	/* YAML top-level duplicate */
	ck_assert_int_eq(decode_str(&c, "kind: Namespace\nkind: Namespace\nmetadata: {name: a}\n"), 0);
	ck_assert_str_eq(c.errs[0].message, "duplicate key \"kind\" at line 2");
	collect_clear(&c);
}
END_TEST

START_TEST(test_encoding)
{
	struct collect c = {0};
	static const char yaml_bad[] = "kind: Namespace\nmetadata: {name: a}\n"
				       "---\nkind: Namespace\nmetadata: {name: b, labels: {x: \"\xff\xfe\"}}\n"
				       "---\nkind: Namespace\nmetadata: {name: c}\n";
	static const char json_bad[] = "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\xc3\x28\"}}";
	static const char nul[] = "kind: Namespace\nmetadata: {name: a}\n---\nkind: Namespace\0\n";
	static const char bom[] = "\xef\xbb\xbf{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"}}";
	static const char bom_yaml[] = "\xef\xbb\xbfkind: Namespace\nmetadata: {name: a}\n";

	ck_assert_int_eq(decode_buf(&c, yaml_bad, sizeof(yaml_bad) - 1), 2);
	ck_assert_uint_eq(c.n_err, 1);
	ck_assert_str_eq(c.errs[0].message, "invalid YAML at line 5 column 34: invalid UTF-8");
	collect_clear(&c);

	ck_assert_int_eq(decode_buf(&c, json_bad, sizeof(json_bad) - 1), -EINVAL);
	ck_assert(strstr(c.errs[0].message, "invalid JSON at line 1 column 41: invalid UTF-8"));
	collect_clear(&c);

	ck_assert_int_eq(decode_buf(&c, nul, sizeof(nul) - 1), 1);
	ck_assert_uint_eq(c.n_err, 1);
	ck_assert(strstr(c.errs[0].message, "control character"));
	collect_clear(&c);

	ck_assert_int_eq(decode_buf(&c, bom, sizeof(bom) - 1), 1);
	ck_assert_int_eq(decode_buf(&c, bom_yaml, sizeof(bom_yaml) - 1), 1);
	ck_assert_uint_eq(c.n_err, 0);
	collect_clear(&c);

	/* YAML escapes that would smuggle a NUL */
	ck_assert_int_eq(decode_str(&c, "kind: Namespace\nmetadata: {name: a, labels: {x: \"a\\0b\"}}\n"), -EINVAL);
	ck_assert(strstr(c.errs[0].message, "NUL"));
	collect_clear(&c);
}
END_TEST

START_TEST(test_aliases)
{
	struct collect c = {0};

	ck_assert_int_eq(decode_str(&c, "kind: Namespace\nmetadata:\n  name: a\n  labels: &l {x: y}\n"
					"---\nkind: Namespace\nmetadata:\n  name: b\n  labels: *l\n"
					"---\nkind: Namespace\nmetadata: {name: c}\n"),
			 2);
	ck_assert_uint_eq(c.n_err, 1);
	ck_assert(strstr(c.errs[0].message, "aliases are not supported"));
	ck_assert_uint_eq(c.errs[0].line, 9);
	collect_clear(&c);

	/* billion laughs: refused at the first alias, fast */
	ck_assert_int_eq(decode_str(&c, "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
					"b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
					"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
					"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"),
			 -EINVAL);
	collect_clear(&c);
}
END_TEST

/* ---- limits ---- */

static char *repeat(const char *head, const char *unit, size_t n, const char *tail, size_t *ret_len)
{
	size_t lh = strlen(head), lu = strlen(unit), lt = strlen(tail);
	char *b = malloc(lh + lu * n + lt + 1), *p = b;

	ck_assert_ptr_nonnull(b);
	memcpy(p, head, lh);
	p += lh;
	for (size_t i = 0; i < n; i++, p += lu)
		memcpy(p, unit, lu);
	memcpy(p, tail, lt);
	p[lt] = 0;
	*ret_len = lh + lu * n + lt;
	return b;
}

START_TEST(test_deep_nesting)
{
	struct collect c = {0};
	double t0 = now();
	size_t len;
	char *b;

	b = repeat("{\"kind\":\"Pod\",\"x\":", "[", 10000, "", &len);
	ck_assert_int_eq(decode_buf(&c, b, len), -EINVAL);
	ck_assert(strstr(c.errs[0].message, "nesting deeper than 64"));
	free(b);
	collect_clear(&c);

	b = repeat("kind: Pod\nx: ", "[", 10000, "", &len);
	ck_assert_int_eq(decode_buf(&c, b, len), -EINVAL);
	ck_assert(strstr(c.errs[0].message, "nesting deeper than 64"));
	free(b);
	collect_clear(&c);

	b = repeat("kind: Pod\nx:\n", "- ", 10000, "1\n", &len);
	ck_assert_int_eq(decode_buf(&c, b, len), -EINVAL);
	ck_assert(strstr(c.errs[0].message, "nesting deeper than 64"));
	free(b);
	collect_clear(&c);

	/* 64 levels are fine */
	b = repeat("{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"},\"x\":", "[", 63, "", &len);
	b = realloc(b, len + 64);
	memset(b + len, ']', 63);
	b[len + 63] = '}';
	ck_assert_int_eq(decode_buf(&c, b, len + 64), 1);
	free(b);
	collect_clear(&c);
	ck_assert_msg(now() - t0 < 5, "deep nesting took %.1fs", now() - t0);
}
END_TEST

START_TEST(test_size_limits)
{
	struct collect c = {0};
	double t0 = now();
	size_t len;
	char *b;
	int r;

	/* too many labels */
	b = repeat("kind: Namespace\nmetadata:\n  name: a\n  labels:\n", "    k: v\n", 1, "", &len);
	free(b);
	{
		FILE *f;
		char *p = NULL;
		size_t n = 0;

		f = open_memstream(&p, &n);
		fprintf(f, "kind: Namespace\nmetadata:\n  name: a\n  labels:\n");
		for (int i = 0; i < 10000; i++)
			fprintf(f, "    k%d: v\n", i);
		fprintf(f, "---\nkind: Namespace\nmetadata: {name: b}\n");
		fclose(f);
		ck_assert_int_eq(decode_buf(&c, p, n), 1);
		ck_assert_str_eq(c.errs[0].message, "metadata.labels: too many labels (10000, max 256)");
		free(p);
		collect_clear(&c);
	}

	/* a several-MB List decodes, and fast */
	b = repeat("{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"items\":[",
		   "{\"metadata\":{\"name\":\"p\",\"namespace\":\"n\",\"labels\":{\"app\":\"web\",\"tier\":\"x\"}},"
		   "\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":80}]}]},"
		   "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\"}},",
		   30000, "{\"metadata\":{\"name\":\"last\"}}]}", &len);
	ck_assert_uint_gt(len, 5u * 1024 * 1024);
	r = decode_buf(&c, b, len);
	ck_assert_int_eq(r, 30001);
	free(b);
	collect_clear(&c);

	/* the same as YAML */
	b = repeat("kind: PodList\napiVersion: v1\nitems:\n",
		   "- metadata: {name: p, namespace: n, labels: {app: web}}\n  status: {podIP: 10.0.0.1}\n",
		   30000, "", &len);
	ck_assert_int_eq(decode_buf(&c, b, len), 30000);
	free(b);
	collect_clear(&c);

	/* over DECODE_MAX_DOCUMENT_BYTES */
	b = malloc(DECODE_MAX_DOCUMENT_BYTES + 1);
	memset(b, ' ', DECODE_MAX_DOCUMENT_BYTES + 1);
	ck_assert_int_eq(decode_buf(&c, b, DECODE_MAX_DOCUMENT_BYTES + 1), -E2BIG);
	ck_assert_uint_eq(c.n_err, 1);
	free(b);
	collect_clear(&c);

	/* over DECODE_MAX_OBJECTS */
	b = repeat("{\"kind\":\"List\",\"items\":[", "{},", DECODE_MAX_OBJECTS, "{}]}", &len);
	ck_assert_int_eq(decode_buf(&c, b, len), -E2BIG);
	ck_assert_uint_eq(c.n_err, 1);
	ck_assert(strstr(c.errs[0].message, "too many objects"));
	free(b);
	collect_clear(&c);
	b = repeat("", "---\n", DECODE_MAX_OBJECTS + 1, "", &len);
	ck_assert_int_eq(decode_buf(&c, b, len), -E2BIG);
	ck_assert_uint_eq(c.n_err, 1);
	free(b);
	collect_clear(&c);

	/* over DECODE_MAX_NODES in one document */
	b = repeat("{\"kind\":\"Pod\",\"x\":[", "0,", DECODE_MAX_NODES, "0]}", &len);
	ck_assert_int_eq(decode_buf(&c, b, len), -EINVAL);
	ck_assert(strstr(c.errs[0].message, "more than"));
	free(b);
	collect_clear(&c);
	b = repeat("kind: Pod\nx: [", "0,", DECODE_MAX_NODES, "0]\n", &len);
	ck_assert_int_eq(decode_buf(&c, b, len), -EINVAL);
	ck_assert(strstr(c.errs[0].message, "too many values"));
	free(b);
	collect_clear(&c);

	/* long strings where names go */
	b = repeat("kind: Pod\nmetadata: {name: ", "a", 300, "}\n", &len);
	ck_assert_int_eq(decode_buf(&c, b, len), 0);
	ck_assert(strstr(c.errs[0].message, "metadata.name: too long (300 bytes, max 253)"));
	free(b);
	collect_clear(&c);

	/* generous: valgrind runs this too */
	ck_assert_msg(now() - t0 < 300, "limits took %.1fs", now() - t0);
}
END_TEST

START_TEST(test_too_many_rules)
{
	struct collect c = {0};
	size_t len;
	char *b = repeat("kind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress:\n", "  - {}\n",
			 MODEL_MAX_RULES + 1, "", &len);

	ck_assert_int_eq(decode_buf(&c, b, len), 0);
	ck_assert_str_eq(c.errs[0].message, "spec.ingress: too many entries (257, max 256)");
	free(b);
	collect_clear(&c);

	b = repeat("kind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress:\n  - from:\n",
		   "    - ipBlock: {cidr: 10.0.0.0/8}\n", MODEL_MAX_PEERS + 1, "", &len);
	ck_assert_int_eq(decode_buf(&c, b, len), 0);
	ck_assert_str_eq(c.errs[0].message, "spec.ingress[0].from: too many entries (257, max 256)");
	free(b);
	collect_clear(&c);
}
END_TEST

/* ---- single objects, watch events, list responses ---- */

START_TEST(test_object_json)
{
	struct k8s_object o;
	char *err = NULL;
	const char *pod = "{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"status\":{\"podIP\":\"fd00::5\"}}";

	ck_assert_int_eq(decode_object_json(pod, strlen(pod), OBJ_POD, &o, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(o.kind, OBJ_POD);
	ck_assert_str_eq(o.pod->ns, "b");
	ck_assert_uint_eq(o.pod->ips[0].family, AF_INET6);
	k8s_object_clear(&o);

	ck_assert_int_eq(decode_object_json(pod, strlen(pod), OBJ_SERVICE, &o, &err), 0);
	k8s_object_clear(&o);

	ck_assert_int_eq(decode_object_json("{\"kind\":\"Service\"}", 18, OBJ_POD, &o, &err), -EINVAL);
	ck_assert_str_eq(err, "kind: expected Pod, got \"Service\"");
	free(err);
	ck_assert_int_eq(decode_object_json("{\"metadata\":", 12, OBJ_POD, &o, &err), -EINVAL);
	ck_assert(strstr(err, "invalid JSON at line 1"));
	free(err);
	ck_assert_int_eq(decode_object_json("[1]", 3, OBJ_POD, &o, &err), -EINVAL);
	ck_assert_str_eq(err, "expected object, got array");
	free(err);
	ck_assert_int_eq(decode_object_json("{\"metadata\":{}}", 15, OBJ_NAMESPACE, &o, &err), -EINVAL);
	ck_assert_str_eq(err, "metadata.name: required");
	free(err);
}
END_TEST

START_TEST(test_watch_events)
{
	struct watch_event ev;
	const char *s;

	s = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\",\"resourceVersion\":\"77\"},\"status\":{\"podIP\":\"10.0.0.1\"}}}\n";
	ck_assert_int_eq(decode_watch_event(s, strlen(s), OBJ_POD, &ev), 0);
	ck_assert_int_eq(ev.type, WATCH_ADDED);
	ck_assert(ev.obj_valid);
	ck_assert_str_eq(ev.resource_version, "77");
	ck_assert_str_eq(ev.ns, "n");
	ck_assert_str_eq(ev.name, "a");
	ck_assert_str_eq(ev.obj.pod->name, "a");
	watch_event_clear(&ev);

	s = "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"p\",\"namespace\":\"n\","
	    "\"resourceVersion\":\"78\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"from\":[{}]}]}}}";
	ck_assert_int_eq(decode_watch_event(s, strlen(s), OBJ_NETWORK_POLICY, &ev), 0);
	ck_assert_int_eq(ev.type, WATCH_DELETED);
	ck_assert(!ev.obj_valid);
	ck_assert_str_eq(ev.name, "p");
	ck_assert_str_eq(ev.ns, "n");
	ck_assert(strstr(ev.message, "spec.ingress[0].from[0]: must specify a peer"));
	watch_event_clear(&ev);

	s = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"ns1\",\"resourceVersion\":\"79\"}}}";
	ck_assert_int_eq(decode_watch_event(s, strlen(s), OBJ_NAMESPACE, &ev), 0);
	ck_assert(ev.obj_valid);
	ck_assert_ptr_null(ev.ns);
	watch_event_clear(&ev);

	s = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":"
	    "{\"resourceVersion\":\"12345\",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}";
	ck_assert_int_eq(decode_watch_event(s, strlen(s), OBJ_POD, &ev), 0);
	ck_assert_int_eq(ev.type, WATCH_BOOKMARK);
	ck_assert(!ev.obj_valid);
	ck_assert_str_eq(ev.resource_version, "12345");
	ck_assert_ptr_null(ev.name);
	watch_event_clear(&ev);

	s = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	    "\"status\":\"Failure\",\"message\":\"too old resource version: 1 (5)\",\"reason\":\"Expired\","
	    "\"code\":410}}";
	ck_assert_int_eq(decode_watch_event(s, strlen(s), OBJ_POD, &ev), 0);
	ck_assert_int_eq(ev.type, WATCH_ERROR);
	ck_assert_int_eq(ev.status_code, 410);
	ck_assert_str_eq(ev.message, "too old resource version: 1 (5)");
	watch_event_clear(&ev);

	ck_assert_int_eq(decode_watch_event("{\"type\":\"ADDED\"}", 16, OBJ_POD, &ev), -EINVAL);
	ck_assert_int_eq(decode_watch_event("{\"type\":\"EATEN\",\"object\":{}}", 28, OBJ_POD, &ev), -EINVAL);
	ck_assert_int_eq(decode_watch_event("{\"type\":\"ADDED\",\"obj", 20, OBJ_POD, &ev), -EINVAL);
	ck_assert_int_eq(decode_watch_event("", 0, OBJ_POD, &ev), -EINVAL);
	ck_assert_int_eq(decode_watch_event("{\"type\":1,\"object\":{}}", 22, OBJ_POD, &ev), -EINVAL);
	ck_assert_ptr_null(ev.message);
}
END_TEST

START_TEST(test_decode_list)
{
	struct collect c = {0};
	struct decode_sink sink = {.object = on_object, .error = on_error, .userdata = &c};
	char *rv, *cont;
	const char *s;

	s = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"900\","
	    "\"continue\":\"tok\"},\"items\":[{\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"}},"
	    "{\"kind\":\"Service\",\"metadata\":{\"name\":\"b\"}},{\"metadata\":{\"name\":\"c\"}}]}";
	ck_assert_int_eq(decode_list(s, strlen(s), OBJ_POD, "test-input", &sink, &rv, &cont), 2);
	ck_assert_str_eq(rv, "900");
	ck_assert_str_eq(cont, "tok");
	ck_assert_uint_eq(c.n_err, 1);
	ck_assert_str_eq(c.errs[0].message, "kind: expected Pod, got \"Service\"");
	free(rv);
	free(cont);
	collect_clear(&c);

	s = "{\"kind\":\"NamespaceList\",\"metadata\":{\"resourceVersion\":\"1\",\"continue\":\"\"},\"items\":[]}";
	ck_assert_int_eq(decode_list(s, strlen(s), OBJ_NAMESPACE, "test-input", &sink, &rv, &cont), 0);
	ck_assert_str_eq(rv, "1");
	ck_assert_ptr_null(cont);
	free(rv);

	s = "{\"kind\":\"Status\",\"code\":410,\"message\":\"continue expired\"}";
	ck_assert_int_eq(decode_list(s, strlen(s), OBJ_POD, "test-input", &sink, &rv, &cont), -EINVAL);
	ck_assert_ptr_null(rv);
	ck_assert(strstr(c.errs[0].message, "410"));
	collect_clear(&c);

	ck_assert_int_eq(decode_list("{", 1, OBJ_POD, "test-input", &sink, &rv, &cont), -EINVAL);
	ck_assert_uint_eq(c.n_err, 1);
	collect_clear(&c);
}
END_TEST

static Suite *decode_suite(void)
{
	Suite *s = suite_create("decode");
	TCase *tc = tcase_create("decode");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_yaml_multi_doc);
	tcase_add_test(tc, test_policy_defaults);
	tcase_add_test(tc, test_ports_and_selectors);
	tcase_add_test(tc, test_pod_and_service);
	tcase_add_test(tc, test_json_list_and_concat);
	tcase_add_test(tc, test_yaml_list_lines);
	tcase_add_test(tc, test_kubectl_dump);
	tcase_add_test(tc, test_json_yaml_equal);
	tcase_add_test(tc, test_bad_catalogue);
	tcase_add_test(tc, test_scalar_typing);
	tcase_add_test(tc, test_yaml_parse_error_continues);
	tcase_add_test(tc, test_json_parse_errors);
	tcase_add_test(tc, test_duplicate_keys);
	tcase_add_test(tc, test_encoding);
	tcase_add_test(tc, test_aliases);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_size_limits);
	tcase_add_test(tc, test_too_many_rules);
	tcase_add_test(tc, test_object_json);
	tcase_add_test(tc, test_watch_events);
	tcase_add_test(tc, test_decode_list);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(decode_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
