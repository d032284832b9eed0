/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Kubernetes API source. Four list/watch machines (k8s_watch.c) run
 * their requests through k8s_http.c on the loop; watch bodies are framed by
 * k8s_framer.c and decoded into each resource's store, whose queued changes
 * reach the engine only in sync(). Credentials come from k8s_auth.c; this
 * file owns the requests' outcome and its logging.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <sys/random.h>

#include "decode.h"
#include "k8s.h"
#include "k8s_auth.h"
#include "k8s_framer.h"
#include "k8s_http.h"
#include "kubeconfig.h"
#include "log.h"

#define REQUEST_MAX 10240

struct k8s_client;

struct res_ctx {
	struct k8s_client *c;
	struct k8s_watch w;
	struct k8s_http_req *req;
	bool req_is_watch;
	bool waiting_cred; /* a request is due once the exec plugin answered */
	struct loop_timer *timer;
	struct k8s_framer framer;
	char *body; /* list page being received */
	size_t body_len, body_cap;
	int stream_error;          /* why data() aborted the transfer */
	enum k8s_failure stream_failure;
	char stream_msg[K8S_ERROR_MAX];
	bool changed;              /* store got changes since the last notify */
	size_t n_unnamed;          /* rejected objects without a name since the last list */
	char unnamed_msg[K8S_ERROR_MAX]; /* the last one's message */
	char logged[K8S_ERROR_MAX]; /* last error logged, to log each one once */
};

struct k8s_client {
	struct source base;
	struct k8s_conn_config cfg;
	struct loop *loop;
	struct k8s_http *http;
	struct res_ctx res[K8S_N_RESOURCES];
	uint64_t rng;

	struct k8s_auth auth;

	bool initial_applied; /* sync() gave the engine one complete view */
	bool all_listed_logged;
	char reason[K8S_ERROR_MAX + 64];
	unsigned changed_kinds; /* 1u << enum obj_kind of what the last sync() handed over */
};

static void start_request(struct res_ctx *rc);

static uint32_t rnd32(struct k8s_client *c)
{
	/* xorshift64*: only for timeouts and jitter */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return (uint32_t)((c->rng * 2685821657736338717ull) >> 32);
}

static const char *res_name(const struct res_ctx *rc)
{
	return k8s_resource_info(rc->w.res)->group_resource;
}

static bool all_synced(const struct k8s_client *c)
{
	for (size_t i = 0; i < K8S_N_RESOURCES; i++)
		if (!c->res[i].w.synced)
			return false;
	return true;
}

/* Recompute the degraded reason; notify the daemon when it appears, changes or clears. */
static void update_health(struct k8s_client *c)
{
	char reason[sizeof(c->reason)] = "";

	for (size_t i = 0; i < K8S_N_RESOURCES && !reason[0]; i++) {
		const struct res_ctx *rc = &c->res[i];

		if (rc->w.last_error[0])
			snprintf(reason, sizeof(reason), "kubernetes: %s: %s", res_name(rc),
				 rc->w.last_error);
	}
	if (strcmp(reason, c->reason) == 0)
		return;
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	c->base.notify(c->base.notify_ud);
}

static void notify_changes(struct k8s_client *c)
{
	bool any = false;

	for (size_t i = 0; i < K8S_N_RESOURCES; i++) {
		any |= c->res[i].changed;
		c->res[i].changed = false;
	}
	/* nothing reaches the engine before every resource was listed once */
	if (any && all_synced(c))
		c->base.notify(c->base.notify_ud);
}

static void log_error_once(struct res_ctx *rc, int level)
{
	if (strcmp(rc->logged, rc->w.last_error) == 0)
		return;
	snprintf(rc->logged, sizeof(rc->logged), "%s", rc->w.last_error);
	log_msg(level, "kubernetes: %s: %s", res_name(rc), rc->w.last_error);
}

