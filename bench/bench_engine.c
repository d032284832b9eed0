/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Engine benchmark on a synthetic cluster (100k pods, 1k namespaces, 10k
 * policies in a realistic mix): cold compile, incremental pod and policy
 * updates, matcher verdicts/s against the reference evaluator, peak RSS.
 * Prints figures; not a test. Usage: bench_engine [pods-per-ns [namespaces]].
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include "engine.h"
#include "reference.h"

#define APPS 10
#define POLS_PER_NS 10

static unsigned n_ns = 1000, pods_per_ns = 100;

/*
 * CPU time of this thread: the build machine is shared, and wall time would
 * measure the neighbours. Wall time is printed for the cold compile too.
 */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void die_oom(void *p)
{
	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
}

static char *xfmt(const char *a, unsigned i, const char *b, unsigned j)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "%s%u%s%u", a, i, b ? b : "", j);
	return strdup(buf);
}

static const char *ns_name(unsigned i, char *buf, size_t len)
{
	if (i == 0)
		snprintf(buf, len, "monitoring");
	else
		snprintf(buf, len, "team-ns-%u", i);
	return buf;
}

static struct namespace_obj *gen_ns(unsigned i)
{
	struct namespace_obj *o = calloc(1, sizeof(*o));
	char buf[64], t[32];

	die_oom(o);
	o->name = strdup(ns_name(i, buf, sizeof(buf)));
	labels_set(&o->labels, "kubernetes.io/metadata.name", o->name);
	snprintf(t, sizeof(t), "team-%u", i % 20);
	labels_set(&o->labels, "team", t);
	labels_set(&o->labels, "env", i % 3 ? "prod" : "staging");
	if (i == 0)
		labels_set(&o->labels, "purpose", "monitoring");
	return o;
}

/* variant flips the pod's app label (the incremental relabel). */
static struct pod_obj *gen_pod(unsigned ns, unsigned j, unsigned variant)
{
	static const char *const tiers[] = {"frontend", "backend", "db"};
	struct pod_obj *o = calloc(1, sizeof(*o));
	unsigned id = ns * pods_per_ns + j;
	char buf[64];

	die_oom(o);
	o->ns = strdup(ns_name(ns, buf, sizeof(buf)));
	o->name = xfmt("app-", j % APPS, "-pod-", j);
	snprintf(buf, sizeof(buf), "5f0c6d2e-1b7a-4c1e-9a3b-%012u", id);
	o->uid = strdup(buf);
	snprintf(buf, sizeof(buf), "app-%u", (j + variant) % APPS);
	labels_set(&o->labels, "app", buf);
	labels_set(&o->labels, "tier", tiers[j % 3]);
	snprintf(buf, sizeof(buf), "%08x", (j % APPS) * 2654435761u);
	labels_set(&o->labels, "pod-template-hash", buf);
	o->node_name = xfmt("node-", id % 500, NULL, 0);
	o->phase = POD_PHASE_RUNNING;
	o->ips[0] = (struct ip_addr){.family = AF_INET,
				     .a = {10, (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id}};
	o->n_ips = 1;
	if (id % 4 == 0) {
		o->ips[1] = (struct ip_addr){.family = AF_INET6, .a = {0xfd, 0, [13] = (uint8_t)(id >> 16),
							 (uint8_t)(id >> 8), (uint8_t)id}};
		o->n_ips = 2;
	}
	o->ports = calloc(2, sizeof(*o->ports));
	die_oom(o->ports);
	o->ports[0] = (struct container_port){.name = strdup("http"), .port = 8080, .proto = PROTO_TCP};
	o->ports[1] = (struct container_port){.name = strdup("metrics"), .port = 9090, .proto = PROTO_TCP};
	o->n_ports = 2;
	return o;
}

static void sel_app(struct selector *s, unsigned app)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "app-%u", app % APPS);
	labels_set(&s->match_labels, "app", buf);
}

