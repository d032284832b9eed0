/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netpolctl: ask netpold's policy engine questions. Offline, --manifests DIR
 * loads a folder of manifests (netpold's own manifest code) and answers
 * explain and matrix; live, --socket PATH asks a running netpold over its
 * status socket, which answers the same questions with the same renderings
 * (query.c on both sides) plus status, policies, pods and deny events.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config.h"
#include "ctl_client.h"
#include "ctl_render.h"
#include "engine.h"
#include "manifest_dir.h"
#include "model.h"
#include "query.h"

/* Exit statuses (docs/netpolctl.md). */
#define EXIT_ALLOWED 0
#define EXIT_DENIED 1
#define EXIT_USAGE 2

#define MAX_PATH_LEN 4096

struct ctl {
	const char *manifests;
	const char *socket;
	bool json;
	struct engine *engine;
	struct manifest_dir *md;
	size_t n_diags;
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

/* ---- loading the model (offline) ---- */

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

/* Fill c->engine from the manifest folder. Reports its own errors. */
static int ctl_load(struct ctl *c)
{
	int r;

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

/*
 * Live or offline: --manifests wins; else --socket; else the default socket
 * when it exists. Returns 1 for live, 0 for offline, -EINVAL (reported).
 */
static int ctl_mode(struct ctl *c, bool offline_ok)
{
	struct stat st;

	if (c->manifests && offline_ok)
		return 0;
	if (c->manifests && !c->socket) {
		ctl_error("this command asks a running netpold: use --socket PATH, "
			  "not --manifests");
		return -EINVAL;
	}
	if (c->socket)
		return 1;
	if (stat(CONFIG_DEFAULT_STATUS_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode)) {
		c->socket = CONFIG_DEFAULT_STATUS_SOCKET;
		return 1;
	}
	if (offline_ok)
		ctl_error("--manifests DIR is required "
			  "(or --socket PATH to ask a running netpold)");
	else
		ctl_error("no netpold socket at %s; use --socket PATH",
			  CONFIG_DEFAULT_STATUS_SOCKET);
	return -EINVAL;
}

/* ---- talking to netpold ---- */

/* Report a non-200 answer: its JSON "error", else the status line. */
static int report_http_error(const struct ctl_response *resp)
{
	char msg[512];

	if (ctl_render_error(resp->body, resp->len, msg, sizeof(msg)) == 0)
		ctl_error("%s", msg);
	else
		ctl_error("netpold answered HTTP %ld", resp->code);
	return -EIO;
}

/* GET path; on 200 *ret holds the answer, else the error was reported. */
static int live_get(const struct ctl *c, const char *path, struct ctl_response *ret)
{
	char err[512];
	int r;

	r = ctl_get(c->socket, path, ret, err, sizeof(err));
	if (r < 0) {
		ctl_error("%s", err);
		return r;
	}
	if (ret->code != 200) {
		r = report_http_error(ret);
		ctl_response_clear(ret);
		return r;
	}
	return 0;
}

/* GET a JSON document and print it, pretty (--json) or through render. */
static int live_show(const struct ctl *c, const char *path, ctl_render_fn render)
{
	struct ctl_response resp;
	char err[256] = "";
	int r;

	r = live_get(c, path, &resp);
	if (r < 0)
		return r;
	r = render(resp.body, resp.len, !c->json, stdout, err, sizeof(err));
	ctl_response_clear(&resp);
	if (r < 0)
		ctl_error("%s", err[0] ? err : strerror(-r));
	return r < 0 ? r : EXIT_ALLOWED;
}

/* Append key=escaped(value) to a query string being built in buf. */
static int add_arg(char *buf, size_t len, const char *key, const char *value)
{
	_cleanup_free_ char *e = NULL;
	size_t n = strlen(buf);
	int w;

	if (!value)
		return 0;
	e = ctl_escape(value);
	if (!e)
		return -ENOMEM;
	w = snprintf(buf + n, len - n, "%s%s=%s", strchr(buf, '?') ? "&" : "?", key, e);
	return w < 0 || (size_t)w >= len - n ? -E2BIG : 0;
}

/* explain and matrix over the socket: the server renders, we print its bytes. */
static int live_query(const struct ctl *c, const char *endpoint, const struct query *q)
{
	char path[MAX_PATH_LEN], port[8];
	struct ctl_response resp;
	int r;

	snprintf(path, sizeof(path), "%s", endpoint);
	snprintf(port, sizeof(port), "%u", q->port);
	r = add_arg(path, sizeof(path), "from", q->from);
	if (r >= 0)
		r = add_arg(path, sizeof(path), "to", q->to);
	if (r >= 0)
		r = add_arg(path, sizeof(path), "port", port);
	if (r >= 0)
		r = add_arg(path, sizeof(path), "protocol", proto_name(q->proto));
	if (r >= 0 && q->family)
		r = add_arg(path, sizeof(path), "family", q->family == AF_INET ? "4" : "6");
	if (r >= 0)
		r = add_arg(path, sizeof(path), "namespaces", q->namespaces);
	if (r >= 0)
		r = add_arg(path, sizeof(path), "output", q->json ? "json" : "text");
	if (r < 0) {
		ctl_error("arguments too long");
		return r;
	}
	r = live_get(c, path, &resp);
	if (r < 0)
		return r;
	if (resp.warnings[0]) {
		/* the server joins its notes with ';' */
		for (char *p = resp.warnings, *end; *p; p = end) {
			end = p + strcspn(p, ";");
			fprintf(stderr, "%.*s\n", (int)(end - p), p);
			if (*end)
				end++;
		}
	}
	fwrite(resp.body, 1, resp.len, stdout);
	r = strcmp(resp.verdict, "denied") == 0 ? EXIT_DENIED : EXIT_ALLOWED;
	ctl_response_clear(&resp);
	return r;
}

/* ---- argument parsing ---- */

static int parse_port(const char *s, uint16_t *ret)
{
	if (query_parse_port(s, ret) < 0) {
		ctl_error("--port: expected a number in 1..65535, got \"%s\"", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_proto(const char *s, enum proto *ret)
{
	if (query_parse_proto(s, ret) < 0) {
		ctl_error("--protocol: expected TCP, UDP or SCTP, got \"%s\"", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_family(const char *s, int *ret)
{
	if (query_parse_family(s, ret) < 0) {
		ctl_error("--family: expected 4 or 6, got \"%s\"", s);
		return -EINVAL;
	}
	return 0;
}

/* Run an offline question; prints its answer or its error. */
static int offline_query(struct ctl *c, const struct query *q, bool explain)
{
	struct query_out o = {.out = stdout, .warn = stderr};
	int r;

	r = ctl_load(c);
	if (r < 0)
		return r;
	r = explain ? query_explain(c->engine, q, &o) : query_matrix(c->engine, q, &o);
	if (r < 0)
		ctl_error("%s", o.err);
	return r;
}

/* ---- explain ---- */

static void usage_explain(FILE *f)
{
	fputs("Usage: netpolctl explain [--manifests DIR | --socket PATH] --from ENDPOINT\n"
	      "                         --to ENDPOINT --port N [--protocol TCP|UDP|SCTP]\n"
	      "                         [--family 4|6] [--json]\n"
	      "  ENDPOINT: NAMESPACE/POD or an IP address; --to also takes svc/NAMESPACE/NAME\n"
	      "            (N is then the service port, checked against every backend).\n"
	      "Exit status: 0 allowed, 1 denied, 2 usage or other error.\n",
	      f);
}

/* The options of the queries (explain, matrix) besides their own, for their option tables. */
#define QUERY_OPTIONS                                                                              \
	{"manifests", required_argument, NULL, 'm'}, {"socket", required_argument, NULL, 's'},      \
		{"port", required_argument, NULL, 'p'}, {"protocol", required_argument, NULL, 'P'}, \
		{"family", required_argument, NULL, 'F'}, {"json", no_argument, NULL, 'j'},         \
		{"help", no_argument, NULL, 'h'}

/*
 * One of QUERY_OPTIONS but --help into c and q. Returns 1 when o is one of them, 0 when it is
 * not, -EINVAL for a bad value (the parser says which).
 */
static int query_option(struct ctl *c, struct query *q, int o, bool *have_port)
{
	switch (o) {
	case 'm':
		c->manifests = optarg;
		return 1;
	case 's':
		c->socket = optarg;
		return 1;
	case 'p':
		if (parse_port(optarg, &q->port) < 0)
			return -EINVAL;
		*have_port = true;
		return 1;
	case 'P':
		return parse_proto(optarg, &q->proto) < 0 ? -EINVAL : 1;
	case 'F':
		return parse_family(optarg, &q->family) < 0 ? -EINVAL : 1;
	case 'j':
		c->json = true;
		return 1;
	default:
		return 0;
	}
}

static int cmd_explain(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'}, {"to", required_argument, NULL, 't'},
		QUERY_OPTIONS, {}};
	struct query q = {.proto = PROTO_TCP};
	bool have_port = false;
	int o, r;

	optind = 0;
	while ((o = getopt_long(argc, argv, "m:s:f:t:p:P:F:jh", opts, NULL)) >= 0) {
		r = query_option(c, &q, o, &have_port);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		switch (o) {
		case 'f':
			q.from = optarg;
			break;
		case 't':
			q.to = optarg;
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
	if (!q.from || !q.to || !have_port) {
		ctl_error("explain: --from, --to and --port are required");
		usage_explain(stderr);
		return -EINVAL;
	}
	q.json = c->json;
	r = ctl_mode(c, true);
	if (r < 0)
		return r;
	return r ? live_query(c, "/v1/explain", &q) : offline_query(c, &q, true);
}

/* ---- matrix ---- */

static void usage_matrix(FILE *f)
{
	fputs("Usage: netpolctl matrix [--manifests DIR | --socket PATH] --port N\n"
	      "                        [--namespaces A,B,...] [--protocol TCP|UDP|SCTP]\n"
	      "                        [--family 4|6] [--json]\n"
	      "Rows are sources, columns destinations: '.' allowed, 'X' denied.\n",
	      f);
}

static int cmd_matrix(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"namespaces", required_argument, NULL, 'n'},
					     QUERY_OPTIONS, {}};
	struct query q = {.proto = PROTO_TCP, .family = AF_INET};
	bool have_port = false;
	int o, r;

	optind = 0;
	while ((o = getopt_long(argc, argv, "m:s:n:p:P:F:jh", opts, NULL)) >= 0) {
		r = query_option(c, &q, o, &have_port);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		switch (o) {
		case 'n':
			q.namespaces = optarg;
			break;
		case 'h':
			usage_matrix(stdout);
			return EXIT_ALLOWED;
		default:
			usage_matrix(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		ctl_error("matrix: unexpected argument \"%s\"", argv[optind]);
		return -EINVAL;
	}
	if (!have_port) {
		ctl_error("matrix: --port is required");
		usage_matrix(stderr);
		return -EINVAL;
	}
	q.json = c->json;
	r = ctl_mode(c, true);
	if (r < 0)
		return r;
	if (r)
		r = live_query(c, "/v1/matrix", &q);
	else
		r = offline_query(c, &q, false);
	return r < 0 ? r : EXIT_ALLOWED;
}

/* ---- live-only commands ---- */

/*
 * The options every live command takes, plus --follow (events) and --all
 * (pods) where allowed; one positional NAMESPACE/NAME when want_name. Then
 * the mode, which must be live. Returns 0 to go on, 1 when --help was
 * printed, negative errno.
 */
struct live_args {
	bool follow, all;
	const char *name;
};

static int parse_live(struct ctl *c, int argc, char **argv, const char *usage, bool want_name,
		      bool follow_ok, bool all_ok, struct live_args *ret)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"follow", no_argument, NULL, 'f'},
		{"all", no_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{}};
	int o, r;

	*ret = (struct live_args){0};
	optind = 0;
	while ((o = getopt_long(argc, argv, "s:jfah", opts, NULL)) >= 0) {
		switch (o) {
		case 's':
			c->socket = optarg;
			break;
		case 'j':
			c->json = true;
			break;
		case 'f':
			if (!follow_ok)
				goto bad;
			ret->follow = true;
			break;
		case 'a':
			if (!all_ok)
				goto bad;
			ret->all = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			goto bad;
		}
	}
	if (want_name && optind < argc)
		ret->name = argv[optind++];
	if (optind < argc) {
		ctl_error("%s: unexpected argument \"%s\"", argv[0], argv[optind]);
		return -EINVAL;
	}
	if (want_name && !ret->name) {
		ctl_error("%s: NAMESPACE/NAME is required", argv[0]);
		fputs(usage, stderr);
		return -EINVAL;
	}
	r = ctl_mode(c, false);
	return r < 0 ? r : 0;
bad:
	fputs(usage, stderr);
	return -EINVAL;
}

static int cmd_status(struct ctl *c, int argc, char **argv)
{
	struct live_args a;
	int r = parse_live(c, argc, argv, "Usage: netpolctl [--socket PATH] status [--json]\n",
			   false, false, false, &a);

	if (r != 0)
		return r < 0 ? r : EXIT_ALLOWED;
	return live_show(c, "/v1/status", ctl_render_status);
}

static int cmd_policies(struct ctl *c, int argc, char **argv)
{
	struct live_args a;
	int r = parse_live(c, argc, argv, "Usage: netpolctl [--socket PATH] policies [--json]\n",
			   false, false, false, &a);

	if (r != 0)
		return r < 0 ? r : EXIT_ALLOWED;
	return live_show(c, "/v1/policies", ctl_render_policies);
}

/* GET prefix + NAMESPACE/NAME, both parts escaped. */
static int show_named(const struct ctl *c, const char *prefix, const char *name,
		      ctl_render_fn render)
{
	char ns[MODEL_MAX_NAME_LEN + 1], n[MODEL_MAX_NAME_LEN + 1], path[MAX_PATH_LEN];
	_cleanup_free_ char *ens = NULL, *en = NULL;

	if (query_split_name(name, ns, n) < 0) {
		ctl_error("expected NAMESPACE/NAME, got \"%s\"", name);
		return -EINVAL;
	}
	ens = ctl_escape(ns);
	en = ctl_escape(n);
	if (!ens || !en)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s%s/%s", prefix, ens, en);
	return live_show(c, path, render);
}

static int cmd_policy(struct ctl *c, int argc, char **argv)
{
	struct live_args a;
	int r = parse_live(c, argc, argv,
			   "Usage: netpolctl [--socket PATH] policy NAMESPACE/NAME [--json]\n",
			   true, false, false, &a);

	if (r != 0)
		return r < 0 ? r : EXIT_ALLOWED;
	return show_named(c, "/v1/policies/", a.name, ctl_render_policy);
}

static int cmd_pods(struct ctl *c, int argc, char **argv)
{
	struct live_args a;
	int r = parse_live(c, argc, argv,
			   "Usage: netpolctl [--socket PATH] pods [--all] [--json]\n"
			   "  --all: every pod netpold knows, not only this node's\n",
			   false, false, true, &a);

	if (r != 0)
		return r < 0 ? r : EXIT_ALLOWED;
	return live_show(c, a.all ? "/v1/pods?all=true" : "/v1/pods", ctl_render_pods);
}

static int cmd_pod(struct ctl *c, int argc, char **argv)
{
	struct live_args a;
	int r = parse_live(c, argc, argv,
			   "Usage: netpolctl [--socket PATH] pod NAMESPACE/NAME [--json]\n", true,
			   false, false, &a);

	if (r != 0)
		return r < 0 ? r : EXIT_ALLOWED;
	return show_named(c, "/v1/pods/", a.name, ctl_render_pod);
}

static int event_line(void *ud, const char *line, size_t len)
{
	const struct ctl *c = ud;
	int r = 0;

	if (len == 0)
		return 0; /* keep-alive */
	if (c->json) {
		fwrite(line, 1, len, stdout);
		putchar('\n');
	} else {
		r = ctl_render_event(line, len, stdout);
	}
	fflush(stdout);
	return ferror(stdout) ? -EIO : r;
}

static int cmd_events(struct ctl *c, int argc, char **argv)
{
	struct live_args a;
	struct ctl_response resp;
	char err[512];
	int r = parse_live(c, argc, argv,
			   "Usage: netpolctl [--socket PATH] events [--follow] [--json]\n"
			   "  Deny records, one per line: the recent ones, or with --follow\n"
			   "  new ones as they come (until interrupted).\n",
			   false, true, false, &a);

	if (r != 0)
		return r < 0 ? r : EXIT_ALLOWED;
	r = ctl_stream(c->socket, a.follow ? "/v1/events" : "/v1/events?follow=false",
		       event_line, c, &resp, err, sizeof(err));
	if (r < 0) {
		ctl_error("%s", err);
		ctl_response_clear(&resp);
		return r;
	}
	if (resp.code != 200)
		r = report_http_error(&resp);
	ctl_response_clear(&resp);
	return r < 0 ? r : EXIT_ALLOWED;
}

/* ---- main ---- */

struct command {
	const char *name;
	int (*run)(struct ctl *c, int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"explain", cmd_explain, "explain the verdict for one connection"},
	{"matrix", cmd_matrix, "print the reachability matrix of all pods"},
	{"status", cmd_status, "netpold's state (live only)"},
	{"policies", cmd_policies, "the policies and whether they are programmed (live only)"},
	{"policy", cmd_policy, "one policy: selected local pods, rules, errors (live only)"},
	{"pods", cmd_pods, "this node's pods and their isolation (live only)"},
	{"pod", cmd_pod, "one pod: isolation and the policies that apply (live only)"},
	{"events", cmd_events, "deny records; --follow to stream (live only)"},
};

static void usage(FILE *f)
{
	fputs("Usage: netpolctl [--manifests DIR | --socket PATH] [--json] COMMAND [OPTIONS]\n"
	      "       netpolctl --help | --version\n\n"
	      "Answers questions about Kubernetes NetworkPolicies with netpold's engine.\n"
	      "Offline mode: --manifests DIR loads *.yaml, *.yml and *.json files from DIR.\n"
	      "Live mode: --socket PATH (default " CONFIG_DEFAULT_STATUS_SOCKET
	      ") asks a running netpold.\n\n"
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
		{"manifests", required_argument, NULL, 'm'},
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{}};
	struct ctl c = {0};
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
