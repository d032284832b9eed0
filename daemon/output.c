/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Aligned text tables and a streaming JSON writer for netpolctl's output.
 * Tables keep their cells until printed so that every column can be sized
 * to its widest cell (counted in UTF-8 characters, not bytes).
 */
#include <arpa/inet.h>
#include <stdarg.h>

#include "output.h"

struct out_table {
	size_t n_columns;
	char **cells;
	size_t n_cells;
	size_t alloc;
};

int out_table_new(size_t n_columns, struct out_table **ret)
{
	struct out_table *t;

	if (n_columns == 0 || n_columns > OUT_TABLE_MAX_COLUMNS)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->n_columns = n_columns;
	*ret = t;
	return 0;
}

void out_table_free(struct out_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_cells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

static int table_push(struct out_table *t, char *s)
{
	if (t->n_cells >= OUT_TABLE_MAX_CELLS) {
		free(s);
		return -E2BIG;
	}
	if (t->n_cells == t->alloc) {
		size_t n = t->alloc ? t->alloc * 2 : 64;
		char **v = reallocarray(t->cells, n, sizeof(*v));

		if (!v) {
			free(s);
			return -ENOMEM;
		}
		t->cells = v;
		t->alloc = n;
	}
	t->cells[t->n_cells++] = s;
	return 0;
}

int out_table_add(struct out_table *t, const char *cell)
{
	char *s = strdup(cell ? cell : "");

	if (!s)
		return -ENOMEM;
	return table_push(t, s);
}

int out_table_addf(struct out_table *t, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	return table_push(t, s);
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

int out_table_print(const struct out_table *t, FILE *f, unsigned sep_width)
{
	_cleanup_free_ size_t *width = calloc(t->n_columns, sizeof(size_t));

	if (!width)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_cells; i++) {
		size_t w = text_width(t->cells[i]), c = i % t->n_columns;

		if (w > width[c])
			width[c] = w;
	}
	for (size_t i = 0; i < t->n_cells; i++) {
		size_t c = i % t->n_columns;
		bool last = c == t->n_columns - 1 || i == t->n_cells - 1;

		if (fputs(t->cells[i], f) == EOF)
			return -EIO;
		if (last) {
			if (fputc('\n', f) == EOF)
				return -EIO;
			continue;
		}
		for (size_t p = text_width(t->cells[i]); p < width[c] + sep_width; p++)
			if (fputc(' ', f) == EOF)
				return -EIO;
	}
	return 0;
}

/* ---- JSON ---- */

void out_json_init(struct out_json *j, FILE *f, bool pretty)
{
	*j = (struct out_json){ .f = f, .pretty = pretty };
	j->first[0] = true;
}

int out_json_write_string(FILE *f, const char *s)
{
	if (fputc('"', f) == EOF)
		return -EIO;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int r;

		switch (*p) {
		case '"':
			r = fputs("\\\"", f);
			break;
		case '\\':
			r = fputs("\\\\", f);
			break;
		case '\n':
			r = fputs("\\n", f);
			break;
		case '\r':
			r = fputs("\\r", f);
			break;
		case '\t':
			r = fputs("\\t", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				r = fprintf(f, "\\u%04x", *p);
			else
				r = fputc(*p, f);
			break;
		}
		if (r < 0)
			return -EIO;
	}
	return fputc('"', f) == EOF ? -EIO : 0;
}

static void indent(struct out_json *j)
{
	if (!j->pretty)
		return;
	fputc('\n', j->f);
	for (unsigned i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* Separator, indentation and key before a value; false if the call is misplaced. */
static bool value_prefix(struct out_json *j, const char *key)
{
	if (j->error < 0)
		return false;
	if (j->depth == 0 && !j->first[0]) {
		j->error = -EINVAL; /* a second top-level value */
		return false;
	}
	if (j->in_object[j->depth] != (key != NULL)) {
		j->error = -EINVAL;
		return false;
	}
	if (!j->first[j->depth])
		fputc(',', j->f);
	if (j->depth > 0)
		indent(j);
	j->first[j->depth] = false;
	if (key) {
		if (out_json_write_string(j->f, key) < 0)
			j->error = -EIO;
		fputs(j->pretty ? ": " : ":", j->f);
	}
	return true;
}

static void begin(struct out_json *j, const char *key, bool object)
{
	if (!value_prefix(j, key))
		return;
	if (j->depth >= OUT_JSON_MAX_DEPTH) {
		j->error = -EINVAL;
		return;
	}
	fputc(object ? '{' : '[', j->f);
	j->depth++;
	j->in_object[j->depth] = object;
	j->first[j->depth] = true;
}

static void end(struct out_json *j, bool object)
{
	bool empty;

	if (j->error < 0)
		return;
	if (j->depth == 0 || j->in_object[j->depth] != object) {
		j->error = -EINVAL;
		return;
	}
	empty = j->first[j->depth];
	j->depth--;
	if (!empty)
		indent(j);
	fputc(object ? '}' : ']', j->f);
}

void out_json_begin_object(struct out_json *j, const char *key)
{
	begin(j, key, true);
}

void out_json_end_object(struct out_json *j)
{
	end(j, true);
}

void out_json_begin_array(struct out_json *j, const char *key)
{
	begin(j, key, false);
}

void out_json_end_array(struct out_json *j)
{
	end(j, false);
}

void out_json_string(struct out_json *j, const char *key, const char *value)
{
	if (!value_prefix(j, key))
		return;
	if (!value)
		fputs("null", j->f);
	else if (out_json_write_string(j->f, value) < 0)
		j->error = -EIO;
}

void out_json_bool(struct out_json *j, const char *key, bool value)
{
	if (value_prefix(j, key))
		fputs(value ? "true" : "false", j->f);
}

void out_json_int(struct out_json *j, const char *key, int64_t value)
{
	if (value_prefix(j, key))
		fprintf(j->f, "%lld", (long long)value);
}

void out_json_null(struct out_json *j, const char *key)
{
	if (value_prefix(j, key))
		fputs("null", j->f);
}

int out_json_finish(struct out_json *j)
{
	if (j->error < 0)
		return j->error;
	if (j->depth != 0 || j->first[0])
		return -EINVAL;
	fputc('\n', j->f);
	if (ferror(j->f))
		return -EIO;
	return 0;
}

/* ---- describing policies and verdicts ---- */

void out_fmt_pod(const struct pod_obj *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", p->ns, p->name);
}

static void fmt_endpoint(const struct endpoint *ep, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN + 4];

	ip_addr_fmt(&ep->ip, ip, sizeof(ip));
	if (ep->pod)
		snprintf(buf, len, "%s/%s (%s)", ep->pod->ns, ep->pod->name, ip);
	else
		snprintf(buf, len, "%s", ip);
}

void out_fmt_policy(const struct netpol *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", p->ns, p->name);
}

/* Append to a bounded buffer, truncating silently. */
static void cat(char *buf, size_t len, const char *fmt, ...) _printf_(3, 4);
static void cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

void out_fmt_selector(const struct selector *s, char *buf, size_t len)
{
	static const char *const ops[] = {
		[SEL_OP_IN] = "in", [SEL_OP_NOT_IN] = "notin",
	};
	bool first = true;

	buf[0] = '\0';
	cat(buf, len, "{");
	for (size_t i = 0; i < s->match_labels.n; i++, first = false)
		cat(buf, len, "%s%s=%s", first ? "" : ",", s->match_labels.v[i].key,
		    s->match_labels.v[i].value);
	for (size_t i = 0; i < s->n_exprs; i++, first = false) {
		const struct selector_req *q = &s->exprs[i];

		cat(buf, len, "%s", first ? "" : ",");
		if (q->op == SEL_OP_EXISTS) {
			cat(buf, len, "%s", q->key);
		} else if (q->op == SEL_OP_DOES_NOT_EXIST) {
			cat(buf, len, "!%s", q->key);
		} else {
			cat(buf, len, "%s %s (", q->key, ops[q->op]);
			for (size_t v = 0; v < q->n_values; v++)
				cat(buf, len, "%s%s", v ? "," : "", q->values[v]);
			cat(buf, len, ")");
		}
	}
	cat(buf, len, "}");
}

void out_fmt_peer(const struct np_peer *p, char *buf, size_t len)
{
	char s[512], c[64];

	buf[0] = '\0';
	if (p->kind == PEER_IPBLOCK) {
		cat(buf, len, "ipBlock %s", cidr_fmt(&p->cidr, c, sizeof(c)));
		for (size_t i = 0; i < p->n_except; i++)
			cat(buf, len, "%s%s", i ? "," : " except ",
			    cidr_fmt(&p->except[i], c, sizeof(c)));
		return;
	}
	if (p->has_ns_selector) {
		out_fmt_selector(&p->ns_selector, s, sizeof(s));
		cat(buf, len, "namespaceSelector %s", s);
	}
	if (p->has_pod_selector) {
		out_fmt_selector(&p->pod_selector, s, sizeof(s));
		cat(buf, len, "%spodSelector %s", p->has_ns_selector ? " AND " : "", s);
	}
}

void out_fmt_port(const struct np_port *p, const struct pod_obj *dst, char *buf, size_t len)
{
	if (!p->has_port) {
		snprintf(buf, len, "all %s ports", proto_name(p->proto));
	} else if (p->name) {
		snprintf(buf, len, "%s/%s (named)", p->name, proto_name(p->proto));
		for (size_t i = 0; dst && i < dst->n_ports; i++)
			if (dst->ports[i].name && strcmp(dst->ports[i].name, p->name) == 0 &&
			    dst->ports[i].proto == p->proto) {
				snprintf(buf, len, "%s/%s (named: %u on %s/%s)", p->name,
					 proto_name(p->proto), dst->ports[i].port, dst->ns,
					 dst->name);
				break;
			}
	} else if (p->end_port != p->port) {
		snprintf(buf, len, "%u-%u/%s", p->port, p->end_port, proto_name(p->proto));
	} else {
		snprintf(buf, len, "%u/%s", p->port, proto_name(p->proto));
	}
}

/* ---- explain ---- */

/*
 * The policies isolating pod in dir. Asked of the engine directly: the
 * explanation only carries them when nothing matched.
 */
static size_t isolating(const struct engine *e, const struct endpoint *ep, enum direction dir,
			const struct half_verdict *h, const struct netpol *const **ret)
{
	if (!h->checked || (!h->isolated && !h->audit))
		return 0;
	if (ep->pod)
		return engine_pod_policies(e, ep->pod, dir, ret);
	*ret = h->isolating;
	return h->n_isolating;
}

static void print_half(FILE *f, const struct engine *e, enum direction dir,
			const struct endpoint *ep, const struct pod_obj *dst,
			const struct half_verdict *h)
{
	char who[2 * MODEL_MAX_NAME_LEN + 64], name[2 * MODEL_MAX_NAME_LEN + 2];
	const char *what = direction_name(dir);
	const struct netpol *const *pols = NULL;
	size_t n_pols = isolating(e, ep, dir, h, &pols);

	if (ep->pod)
		out_fmt_pod(ep->pod, who, sizeof(who));
	else
		ip_addr_fmt(&ep->ip, who, sizeof(who));
	fprintf(f, "  %s of %s: ", what, who);
	if (!h->checked) {
		fprintf(f, "not checked (%s)\n",
			ep->pod ? "hostNetwork pod: node traffic" : "not a pod: no policy applies");
		return;
	}
	if (!h->isolated && !h->audit) {
		fprintf(f, "not isolated (no %s policy selects the pod): allowed\n", what);
		return;
	}
	fprintf(f, h->audit ? "not isolated; audited by" : "isolated by");
	for (size_t i = 0; i < n_pols; i++) {
		out_fmt_policy(pols[i], name, sizeof(name));
		fprintf(f, "%s %s", i ? "," : "", name);
	}
	fprintf(f, "%s\n", h->audit ? " (audit mode: never denies)" : "");
	if (h->audit && h->audit_denied) {
		fprintf(f, "    would be denied (audit): no %s rule of %s matches\n", what,
			n_pols == 1 ? "this policy" : "these policies");
	} else if (h->allowed) {
		const struct rule_match *m = &h->by;
		const struct np_rule *rule = m->dir == DIR_INGRESS ? &m->pol->ingress[m->rule]
								    : &m->pol->egress[m->rule];
		char desc[1024];

		out_fmt_policy(m->pol, name, sizeof(name));
		fprintf(f, "    allowed by %s spec.%s[%u]\n", name, direction_name(m->dir),
			m->rule);
		if (m->peer >= 0 && (size_t)m->peer < rule->n_peers) {
			out_fmt_peer(&rule->peers[m->peer], desc, sizeof(desc));
			fprintf(f, "      %s[%d]: %s\n", m->dir == DIR_INGRESS ? "from" : "to",
				m->peer, desc);
		} else {
			fprintf(f, "      %s: any peer (the rule lists none)\n",
				m->dir == DIR_INGRESS ? "from" : "to");
		}
		if (m->port >= 0 && (size_t)m->port < rule->n_ports) {
			out_fmt_port(&rule->ports[m->port], dst, desc, sizeof(desc));
			fprintf(f, "      ports[%d]: %s\n", m->port, desc);
		} else {
			fprintf(f, "      ports: any (the rule lists none)\n");
		}
	} else {
		fprintf(f, "    DENIED: no %s rule of %s matches\n", what,
			n_pols == 1 ? "this policy" : "these policies");
	}
}

static void json_half(struct out_json *j, const struct engine *e, enum direction dir,
		      const struct endpoint *ep, const struct half_verdict *h)
{
	char name[2 * MODEL_MAX_NAME_LEN + 2];
	const struct netpol *const *pols = NULL;
	size_t n_pols = isolating(e, ep, dir, h, &pols);
	const char *key = direction_name(dir);

	out_json_begin_object(j, key);
	out_json_bool(j, "checked", h->checked);
	out_json_bool(j, "isolated", h->checked && h->isolated);
	out_json_bool(j, "allowed", !h->checked || !h->isolated || h->allowed);
	out_json_bool(j, "audit", h->checked && h->audit);
	out_json_bool(j, "audit_denied", h->checked && h->audit_denied);
	out_json_begin_array(j, "isolating");
	for (size_t i = 0; i < n_pols; i++) {
		out_fmt_policy(pols[i], name, sizeof(name));
		out_json_string(j, NULL, name);
	}
	out_json_end_array(j);
	if (h->checked && ((h->isolated && h->allowed) || (h->audit && !h->audit_denied))) {
		out_fmt_policy(h->by.pol, name, sizeof(name));
		out_json_begin_object(j, "allowed_by");
		out_json_string(j, "policy", name);
		out_json_string(j, "direction", direction_name(h->by.dir));
		out_json_int(j, "rule", h->by.rule);
		out_json_int(j, "peer", h->by.peer);
		out_json_int(j, "port", h->by.port);
		out_json_end_object(j);
	} else {
		out_json_null(j, "allowed_by");
	}
	out_json_end_object(j);
}

static void json_endpoint(struct out_json *j, const char *key, const struct endpoint *ep)
{
	char buf[2 * MODEL_MAX_NAME_LEN + 2], ip[INET6_ADDRSTRLEN + 4];

	out_json_begin_object(j, key);
	if (ep->pod) {
		out_fmt_pod(ep->pod, buf, sizeof(buf));
		out_json_string(j, "pod", buf);
	} else {
		out_json_null(j, "pod");
	}
	out_json_string(j, "ip", ip_addr_fmt(&ep->ip, ip, sizeof(ip)));
	out_json_end_object(j);
}

void out_explain_json(struct out_json *j, const struct engine *e, const struct endpoint *src,
		      const struct endpoint *dst, enum proto proto, uint16_t port,
		      const struct explanation *x)
{
	json_endpoint(j, "from", src);
	json_endpoint(j, "to", dst);
	out_json_string(j, "protocol", proto_name(proto));
	out_json_int(j, "port", port);
	out_json_int(j, "family", dst->ip.family == AF_INET ? 4 : 6);
	out_json_bool(j, "allowed", x->allowed);
	out_json_bool(j, "self", x->self);
	json_half(j, e, DIR_EGRESS, src, &x->egress);
	json_half(j, e, DIR_INGRESS, dst, &x->ingress);
}

void out_explain_print(FILE *f, const struct engine *e, const struct endpoint *src,
		       const struct endpoint *dst, enum proto proto, uint16_t port,
		       const struct explanation *x)
{
	char a[2 * MODEL_MAX_NAME_LEN + 64], b[2 * MODEL_MAX_NAME_LEN + 64];

	fmt_endpoint(src, a, sizeof(a));
	fmt_endpoint(dst, b, sizeof(b));
	fprintf(f, "%s -> %s port %u/%s (%s): %s\n", a, b, port, proto_name(proto),
		dst->ip.family == AF_INET ? "IPv4" : "IPv6", x->allowed ? "ALLOWED" : "DENIED");
	if (x->self) {
		fprintf(f, "  same pod: a pod can always reach itself\n");
		return;
	}
	print_half(f, e, DIR_EGRESS, src, dst->pod, &x->egress);
	print_half(f, e, DIR_INGRESS, dst, dst->pod, &x->ingress);
}
