/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metrics: the exposition parses back with a strict validator (every line
 * is a HELP/TYPE comment or a sample of the text format's grammar, every
 * sample belongs to a declared family, histogram buckets are cumulative,
 * end in +Inf and match _count), counters never go down between scrapes,
 * the deny-record namespaces stay bounded, and listen addresses parse.
 */
#include <arpa/inet.h>
#include <check.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>

#include "metrics.h"

#define MAX_SAMPLES 4096
#define MAX_FAMILIES 256

struct sample {
	char name[128];
	char labels[512]; /* as written, without le */
	char le[256];     /* "" when none */
	double value;
};

struct family {
	char name[128];
	char type[16];
	bool help;
};

struct expo {
	struct sample s[MAX_SAMPLES];
	size_t n;
	struct family f[MAX_FAMILIES];
	size_t nf;
};

static bool name_char(char c, bool first)
{
	return isalpha((unsigned char)c) || c == '_' || c == ':' ||
	       (!first && isdigit((unsigned char)c));
}

static const char *parse_name(const char *p, char *out, size_t len)
{
	size_t n = 0;

	if (!name_char(*p, true))
		return NULL;
	while (name_char(*p, n == 0) && n + 1 < len)
		out[n++] = *p++;
	out[n] = '\0';
	return p;
}

static bool parse_value(const char *p, double *ret)
{
	char *end;

	if (strcmp(p, "+Inf") == 0) {
		*ret = INFINITY;
		return true;
	}
	if (strcmp(p, "-Inf") == 0) {
		*ret = -INFINITY;
		return true;
	}
	if (strcmp(p, "NaN") == 0) {
		*ret = NAN;
		return true;
	}
	if (!*p || isspace((unsigned char)*p))
		return false;
	*ret = strtod(p, &end);
	return *end == '\0';
}

static struct family *family_of(struct expo *e, const char *name)
{
	for (size_t i = 0; i < e->nf; i++)
		if (strcmp(e->f[i].name, name) == 0)
			return &e->f[i];
	return NULL;
}

/* The family a sample belongs to: histograms own name_bucket/_sum/_count. */
static struct family *sample_family(struct expo *e, const char *name)
{
	static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
	struct family *f = family_of(e, name);
	char base[128];

	if (f)
		return f;
	for (size_t i = 0; i < 3; i++) {
		size_t nl = strlen(name), sl = strlen(suffixes[i]);

		if (nl <= sl || strcmp(name + nl - sl, suffixes[i]) != 0)
			continue;
		snprintf(base, sizeof(base), "%.*s", (int)(nl - sl), name);
		f = family_of(e, base);
		if (f && strcmp(f->type, "histogram") == 0)
			return f;
	}
	return NULL;
}

