/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to policy/decode_*.c: the one header where jansson types appear.
 * The JSON and YAML front ends both turn a document into a json_t tree plus
 * the source lines of its objects, then hand it to the common object decoder.
 */
#pragma once

#include <jansson.h>

#include "decode.h"

#define DECODE_MSG_MAX 640  /* one diagnostic message */
#define DECODE_PATH_MAX 384 /* the JSON path inside it */

/* State of one decode_manifest()/decode_list() call. */
struct decode_run {
	const char *source;
	const struct decode_sink *sink;
	size_t n_seen;      /* documents and list items, against DECODE_MAX_OBJECTS */
	int n_delivered;    /* objects handed to sink->object */
	size_t n_docs_ok;   /* documents that parsed */
	size_t n_docs_bad;  /* documents that did not parse */
	bool stop;          /* DECODE_MAX_OBJECTS reached: the rest is ignored */
	const char *forced_kind; /* decode_list: every item is of this kind */
};

/*
 * One parsed document. Lines are 1-based. item_lines/item_errs, when set,
 * are indexed like the document's "items" array; item_errs[i] (or doc_err
 * for the document itself) carries a problem found while parsing (e.g. a
 * duplicate YAML key) that rejects that object.
 */
struct decode_doc {
	json_t *root;
	unsigned line;
	const unsigned *item_lines;
	size_t n_item_lines;
	char *const *item_errs; /* NULL, or n_item_lines entries (each may be NULL) */
	const char *doc_err;
};

/* Report one diagnostic through the run's sink. */
void decode_report(struct decode_run *run, unsigned line, const char *kind, const char *ns,
		   const char *name, const char *fmt, ...) _printf_(6, 7);

/*
 * Decode one document: a single object or a List of them. Valid objects go
 * to the sink, rejected ones to sink->error. Does not take ownership of
 * doc->root. Returns 0 or -ENOMEM.
 */
int decode_document(struct decode_run *run, const struct decode_doc *doc);

/* The YAML front end (decode_yaml.c). Returns 0 or -ENOMEM. */
int decode_yaml_stream(struct decode_run *run, const char *buf, size_t len);

/*
 * Validate one object of the given kind and convert it (decode_object.c).
 * Returns 0 and fills ret; -EINVAL with the message ("path: problem") in
 * err; or -ENOMEM.
 */
int decode_object_tree(const json_t *obj, enum obj_kind kind, struct k8s_object *ret, char *err,
		       size_t errlen);

/* "object", "array", "string", "integer", "number", "boolean", "null". */
const char *decode_json_type(const json_t *v);

/* Copy s into buf as a printable, quoted, possibly shortened string. Returns buf. */
const char *decode_quote(const char *s, char *buf, size_t len);

/*
 * Offset of the first byte in [0, len) that is not valid UTF-8 or is a
 * control character YAML does not allow; len when all is fine.
 */
size_t decode_utf8_check(const char *s, size_t len);
