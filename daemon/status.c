/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The status socket: libmicrohttpd in external-epoll mode on a unix socket
 * we create ourselves, its epoll fd and timeout served by the daemon's loop.
 * A small router maps method + path to handlers; every answer is JSON.
 * POST /v1/sync suspends its connection until the daemon has reconciled.
 */
#include <grp.h>
#include <jansson.h>
#include <libgen.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "daemon.h"
#include "events.h"
#include "k8s.h"
#include "log.h"
#include "metrics.h"
#include "status_int.h"

enum MHD_Result status_send_json(struct MHD_Connection *conn, unsigned code, json_t *body,
				 const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text;
	size_t len;

	text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(6));
	if (!text)
		return MHD_NO; /* out of memory: MHD closes the connection */
	len = strlen(text);
	if (len > STATUS_MAX_RESPONSE) {
		free(text);
		return status_send_error(conn, MHD_HTTP_INSUFFICIENT_STORAGE, "answer too large",
					 NULL);
	}
	{
		char *t = realloc(text, len + 2);

		if (!t) {
			free(text);
			return MHD_NO;
		}
		text = t;
		text[len++] = '\n';
		text[len] = '\0';
	}
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result status_send_buffer(struct MHD_Connection *conn, unsigned code, char *buf,
				   size_t len, const char *content_type)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(buf);
		return MHD_NO;
	}
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result status_send_error(struct MHD_Connection *conn, unsigned code, const char *msg,
				  const char *allow)
{
	_cleanup_json_ json_t *j = json_pack("{s:s, s:i}", "error", msg, "code", (int)code);

	if (!j)
		return MHD_NO;
	return status_send_json(conn, code, j, allow);
}

json_t *status_json_time(const struct timespec *ts)
{
	struct tm tm;
	char buf[64];

	if (!gmtime_r(&ts->tv_sec, &tm))
		return json_null();
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 ts->tv_nsec / 1000000);
	return json_string(buf);
}

json_t *status_json_str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *source_object(const struct source *src)
{
	struct k8s_resource_status rs[8];
	json_t *o, *res;
	int n;

	if (!src)
		return json_null();
	o = json_pack("{s:s, s:s, s:b, s:I, s:o}", "kind", src->ops->kind, "path",
		      src->ops->location(src), "synced", src->ops->synced(src), "errors",
		      (json_int_t)src->ops->n_errors(src), "degraded",
		      status_json_str_or_null(source_degraded(src)));
	if (!o || !k8s_source_is(src))
		return o;
	n = k8s_source_status(src, rs, ELEMENTSOF(rs));
	res = json_array();
	for (int i = 0; res && i < n; i++)
		json_array_append_new(
			res,
			json_pack("{s:s, s:s, s:b, s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
				  "s:I}",
				  "resource", rs[i].resource, "state", rs[i].state, "synced",
				  rs[i].synced, "resource_version",
				  rs[i].resource_version ? rs[i].resource_version : "",
				  "last_error", status_json_str_or_null(rs[i].last_error), "lists",
				  (json_int_t)rs[i].lists, "relists", (json_int_t)rs[i].relists,
				  "watches", (json_int_t)rs[i].watches, "watch_restarts",
				  (json_int_t)rs[i].watch_restarts, "expired",
				  (json_int_t)rs[i].expired, "errors", (json_int_t)rs[i].errors,
				  "objects", (json_int_t)rs[i].objects, "invalid",
				  (json_int_t)rs[i].invalid));
	if (res)
		json_object_set_new(o, "resources", res);
	return o;
}

