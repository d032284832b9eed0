/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How netpolctl shows the status socket's answers to people: key/value
 * blocks and aligned tables (output.c) built from the documented JSON
 * (docs/status-api.md). Missing members print as "-", unknown ones are
 * ignored: the API may grow.
 */
#include <inttypes.h>
#include <jansson.h>

#include "ctl_render.h"
#include "output.h"

#define _cleanup_json_ _cleanup_(json_decrefp)

static json_t *load(const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j = json_loadb(body, len, 0, &jerr);

	if (!j)
		snprintf(err, errlen, "netpold sent invalid JSON: %s (line %d)", jerr.text,
			 jerr.line);
	return j;
}

static int pretty(json_t *j, FILE *f)
{
	if (json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
		return -EIO;
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}

/* A member as text: strings as they are, numbers, booleans as yes/no, null/missing as "-". */
static const char *text(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.3f", json_real_value(v));
	else if (json_is_boolean(v))
		return json_is_true(v) ? "yes" : "no";
	else
		return "-";
	return buf;
}

/* An array of strings joined with ", " ("-" when empty). */
static const char *joined(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i, n = 0;

	buf[0] = '\0';
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			continue;
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? ", " : "",
				      json_string_value(v));
		if (n >= len)
			break;
	}
	return buf[0] ? buf : "-";
}

static int kv(struct out_table *t, const char *key, const char *value)
{
	int r = out_table_add(t, key);

	return r < 0 ? r : out_table_add(t, value);
}

static int finish(struct out_table *t, FILE *f, int r)
{
	if (r >= 0)
		r = out_table_print(t, f, 2);
	out_table_free(t);
	return r;
}

/*
 * The body parsed into *ret_j (the caller's to free); when !human it is printed here as
 * indented JSON. Returns 1 when the caller is to render it for people, 0 when it was printed,
 * negative errno (-EINVAL with err filled for invalid JSON).
 */
static int begin(const char *body, size_t len, bool human, FILE *f, char *err, size_t errlen,
		 json_t **ret_j)
{
	int r;

	*ret_j = load(body, len, err, errlen);
	if (!*ret_j)
		return -EINVAL;
	if (human)
		return 1;
	r = pretty(*ret_j, f);
	return r < 0 ? r : 0;
}

/* A new two-column table in *ret_t whose first row is KEY and "namespace/name" of o. */
static int object_table(json_t *o, const char *key, struct out_table **ret_t)
{
	char b1[64], b2[64], big[4096];
	int r = out_table_new(2, ret_t);

	if (r < 0)
		return r;
	snprintf(big, sizeof(big), "%s/%s", text(o, "namespace", b1, sizeof(b1)),
		 text(o, "name", b2, sizeof(b2)));
	return kv(*ret_t, key, big);
}