static struct np_rule *rules_new(size_t n)
{
	struct np_rule *r = calloc(n, sizeof(*r));

	die_oom(r);
	return r;
}

static void rule_peers(struct np_rule *r, size_t n)
{
	r->peers = calloc(n, sizeof(*r->peers));
	die_oom(r->peers);
	r->n_peers = n;
}

static void rule_port(struct np_rule *r, enum proto proto, uint16_t port, uint16_t end,
		      const char *name)
{
	struct np_port *p = realloc(r->ports, (r->n_ports + 1) * sizeof(*p));

	die_oom(p);
	r->ports = p;
	p[r->n_ports++] = (struct np_port){.proto = proto, .has_port = port || name,
					   .name = name ? strdup(name) : NULL, .port = port,
					   .end_port = end ? end : port};
}

/* Policy k of namespace ns; variant changes the allow-list (the incremental edit). */
static struct netpol *gen_pol(unsigned ns, unsigned k, unsigned variant)
{
	struct netpol *o = calloc(1, sizeof(*o));
	char buf[64];
	struct np_rule *r;

	die_oom(o);
	o->ns = strdup(ns_name(ns, buf, sizeof(buf)));
	o->uid = xfmt("pol-uid-", ns, "-", k);
	o->generation = 1 + variant;
	o->type_ingress = true;
	switch (k) {
	case 0: /* default deny ingress */
		o->name = strdup("default-deny");
		break;
	case 1: /* namespace isolation: allow from the same namespace */
		o->name = strdup("allow-same-namespace");
		o->ingress = r = rules_new(1);
		o->n_ingress = 1;
		rule_peers(r, 1);
		r->peers[0] = (struct np_peer){.kind = PEER_SELECTOR, .has_pod_selector = true};
		break;
	case 2: /* allow metrics scraping from the monitoring namespace */
		o->name = strdup("allow-monitoring");
		o->ingress = r = rules_new(1);
		o->n_ingress = 1;
		rule_peers(r, 1);
		r->peers[0] = (struct np_peer){.kind = PEER_SELECTOR, .has_ns_selector = true};
		labels_set(&r->peers[0].ns_selector.match_labels, "purpose", "monitoring");
		rule_port(r, PROTO_TCP, 0, 0, "metrics");
		break;
	case 3: /* public frontends: anything but the cluster */
		o->name = strdup("allow-external-frontend");
		labels_set(&o->pod_selector.match_labels, "tier", "frontend");
		o->ingress = r = rules_new(1);
		o->n_ingress = 1;
		rule_peers(r, 1);
		r->peers[0].kind = PEER_IPBLOCK;
		cidr_parse("0.0.0.0/0", &r->peers[0].cidr);
		r->peers[0].except = calloc(2, sizeof(struct cidr));
		die_oom(r->peers[0].except);
		cidr_parse("10.0.0.0/8", &r->peers[0].except[0]);
		cidr_parse("192.168.0.0/16", &r->peers[0].except[1]);
		r->peers[0].n_except = 2;
		rule_port(r, PROTO_TCP, 443, 0, NULL);
		rule_port(r, PROTO_TCP, 8000, 8100, NULL);
		break;
	case 9: /* egress: to the next app, DNS anywhere */
		o->name = strdup("egress-app");
		o->type_egress = true;
		o->type_ingress = false;
		sel_app(&o->pod_selector, ns + variant);
		o->egress = r = rules_new(2);
		o->n_egress = 2;
		rule_peers(&r[0], 1);
		r[0].peers[0] = (struct np_peer){.kind = PEER_SELECTOR, .has_pod_selector = true};
		sel_app(&r[0].peers[0].pod_selector, ns + 1 + variant);
		rule_port(&r[0], PROTO_TCP, 0, 0, "http");
		rule_port(&r[1], PROTO_UDP, 53, 0, NULL);
		rule_port(&r[1], PROTO_TCP, 53, 0, NULL);
		break;
	default: { /* per-app ingress allow-lists, k = 4..8 */
		unsigned app = k - 4 + (ns % 2) * 5;

		o->name = xfmt("allow-app-", app, NULL, 0);
		sel_app(&o->pod_selector, app);
		o->ingress = r = rules_new(1);
		o->n_ingress = 1;
		/* One allow-list in five also admits the app's peers across the team. */
		rule_peers(r, k == 4 ? 2 : 1);
		r->peers[0] = (struct np_peer){.kind = PEER_SELECTOR, .has_pod_selector = true};
		sel_app(&r->peers[0].pod_selector, app + 1 + variant);
		if (k != 4) {
			rule_port(r, PROTO_TCP, 8080, 0, NULL);
			rule_port(r, PROTO_TCP, 0, 0, "http");
			break;
		}
		r->peers[1] = (struct np_peer){.kind = PEER_SELECTOR, .has_pod_selector = true,
					       .has_ns_selector = true};
		snprintf(buf, sizeof(buf), "team-%u", ns % 20);
		labels_set(&r->peers[1].ns_selector.match_labels, "team", buf);
		labels_set(&r->peers[1].ns_selector.match_labels, "env", "prod");
		sel_app(&r->peers[1].pod_selector, app + 2);
		rule_port(r, PROTO_TCP, 8080, 0, NULL);
		rule_port(r, PROTO_TCP, 0, 0, "http");
	}
	}
	return o;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	printf("%-38s median %8.1f us   p99 %8.1f us   max %8.1f us\n", what, v[n / 2] * 1e6,
	       v[n * 99 / 100] * 1e6, v[n - 1] * 1e6);
}

