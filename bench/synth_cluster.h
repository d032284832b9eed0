/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The synthetic cluster of the benchmarks (bench_engine.c, bench_control.c): n_ns namespaces of
 * pods_per_ns pods each, POLS_PER_NS policies per namespace in a realistic mix, from a fixed
 * pseudo-random sequence. Static functions, included by each benchmark, which defines
 * pod_node_name() (where its pods run) and may change n_ns and pods_per_ns before generating.
 */
#ifndef NETPOLD_BENCH_SYNTH_CLUSTER_H
#define NETPOLD_BENCH_SYNTH_CLUSTER_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define APPS 10
#define POLS_PER_NS 10

static unsigned n_ns = 1000, pods_per_ns = 100;

/* The name of the node pod id runs on, allocated: defined by the including benchmark. */
static char *pod_node_name(unsigned id);

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
	o->node_name = pod_node_name(id);
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

#endif