int ctl_render_status(const char *body, size_t len, bool human, FILE *f, char *err,
		      size_t errlen)
{
	_cleanup_json_ json_t *j = NULL;
	struct out_table *t = NULL;
	json_t *src, *last, *counts, *table, *res, *v;
	char b1[64], b2[64], b3[64], b4[64], line[1024];
	size_t i;
	int r;

	r = begin(body, len, human, f, err, errlen, &j);
	if (r <= 0)
		return r;
	r = out_table_new(2, &t);
	if (r < 0)
		return r;
	src = json_object_get(j, "source");
	last = json_object_get(j, "last_reconcile");
	counts = json_object_get(j, "counts");
	table = json_object_get(j, "table");
	r = kv(t, "node:", text(j, "node", b1, sizeof(b1)));
	if (r >= 0)
		r = kv(t, "version:", text(j, "version", b1, sizeof(b1)));
	if (r >= 0)
		r = kv(t, "started:", text(j, "started", b1, sizeof(b1)));
	if (r >= 0)
		r = kv(t, "ready:", text(j, "ready", b1, sizeof(b1)));
	if (r >= 0) {
		snprintf(line, sizeof(line), "%s%s%s", text(j, "degraded", b1, sizeof(b1)),
			 json_is_string(json_object_get(j, "reason")) ? ": " : "",
			 json_is_string(json_object_get(j, "reason"))
				 ? json_string_value(json_object_get(j, "reason"))
				 : "");
		r = kv(t, "degraded:", line);
	}
	if (r >= 0 && json_is_object(src)) {
		snprintf(line, sizeof(line), "%s %s (synced: %s, %s rejected object(s))",
			 text(src, "kind", b1, sizeof(b1)), text(src, "path", b2, sizeof(b2)),
			 text(src, "synced", b3, sizeof(b3)), text(src, "errors", b4, sizeof(b4)));
		r = kv(t, "source:", line);
	}
	res = json_object_get(src, "resources");
	json_array_foreach(res, i, v) {
		if (r < 0)
			break;
		snprintf(line, sizeof(line), "%s (resourceVersion %s, %s objects, %s relists)",
			 text(v, "state", b2, sizeof(b2)),
			 text(v, "resource_version", b3, sizeof(b3)),
			 text(v, "objects", b4, sizeof(b4)), text(v, "relists", b1, sizeof(b1)));
		r = out_table_addf(t, "  %s:", json_string_value(json_object_get(v, "resource"))
						       ?: "?");
		if (r >= 0)
			r = out_table_add(t, line);
	}
	if (r >= 0) {
		snprintf(line, sizeof(line), "input %s, programmed %s",
			 text(j, "input_generation", b1, sizeof(b1)),
			 text(j, "programmed_generation", b2, sizeof(b2)));
		r = kv(t, "generation:", line);
	}
	if (r >= 0 && json_is_object(last)) {
		snprintf(line, sizeof(line), "%s (%ss, %s messages, %s elements)%s%s",
			 text(last, "time", b1, sizeof(b1)),
			 text(last, "duration_seconds", b2, sizeof(b2)),
			 text(last, "batch_messages", b3, sizeof(b3)),
			 text(last, "batch_elements", b4, sizeof(b4)),
			 json_is_string(json_object_get(last, "error")) ? ", error: " : "",
			 json_is_string(json_object_get(last, "error"))
				 ? json_string_value(json_object_get(last, "error"))
				 : "");
		r = kv(t, "last reconcile:", line);
	}
	if (r >= 0 && json_is_object(table)) {
		snprintf(line, sizeof(line), "inet %s (deny action %s, %s drift repairs)",
			 text(table, "name", b1, sizeof(b1)),
			 text(table, "deny_action", b2, sizeof(b2)),
			 text(table, "drift_repairs", b3, sizeof(b3)));
		r = kv(t, "table:", line);
	}
	if (r >= 0 && json_is_object(counts)) {
		char b5[64], b6[64], b7[64];

		snprintf(line, sizeof(line),
			 "%s namespaces, %s pods (%s local), %s policies, %s services, %s rules, "
			 "%s set elements",
			 text(counts, "namespaces", b1, sizeof(b1)),
			 text(counts, "pods", b2, sizeof(b2)),
			 text(counts, "local_pods", b3, sizeof(b3)),
			 text(counts, "policies", b4, sizeof(b4)),
			 text(counts, "services", b5, sizeof(b5)),
			 text(counts, "rules", b6, sizeof(b6)),
			 text(counts, "set_elements", b7, sizeof(b7)));
		r = kv(t, "counts:", line);
	}
	if (r >= 0) {
		snprintf(line, sizeof(line), "%s (%s failed)",
			 text(j, "reconciles", b1, sizeof(b1)),
			 text(j, "reconcile_failures", b2, sizeof(b2)));
		r = kv(t, "reconciles:", line);
	}
	return finish(t, f, r);
}

/* "since TIME" or "no" for a programmed flag and its time. */
static const char *programmed(json_t *o, char *buf, size_t len)
{
	char tb[64];

	if (!json_is_true(json_object_get(o, "programmed")))
		return "no";
	snprintf(buf, len, "since %s", text(o, "programmed_since", tb, sizeof(tb)));
	return buf;
}