static void log_recovered(struct res_ctx *rc, const char *what)
{
	if (!rc->logged[0])
		return;
	rc->logged[0] = '\0';
	log_info("kubernetes: %s: %s again", res_name(rc), what);
}

/* ---- credentials ---- */

/* The exec plugin answered: the requests that waited for it start (or back off). */
static void on_auth_ready(void *ud, int r)
{
	struct k8s_client *c = ud;

	for (size_t i = 0; i < K8S_N_RESOURCES; i++) {
		struct res_ctx *rc = &c->res[i];

		if (!rc->waiting_cred)
			continue;
		rc->waiting_cred = false;
		if (r < 0) {
			uint64_t d = k8s_watch_failed(&rc->w, K8S_FAIL_HTTP, c->auth.exec_error, 0,
						      loop_now_usec(), rnd32(c));

			log_error_once(rc, LOG_WARNING);
			loop_timer_arm(rc->timer, d);
		} else {
			start_request(rc);
		}
	}
	update_health(c);
}

/* 0: credentials at hand; 1: the exec plugin runs, the request waits; < 0: failed. */
static int ensure_credentials(struct res_ctx *rc)
{
	int r = k8s_auth_ensure(&rc->c->auth);

	if (r > 0)
		rc->waiting_cred = true;
	return r;
}

/* ---- responses ---- */

/* The message of a Status body, or the start of the body itself. */
static void status_message(const struct k8s_http_result *res, char *buf, size_t len)
{
	json_auto_t *j = NULL;
	const char *m = NULL;

	buf[0] = '\0';
	if (!res->body || !res->body_len)
		return;
	j = json_loadb(res->body, res->body_len, 0, NULL);
	m = json_string_value(json_object_get(j, "message"));
	if (m)
		snprintf(buf, len, "%s", m);
	else
		snprintf(buf, len, "%.200s", res->body);
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

static void tls_hint(const struct k8s_client *c, int code, char *buf, size_t len)
{
	buf[0] = '\0';
	switch (code) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		snprintf(buf, len, " (verifying the server with CA %s)",
			 c->cfg.ca_file	 ? c->cfg.ca_file
			 : c->cfg.ca.len ? "certificate-authority-data"
					 : "the system CA store");
		break;
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CONNECT_ERROR:
		if (c->cfg.cert_file || c->cfg.cert.len || c->auth.have_cred)
			snprintf(buf, len, " (client certificate %s, key %s)",
				 c->cfg.cert_file ? c->cfg.cert_file : "(inline data)",
				 c->cfg.key_file ? c->cfg.key_file : "(inline data)");
		break;
	default:
		break;
	}
}

static void handle_failure(struct res_ctx *rc, enum k8s_failure f, const char *msg,
			   uint64_t retry_after)
{
	struct k8s_client *c = rc->c;
	uint64_t delay;

	delay = k8s_watch_failed(&rc->w, f, msg, retry_after, loop_now_usec(), rnd32(c));
	if (f == K8S_FAIL_EXPIRED) {
		log_notice("kubernetes: %s: %s; relisting", res_name(rc), msg);
		/* expiry is routine, not a degradation */
		rc->w.last_error[0] = '\0';
	} else {
		log_error_once(rc, LOG_WARNING);
		log_debug("kubernetes: %s: retrying in %.1fs", res_name(rc), (double)delay / 1e6);
	}
	loop_timer_arm(rc->timer, delay);
	update_health(c);
}

