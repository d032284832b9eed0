/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Field readers for the object decoders: each one checks a field's type and
 * bounds and, on rejection, names the JSON path of the field at fault. Unknown
 * fields are never looked at; null reads as absent, as the API server reads it.
 */
#include <stdarg.h>
#include <stdio.h>

#include "decode_internal.h"

static const char *type_name(json_type t)
{
	switch (t) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

const char *decode_json_type(const json_t *v)
{
	return type_name(json_typeof(v));
}

const char *decode_quote(const char *s, char *buf, size_t len)
{
	size_t o = 0, max = len > 80 ? 72 : len - 8;

	if (len < 16) {
		snprintf(buf, len, "\"...\"");
		return buf;
	}
	buf[o++] = '"';
	for (; *s && o < max; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
		} else {
			buf[o++] = (char)ch;
		}
	}
	if (*s) {
		/* do not cut a UTF-8 sequence in half */
		while (o > 1 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 1 && ((unsigned char)buf[o - 1] & 0xc0) == 0xc0)
			o--;
		buf[o++] = '.';
		buf[o++] = '.';
		buf[o++] = '.';
	}
	buf[o++] = '"';
	buf[o] = 0;
	return buf;
}

static size_t push(struct dctx *c, const char *fmt, ...) _printf_(2, 3);
static size_t push(struct dctx *c, const char *fmt, ...)
{
	size_t old = c->plen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->path + c->plen, sizeof(c->path) - c->plen, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->plen += (size_t)n < sizeof(c->path) - c->plen ? (size_t)n : sizeof(c->path) - c->plen - 1;
	return old;
}

size_t dctx_push_key(struct dctx *c, const char *key)
{
	return push(c, "%s%s", c->plen ? "." : "", key);
}

size_t dctx_push_index(struct dctx *c, size_t i)
{
	return push(c, "[%zu]", i);
}

void dctx_pop(struct dctx *c, size_t old)
{
	c->plen = old;
	c->path[old] = 0;
}

