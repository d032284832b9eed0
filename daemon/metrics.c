/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Prometheus metrics of netpold: fixed-bucket histograms and a bounded
 * per-namespace counter kept here, gauges and counters the daemon already
 * tracks passed in as a snapshot at scrape time, all written in the text
 * exposition format with HELP and TYPE lines.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>

#include "metrics.h"

#define MAX_BUCKETS 16

struct histogram {
	const double *bounds; /* upper bounds, ascending; +Inf is implicit */
	size_t n_bounds;
	uint64_t counts[MAX_BUCKETS + 1]; /* per bucket, not cumulative; last: above all bounds */
	uint64_t count;
	double sum;
};

enum trigger {
	TRIG_NAMESPACE,
	TRIG_POD,
	TRIG_POLICY,
	TRIG_SERVICE,
	TRIG_UNKNOWN,
	_TRIG_MAX,
};

static const char *const trigger_names[_TRIG_MAX] = {
	[TRIG_NAMESPACE] = "namespace", [TRIG_POD] = "pod",	    [TRIG_POLICY] = "policy",
	[TRIG_SERVICE] = "service",	[TRIG_UNKNOWN] = "unknown",
};

struct deny_ns {
	char name[MODEL_MAX_NAME_LEN + 1];
	uint64_t count;
};

struct metrics {
	struct histogram latency[_TRIG_MAX];
	struct histogram reconcile;
	struct histogram batch_msgs;
	struct histogram batch_elems;
	struct deny_ns deny[METRICS_MAX_DENY_NAMESPACES];
	size_t n_deny;
	uint64_t deny_other; /* namespaces past the cap */
	uint64_t deny_none;  /* records whose protected side is no pod */
	struct histogram pod_latency;
	uint64_t pod_latency_cursor; /* next sequence number of struct pod_latency's ring */
	uint64_t pod_latency_lost;
};

static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					0.5,   1,    2.5,   5,    10,  30};
static const double reconcile_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
					  0.05,   0.1,   0.25,   0.5,   1,    2.5};
static const double msgs_bounds[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000};
static const double elems_bounds[] = {0, 1, 10, 100, 1000, 10000, 100000, 1000000};

static void histogram_init(struct histogram *h, const double *bounds, size_t n)
{
	*h = (struct histogram){.bounds = bounds, .n_bounds = n};
}

static void histogram_observe(struct histogram *h, double v)
{
	size_t i;

	if (isnan(v))
		return;
	for (i = 0; i < h->n_bounds && v > h->bounds[i]; i++)
		;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

int metrics_new(struct metrics **ret)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < _TRIG_MAX; i++)
		histogram_init(&m->latency[i], latency_bounds, ELEMENTSOF(latency_bounds));
	histogram_init(&m->reconcile, reconcile_bounds, ELEMENTSOF(reconcile_bounds));
	histogram_init(&m->batch_msgs, msgs_bounds, ELEMENTSOF(msgs_bounds));
	histogram_init(&m->batch_elems, elems_bounds, ELEMENTSOF(elems_bounds));
	histogram_init(&m->pod_latency, latency_bounds, ELEMENTSOF(latency_bounds));
	*ret = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	free(m);
}

void metrics_observe_latency(struct metrics *m, unsigned kinds, double seconds)
{
	static const struct {
		unsigned bit;
		enum trigger t;
	} map[] = {
		{1u << OBJ_NAMESPACE, TRIG_NAMESPACE}, {1u << OBJ_POD, TRIG_POD},
		{1u << OBJ_NETWORK_POLICY, TRIG_POLICY}, {1u << OBJ_SERVICE, TRIG_SERVICE},
		{METRICS_TRIGGER_UNKNOWN_BIT, TRIG_UNKNOWN},
	};

	if (!m)
		return;
	if (seconds < 0)
		seconds = 0;
	if (!kinds)
		kinds = METRICS_TRIGGER_UNKNOWN_BIT;
	for (size_t i = 0; i < ELEMENTSOF(map); i++)
		if (kinds & map[i].bit)
			histogram_observe(&m->latency[map[i].t], seconds);
}

void metrics_observe_reconcile(struct metrics *m, double seconds, uint64_t msgs, uint64_t elems)
{
	if (!m)
		return;
	histogram_observe(&m->reconcile, seconds < 0 ? 0 : seconds);
	if (msgs == 0)
		return; /* nothing committed: no batch */
	histogram_observe(&m->batch_msgs, (double)msgs);
	histogram_observe(&m->batch_elems, (double)elems);
}

void metrics_count_deny(struct metrics *m, const char *ns)
{
	size_t len;

	if (!m)
		return;
	if (!ns || !ns[0]) {
		m->deny_none++;
		return;
	}
	len = strlen(ns);
	for (size_t i = 0; i < m->n_deny; i++)
		if (strcmp(m->deny[i].name, ns) == 0) {
			m->deny[i].count++;
			return;
		}
	/* bounded cardinality: the label set never grows past the cap */
	if (m->n_deny == METRICS_MAX_DENY_NAMESPACES || len > MODEL_MAX_NAME_LEN ||
	    !dns_label_valid(ns)) {
		m->deny_other++;
		return;
	}
	memcpy(m->deny[m->n_deny].name, ns, len + 1);
	m->deny[m->n_deny++].count = 1;
}

