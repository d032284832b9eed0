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
 * Path-tracking field readers (decode_field.c), used by decode_object.c and
 * decode_netpol.c. A dctx carries the JSON path of the field being read, so
 * every rejection names it: "spec.ingress[0].from[1].ipBlock.cidr: ...".
 */
struct dctx {
	char path[DECODE_PATH_MAX];
	size_t plen;
	char *err;
	size_t errlen;
};

/* Append ".key" or "[i]" to the path; returns the old length, for dctx_pop(). */
size_t dctx_push_key(struct dctx *c, const char *key);
size_t dctx_push_index(struct dctx *c, size_t i);
void dctx_pop(struct dctx *c, size_t old);

/* Record "path: message" (or "path.key: message") in the error buffer; return -EINVAL. */
int dctx_fail(struct dctx *c, const char *fmt, ...) _printf_(2, 3);
int dctx_fail_key(struct dctx *c, const char *key, const char *fmt, ...) _printf_(3, 4);
/* Record "out of memory"; return -ENOMEM. */
int dctx_oom(struct dctx *c);

/*
 * Field key of obj with type t (JSON_TRUE for any boolean): *ret NULL when
 * absent or null. The typed variants also bound a string's length or an
 * integer's range. Return 0 or -EINVAL.
 */
int dctx_get(struct dctx *c, const json_t *obj, const char *key, json_type t, json_t **ret);
int dctx_get_str(struct dctx *c, const json_t *obj, const char *key, size_t maxlen,
		 const char **ret);
int dctx_get_int(struct dctx *c, const json_t *obj, const char *key, int64_t min, int64_t max,
		 bool *ret_has, int64_t *ret);
/* "protocol": TCP when absent. */
int dctx_get_proto(struct dctx *c, const json_t *obj, enum proto *ret);
/* A port or targetPort: an integer 1-65535, a string of digits, or a port name (*ret_name). */
int dctx_get_port(struct dctx *c, const json_t *obj, const char *key, bool *ret_has,
		  uint16_t *ret_num, const char **ret_name);
/* A label map (labels, matchLabels, a Service selector); *ret_has may be NULL. */
int dctx_get_labels(struct dctx *c, const json_t *obj, const char *key, bool *ret_has,
		    struct labels *ret);

int dctx_check_count(struct dctx *c, const char *key, size_t n, size_t max);
/* strdup of s (NULL stays NULL). Returns 0 or -ENOMEM. */
int dctx_dup_str(struct dctx *c, const char *s, char **ret);

/*
 * v, at the current path, must be a string among words[0..n): returns its
 * index, or -EINVAL with "unsupported <what> "v" (must be A, B or C)".
 */
int dctx_word(struct dctx *c, const json_t *v, const char *what, const char *const *words,
	      size_t n);

/* Decodes one array element (NULL for a null element, which Go reads as {}) into item. */
typedef int (*dctx_elem_fn)(struct dctx *c, const json_t *elem, void *item);

/*
 * fn on each element of arr (field key of the current object; may be NULL),
 * with the path at key[i]; elements must be objects. fn gets items + i * size
 * (size 0: items itself). Stops at the first failure and returns it.
 */
int dctx_each(struct dctx *c, const char *key, const json_t *arr, void *items, size_t size,
	      dctx_elem_fn fn);

/*
 * arr decoded into a new array of at most max items of size bytes, by
 * dctx_each(). *ret and *ret_n are set before the first element is decoded,
 * so that the caller's destructor frees what was filled when one fails.
 * An empty or absent arr leaves both untouched. Returns 0, -EINVAL, -ENOMEM.
 */
int dctx_list(struct dctx *c, const char *key, const json_t *arr, size_t max, size_t size,
	      dctx_elem_fn fn, void **ret, size_t *ret_n);

/* A shortened, quoted copy of s for a message (valid until the end of the statement). */
#define Q(s) decode_quote((s), (char[96]){0}, 96)

/* Common metadata of an object (decode_object.c); strings point into the tree. */
struct decode_meta {
	const char *ns; /* "default" when absent; NULL for cluster-scoped kinds */
	const char *name;
	const char *uid;
	int64_t generation;
	json_t *m; /* the metadata object */
};

/*
 * An object's metadata, with copies of its namespace (the object is
 * namespaced when ret_ns is set), name and uid (when ret_uid is set).
 * Returns 0, -EINVAL or -ENOMEM.
 */
int decode_meta(struct dctx *c, const json_t *obj, struct decode_meta *ret, char **ret_ns,
		char **ret_name, char **ret_uid);

/* A NetworkPolicy (decode_netpol.c). Returns 0, -EINVAL or -ENOMEM. */
int decode_netpol(struct dctx *c, const json_t *obj, struct netpol **ret);

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