/* Parse text into e; fails the test with the offending line. */
static void parse_exposition(const char *text, struct expo *e)
{
	const char *line = text;

	memset(e, 0, sizeof(*e));
	while (*line) {
		const char *nl = strchr(line, '\n');
		char buf[1024], name[128];
		const char *p;
		size_t len;

		ck_assert_msg(nl, "last line without newline");
		len = (size_t)(nl - line);
		ck_assert_uint_lt(len, sizeof(buf));
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = nl + 1;
		ck_assert_msg(len > 0, "empty line");
		if (buf[0] == '#') {
			struct family *f;

			if (strncmp(buf, "# HELP ", 7) == 0) {
				p = parse_name(buf + 7, name, sizeof(name));
				ck_assert_msg(p && *p == ' ' && p[1], "bad HELP: %s", buf);
				f = family_of(e, name);
				ck_assert_msg(!f, "HELP after TYPE or twice: %s", buf);
				ck_assert_uint_lt(e->nf, MAX_FAMILIES);
				f = &e->f[e->nf++];
				snprintf(f->name, sizeof(f->name), "%s", name);
				f->help = true;
			} else if (strncmp(buf, "# TYPE ", 7) == 0) {
				p = parse_name(buf + 7, name, sizeof(name));
				ck_assert_msg(p && *p == ' ', "bad TYPE: %s", buf);
				f = family_of(e, name);
				ck_assert_msg(f && !f->type[0], "TYPE without HELP or twice: %s", buf);
				p++;
				ck_assert_msg(strcmp(p, "counter") == 0 || strcmp(p, "gauge") == 0 ||
						      strcmp(p, "histogram") == 0,
					      "bad type: %s", buf);
				snprintf(f->type, sizeof(f->type), "%s", p);
			} else {
				ck_abort_msg("unknown comment: %s", buf);
			}
			continue;
		}
		{
			struct sample *s;
			struct family *f;
			size_t ll = 0;

			ck_assert_uint_lt(e->n, MAX_SAMPLES);
			s = &e->s[e->n++];
			memset(s, 0, sizeof(*s));
			p = parse_name(buf, s->name, sizeof(s->name));
			ck_assert_msg(p, "bad metric name: %s", buf);
			if (*p == '{') {
				p++;
				while (*p != '}') {
					char lname[128], val[256];
					size_t vl = 0;

					p = parse_name(p, lname, sizeof(lname));
					ck_assert_msg(p && p[0] == '=' && p[1] == '"', "bad label: %s", buf);
					p += 2;
					while (*p && *p != '"') {
						if (*p == '\\') {
							ck_assert_msg(p[1] == '\\' || p[1] == '"' || p[1] == 'n',
								      "bad escape: %s", buf);
							p++;
						}
						ck_assert_uint_lt(vl, sizeof(val) - 1);
						val[vl++] = *p++;
					}
					val[vl] = '\0';
					ck_assert_msg(*p == '"', "unterminated label value: %s", buf);
					p++;
					if (strcmp(lname, "le") == 0)
						snprintf(s->le, sizeof(s->le), "%s", val);
					else
						ll += (size_t)snprintf(s->labels + ll, sizeof(s->labels) - ll,
								       "%s=%s,", lname, val);
					ck_assert_msg(*p == ',' || *p == '}', "bad label list: %s", buf);
					if (*p == ',')
						p++;
				}
				p++;
			}
			ck_assert_msg(*p == ' ', "no value: %s", buf);
			ck_assert_msg(parse_value(p + 1, &s->value), "bad value: %s", buf);
			f = sample_family(e, s->name);
			ck_assert_msg(f && f->type[0], "sample of an undeclared family: %s", buf);
			if (strcmp(f->type, "histogram") == 0 && strcmp(s->name, f->name) == 0)
				ck_abort_msg("histogram sample without suffix: %s", buf);
			if (strcmp(f->type, "counter") == 0)
				ck_assert_msg(s->value >= 0, "negative counter: %s", buf);
		}
	}
}

/* Histograms: per label set, buckets ascending in le and cumulative, +Inf last and == _count. */
static void check_histograms(const struct expo *e)
{
	for (size_t i = 0; i < e->n; i++) {
		const struct sample *s = &e->s[i];
		char count_name[160];
		double prev_le = -INFINITY, prev = 0;
		bool inf = false;
		size_t k;

		if (!s->le[0] || (i > 0 && e->s[i - 1].le[0] &&
				  strcmp(e->s[i - 1].name, s->name) == 0 &&
				  strcmp(e->s[i - 1].labels, s->labels) == 0))
			continue; /* not the first bucket of a series */
		for (k = i; k < e->n && e->s[k].le[0] && strcmp(e->s[k].name, s->name) == 0 &&
			    strcmp(e->s[k].labels, s->labels) == 0;
		     k++) {
			double le;

			ck_assert(parse_value(e->s[k].le, &le));
			ck_assert_msg(le > prev_le, "buckets not ascending: %s %s", s->name, e->s[k].le);
			ck_assert_msg(e->s[k].value >= prev, "buckets not cumulative: %s", s->name);
			prev_le = le;
			prev = e->s[k].value;
			inf = isinf(le) && le > 0;
		}
		ck_assert_msg(inf, "%s{%s} does not end in +Inf", s->name, s->labels);
		snprintf(count_name, sizeof(count_name), "%.*s_count",
			 (int)(strlen(s->name) - strlen("_bucket")), s->name);
		for (size_t c = 0; c < e->n; c++)
			if (strcmp(e->s[c].name, count_name) == 0 &&
			    strcmp(e->s[c].labels, s->labels) == 0) {
				ck_assert_msg(e->s[c].value == prev, "%s != +Inf bucket", count_name);
				goto next;
			}
		ck_abort_msg("no %s for %s", count_name, s->labels);
next:;
	}
}

static char *render(const struct metrics *m, const struct metrics_snapshot *snap)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(metrics_write(m, snap, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

static const struct sample *find(const struct expo *e, const char *name, const char *labels)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->s[i].name, name) == 0 && strcmp(e->s[i].labels, labels) == 0 &&
		    !e->s[i].le[0])
			return &e->s[i];
	return NULL;
}

static struct expo e1, e2;

