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
#include "synth_cluster.h"

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

/* 500 nodes, named as they always were: "node-", id % 500, then "0" */
static char *pod_node_name(unsigned id)
{
	return xfmt("node-", id % 500, NULL, 0);
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
