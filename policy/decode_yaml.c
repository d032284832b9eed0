/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The YAML front end: libyaml events become a jansson tree per document,
 * typed as kubectl types plain scalars, with the line of each object kept for
 * diagnostics. Aliases are refused (no billion laughs), depth and size are
 * bounded, duplicate keys reject their object, and a document that does not
 * parse is reported and skipped: parsing resumes at the next "---".
 */
#include <math.h>
#include <stdio.h>
#include <yaml.h>

#include "decode_internal.h"

struct yframe {
	json_t *node; /* borrowed: owned by the parent, or by ybuild.root */
	bool is_map;
	char *key;    /* mapping: the key waiting for its value */
	char *name;   /* the key of this node in its parent mapping */
	size_t index; /* the index of this node in its parent sequence */
};

struct ybuild {
	struct decode_run *run;
	unsigned base_line; /* line of the first byte handed to the parser */
	struct yframe st[DECODE_MAX_DEPTH];
	unsigned depth;
	json_t *root;
	unsigned root_line;
	size_t nodes;
	bool items_open; /* st[1] is the root mapping's "items" sequence */
	unsigned *item_lines;
	char **item_errs;
	size_t n_items, cap;
	char *doc_err;
	char fatal[DECODE_MSG_MAX]; /* set: the document is abandoned */
	unsigned fatal_line;
};

static void ybuild_reset(struct ybuild *b)
{
	for (unsigned i = 0; i < b->depth; i++) {
		free(b->st[i].key);
		free(b->st[i].name);
	}
	json_decref(b->root);
	for (size_t i = 0; i < b->n_items; i++)
		free(b->item_errs[i]);
	free(b->item_lines);
	free(b->item_errs);
	free(b->doc_err);
	*b = (struct ybuild){.run = b->run, .base_line = b->base_line};
}

static int fatal(struct ybuild *b, unsigned line, const char *msg)
{
	snprintf(b->fatal, sizeof(b->fatal), "invalid YAML at line %u: %s", line, msg);
	b->fatal_line = line;
	return 1;
}

static bool eq_any(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return true;
	return false;
}

/* YAML 1.1 integers as kubectl's YAML library reads them: decimal, 0x, 0o and 0-prefixed octal. */
static bool yaml_int(const char *s, int64_t *ret)
{
	const char *p = s + (*s == '-' || *s == '+');
	int base = 10;
	char *end;
	long long v;

	if (!*p)
		return false;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && p[1] == 'o') {
		base = 8;
		p += 2;
	} else if (p[0] == '0' && p[1]) {
		base = 8;
		p += 1;
	}
	if (!*p || strspn(p, base == 16 ? "0123456789abcdefABCDEF" : base == 8 ? "01234567" : "0123456789") !=
			   strlen(p))
		return false;
	errno = 0;
	v = strtoll(p, &end, base);
	if (errno || *end)
		return false;
	*ret = *s == '-' ? -v : v;
	return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool yaml_float(const char *s, double *ret)
{
	const char *p = s + (*s == '-' || *s == '+');
	size_t d1, d2 = 0;

	d1 = strspn(p, "0123456789");
	p += d1;
	if (*p == '.') {
		d2 = strspn(p + 1, "0123456789");
		p += 1 + d2;
	}
	if (d1 == 0 && d2 == 0)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		p += *p == '-' || *p == '+';
		if (!strspn(p, "0123456789"))
			return false;
		p += strspn(p, "0123456789");
	}
	if (*p)
		return false;
	*ret = strtod(s, NULL);
	return isfinite(*ret);
}

static json_t *yaml_scalar(const yaml_event_t *ev)
{
	static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	const char *s = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	size_t n = ev->data.scalar.length;
	int64_t i;
	double d;

	/* Quoted and block scalars, and !!str, are strings; plain ones are resolved. */
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || (tag && strcmp(tag, YAML_STR_TAG) == 0))
		return json_stringn(s, n);
	if (n == 0 || eq_any(s, nulls))
		return json_null();
	if (eq_any(s, trues))
		return json_true();
	if (eq_any(s, falses))
		return json_false();
	if (n < 32 && yaml_int(s, &i))
		return json_integer(i);
	if (n < 64 && yaml_float(s, &d))
		return json_real(d);
	return json_stringn(s, n);
}