START_TEST(exposition_is_valid_and_counters_monotonic)
{
	struct metrics *m;
	struct metrics_snapshot snap = {
		.ready = true,
		.reconciles = 3,
		.commits = 2,
		.set_elements = 17,
		.objects = {2, 5, 1, 1},
		.start_time_seconds = 1764000000.25,
		.n_resources = 2,
		.resources = {{"pods", 1, 0}, {"networkpolicies.networking.k8s.io", 0, 2}},
	};
	char *a, *b;

	ck_assert_int_eq(metrics_new(&m), 0);
	metrics_observe_latency(m, 1u << OBJ_POD, 0.03);
	metrics_observe_latency(m, (1u << OBJ_NETWORK_POLICY) | (1u << OBJ_POD), 0.2);
	metrics_observe_latency(m, 0, 100); /* unknown trigger, past the last bound */
	metrics_observe_reconcile(m, 0.004, 12, 40);
	metrics_observe_reconcile(m, 0.001, 0, 0); /* nothing committed */
	metrics_count_deny(m, "default");
	metrics_count_deny(m, NULL);
	a = render(m, &snap);
	parse_exposition(a, &e1);
	check_histograms(&e1);

	ck_assert_ptr_nonnull(find(&e1, "netpold_programming_latency_seconds_count",
				   "trigger=pod,"));
	ck_assert(find(&e1, "netpold_programming_latency_seconds_count", "trigger=pod,")->value == 2);
	ck_assert(find(&e1, "netpold_programming_latency_seconds_count", "trigger=unknown,")->value ==
		  1);
	ck_assert(find(&e1, "netpold_reconcile_duration_seconds_count", "")->value == 2);
	ck_assert(find(&e1, "netpold_batch_messages_count", "")->value == 1);
	ck_assert(find(&e1, "netpold_ready", "")->value == 1);
	ck_assert(find(&e1, "netpold_objects", "kind=pod,")->value == 5);
	ck_assert(find(&e1, "netpold_deny_records_total", "namespace=default,")->value == 1);
	ck_assert(find(&e1, "netpold_relists_total",
		       "resource=networkpolicies.networking.k8s.io,")->value == 2);
	ck_assert(find(&e1, "netpold_start_time_seconds", "")->value == 1764000000.25);

	/* more happens; every counter and histogram series only grows */
	metrics_observe_latency(m, 1u << OBJ_NAMESPACE, 0.001);
	metrics_observe_reconcile(m, 3, 6000, 2000000);
	metrics_count_deny(m, "default");
	snap.reconciles = 5;
	snap.commits = 3;
	snap.resources[0].watch_restarts = 4;
	b = render(m, &snap);
	parse_exposition(b, &e2);
	check_histograms(&e2);
	for (size_t i = 0; i < e1.n; i++) {
		const struct sample *s1 = &e1.s[i];
		bool counter_like = s1->le[0] || strstr(s1->name, "_total") ||
				    strstr(s1->name, "_count") || strstr(s1->name, "_sum");

		if (!counter_like)
			continue;
		for (size_t k = 0; k < e2.n; k++) {
			const struct sample *s2 = &e2.s[k];

			if (strcmp(s1->name, s2->name) == 0 && strcmp(s1->labels, s2->labels) == 0 &&
			    strcmp(s1->le, s2->le) == 0)
				ck_assert_msg(s2->value >= s1->value, "%s{%s} went down", s1->name,
					      s1->labels);
		}
	}
	ck_assert(find(&e2, "netpold_deny_records_total", "namespace=default,")->value == 2);
	free(a);
	free(b);
	metrics_free(m);
	metrics_free(NULL);
}
END_TEST

START_TEST(deny_namespaces_bounded)
{
	struct metrics *m;
	struct metrics_snapshot snap = {0};
	size_t series = 0;
	char ns[32], *text;

	ck_assert_int_eq(metrics_new(&m), 0);
	for (unsigned i = 0; i < 3 * METRICS_MAX_DENY_NAMESPACES; i++) {
		snprintf(ns, sizeof(ns), "ns-%u", i);
		metrics_count_deny(m, ns);
	}
	metrics_count_deny(m, "Not\"Valid\n");
	text = render(m, &snap);
	parse_exposition(text, &e1);
	for (size_t i = 0; i < e1.n; i++)
		if (strcmp(e1.s[i].name, "netpold_deny_records_total") == 0)
			series++;
	/* the cap, plus _other and _none */
	ck_assert_uint_eq(series, METRICS_MAX_DENY_NAMESPACES + 2);
	ck_assert(find(&e1, "netpold_deny_records_total", "namespace=_other,")->value ==
		  2 * METRICS_MAX_DENY_NAMESPACES + 1);
	free(text);
	metrics_free(m);
}
END_TEST

