/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * explain and matrix against an engine, rendered with output.c. Shared by
 * netpolctl's offline mode and the status socket so that both answer the
 * same question with the same bytes. A refused question leaves a message
 * in query_out.err instead of printing it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>

#include "model.h"
#include "output.h"
#include "query.h"

static int qerr(struct query_out *o, int r, const char *fmt, ...) _printf_(3, 4);
static int qerr(struct query_out *o, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->err, sizeof(o->err), fmt, ap);
	va_end(ap);
	return r;
}

int query_parse_port(const char *s, uint16_t *ret)
{
	int64_t v;

	if (!s || parse_int64(s, 1, 65535, &v) < 0)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

int query_parse_proto(const char *s, enum proto *ret)
{
	char up[8];
	size_t i;

	if (!s)
		return -EINVAL;
	for (i = 0; s[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)s[i]);
	up[i] = '\0';
	if (s[i] != '\0' || proto_parse(up, ret) < 0)
		return -EINVAL;
	return 0;
}

int query_parse_family(const char *s, int *ret)
{
	if (s && (strcmp(s, "4") == 0 || strcmp(s, "ipv4") == 0))
		*ret = AF_INET;
	else if (s && (strcmp(s, "6") == 0 || strcmp(s, "ipv6") == 0))
		*ret = AF_INET6;
	else
		return -EINVAL;
	return 0;
}

static const char *family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

int query_split_name(const char *s, char *ns, char *name)
{
	const char *slash = strchr(s, '/');
	size_t nl;

	if (!slash || strchr(slash + 1, '/'))
		return -EINVAL;
	nl = (size_t)(slash - s);
	if (nl == 0 || nl > MODEL_MAX_NAME_LEN || slash[1] == '\0' ||
	    strlen(slash + 1) > MODEL_MAX_NAME_LEN)
		return -EINVAL;
	memcpy(ns, s, nl);
	ns[nl] = '\0';
	memcpy(name, slash + 1, strlen(slash + 1) + 1);
	return 0;
}

/* An explain endpoint as given. */
struct ep_arg {
	const char *text;
	const struct pod_obj *pod;     /* NS/POD */
	const struct service_obj *svc; /* svc/NS/NAME */
	bool is_ip;
	struct ip_addr ip;
};

static int parse_endpoint(const struct engine *e, const char *opt, const char *s,
			  bool allow_service, struct ep_arg *ret, struct query_out *o)
{
	char ns[MODEL_MAX_NAME_LEN + 1], name[MODEL_MAX_NAME_LEN + 1];

	*ret = (struct ep_arg){.text = s};
	if (ip_addr_parse(s, &ret->ip) == 0) {
		ret->is_ip = true;
		return 0;
	}
	if (allow_service && strncmp(s, "svc/", 4) == 0) {
		if (query_split_name(s + 4, ns, name) < 0)
			return qerr(o, -EINVAL, "%s: expected svc/NAMESPACE/NAME, got \"%s\"", opt,
				    s);
		ret->svc = engine_service(e, ns, name);
		if (!ret->svc)
			return qerr(o, -ENOENT, "%s: service %s/%s not found", opt, ns, name);
		return 0;
	}
	if (query_split_name(s, ns, name) < 0)
		return qerr(o, -EINVAL,
			    "%s: expected NAMESPACE/POD%s or an IP address, got \"%s\"", opt,
			    allow_service ? ", svc/NAMESPACE/NAME" : "", s);
	ret->pod = engine_pod(e, ns, name);
	if (!ret->pod) {
		if (!engine_namespace(e, ns))
			return qerr(o, -ENOENT, "%s: pod %s/%s not found (no namespace %s either)",
				    opt, ns, name, ns);
		return qerr(o, -ENOENT, "%s: pod %s/%s not found", opt, ns, name);
	}
	return 0;
}

static bool arg_has_family(const struct ep_arg *a, const struct pod_obj *pod, int family)
{
	if (a->is_ip)
		return a->ip.family == family;
	return pod_ip(pod, family) != NULL;
}

/*
 * The family of a src -> dst question: the one asked for, else IPv4 when both
 * sides have it, else IPv6.
 */
static int pick_family(const struct ep_arg *src, const struct ep_arg *dst,
		       const struct pod_obj *dst_pod, const char *dst_text, int want, int *ret,
		       struct query_out *o)
{
	static const int order[] = {AF_INET, AF_INET6};

	for (size_t i = 0; i < ELEMENTSOF(order); i++) {
		int f = order[i];

		if (want && want != f)
			continue;
		if (arg_has_family(src, src->pod, f) && arg_has_family(dst, dst_pod, f)) {
			*ret = f;
			return 0;
		}
	}
	if (want) {
		const char *who = !arg_has_family(src, src->pod, want) ? src->text : dst_text;

		return qerr(o, -EADDRNOTAVAIL, "%s has no %s address", who, family_name(want));
	}
	if (src->pod && src->pod->n_ips == 0)
		return qerr(o, -EADDRNOTAVAIL, "%s has no IP address (pending or not scheduled)",
			    src->text);
	if (dst_pod && dst_pod->n_ips == 0)
		return qerr(o, -EADDRNOTAVAIL, "%s has no IP address (pending or not scheduled)",
			    dst_text);
	return qerr(o, -EADDRNOTAVAIL, "%s and %s have no address family in common", src->text,
		    dst_text);
}

static int make_endpoint(const struct engine *e, const struct ep_arg *a,
			 const struct pod_obj *pod, int family, struct endpoint *ret)
{
	if (a->is_ip) {
		engine_endpoint_from_ip(e, &a->ip, ret);
		return 0;
	}
	return endpoint_from_pod(pod, family, ret);
}

struct backend {
	const struct pod_obj *pod;
	uint16_t target_port;
};

struct backends {
	struct backend *v;
	size_t n;
};

static int collect_backend(void *ud, const struct pod_obj *p, uint16_t target_port)
{
	struct backends *b = ud;
	struct backend *v = reallocarray(b->v, b->n + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	b->v = v;
	b->v[b->n++] = (struct backend){.pod = p, .target_port = target_port};
	return 0;
}

static int explain_service(const struct engine *e, const struct ep_arg *src,
			   const struct ep_arg *dst, const struct query *q, struct query_out *o)
{
	const struct service_obj *svc = dst->svc;
	const struct service_port *sp = NULL;
	_cleanup_free_ struct backend *v = NULL;
	struct backends b = {0};
	FILE *f = o->out;
	struct out_json j;
	size_t n_allowed = 0;
	int r;

	for (size_t i = 0; i < svc->n_ports; i++)
		if (svc->ports[i].port == q->port && svc->ports[i].proto == q->proto)
			sp = &svc->ports[i];
	r = engine_service_backends(e, svc, q->port, q->proto, collect_backend, &b);
	v = b.v;
	if (r == -ENOENT || (!sp && r >= 0))
		return qerr(o, -ENOENT, "service %s/%s has no port %u/%s", svc->ns, svc->name,
			    q->port, proto_name(q->proto));
	if (r < 0)
		return qerr(o, r, "service %s/%s: %s", svc->ns, svc->name, strerror(-r));

	if (q->json) {
		out_json_init(&j, f, true);
		out_json_begin_object(&j, NULL);
		out_json_string(&j, "service", dst->text + 4);
		out_json_int(&j, "service_port", q->port);
		out_json_string(&j, "protocol", proto_name(q->proto));
		out_json_string(&j, "target_port_name", sp->target_name);
		out_json_begin_array(&j, "backends");
	} else {
		fprintf(f, "service %s/%s port %u/%s -> targetPort ", svc->ns, svc->name, q->port,
			proto_name(q->proto));
		if (sp->target_name)
			fprintf(f, "%s (named, resolved per backend)", sp->target_name);
		else
			fprintf(f, "%u", sp->target_port);
		fprintf(f, ": %zu backend%s\n", b.n, b.n == 1 ? "" : "s");
	}

	for (size_t i = 0; i < b.n; i++) {
		struct ep_arg be = {.pod = b.v[i].pod};
		char name[2 * MODEL_MAX_NAME_LEN + 2];
		struct query_out scratch = {0};
		struct endpoint s, d;
		struct explanation x;
		uint16_t port = b.v[i].target_port;
		int family;

		out_fmt_pod(b.v[i].pod, name, sizeof(name));
		be.text = name;
		r = pick_family(src, &be, b.v[i].pod, name, q->family, &family, &scratch);
		if (r >= 0)
			r = make_endpoint(e, src, src->pod, family, &s);
		if (r >= 0)
			r = endpoint_from_pod(b.v[i].pod, family, &d);
		if (r < 0) {
			if (o->warn)
				fprintf(o->warn, "netpolctl: skipping backend %s\n", name);
			continue;
		}
		engine_verdict(e, &s, &d, q->proto, port, &x);
		n_allowed += x.allowed;
		if (q->json) {
			out_json_begin_object(&j, NULL);
			out_json_string(&j, "backend", name);
			out_json_int(&j, "target_port", port);
			out_explain_json(&j, e, &s, &d, q->proto, port, &x);
			out_json_end_object(&j);
		} else {
			fprintf(f, "\nbackend %s, target port %u:\n", name, port);
			out_explain_print(f, e, &s, &d, q->proto, port, &x);
		}
	}
	if (q->json) {
		out_json_end_array(&j);
		out_json_bool(&j, "allowed", b.n > 0 && n_allowed == b.n);
		out_json_int(&j, "backends_allowed", (int64_t)n_allowed);
		out_json_end_object(&j);
		r = out_json_finish(&j);
		if (r < 0)
			return qerr(o, r, "writing JSON: %s", strerror(-r));
	} else {
		fprintf(f, "\n%s: %zu of %zu backend%s allowed\n",
			b.n > 0 && n_allowed == b.n ? "ALLOWED" : "DENIED", n_allowed, b.n,
			b.n == 1 ? "" : "s");
	}
	return b.n > 0 && n_allowed == b.n ? QUERY_ALLOWED : QUERY_DENIED;
}

int query_explain(const struct engine *e, const struct query *q, struct query_out *o)
{
	struct ep_arg src, dst;
	struct endpoint s, d;
	struct explanation x;
	int r, family;

	if (!q->from || !q->to || !q->port)
		return qerr(o, -EINVAL, "explain: from, to and port are required");
	r = parse_endpoint(e, "--from", q->from, false, &src, o);
	if (r >= 0)
		r = parse_endpoint(e, "--to", q->to, true, &dst, o);
	if (r < 0)
		return r;
	if (src.is_ip && q->family && src.ip.family != q->family)
		return qerr(o, -EINVAL, "--from %s is not an %s address", q->from,
			    family_name(q->family));
	if (dst.svc)
		return explain_service(e, &src, &dst, q, o);

	r = pick_family(&src, &dst, dst.pod, q->to, q->family, &family, o);
	if (r < 0)
		return r;
	r = make_endpoint(e, &src, src.pod, family, &s);
	if (r >= 0)
		r = make_endpoint(e, &dst, dst.pod, family, &d);
	if (r < 0)
		return qerr(o, r, "%s", strerror(-r));
	engine_verdict(e, &s, &d, q->proto, q->port, &x);
	if (q->json) {
		struct out_json j;

		out_json_init(&j, o->out, true);
		out_json_begin_object(&j, NULL);
		out_explain_json(&j, e, &s, &d, q->proto, q->port, &x);
		out_json_end_object(&j);
		r = out_json_finish(&j);
		if (r < 0)
			return qerr(o, r, "writing JSON: %s", strerror(-r));
	} else {
		out_explain_print(o->out, e, &s, &d, q->proto, q->port, &x);
	}
	return x.allowed ? QUERY_ALLOWED : QUERY_DENIED;
}

/* ---- matrix ---- */

struct pod_list {
	const struct pod_obj **v;
	size_t n;
	char **namespaces; /* filter; none: all */
	size_t n_namespaces;
	int family;
	FILE *warn;
};

static int collect_pod(void *ud, const struct pod_obj *p)
{
	struct pod_list *l = ud;
	const struct pod_obj **v;
	bool wanted = l->n_namespaces == 0;

	for (size_t i = 0; i < l->n_namespaces; i++)
		if (strcmp(l->namespaces[i], p->ns) == 0)
			wanted = true;
	if (!wanted)
		return 0;
	if (!pod_is_peer(p)) {
		if (l->warn)
			fprintf(l->warn, "netpolctl: skipping %s/%s: not running or no IP\n",
				p->ns, p->name);
		return 0;
	}
	if (!pod_ip(p, l->family)) {
		if (l->warn)
			fprintf(l->warn, "netpolctl: skipping %s/%s: no %s address\n", p->ns,
				p->name, family_name(l->family));
		return 0;
	}
	v = reallocarray(l->v, l->n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	l->v[l->n++] = p;
	return 0;
}

static int parse_namespaces(const char *s, struct pod_list *l, struct query_out *o)
{
	const char *p = s;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char **v;

		if (n == 0 || n > MODEL_MAX_NAME_LEN || l->n_namespaces >= QUERY_MAX_NAMESPACES)
			return qerr(o, -EINVAL,
				    "--namespaces: expected comma-separated names, got \"%s\"", s);
		v = reallocarray(l->namespaces, l->n_namespaces + 1, sizeof(*v));
		if (!v)
			return qerr(o, -ENOMEM, "out of memory");
		l->namespaces = v;
		v[l->n_namespaces] = strndup(p, n);
		if (!v[l->n_namespaces])
			return qerr(o, -ENOMEM, "out of memory");
		l->n_namespaces++;
		p += n;
		if (*p == ',')
			p++;
	}
	if (l->n_namespaces == 0)
		return qerr(o, -EINVAL, "--namespaces: empty list");
	return 0;
}

static void pod_list_clear(struct pod_list *l)
{
	for (size_t i = 0; i < l->n_namespaces; i++)
		free(l->namespaces[i]);
	free(l->namespaces);
	free(l->v);
}

static int print_matrix(const struct engine *e, const struct pod_list *l, const struct query *q,
			FILE *f)
{
	_cleanup_(out_table_freep) struct out_table *t = NULL;
	char name[2 * MODEL_MAX_NAME_LEN + 2];
	struct out_json j;
	int r;

	if (q->json) {
		out_json_init(&j, f, true);
		out_json_begin_object(&j, NULL);
	} else {
		r = out_table_new(l->n + 1, &t);
		if (r < 0)
			return r;
		r = out_table_add(t, "-");
		for (size_t i = 0; r >= 0 && i < l->n; i++)
			r = out_table_addf(t, "%s/%s", l->v[i]->ns, l->v[i]->name);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct endpoint s;

		out_fmt_pod(l->v[i], name, sizeof(name));
		if (endpoint_from_pod(l->v[i], l->family, &s) < 0)
			return -EADDRNOTAVAIL;
		if (q->json)
			out_json_begin_object(&j, name);
		else if ((r = out_table_add(t, name)) < 0)
			return r;
		for (size_t k = 0; k < l->n; k++) {
			struct endpoint d;
			bool ok;

			if (endpoint_from_pod(l->v[k], l->family, &d) < 0)
				return -EADDRNOTAVAIL;
			ok = engine_verdict(e, &s, &d, q->proto, q->port, NULL);
			if (q->json) {
				out_fmt_pod(l->v[k], name, sizeof(name));
				out_json_bool(&j, name, ok);
			} else if ((r = out_table_add(t, ok ? "." : "X")) < 0) {
				return r;
			}
		}
		if (q->json)
			out_json_end_object(&j);
	}
	if (q->json) {
		out_json_end_object(&j);
		return out_json_finish(&j);
	}
	return out_table_print(t, f, 2);
}

int query_matrix(const struct engine *e, const struct query *q, struct query_out *o)
{
	struct pod_list l = {.family = q->family ? q->family : AF_INET, .warn = o->warn};
	int r = 0;

	if (!q->port)
		return qerr(o, -EINVAL, "matrix: --port is required");
	if (q->namespaces)
		r = parse_namespaces(q->namespaces, &l, o);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < l.n_namespaces; i++)
		if (!engine_namespace(e, l.namespaces[i]) && o->warn)
			fprintf(o->warn, "netpolctl: warning: namespace %s is not defined\n",
				l.namespaces[i]);
	r = engine_foreach_pod(e, collect_pod, &l);
	if (r < 0) {
		r = qerr(o, r, "%s", strerror(-r));
		goto out;
	}
	if (l.n == 0) {
		r = qerr(o, -ENOENT, "matrix: no pods with an %s address%s",
			 family_name(l.family),
			 l.n_namespaces ? " in the selected namespaces" : "");
		goto out;
	}
	r = print_matrix(e, &l, q, o->out);
	if (r < 0)
		r = qerr(o, r, "matrix: %s", strerror(-r));
out:
	pod_list_clear(&l);
	return r;
}