/* The object of GET /v1/status, also the answer of POST /v1/sync. */
static json_t *status_object(const struct daemon *d)
{
	struct dataplane_stats st = {0};
	struct engine_counts ec = {0};
	json_t *last;

	if (d->dp)
		dataplane_get_stats(d->dp, &st);
	if (d->engine)
		engine_counts(d->engine, &ec);
	if (d->last.valid)
		last = json_pack("{s:o, s:f, s:I, s:I, s:o}", "time",
				 status_json_time(&d->last.time), "duration_seconds",
				 d->last.duration_seconds, "batch_messages",
				 (json_int_t)d->last.batch_messages, "batch_elements",
				 (json_int_t)d->last.batch_elements, "error",
				 status_json_str_or_null(d->last.error_text));
	else
		last = json_null();

	return json_pack(
		"{s:s, s:s, s:o, s:o, s:b, s:b, s:o, s:I, s:I, s:o, s:{s:s, s:s, s:I, s:I, s:I}, "
		"s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I}, s:I, s:I}",
		"node", d->cfg.node_name, "version", NETPOLD_VERSION, "started",
		status_json_time(&d->started), "source", source_object(d->source), "ready",
		d->ready, "degraded", d->degraded, "reason", status_json_str_or_null(d->reason),
		"input_generation", (json_int_t)d->input_generation, "programmed_generation",
		(json_int_t)d->programmed_generation, "last_reconcile", last, "table", "name",
		d->cfg.table, "deny_action", deny_action_name(d->cfg.deny_action), "drift_repairs",
		(json_int_t)st.drift_repairs, "commits", (json_int_t)st.commits, "kernel_errors",
		(json_int_t)st.kernel_errors, "counts", "namespaces",
		(json_int_t)d->counts.namespaces, "pods", (json_int_t)d->counts.pods,
		"local_pods", (json_int_t)d->counts.local_pods, "policies",
		(json_int_t)d->counts.policies, "services", (json_int_t)d->counts.services,
		"rules", (json_int_t)ec.rules, "set_elements", (json_int_t)st.set_elements,
		"events", "published", (json_int_t)event_hub_published(d->events), "dropped",
		(json_int_t)event_hub_dropped(d->events), "reconciles", (json_int_t)d->reconciles,
		"reconcile_failures", (json_int_t)d->reconcile_failures);
}

static enum MHD_Result send_status(struct status_server *s, struct request *req, unsigned code)
{
	_cleanup_json_ json_t *j = status_object(s->d);

	if (!j)
		return status_send_error(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory",
					 NULL);
	return status_send_json(req->conn, code, j, NULL);
}

static enum MHD_Result h_status(struct status_server *s, struct request *req)
{
	return send_status(s, req, MHD_HTTP_OK);
}

static enum MHD_Result h_healthz(struct status_server *s, struct request *req)
{
	_cleanup_json_ json_t *j = json_pack("{s:s}", "status", "ok");

	return j ? status_send_json(req->conn, MHD_HTTP_OK, j, NULL) : MHD_NO;
}

static enum MHD_Result h_readyz(struct status_server *s, struct request *req)
{
	const struct daemon *d = s->d;
	bool ok = d->ready && !d->degraded;
	_cleanup_json_ json_t *j = json_pack(
		"{s:b, s:b, s:b, s:o}", "ok", ok, "ready", d->ready, "degraded", d->degraded,
		"reason", status_json_str_or_null(d->reason));

	if (!j)
		return MHD_NO;
	return status_send_json(req->conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, j, NULL);
}

static void arm_wait_timer(struct status_server *s)
{
	uint64_t earliest = 0;

	for (struct request *r = s->waiters; r; r = r->next)
		if (!r->answered && (!earliest || r->deadline < earliest))
			earliest = r->deadline;
	if (earliest)
		loop_timer_arm_at(s->wait_timer, earliest);
	else
		loop_timer_disarm(s->wait_timer);
}

static void unlink_waiter(struct request *req)
{
	if (!req->pprev)
		return;
	*req->pprev = req->next;
	if (req->next)
		req->next->pprev = req->pprev;
	req->next = NULL;
	req->pprev = NULL;
}

static enum MHD_Result h_sync(struct status_server *s, struct request *req)
{
	if (s->stopping) {
		_cleanup_json_ json_t *j = json_pack("{s:s, s:i}", "error", "netpold is stopping",
						     "code", MHD_HTTP_SERVICE_UNAVAILABLE);

		if (!j)
			return MHD_NO;
		return status_send_json(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, j, NULL);
	}
	/* One ticket per request: the reconcile that reads the source after it covers it. */
	req->ticket = daemon_request_sync(s->d);
	req->deadline = loop_now_usec() + STATUS_SYNC_TIMEOUT_USEC;
	req->waiting = true;
	req->next = s->waiters;
	if (s->waiters)
		s->waiters->pprev = &req->next;
	req->pprev = &s->waiters;
	s->waiters = req;
	arm_wait_timer(s);
	MHD_suspend_connection(req->conn);
	return MHD_YES;
}