int ctl_render_policies(const char *body, size_t len, bool human, FILE *f, char *err,
			size_t errlen)
{
	_cleanup_json_ json_t *j = NULL;
	struct out_table *t = NULL;
	json_t *items, *p;
	char b1[64], b2[128], big[4096];
	size_t i;
	int r;

	r = begin(body, len, human, f, err, errlen, &j);
	if (r <= 0)
		return r;
	items = json_object_get(j, "items");
	r = out_table_new(7, &t);
	if (r < 0)
		return r;
	for (const char *const *h = (const char *const[]){"NAMESPACE", "NAME", "GENERATION", "MODE",
							   "PROGRAMMED", "LOCAL PODS", "ERRORS",
							   NULL};
	     r >= 0 && *h; h++)
		r = out_table_add(t, *h);
	json_array_foreach(items, i, p) {
		if (r < 0)
			break;
		r = out_table_add(t, text(p, "namespace", b1, sizeof(b1)));
		if (r >= 0)
			r = out_table_add(t, text(p, "name", b1, sizeof(b1)));
		if (r >= 0)
			r = out_table_add(t, text(p, "generation", b1, sizeof(b1)));
		if (r >= 0)
			r = out_table_add(t, text(p, "mode", b1, sizeof(b1)));
		if (r >= 0)
			r = out_table_add(t, programmed(p, b2, sizeof(b2)));
		if (r >= 0)
			r = out_table_add(t, joined(p, "selected_local_pods", big, sizeof(big)));
		if (r >= 0)
			r = out_table_addf(t, "%zu", json_array_size(json_object_get(p, "errors")));
	}
	return finish(t, f, r);
}

static int print_errors(json_t *o, FILE *f)
{
	json_t *errs = json_object_get(o, "errors"), *e;
	char b1[64], b2[64];
	size_t i;

	json_array_foreach(errs, i, e)
		fprintf(f, "error:      %s:%s: %s\n", text(e, "source", b1, sizeof(b1)),
			text(e, "line", b2, sizeof(b2)),
			json_string_value(json_object_get(e, "message")) ?: "rejected");
	return 0;
}

int ctl_render_policy(const char *body, size_t len, bool human, FILE *f, char *err,
		      size_t errlen)
{
	_cleanup_json_ json_t *j = NULL;
	struct out_table *t = NULL;
	json_t *rules, *rule;
	char b1[64], b2[128], big[4096];
	size_t i;
	int r;

	r = begin(body, len, human, f, err, errlen, &j);
	if (r <= 0)
		return r;
	r = object_table(j, "policy:", &t);
	if (r >= 0)
		r = kv(t, "generation:", text(j, "generation", b1, sizeof(b1)));
	if (r >= 0)
		r = kv(t, "mode:", text(j, "mode", b1, sizeof(b1)));
	if (r >= 0)
		r = kv(t, "types:", joined(j, "policy_types", big, sizeof(big)));
	if (r >= 0)
		r = kv(t, "podSelector:", text(j, "pod_selector", b1, sizeof(b1)));
	if (r >= 0)
		r = kv(t, "programmed:", programmed(j, b2, sizeof(b2)));
	if (r >= 0)
		r = kv(t, "local pods:", joined(j, "selected_local_pods", big, sizeof(big)));
	r = finish(t, f, r);
	if (r < 0)
		return r;
	print_errors(j, f);
	rules = json_object_get(j, "rules");
	if (json_array_size(rules) == 0) {
		fputs("rules:      none (everything in its directions is denied)\n", f);
		return ferror(f) ? -EIO : 0;
	}
	fputc('\n', f);
	r = out_table_new(3, &t);
	if (r < 0)
		return r;
	r = out_table_add(t, "RULE");
	if (r >= 0)
		r = out_table_add(t, "PEERS");
	if (r >= 0)
		r = out_table_add(t, "PORTS");
	json_array_foreach(rules, i, rule) {
		if (r < 0)
			break;
		r = out_table_addf(t, "spec.%s[%s]", text(rule, "direction", b1, sizeof(b1)),
				   text(rule, "index", b2, sizeof(b2)));
		if (r >= 0)
			r = out_table_add(t, json_is_true(json_object_get(rule, "all_peers"))
						     ? "(all)"
						     : joined(rule, "peers", big, sizeof(big)));
		if (r >= 0)
			r = out_table_add(t, json_is_true(json_object_get(rule, "all_ports"))
						     ? "(all)"
						     : joined(rule, "ports", big, sizeof(big)));
	}
	return finish(t, f, r);
}

/* "isolated by a/b, c/d" or "open". */
static const char *isolation(json_t *pod, const char *dir, char *buf, size_t len)
{
	json_t *h = json_object_get(pod, dir);
	char pb[2048];

	if (!json_is_true(json_object_get(h, "isolated")))
		return "open";
	snprintf(buf, len, "isolated by %s", joined(h, "policies", pb, sizeof(pb)));
	return buf;
}