START_TEST(pod_latency_and_nflog)
{
	struct metrics *m;
	struct metrics_snapshot snap = {0};
	static struct pod_latency pl;
	char *text;

	ck_assert_int_eq(metrics_new(&m), 0);
	/* no NFLOG reader: its counters are absent */
	text = render(m, &snap);
	parse_exposition(text, &e1);
	check_histograms(&e1);
	ck_assert(find(&e1, "netpold_pod_programming_latency_seconds_count", "")->value == 0);
	ck_assert_ptr_null(find(&e1, "netpold_nflog_overruns_total", ""));
	free(text);

	pl.ring[0] = 0.02;
	pl.ring[1] = 0.3;
	pl.count = 2;
	metrics_read_pod_latency(m, &pl);
	metrics_read_pod_latency(m, &pl); /* nothing new: no second observation */
	snap.has_nflog = true;
	snap.nflog_overruns = 3;
	snap.nflog_malformed = 4;
	snap.nflog_unattributed = 5;
	snap.nflog_audit_records = 6;
	text = render(m, &snap);
	parse_exposition(text, &e1);
	check_histograms(&e1);
	ck_assert(find(&e1, "netpold_pod_programming_latency_seconds_count", "")->value == 2);
	ck_assert(find(&e1, "netpold_pod_programming_latency_seconds_sum", "")->value == 0.32);
	ck_assert(find(&e1, "netpold_nflog_overruns_total", "")->value == 3);
	ck_assert(find(&e1, "netpold_deny_records_malformed_total", "")->value == 4);
	ck_assert(find(&e1, "netpold_deny_records_unattributed_total", "")->value == 5);
	ck_assert(find(&e1, "netpold_deny_records_audit_total", "")->value == 6);
	free(text);

	/* the ring wrapped before a read: what fell out is counted as lost */
	pl.count = 2 + POD_LATENCY_RING + 7;
	metrics_read_pod_latency(m, &pl);
	text = render(m, &snap);
	parse_exposition(text, &e1);
	check_histograms(&e1);
	ck_assert(find(&e1, "netpold_pod_programming_latency_seconds_count", "")->value ==
		  2 + POD_LATENCY_RING);
	ck_assert(find(&e1, "netpold_pod_programming_latency_lost_total", "")->value == 7);
	free(text);
	metrics_free(m);
}
END_TEST

START_TEST(addresses)
{
	struct sockaddr_storage sa;
	socklen_t len;
	const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;

	ck_assert_int_eq(metrics_address_parse("127.0.0.1:9617", &sa, &len), 0);
	ck_assert_int_eq(sa.ss_family, AF_INET);
	ck_assert_uint_eq(ntohs(in->sin_port), 9617);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
	ck_assert_int_eq(metrics_address_parse("[::1]:80", &sa, &len), 0);
	ck_assert_int_eq(sa.ss_family, AF_INET6);
	ck_assert_uint_eq(ntohs(in6->sin6_port), 80);
	ck_assert_int_eq(metrics_address_parse(":9617", &sa, &len), 0);
	ck_assert_uint_eq(in->sin_addr.s_addr, htonl(INADDR_ANY));
	ck_assert_int_eq(metrics_address_parse("localhost:9617", &sa, &len), -EINVAL);
	ck_assert_int_eq(metrics_address_parse("127.0.0.1", &sa, &len), -EINVAL);
	ck_assert_int_eq(metrics_address_parse("127.0.0.1:0", &sa, &len), -EINVAL);
	ck_assert_int_eq(metrics_address_parse("127.0.0.1:65536", &sa, &len), -EINVAL);
	ck_assert_int_eq(metrics_address_parse("::1:80", &sa, &len), -EINVAL);
	ck_assert_int_eq(metrics_address_parse("[::1]80", &sa, &len), -EINVAL);
	ck_assert_int_eq(metrics_address_parse("[]:80", &sa, &len), -EINVAL);
	ck_assert_int_eq(metrics_address_parse(NULL, &sa, &len), -EINVAL);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("exposition");

	tcase_add_test(tc, exposition_is_valid_and_counters_monotonic);
	tcase_add_test(tc, deny_namespaces_bounded);
	tcase_add_test(tc, pod_latency_and_nflog);
	tcase_add_test(tc, addresses);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
