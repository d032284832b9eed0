/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Control-plane benchmark (root): from input change to nftables batch
 * committed, on the synthetic cluster of bench_engine.c (100k pods in 1k
 * namespaces, 10k policies in a realistic mix), with the pods spread over
 * --nodes nodes (default 1000: ~100 pods on the local node, node-0).
 *
 *  1. cold start: every object into a fresh engine, then the first
 *     dataplane_sync into an empty table: total, engine compile share,
 *     dataplane share and its kernel share (dataplane_get_stats).
 *  2. latency of one change, engine_apply + dataplane_sync (the batch is
 *     committed and acknowledged when it returns), --iters times each:
 *     a label change of a random pod, of a local pod, an allow-list edit of
 *     a random policy, of a policy selecting a local pod. p50/p99/max wall
 *     time and the batch sizes. Each change is reverted (unmeasured) before
 *     the next one.
 *
 * Runs in its own network namespace (unshare(CLONE_NEWNET)): the host's
 * ruleset is never touched. Prints figures; not a test.
 * Usage: bench_control [--nodes N] [--iters N] [--pods-per-ns N] [--namespaces N]
 */
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "dataplane.h"
#include "engine.h"
#include "synth_cluster.h"

#define LOCAL_NODE "node-0"

static unsigned n_nodes = 1000;

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A hash, not id % nodes: the local node gets pods of every app and namespace. */
static unsigned pod_node(unsigned id)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;

	return (unsigned)((h >> 32) % n_nodes);
}

static char *pod_node_name(unsigned id)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "node-%u", pod_node(id));
	return strdup(buf);
}

static double pct(const double *sorted, size_t n, unsigned p)
{
	size_t i = (n * p + 99) / 100;

	return sorted[i ? i - 1 : 0];
}

struct series {
	const char *name;
	size_t n;
	double *lat, *cpu_s, *msgs, *elems;
	size_t empty; /* iterations that committed nothing */
};

static void series_report(struct series *s)
{
	qsort(s->lat, s->n, sizeof(double), cmp_double);
	qsort(s->cpu_s, s->n, sizeof(double), cmp_double);
	qsort(s->msgs, s->n, sizeof(double), cmp_double);
	qsort(s->elems, s->n, sizeof(double), cmp_double);
	printf("%-28s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (CPU p50 %6.2f ms) | batch msgs p50 %4.0f max %5.0f, elems p50 %4.0f max %5.0f, %zu/%zu empty\n",
	       s->name, pct(s->lat, s->n, 50) * 1e3, pct(s->lat, s->n, 99) * 1e3, s->lat[s->n - 1] * 1e3,
	       pct(s->cpu_s, s->n, 50) * 1e3, pct(s->msgs, s->n, 50), s->msgs[s->n - 1],
	       pct(s->elems, s->n, 50), s->elems[s->n - 1], s->empty, s->n);
}

static void series_init(struct series *s, const char *name, size_t n)
{
	s->name = name;
	s->n = n;
	s->empty = 0;
	s->lat = calloc(n, sizeof(double));
	s->cpu_s = calloc(n, sizeof(double));
	s->msgs = calloc(n, sizeof(double));
	s->elems = calloc(n, sizeof(double));
	die_oom(s->lat);
	die_oom(s->cpu_s);
	die_oom(s->msgs);
	die_oom(s->elems);
}

static void series_free(struct series *s)
{
	free(s->lat);
	free(s->cpu_s);
	free(s->msgs);
	free(s->elems);
}

static void sync_or_die(struct dataplane *dp, struct engine *e)
{
	int r = dataplane_sync(dp, e);

	if (r < 0) {
		fprintf(stderr, "dataplane_sync: %s\n", strerror(-r));
		exit(1);
	}
}

/* One measured change: apply o, sync; then apply the revert, sync (unmeasured). */
static void measure(struct series *s, size_t i, struct dataplane *dp, struct engine *e,
		    struct k8s_object *change, struct k8s_object *revert)
{
	struct dataplane_stats before, after;
	double t0, c0;