static int vfail(struct dctx *c, const char *fmt, va_list ap) _printf_(2, 0);
static int vfail(struct dctx *c, const char *fmt, va_list ap)
{
	char msg[DECODE_MSG_MAX - DECODE_PATH_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (c->plen)
		snprintf(c->err, c->errlen, "%s: %s", c->path, msg);
	else
		snprintf(c->err, c->errlen, "%s", msg);
	return -EINVAL;
}

int dctx_fail(struct dctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(c, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int dctx_fail_key(struct dctx *c, const char *key, const char *fmt, ...)
{
	size_t old = dctx_push_key(c, key);
	va_list ap;

	va_start(ap, fmt);
	vfail(c, fmt, ap);
	va_end(ap);
	dctx_pop(c, old);
	return -EINVAL;
}

int dctx_oom(struct dctx *c)
{
	snprintf(c->err, c->errlen, "out of memory");
	return -ENOMEM;
}

int dctx_get(struct dctx *c, const json_t *obj, const char *key, json_type t, json_t **ret)
{
	json_t *v = json_object_get(obj, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (t == JSON_TRUE ? !json_is_boolean(v) : json_typeof(v) != t)
		return dctx_fail_key(c, key, "expected %s, got %s", type_name(t), decode_json_type(v));
	*ret = v;
	return 0;
}

int dctx_get_str(struct dctx *c, const json_t *obj, const char *key, size_t maxlen,
		 const char **ret)
{
	json_t *v;
	int r;

	*ret = NULL;
	r = dctx_get(c, obj, key, JSON_STRING, &v);
	if (r < 0 || !v)
		return r;
	if (json_string_length(v) > maxlen)
		return dctx_fail_key(c, key, "too long (%zu bytes, max %zu)", json_string_length(v),
				     maxlen);
	*ret = json_string_value(v);
	return 0;
}

int dctx_get_int(struct dctx *c, const json_t *obj, const char *key, int64_t min, int64_t max,
		 bool *ret_has, int64_t *ret)
{
	json_t *v;
	int r;

	*ret_has = false;
	r = dctx_get(c, obj, key, JSON_INTEGER, &v);
	if (r < 0 || !v)
		return r;
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return dctx_fail_key(c, key, "%lld out of range (%lld-%lld)",
				     (long long)json_integer_value(v), (long long)min, (long long)max);
	*ret_has = true;
	*ret = json_integer_value(v);
	return 0;
}

int dctx_get_proto(struct dctx *c, const json_t *obj, enum proto *ret)
{
	const char *s;
	int r;

	*ret = PROTO_TCP;
	r = dctx_get_str(c, obj, "protocol", 64, &s);
	if (r < 0 || !s)
		return r;
	if (proto_parse(s, ret) < 0)
		return dctx_fail_key(c, "protocol", "unsupported protocol %s (must be TCP, UDP or SCTP)",
				     Q(s));
	return 0;
}

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

int dctx_get_port(struct dctx *c, const json_t *obj, const char *key, bool *ret_has,
		  uint16_t *ret_num, const char **ret_name)
{
	json_t *v = json_object_get(obj, key);
	int64_t n;

	*ret_has = false;
	*ret_num = 0;
	*ret_name = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (json_string_length(v) > 64)
			return dctx_fail_key(c, key, "too long (%zu bytes)", json_string_length(v));
		if (!all_digits(s)) {
			if (!port_name_valid(s))
				return dctx_fail_key(c, key, "invalid port name %s (must be an IANA_SVC_NAME)",
						     Q(s));
			*ret_has = true;
			*ret_name = s;
			return 0;
		}
		if (parse_int64(s, 0, INT64_MAX, &n) < 0)
			n = INT64_MAX;
	} else {
		return dctx_fail_key(c, key, "expected integer or string, got %s", decode_json_type(v));
	}
	if (n < 1 || n > 65535)
		return dctx_fail_key(c, key, "%lld out of range (1-65535)", (long long)n);
	*ret_has = true;
	*ret_num = (uint16_t)n;
	return 0;
}

/* A label map at the current path. */
static int decode_labels(struct dctx *c, const json_t *map, struct labels *ret)
{
	const char *k;
	json_t *v;
	int r;

	if (json_object_size(map) > MODEL_MAX_LABELS)
		return dctx_fail(c, "too many labels (%zu, max %d)", json_object_size(map),
				 MODEL_MAX_LABELS);
	json_object_foreach((json_t *)map, k, v) {
		if (!labels_key_valid(k))
			return dctx_fail(c, "invalid label key %s", Q(k));
		if (!json_is_string(v))
			return dctx_fail(c, "value of %s: expected string, got %s", Q(k),
					 decode_json_type(v));
		if (!labels_value_valid(json_string_value(v)))
			return dctx_fail(c, "invalid label value %s for key %s",
					 Q(json_string_value(v)), Q(k));
		r = labels_set(ret, k, json_string_value(v));
		if (r < 0)
			return dctx_oom(c);
	}
	return 0;
}

int dctx_get_labels(struct dctx *c, const json_t *obj, const char *key, bool *ret_has,
		    struct labels *ret)
{
	json_t *m;
	size_t old;
	int r;

	if (ret_has)
		*ret_has = false;
	r = dctx_get(c, obj, key, JSON_OBJECT, &m);
	if (r < 0 || !m)
		return r;
	if (ret_has)
		*ret_has = true;
	old = dctx_push_key(c, key);
	r = decode_labels(c, m, ret);
	dctx_pop(c, old);
	return r;
}

int dctx_check_count(struct dctx *c, const char *key, size_t n, size_t max)
{
	if (n > max)
		return dctx_fail_key(c, key, "too many entries (%zu, max %zu)", n, max);
	return 0;
}

int dctx_dup_str(struct dctx *c, const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : dctx_oom(c);
}

int dctx_word(struct dctx *c, const json_t *v, const char *what, const char *const *words,
	      size_t n)
{
	char list[128] = "";
	size_t len = 0;

	if (!json_is_string(v))
		return dctx_fail(c, "expected string, got %s", decode_json_type(v));
	for (size_t i = 0; i < n; i++)
		if (strcmp(json_string_value(v), words[i]) == 0)
			return (int)i;
	for (size_t i = 0; i < n && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
					i == 0 ? "" : i + 1 == n ? " or " : ", ", words[i]);
	return dctx_fail(c, "unsupported %s %s (must be %s)", what, Q(json_string_value(v)), list);
}

int dctx_each(struct dctx *c, const char *key, const json_t *arr, void *items, size_t size,
	      dctx_elem_fn fn)
{
	json_t *e;
	size_t i;

	json_array_foreach(arr, i, e) {
		size_t old = dctx_push_key(c, key);
		int r = 0;

		dctx_push_index(c, i);
		/* null counts as {} as Go decodes it */
		if (!json_is_null(e) && !json_is_object(e))
			r = dctx_fail(c, "expected object, got %s", decode_json_type(e));
		if (r >= 0)
			r = fn(c, json_is_null(e) ? NULL : e, (char *)items + i * size);
		dctx_pop(c, old);
		if (r < 0)
			return r;
	}
	return 0;
}

int dctx_list(struct dctx *c, const char *key, const json_t *arr, size_t max, size_t size,
	      dctx_elem_fn fn, void **ret, size_t *ret_n)
{
	size_t n = json_array_size(arr);
	void *items;
	int r;

	if (n == 0)
		return 0;
	r = dctx_check_count(c, key, n, max);
	if (r < 0)
		return r;
	items = calloc(n, size);
	if (!items)
		return dctx_oom(c);
	*ret = items;
	*ret_n = n;
	return dctx_each(c, key, arr, items, size, fn);
}
