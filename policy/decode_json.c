/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Entry points of the decoder: format detection, the JSON front end (one or
 * several concatenated documents, pre-scanned for depth and size before
 * jansson allocates anything), List handling and kind dispatch shared with
 * the YAML front end, single objects, watch events and list responses.
 */
#include <stdarg.h>
#include <stdio.h>

#include "decode_internal.h"

static void json_decref_p(json_t **j)
{
	json_decref(*j);
}
#define _cleanup_json_ _cleanup_(json_decref_p)

void decode_report(struct decode_run *run, unsigned line, const char *kind, const char *ns,
		   const char *name, const char *fmt, ...)
{
	char msg[DECODE_MSG_MAX];
	struct decode_diag d = {
		.source = run->source,
		.line = line,
		.kind = kind,
		.ns = ns,
		.name = name,
		.message = msg,
	};
	va_list ap;

	if (!run->sink || !run->sink->error)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	run->sink->error(run->sink->userdata, &d);
}

size_t decode_utf8_check(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n;

		if (p[i] < 0x80) {
			if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
				return i;
			if (p[i] == 0x7f)
				return i;
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			n = 2;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 3;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 4;
			cp = p[i] & 0x07;
		} else {
			return i;
		}
		if (i + n > len)
			return i;
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF, and what YAML calls non-printable */
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0 && cp != 0x85) ||
		    cp == 0xfffe || cp == 0xffff)
			return i;
		i += n;
	}
	return len;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

static const char *str_field(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool kind_is_namespaced(const char *kind)
{
	return !kind || strcmp(kind, "Namespace") != 0;
}

/* kind, namespace and name of an object for diagnostics, as far as they are readable. */
static void identity(const json_t *obj, const char *kind, const char **ret_ns, const char **ret_name)
{
	json_t *m = json_object_get(obj, "metadata");
	const char *ns = str_field(m, "namespace");

	*ret_name = str_field(m, "name");
	*ret_ns = NULL;
	if (kind_is_namespaced(kind))
		*ret_ns = ns && *ns ? ns : "default";
}

static int kind_lookup(const char *kind, enum obj_kind *ret)
{
	static const enum obj_kind kinds[] = {OBJ_NAMESPACE, OBJ_POD, OBJ_NETWORK_POLICY, OBJ_SERVICE};

	for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
		if (strcmp(kind, obj_kind_name(kinds[i])) == 0) {
			*ret = kinds[i];
			return 0;
		}
	return -ENOENT;
}

static const char *kind_api_version(enum obj_kind k)
{
	return k == OBJ_NETWORK_POLICY ? "networking.k8s.io/v1" : "v1";
}

static void deliver(struct decode_run *run, struct k8s_object *o)
{
	run->n_delivered++;
	if (run->sink && run->sink->object)
		run->sink->object(run->sink->userdata, o);
	else
		k8s_object_clear(o);
}

/*
 * One object of a document or List. def_kind/def_api apply when the object
 * has no kind/apiVersion (items of typed lists). Returns 0 or -ENOMEM.
 */
static int decode_item(struct decode_run *run, const json_t *obj, const char *def_kind,
		       const char *def_api, unsigned line, const char *pre_err)
{
	char err[DECODE_MSG_MAX];
	const char *kind, *api, *ns, *name;
	struct k8s_object o;
	enum obj_kind k;
	json_t *v;
	int r;

	if (!json_is_object(obj)) {
		decode_report(run, line, def_kind, NULL, NULL, "expected object, got %s",
			      decode_json_type(obj));
		return 0;
	}
	v = json_object_get(obj, "kind");
	kind = def_kind;
	if (v && !json_is_null(v)) {
		if (!json_is_string(v)) {
			identity(obj, NULL, &ns, &name);
			decode_report(run, line, NULL, ns, name, "kind: expected string, got %s",
				      decode_json_type(v));
			return 0;
		}
		kind = json_string_value(v);
	}
	if (!kind || !*kind) {
		identity(obj, NULL, &ns, &name);
		decode_report(run, line, NULL, ns, name, "kind: required");
		return 0;
	}
	if (run->forced_kind && strcmp(kind, run->forced_kind) != 0) {
		identity(obj, run->forced_kind, &ns, &name);
		decode_report(run, line, run->forced_kind, ns, name, "kind: expected %s, got %s",
			      run->forced_kind, decode_quote(kind, err, 96));
		return 0;
	}
	if (kind_lookup(kind, &k) < 0)
		return 0; /* not ours: Deployment, ConfigMap, ... */
	identity(obj, kind, &ns, &name);

	v = json_object_get(obj, "apiVersion");
	api = def_api;
	if (v && !json_is_null(v)) {
		if (!json_is_string(v)) {
			decode_report(run, line, kind, ns, name, "apiVersion: expected string, got %s",
				      decode_json_type(v));
			return 0;
		}
		api = json_string_value(v);
	}
	if (api && strcmp(api, kind_api_version(k)) != 0) {
		/* Another group's kind of the same name (Knative Service, ...) is not ours. */
		if (k != OBJ_NETWORK_POLICY && !run->forced_kind)
			return 0;
		decode_report(run, line, kind, ns, name, "apiVersion: unsupported %s (must be %s)",
			      decode_quote(api, err, 96), kind_api_version(k));
		return 0;
	}
	if (pre_err) {
		decode_report(run, line, kind, ns, name, "%s", pre_err);
		return 0;
	}
	r = decode_object_tree(obj, k, &o, err, sizeof(err));
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		decode_report(run, line, kind, ns, name, "%s", err);
		return 0;
	}
	deliver(run, &o);
	return 0;
}

