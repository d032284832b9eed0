/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Splits a watch response body into events. The API server writes one JSON
 * object per line (NDJSON); transport chunks (HTTP/1.1 chunks, HTTP/2 DATA
 * frames, TLS records) have nothing to do with event boundaries, so bytes
 * are accumulated and cut at '\n' only. Lines are bounded. Pure; never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define K8S_FRAMER_MAX_LINE (8u * 1024 * 1024) /* one watch event */

struct k8s_framer {
	char *buf;  /* the partial line carried over between feeds */
	size_t len, cap;
	size_t max; /* longest line accepted, without its '\n' */
	bool failed; /* a line was too long: the stream is unusable */
};

/* Called with each complete line (no '\n'; a trailing '\r' removed; blank lines skipped). */
typedef int (*k8s_framer_fn)(void *ud, const char *line, size_t len);

void k8s_framer_init(struct k8s_framer *f, size_t max_line);
/* Forget the buffered partial line and the failed state; keeps the allocation. */
void k8s_framer_reset(struct k8s_framer *f);
void k8s_framer_clear(struct k8s_framer *f);

/*
 * Feed bytes. Calls cb for every line they complete, in order. Returns the
 * number of lines delivered, -E2BIG when a line grows past max (nothing more
 * is delivered until a reset), -ENOMEM, or the first negative value cb
 * returned (delivery stops there).
 */
int k8s_framer_feed(struct k8s_framer *f, const char *data, size_t len, k8s_framer_fn cb, void *ud);

/*
 * End of stream: deliver a final line that had no '\n' (a well-formed
 * stream has none; a truncated one yields a partial event the decoder will
 * reject). Returns 0 or 1 (lines delivered), or cb's negative value.
 */
int k8s_framer_finish(struct k8s_framer *f, k8s_framer_fn cb, void *ud);

/* Bytes of an incomplete line currently buffered. */
static inline size_t k8s_framer_pending(const struct k8s_framer *f)
{
	return f->len;
}
