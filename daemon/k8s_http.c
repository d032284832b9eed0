/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libcurl's multi socket API driven by netpold's loop, after curl's
 * docs/examples/ephiperfifo.c: CURLMOPT_SOCKETFUNCTION maps curl's sockets
 * to loop_io handlers, CURLMOPT_TIMERFUNCTION to one loop timer, and
 * finished transfers are reaped after every curl_multi_socket_action().
 */
#include <curl/curl.h>
#include <stdio.h>

#include "k8s_http.h"

struct sock_ctx {
	struct k8s_http *h;
	curl_socket_t fd;
	struct loop_io *io;
	struct sock_ctx *next, **pprev;
};

struct k8s_http {
	struct loop *loop;
	CURLM *multi;
	struct loop_timer *timer;
	struct k8s_http_req *reqs;
	struct sock_ctx *socks;
};

struct k8s_http_req {
	struct k8s_http *h;
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *connect_to;
	const struct k8s_http_ops *ops;
	void *ud;
	long status;
	bool headers_seen;
	int abort_error;
	char *err_body;
	size_t err_len;
	char errbuf[CURL_ERROR_SIZE];
	struct k8s_http_req *next, **pprev;
};

static void req_free(struct k8s_http_req *r)
{
	if (!r)
		return;
	if (r->pprev) {
		*r->pprev = r->next;
		if (r->next)
			r->next->pprev = r->pprev;
	}
	if (r->easy) {
		curl_multi_remove_handle(r->h->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->headers); /* holds the bearer token */
	curl_slist_free_all(r->connect_to);
	free(r->err_body);
	free(r);
}

static int map_curl_error(CURLcode c)
{
	switch (c) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CONNECT_ERROR:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* Reap finished transfers; done() may add or cancel requests. */
static void check_done(struct k8s_http *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left))) {
		struct k8s_http_req *r = NULL;
		struct k8s_http_result res = {0};
		curl_off_t ra = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (!r)
			continue;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
		if (curl_easy_getinfo(r->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			res.retry_after_usec = (uint64_t)ra * 1000000u;
		res.curl_code = msg->data.result;
		if (r->abort_error) {
			res.error = r->abort_error;
		} else if (msg->data.result != CURLE_OK) {
			res.error = map_curl_error(msg->data.result);
			res.message = r->errbuf[0] ? r->errbuf : curl_easy_strerror(msg->data.result);
		}
		if (res.status >= 300 && r->err_body) {
			res.body = r->err_body;
			res.body_len = r->err_len;
		}
		/* the handle leaves the multi before done() so done() may start a new one */
		curl_multi_remove_handle(h->multi, r->easy);
		if (r->pprev) {
			*r->pprev = r->next;
			if (r->next)
				r->next->pprev = r->pprev;
			r->pprev = NULL;
		}
		r->ops->done(r->ud, &res);
		req_free(r);
	}
}

static void on_io(struct loop *l, int fd, uint32_t events, void *ud)
{
	struct sock_ctx *sc = ud;
	struct k8s_http *h = sc->h; /* sc may be freed by the call below */
	int mask = 0, running;

	if (events & EPOLLIN)
		mask |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		mask |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		mask |= CURL_CSELECT_ERR;
	curl_multi_socket_action(h->multi, fd, mask, &running);
	check_done(h);
}

static void sock_free(struct sock_ctx *sc)
{
	loop_io_free(sc->io);
	*sc->pprev = sc->next;
	if (sc->next)
		sc->next->pprev = sc->pprev;
	free(sc);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct k8s_http *h = userp;
	struct sock_ctx *sc = socketp;
	uint32_t ev = 0;

	if (what == CURL_POLL_REMOVE) {
		if (sc) {
			curl_multi_assign(h->multi, s, NULL);
			sock_free(sc);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev |= EPOLLOUT;
	if (sc)
		return loop_io_modify(sc->io, ev) < 0 ? -1 : 0;
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -1;
	sc->h = h;
	sc->fd = s;
	if (loop_io_add(h->loop, s, ev, on_io, sc, &sc->io) < 0) {
		free(sc);
		return -1;
	}
	sc->next = h->socks;
	if (sc->next)
		sc->next->pprev = &sc->next;
	sc->pprev = &h->socks;
	h->socks = sc;
	curl_multi_assign(h->multi, s, sc);
	return 0;
}

static void on_timer(struct loop *l, void *ud)
{
	struct k8s_http *h = ud;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

static int on_timer_change(CURLM *m, long timeout_ms, void *userp)
{
	struct k8s_http *h = userp;

	/* never call socket_action from here: a 0 timeout fires on the next pass */
	if (timeout_ms < 0)
		loop_timer_disarm(h->timer);
	else
		loop_timer_arm(h->timer, (uint64_t)timeout_ms * 1000u);
	return 0;
}

int k8s_http_new(struct loop *l, struct k8s_http **ret)
{
	struct k8s_http *h;
	int r;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	h = calloc(1, sizeof(*h));
	if (!h) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	h->loop = l;
	h->multi = curl_multi_init();
	if (!h->multi) {
		k8s_http_free(h);
		return -ENOMEM;
	}
	r = loop_timer_new(l, on_timer, h, &h->timer);
	if (r < 0) {
		k8s_http_free(h);
		return r;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	/* the four watches share one HTTP/2 connection when the server offers it */
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	*ret = h;
	return 0;
}

void k8s_http_free(struct k8s_http *h)
{
	if (!h)
		return;
	while (h->reqs)
		req_free(h->reqs);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	while (h->socks)
		sock_free(h->socks);
	loop_timer_free(h->timer);
	free(h);
	curl_global_cleanup();
}

void k8s_http_cancel(struct k8s_http_req *r)
{
	req_free(r);
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	struct k8s_http_req *r = ud;
	size_t len = size * n;

	if ((len == 2 && buf[0] == '\r' && buf[1] == '\n') || (len == 1 && buf[0] == '\n')) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
		if (r->status >= 200 && r->status < 300 && !r->headers_seen) {
			r->headers_seen = true;
			if (r->ops->headers)
				r->ops->headers(r->ud, r->status);
		}
	}
	return len;
}

static size_t on_write(char *buf, size_t size, size_t n, void *ud)
{
	struct k8s_http_req *r = ud;
	size_t len = size * n;

	if (!r->status)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status >= 200 && r->status < 300) {
		int e = r->ops->data(r->ud, buf, len);

		if (e < 0) {
			r->abort_error = e;
			return 0; /* curl aborts with CURLE_WRITE_ERROR */
		}
		return len;
	}
	/* an error answer: keep the start of its Status body */
	if (r->err_len < K8S_HTTP_MAX_ERROR_BODY) {
		size_t take = K8S_HTTP_MAX_ERROR_BODY - r->err_len;
		char *b;

		if (take > len)
			take = len;
		b = realloc(r->err_body, r->err_len + take + 1);
		if (!b)
			return len;
		memcpy(b + r->err_len, buf, take);
		r->err_len += take;
		b[r->err_len] = '\0';
		r->err_body = b;
	}
	return len;
}

/* tls-server-name: connect to the real host, but name (SNI, verification) the given one. */
static int setup_server_name(struct k8s_http_req *r, const char *server, const char *tsn,
			     const char *path_query, char **ret_url)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *path = NULL;
	char *ct = NULL;
	int res = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, server, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	if (strpbrk(tsn, ":/[]@ "))
		goto out;
	if (asprintf(&ct, "%s:%s:%s:%s", tsn, port, host, port) < 0 ||
	    asprintf(ret_url, "https://%s:%s%s%s", tsn, port, strcmp(path, "/") ? path : "",
		     path_query) < 0) {
		res = -ENOMEM;
		goto out;
	}
	r->connect_to = curl_slist_append(NULL, ct);
	res = r->connect_to ? 0 : -ENOMEM;
out:
	free(ct);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return res;
}

int k8s_http_get(struct k8s_http *h, const struct k8s_http_request *rq,
		 const struct k8s_http_ops *ops, void *ud, struct k8s_http_req **ret)
{
	const struct k8s_conn_config *cfg = rq->cfg;
	const struct k8s_blob *cert = rq->cert ? rq->cert : &cfg->cert;
	const struct k8s_blob *key = rq->key ? rq->key : &cfg->key;
	bool https = strncmp(cfg->server, "https://", 8) == 0;
	_cleanup_free_ char *url = NULL;
	struct k8s_http_req *r;
	struct curl_slist *hl;
	CURL *e;
	int res;

	if (rq->bearer && !https)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->h = h;
	r->ops = ops;
	r->ud = ud;
	r->easy = e = curl_easy_init();
	if (!e) {
		req_free(r);
		return -ENOMEM;
	}

	if (cfg->tls_server_name && https) {
		res = setup_server_name(r, cfg->server, cfg->tls_server_name, rq->path_query, &url);
		if (res < 0) {
			req_free(r);
			return res;
		}
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, r->connect_to);
	} else if (asprintf(&url, "%s%s", cfg->server, rq->path_query) < 0) {
		url = NULL;
		req_free(r);
		return -ENOMEM;
	}

	hl = curl_slist_append(NULL, "Accept: application/json");
	r->headers = hl;
	if (hl && rq->bearer) {
		_cleanup_free_ char *auth = NULL;

		if (asprintf(&auth, "Authorization: Bearer %s", rq->bearer) < 0)
			auth = NULL;
		hl = auth ? curl_slist_append(r->headers, auth) : NULL;
		if (auth)
			explicit_bzero(auth, strlen(auth));
		if (hl)
			r->headers = hl;
	}
	if (!hl) {
		req_free(r);
		return -ENOMEM;
	}

	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "netpold/" NETPOLD_VERSION);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)K8S_HTTP_CONNECT_TIMEOUT_SEC);
	if (rq->timeout_sec > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT, rq->timeout_sec);
	/* a watch idles for minutes: keepalives notice a peer that vanished */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);

	if (https) {
		if (cfg->insecure) {
			curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
		} else if (cfg->ca.len) {
			struct curl_blob b = {cfg->ca.data, cfg->ca.len, CURL_BLOB_COPY};

			/* trust exactly the cluster's CA, not the system store as well */
			curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
			curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
			curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
		}
		if (cert->len && key->len) {
			struct curl_blob cb = {cert->data, cert->len, CURL_BLOB_COPY};
			struct curl_blob kb = {key->data, key->len, CURL_BLOB_COPY};

			curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cb);
			curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
			curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &kb);
			curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
		}
	}

	if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
		req_free(r);
		return -ENOMEM;
	}
	r->next = h->reqs;
	if (r->next)
		r->next->pprev = &r->next;
	r->pprev = &h->reqs;
	h->reqs = r;
	if (ret)
		*ret = r;
	return 0;
}