/* "PodList" -> "Pod"; NULL for "List" and non-lists. Returns buf or NULL. */
static const char *list_item_kind(const char *kind, char *buf, size_t len)
{
	size_t n = strlen(kind);

	if (strcmp(kind, "List") == 0 || n - 4 >= len)
		return NULL;
	memcpy(buf, kind, n - 4);
	buf[n - 4] = 0;
	return buf;
}

static bool too_many(struct decode_run *run, size_t n, unsigned line)
{
	if (run->n_seen + n <= DECODE_MAX_OBJECTS && !run->stop) {
		run->n_seen += n;
		return false;
	}
	if (!run->stop)
		decode_report(run, line, NULL, NULL, NULL,
			      "too many objects in one input (max %u); the rest is ignored",
			      (unsigned)DECODE_MAX_OBJECTS);
	run->stop = true;
	return true;
}

int decode_document(struct decode_run *run, const struct decode_doc *doc)
{
	const char *kind = json_is_object(doc->root) ? str_field(doc->root, "kind") : NULL;
	char item_kind[64];
	const char *ikind, *api, *ns, *name;
	json_t *items, *it;
	size_t i;
	int r;

	run->n_docs_ok++;
	if (run->stop)
		return 0;
	if (!kind || !(strcmp(kind, "List") == 0 || ends_with(kind, "List")) || run->forced_kind) {
		if (too_many(run, 1, doc->line))
			return 0;
		return decode_item(run, doc->root, NULL, NULL, doc->line, doc->doc_err);
	}

	items = json_object_get(doc->root, "items");
	if (doc->doc_err || (items && !json_is_array(items) && !json_is_null(items))) {
		identity(doc->root, kind, &ns, &name);
		if (doc->doc_err)
			decode_report(run, doc->line, kind, NULL, name, "%s", doc->doc_err);
		else
			decode_report(run, doc->line, kind, NULL, name, "items: expected array, got %s",
				      decode_json_type(items));
		return 0;
	}
	if (too_many(run, json_array_size(items), doc->line))
		return 0;
	ikind = list_item_kind(kind, item_kind, sizeof(item_kind));
	api = ikind ? str_field(doc->root, "apiVersion") : NULL;
	json_array_foreach(items, i, it) {
		unsigned line = i < doc->n_item_lines ? doc->item_lines[i] : doc->line;
		const char *err = doc->item_errs && i < doc->n_item_lines ? doc->item_errs[i] : NULL;

		r = decode_item(run, it, ikind, api, line, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * One top-level JSON value found by the pre-scan: its extent, its line, its
 * nesting and size, and the lines and extents of its "items" elements.
 */
struct jscan {
	size_t start, end;
	unsigned line, col;
	unsigned deep_line; /* line where DECODE_MAX_DEPTH was passed, or 0 */
	size_t nodes;
	unsigned *item_lines;
	size_t *item_start, *item_end;
	size_t n_items, cap;
};

static void jscan_reset(struct jscan *s)
{
	free(s->item_lines);
	free(s->item_start);
	free(s->item_end);
	*s = (struct jscan){0};
}

static int jscan_add_item(struct jscan *s, size_t start, unsigned line)
{
	if (s->n_items == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		unsigned *l = realloc(s->item_lines, cap * sizeof(*l));

		if (!l)
			return -ENOMEM;
		s->item_lines = l;
		size_t *a = realloc(s->item_start, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		s->item_start = a;
		a = realloc(s->item_end, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		s->item_end = a;
		s->cap = cap;
	}
	s->item_lines[s->n_items] = line;
	s->item_start[s->n_items] = start;
	s->item_end[s->n_items] = start;
	s->n_items++;
	return 0;
}

/*
 * Find the next top-level value at or after *pos (advancing *pos and *line
 * past it). Returns 1 when found, 0 at the end of input, -ENOMEM. A value
 * that never closes extends to the end of input; jansson then says why.
 */
static int jscan_next(const char *buf, size_t len, size_t *pos, unsigned *line, size_t *line_start,
		      struct jscan *s)
{
	size_t i = *pos, key_start = 0, key_len = 0, str_start = 0;
	unsigned depth = 0;
	bool in_str = false, esc = false, in_items = false, want_item = false;
	const char *p = buf;

	jscan_reset(s);
	for (; i < len; i++) {
		if (p[i] == '\n') {
			(*line)++;
			*line_start = i + 1;
		} else if (!(p[i] == ' ' || p[i] == '\t' || p[i] == '\r')) {
			break;
		}
	}
	if (i >= len) {
		*pos = len;
		return 0;
	}
	s->start = i;
	s->line = *line;
	s->col = (unsigned)(i - *line_start) + 1;
	s->nodes = 1;
	if (p[i] != '{' && p[i] != '[') {
		s->end = len; /* a bare scalar or garbage: let jansson describe it */
		*pos = len;
		return 1;
	}
	for (; i < len; i++) {
		char ch = p[i];

		if (ch == '\n') {
			(*line)++;
			*line_start = i + 1;
		}
		if (in_str) {
			if (esc)
				esc = false;
			else if (ch == '\\')
				esc = true;
			else if (ch == '"') {
				in_str = false;
				if (depth == 1) {
					key_start = str_start;
					key_len = i - str_start;
				}
			}
			continue;
		}
		if (want_item && !(ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')) {
			want_item = false;
			if (ch != ']' && jscan_add_item(s, i, *line) < 0)
				return -ENOMEM;
		}
		switch (ch) {
		case '"':
			in_str = true;
			str_start = i + 1;
			break;
		case '{':
		case '[':
			depth++;
			s->nodes++;
			if (depth > DECODE_MAX_DEPTH && !s->deep_line)
				s->deep_line = *line;
			if (depth == 2 && ch == '[' && key_len == 5 && memcmp(p + key_start, "items", 5) == 0 &&
			    s->n_items == 0) {
				in_items = true;
				want_item = true;
			}
			break;
		case '}':
		case ']':
			if (depth == 2 && in_items) {
				if (s->n_items)
					s->item_end[s->n_items - 1] = i;
				in_items = false;
			}
			if (--depth == 0) {
				s->end = i + 1;
				*pos = i + 1;
				return 1;
			}
			break;
		case ',':
			s->nodes++;
			if (depth == 2 && in_items) {
				if (s->n_items)
					s->item_end[s->n_items - 1] = i;
				want_item = true;
			}
			break;
		case ':':
			break;
		default:
			break;
		}
	}
	s->end = len;
	*pos = len;
	return 1;
}

/*
 * jansson stops at the first duplicate key. Keep the objects that are fine:
 * parse again keeping the last value, then check each item and the envelope
 * (items blanked out) on their own. Returns 0 or -ENOMEM; ret_doc_err set
 * when the envelope itself holds a duplicate.
 */
static int json_dup_recover(const char *buf, const struct jscan *s, const char *first_err,
			    json_t **ret_root, char ***ret_item_errs, char **ret_doc_err)
{
	_cleanup_json_ json_t *root = NULL;
	_cleanup_free_ char *env = NULL;
	char **errs = NULL;
	json_error_t e;
	json_t *t;

	*ret_root = NULL;
	*ret_item_errs = NULL;
	*ret_doc_err = NULL;
	root = json_loadb(buf + s->start, s->end - s->start, 0, &e);
	if (!root)
		return 0;
	if (s->n_items > 0 && json_array_size(json_object_get(root, "items")) == s->n_items) {
		errs = calloc(s->n_items, sizeof(char *));
		env = malloc(s->end - s->start);
		if (!errs || !env) {
			free(errs);
			return -ENOMEM;
		}
		memcpy(env, buf + s->start, s->end - s->start);
		for (size_t i = 0; i < s->n_items; i++) {
			size_t a = s->item_start[i], b = s->item_end[i];

			t = json_loadb(buf + a, b - a, JSON_REJECT_DUPLICATES, &e);
			json_decref(t);
			if (!t && json_error_code(&e) == json_error_duplicate_key &&
			    !(errs[i] = strdup(e.text))) {
				for (size_t k = 0; k < i; k++)
					free(errs[k]);
				free(errs);
				return -ENOMEM;
			}
			/* blank the item to a "0" of the same length: positions and lines stay */
			memset(env + (a - s->start), ' ', b - a);
			env[a - s->start] = '0';
		}
		t = json_loadb(env, s->end - s->start, JSON_REJECT_DUPLICATES, &e);
		json_decref(t);
		if (!t)
			*ret_doc_err = strdup(e.text);
		for (size_t i = 0; i < s->n_items && !t && !*ret_doc_err; i++)
			free(errs[i]);
		if (!t && !*ret_doc_err) {
			free(errs);
			return -ENOMEM;
		}
	} else {
		*ret_doc_err = strdup(first_err);
		if (!*ret_doc_err)
			return -ENOMEM;
	}
	*ret_item_errs = errs;
	*ret_root = TAKE_PTR(root);
	return 0;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static int decode_json_stream(struct decode_run *run, const char *buf, size_t len)
{
	size_t pos = 0, line_start = 0;
	unsigned line = 1;
	struct jscan s = {0};
	int r = 0;

	while (!run->stop) {
		_cleanup_json_ json_t *root = NULL;
		_cleanup_free_ char *doc_err = NULL;
		char **item_errs = NULL;
		json_error_t e;

		r = jscan_next(buf, len, &pos, &line, &line_start, &s);
		if (r <= 0)
			break;
		r = 0;
		if (s.deep_line) {
			run->n_docs_bad++;
			decode_report(run, s.deep_line, NULL, NULL, NULL,
				      "invalid JSON: nesting deeper than %d levels", DECODE_MAX_DEPTH);
			continue;
		}
		if (s.nodes > DECODE_MAX_NODES) {
			run->n_docs_bad++;
			decode_report(run, s.line, NULL, NULL, NULL,
				      "invalid JSON: more than %u values in one document",
				      (unsigned)DECODE_MAX_NODES);
			continue;
		}
		if (s.n_items > DECODE_MAX_OBJECTS) {
			/* refuse before jansson builds a million objects */
			too_many(run, s.n_items, s.line);
			break;
		}
		root = json_loadb(buf + s.start, s.end - s.start, JSON_REJECT_DUPLICATES, &e);
		if (!root && json_error_code(&e) == json_error_duplicate_key) {
			r = json_dup_recover(buf, &s, e.text, &root, &item_errs, &doc_err);
			if (r < 0)
				break;
		}
		if (!root) {
			unsigned l = s.line + (e.line > 0 ? (unsigned)e.line - 1 : 0);
			unsigned col = e.line <= 1 ? s.col - 1 + (unsigned)(e.column > 0 ? e.column : 0)
						   : (unsigned)(e.column > 0 ? e.column : 0);

			run->n_docs_bad++;
			decode_report(run, l, NULL, NULL, NULL, "invalid JSON at line %u column %u: %s%s", l,
				      col, strstr(e.text, "unable to decode byte") ? "invalid UTF-8: " : "",
				      e.text);
			if (s.end == len)
				break; /* framing lost */
			continue;
		}
		struct decode_doc d = {
			.root = root,
			.line = s.line,
			.item_lines = s.item_lines,
			.n_item_lines = s.n_items,
			.item_errs = item_errs,
			.doc_err = doc_err,
		};
		if (s.n_items != json_array_size(json_object_get(root, "items")))
			d.n_item_lines = 0;
		r = decode_document(run, &d);
		free_strv(item_errs, s.n_items);
		if (r < 0)
			break;
	}
	jscan_reset(&s);
	return r < 0 ? r : 0;
}

int decode_manifest(const char *buf, size_t len, const char *source, const struct decode_sink *sink)
{
	struct decode_run run = {.source = source, .sink = sink};
	size_t i = 0;
	int r;

	if (len > DECODE_MAX_DOCUMENT_BYTES) {
		decode_report(&run, 0, NULL, NULL, NULL, "input too large (%zu bytes, max %u)", len,
			      (unsigned)DECODE_MAX_DOCUMENT_BYTES);
		return -E2BIG;
	}
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		i = 3; /* a UTF-8 byte order mark */
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	if (i < len && (buf[i] == '{' || buf[i] == '[')) {
		size_t bom = len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;

		r = decode_json_stream(&run, buf + bom, len - bom);
	} else {
		r = decode_yaml_stream(&run, buf, len);
	}
	if (r < 0)
		return r;
	if (run.stop)
		return -E2BIG;
	if (run.n_docs_bad > 0 && run.n_docs_ok == 0)
		return -EINVAL;
	return run.n_delivered;
}

/* Parse exactly one JSON object, bounded like decode_manifest. Message in *ret_err. */
static int parse_one(const char *buf, size_t len, json_t **ret, char **ret_err)
{
	size_t pos = 0, line_start = 0;
	unsigned line = 1;
	struct jscan s = {0};
	json_error_t e;
	int r;

	*ret = NULL;
	if (len > DECODE_MAX_DOCUMENT_BYTES)
		return asprintf(ret_err, "input too large (%zu bytes, max %u)", len,
				(unsigned)DECODE_MAX_DOCUMENT_BYTES) < 0 ? -ENOMEM : -E2BIG;
	r = jscan_next(buf, len, &pos, &line, &line_start, &s);
	if (r < 0)
		return r;
	if (r == 0)
		r = asprintf(ret_err, "invalid JSON: empty input");
	else if (s.deep_line)
		r = asprintf(ret_err, "invalid JSON: nesting deeper than %d levels", DECODE_MAX_DEPTH);
	else if (s.nodes > DECODE_MAX_NODES)
		r = asprintf(ret_err, "invalid JSON: more than %u values", (unsigned)DECODE_MAX_NODES);
	else {
		*ret = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
		if (*ret && !json_is_object(*ret)) {
			r = asprintf(ret_err, "expected object, got %s", decode_json_type(*ret));
			json_decref(*ret);
			*ret = NULL;
		} else if (!*ret) {
			r = asprintf(ret_err, "invalid JSON at line %d column %d: %s", e.line, e.column,
				     e.text);
		}
	}
	jscan_reset(&s);
	if (*ret)
		return 0;
	return r < 0 ? -ENOMEM : -EINVAL;
}

/* decode_object_tree for an object whose kind is known from the request. */
static int decode_known(const json_t *obj, enum obj_kind kind, struct k8s_object *ret, char *err,
			size_t errlen)
{
	const char *k = str_field(obj, "kind"), *api = str_field(obj, "apiVersion");

	if (k && strcmp(k, obj_kind_name(kind)) != 0) {
		snprintf(err, errlen, "kind: expected %s, got %s", obj_kind_name(kind),
			 decode_quote(k, (char[96]){0}, 96));
		return -EINVAL;
	}
	if (api && strcmp(api, kind_api_version(kind)) != 0) {
		snprintf(err, errlen, "apiVersion: unsupported %s (must be %s)",
			 decode_quote(api, (char[96]){0}, 96), kind_api_version(kind));
		return -EINVAL;
	}
	return decode_object_tree(obj, kind, ret, err, errlen);
}

int decode_object_json(const char *buf, size_t len, enum obj_kind kind, struct k8s_object *ret,
		       char **ret_err)
{
	_cleanup_json_ json_t *root = NULL;
	char err[DECODE_MSG_MAX];
	int r;

	*ret_err = NULL;
	r = parse_one(buf, len, &root, ret_err);
	if (r < 0)
		return r;
	r = decode_known(root, kind, ret, err, sizeof(err));
	if (r < 0)
		*ret_err = strdup(err);
	return r;
}

void watch_event_clear(struct watch_event *ev)
{
	if (!ev)
		return;
	free(ev->resource_version);
	if (ev->obj_valid)
		k8s_object_clear(&ev->obj);
	free(ev->ns);
	free(ev->name);
	free(ev->message);
	*ev = (struct watch_event){0};
}

int decode_watch_event(const char *buf, size_t len, enum obj_kind kind, struct watch_event *ret)
{
	static const char *const types[] = {
		[WATCH_ADDED] = "ADDED",       [WATCH_MODIFIED] = "MODIFIED", [WATCH_DELETED] = "DELETED",
		[WATCH_BOOKMARK] = "BOOKMARK", [WATCH_ERROR] = "ERROR",
	};
	_cleanup_json_ json_t *root = NULL;
	_cleanup_free_ char *perr = NULL;
	char err[DECODE_MSG_MAX];
	const char *type, *rv, *ns, *name;
	json_t *obj;
	size_t t;
	int r;

	*ret = (struct watch_event){0};
	r = parse_one(buf, len, &root, &perr);
	if (r < 0)
		return r;
	type = str_field(root, "type");
	obj = json_object_get(root, "object");
	if (!type || !json_is_object(obj))
		return -EINVAL;
	for (t = 0; t < ELEMENTSOF(types); t++)
		if (strcmp(type, types[t]) == 0)
			break;
	if (t == ELEMENTSOF(types))
		return -EINVAL;
	ret->type = (enum watch_event_type)t;

	if (ret->type == WATCH_ERROR) {
		json_t *code = json_object_get(obj, "code");
		const char *msg = str_field(obj, "message");

		if (json_is_integer(code) && json_integer_value(code) > 0 &&
		    json_integer_value(code) < 1000)
			ret->status_code = (int)json_integer_value(code);
		ret->message = strdup(msg ? msg : "unknown watch error");
		return ret->message ? 0 : -ENOMEM;
	}
	rv = str_field(json_object_get(obj, "metadata"), "resourceVersion");
	if (rv && !(ret->resource_version = strdup(rv)))
		goto nomem;
	if (ret->type == WATCH_BOOKMARK)
		return 0;

	identity(obj, obj_kind_name(kind), &ns, &name);
	if ((ns && !(ret->ns = strdup(ns))) || (name && !(ret->name = strdup(name))))
		goto nomem;
	r = decode_known(obj, kind, &ret->obj, err, sizeof(err));
	if (r == -ENOMEM)
		goto nomem;
	if (r < 0) {
		ret->message = strdup(err);
		if (!ret->message)
			goto nomem;
		return 0;
	}
	ret->obj_valid = true;
	return 0;
nomem:
	watch_event_clear(ret);
	return -ENOMEM;
}

int decode_list(const char *buf, size_t len, enum obj_kind kind, const char *source,
		const struct decode_sink *sink, char **ret_resource_version, char **ret_continue)
{
	struct decode_run run = {.source = source, .sink = sink, .forced_kind = obj_kind_name(kind)};
	_cleanup_json_ json_t *root = NULL;
	_cleanup_free_ char *err = NULL;
	const char *rv, *cont;
	json_t *items, *it, *meta;
	size_t i;
	int r;

	*ret_resource_version = NULL;
	*ret_continue = NULL;
	r = parse_one(buf, len, &root, &err);
	if (r < 0) {
		decode_report(&run, 0, NULL, NULL, NULL, "%s", err ? err : "out of memory");
		return r;
	}
	if (json_is_string(json_object_get(root, "kind")) &&
	    strcmp(str_field(root, "kind"), "Status") == 0) {
		decode_report(&run, 0, "Status", NULL, NULL, "status %lld: %s",
			      (long long)json_integer_value(json_object_get(root, "code")),
			      str_field(root, "message") ? str_field(root, "message") : "(no message)");
		return -EINVAL;
	}
	items = json_object_get(root, "items");
	if (items && !json_is_array(items) && !json_is_null(items)) {
		decode_report(&run, 0, NULL, NULL, NULL, "items: expected array, got %s",
			      decode_json_type(items));
		return -EINVAL;
	}
	if (json_array_size(items) > DECODE_MAX_OBJECTS) {
		decode_report(&run, 0, NULL, NULL, NULL, "too many objects in one input (max %u)",
			      (unsigned)DECODE_MAX_OBJECTS);
		return -E2BIG;
	}
	json_array_foreach(items, i, it) {
		r = decode_item(&run, it, run.forced_kind, kind_api_version(kind), 0, NULL);
		if (r < 0)
			return r;
	}
	meta = json_object_get(root, "metadata");
	rv = str_field(meta, "resourceVersion");
	cont = str_field(meta, "continue");
	if (rv && *rv && !(*ret_resource_version = strdup(rv)))
		return -ENOMEM;
	if (cont && *cont && !(*ret_continue = strdup(cont))) {
		free(*ret_resource_version);
		*ret_resource_version = NULL;
		return -ENOMEM;
	}
	return run.n_delivered;
}