/* Classify a non-2xx answer or a transport failure. */
static void request_failed(struct res_ctx *rc, const struct k8s_http_result *res, bool watch)
{
	struct k8s_client *c = rc->c;
	const char *verb = watch ? "watch" : "list";
	char smsg[512], msg[K8S_ERROR_MAX], hint[256];

	if (res->error) {
		tls_hint(c, res->curl_code, hint, sizeof(hint));
		snprintf(msg, sizeof(msg), "%s %s: %s%s", verb, c->cfg.server,
			 res->message ? res->message : strerror(-res->error), hint);
		handle_failure(rc, K8S_FAIL_TRANSPORT, msg, 0);
		return;
	}
	status_message(res, smsg, sizeof(smsg));
	switch (res->status) {
	case 410:
		snprintf(msg, sizeof(msg), "%s expired (HTTP 410): %s", verb, smsg);
		handle_failure(rc, K8S_FAIL_EXPIRED, msg, 0);
		return;
	case 504:
		if (strstr(smsg, "resource version") || (res->body && strstr(res->body, "ResourceVersionTooLarge"))) {
			snprintf(msg, sizeof(msg), "%s: resource version too large (HTTP 504): %s",
				 verb, smsg);
			handle_failure(rc, K8S_FAIL_EXPIRED, msg, 0);
			return;
		}
		break;
	case 401:
		k8s_auth_refused(&c->auth);
		snprintf(msg, sizeof(msg), "unauthorized: the API server refused netpold's credentials "
			 "(HTTP 401) to %s %s%s%s: %s", verb, res_name(rc),
			 c->auth.token_error[0] ? "; " : "", c->auth.token_error, smsg);
		handle_failure(rc, K8S_FAIL_HTTP, msg, 0);
		return;
	case 403:
		snprintf(msg, sizeof(msg),
			 "forbidden: cannot %s %s at the cluster scope (HTTP 403): %s", verb,
			 res_name(rc), smsg);
		handle_failure(rc, K8S_FAIL_HTTP, msg, 0);
		return;
	default:
		break;
	}
	snprintf(msg, sizeof(msg), "%s %s: HTTP %ld: %s", verb, res_name(rc), res->status,
		 smsg[0] ? smsg : "(no message)");
	handle_failure(rc, K8S_FAIL_HTTP, msg,
		       res->status == 429 || res->status == 503 ? res->retry_after_usec : 0);
}

/* ---- objects into the store ---- */

static void obj_ident(const struct k8s_object *o, const char **ns, const char **name)
{
	*ns = *name = NULL;
	switch (o->kind) {
	case OBJ_NAMESPACE:
		*ns = NULL;
		*name = o->ns->name;
		break;
	case OBJ_POD:
		*ns = o->pod->ns;
		*name = o->pod->name;
		break;
	case OBJ_NETWORK_POLICY:
		*ns = o->pol->ns;
		*name = o->pol->name;
		break;
	case OBJ_SERVICE:
		*ns = o->svc->ns;
		*name = o->svc->name;
		break;
	}
}

static void store_failed(struct res_ctx *rc, int r)
{
	if (r == -E2BIG)
		log_error("kubernetes: %s: more than %u objects, ignoring the rest", res_name(rc),
			  K8S_MAX_OBJECTS_PER_RESOURCE);
	else if (r < 0)
		log_error_errno(r, "kubernetes: %s: cannot store an object", res_name(rc));
}

static void put_object(struct res_ctx *rc, struct k8s_object *obj)
{
	const char *ns, *name;
	int r;

	obj_ident(obj, &ns, &name);
	r = k8s_store_upsert(&rc->w.store, ns, name, obj);
	if (r < 0)
		store_failed(rc, r);
	rc->changed = true;
}

static void put_invalid(struct res_ctx *rc, const char *ns, const char *name, const char *msg)
{
	int r;

	if (!name) {
		rc->n_unnamed++;
		snprintf(rc->unnamed_msg, sizeof(rc->unnamed_msg), "%s", msg);
		rc->changed = true;
		log_warning("kubernetes: %s: rejected an object without a name: %s", res_name(rc),
			    msg);
		return;
	}
	r = k8s_store_invalid(&rc->w.store, ns, name, msg);
	if (r == 1) {
		/* nothing for the engine, but sync() reports it to the status socket */
		rc->changed = true;
		log_warning("kubernetes: %s %s%s%s rejected (keeping its last valid version, if "
			    "any): %s",
			    obj_kind_name(k8s_resource_info(rc->w.res)->kind), ns ? ns : "",
			    ns ? "/" : "", name, msg);
	} else if (r < 0)
		store_failed(rc, r);
}

