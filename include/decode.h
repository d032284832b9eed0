/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Decoding of Kubernetes manifests (JSON via jansson, YAML via libyaml) into
 * the model of model.h. Multi-document YAML, JSON documents and `kind: List`
 * / `kind: XxxList` are accepted. Every object is validated on its own: a bad
 * object is reported through the sink and the others are still delivered.
 * Unknown kinds are skipped silently; unknown fields are ignored. Never logs.
 */
#pragma once

#include <stddef.h>

#include "model.h"

/* Limits on outside input (see docs/design.md). */
#define DECODE_MAX_DOCUMENT_BYTES (16u * 1024 * 1024) /* one file / HTTP body */
#define DECODE_MAX_DEPTH 64                         /* nesting of maps/lists */
#define DECODE_MAX_OBJECTS 1000000                  /* items in one buffer */
#define DECODE_MAX_NODES (2u * 1024 * 1024)        /* values (scalars, maps, lists) in one document */

/* One rejected object, or a whole document that could not be parsed. */
struct decode_diag {
	const char *source; /* file name or "<stdin>", as given to the decoder */
	unsigned line;      /* 1-based line in source (YAML and JSON); 0 if unknown */
	const char *kind;   /* "Pod", ... or NULL if unknown */
	const char *ns;     /* may be NULL (cluster-scoped or unparsable) */
	const char *name;   /* may be NULL */
	const char *message; /* e.g. "spec.ingress[0].from[1].ipBlock.cidr: invalid CIDR \"10.0.0/8\"" */
};

struct decode_sink {
	/* Receives each valid object; takes ownership of obj's contents (obj itself is borrowed). */
	void (*object)(void *userdata, struct k8s_object *obj);
	/* Receives each rejection; all pointers valid only during the call. */
	void (*error)(void *userdata, const struct decode_diag *diag);
	void *userdata;
};

/*
 * Decode a buffer holding JSON or YAML (auto-detected: JSON if the first
 * non-blank byte is '{' or '['). source names the input in diagnostics.
 * Returns the number of objects delivered (>= 0), or -EINVAL/-E2BIG when the
 * buffer as a whole could not be read (also reported through sink->error),
 * -ENOMEM on allocation failure.
 */
int decode_manifest(const char *buf, size_t len, const char *source, const struct decode_sink *sink);

/*
 * One object of a known kind from a JSON text (as the API server returns for
 * a get, or the "object" of a watch event, where "kind" may be absent).
 * Returns 0 and fills ret, or a negative errno with *ret_err set to an
 * allocated message (caller frees).
 */
int decode_object_json(const char *buf, size_t len, enum obj_kind kind, struct k8s_object *ret,
		       char **ret_err);

enum watch_event_type {
	WATCH_ADDED,
	WATCH_MODIFIED,
	WATCH_DELETED,
	WATCH_BOOKMARK,
	WATCH_ERROR,
};

struct watch_event {
	enum watch_event_type type;
	char *resource_version; /* metadata.resourceVersion of the object, or NULL */
	struct k8s_object obj;  /* filled for ADDED/MODIFIED/DELETED when valid */
	bool obj_valid;
	char *ns, *name;        /* identity even when the object was invalid (may be NULL) */
	int status_code;        /* WATCH_ERROR: Status.code (e.g. 410), else 0 */
	char *message;          /* WATCH_ERROR message, or validation error when !obj_valid */
};

/*
 * Decode one watch event line ({"type":..., "object":{...}}) for a resource
 * of the given kind. Returns 0 (check ev->obj_valid for per-object
 * validation), or -EINVAL if the event itself is malformed.
 */
int decode_watch_event(const char *buf, size_t len, enum obj_kind kind, struct watch_event *ret);
void watch_event_clear(struct watch_event *ev);

/*
 * The list envelope of an API list response: metadata.resourceVersion and
 * metadata.continue (either may be NULL), plus the items through the sink
 * exactly as decode_manifest does (items need no "kind"; it is kind).
 */
int decode_list(const char *buf, size_t len, enum obj_kind kind, const char *source,
		const struct decode_sink *sink, char **ret_resource_version, char **ret_continue);