/* The status socket's routes. */
static const struct route sock_routes[] = {
	{"/v1/status", false, M_GET | M_HEAD, h_status},
	{"/v1/sync", false, M_POST, h_sync},
	{"/v1/policies", false, M_GET | M_HEAD, status_h_policies},
	{"/v1/policies/", true, M_GET | M_HEAD, status_h_policy},
	{"/v1/pods", false, M_GET | M_HEAD, status_h_pods},
	{"/v1/pods/", true, M_GET | M_HEAD, status_h_pod},
	{"/v1/explain", false, M_GET | M_HEAD, status_h_explain},
	{"/v1/matrix", false, M_GET | M_HEAD, status_h_matrix},
	{"/v1/events", false, M_GET, status_h_events},
	{"/metrics", false, M_GET | M_HEAD, status_h_metrics},
	{"/healthz", false, M_GET | M_HEAD, h_healthz},
	{"/readyz", false, M_GET | M_HEAD, h_readyz},
};

/* The metrics port's routes: what Prometheus and the kubelet's probes need, nothing else. */
static const struct route metrics_routes[] = {
	{"/metrics", false, M_GET | M_HEAD, status_h_metrics},
	{"/healthz", false, M_GET | M_HEAD, h_healthz},
	{"/readyz", false, M_GET | M_HEAD, h_readyz},
};

static unsigned method_bit(const char *m)
{
	if (strcmp(m, MHD_HTTP_METHOD_GET) == 0)
		return M_GET;
	if (strcmp(m, MHD_HTTP_METHOD_HEAD) == 0)
		return M_HEAD;
	if (strcmp(m, MHD_HTTP_METHOD_POST) == 0)
		return M_POST;
	return 0;
}

static const char *allow_header(unsigned methods)
{
	switch (methods) {
	case M_POST:
		return "POST";
	case M_GET:
		return "GET";
	case M_GET | M_HEAD:
		return "GET, HEAD";
	default:
		return "GET, HEAD, POST";
	}
}

static enum MHD_Result route(struct status_server *s, struct request *req, const char *url,
			     const char *method)
{
	const struct http_listener *l = req->lis;
	unsigned m = method_bit(method);

	for (size_t i = 0; i < l->n_routes; i++) {
		const struct route *rt = &l->routes[i];

		if (rt->prefix ? strncmp(rt->path, url, strlen(rt->path)) != 0
			       : strcmp(rt->path, url) != 0)
			continue;
		if (!(rt->methods & m))
			return status_send_error(req->conn, MHD_HTTP_METHOD_NOT_ALLOWED,
						 "method not allowed", allow_header(rt->methods));
		return rt->handler(s, req);
	}
	return status_send_error(req->conn, MHD_HTTP_NOT_FOUND, "not found", NULL);
}

static bool content_length_too_big(struct MHD_Connection *conn)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_CONTENT_LENGTH);
	int64_t n;

	if (!v)
		return false;
	/* an unparsable length is MHD's to refuse; only a clear big one is ours */
	return parse_int64(v, 0, INT64_MAX, &n) == 0 && n > STATUS_MAX_BODY;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_listener *lis = cls;
	struct status_server *s = lis->s;
	struct request *req = *con_cls;

	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		req->s = s;
		req->lis = lis;
		req->conn = conn;
		req->url = url;
		*con_cls = req;
		if (strlen(url) > STATUS_MAX_URL_LEN)
			return status_send_error(conn, MHD_HTTP_URI_TOO_LONG, "URL too long", NULL);
		/* refuse a declared big body now: MHD cannot answer once the upload has begun */
		if (content_length_too_big(conn))
			return status_send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE,
						 "request body too large", NULL);
		return MHD_YES;
	}
	if (req->answered) {
		/* resumed long poll */
		if (req->code == MHD_HTTP_OK)
			return send_status(s, req, MHD_HTTP_OK);
		{
			_cleanup_json_ json_t *j = status_object(s->d);

			if (j && req->why)
				json_object_set_new(j, "error", json_string(req->why));
			return j ? status_send_json(conn, req->code, j, NULL) : MHD_NO;
		}
	}
	if (*upload_data_size) {
		/* no endpoint reads a body yet: count it and drop it */
		req->body_len += *upload_data_size;
		*upload_data_size = 0;
		/* a chunked body without a length that grows too big: close the connection */
		return req->body_len > STATUS_MAX_BODY ? MHD_NO : MHD_YES;
	}
	return route(s, req, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;

	if (!req)
		return;
	unlink_waiter(req);
	free(req);
	*con_cls = NULL;
}

