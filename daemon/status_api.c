/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The status socket's views of the engine: /v1/policies and /v1/pods (what
 * is enforced on this node and since when), /v1/explain and /v1/matrix (the
 * same renderings as netpolctl offline, via query.c), /v1/events (a chunked
 * stream of deny records from the event hub) and /metrics.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>

#include "events.h"
#include "k8s.h"
#include "log.h"
#include "metrics.h"
#include "nflog.h"
#include "output.h"
#include "query.h"
#include "selector.h"
#include "status_int.h"

#define EVENT_LINE_MAX (NFLOG_JSON_MAX + 2)
#define WARNINGS_MAX 2048

static const char *arg(struct request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

static bool is_local(const struct daemon *d, const struct pod_obj *p)
{
	return p->node_name && strcmp(p->node_name, d->cfg.node_name) == 0;
}

/* "ns/name" after prefix in the URL, checked like netpolctl's arguments. */
static int url_name(struct request *req, const char *prefix, char *ns, char *name)
{
	return query_split_name(req->url + strlen(prefix), ns, name);
}

/* ---- policies ---- */

/* counters: the rule's `counter` values summed over this node's per-pod chains, or null */
static json_t *rule_json(const struct np_rule *r, enum direction dir, size_t index,
			 json_t *counters)
{
	char buf[1024];
	json_t *peers = json_array(), *ports = json_array();

	for (size_t i = 0; peers && i < r->n_peers; i++) {
		out_fmt_peer(&r->peers[i], buf, sizeof(buf));
		json_array_append_new(peers, json_string(buf));
	}
	for (size_t i = 0; ports && i < r->n_ports; i++) {
		out_fmt_port(&r->ports[i], NULL, buf, sizeof(buf));
		json_array_append_new(ports, json_string(buf));
	}
	return json_pack("{s:s, s:I, s:o, s:o, s:b, s:b, s:o}", "direction", direction_name(dir),
			 "index", (json_int_t)index, "peers", peers ? peers : json_null(),
			 "ports", ports ? ports : json_null(), "all_peers", r->n_peers == 0,
			 "all_ports", r->n_ports == 0, "counters",
			 counters ? counters : json_null());
}

struct selected_ctx {
	const struct daemon *d;
	const struct netpol *pol;
	json_t *pods;
};

/*
 * Whether pol's own podSelector selects p, whatever else isolates it: an audit
 * policy still selects a pod an enforcing policy isolates, though the engine
 * then leaves it out of engine_pod_policies().
 */
static bool policy_selects(const struct netpol *pol, const struct pod_obj *p)
{
	return pod_is_target(p) && strcmp(p->ns, pol->ns) == 0 &&
	       selector_matches(&pol->pod_selector, &p->labels);
}

static int collect_selected(void *ud, const struct pod_obj *p)
{
	struct selected_ctx *c = ud;
	char name[2 * MODEL_MAX_NAME_LEN + 2];

	if (!is_local(c->d, p) || !policy_selects(c->pol, p))
		return 0;
	out_fmt_pod(p, name, sizeof(name));
	json_array_append_new(c->pods, json_string(name));
	return 0;
}

/*
 * {"packets": N, "bytes": N} of a compiled rule on this node, or NULL when the
 * dataplane cannot say (no dataplane, the dump failed). The dump is cached by
 * the dataplane for a second, so a burst of requests costs one netlink dump.
 */
static json_t *rule_counters(const struct daemon *d, const struct netpol *p, enum direction dir,
			     size_t index)
{
	struct dataplane_counters c;

	if (!d->dp || dataplane_rule_counters(d->dp, p->ns, p->name, dir, (unsigned)index, &c) < 0)
		return NULL;
	return json_pack("{s:I, s:I}", "packets", (json_int_t)c.packets, "bytes",
			 (json_int_t)c.bytes);
}

static json_t *policy_json(struct status_server *s, const struct netpol *p, bool detail)
{
	const struct daemon *d = s->d;
	const struct timespec *since = status_track_policy_since(s->track, p);
	struct selected_ctx c = {.d = d, .pol = p, .pods = json_array()};
	char sel[1024];
	json_t *o, *types = json_array(), *rules = json_array();

	out_fmt_selector(&p->pod_selector, sel, sizeof(sel));
	if (p->type_ingress)
		json_array_append_new(types, json_string("Ingress"));
	if (p->type_egress)
		json_array_append_new(types, json_string("Egress"));
	(void)engine_foreach_pod(d->engine, collect_selected, &c);
	for (size_t i = 0; detail && i < p->n_ingress; i++)
		json_array_append_new(rules, rule_json(&p->ingress[i], DIR_INGRESS, i,
						       rule_counters(d, p, DIR_INGRESS, i)));
	for (size_t i = 0; detail && i < p->n_egress; i++)
		json_array_append_new(rules, rule_json(&p->egress[i], DIR_EGRESS, i,
						       rule_counters(d, p, DIR_EGRESS, i)));
	o = json_pack("{s:s, s:s, s:o, s:I, s:s, s:o, s:s, s:b, s:o, s:o, s:o}", "namespace",
		      p->ns, "name", p->name, "uid", status_json_str_or_null(p->uid),
		      "generation", (json_int_t)p->generation, "mode",
		      p->mode == NP_MODE_AUDIT ? "audit" : "enforce", "policy_types", types,
		      "pod_selector", sel, "programmed", since != NULL, "programmed_since",
		      since ? status_json_time(since) : json_null(), "selected_local_pods",
		      c.pods, "errors",
		      status_track_errors(s->track, "NetworkPolicy", p->ns, p->name));
	if (o && detail)
		json_object_set_new(o, "rules", rules);
	else
		json_decref(rules);
	return o;
}

struct list_ctx {
	struct status_server *s;
	json_t *items;
	size_t n;
};

static int list_policy(void *ud, const struct netpol *p)
{
	struct list_ctx *c = ud;

	if (c->n++ >= STATUS_MAX_POD_LIST)
		return -E2BIG;
	json_array_append_new(c->items, policy_json(c->s, p, false));
	return 0;
}

static enum MHD_Result send_list(struct request *req, json_t *items, int r)
{
	_cleanup_json_ json_t *j = NULL;

	if (!items)
		return status_send_error(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory",
					 NULL);
	j = json_pack("{s:o, s:b}", "items", items, "truncated", r == -E2BIG);
	return j ? status_send_json(req->conn, MHD_HTTP_OK, j, NULL) : MHD_NO;
}

enum MHD_Result status_h_policies(struct status_server *s, struct request *req)
{
	struct list_ctx c = {.s = s, .items = json_array()};
	int r = 0;

	if (s->d->engine && c.items)
		r = engine_foreach_policy(s->d->engine, list_policy, &c);
	return send_list(req, c.items, r);
}

enum MHD_Result status_h_policy(struct status_server *s, struct request *req)
{
	char ns[MODEL_MAX_NAME_LEN + 1], name[MODEL_MAX_NAME_LEN + 1];
	const struct netpol *p;
	_cleanup_json_ json_t *j = NULL;

	if (url_name(req, "/v1/policies/", ns, name) < 0)
		return status_send_error(req->conn, MHD_HTTP_BAD_REQUEST,
					 "expected /v1/policies/NAMESPACE/NAME", NULL);
	p = s->d->engine ? engine_policy(s->d->engine, ns, name) : NULL;
	if (!p) {
		/* a policy that never decoded has no engine object, only errors */
		j = json_pack("{s:s, s:i, s:o}", "error", "policy not found", "code",
			      MHD_HTTP_NOT_FOUND, "errors",
			      status_track_errors(s->track, "NetworkPolicy", ns, name));
		return j ? status_send_json(req->conn, MHD_HTTP_NOT_FOUND, j, NULL) : MHD_NO;
	}
	j = policy_json(s, p, true);
	return j ? status_send_json(req->conn, MHD_HTTP_OK, j, NULL) : MHD_NO;
}

/* ---- pods ---- */

static json_t *half_json(struct status_server *s, const struct pod_obj *p, enum direction dir)
{
	const struct engine *e = s->d->engine;
	const struct netpol *const *v;
	size_t n = engine_pod_policies(e, p, dir, &v);
	const struct timespec *since = status_track_pod_since(s->track, p, dir);
	json_t *pols = json_array();
	char name[2 * MODEL_MAX_NAME_LEN + 2];

	for (size_t i = 0; pols && i < n; i++) {
		out_fmt_policy(v[i], name, sizeof(name));
		json_array_append_new(pols, json_string(name));
	}
	/* audited: isolated by audit policies only, which log and never deny */
	return json_pack("{s:b, s:b, s:o, s:o}", "isolated", engine_pod_isolated(e, p, dir),
			 "audit", engine_pod_audit(e, p, dir), "since",
			 since ? status_json_time(since) : json_null(), "policies",
			 pols ? pols : json_null());
}

static json_t *pod_json(struct status_server *s, const struct pod_obj *p)
{
	static const char *const phases[] = {"Unknown", "Pending", "Running", "Succeeded",
					     "Failed"};
	json_t *ips = json_array();
	char buf[64];

	for (size_t i = 0; ips && i < p->n_ips; i++)
		json_array_append_new(ips, json_string(ip_addr_fmt(&p->ips[i], buf, sizeof(buf))));
	return json_pack("{s:s, s:s, s:o, s:b, s:b, s:s, s:o, s:o, s:o}", "namespace", p->ns,
			 "name", p->name, "node", status_json_str_or_null(p->node_name), "local",
			 is_local(s->d, p), "host_network", p->host_network, "phase",
			 p->phase < ELEMENTSOF(phases) ? phases[p->phase] : "Unknown", "ips",
			 ips ? ips : json_null(), "ingress", half_json(s, p, DIR_INGRESS),
			 "egress", half_json(s, p, DIR_EGRESS));
}

struct pods_ctx {
	struct list_ctx l;
	bool all;
};

static int list_pod(void *ud, const struct pod_obj *p)
{
	struct pods_ctx *c = ud;

	if (!c->all && !is_local(c->l.s->d, p))
		return 0;
	if (c->l.n++ >= STATUS_MAX_POD_LIST)
		return -E2BIG;
	json_array_append_new(c->l.items, pod_json(c->l.s, p));
	return 0;
}

enum MHD_Result status_h_pods(struct status_server *s, struct request *req)
{
	const char *all = arg(req, "all");
	struct pods_ctx c = {.l = {.s = s}};
	int r = 0;

	if (all && strcmp(all, "true") != 0 && strcmp(all, "false") != 0 && strcmp(all, "1") != 0 &&
	    strcmp(all, "0") != 0)
		return status_send_error(req->conn, MHD_HTTP_BAD_REQUEST,
					 "all: expected true or false", NULL);
	c.l.items = json_array();
	c.all = all && (strcmp(all, "true") == 0 || strcmp(all, "1") == 0);
	if (s->d->engine && c.l.items)
		r = engine_foreach_pod(s->d->engine, list_pod, &c);
	return send_list(req, c.l.items, r);
}

enum MHD_Result status_h_pod(struct status_server *s, struct request *req)
{
	char ns[MODEL_MAX_NAME_LEN + 1], name[MODEL_MAX_NAME_LEN + 1];
	const struct pod_obj *p;
	_cleanup_json_ json_t *j = NULL;

	if (url_name(req, "/v1/pods/", ns, name) < 0)
		return status_send_error(req->conn, MHD_HTTP_BAD_REQUEST,
					 "expected /v1/pods/NAMESPACE/NAME", NULL);
	p = s->d->engine ? engine_pod(s->d->engine, ns, name) : NULL;
	if (!p)
		return status_send_error(req->conn, MHD_HTTP_NOT_FOUND, "pod not found", NULL);
	j = pod_json(s, p);
	return j ? status_send_json(req->conn, MHD_HTTP_OK, j, NULL) : MHD_NO;
}

/* ---- explain and matrix ---- */

static unsigned query_code(int r)
{
	switch (r) {
	case -ENOENT:
		return MHD_HTTP_NOT_FOUND;
	case -EINVAL:
	case -EADDRNOTAVAIL:
		return MHD_HTTP_BAD_REQUEST;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

/* Parse the common arguments; on failure an error was queued and *ret holds its result. */
static bool parse_query(struct request *req, struct query *q, bool explain, enum MHD_Result *ret)
{
	const char *port = arg(req, "port"), *proto = arg(req, "protocol"),
		   *family = arg(req, "family"), *output = arg(req, "output");
	const char *bad = NULL;

	*q = (struct query){.proto = PROTO_TCP};
	if (!port || query_parse_port(port, &q->port) < 0)
		bad = "port: expected a number in 1..65535";
	else if (proto && query_parse_proto(proto, &q->proto) < 0)
		bad = "protocol: expected TCP, UDP or SCTP";
	else if (family && query_parse_family(family, &q->family) < 0)
		bad = "family: expected 4 or 6";
	else if (output && strcmp(output, "json") != 0 && strcmp(output, "text") != 0)
		bad = "output: expected json or text";
	else if (explain && (!(q->from = arg(req, "from")) || !(q->to = arg(req, "to"))))
		bad = "from and to are required";
	if (bad) {
		*ret = status_send_error(req->conn, MHD_HTTP_BAD_REQUEST, bad, NULL);
		return false;
	}
	q->json = !output || strcmp(output, "json") == 0;
	if (!explain)
		q->namespaces = arg(req, "namespaces");
	return true;
}

static enum MHD_Result run_query(struct status_server *s, struct request *req, bool explain)
{
	struct query_out o = {0};
	struct query q;
	enum MHD_Result ret;
	char *body = NULL, *warn = NULL;
	size_t body_len = 0, warn_len = 0;
	struct MHD_Response *resp;
	int r;

	if (!parse_query(req, &q, explain, &ret))
		return ret;
	if (!s->d->engine)
		return status_send_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no engine yet",
					 NULL);
	o.out = open_memstream(&body, &body_len);
	o.warn = open_memstream(&warn, &warn_len);
	if (!o.out || !o.warn) {
		if (o.out)
			fclose(o.out);
		if (o.warn)
			fclose(o.warn);
		free(body);
		free(warn);
		return status_send_error(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
					 "out of memory", NULL);
	}
	r = explain ? query_explain(s->d->engine, &q, &o) : query_matrix(s->d->engine, &q, &o);
	if (fclose(o.out) != 0 && r >= 0)
		r = -EIO;
	(void)fclose(o.warn);
	if (r < 0 || body_len > STATUS_MAX_RESPONSE) {
		free(body);
		free(warn);
		if (r >= 0)
			return status_send_error(req->conn, MHD_HTTP_INSUFFICIENT_STORAGE,
						 "answer too large", NULL);
		return status_send_error(req->conn, query_code(r),
					 o.err[0] ? o.err : strerror(-r), NULL);
	}
	resp = MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		free(warn);
		return MHD_NO;
	}
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				      q.json ? "application/json" : "text/plain; charset=utf-8");
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (explain)
		(void)MHD_add_response_header(resp, "X-Netpold-Verdict",
					      r == QUERY_ALLOWED ? "allowed" : "denied");
	if (warn_len) {
		/* one header line: notes joined with "; " */
		if (warn_len > WARNINGS_MAX)
			warn[WARNINGS_MAX] = '\0';
		while (warn_len && warn[warn_len - 1] == '\n')
			warn[--warn_len] = '\0';
		for (char *p = warn; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ';';
		(void)MHD_add_response_header(resp, "X-Netpold-Warnings", warn);
	}
	free(warn);
	ret = MHD_queue_response(req->conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result status_h_explain(struct status_server *s, struct request *req)
{
	return run_query(s, req, true);
}

enum MHD_Result status_h_matrix(struct status_server *s, struct request *req)
{
	return run_query(s, req, false);
}

/* ---- metrics ---- */

enum MHD_Result status_h_metrics(struct status_server *s, struct request *req)
{
	const struct daemon *d = s->d;
	struct metrics_snapshot snap = {
		.ready = d->ready,
		.degraded = d->degraded,
		.reconciles = d->reconciles,
		.reconcile_failures = d->reconcile_failures,
		.local_pods = d->counts.local_pods,
		.deny_records_dropped = event_hub_dropped(d->events),
		.start_time_seconds = (double)d->started.tv_sec + (double)d->started.tv_nsec / 1e9,
	};
	struct dataplane_stats st = {0};
	char *body = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	if (d->dp)
		dataplane_get_stats(d->dp, &st);
	if (d->nflog) {
		struct nflog_stats ns;

		nflog_get_stats(d->nflog, &ns);
		snap.has_nflog = true;
		snap.nflog_malformed = ns.malformed;
		snap.nflog_overruns = ns.overruns;
		snap.nflog_unattributed = ns.unattributed;
		snap.nflog_audit_records = ns.audit_records;
	}
	metrics_read_pod_latency(s->m, &d->pod_latency);
	snap.commits = st.commits;
	snap.kernel_errors = st.kernel_errors;
	snap.drift_repairs = st.drift_repairs;
	snap.set_elements = st.set_elements;
	snap.objects[OBJ_NAMESPACE] = d->counts.namespaces;
	snap.objects[OBJ_POD] = d->counts.pods;
	snap.objects[OBJ_NETWORK_POLICY] = d->counts.policies;
	snap.objects[OBJ_SERVICE] = d->counts.services;
	if (d->source) {
		snap.source_errors = d->source->ops->n_errors(d->source);
		if (k8s_source_is(d->source)) {
			struct k8s_resource_status rs[METRICS_MAX_RESOURCES];
			int n = k8s_source_status(d->source, rs, ELEMENTSOF(rs));

			for (int i = 0; i < n; i++)
				snap.resources[snap.n_resources++] = (struct metrics_resource){
					.resource = rs[i].resource,
					.watch_restarts = rs[i].watch_restarts,
					.relists = rs[i].relists,
				};
		}
	}
	f = open_memstream(&body, &len);
	if (!f)
		return status_send_error(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
					 "out of memory", NULL);
	r = metrics_write(s->m, &snap, f);
	if (fclose(f) != 0 || r < 0) {
		free(body);
		return status_send_error(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
					 "cannot write metrics", NULL);
	}
	return status_send_buffer(req->conn, MHD_HTTP_OK, body, len,
				  "text/plain; version=0.0.4; charset=utf-8");
}

/* ---- events ---- */

struct event_stream {
	struct status_server *s;
	struct MHD_Connection *conn;
	struct event_sub *sub;
	uint64_t dropped_reported;
	bool suspended;
	bool keepalive; /* write an empty line: a dead reader then shows as a write error */
	char line[EVENT_LINE_MAX];
	size_t len, off;
	struct event_stream *next, **pprev;
};

/* One deny record as a line of JSON (nflog_format_json's shape); its length, 0 if it did not fit. */
static size_t format_record(const struct deny_record *r, char *buf, size_t max)
{
	size_t n;

	if (max < 2)
		return 0;
	n = nflog_format_json(r, buf, max - 1);
	if (n + 2 >= max)
		return 0;
	buf[n++] = '\n';
	buf[n] = '\0';
	return n;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct event_stream *st = cls;
	struct deny_record r;
	size_t n;

	while (st->off == st->len) {
		uint64_t dropped = event_sub_dropped(st->sub);

		st->off = st->len = 0;
		if (st->s->stopping)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (st->keepalive) {
			st->keepalive = false;
			st->line[0] = '\n';
			st->len = 1;
			break;
		}
		if (dropped != st->dropped_reported) {
			/* tell the reader it fell behind rather than hide the gap */
			int l = snprintf(st->line, sizeof(st->line), "{\"dropped\":%" PRIu64 "}\n",
					 dropped - st->dropped_reported);

			st->dropped_reported = dropped;
			st->len = (size_t)l;
			break;
		}
		if (!event_sub_pop(st->sub, &r)) {
			/* nothing to send: sleep until the hub publishes */
			st->suspended = true;
			MHD_suspend_connection(st->conn);
			return 0;
		}
		st->len = format_record(&r, st->line, sizeof(st->line));
	}
	n = st->len - st->off;
	if (n > max)
		n = max;
	memcpy(buf, st->line + st->off, n);
	st->off += n;
	return (ssize_t)n;
}

static void stream_wake(struct event_stream *st)
{
	if (!st->suspended)
		return;
	st->suspended = false;
	MHD_resume_connection(st->conn);
	status_kick(&st->s->sock);
}

void status_events_keepalive(struct loop *l, void *ud)
{
	struct status_server *s = ud;

	for (struct event_stream *st = s->streams; st; st = st->next) {
		st->keepalive = true;
		stream_wake(st);
	}
	if (s->streams)
		loop_timer_arm(s->keepalive_timer, STATUS_EVENTS_KEEPALIVE_USEC);
}

static void on_record(void *ud, const struct deny_record *r)
{
	stream_wake(ud);
}

static void stream_free(void *cls)
{
	struct event_stream *st = cls;

	if (st->pprev) {
		*st->pprev = st->next;
		if (st->next)
			st->next->pprev = st->pprev;
		st->s->n_streams--;
	}
	event_sub_free(st->sub);
	free(st);
}

unsigned status_events_close_all(struct status_server *s)
{
	unsigned n = 0;

	for (struct event_stream *st = s->streams; st; st = st->next)
		if (st->suspended) {
			st->suspended = false;
			MHD_resume_connection(st->conn);
			n++;
		}
	return n;
}

static enum MHD_Result recent_events(struct status_server *s, struct request *req)
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);

	if (!f)
		return status_send_error(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
					 "out of memory", NULL);
	for (size_t i = 0; i < s->n_recent; i++) {
		char line[EVENT_LINE_MAX];
		size_t idx = (s->recent_head + i) % STATUS_RECENT_EVENTS;
		size_t n = format_record(&s->recent[idx], line, sizeof(line));

		fwrite(line, 1, n, f);
	}
	if (fclose(f) != 0) {
		free(body);
		return status_send_error(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
					 "out of memory", NULL);
	}
	return status_send_buffer(req->conn, MHD_HTTP_OK, body, len, "application/x-ndjson");
}

enum MHD_Result status_h_events(struct status_server *s, struct request *req)
{
	const char *follow = arg(req, "follow");
	struct MHD_Response *resp;
	struct event_stream *st;
	enum MHD_Result ret;
	int r;

	if (follow && strcmp(follow, "false") == 0)
		return recent_events(s, req);
	if (follow && strcmp(follow, "true") != 0)
		return status_send_error(req->conn, MHD_HTTP_BAD_REQUEST,
					 "follow: expected true or false", NULL);
	if (s->stopping || !s->d->events)
		return status_send_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE,
					 "no event hub", NULL);
	if (s->n_streams >= STATUS_MAX_EVENT_STREAMS)
		return status_send_error(req->conn, MHD_HTTP_TOO_MANY_REQUESTS,
					 "too many event streams", NULL);
	st = calloc(1, sizeof(*st));
	if (!st)
		return MHD_NO;
	st->s = s;
	st->conn = req->conn;
	r = event_hub_subscribe(s->d->events, on_record, st, &st->sub);
	if (r < 0) {
		free(st);
		return status_send_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE,
					 "cannot subscribe", NULL);
	}
	st->next = s->streams;
	if (s->streams)
		s->streams->pprev = &st->next;
	st->pprev = &s->streams;
	s->streams = st;
	s->n_streams++;
	if (!loop_timer_armed(s->keepalive_timer))
		loop_timer_arm(s->keepalive_timer, STATUS_EVENTS_KEEPALIVE_USEC);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, EVENT_LINE_MAX, stream_read, st,
						 stream_free);
	if (!resp) {
		stream_free(st);
		return MHD_NO;
	}
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(req->conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}