static void sink_object(void *ud, struct k8s_object *obj)
{
	put_object(ud, obj);
}

static void sink_error(void *ud, const struct decode_diag *d)
{
	struct res_ctx *rc = ud;

	if (!d->name && !d->kind) {
		/* the page as a whole: reported by decode_list's return value */
		snprintf(rc->stream_msg, sizeof(rc->stream_msg), "%s", d->message);
		return;
	}
	put_invalid(rc, d->ns, d->name, d->message);
}

/* ---- list ---- */

static void list_done(struct res_ctx *rc, const struct k8s_http_result *res)
{
	struct k8s_client *c = rc->c;
	struct decode_sink sink = {.object = sink_object, .error = sink_error, .userdata = rc};
	_cleanup_free_ char *rv = NULL, *cont = NULL;
	_cleanup_free_ char *body = TAKE_PTR(rc->body);
	size_t len = rc->body_len, deleted;
	bool was_synced = rc->w.synced;
	char msg[K8S_ERROR_MAX];
	int r;

	rc->body_len = rc->body_cap = 0;
	if (rc->stream_error) {
		/* a page over the limit: a paginated consistent list instead of the cache */
		handle_failure(rc, rc->stream_failure, rc->stream_msg, 0);
		return;
	}
	if (res->error || res->status < 200 || res->status >= 300) {
		request_failed(rc, res, false);
		return;
	}
	if (!rc->w.cont)
		rc->n_unnamed = 0; /* a new list: it says again which nameless objects exist */
	k8s_watch_page_begin(&rc->w);
	rc->stream_msg[0] = '\0';
	r = decode_list(body ? body : "", len, k8s_resource_info(rc->w.res)->kind,
			res_name(rc), &sink, &rv, &cont);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "list: unreadable answer: %.400s",
			 rc->stream_msg[0] ? rc->stream_msg : strerror(-r));
		handle_failure(rc, K8S_FAIL_STREAM, msg, 0);
		return;
	}
	r = k8s_watch_list_page(&rc->w, rv, cont, loop_now_usec(), &deleted);
	if (r < 0) {
		handle_failure(rc, K8S_FAIL_STREAM, "list: over-long resourceVersion or continue token", 0);
		return;
	}
	k8s_watch_healthy(&rc->w);
	if (deleted)
		rc->changed = true;
	if (rc->w.state == K8S_WS_WATCH) {
		if (!was_synced)
			log_info("kubernetes: %s listed: %zu object(s), resourceVersion %s",
				 res_name(rc), rc->w.store.n_present, rc->w.rv);
		else
			log_info("kubernetes: %s relisted: %zu object(s), %zu deletion(s) "
				 "synthesised, resourceVersion %s",
				 res_name(rc), rc->w.store.n_present, deleted, rc->w.rv);
		log_recovered(rc, "listing");
		if (!c->all_listed_logged && all_synced(c)) {
			c->all_listed_logged = true;
			log_info("kubernetes: initial list of every resource complete");
			/* the first complete view must reach the engine even if it is empty */
			c->base.notify(c->base.notify_ud);
		}
	}
	update_health(c);
	notify_changes(c);
	start_request(rc);
}

/* ---- watch ---- */