	dataplane_get_stats(dp, &before);
	t0 = wall();
	c0 = cpu();
	engine_apply(e, change);
	sync_or_die(dp, e);
	s->lat[i] = wall() - t0;
	s->cpu_s[i] = cpu() - c0;
	dataplane_get_stats(dp, &after);
	if (after.commits == before.commits) {
		s->empty++;
		s->msgs[i] = s->elems[i] = 0;
	} else {
		s->msgs[i] = (double)after.last_batch_msgs;
		s->elems[i] = (double)after.last_batch_elems;
	}
	engine_apply(e, revert);
	sync_or_die(dp, e);
}

struct local_pod {
	unsigned ns, j;
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"nodes", required_argument, NULL, 'N'},
		{"iters", required_argument, NULL, 'i'},
		{"pods-per-ns", required_argument, NULL, 'p'},
		{"namespaces", required_argument, NULL, 'n'},
		{},
	};
	struct dataplane_config cfg = {.table = "netpold", .node_name = LOCAL_NODE};
	struct engine *e;
	struct dataplane *dp;
	struct dataplane_stats st;
	struct engine_counts cnt;
	struct local_pod *local;
	size_t n_local = 0, iters = 200;
	double t0, t1, t2, c0, c1, c2;
	char model[256] = "?", kernel[128] = "?";
	struct series s;
	int64_t v;
	int c;
	FILE *f;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (c) {
		case 'N':
			if (parse_int64(optarg, 1, 1000000, &v) < 0)
				return 2;
			n_nodes = (unsigned)v;
			break;
		case 'i':
			if (parse_int64(optarg, 1, 1000000, &v) < 0)
				return 2;
			iters = (size_t)v;
			break;
		case 'p':
			if (parse_int64(optarg, 1, 100000, &v) < 0)
				return 2;
			pods_per_ns = (unsigned)v;
			break;
		case 'n':
			if (parse_int64(optarg, 2, 100000, &v) < 0)
				return 2;
			n_ns = (unsigned)v;
			break;
		default:
			fprintf(stderr, "usage: bench_control [--nodes N] [--iters N] [--pods-per-ns N] [--namespaces N]\n");
			return 2;
		}
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_control: needs root (own network namespace, nftables)\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		perror("unshare(CLONE_NEWNET)");
		return 1;
	}
	f = fopen("/proc/cpuinfo", "re");
	if (f) {
		char line[256];

		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "model name", 10) == 0) {
				char *p = strchr(line, ':');

				snprintf(model, sizeof(model), "%s", p ? p + 2 : line);
				model[strcspn(model, "\n")] = 0;
				break;
			}
		fclose(f);
	}
	f = fopen("/proc/sys/kernel/osrelease", "re");
	if (f) {
		if (fgets(kernel, sizeof(kernel), f))
			kernel[strcspn(kernel, "\n")] = 0;
		fclose(f);
	}
	{
		double la[3] = {0};

		getloadavg(la, 3);
		printf("machine: %ld cpus online, %s, kernel %s, load %.2f %.2f %.2f (shared)\n",
		       sysconf(_SC_NPROCESSORS_ONLN), model, kernel, la[0], la[1], la[2]);
	}

	e = engine_new();
	die_oom(e);
	local = calloc((size_t)n_ns * pods_per_ns, sizeof(*local));
	die_oom(local);

	/* 1. Cold start: the initial list, then the first sync into an empty table. */
	t0 = wall();
	c0 = cpu();
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

			if (pod_node(i * pods_per_ns + j) == 0)
				local[n_local++] = (struct local_pod){i, j};
			engine_apply(e, &o);
		}
	t1 = wall();
	c1 = cpu();
	if ((c = dataplane_new(&cfg, &dp)) < 0) {
		fprintf(stderr, "dataplane_new: %s\n", strerror(-c));
		return 1;
	}
	sync_or_die(dp, e);
	t2 = wall();
	c2 = cpu();
	engine_counts(e, &cnt);
	dataplane_get_stats(dp, &st);
	printf("cluster: %zu namespaces, %zu pods over %u nodes (%zu on the local node), %zu policies, %zu compiled rules\n",
	       cnt.namespaces, cnt.pods, n_nodes, n_local, cnt.policies, cnt.rules);
	printf("cold start to fully programmed: %.3f s wall (%.3f s CPU in this process)\n", t2 - t0,
	       c2 - c0);
	printf("  engine compile (incl. object construction): %.3f s wall (%.3f s CPU), %.0f%%\n", t1 - t0,
	       c1 - c0, 100 * (t1 - t0) / (t2 - t0));
	printf("  first dataplane_sync: %.3f s wall (%.3f s CPU in netpold), %.0f%%; commit %.3f s, of which kernel (sendmsg to last ack) %.3f s, %.0f%% of the total\n",
	       t2 - t1, c2 - c1, 100 * (t2 - t1) / (t2 - t0), st.last_commit_seconds,
	       st.last_kernel_seconds, 100 * st.last_kernel_seconds / (t2 - t0));
	printf("  batch: %" PRIu64 " messages, %" PRIu64 " set elements\n", st.last_batch_msgs,
	       st.last_batch_elems);
	{
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		printf("  peak RSS %ld MB\n", ru.ru_maxrss / 1024);
	}

	/* 2. Latency of one change, input to batch committed. */
	printf("latency of one change, engine_apply + dataplane_sync, %zu iterations each (wall):\n", iters);

	series_init(&s, "pod relabel (any pod):", iters);
	for (size_t i = 0; i < iters; i++) {
		unsigned ns = (unsigned)(rnd() % n_ns), j = (unsigned)(rnd() % pods_per_ns);
		struct k8s_object o = {.kind = OBJ_POD, .pod = gen_pod(ns, j, 1 + (unsigned)(i % 3))};
		struct k8s_object r = {.kind = OBJ_POD, .pod = gen_pod(ns, j, 0)};

		measure(&s, i, dp, e, &o, &r);
	}
	series_report(&s);
	series_free(&s);

	if (n_local) {
		series_init(&s, "pod relabel (local pod):", iters);
		for (size_t i = 0; i < iters; i++) {
			struct local_pod *lp = &local[rnd() % n_local];
			struct k8s_object o = {.kind = OBJ_POD, .pod = gen_pod(lp->ns, lp->j, 1 + (unsigned)(i % 3))};
			struct k8s_object r = {.kind = OBJ_POD, .pod = gen_pod(lp->ns, lp->j, 0)};

			measure(&s, i, dp, e, &o, &r);
		}
		series_report(&s);
		series_free(&s);
	}

	series_init(&s, "policy edit (any policy):", iters);
	for (size_t i = 0; i < iters; i++) {
		unsigned ns = (unsigned)(rnd() % n_ns), k = 4 + (unsigned)(rnd() % 6);
		struct k8s_object o = {.kind = OBJ_NETWORK_POLICY, .pol = gen_pol(ns, k, 1)};
		struct k8s_object r = {.kind = OBJ_NETWORK_POLICY, .pol = gen_pol(ns, k, 0)};

		measure(&s, i, dp, e, &o, &r);
	}
	series_report(&s);
	series_free(&s);

	/*
	 * A policy selecting a local pod: allow-app-A selects app A = k - 4 + (ns % 2) * 5 in
	 * its namespace; a local pod j has app j % APPS.
	 */
	{
		size_t n_sel = 0;

		for (size_t i = 0; i < n_local; i++) {
			unsigned a = local[i].j % APPS, base = (local[i].ns % 2) * 5;

			if (a >= base && a < base + 5)
				local[n_sel++] = local[i];
		}
		if (n_sel) {
			series_init(&s, "policy edit (local target):", iters);
			for (size_t i = 0; i < iters; i++) {
				struct local_pod *lp = &local[rnd() % n_sel];
				unsigned k = 4 + lp->j % APPS - (lp->ns % 2) * 5;
				struct k8s_object o = {.kind = OBJ_NETWORK_POLICY, .pol = gen_pol(lp->ns, k, 1)};
				struct k8s_object r = {.kind = OBJ_NETWORK_POLICY, .pol = gen_pol(lp->ns, k, 0)};

				measure(&s, i, dp, e, &o, &r);
			}
			series_report(&s);
			series_free(&s);
		}
	}

	dataplane_get_stats(dp, &st);
	printf("after: %" PRIu64 " commits, %" PRIu64 " set elements programmed, %" PRIu64 " kernel errors\n",
	       st.commits, st.set_elements, st.kernel_errors);
	dataplane_free(dp);
	engine_free(e);
	free(local);
	return 0;
}