static long rss_mb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

static void count_change(void *ud, const struct engine_change *c)
{
}

struct query {
	struct endpoint src, dst;
	uint16_t port;
	enum proto proto;
};

/* Queries among the pods of the first span namespaces (all: cluster-wide). */
static void make_queries(struct engine *e, struct query *q, size_t n, unsigned span)
{
	static const uint16_t ports[] = {8080, 9090, 443, 53, 8050, 22};

	for (size_t i = 0; i < n; i++) {
		unsigned ns = (unsigned)(rnd() % span), j = (unsigned)(rnd() % pods_per_ns);
		unsigned ns2 = rnd() % 4 ? ns : (unsigned)(rnd() % span);
		unsigned j2 = (unsigned)(rnd() % pods_per_ns);
		char buf[64], name[64], name2[64];
		const struct pod_obj *a, *b;

		snprintf(name, sizeof(name), "app-%u-pod-%u", j % APPS, j);
		snprintf(name2, sizeof(name2), "app-%u-pod-%u", j2 % APPS, j2);
		a = engine_pod(e, ns_name(ns, buf, sizeof(buf)), name);
		b = engine_pod(e, ns_name(ns2, buf, sizeof(buf)), name2);
		endpoint_from_pod(a, AF_INET, &q[i].src);
		endpoint_from_pod(b, AF_INET, &q[i].dst);
		if (rnd() % 10 == 0) {
			struct ip_addr ip = {.family = AF_INET,
					     .a = {203, 0, 113, (uint8_t)rnd()}};

			engine_endpoint_from_ip(e, &ip, &q[i].src);
		}
		q[i].port = ports[rnd() % ELEMENTSOF(ports)];
		q[i].proto = rnd() % 8 ? PROTO_TCP : PROTO_UDP;
	}
}

struct refcopy {
	struct reference_world w;
	const struct pod_obj **pods;
	const struct netpol **pols;
	const struct namespace_obj **nss;
	size_t np, nq, nn;
};

static int ref_pod(void *ud, const struct pod_obj *p)
{
	struct refcopy *c = ud;

	c->pods[c->np++] = p;
	return 0;
}