static void update_mhd_timer(struct http_listener *l)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(l->mhd, &ms) == MHD_YES)
		loop_timer_arm(l->timer, (uint64_t)ms * 1000u);
	else
		loop_timer_disarm(l->timer);
}

static void run_mhd(struct http_listener *l)
{
	if (!l->mhd)
		return;
	if (MHD_run(l->mhd) != MHD_YES)
		log_debug("%s: MHD_run failed", l->name);
	update_mhd_timer(l);
}

void status_kick(struct http_listener *l)
{
	if (l->mhd)
		loop_timer_arm(l->timer, 0);
}

static void on_mhd_fd(struct loop *l, int fd, uint32_t events, void *ud)
{
	run_mhd(ud);
}

static void on_mhd_timer(struct loop *l, void *ud)
{
	run_mhd(ud);
}

/* Resume the waiters matching pred with code; returns how many. */
static unsigned answer_waiters(struct status_server *s, uint64_t covered, uint64_t now,
			       unsigned code, const char *why)
{
	unsigned n = 0;

	for (struct request *r = s->waiters, *next; r; r = next) {
		next = r->next;
		if (r->answered)
			continue;
		if (covered && r->ticket > covered)
			continue;
		if (now && r->deadline > now)
			continue;
		r->answered = true;
		r->code = code;
		r->why = why;
		unlink_waiter(r);
		MHD_resume_connection(r->conn);
		n++;
	}
	return n;
}

static void on_wait_timer(struct loop *l, void *ud)
{
	struct status_server *s = ud;

	if (answer_waiters(s, 0, loop_now_usec(), MHD_HTTP_SERVICE_UNAVAILABLE,
			   "sync timed out before the state was programmed"))
		run_mhd(&s->sock);
	arm_wait_timer(s);
}

void status_server_attach_source(struct status_server *s, struct source *src)
{
	if (!s || !src)
		return;
	src->diag = status_track_diag;
	src->diag_ud = s->track;
}

void status_server_source_synced(struct status_server *s, int r, uint64_t since_usec)
{
	const struct source *src;
	unsigned kinds;

	if (!s)
		return;
	status_track_sync_done(s->track, r >= 0, s->d->source->ops->reports_all_errors);
	if (r <= 0)
		return;
	/* input changed: its programming latency runs until a commit includes it */
	src = s->d->source;
	kinds = src && src->ops->changed_kinds ? src->ops->changed_kinds(src) : 0;
	if (!s->pending_since || since_usec < s->pending_since)
		s->pending_since = since_usec;
	s->pending_kinds |= kinds ? kinds : METRICS_TRIGGER_UNKNOWN_BIT;
}

void status_server_reconciled(struct status_server *s, uint64_t covered, bool ok)
{
	const struct daemon *d;

	if (!s)
		return;
	d = s->d;
	if (d->last.valid)
		metrics_observe_reconcile(s->m, d->last.duration_seconds, d->last.batch_messages,
					  d->last.batch_elements);
	/* every reconcile: the ring of pod latencies is read before it can wrap */
	metrics_read_pod_latency(s->m, &d->pod_latency);
	if (d->programmed_generation != s->tracked_generation && d->engine) {
		/* this reconcile committed new input */
		s->tracked_generation = d->programmed_generation;
		status_track_programmed(s->track, d);
		if (s->pending_since) {
			double secs = (double)(loop_now_usec() - s->pending_since) / 1e6;

			metrics_observe_latency(s->m, s->pending_kinds, secs);
			s->pending_since = 0;
			s->pending_kinds = 0;
		}
	}
	if (!covered)
		return;
	if (answer_waiters(s, covered, 0, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
			   ok ? NULL : "reconcile failed; see reason"))
		run_mhd(&s->sock);
	arm_wait_timer(s);
}

static void on_deny(void *ud, const struct deny_record *r)
{
	struct status_server *s = ud;
	char ns[MODEL_MAX_NAME_LEN + 1];
	const char *who = r->dir == DIR_INGRESS ? r->dst : r->src;
	const char *slash = strchr(who, '/');
	size_t n;
	struct deny_record tmp;

	/* the callback is enough here: keep the subscription's queue empty */
	while (event_sub_pop(s->deny_sub, &tmp))
		;
	if (s->n_recent == STATUS_RECENT_EVENTS) {
		s->recent_head = (s->recent_head + 1) % STATUS_RECENT_EVENTS;
		s->n_recent--;
	}
	s->recent[(s->recent_head + s->n_recent++) % STATUS_RECENT_EVENTS] = *r;
	/* counted on the protected side: the pod whose isolation denied it */
	if (!slash) {
		metrics_count_deny(s->m, NULL);
		return;
	}
	n = (size_t)(slash - who);
	if (n >= sizeof(ns))
		n = sizeof(ns) - 1;
	memcpy(ns, who, n);
	ns[n] = '\0';
	metrics_count_deny(s->m, ns);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_debug("status: %s", buf);
}