static int on_event_line(void *ud, const char *line, size_t len)
{
	struct res_ctx *rc = ud;
	struct watch_event ev;
	int r;

	r = decode_watch_event(line, len, k8s_resource_info(rc->w.res)->kind, &ev);
	if (r < 0) {
		snprintf(rc->stream_msg, sizeof(rc->stream_msg),
			 "watch: malformed event (%zu bytes): %s", len, strerror(-r));
		rc->stream_failure = K8S_FAIL_STREAM;
		return r == -ENOMEM ? r : -EBADMSG;
	}
	switch (ev.type) {
	case WATCH_ERROR:
		if (ev.status_code == 410) {
			snprintf(rc->stream_msg, sizeof(rc->stream_msg), "watch expired (410): %s",
				 ev.message);
			rc->stream_failure = K8S_FAIL_EXPIRED;
		} else if (ev.status_code == 504 && ev.message &&
			   strstr(ev.message, "resource version")) {
			snprintf(rc->stream_msg, sizeof(rc->stream_msg), "watch: %s (504)",
				 ev.message);
			rc->stream_failure = K8S_FAIL_EXPIRED;
		} else {
			snprintf(rc->stream_msg, sizeof(rc->stream_msg), "watch error %d: %s",
				 ev.status_code, ev.message ? ev.message : "");
			rc->stream_failure = K8S_FAIL_HTTP;
		}
		watch_event_clear(&ev);
		return -ECANCELED;
	case WATCH_BOOKMARK:
		k8s_watch_event(&rc->w, ev.resource_version);
		break;
	case WATCH_DELETED:
		k8s_watch_event(&rc->w, ev.resource_version);
		if (ev.name) {
			r = k8s_store_delete(&rc->w.store, ev.ns, ev.name);
			if (r < 0)
				store_failed(rc, r);
			rc->changed = true;
		}
		break;
	case WATCH_ADDED:
	case WATCH_MODIFIED:
		k8s_watch_event(&rc->w, ev.resource_version);
		if (ev.obj_valid) {
			put_object(rc, &ev.obj);
			ev.obj_valid = false;
		} else {
			put_invalid(rc, ev.ns, ev.name, ev.message ? ev.message : "invalid");
		}
		break;
	}
	watch_event_clear(&ev);
	return 0;
}

static int on_data(void *ud, const char *buf, size_t len)
{
	struct res_ctx *rc = ud;
	int r;

	if (!rc->req_is_watch) {
		size_t need = rc->body_len + len;

		if (need > DECODE_MAX_DOCUMENT_BYTES) {
			rc->stream_error = -E2BIG;
			rc->stream_failure = K8S_FAIL_EXPIRED;
			snprintf(rc->stream_msg, sizeof(rc->stream_msg),
				 "list page larger than %u bytes", DECODE_MAX_DOCUMENT_BYTES);
			return -E2BIG;
		}
		if (need + 1 > rc->body_cap) {
			size_t cap = rc->body_cap ? rc->body_cap : 65536;
			char *b;

			while (cap < need + 1)
				cap *= 2;
			if (cap > DECODE_MAX_DOCUMENT_BYTES + 1)
				cap = DECODE_MAX_DOCUMENT_BYTES + 1;
			b = realloc(rc->body, cap);
			if (!b)
				return -ENOMEM;
			rc->body = b;
			rc->body_cap = cap;
		}
		memcpy(rc->body + rc->body_len, buf, len);
		rc->body_len = need;
		return 0;
	}

	r = k8s_framer_feed(&rc->framer, buf, len, on_event_line, rc);
	notify_changes(rc->c);
	if (r == -E2BIG) {
		snprintf(rc->stream_msg, sizeof(rc->stream_msg),
			 "watch: an event larger than %u bytes; dropping the watch",
			 K8S_FRAMER_MAX_LINE);
		rc->stream_failure = K8S_FAIL_STREAM;
	}
	if (r < 0)
		rc->stream_error = r;
	return r < 0 ? r : 0;
}

static void on_headers(void *ud, long status)
{
	struct res_ctx *rc = ud;

	if (!rc->req_is_watch)
		return;
	k8s_watch_healthy(&rc->w);
	log_recovered(rc, "watching");
	update_health(rc->c);
}