static int grow_items(struct ybuild *b)
{
	size_t cap = b->cap ? b->cap * 2 : 64;
	unsigned *l;
	char **e;

	l = realloc(b->item_lines, cap * sizeof(*l));
	if (!l)
		return -ENOMEM;
	b->item_lines = l;
	e = realloc(b->item_errs, cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	b->item_errs = e;
	b->cap = cap;
	return 0;
}

/* A duplicate key rejects the List item it is in, or else the document. */
static int duplicate_key(struct ybuild *b, unsigned line, const char *key)
{
	char path[DECODE_PATH_MAX] = "", q[96];
	bool in_item = b->items_open && b->depth >= 3;
	char **slot = in_item ? &b->item_errs[b->st[2].index] : &b->doc_err;
	size_t o = 0;

	if (*slot)
		return 0;
	for (unsigned i = in_item ? 3 : 1; i < b->depth && o < sizeof(path); i++) {
		int n = b->st[i - 1].is_map
				? snprintf(path + o, sizeof(path) - o, "%s%s", o ? "." : "", b->st[i].name)
				: snprintf(path + o, sizeof(path) - o, "[%zu]", b->st[i].index);

		if (n > 0)
			o += (size_t)n;
	}
	if (asprintf(slot, "%s%sduplicate key %s at line %u", path, *path ? ": " : "",
		     decode_quote(key, q, sizeof(q)), line) < 0) {
		*slot = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Attach a new node (scalar or collection) where the parser is. 0, 1 (fatal) or -ENOMEM. */
static int add_node(struct ybuild *b, json_t *v, bool container, bool is_map, unsigned line)
{
	char *name = NULL;
	size_t index = 0;

	if (!v)
		return -ENOMEM;
	if (++b->nodes > DECODE_MAX_NODES) {
		json_decref(v);
		return fatal(b, line, "too many values in one document");
	}
	if (b->depth == 0) {
		json_decref(b->root);
		b->root = v;
		b->root_line = line;
	} else {
		struct yframe *f = &b->st[b->depth - 1];

		if (f->is_map) {
			name = TAKE_PTR(f->key);
			if (json_object_set_new(f->node, name, v) < 0) {
				free(name);
				return -ENOMEM;
			}
		} else {
			index = json_array_size(f->node);
			if (json_array_append_new(f->node, v) < 0)
				return -ENOMEM;
			if (b->depth == 2 && b->items_open) {
				if (b->n_items == b->cap && grow_items(b) < 0)
					return -ENOMEM;
				b->item_lines[b->n_items] = line;
				b->item_errs[b->n_items++] = NULL;
			}
		}
	}
	if (!container) {
		free(name);
		return 0;
	}
	if (b->depth == DECODE_MAX_DEPTH) {
		free(name);
		snprintf(b->fatal, sizeof(b->fatal), "invalid YAML at line %u: nesting deeper than %d levels",
			 line, DECODE_MAX_DEPTH);
		b->fatal_line = line;
		return 1;
	}
	if (b->depth == 1 && !is_map && b->st[0].is_map && name && strcmp(name, "items") == 0 &&
	    b->n_items == 0)
		b->items_open = true;
	b->st[b->depth++] = (struct yframe){.node = v, .is_map = is_map, .name = name, .index = index};
	return 0;
}

static int key_scalar(struct ybuild *b, struct yframe *f, const yaml_event_t *ev, unsigned line)
{
	const char *k = (const char *)ev->data.scalar.value;
	int r;

	if (++b->nodes > DECODE_MAX_NODES)
		return fatal(b, line, "too many values in one document");
	if (memchr(k, 0, ev->data.scalar.length))
		return fatal(b, line, "NUL character in a mapping key");
	if (json_object_get(f->node, k)) {
		r = duplicate_key(b, line, k);
		if (r < 0)
			return r;
	}
	f->key = strdup(k);
	return f->key ? 0 : -ENOMEM;
}

static int deliver_doc(struct ybuild *b)
{
	struct decode_doc d = {
		.root = b->root,
		.line = b->root_line,
		.item_lines = b->item_lines,
		.n_item_lines = b->n_items,
		.item_errs = b->item_errs,
		.doc_err = b->doc_err,
	};

	if (!b->root || json_is_null(b->root))
		return 0; /* an empty document */
	if (json_array_size(json_object_get(b->root, "items")) != b->n_items)
		d.n_item_lines = 0;
	return decode_document(b->run, &d);
}

/* One parser event. Returns 0, 1 when the document must be abandoned (b->fatal), or -ENOMEM. */
static int yaml_event(struct ybuild *b, const yaml_event_t *ev)
{
	unsigned line = b->base_line + (unsigned)ev->start_mark.line;
	struct yframe *f = b->depth ? &b->st[b->depth - 1] : NULL;
	int r;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		ybuild_reset(b);
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		r = deliver_doc(b);
		ybuild_reset(b);
		return r;
	case YAML_ALIAS_EVENT:
		return fatal(b, line, "aliases are not supported");
	case YAML_SCALAR_EVENT:
		if (f && f->is_map && !f->key)
			return key_scalar(b, f, ev, line);
		if (memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
			return fatal(b, line, "NUL character in a string");
		return add_node(b, yaml_scalar(ev), false, false, line);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (f && f->is_map && !f->key)
			return fatal(b, line, "complex mapping keys are not supported");
		return add_node(b, ev->type == YAML_MAPPING_START_EVENT ? json_object() : json_array(), true,
				ev->type == YAML_MAPPING_START_EVENT, line);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (!b->depth)
			return 0;
		b->depth--;
		if (b->depth == 1)
			b->items_open = false;
		free(b->st[b->depth].key);
		free(b->st[b->depth].name);
		return 0;
	default:
		return 0;
	}
}

static const char *str_kind(const struct ybuild *b)
{
	return json_string_value(json_object_get(b->root, "kind"));
}

struct ybound {
	size_t off;
	unsigned line;
};

/* First boundary index > from_idx-ish whose offset is >= min_off and > after_off, or n. */
static size_t next_bound(const struct ybound *bd, size_t n, size_t min_off, size_t after_off)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (bd[mid].off < min_off || bd[mid].off <= after_off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Parse bytes [bd[first].off, end) with restarts at boundaries after errors. */
static int parse_range(struct ybuild *b, const char *buf, const struct ybound *bd, size_t first,
		       size_t last, size_t end)
{
	size_t k = first;

	while (k < last && !b->run->stop) {
		size_t pos = bd[k].off, doc_start = pos, restart_min = 0;
		yaml_parser_t p;
		bool done = false;
		int r = 0;

		if (!yaml_parser_initialize(&p))
			return -ENOMEM;
		yaml_parser_set_input_string(&p, (const unsigned char *)buf + pos, end - pos);
		yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
		b->base_line = bd[k].line;
		ybuild_reset(b);
		while (!done && !b->run->stop) {
			yaml_event_t ev;

			if (!yaml_parser_parse(&p, &ev)) {
				size_t at = p.error == YAML_READER_ERROR ? p.problem_offset : p.problem_mark.index;
				unsigned line = b->base_line + (unsigned)(p.error == YAML_READER_ERROR
										  ? 0
										  : p.problem_mark.line);

				if (p.error == YAML_MEMORY_ERROR) {
					r = -ENOMEM;
					break;
				}
				b->run->n_docs_bad++;
				decode_report(b->run, line, NULL, NULL, NULL,
					      "invalid YAML at line %u column %u: %s%s%s", line,
					      (unsigned)p.problem_mark.column + 1,
					      p.problem ? p.problem : "syntax error", p.context ? " " : "",
					      p.context ? p.context : "");
				restart_min = pos + at;
				r = 1;
				break;
			}
			if (ev.type == YAML_DOCUMENT_START_EVENT)
				doc_start = pos + ev.start_mark.index;
			done = ev.type == YAML_STREAM_END_EVENT;
			r = yaml_event(b, &ev);
			yaml_event_delete(&ev);
			if (r < 0)
				break;
			if (r > 0) {
				const char *kind = str_kind(b);

				b->run->n_docs_bad++;
				decode_report(b->run, b->fatal_line, kind, NULL, NULL, "%s", b->fatal);
				restart_min = doc_start + 1;
				break;
			}
		}
		yaml_parser_delete(&p);
		ybuild_reset(b);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		k = next_bound(bd, last, restart_min, doc_start);
	}
	return 0;
}

static bool is_doc_start(const char *p, size_t left)
{
	return left >= 3 && memcmp(p, "---", 3) == 0 &&
	       (left == 3 || p[3] == ' ' || p[3] == '\t' || p[3] == '\r' || p[3] == '\n');
}

/*
 * Split at lines starting with "---" (directive lines just before belong to
 * the next document). A document marker ends any scalar, so the split is
 * exact. Returns the count, or -ENOMEM/-E2BIG.
 */
static ssize_t find_bounds(const char *buf, size_t len, struct ybound **ret)
{
	struct ybound *bd = NULL;
	size_t n = 0, cap = 0, dir_start = SIZE_MAX;
	unsigned dir_line = 0, line = 1;

	for (size_t i = 0; i < len;) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t next = nl ? (size_t)(nl - buf) + 1 : len;
		size_t at = SIZE_MAX;
		unsigned at_line = line;

		if (i == 0)
			at = 0;
		if (buf[i] == '%') {
			if (dir_start == SIZE_MAX) {
				dir_start = i;
				dir_line = line;
			}
		} else {
			if (is_doc_start(buf + i, len - i) && i > 0) {
				at = dir_start != SIZE_MAX ? dir_start : i;
				at_line = dir_start != SIZE_MAX ? dir_line : line;
			}
			dir_start = SIZE_MAX;
		}
		if (at != SIZE_MAX && (n == 0 || bd[n - 1].off != at)) {
			if (n == DECODE_MAX_OBJECTS) {
				free(bd);
				return -E2BIG;
			}
			if (n == cap) {
				struct ybound *v;

				cap = cap ? cap * 2 : 16;
				v = realloc(bd, cap * sizeof(*v));
				if (!v) {
					free(bd);
					return -ENOMEM;
				}
				bd = v;
			}
			bd[n++] = (struct ybound){.off = at, .line = at_line};
		}
		line++;
		i = next;
	}
	*ret = bd;
	return (ssize_t)n;
}

int decode_yaml_stream(struct decode_run *run, const char *buf, size_t len)
{
	_cleanup_free_ struct ybound *bd = NULL;
	struct ybuild b = {.run = run};
	ssize_t n;
	size_t k = 0;
	int r = 0;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3; /* a byte order mark; UTF-8 is all we read */
		len -= 3;
	}
	if (len == 0)
		return 0;
	n = find_bounds(buf, len, &bd);
	if (n == -E2BIG) {
		decode_report(run, 0, NULL, NULL, NULL, "too many documents in one input (max %u)",
			      (unsigned)DECODE_MAX_OBJECTS);
		run->stop = true;
		return 0;
	}
	if (n < 0)
		return (int)n;
	/* Documents holding bytes libyaml would refuse are reported alone; the rest parse in runs. */
	while (k < (size_t)n && !run->stop) {
		size_t j = k, end = len, bad = 0;

		for (; j < (size_t)n; j++) {
			end = j + 1 < (size_t)n ? bd[j + 1].off : len;
			bad = decode_utf8_check(buf + bd[j].off, end - bd[j].off);
			if (bad < end - bd[j].off)
				break;
		}
		if (j > k) {
			r = parse_range(&b, buf, bd, k, j, j < (size_t)n ? bd[j].off : len);
			if (r < 0)
				break;
		}
		if (j < (size_t)n) {
			const char *p = buf + bd[j].off;
			unsigned line = bd[j].line;
			size_t col = 1;

			for (size_t i = 0; i < bad; i++) {
				col++;
				if (p[i] == '\n') {
					line++;
					col = 1;
				}
			}
			run->n_docs_bad++;
			decode_report(run, line, NULL, NULL, NULL, "invalid YAML at line %u column %zu: %s", line,
				      col, (unsigned char)p[bad] < 0x80 ? "control character not allowed"
									: "invalid UTF-8");
		}
		k = j + 1;
	}
	ybuild_reset(&b);
	return r;
}
