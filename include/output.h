/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Output helpers for netpolctl (and, later, the status socket): text tables
 * whose columns are aligned to their widest cell, a small streaming JSON
 * writer with correct string escaping, and the text and JSON renderings of
 * an engine explanation. All write to a FILE (use open_memstream(3) for a
 * buffer). Nothing here logs.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "model.h"
#include "util.h"

/* ---- aligned tables ---- */

#define OUT_TABLE_MAX_COLUMNS 4096
#define OUT_TABLE_MAX_CELLS (16u * 1024 * 1024)

struct out_table;

/* A table of n_columns columns (1..OUT_TABLE_MAX_COLUMNS). Returns 0, -EINVAL or -ENOMEM. */
int out_table_new(size_t n_columns, struct out_table **ret);
void out_table_free(struct out_table *t);
static inline void out_table_freep(struct out_table **t)
{
	out_table_free(*t);
}

/* Append one cell (copied; NULL prints as ""); rows fill left to right. 0, -E2BIG or -ENOMEM. */
int out_table_add(struct out_table *t, const char *cell);
/* Append a cell from a format. */
int out_table_addf(struct out_table *t, const char *fmt, ...) _printf_(2, 3);

/*
 * Print the rows, cells separated by sep_width spaces and padded to their
 * column's width (the last column is not padded, so lines carry no trailing
 * blanks). A partial last row is printed as it is. Returns 0 or -EIO.
 */
int out_table_print(const struct out_table *t, FILE *f, unsigned sep_width);

/* ---- JSON ---- */

#define OUT_JSON_MAX_DEPTH 32

/*
 * A streaming JSON writer. Inside an object every value needs a key; inside
 * an array (or at the top) key must be NULL. Errors (bad nesting, too deep,
 * write failures) are sticky and reported by out_json_finish().
 */
struct out_json {
	FILE *f;
	bool pretty;
	unsigned depth;
	bool in_object[OUT_JSON_MAX_DEPTH + 1];
	bool first[OUT_JSON_MAX_DEPTH + 1];
	int error;
};

void out_json_init(struct out_json *j, FILE *f, bool pretty);
void out_json_begin_object(struct out_json *j, const char *key);
void out_json_end_object(struct out_json *j);
void out_json_begin_array(struct out_json *j, const char *key);
void out_json_end_array(struct out_json *j);
void out_json_string(struct out_json *j, const char *key, const char *value); /* NULL -> null */
void out_json_bool(struct out_json *j, const char *key, bool value);
void out_json_int(struct out_json *j, const char *key, int64_t value);
void out_json_null(struct out_json *j, const char *key);
/* Close the document (a newline after it). Returns 0, -EINVAL on misuse, -EIO on write errors. */
int out_json_finish(struct out_json *j);

/* Write s as a JSON string literal (quotes included). Returns 0 or -EIO. */
int out_json_write_string(FILE *f, const char *s);

/* ---- policies and verdicts ---- */

/* "namespace/name" of a pod or policy, truncated to len. */
void out_fmt_pod(const struct pod_obj *p, char *buf, size_t len);
void out_fmt_policy(const struct netpol *p, char *buf, size_t len);
/* A selector in kubectl's -l syntax: {a=b,c in (d,e),f notin (g),h,!i}. */
void out_fmt_selector(const struct selector *s, char *buf, size_t len);
/* A peer: "ipBlock C except ...", "namespaceSelector {..} AND podSelector {..}". */
void out_fmt_peer(const struct np_peer *p, char *buf, size_t len);
/* A port item; a named port shows its number on dst when dst (may be NULL) has it. */
void out_fmt_port(const struct np_port *p, const struct pod_obj *dst, char *buf, size_t len);

/*
 * The explanation of engine_verdict(src, dst, proto, port) for people: the
 * verdict line, then per direction the isolating policies and the rule that
 * allowed (policy, spec.<dir>[i], peer and port with their content) or the
 * denial. e is asked for the isolating policies of each pod.
 */
void out_explain_print(FILE *f, const struct engine *e, const struct endpoint *src,
		       const struct endpoint *dst, enum proto proto, uint16_t port,
		       const struct explanation *x);
/*
 * The same as JSON members written into the object open in j: from, to,
 * protocol, port, family, allowed, self, egress, ingress (docs/netpolctl.md).
 */
void out_explain_json(struct out_json *j, const struct engine *e, const struct endpoint *src,
		      const struct endpoint *dst, enum proto proto, uint16_t port,
		      const struct explanation *x);