static void watch_done(struct res_ctx *rc, const struct k8s_http_result *res)
{
	struct k8s_client *c = rc->c;
	uint64_t delay;
	int r;

	if (rc->stream_error) {
		handle_failure(rc, rc->stream_failure, rc->stream_msg, 0);
		return;
	}
	if (res->error || res->status < 200 || res->status >= 300) {
		request_failed(rc, res, true);
		return;
	}
	r = k8s_framer_finish(&rc->framer, on_event_line, rc);
	notify_changes(c);
	if (r < 0) {
		handle_failure(rc, rc->stream_failure, rc->stream_msg, 0);
		return;
	}
	delay = k8s_watch_ended(&rc->w, loop_now_usec(), rnd32(c));
	if (rc->w.state == K8S_WS_BACKOFF) {
		log_error_once(rc, LOG_WARNING);
		loop_timer_arm(rc->timer, delay);
		update_health(c);
		return;
	}
	log_debug("kubernetes: %s: watch ended after its timeout, re-watching from %s",
		  res_name(rc), rc->w.rv);
	start_request(rc);
}

static void on_done(void *ud, const struct k8s_http_result *res)
{
	struct res_ctx *rc = ud;

	rc->req = NULL;
	if (rc->req_is_watch)
		watch_done(rc, res);
	else
		list_done(rc, res);
}

static const struct k8s_http_ops http_ops = {
	.data = on_data,
	.headers = on_headers,
	.done = on_done,
};

static void start_request(struct res_ctx *rc)
{
	struct k8s_client *c = rc->c;
	struct k8s_http_request rq;
	char path[REQUEST_MAX], msg[K8S_ERROR_MAX];
	uint32_t rnd = rnd32(c);
	bool watch;
	int r;

	if (rc->req || rc->waiting_cred)
		return;
	k8s_watch_retry(&rc->w);
	r = ensure_credentials(rc);
	if (r > 0)
		return;
	if (r < 0) {
		handle_failure(rc, K8S_FAIL_HTTP, c->auth.exec_error, 0);
		return;
	}
	watch = rc->w.state == K8S_WS_WATCH;
	r = k8s_watch_request(&rc->w, rnd, path, sizeof(path));
	if (r < 0) {
		handle_failure(rc, K8S_FAIL_STREAM, "request too long", 0);
		return;
	}
	rq = (struct k8s_http_request){
		.cfg = &c->cfg,
		.path_query = path,
		/* the server ends a watch at timeoutSeconds; this is the backstop */
		.timeout_sec = watch ? K8S_WATCH_TIMEOUT_MAX + 60 : K8S_LIST_TIMEOUT_SEC,
	};
	k8s_auth_fill(&c->auth, &rq);
	rc->req_is_watch = watch;
	rc->stream_error = 0;
	rc->stream_msg[0] = '\0';
	free(rc->body);
	rc->body = NULL;
	rc->body_len = rc->body_cap = 0;
	k8s_framer_reset(&rc->framer);
	if (watch)
		k8s_watch_started(&rc->w, loop_now_usec());
	log_debug("kubernetes: GET %s", path);
	r = k8s_http_get(c->http, &rq, &http_ops, rc, &rc->req);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "cannot start a request: %s", strerror(-r));
		handle_failure(rc, K8S_FAIL_TRANSPORT, msg, 0);
	}
}

static void on_retry(struct loop *l, void *ud)
{
	start_request(ud);
}

/* ---- source ops ---- */

static int start(struct source *s, struct loop *l)
{
	struct k8s_client *c = (struct k8s_client *)s;
	int r;

	c->loop = l;
	r = k8s_http_new(l, &c->http);
	if (r < 0)
		return log_error_errno(r, "kubernetes: cannot set up libcurl");
	r = k8s_auth_start(&c->auth, l);
	if (r < 0)
		return r;
	for (size_t i = 0; i < K8S_N_RESOURCES; i++) {
		r = loop_timer_new(l, on_retry, &c->res[i], &c->res[i].timer);
		if (r < 0)
			return log_error_errno(r, "kubernetes: cannot create a timer");
	}
	for (size_t i = 0; i < K8S_N_RESOURCES; i++)
		start_request(&c->res[i]);
	return 0;
}

