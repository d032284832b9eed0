/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The watch-stream framer (k8s_framer) plus the event decoder: a stream is
 * fed once whole and once cut at points the fuzzer chooses (as HTTP chunks
 * and TLS records cut it), and both runs must yield the same lines, the same
 * events and the same failure. Input: byte 0 = kind (bits 0-1) and line
 * limit (bits 2-4), byte 1 = number of cuts (0-31), 2 bytes per cut offset,
 * then the stream. Seeds: corpus/fuzz_watch_stream.
 */
#include "decode.h"
#include "fuzz_common.h"
#include "k8s_framer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CUTS 31

struct line {
	char *s;
	size_t len;
};

struct run {
	struct line *v;
	size_t n, cap;
	size_t max;
};

static int on_line(void *ud, const char *line, size_t len)
{
	struct run *r = ud;
	bool blank = true;

	FUZZ_CHECK(len <= r->max, "line of %zu bytes over the limit %zu", len, r->max);
	FUZZ_CHECK(!memchr(line, '\n', len), "line holds a newline");
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t')
			blank = false;
	FUZZ_CHECK(!blank, "blank line delivered");
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct line *v = realloc(r->v, cap * sizeof(*v));

		FUZZ_CHECK(v, "out of memory");
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n].s = malloc(len ? len : 1);
	FUZZ_CHECK(r->v[r->n].s, "out of memory");
	memcpy(r->v[r->n].s, line, len);
	r->v[r->n++].len = len;
	return 0;
}

static void run_clear(struct run *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].s);
	free(r->v);
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Feed buf cut at cuts[0..n) (sorted); returns the first error, or 0. */
static int feed(struct k8s_framer *f, const char *buf, size_t len, const size_t *cuts, size_t n,
		struct run *out)
{
	size_t pos = 0;
	int err = 0, r;

	for (size_t i = 0; i <= n; i++) {
		size_t end = i < n ? cuts[i] : len;
		size_t before = out->n;

		r = k8s_framer_feed(f, buf + pos, end - pos, on_line, out);
		if (err) {
			FUZZ_CHECK(r == err, "feed after failure returned %d", r);
			FUZZ_CHECK(out->n == before, "lines delivered after a failure");
		} else if (r < 0) {
			err = r;
		} else {
			FUZZ_CHECK((size_t)r == out->n - before, "returned %d, delivered %zu", r,
				   out->n - before);
		}
		pos = end;
	}
	r = k8s_framer_finish(f, on_line, out);
	FUZZ_CHECK(r == 0 || (r == 1 && !err), "finish returned %d", r);
	FUZZ_CHECK(k8s_framer_pending(f) == 0, "bytes left after finish");
	return err;
}

static void same_event(const char *a, size_t alen, const char *b, size_t blen, enum obj_kind kind)
{
	struct watch_event x, y;
	int rx = decode_watch_event(a, alen, kind, &x);
	int ry = decode_watch_event(b, blen, kind, &y);

	FUZZ_CHECK(rx == ry, "decode %d vs %d", rx, ry);
	if (rx == 0) {
		FUZZ_CHECK(x.type == y.type && x.obj_valid == y.obj_valid &&
				   x.status_code == y.status_code,
			   "events differ");
#define SAME_STR(f) FUZZ_CHECK((!x.f && !y.f) || (x.f && y.f && !strcmp(x.f, y.f)), #f " differs")
		SAME_STR(resource_version);
		SAME_STR(ns);
		SAME_STR(name);
		SAME_STR(message);
#undef SAME_STR
		if (x.obj_valid)
			fuzz_check_object(&x.obj, kind);
	}
	watch_event_clear(&x);
	watch_event_clear(&y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = {K8S_FRAMER_MAX_LINE, K8S_FRAMER_MAX_LINE,
					K8S_FRAMER_MAX_LINE, 4096, 256, 64, 16, 1};
	struct fuzz_in in = {data, size};
	struct k8s_framer whole, cut;
	struct run a = {0}, b = {0};
	size_t cuts[MAX_CUTS], n_cuts, len;
	const char *stream;
	enum obj_kind kind;
	uint8_t b0;
	int ea, eb;

	if (size < 2)
		return 0;
	b0 = fz_u8(&in);
	kind = (enum obj_kind)(b0 & 3);
	a.max = b.max = limits[(b0 >> 2) & 7];
	n_cuts = fz_u8(&in) % (MAX_CUTS + 1);
	if (in.n < 2 * n_cuts)
		return 0;
	stream = (const char *)in.p + 2 * n_cuts;
	len = in.n - 2 * n_cuts;
	for (size_t i = 0; i < n_cuts; i++)
		cuts[i] = fz_u16(&in) % (len + 1);
	qsort(cuts, n_cuts, sizeof(cuts[0]), cmp_size);

	k8s_framer_init(&whole, a.max);
	k8s_framer_init(&cut, b.max);
	ea = feed(&whole, stream, len, NULL, 0, &a);
	eb = feed(&cut, stream, len, cuts, n_cuts, &b);
	FUZZ_CHECK(ea == eb, "whole stream %d, cut stream %d", ea, eb);
	FUZZ_CHECK(ea == 0 || ea == -E2BIG, "feed returned %d", ea);
	FUZZ_CHECK(a.n == b.n, "whole stream gave %zu lines, cut stream %zu", a.n, b.n);
	for (size_t i = 0; i < a.n; i++) {
		FUZZ_CHECK(a.v[i].len == b.v[i].len && !memcmp(a.v[i].s, b.v[i].s, a.v[i].len),
			   "line %zu differs", i);
		same_event(a.v[i].s, a.v[i].len, b.v[i].s, b.v[i].len, kind);
	}

	/* After a reset the framer is as new. */
	k8s_framer_reset(&cut);
	FUZZ_CHECK(!cut.failed && k8s_framer_pending(&cut) == 0, "reset left state");
	k8s_framer_clear(&whole);
	k8s_framer_clear(&cut);
	run_clear(&a);
	run_clear(&b);
	return 0;
}