void metrics_read_pod_latency(struct metrics *m, const struct pod_latency *pl)
{
	double v[64];
	size_t n;

	if (!m || !pl)
		return;
	do {
		uint64_t lost = 0;

		n = pod_latency_read(pl, &m->pod_latency_cursor, v, ELEMENTSOF(v), &lost);
		m->pod_latency_lost += lost;
		for (size_t i = 0; i < n; i++)
			histogram_observe(&m->pod_latency, v[i] < 0 ? 0 : v[i]);
	} while (n == ELEMENTSOF(v));
}

/* ---- exposition ---- */

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void fmt_double(char *buf, size_t len, double v)
{
	if (isinf(v))
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	else
		snprintf(buf, len, "%.15g", v);
}

/* One histogram's samples; labels is "" or `key="value",` (with the trailing comma). */
static void histogram_write(FILE *f, const char *name, const char *labels,
			    const struct histogram *h)
{
	uint64_t cum = 0;
	char v[64];
	size_t ll = strlen(labels);
	/* the label set without its trailing comma, for _sum and _count */
	int bare = ll ? (int)ll - 1 : 0;

	for (size_t i = 0; i < h->n_bounds; i++) {
		cum += h->counts[i];
		fmt_double(v, sizeof(v), h->bounds[i]);
		fprintf(f, "%s_bucket{%sle=\"%s\"} %" PRIu64 "\n", name, labels, v, cum);
	}
	cum += h->counts[h->n_bounds];
	fprintf(f, "%s_bucket{%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, cum);
	fmt_double(v, sizeof(v), h->sum);
	if (bare) {
		fprintf(f, "%s_sum{%.*s} %s\n", name, bare, labels, v);
		fprintf(f, "%s_count{%.*s} %" PRIu64 "\n", name, bare, labels, h->count);
	} else {
		fprintf(f, "%s_sum %s\n%s_count %" PRIu64 "\n", name, v, name, h->count);
	}
}

static void simple(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	header(f, name, type, help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

/* A label value: only names we validated or wrote ourselves reach here, but escape anyway. */
static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

int metrics_write(const struct metrics *m, const struct metrics_snapshot *snap, FILE *f)
{
	static const char *const kind_names[4] = {
		[OBJ_NAMESPACE] = "namespace",
		[OBJ_POD] = "pod",
		[OBJ_NETWORK_POLICY] = "networkpolicy",
		[OBJ_SERVICE] = "service",
	};
	char labels[64], v[64];

	header(f, "netpold_programming_latency_seconds", "histogram",
	       "Time from a source change (by kind of object) to the kernel commit that "
	       "includes it.");
	for (size_t t = 0; t < _TRIG_MAX; t++) {
		snprintf(labels, sizeof(labels), "trigger=\"%s\",", trigger_names[t]);
		histogram_write(f, "netpold_programming_latency_seconds", labels, &m->latency[t]);
	}
	header(f, "netpold_pod_programming_latency_seconds", "histogram",
	       "Time from a new local pod appearing with an address in the input to the "
	       "commit that programmed it.");
	histogram_write(f, "netpold_pod_programming_latency_seconds", "", &m->pod_latency);
	simple(f, "netpold_pod_programming_latency_lost_total", "counter",
	       "Pod programming latencies not observed (more new pods in one commit than the "
	       "ring holds).",
	       m->pod_latency_lost);
	header(f, "netpold_reconcile_duration_seconds", "histogram",
	       "Duration of one reconcile: source sync, diff and nftables commit.");
	histogram_write(f, "netpold_reconcile_duration_seconds", "", &m->reconcile);
	header(f, "netpold_batch_messages", "histogram",
	       "Netlink messages per committed nftables batch.");
	histogram_write(f, "netpold_batch_messages", "", &m->batch_msgs);
	header(f, "netpold_batch_elements", "histogram",
	       "Set elements added or removed per committed nftables batch.");
	histogram_write(f, "netpold_batch_elements", "", &m->batch_elems);

	simple(f, "netpold_reconciles_total", "counter", "Reconciles run.", snap->reconciles);
	simple(f, "netpold_reconcile_failures_total", "counter",
	       "Reconciles that failed (source or dataplane).", snap->reconcile_failures);
	simple(f, "netpold_commits_total", "counter", "nftables batches committed.",
	       snap->commits);
	simple(f, "netpold_kernel_errors_total", "counter",
	       "nftables batches the kernel refused.", snap->kernel_errors);
	simple(f, "netpold_drift_repairs_total", "counter",
	       "Foreign changes to netpold's table that were repaired.", snap->drift_repairs);
	simple(f, "netpold_set_elements", "gauge", "Set elements currently programmed.",
	       snap->set_elements);
	simple(f, "netpold_ready", "gauge",
	       "1 once the source synced and that state was programmed, else 0.", snap->ready);
	simple(f, "netpold_degraded", "gauge",
	       "1 while the last reconcile failed or the source cannot follow its input.",
	       snap->degraded);
	simple(f, "netpold_source_errors", "gauge", "Objects the source currently rejects.",
	       snap->source_errors);
	simple(f, "netpold_local_pods", "gauge", "Pods scheduled on this node.",
	       snap->local_pods);

	header(f, "netpold_objects", "gauge", "Objects in the policy engine, by kind.");
	for (size_t k = 0; k < ELEMENTSOF(kind_names); k++)
		fprintf(f, "netpold_objects{kind=\"%s\"} %" PRIu64 "\n", kind_names[k],
			snap->objects[k]);

	header(f, "netpold_deny_records_total", "counter",
	       "Denied (or audited) packets logged, by namespace of the protected pod.");
	for (size_t i = 0; i < m->n_deny; i++) {
		fputs("netpold_deny_records_total{namespace=\"", f);
		label_value(f, m->deny[i].name);
		fprintf(f, "\"} %" PRIu64 "\n", m->deny[i].count);
	}
	fprintf(f, "netpold_deny_records_total{namespace=\"_other\"} %" PRIu64 "\n",
		m->deny_other);
	fprintf(f, "netpold_deny_records_total{namespace=\"_none\"} %" PRIu64 "\n",
		m->deny_none);
	simple(f, "netpold_deny_records_dropped_total", "counter",
	       "Deny records lost by /v1/events readers that fell behind.",
	       snap->deny_records_dropped);

	if (snap->has_nflog) {
		simple(f, "netpold_deny_records_audit_total", "counter",
		       "Deny records of audit-mode policies (logged, not dropped).",
		       snap->nflog_audit_records);
		simple(f, "netpold_deny_records_malformed_total", "counter",
		       "NFLOG messages or packets rejected by validation.", snap->nflog_malformed);
		simple(f, "netpold_deny_records_unattributed_total", "counter",
		       "Deny records not attributed to a known pod's policies.",
		       snap->nflog_unattributed);
		simple(f, "netpold_nflog_overruns_total", "counter",
		       "ENOBUFS on the NFLOG socket: the kernel dropped deny records.",
		       snap->nflog_overruns);
	}
	if (snap->n_resources) {
		header(f, "netpold_watch_restarts_total", "counter",
		       "Kubernetes watches that ended and were restarted, by resource.");
		for (size_t i = 0; i < snap->n_resources; i++) {
			fputs("netpold_watch_restarts_total{resource=\"", f);
			label_value(f, snap->resources[i].resource);
			fprintf(f, "\"} %" PRIu64 "\n", snap->resources[i].watch_restarts);
		}
		header(f, "netpold_relists_total", "counter",
		       "Kubernetes lists repeated after the first (410 Gone, errors), by "
		       "resource.");
		for (size_t i = 0; i < snap->n_resources; i++) {
			fputs("netpold_relists_total{resource=\"", f);
			label_value(f, snap->resources[i].resource);
			fprintf(f, "\"} %" PRIu64 "\n", snap->resources[i].relists);
		}
	}
	header(f, "netpold_start_time_seconds", "gauge", "Unix time netpold started.");
	fmt_double(v, sizeof(v), snap->start_time_seconds);
	fprintf(f, "netpold_start_time_seconds %s\n", v);
	header(f, "netpold_build_info", "gauge", "Always 1; the version as a label.");
	fprintf(f, "netpold_build_info{version=\"%s\"} 1\n", NETPOLD_VERSION);
	return ferror(f) ? -EIO : 0;
}

int metrics_address_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *port_s;
	size_t hl;
	int64_t port;

	if (!s)
		return -EINVAL;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		hl = (size_t)(end - s - 1);
		if (hl == 0 || hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl);
		port_s = end + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hl);
		port_s = colon + 1;
	}
	host[hl] = '\0';
	if (parse_int64(port_s, 1, 65535, &port) < 0)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	if (s[0] == '[') {
		struct sockaddr_in6 *sa6 = (struct sockaddr_in6 *)ret;

		sa6->sin6_family = AF_INET6;
		sa6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &sa6->sin6_addr) != 1)
			return -EINVAL;
		*ret_len = sizeof(*sa6);
	} else {
		struct sockaddr_in *sa4 = (struct sockaddr_in *)ret;

		sa4->sin_family = AF_INET;
		sa4->sin_port = htons((uint16_t)port);
		if (hl == 0)
			sa4->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &sa4->sin_addr) != 1)
			return -EINVAL;
		*ret_len = sizeof(*sa4);
	}
	return 0;
}