struct apply_ctx {
	struct engine *e;
	int error;
};

static void apply_upsert(void *ud, struct k8s_object *obj)
{
	struct apply_ctx *a = ud;
	int r = engine_apply(a->e, obj);

	if (r < 0 && !a->error)
		a->error = r;
}

static void apply_remove(void *ud, enum obj_kind kind, const char *ns, const char *name)
{
	struct apply_ctx *a = ud;
	int r = engine_delete(a->e, kind, ns, name);

	if (r < 0 && r != -ENOENT && !a->error)
		a->error = r;
}

struct diag_ctx {
	const struct k8s_client *c;
	const char *kind;
};

static void diag_invalid(void *ud, const struct k8s_entry *e)
{
	const struct diag_ctx *dc = ud;
	const struct decode_diag d = {
		.source = dc->c->cfg.server,
		.kind = dc->kind,
		.ns = e->ns,
		.name = e->name,
		.message = e->invalid,
	};

	dc->c->base.diag(dc->c->base.diag_ud, &d);
}

/*
 * Every rejection still standing, at each sync (as source.h asks); one that
 * is gone (a valid version arrived, the object was deleted) is simply not
 * reported again.
 */
static void report_rejections(const struct k8s_client *c)
{
	for (size_t i = 0; i < K8S_N_RESOURCES; i++) {
		const struct res_ctx *rc = &c->res[i];
		struct diag_ctx dc = {c, obj_kind_name(k8s_resource_info(rc->w.res)->kind)};
		char msg[K8S_ERROR_MAX + 64];

		(void)k8s_store_foreach_invalid(&rc->w.store, diag_invalid, &dc);
		if (!rc->n_unnamed)
			continue;
		snprintf(msg, sizeof(msg), "%zu object(s) without a name rejected, the last: %s",
			 rc->n_unnamed, rc->unnamed_msg);
		c->base.diag(c->base.diag_ud,
			     &(const struct decode_diag){.source = c->cfg.server,
							 .kind = dc.kind,
							 .message = msg});
	}
}

static int sync_source(struct source *s, struct engine *e, bool full)
{
	struct k8s_client *c = (struct k8s_client *)s;
	struct apply_ctx a = {.e = e};
	struct k8s_store_sink sink = {.upsert = apply_upsert, .remove = apply_remove, .ud = &a};
	static const enum k8s_resource order[] = {K8S_NAMESPACES, K8S_SERVICES, K8S_PODS,
						  K8S_NETWORKPOLICIES};
	size_t n = 0;

	c->changed_kinds = 0;
	/*
	 * The watches are the truth: a "full" sync has nothing to re-read. Until
	 * every resource was listed once, nothing is applied, so that a partial
	 * view is never programmed.
	 */
	if (!all_synced(c))
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(order); i++) {
		struct k8s_store *st = &c->res[order[i]].w.store;
		size_t m = k8s_store_drain(st, &sink);

		if (m)
			c->changed_kinds |= 1u << st->kind;
		n += m;
	}
	if (c->base.diag)
		report_rejections(c);
	if (a.error)
		log_error_errno(a.error, "kubernetes: the engine refused an update");
	if (!c->initial_applied)
		log_info("kubernetes: initial state handed to the engine (%zu update(s))", n);
	c->initial_applied = true;
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

static bool synced(const struct source *s)
{
	return ((const struct k8s_client *)s)->initial_applied;
}

static size_t n_errors(const struct source *s)
{
	const struct k8s_client *c = (const struct k8s_client *)s;
	size_t n = 0;

	for (size_t i = 0; i < K8S_N_RESOURCES; i++)
		n += c->res[i].w.store.n_invalid + c->res[i].n_unnamed;
	return n;
}

static unsigned changed_kinds(const struct source *s)
{
	return ((const struct k8s_client *)s)->changed_kinds;
}

