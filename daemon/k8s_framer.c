/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NDJSON framing of watch streams: complete lines inside a fed buffer are
 * handed out in place; only the unfinished tail is copied, into a buffer
 * that grows by doubling up to the line limit.
 */
#include "k8s_framer.h"
#include "util.h"

void k8s_framer_init(struct k8s_framer *f, size_t max_line)
{
	*f = (struct k8s_framer){.max = max_line};
}

void k8s_framer_reset(struct k8s_framer *f)
{
	f->len = 0;
	f->failed = false;
}

void k8s_framer_clear(struct k8s_framer *f)
{
	free(f->buf);
	k8s_framer_init(f, f->max);
}

/* Returns 1 if delivered, 0 if blank, or cb's negative value. */
static int deliver(const char *line, size_t len, k8s_framer_fn cb, void *ud)
{
	int r;

	if (len && line[len - 1] == '\r')
		len--;
	for (size_t i = 0; i < len; i++) {
		if (line[i] == ' ' || line[i] == '\t')
			continue;
		r = cb(ud, line, len);
		return r < 0 ? r : 1;
	}
	return 0;
}

static int append(struct k8s_framer *f, const char *data, size_t len)
{
	size_t need = f->len + len;

	if (need > f->max) {
		f->failed = true;
		f->len = 0;
		return -E2BIG;
	}
	if (need > f->cap) {
		size_t cap = f->cap ? f->cap : 4096;
		char *b;

		while (cap < need)
			cap *= 2;
		if (cap > f->max)
			cap = f->max;
		b = realloc(f->buf, cap);
		if (!b)
			return -ENOMEM;
		f->buf = b;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, len);
	f->len = need;
	return 0;
}

int k8s_framer_feed(struct k8s_framer *f, const char *data, size_t len, k8s_framer_fn cb, void *ud)
{
	int n = 0, r;

	if (f->failed)
		return -E2BIG;
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take;

		if (!nl) {
			r = append(f, data, len);
			return r < 0 ? r : n;
		}
		take = (size_t)(nl - data);
		if (f->len) {
			/* completes the buffered line: the '\n' itself is not stored */
			size_t total;

			r = append(f, data, take);
			if (r < 0)
				return r;
			total = f->len;
			f->len = 0;
			r = deliver(f->buf, total, cb, ud);
		} else if (take > f->max) {
			f->failed = true;
			return -E2BIG;
		} else {
			r = deliver(data, take, cb, ud);
		}
		if (r < 0)
			return r;
		n += r;
		data = nl + 1;
		len -= take + 1;
	}
	return n;
}

int k8s_framer_finish(struct k8s_framer *f, k8s_framer_fn cb, void *ud)
{
	size_t len = f->len;

	if (f->failed || len == 0)
		return 0;
	f->len = 0;
	return deliver(f->buf, len, cb, ud);
}
