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
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "daemon.h"
#include "log.h"
#include "status.h"

struct request {
	struct status_server *s;
	struct MHD_Connection *conn;
	size_t body_len;
	/* long poll: set while suspended in POST /v1/sync */
	bool waiting;
	bool answered; /* resumed: answer with code + status object */
	unsigned code;
	const char *why; /* reason for a non-200 long-poll answer, static */
	uint64_t ticket;
	uint64_t deadline;
	struct request *next, **pprev;
};

struct status_server {
	struct daemon *d;
	struct MHD_Daemon *mhd;
	char *path;
	dev_t dev; /* identity of the socket we bound, so we only unlink our own */
	ino_t ino;
	struct loop_io *io;
	struct loop_timer *mhd_timer;
	struct loop_timer *wait_timer;
	struct request *waiters;
	bool stopping;
};

enum method {
	M_GET = 1 << 0,
	M_HEAD = 1 << 1,
	M_POST = 1 << 2,
};

typedef enum MHD_Result (*route_fn)(struct status_server *s, struct request *req);

struct route {
	const char *path;
	unsigned methods;
	route_fn handler;
};

/* jansson's own json_decrefp (json_auto_t) accepts NULL */
#define _cleanup_json_ _cleanup_(json_decrefp)

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned code, json_t *body,
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

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned code, const char *msg,
				  const char *allow)
{
	_cleanup_json_ json_t *j = json_pack("{s:s, s:i}", "error", msg, "code", (int)code);

	if (!j)
		return MHD_NO;
	return send_json(conn, code, j, allow);
}

static json_t *json_time(const struct timespec *ts)
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

static json_t *json_str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

/* The object of GET /v1/status, also the answer of POST /v1/sync. */
static json_t *status_object(const struct daemon *d)
{
	struct dataplane_stats st = {0};
	json_t *last;
	const struct source *src = d->source;

	if (d->dp)
		dataplane_get_stats(d->dp, &st);
	if (d->last.valid)
		last = json_pack("{s:o, s:f, s:I, s:I, s:o}", "time", json_time(&d->last.time),
				 "duration_seconds", d->last.duration_seconds, "batch_messages",
				 (json_int_t)d->last.batch_messages, "batch_elements",
				 (json_int_t)d->last.batch_elements, "error",
				 json_str_or_null(d->last.error_text));
	else
		last = json_null();

	return json_pack(
		"{s:s, s:s, s:o, s:o, s:b, s:b, s:o, s:I, s:I, s:o, s:{s:s, s:s, s:I}, "
		"s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:I}",
		"node", d->cfg.node_name, "version", NETPOLD_VERSION, "started",
		json_time(&d->started), "source",
		src ? json_pack("{s:s, s:s, s:b, s:I}", "kind", src->ops->kind, "path",
				src->ops->location(src), "synced", src->ops->synced(src), "errors",
				(json_int_t)src->ops->n_errors(src))
		    : json_null(),
		"ready", d->ready, "degraded", d->degraded, "reason", json_str_or_null(d->reason),
		"input_generation", (json_int_t)d->input_generation, "programmed_generation",
		(json_int_t)d->programmed_generation, "last_reconcile", last, "table", "name",
		d->cfg.table, "deny_action", deny_action_name(d->cfg.deny_action), "drift_repairs",
		(json_int_t)st.drift_repairs, "counts", "namespaces",
		(json_int_t)d->counts.namespaces, "pods", (json_int_t)d->counts.pods,
		"local_pods", (json_int_t)d->counts.local_pods, "policies",
		(json_int_t)d->counts.policies, "services", (json_int_t)d->counts.services,
		"set_elements", (json_int_t)st.set_elements, "reconciles",
		(json_int_t)d->reconciles, "reconcile_failures",
		(json_int_t)d->reconcile_failures);
}

static enum MHD_Result send_status(struct status_server *s, struct request *req, unsigned code)
{
	_cleanup_json_ json_t *j = status_object(s->d);

	if (!j)
		return send_error(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
	return send_json(req->conn, code, j, NULL);
}

static enum MHD_Result h_status(struct status_server *s, struct request *req)
{
	return send_status(s, req, MHD_HTTP_OK);
}

static enum MHD_Result h_healthz(struct status_server *s, struct request *req)
{
	_cleanup_json_ json_t *j = json_pack("{s:s}", "status", "ok");

	return j ? send_json(req->conn, MHD_HTTP_OK, j, NULL) : MHD_NO;
}

static enum MHD_Result h_readyz(struct status_server *s, struct request *req)
{
	const struct daemon *d = s->d;
	bool ok = d->ready && !d->degraded;
	_cleanup_json_ json_t *j = json_pack(
		"{s:b, s:b, s:b, s:o}", "ok", ok, "ready", d->ready, "degraded", d->degraded,
		"reason", json_str_or_null(d->reason));

	return j ? send_json(req->conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, j, NULL)
		 : MHD_NO;
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