int ctl_render_pods(const char *body, size_t len, bool human, FILE *f, char *err, size_t errlen)
{
	_cleanup_json_ json_t *j = NULL;
	struct out_table *t = NULL;
	json_t *items, *p;
	char b1[64], big[4096];
	size_t i;
	int r;

	r = begin(body, len, human, f, err, errlen, &j);
	if (r <= 0)
		return r;
	items = json_object_get(j, "items");
	r = out_table_new(5, &t);
	if (r < 0)
		return r;
	for (const char *const *h = (const char *const[]){"POD", "IPS", "NODE", "INGRESS",
							   "EGRESS", NULL};
	     r >= 0 && *h; h++)
		r = out_table_add(t, *h);
	json_array_foreach(items, i, p) {
		if (r < 0)
			break;
		r = out_table_addf(t, "%s/%s",
				   json_string_value(json_object_get(p, "namespace")) ?: "?",
				   json_string_value(json_object_get(p, "name")) ?: "?");
		if (r >= 0)
			r = out_table_add(t, joined(p, "ips", big, sizeof(big)));
		if (r >= 0)
			r = out_table_add(t, text(p, "node", b1, sizeof(b1)));
		if (r >= 0)
			r = out_table_add(t, isolation(p, "ingress", big, sizeof(big)));
		if (r >= 0)
			r = out_table_add(t, isolation(p, "egress", big, sizeof(big)));
	}
	return finish(t, f, r);
}

int ctl_render_pod(const char *body, size_t len, bool human, FILE *f, char *err, size_t errlen)
{
	_cleanup_json_ json_t *j = NULL;
	struct out_table *t = NULL;
	char b1[64], big[4096];
	int r;

	r = begin(body, len, human, f, err, errlen, &j);
	if (r <= 0)
		return r;
	r = object_table(j, "pod:", &t);
	if (r >= 0)
		r = kv(t, "node:", text(j, "node", b1, sizeof(b1)));
	if (r >= 0)
		r = kv(t, "local:", text(j, "local", b1, sizeof(b1)));
	if (r >= 0)
		r = kv(t, "phase:", text(j, "phase", b1, sizeof(b1)));
	if (r >= 0)
		r = kv(t, "ips:", joined(j, "ips", big, sizeof(big)));
	for (int d = 0; r >= 0 && d < 2; d++) {
		const char *dir = d ? "egress" : "ingress";
		json_t *h = json_object_get(j, dir);

		r = out_table_addf(t, "%s:", dir);
		if (r >= 0)
			r = out_table_addf(t, "%s%s%s", isolation(j, dir, big, sizeof(big)),
					   json_is_string(json_object_get(h, "since")) ? ", since "
										       : "",
					   json_string_value(json_object_get(h, "since")) ?: "");
	}
	return finish(t, f, r);
}

int ctl_render_event(const char *line, size_t len, FILE *f)
{
	_cleanup_json_ json_t *j = json_loadb(line, len, 0, NULL);
	char b[7][64], pols[2048];

	if (!j) {
		/* not ours to judge: show it as it came */
		fprintf(f, "%.*s\n", (int)len, line);
		return ferror(f) ? -EIO : 0;
	}
	if (json_object_get(j, "dropped")) {
		fprintf(f, "(%s records dropped: this reader fell behind)\n",
			text(j, "dropped", b[0], sizeof(b[0])));
		return ferror(f) ? -EIO : 0;
	}
	fprintf(f, "%s  %-5s %-7s %s -> %s %s/%s  %s\n", text(j, "time", b[0], sizeof(b[0])),
		text(j, "action", b[1], sizeof(b[1])), text(j, "direction", b[2], sizeof(b[2])),
		text(j, "src", b[3], sizeof(b[3])), text(j, "dst", b[4], sizeof(b[4])),
		text(j, "protocol", b[5], sizeof(b[5])), text(j, "port", b[6], sizeof(b[6])),
		joined(j, "policies", pols, sizeof(pols)));
	return ferror(f) ? -EIO : 0;
}

int ctl_render_error(const char *body, size_t len, char *msg, size_t msglen)
{
	_cleanup_json_ json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
	const char *m = j ? json_string_value(json_object_get(j, "error")) : NULL;

	if (!m)
		return -EINVAL;
	snprintf(msg, msglen, "%s", m);
	return 0;
}