static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	char *dir;

	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int resolve_group(const char *name, gid_t *ret)
{
	struct group gr, *res = NULL;
	char buf[4096];
	int64_t v;
	int r;

	r = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
	if (r == 0 && res) {
		*ret = res->gr_gid;
		return 0;
	}
	if (parse_int64(name, 0, UINT32_MAX - 1, &v) == 0) {
		*ret = (gid_t)v;
		return 0;
	}
	return r > 0 ? -r : -ESRCH;
}

/* Whether something accepts connections on path: a live server means refuse to start. */
static int probe_existing(const struct sockaddr_un *sa)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return log_error_errno(-EEXIST, "status socket %s exists and is not a socket",
				       sa->sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return log_error_errno(-EADDRINUSE,
				       "another netpold answers on %s; refusing to start",
				       sa->sun_path);
	if (errno != ECONNREFUSED)
		return log_error_errno(-errno, "cannot probe status socket %s", sa->sun_path);
	log_info("status: removing stale socket %s", sa->sun_path);
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return log_error_errno(-errno, "cannot remove stale socket %s", sa->sun_path);
	return 0;
}

static int make_socket(struct status_server *s, const char *group, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	struct stat st;
	mode_t old;
	gid_t gid = (gid_t)-1;
	int r;

	if (strlen(s->path) >= sizeof(sa.sun_path))
		return log_error_errno(-ENAMETOOLONG, "status socket path %s", s->path);
	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	if (group) {
		r = resolve_group(group, &gid);
		if (r < 0)
			return log_error_errno(r, "unknown socket group %s", group);
	}
	r = mkdir_parents(s->path);
	if (r < 0)
		return log_error_errno(r, "cannot create the directory of %s", s->path);
	r = probe_existing(&sa);
	if (r < 0)
		return r;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(-errno, "cannot create the status socket");
	/* no window where the socket is reachable with wider permissions */
	old = umask(0117);
	r = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return log_error_errno(-errno, "cannot bind the status socket %s", s->path);
	if (gid != (gid_t)-1 && chown(s->path, (uid_t)-1, gid) < 0)
		r = log_error_errno(-errno, "cannot give %s to group %s", s->path, group);
	else if (chmod(s->path, 0660) < 0)
		r = log_error_errno(-errno, "cannot chmod %s", s->path);
	else if (stat(s->path, &st) < 0)
		r = -errno;
	else if (listen(fd, 64) < 0)
		r = log_error_errno(-errno, "cannot listen on %s", s->path);
	if (r < 0) {
		(void)unlink(s->path);
		return r;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	*ret_fd = fd;
	fd = -1;
	return 0;
}

/* The metrics port: a numeric HOST:PORT, no name resolution inside the daemon. */
static int make_tcp_socket(const char *address, int *ret_fd)
{
	struct sockaddr_storage sa;
	socklen_t len;
	_cleanup_close_ int fd = -1;
	int one = 1, r;

	r = metrics_address_parse(address, &sa, &len);
	if (r < 0)
		return log_error_errno(r, "invalid metrics address %s", address);
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(-errno, "cannot create the metrics socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, len) < 0)
		return log_error_errno(-errno, "cannot bind the metrics address %s", address);
	if (listen(fd, 64) < 0)
		return log_error_errno(-errno, "cannot listen on %s", address);
	*ret_fd = fd;
	fd = -1;
	return 0;
}

static void remove_socket(struct status_server *s)
{
	struct stat st;

	/* only our own: a successor may already have bound the path */
	if (s->ino && lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		(void)unlink(s->path);
}

/* Serve fd (taken over, even on failure) with MHD on the daemon's loop. */
static int listener_start(struct status_server *s, struct http_listener *l, const char *name,
			  int fd, const struct route *routes, size_t n_routes, unsigned max_conns)
{
	const union MHD_DaemonInfo *info;
	int r;

	l->s = s;
	l->name = name;
	l->routes = routes;
	l->n_routes = n_routes;
	/* no MHD thread: its epoll fd and its timeout are served by our loop */
	l->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		on_request, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_LISTEN_SOCKET,
		fd, MHD_OPTION_CONNECTION_LIMIT, max_conns, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)STATUS_CONNECTION_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)STATUS_TIMEOUT_SECONDS, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_END);
	if (!l->mhd) {
		close(fd);
		return log_error_errno(-EIO, "%s: cannot start the HTTP server", name);
	}
	/* from here MHD owns fd and closes it in MHD_stop_daemon */
	info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info)
		return log_error_errno(-EIO, "%s: libmicrohttpd has no epoll fd", name);
	r = loop_io_add(s->d->loop, info->epoll_fd, EPOLLIN, on_mhd_fd, l, &l->io);
	if (r >= 0)
		r = loop_timer_new(s->d->loop, on_mhd_timer, l, &l->timer);
	if (r < 0)
		return log_error_errno(r, "%s: cannot register with the event loop", name);
	update_mhd_timer(l);
	return 0;
}