		return j ? send_json(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, j, NULL) : MHD_NO;
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

/* Routes; later: /v1/policies, /v1/pods, /v1/explain, /v1/events. */
static const struct route routes[] = {
	{"/v1/status", M_GET | M_HEAD, h_status},
	{"/v1/sync", M_POST, h_sync},
	{"/healthz", M_GET | M_HEAD, h_healthz},
	{"/readyz", M_GET | M_HEAD, h_readyz},
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
	case M_GET | M_HEAD:
		return "GET, HEAD";
	default:
		return "GET, HEAD, POST";
	}
}

static enum MHD_Result route(struct status_server *s, struct request *req, const char *url,
			     const char *method)
{
	unsigned m = method_bit(method);

	for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
		if (strcmp(routes[i].path, url) != 0)
			continue;
		if (!(routes[i].methods & m))
			return send_error(req->conn, MHD_HTTP_METHOD_NOT_ALLOWED,
					  "method not allowed", allow_header(routes[i].methods));
		return routes[i].handler(s, req);
	}
	return send_error(req->conn, MHD_HTTP_NOT_FOUND, "not found", NULL);
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
	struct status_server *s = cls;
	struct request *req = *con_cls;

	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		req->s = s;
		req->conn = conn;
		*con_cls = req;
		if (strlen(url) > STATUS_MAX_URL_LEN)
			return send_error(conn, MHD_HTTP_URI_TOO_LONG, "URL too long", NULL);
		/* refuse a declared big body now: MHD cannot answer once the upload has begun */
		if (content_length_too_big(conn))
			return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large",
					  NULL);
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
			return j ? send_json(conn, req->code, j, NULL) : MHD_NO;
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

static void update_mhd_timer(struct status_server *s)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(s->mhd, &ms) == MHD_YES)
		loop_timer_arm(s->mhd_timer, (uint64_t)ms * 1000u);
	else
		loop_timer_disarm(s->mhd_timer);
}

static void run_mhd(struct status_server *s)
{
	if (MHD_run(s->mhd) != MHD_YES)
		log_debug("status: MHD_run failed");
	update_mhd_timer(s);
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
		run_mhd(s);
	arm_wait_timer(s);
}

void status_server_reconciled(struct status_server *s, uint64_t covered, bool ok)
{
	if (!s || !covered)
		return;
	if (answer_waiters(s, covered, 0, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
			   ok ? NULL : "reconcile failed; see reason"))
		run_mhd(s);
	arm_wait_timer(s);
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

static void remove_socket(struct status_server *s)
{
	struct stat st;

	/* only our own: a successor may already have bound the path */
	if (s->ino && lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		(void)unlink(s->path);
}

int status_server_new(struct daemon *d, struct status_server **ret)
{
	struct status_server *s;
	const union MHD_DaemonInfo *info;
	int fd = -1, r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return log_error_errno(-ENOMEM, "status server");
	s->d = d;
	s->path = strdup(d->cfg.status_socket);
	if (!s->path) {
		free(s);
		return log_error_errno(-ENOMEM, "status server");
	}
	r = make_socket(s, d->cfg.socket_group, &fd);
	if (r < 0)
		goto fail;

	/* no MHD thread: its epoll fd and its timeout are served by our loop */
	s->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_LISTEN_SOCKET,
		fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)STATUS_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)STATUS_CONNECTION_MEMORY,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)STATUS_TIMEOUT_SECONDS,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
	if (!s->mhd) {
		close(fd);
		r = log_error_errno(-EIO, "cannot start the HTTP server on %s", s->path);
		goto fail;
	}
	/* from here MHD owns fd and closes it in MHD_stop_daemon */
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		r = log_error_errno(-EIO, "status: libmicrohttpd has no epoll fd");
		goto fail;
	}
	r = loop_io_add(d->loop, info->epoll_fd, EPOLLIN, on_mhd_fd, s, &s->io);
	if (r >= 0)
		r = loop_timer_new(d->loop, on_mhd_timer, s, &s->mhd_timer);
	if (r >= 0)
		r = loop_timer_new(d->loop, on_wait_timer, s, &s->wait_timer);
	if (r < 0) {
		log_error_errno(r, "status: cannot register with the event loop");
		goto fail;
	}
	update_mhd_timer(s);
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
	if (s->mhd) {
		MHD_socket lfd = MHD_quiesce_daemon(s->mhd); /* accept nothing new */

		if (lfd != MHD_INVALID_SOCKET)
			close(lfd);
		/* MHD must not be stopped with suspended connections: answer them first */
		s->stopping = true;
		if (answer_waiters(s, 0, 0, MHD_HTTP_SERVICE_UNAVAILABLE, "netpold is stopping"))
			for (int i = 0; i < 3; i++)
				(void)MHD_run(s->mhd);
		MHD_stop_daemon(s->mhd);
	}
	loop_io_free(s->io);
	loop_timer_free(s->mhd_timer);
	loop_timer_free(s->wait_timer);
	remove_socket(s);
	free(s->path);
	free(s);
}
