/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small blocking HTTP client for netpolctl: libcurl talks HTTP/1.1 over
 * netpold's unix status socket (CURLOPT_UNIX_SOCKET_PATH). Every answer is
 * bounded; a stream is cut into lines no longer than CTL_MAX_LINE.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <strings.h>

#include "ctl_client.h"
#include "util.h"

struct xfer {
	struct ctl_response *resp;
	size_t cap;
	bool too_big;
	/* streaming */
	int (*line_cb)(void *ud, const char *line, size_t len);
	void *ud;
	char *line;
	size_t line_len;
	bool stopped;
	CURL *curl;
};

void ctl_response_clear(struct ctl_response *r)
{
	free(r->body);
	*r = (struct ctl_response){0};
}

static bool append(struct xfer *x, const char *p, size_t n)
{
	struct ctl_response *r = x->resp;

	if (r->len + n > CTL_MAX_RESPONSE) {
		x->too_big = true;
		return false;
	}
	if (r->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *b;

		while (cap < r->len + n + 1)
			cap *= 2;
		b = realloc(r->body, cap);
		if (!b)
			return false;
		r->body = b;
		x->cap = cap;
	}
	memcpy(r->body + r->len, p, n);
	r->len += n;
	r->body[r->len] = '\0';
	return true;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	long code = 0;

	if (!x->line_cb)
		return append(x, p, n) ? n : 0;
	/* streaming: only a 200 is cut into lines; an error answer is collected */
	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200)
		return append(x, p, n) ? n : 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			x->line[x->line_len] = '\0';
			if (x->line_cb(x->ud, x->line, x->line_len) < 0) {
				x->stopped = true;
				return 0;
			}
			x->line_len = 0;
			continue;
		}
		if (x->line_len + 1 >= CTL_MAX_LINE) {
			x->too_big = true;
			return 0;
		}
		x->line[x->line_len++] = p[i];
	}
	return n;
}

static void header_value(const char *h, size_t n, const char *name, char *dst, size_t dlen)
{
	size_t nl = strlen(name), vl;

	if (n <= nl + 1 || strncasecmp(h, name, nl) != 0 || h[nl] != ':')
		return;
	h += nl + 1;
	n -= nl + 1;
	while (n && (*h == ' ' || *h == '\t')) {
		h++;
		n--;
	}
	while (n && (h[n - 1] == '\r' || h[n - 1] == '\n'))
		n--;
	vl = n < dlen - 1 ? n : dlen - 1;
	memcpy(dst, h, vl);
	dst[vl] = '\0';
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	header_value(p, n, "X-Netpold-Verdict", x->resp->verdict, sizeof(x->resp->verdict));
	header_value(p, n, "X-Netpold-Warnings", x->resp->warnings, sizeof(x->resp->warnings));
	return n;
}

static int run(const char *socket, const char *path, struct xfer *x, bool stream, char *err,
	       size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	_cleanup_free_ char *url = NULL;
	CURL *c;
	CURLcode rc;
	int r = 0;

	if (asprintf(&url, "http://localhost%s", path) < 0)
		return -ENOMEM;
	c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	x->curl = c;
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	if (!stream)
		curl_easy_setopt(c, CURLOPT_TIMEOUT, CTL_TIMEOUT_SECONDS);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "netpolctl/" NETPOLD_VERSION);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->resp->code);
	curl_easy_cleanup(c);
	if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && x->stopped))
		return 0;
	/* a stream cut short by netpold stopping ends the stream, not the command */
	if (stream && rc == CURLE_PARTIAL_FILE && x->resp->code == 200)
		return 0;
	if (x->too_big) {
		snprintf(err, errlen, "answer from %s is too large", socket);
		return -E2BIG;
	}
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		r = -ECONNREFUSED;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		r = -ETIMEDOUT;
		break;
	case CURLE_OUT_OF_MEMORY:
		r = -ENOMEM;
		break;
	default:
		r = -EIO;
		break;
	}
	snprintf(err, errlen, "cannot talk to netpold on %s: %s", socket,
		 errbuf[0] ? errbuf : curl_easy_strerror(rc));
	return r;
}

int ctl_get(const char *socket, const char *path, struct ctl_response *ret, char *err,
	    size_t errlen)
{
	struct xfer x = {.resp = ret};
	int r;

	*ret = (struct ctl_response){0};
	r = run(socket, path, &x, false, err, errlen);
	if (r >= 0 && !ret->body && !append(&x, "", 0))
		r = -ENOMEM;
	if (r < 0)
		ctl_response_clear(ret);
	return r;
}

int ctl_stream(const char *socket, const char *path,
	       int (*line_cb)(void *ud, const char *line, size_t len), void *ud,
	       struct ctl_response *ret, char *err, size_t errlen)
{
	struct xfer x = {.resp = ret, .line_cb = line_cb, .ud = ud};
	int r;

	*ret = (struct ctl_response){0};
	x.line = malloc(CTL_MAX_LINE);
	if (!x.line)
		return -ENOMEM;
	r = run(socket, path, &x, true, err, errlen);
	free(x.line);
	return r;
}

char *ctl_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *copy;

	if (!e)
		return NULL;
	copy = strdup(e);
	curl_free(e);
	return copy;
}
