/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ${...} templates of the conformance cases (see tests/conformance/README.md):
 * ${IP:ns/pod}, ${NET:ns/pod:P4:P6}, ${HOSTMASK}, ${FAMILY}, expanded for one
 * address family in a string or in every string of a JSON tree.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conformance_int.h"

static int parse_plen(const char *s, size_t len, unsigned max, unsigned *ret)
{
	char buf[8];
	int64_t v;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (parse_int64(buf, 0, max, &v) < 0)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/* One template body (between "${" and "}"), appended to out. */
static int expand_one(const struct conformance_world *w, const char *t, size_t len, int family, FILE *out,
		      char **ret_err)
{
	const char *colon;
	int idx;

	if (len == 8 && memcmp(t, "HOSTMASK", 8) == 0) {
		fputs(family == AF_INET6 ? "128" : "32", out);
		return 0;
	}
	if (len == 6 && memcmp(t, "FAMILY", 6) == 0) {
		fputs(family == AF_INET6 ? "6" : "4", out);
		return 0;
	}
	if (len > 3 && memcmp(t, "IP:", 3) == 0) {
		char id[128];

		if (len - 3 >= sizeof(id))
			return conformance_fail(ret_err, "template ${%.*s}: pod name too long", (int)len, t);
		memcpy(id, t + 3, len - 3);
		id[len - 3] = '\0';
		idx = conformance_world_pod_index(w, id);
		if (idx < 0)
			return conformance_fail(ret_err, "template ${%.*s}: no pod %s in the world", (int)len, t, id);
		fputs(conformance_world_pod_ip(w, idx, family), out);
		return 0;
	}
	if (len > 4 && memcmp(t, "NET:", 4) == 0) {
		/* NET:ns/pod:P4:P6 */
		const char *p = t + 4, *end = t + len, *c2;
		unsigned p4, p6, plen, bytes;
		uint8_t a[16];
		char id[128], buf[INET6_ADDRSTRLEN];

		colon = memchr(p, ':', end - p);
		c2 = colon ? memchr(colon + 1, ':', end - colon - 1) : NULL;
		if (!colon || !c2 || (size_t)(colon - p) >= sizeof(id) ||
		    parse_plen(colon + 1, c2 - colon - 1, 32, &p4) < 0 ||
		    parse_plen(c2 + 1, end - c2 - 1, 128, &p6) < 0)
			return conformance_fail(ret_err, "template ${%.*s}: expected NET:ns/pod:PLEN4:PLEN6", (int)len, t);
		memcpy(id, p, colon - p);
		id[colon - p] = '\0';
		idx = conformance_world_pod_index(w, id);
		if (idx < 0)
			return conformance_fail(ret_err, "template ${%.*s}: no pod %s in the world", (int)len, t, id);
		plen = family == AF_INET6 ? p6 : p4;
		bytes = family == AF_INET6 ? 16 : 4;
		if (inet_pton(family, conformance_world_pod_ip(w, idx, family), a) != 1)
			return conformance_fail(ret_err, "template ${%.*s}: bad address", (int)len, t);
		for (unsigned b = 0; b < bytes; b++) {
			unsigned keep = plen > b * 8 ? plen - b * 8 : 0;

			if (keep < 8)
				a[b] &= (uint8_t)(0xff00u >> keep);
		}
		if (!inet_ntop(family, a, buf, sizeof(buf)))
			return conformance_fail(ret_err, "template ${%.*s}: cannot format", (int)len, t);
		fprintf(out, "%s/%u", buf, plen);
		return 0;
	}
	return conformance_fail(ret_err, "unknown template ${%.*s}", (int)len, t);
}

int conformance_expand(const struct conformance_world *w, const char *s, int family, char **ret,
		       char **ret_err)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *out;
	int r = 0;

	out = open_memstream(&buf, &size);
	if (!out)
		return -ENOMEM;
	while (*s) {
		if (s[0] == '$' && s[1] == '$') {
			fputc('$', out);
			s += 2;
		} else if (s[0] == '$' && s[1] == '{') {
			const char *end = strchr(s + 2, '}');

			if (!end) {
				r = conformance_fail(ret_err, "unterminated template in \"%s\"", s);
				break;
			}
			r = expand_one(w, s + 2, end - s - 2, family, out, ret_err);
			if (r < 0)
				break;
			s = end + 1;
		} else {
			fputc(*s++, out);
		}
	}
	if (fclose(out) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	return 0;
}

json_t *conformance_expand_tree(const struct conformance_world *w, json_t *j, int family, char **ret_err)
{
	json_t *out, *v;
	const char *k;
	size_t i;

	switch (json_typeof(j)) {
	case JSON_STRING: {
		_cleanup_free_ char *s = NULL;

		if (conformance_expand(w, json_string_value(j), family, &s, ret_err) < 0)
			return NULL;
		return json_string(s);
	}
	case JSON_OBJECT:
		out = json_object();
		if (!out)
			return NULL;
		json_object_foreach(j, k, v) {
			json_t *c = conformance_expand_tree(w, v, family, ret_err);

			if (!c || json_object_set_new(out, k, c) < 0) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	case JSON_ARRAY:
		out = json_array();
		if (!out)
			return NULL;
		json_array_foreach(j, i, v) {
			json_t *c = conformance_expand_tree(w, v, family, ret_err);

			if (!c || json_array_append_new(out, c) < 0) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	default:
		return json_deep_copy(j);
	}
}