static const char *location(const struct source *s)
{
	return ((const struct k8s_client *)s)->cfg.server;
}

static const char *degraded(const struct source *s)
{
	const struct k8s_client *c = (const struct k8s_client *)s;

	return c->reason[0] ? c->reason : NULL;
}

static void free_source(struct source *s)
{
	struct k8s_client *c = (struct k8s_client *)s;

	for (size_t i = 0; i < K8S_N_RESOURCES; i++) {
		struct res_ctx *rc = &c->res[i];

		k8s_http_cancel(rc->req);
		loop_timer_free(rc->timer);
		k8s_framer_clear(&rc->framer);
		free(rc->body);
		k8s_watch_clear(&rc->w);
	}
	k8s_http_free(c->http);
	k8s_auth_clear(&c->auth);
	k8s_conn_config_clear(&c->cfg);
	free(c);
}

static const struct source_ops k8s_source_ops = {
	.kind = "kubernetes",
	.start = start,
	.sync = sync_source,
	.synced = synced,
	.n_errors = n_errors,
	.location = location,
	.free = free_source,
	.degraded = degraded,
	.changed_kinds = changed_kinds,
	.reports_all_errors = true,
};

bool k8s_source_is(const struct source *s)
{
	return s && s->ops == &k8s_source_ops;
}

int k8s_source_new(const struct k8s_source_options *o, void (*notify)(void *ud), void *ud,
		   struct source **ret, char **ret_err)
{
	struct k8s_client *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (o->kubeconfig)
		r = kubeconfig_load(o->kubeconfig, o->context, &c->cfg, ret_err);
	else
		r = kubeconfig_in_cluster(o->sa_dir ? o->sa_dir : K8S_SERVICE_ACCOUNT_DIR, &c->cfg,
					  ret_err);
	if (r < 0) {
		free(c);
		return r;
	}
	k8s_auth_init(&c->auth, &c->cfg, on_auth_ready, c);
	c->base = (struct source){.ops = &k8s_source_ops, .notify = notify, .notify_ud = ud};
	if (getrandom(&c->rng, sizeof(c->rng), GRND_NONBLOCK) != sizeof(c->rng))
		c->rng = loop_now_usec();
	c->rng |= 1;
	for (size_t i = 0; i < K8S_N_RESOURCES; i++) {
		c->res[i].c = c;
		k8s_watch_init(&c->res[i].w, (enum k8s_resource)i);
		k8s_framer_init(&c->res[i].framer, K8S_FRAMER_MAX_LINE);
	}
	log_info("kubernetes: API server %s from %s%s%s", c->cfg.server, c->cfg.origin,
		 c->cfg.insecure ? " (TLS verification disabled by insecure-skip-tls-verify)" : "",
		 c->cfg.has_exec ? ", credentials from an exec plugin" : "");
	*ret = &c->base;
	return 0;
}

int k8s_source_status(const struct source *s, struct k8s_resource_status *ret, size_t max)
{
	const struct k8s_client *c = (const struct k8s_client *)s;
	size_t n = 0;

	if (!k8s_source_is(s))
		return -EINVAL;
	for (size_t i = 0; i < K8S_N_RESOURCES && n < max; i++, n++) {
		const struct k8s_watch *w = &c->res[i].w;

		ret[n] = (struct k8s_resource_status){
			.resource = k8s_resource_info(w->res)->group_resource,
			.state = c->res[i].waiting_cred ? "waiting for credentials"
							: k8s_watch_state_name(w->state),
			.synced = w->synced,
			.resource_version = w->rv,
			.last_error = w->last_error[0] ? w->last_error : NULL,
			.lists = w->lists,
			.relists = w->relists,
			.watches = w->watches,
			.watch_restarts = w->watch_restarts,
			.expired = w->expired,
			.errors = w->errors,
			.objects = w->store.n_present,
			.invalid = w->store.n_invalid,
		};
	}
	return (int)n;
}