static int ref_pol(void *ud, const struct netpol *p)
{
	struct refcopy *c = ud;

	c->pols[c->nq++] = p;
	return 0;
}

static int ref_ns(void *ud, const struct namespace_obj *n)
{
	struct refcopy *c = ud;

	c->nss[c->nn++] = n;
	return 0;
}

int main(int argc, char **argv)
{
	struct engine *e = engine_new();
	struct engine_counts cnt;
	size_t nops = 1000, nq = 1u << 18;
	double mps_cold = 0, w0;
	double t0, t1, *lat;
	struct query *q;
	char model[256] = "?";
	FILE *f;
	uint64_t allowed = 0, iters = 0;
	int64_t v;

	if (argc > 1 && parse_int64(argv[1], 1, 100000, &v) == 0)
		pods_per_ns = (unsigned)v;
	if (argc > 2 && parse_int64(argv[2], 2, 100000, &v) == 0)
		n_ns = (unsigned)v;
	f = fopen("/proc/cpuinfo", "re");
	if (f) {
		char line[256];

		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "model name", 10) == 0) {
				char *c = strchr(line, ':');

				snprintf(model, sizeof(model), "%s", c ? c + 2 : line);
				model[strcspn(model, "\n")] = 0;
				break;
			}
		fclose(f);
	}
	printf("machine: %ld cpus online, %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
	die_oom(e);

	/* Cold compile: everything, in the order an initial list delivers it. */
	w0 = wall();
	t0 = now();
	for (unsigned i = 0; i < n_ns; i++) {
		struct k8s_object o = {.kind = OBJ_NAMESPACE, .ns = gen_ns(i)};

		engine_apply(e, &o);
	}
	for (unsigned i = 0; i < n_ns; i++)
		for (unsigned k = 0; k < POLS_PER_NS; k++) {
			struct k8s_object o = {.kind = OBJ_NETWORK_POLICY, .pol = gen_pol(i, k, 0)};

			engine_apply(e, &o);
		}
	for (unsigned i = 0; i < n_ns; i++)
		for (unsigned j = 0; j < pods_per_ns; j++) {
			struct k8s_object o = {.kind = OBJ_POD, .pod = gen_pod(i, j, 0)};

			engine_apply(e, &o);
		}
	t1 = now();
	w0 = wall() - w0;
	engine_counts(e, &cnt);
	printf("cluster: %zu namespaces, %zu pods, %zu policies, %zu compiled rules\n",
	       cnt.namespaces, cnt.pods, cnt.policies, cnt.rules);
	printf("cold compile (incl. object construction): %.3f s CPU (%.3f s wall), %zu changes logged, RSS so far %ld MB, heap in use %.1f MB\n",
	       t1 - t0, w0, engine_drain_changes(e, count_change, NULL), rss_mb(),
	       (double)mallinfo2().uordblks / 1048576.0);

	/* Incremental: one pod label change (app label flips), then back. */
	lat = calloc(nops, sizeof(*lat));
	die_oom(lat);
	for (size_t i = 0; i < nops; i++) {
		unsigned ns = (unsigned)(rnd() % n_ns), j = (unsigned)(rnd() % pods_per_ns);
		struct k8s_object o = {.kind = OBJ_POD, .pod = gen_pod(ns, j, 1 + (unsigned)(i % 3))};

		t0 = now();
		engine_apply(e, &o);
		engine_discard_changes(e);
		lat[i] = now() - t0;
		o = (struct k8s_object){.kind = OBJ_POD, .pod = gen_pod(ns, j, 0)};
		engine_apply(e, &o);
		engine_discard_changes(e);
	}
	report("incremental pod relabel:", lat, nops);

	/* Incremental: one policy edit (allow-list or egress target changes). */
	for (size_t i = 0; i < nops; i++) {
		unsigned ns = (unsigned)(rnd() % n_ns), k = 4 + (unsigned)(rnd() % 6);
		struct k8s_object o = {.kind = OBJ_NETWORK_POLICY, .pol = gen_pol(ns, k, 1)};

		t0 = now();
		engine_apply(e, &o);
		engine_discard_changes(e);
		lat[i] = now() - t0;
		o = (struct k8s_object){.kind = OBJ_NETWORK_POLICY, .pol = gen_pol(ns, k, 0)};
		engine_apply(e, &o);
		engine_discard_changes(e);
	}
	report("incremental policy edit:", lat, nops);

	/* Monitoring-namespace-wide: a pod joining the monitoring namespace. */
	for (size_t i = 0; i < 100; i++) {
		struct k8s_object o = {.kind = OBJ_POD, .pod = gen_pod(0, (unsigned)(rnd() % pods_per_ns), 1)};

		t0 = now();
		engine_apply(e, &o);
		engine_discard_changes(e);
		lat[i] = now() - t0;
	}
	report("relabel in monitoring ns (1k rules):", lat, 100);

	/* Matcher fast path on one core: cluster-wide random pairs, then a hot working set. */
	q = calloc(nq, sizeof(*q));
	die_oom(q);
	printf("peak RSS before the matcher's query arrays: %ld MB\n", rss_mb());
	for (int pass = 0; pass < 2; pass++) {
		unsigned span = pass == 0 ? n_ns : (n_ns < 10 ? n_ns : 10);

		make_queries(e, q, nq, span);
		allowed = iters = 0;
		t0 = now();
		do {
			for (size_t i = 0; i < nq; i++)
				allowed += engine_verdict(e, &q[i].src, &q[i].dst, q[i].proto, q[i].port,
							  NULL);
			iters++;
			t1 = now();
		} while (t1 - t0 < 2.0);
		printf("matcher (%s, %u pods): %.2f M verdicts/s (%.1f%% allowed)\n",
		       pass == 0 ? "cluster-wide random pairs" : "hot set", span * pods_per_ns,
		       (double)(iters * nq) / (t1 - t0) / 1e6,
		       100.0 * (double)allowed / (double)(iters * nq));
		if (pass == 0)
			mps_cold = (double)(iters * nq) / (t1 - t0);
	}
	make_queries(e, q, nq, n_ns);
	{
		double mps = mps_cold;
		struct refcopy rc = {0};
		size_t n = 0;
		uint64_t agree = 0;

		rc.pods = calloc(cnt.pods, sizeof(*rc.pods));
		rc.pols = calloc(cnt.policies, sizeof(*rc.pols));
		rc.nss = calloc(cnt.namespaces, sizeof(*rc.nss));
		die_oom(rc.pods);
		die_oom(rc.pols);
		die_oom(rc.nss);
		engine_foreach_pod(e, ref_pod, &rc);
		engine_foreach_policy(e, ref_pol, &rc);
		engine_foreach_namespace(e, ref_ns, &rc);
		rc.w = (struct reference_world){.nss = rc.nss, .n_nss = rc.nn, .pods = rc.pods,
						.n_pods = rc.np, .pols = rc.pols, .n_pols = rc.nq};
		t0 = now();
		do {
			for (size_t k = 0; k < 256; k++, n++) {
				struct query *x = &q[n % nq];

				agree += reference_verdict(&rc.w, &x->src, &x->dst, x->proto, x->port) ==
					 engine_verdict(e, &x->src, &x->dst, x->proto, x->port, NULL);
			}
			t1 = now();
		} while (t1 - t0 < 2.0);
		printf("reference: %.4f M verdicts/s; engine/reference = %.0fx; agreement %" PRIu64
		       "/%zu\n",
		       (double)n / (t1 - t0) / 1e6, mps / ((double)n / (t1 - t0)), agree, n);
		free(rc.pods);
		free(rc.pols);
		free(rc.nss);
	}
	printf("peak RSS: %ld MB\n", rss_mb());
	free(q);
	free(lat);
	engine_free(e);
	return 0;
}
