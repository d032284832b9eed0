/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netpolctl: ask netpold's policy engine questions. Offline mode loads a
 * folder of manifests (the same code path as netpold's manifest mode) and
 * answers "would this connection be allowed, and why?" (explain) or prints
 * the reachability matrix of all pods (matrix). Each command works on a
 * `struct ctl` source so a live `--socket PATH` mode can be added beside it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

#include "engine.h"
#include "manifest_dir.h"
#include "model.h"
#include "output.h"

/* Exit statuses (docs/netpolctl.md). */
#define EXIT_ALLOWED 0
#define EXIT_DENIED 1
#define EXIT_USAGE 2

#define MAX_NAMESPACE_FILTERS 256

struct ctl {
	const char *manifests;
	const char *socket;
	bool json;
	struct engine *engine;
	struct manifest_dir *md;
	size_t n_diags;
};

struct query {
	enum proto proto;
	uint16_t port;
	int family; /* 0: choose */
};

static void ctl_error(const char *fmt, ...) _printf_(1, 2);
static void ctl_error(const char *fmt, ...)
{
	va_list ap;

	fputs("netpolctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- loading the model ---- */

static void print_diag(void *ud, const struct decode_diag *d)
{
	struct ctl *c = ud;

	c->n_diags++;
	fputs(d->source ? d->source : "<input>", stderr);
	if (d->line > 0)
		fprintf(stderr, ":%u", d->line);
	fputs(": ", stderr);
	if (d->kind)
		fprintf(stderr, "%s ", d->kind);
	if (d->ns && d->name)
		fprintf(stderr, "%s/%s: ", d->ns, d->name);
	else if (d->name)
		fprintf(stderr, "%s: ", d->name);
	fprintf(stderr, "%s\n", d->message ? d->message : "invalid");
}

/* Fill c->engine from the configured source. Reports its own errors. */
static int ctl_load(struct ctl *c)
{
	int r;

	if (c->socket) {
		/* The live mode (asking a running netpold) is not there yet. */
		ctl_error("--socket: asking a running netpold is not supported yet; "
			  "use --manifests DIR");
		return -EOPNOTSUPP;
	}
	if (!c->manifests) {
		ctl_error("--manifests DIR is required");
		return -EINVAL;
	}
	c->engine = engine_new();
	if (!c->engine) {
		ctl_error("out of memory");
		return -ENOMEM;
	}
	r = manifest_dir_new(c->manifests, &c->md);
	if (r < 0) {
		ctl_error("out of memory");
		return r;
	}
	r = manifest_dir_sync(c->md, c->engine, print_diag, c);
	if (r < 0) {
		ctl_error("cannot read manifests from %s: %s", c->manifests, strerror(-r));
		return r;
	}
	engine_discard_changes(c->engine);
	return 0;
}

static void ctl_done(struct ctl *c)
{
	manifest_dir_free(c->md);
	engine_free(c->engine);
}

/* ---- argument parsing ---- */

static int parse_port(const char *s, uint16_t *ret)
{
	int64_t v;

	if (parse_int64(s, 1, 65535, &v) < 0) {
		ctl_error("--port: expected a number in 1..65535, got \"%s\"", s);
		return -EINVAL;
	}
	*ret = (uint16_t)v;
	return 0;
}

static int parse_proto(const char *s, enum proto *ret)
{
	char up[8];
	size_t i;

	for (i = 0; s[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)s[i]);
	up[i] = '\0';
	if (s[i] != '\0' || proto_parse(up, ret) < 0) {
		ctl_error("--protocol: expected TCP, UDP or SCTP, got \"%s\"", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_family(const char *s, int *ret)
{
	if (strcmp(s, "4") == 0 || strcmp(s, "ipv4") == 0)
		*ret = AF_INET;
	else if (strcmp(s, "6") == 0 || strcmp(s, "ipv6") == 0)
		*ret = AF_INET6;
	else {
		ctl_error("--family: expected 4 or 6, got \"%s\"", s);
		return -EINVAL;
	}
	return 0;
}

static const char *family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

/* An explain endpoint as given on the command line. */
struct ep_arg {
	const char *text;
	const struct pod_obj *pod;     /* NS/POD */
	const struct service_obj *svc; /* svc/NS/NAME */
	bool is_ip;
	struct ip_addr ip;
};

static int split_name(const char *s, char *ns, char *name)
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

static int parse_endpoint(const struct ctl *c, const char *opt, const char *s, bool allow_service,
			  struct ep_arg *ret)
{
	char ns[MODEL_MAX_NAME_LEN + 1], name[MODEL_MAX_NAME_LEN + 1];

	*ret = (struct ep_arg){ .text = s };
	if (ip_addr_parse(s, &ret->ip) == 0) {
		ret->is_ip = true;
		return 0;
	}
	if (allow_service && strncmp(s, "svc/", 4) == 0) {
		if (split_name(s + 4, ns, name) < 0) {
			ctl_error("%s: expected svc/NAMESPACE/NAME, got \"%s\"", opt, s);
			return -EINVAL;
		}
		ret->svc = engine_service(c->engine, ns, name);
		if (!ret->svc) {
			ctl_error("%s: service %s/%s not found", opt, ns, name);
			return -ENOENT;
		}
		return 0;
	}
	if (split_name(s, ns, name) < 0) {
		ctl_error("%s: expected NAMESPACE/POD%s or an IP address, got \"%s\"", opt,
			  allow_service ? ", svc/NAMESPACE/NAME" : "", s);
		return -EINVAL;
	}
	ret->pod = engine_pod(c->engine, ns, name);
	if (!ret->pod) {
		if (!engine_namespace(c->engine, ns))
			ctl_error("%s: pod %s/%s not found (no namespace %s either)", opt, ns, name,
				  ns);
		else
			ctl_error("%s: pod %s/%s not found", opt, ns, name);
		return -ENOENT;
	}
	return 0;
}

static bool pod_has_family(const struct pod_obj *p, int family)
{
	return pod_ip(p, family) != NULL;
}

static bool arg_has_family(const struct ep_arg *a, const struct pod_obj *pod, int family)
{
	if (a->is_ip)
		return a->ip.family == family;
	return pod_has_family(pod, family);
}

/*
 * The family of a src -> dst question: the one asked for, else IPv4 when both
 * sides have it, else IPv6. Reports when there is none.
 */
static int pick_family(const struct ep_arg *src, const struct ep_arg *dst,
		       const struct pod_obj *dst_pod, const char *dst_text, int want, int *ret)
{
	static const int order[] = { AF_INET, AF_INET6 };

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

		ctl_error("%s has no %s address", who, family_name(want));
	} else if (src->pod && src->pod->n_ips == 0) {
		ctl_error("%s has no IP address (pending or not scheduled)", src->text);
	} else if (dst_pod && dst_pod->n_ips == 0) {
		ctl_error("%s has no IP address (pending or not scheduled)", dst_text);
	} else {
		ctl_error("%s and %s have no address family in common", src->text, dst_text);
	}
	return -EADDRNOTAVAIL;
}

static int make_endpoint(const struct ctl *c, const struct ep_arg *a, const struct pod_obj *pod,
			 int family, struct endpoint *ret)
{
	if (a->is_ip) {
		engine_endpoint_from_ip(c->engine, &a->ip, ret);
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
	b->v[b->n++] = (struct backend){ .pod = p, .target_port = target_port };
	return 0;
}

static int explain_service(struct ctl *c, const struct ep_arg *src, const struct ep_arg *dst,
			   const struct query *q)
{
	const struct service_obj *svc = dst->svc;
	const struct service_port *sp = NULL;
	struct backends b = { 0 };
	struct out_json j;
	size_t n_allowed = 0;
	int r;

	for (size_t i = 0; i < svc->n_ports; i++)
		if (svc->ports[i].port == q->port && svc->ports[i].proto == q->proto)
			sp = &svc->ports[i];
	r = engine_service_backends(c->engine, svc, q->port, q->proto, collect_backend, &b);
	if (r == -ENOENT || (!sp && r >= 0)) {
		ctl_error("service %s/%s has no port %u/%s", svc->ns, svc->name, q->port,
			  proto_name(q->proto));
		free(b.v);
		return -ENOENT;
	}
	if (r < 0) {
		ctl_error("service %s/%s: %s", svc->ns, svc->name, strerror(-r));
		free(b.v);
		return r;
	}

	if (c->json) {
		out_json_init(&j, stdout, true);
		out_json_begin_object(&j, NULL);
		out_json_string(&j, "service", dst->text + 4);
		out_json_int(&j, "service_port", q->port);
		out_json_string(&j, "protocol", proto_name(q->proto));
		out_json_string(&j, "target_port_name", sp->target_name);
		out_json_begin_array(&j, "backends");
	} else {
		printf("service %s/%s port %u/%s -> targetPort ", svc->ns, svc->name, q->port,
		       proto_name(q->proto));
		if (sp->target_name)
			printf("%s (named, resolved per backend)", sp->target_name);
		else
			printf("%u", sp->target_port);
		printf(": %zu backend%s\n", b.n, b.n == 1 ? "" : "s");
	}

	for (size_t i = 0; i < b.n; i++) {
		struct ep_arg be = { .text = NULL, .pod = b.v[i].pod };
		char name[2 * MODEL_MAX_NAME_LEN + 2];
		struct endpoint s, d;
		struct explanation x;
		struct query bq = *q;
		int family;

		out_fmt_pod(b.v[i].pod, name, sizeof(name));
		be.text = name;
		bq.port = b.v[i].target_port;
		r = pick_family(src, &be, b.v[i].pod, name, q->family, &family);
		if (r >= 0)
			r = make_endpoint(c, src, src->pod, family, &s);
		if (r >= 0)
			r = endpoint_from_pod(b.v[i].pod, family, &d);
		if (r < 0) {
			ctl_error("skipping backend %s", name);
			continue;
		}
		engine_verdict(c->engine, &s, &d, bq.proto, bq.port, &x);
		n_allowed += x.allowed;
		if (c->json) {
			out_json_begin_object(&j, NULL);
			out_json_string(&j, "backend", name);
			out_json_int(&j, "target_port", bq.port);
			out_explain_json(&j, c->engine, &s, &d, bq.proto, bq.port, &x);
			out_json_end_object(&j);
		} else {
			printf("\nbackend %s, target port %u:\n", name, bq.port);
			out_explain_print(stdout, c->engine, &s, &d, bq.proto, bq.port, &x);
		}
	}
	if (c->json) {
		out_json_end_array(&j);
		out_json_bool(&j, "allowed", b.n > 0 && n_allowed == b.n);
		out_json_int(&j, "backends_allowed", (int64_t)n_allowed);
		out_json_end_object(&j);
		r = out_json_finish(&j);
		if (r < 0)
			ctl_error("writing JSON: %s", strerror(-r));
	} else {
		printf("\n%s: %zu of %zu backend%s allowed\n",
		       b.n > 0 && n_allowed == b.n ? "ALLOWED" : "DENIED", n_allowed, b.n,
		       b.n == 1 ? "" : "s");
	}
	r = b.n > 0 && n_allowed == b.n ? EXIT_ALLOWED : EXIT_DENIED;
	free(b.v);
	return r;
}

static void usage_explain(FILE *f)
{
	fputs("Usage: netpolctl explain --manifests DIR --from ENDPOINT --to ENDPOINT --port N\n"
	      "                         [--protocol TCP|UDP|SCTP] [--family 4|6] [--json]\n"
	      "  ENDPOINT: NAMESPACE/POD or an IP address; --to also takes svc/NAMESPACE/NAME\n"
	      "            (N is then the service port, checked against every backend).\n"
	      "Exit status: 0 allowed, 1 denied, 2 usage or other error.\n",
	      f);
}

static int cmd_explain(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "manifests", required_argument, NULL, 'm' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "port", required_argument, NULL, 'p' },
		{ "protocol", required_argument, NULL, 'P' },
		{ "family", required_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *from = NULL, *to = NULL;
	struct query q = { .proto = PROTO_TCP };
	struct ep_arg src, dst;
	struct endpoint s, d;
	struct explanation x;
	bool have_port = false;
	int o, r, family;

	optind = 0;
	while ((o = getopt_long(argc, argv, "m:f:t:p:P:F:jh", opts, NULL)) >= 0) {
		switch (o) {
		case 'm':
			c->manifests = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'p':
			if (parse_port(optarg, &q.port) < 0)
				return -EINVAL;
			have_port = true;
			break;
		case 'P':
			if (parse_proto(optarg, &q.proto) < 0)
				return -EINVAL;
			break;
		case 'F':
			if (parse_family(optarg, &q.family) < 0)
				return -EINVAL;
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			usage_explain(stdout);
			return EXIT_ALLOWED;
		default:
			usage_explain(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		ctl_error("explain: unexpected argument \"%s\"", argv[optind]);
		return -EINVAL;
	}
	if (!from || !to || !have_port) {
		ctl_error("explain: --from, --to and --port are required");
		usage_explain(stderr);
		return -EINVAL;
	}
	r = ctl_load(c);
	if (r < 0)
		return r;
	r = parse_endpoint(c, "--from", from, false, &src);
	if (r >= 0)
		r = parse_endpoint(c, "--to", to, true, &dst);
	if (r < 0)
		return r;
	if (src.is_ip && q.family && src.ip.family != q.family) {
		ctl_error("--from %s is not an %s address", from, family_name(q.family));
		return -EINVAL;
	}
	if (dst.svc)
		return explain_service(c, &src, &dst, &q);

	r = pick_family(&src, &dst, dst.pod, to, q.family, &family);
	if (r < 0)
		return r;
	r = make_endpoint(c, &src, src.pod, family, &s);
	if (r >= 0)
		r = make_endpoint(c, &dst, dst.pod, family, &d);
	if (r < 0) {
		ctl_error("%s", strerror(-r));
		return r;
	}
	engine_verdict(c->engine, &s, &d, q.proto, q.port, &x);
	if (c->json) {
		struct out_json j;

		out_json_init(&j, stdout, true);
		out_json_begin_object(&j, NULL);
		out_explain_json(&j, c->engine, &s, &d, q.proto, q.port, &x);
		out_json_end_object(&j);
		r = out_json_finish(&j);
		if (r < 0) {
			ctl_error("writing JSON: %s", strerror(-r));
			return r;
		}
	} else {
		out_explain_print(stdout, c->engine, &s, &d, q.proto, q.port, &x);
	}
	return x.allowed ? EXIT_ALLOWED : EXIT_DENIED;
}

/* ---- matrix ---- */

struct pod_list {
	const struct pod_obj **v;
	size_t n;
	char **namespaces; /* filter; NULL: all */
	size_t n_namespaces;
	int family;
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
		fprintf(stderr, "netpolctl: skipping %s/%s: not running or no IP\n", p->ns,
			p->name);
		return 0;
	}
	if (!pod_ip(p, l->family)) {
		fprintf(stderr, "netpolctl: skipping %s/%s: no %s address\n", p->ns, p->name,
			family_name(l->family));
		return 0;
	}
	v = reallocarray(l->v, l->n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	l->v[l->n++] = p;
	return 0;
}

/* Split a,b,c into l->namespaces (copies). */
static int parse_namespaces(const char *s, struct pod_list *l)
{
	const char *p = s;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char **v;

		if (n == 0 || n > MODEL_MAX_NAME_LEN || l->n_namespaces >= MAX_NAMESPACE_FILTERS) {
			ctl_error("--namespaces: expected comma-separated names, got \"%s\"",
				  s);
			return -EINVAL;
		}
		v = reallocarray(l->namespaces, l->n_namespaces + 1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->namespaces = v;
		v[l->n_namespaces] = strndup(p, n);
		if (!v[l->n_namespaces])
			return -ENOMEM;
		l->n_namespaces++;
		p += n;
		if (*p == ',')
			p++;
	}
	if (l->n_namespaces == 0) {
		ctl_error("--namespaces: empty list");
		return -EINVAL;
	}
	return 0;
}

static void pod_list_clear(struct pod_list *l)
{
	for (size_t i = 0; i < l->n_namespaces; i++)
		free(l->namespaces[i]);
	free(l->namespaces);
	free(l->v);
}

static void usage_matrix(FILE *f)
{
	fputs("Usage: netpolctl matrix --manifests DIR --port N [--namespaces A,B,...]\n"
	      "                        [--protocol TCP|UDP|SCTP] [--family 4|6] [--json]\n"
	      "Rows are sources, columns destinations: '.' allowed, 'X' denied.\n",
	      f);
}

static int print_matrix(const struct ctl *c, const struct pod_list *l, const struct query *q)
{
	_cleanup_(out_table_freep) struct out_table *t = NULL;
	char name[2 * MODEL_MAX_NAME_LEN + 2];
	struct out_json j;
	int r;

	if (c->json) {
		out_json_init(&j, stdout, true);
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
		if (c->json)
			out_json_begin_object(&j, name);
		else if ((r = out_table_add(t, name)) < 0)
			return r;
		for (size_t k = 0; k < l->n; k++) {
			struct endpoint d;
			bool ok;

			if (endpoint_from_pod(l->v[k], l->family, &d) < 0)
				return -EADDRNOTAVAIL;
			ok = engine_verdict(c->engine, &s, &d, q->proto, q->port, NULL);
			if (c->json) {
				out_fmt_pod(l->v[k], name, sizeof(name));
				out_json_bool(&j, name, ok);
			} else if ((r = out_table_add(t, ok ? "." : "X")) < 0) {
				return r;
			}
		}
		if (c->json)
			out_json_end_object(&j);
	}
	if (c->json) {
		out_json_end_object(&j);
		return out_json_finish(&j);
	}
	return out_table_print(t, stdout, 2);
}

static int cmd_matrix(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "manifests", required_argument, NULL, 'm' },
		{ "namespaces", required_argument, NULL, 'n' },
		{ "port", required_argument, NULL, 'p' },
		{ "protocol", required_argument, NULL, 'P' },
		{ "family", required_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct query q = { .proto = PROTO_TCP };
	struct pod_list l = { .family = AF_INET };
	bool have_port = false;
	int o, r;

	optind = 0;
	while ((o = getopt_long(argc, argv, "m:n:p:P:F:jh", opts, NULL)) >= 0) {
		r = 0;
		switch (o) {
		case 'm':
			c->manifests = optarg;
			break;
		case 'n':
			r = parse_namespaces(optarg, &l);
			break;
		case 'p':
			r = parse_port(optarg, &q.port);
			have_port = true;
			break;
		case 'P':
			r = parse_proto(optarg, &q.proto);
			break;
		case 'F':
			r = parse_family(optarg, &l.family);
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			usage_matrix(stdout);
			pod_list_clear(&l);
			return EXIT_ALLOWED;
		default:
			usage_matrix(stderr);
			r = -EINVAL;
			break;
		}
		if (r < 0)
			goto out;
	}
	if (optind < argc) {
		ctl_error("matrix: unexpected argument \"%s\"", argv[optind]);
		r = -EINVAL;
		goto out;
	}
	if (!have_port) {
		ctl_error("matrix: --port is required");
		usage_matrix(stderr);
		r = -EINVAL;
		goto out;
	}
	r = ctl_load(c);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < l.n_namespaces; i++)
		if (!engine_namespace(c->engine, l.namespaces[i]))
			fprintf(stderr, "netpolctl: warning: namespace %s is not defined\n",
				l.namespaces[i]);
	r = engine_foreach_pod(c->engine, collect_pod, &l);
	if (r < 0) {
		ctl_error("%s", strerror(-r));
		goto out;
	}
	if (l.n == 0) {
		ctl_error("matrix: no pods with an %s address%s", family_name(l.family),
			  l.n_namespaces ? " in the selected namespaces" : "");
		r = -ENOENT;
		goto out;
	}
	r = print_matrix(c, &l, &q);
	if (r < 0)
		ctl_error("matrix: %s", strerror(-r));
out:
	pod_list_clear(&l);
	return r < 0 ? r : EXIT_ALLOWED;
}

/* ---- main ---- */

struct command {
	const char *name;
	int (*run)(struct ctl *c, int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "explain", cmd_explain, "explain the verdict for one connection" },
	{ "matrix", cmd_matrix, "print the reachability matrix of all pods" },
};

static void usage(FILE *f)
{
	fputs("Usage: netpolctl [--manifests DIR] COMMAND [OPTIONS]\n"
	      "       netpolctl --help | --version\n\n"
	      "Answers questions about Kubernetes NetworkPolicies with netpold's engine.\n"
	      "Offline mode: --manifests DIR loads *.yaml, *.yml and *.json files from DIR.\n\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\nRun 'netpolctl COMMAND --help' for a command's options.\n"
	      "Exit status: 0 allowed (or success), 1 denied, 2 usage or other error.\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "manifests", required_argument, NULL, 'm' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	struct ctl c = { 0 };
	int o, r;

	/* '+': stop at the command name; the command parses the rest. */
	while ((o = getopt_long(argc, argv, "+m:s:jhV", opts, NULL)) >= 0) {
		switch (o) {
		case 'm':
			c.manifests = optarg;
			break;
		case 's':
			c.socket = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("netpolctl %s\n", NETPOLD_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		ctl_error("missing command");
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		r = commands[i].run(&c, argc - optind, argv + optind);
		fflush(stdout);
		ctl_done(&c);
		if (ferror(stdout)) {
			ctl_error("error writing output");
			return EXIT_USAGE;
		}
		return r < 0 ? EXIT_USAGE : r;
	}
	ctl_error("unknown command \"%s\"", argv[optind]);
	usage(stderr);
	return EXIT_USAGE;
}