static void listener_stop(struct http_listener *l)
{
	if (l->mhd) {
		MHD_socket lfd = MHD_quiesce_daemon(l->mhd); /* accept nothing new */

		if (lfd != MHD_INVALID_SOCKET)
			close(lfd);
	}
}

static void listener_free(struct http_listener *l)
{
	if (l->mhd)
		MHD_stop_daemon(l->mhd);
	l->mhd = NULL;
	loop_io_free(l->io);
	loop_timer_free(l->timer);
	l->io = NULL;
	l->timer = NULL;
}

int status_server_new(struct daemon *d, struct status_server **ret)
{
	struct status_server *s;
	int fd = -1, r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return log_error_errno(-ENOMEM, "status server");
	s->d = d;
	s->path = strdup(d->cfg.status_socket);
	if (!s->path || status_track_new(&s->track) < 0 || metrics_new(&s->m) < 0) {
		r = log_error_errno(-ENOMEM, "status server");
		goto fail;
	}
	if (d->events) {
		r = event_hub_subscribe(d->events, on_deny, s, &s->deny_sub);
		if (r < 0) {
			log_error_errno(r, "status: cannot subscribe to deny records");
			goto fail;
		}
	}
	r = make_socket(s, d->cfg.socket_group, &fd);
	if (r < 0)
		goto fail;
	r = loop_timer_new(d->loop, on_wait_timer, s, &s->wait_timer);
	if (r >= 0)
		r = loop_timer_new(d->loop, status_events_keepalive, s, &s->keepalive_timer);
	if (r < 0) {
		close(fd);
		log_error_errno(r, "status: cannot create a timer");
		goto fail;
	}
	r = listener_start(s, &s->sock, "status", fd, sock_routes, ELEMENTSOF(sock_routes),
			   STATUS_MAX_CONNECTIONS);
	if (r < 0)
		goto fail;
	if (d->cfg.metrics_address) {
		r = make_tcp_socket(d->cfg.metrics_address, &fd);
		if (r < 0)
			goto fail;
		r = listener_start(s, &s->metrics, "metrics", fd, metrics_routes,
				   ELEMENTSOF(metrics_routes), STATUS_METRICS_MAX_CONNECTIONS);
		if (r < 0)
			goto fail;
		log_info("metrics: serving http://%s/metrics", d->cfg.metrics_address);
	}
	log_info("status: serving on %s", s->path);
	*ret = s;
	return 0;
fail:
	status_server_free(s);
	return r;
}

void status_server_free(struct status_server *s)
{
	if (!s)
		return;
	listener_stop(&s->metrics);
	listener_stop(&s->sock);
	s->stopping = true;
	if (s->sock.mhd) {
		/* MHD must not be stopped with suspended connections: answer them first */
		unsigned n = answer_waiters(s, 0, 0, MHD_HTTP_SERVICE_UNAVAILABLE,
					    "netpold is stopping");

		n += status_events_close_all(s);
		for (unsigned i = 0; n && i < 3; i++)
			(void)MHD_run(s->sock.mhd);
	}
	listener_free(&s->metrics);
	listener_free(&s->sock);
	loop_timer_free(s->wait_timer);
	loop_timer_free(s->keepalive_timer);
	event_sub_free(s->deny_sub);
	status_track_free(s->track);
	metrics_free(s->m);
	remove_socket(s);
	free(s->path);
	free(s);
}
