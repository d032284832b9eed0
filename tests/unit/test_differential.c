/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Randomised differential test of the engine: random clusters, random
 * incremental mutations, and after each batch engine_verdict() against
 * reference_verdict() for many connections; the MEMBER change log replayed
 * into a shadow map must equal engine_rule_members(). Seed: NETPOLD_SEED.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "engine.h"
#include "reference.h"

#define NNS 5
#define NPODS 40
#define NPOLS 12
#define MAX_RULE_IDS 200000

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

static unsigned rn(struct rng *r, unsigned n)
{
	return (unsigned)(rnd(r) % n);
}

static bool chance(struct rng *r, unsigned pct)
{
	return rn(r, 100) < pct;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	ck_assert_ptr_nonnull(d);
	return d;
}

static char *fmt(const char *prefix, int i)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s%d", prefix, i);
	return xstrdup(buf);
}

static const char *const pod_keys[] = {"app", "tier", "env"};
static const char *const pod_vals[] = {"a", "b", "c"};
static const char *const ns_keys[] = {"team", "env", "kubernetes.io/metadata.name"};
static const char *const ns_vals[] = {"red", "blue", "a", "ns0", "ns1", "ns2"};
static const char *const port_names[] = {"http", "dns", "metrics", "nope"};
static const uint16_t port_nums[] = {53, 80, 8080, 9090};
static const enum proto protos[] = {PROTO_TCP, PROTO_UDP, PROTO_SCTP};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void gen_selector(struct rng *r, struct selector *s, bool ns)
{
	const char *const *keys = ns ? ns_keys : pod_keys;
	const char *const *vals = ns ? ns_vals : pod_vals;
	unsigned nv = ns ? ELEMENTSOF(ns_vals) : ELEMENTSOF(pod_vals);

	*s = (struct selector){0};
	for (unsigned i = rn(r, 3); i > 0; i--)
		if (chance(r, 50))
			ck_assert_int_eq(labels_set(&s->match_labels, keys[rn(r, 3)], vals[rn(r, nv)]), 0);
	s->n_exprs = rn(r, 3);
	s->exprs = calloc(s->n_exprs ? s->n_exprs : 1, sizeof(*s->exprs));
	for (size_t i = 0; i < s->n_exprs; i++) {
		struct selector_req *q = &s->exprs[i];

		q->key = xstrdup(keys[rn(r, 3)]);
		q->op = (enum selector_op)rn(r, 4);
		if (q->op == SEL_OP_IN || q->op == SEL_OP_NOT_IN) {
			unsigned a = rn(r, nv), b = rn(r, nv);

			q->values = calloc(2, sizeof(char *));
			q->values[q->n_values++] = xstrdup(vals[a]);
			if (b != a && chance(r, 50))
				q->values[q->n_values++] = xstrdup(vals[b]);
			qsort(q->values, q->n_values, sizeof(char *), cmp_str);
		}
	}
}

static struct namespace_obj *gen_ns(uint64_t seed, int slot)
{
	struct rng r = {seed | 1};
	struct namespace_obj *o = calloc(1, sizeof(*o));

	o->name = fmt("ns", slot);
	ck_assert_int_eq(labels_set(&o->labels, "kubernetes.io/metadata.name", o->name), 0);
	if (chance(&r, 60))
		labels_set(&o->labels, "team", chance(&r, 50) ? "red" : "blue");
	if (chance(&r, 60))
		labels_set(&o->labels, "env", pod_vals[rn(&r, 3)]);
	return o;
}

static void set_ip(struct ip_addr *ip, int family, unsigned last)
{
	*ip = (struct ip_addr){.family = (uint8_t)family};
	if (family == AF_INET) {
		ip->a[0] = 10;
		ip->a[3] = (uint8_t)last;
	} else {
		ip->a[0] = 0xfd;
		ip->a[15] = (uint8_t)last;
	}
}

static struct pod_obj *gen_pod(uint64_t seed, int slot)
{
	struct rng r = {seed | 1};
	struct pod_obj *o = calloc(1, sizeof(*o));
	unsigned ph = rn(&r, 100);

	o->ns = fmt("ns", slot % NNS);
	o->name = fmt("p", slot);
	o->uid = fmt("uid-", slot);
	for (unsigned i = 0; i < 3; i++)
		if (chance(&r, 60))
			labels_set(&o->labels, pod_keys[i], pod_vals[rn(&r, 3)]);
	o->host_network = chance(&r, 8);
	o->node_name = chance(&r, 90) ? xstrdup(chance(&r, 50) ? "n1" : "n2") : NULL;
	o->phase = ph < 70 ? POD_PHASE_RUNNING : ph < 80 ? POD_PHASE_PENDING
			 : ph < 90 ? POD_PHASE_SUCCEEDED : ph < 95 ? POD_PHASE_FAILED
				   : POD_PHASE_UNKNOWN;
	if (o->phase != POD_PHASE_PENDING || chance(&r, 50)) {
		/* Addresses from a small pool: collisions happen on purpose. */
		if (chance(&r, 85))
			set_ip(&o->ips[o->n_ips++], AF_INET, rn(&r, 56));
		if (chance(&r, 60))
			set_ip(&o->ips[o->n_ips++], AF_INET6, rn(&r, 56));
	}
	o->n_ports = rn(&r, 4);
	o->ports = calloc(4, sizeof(*o->ports));
	for (size_t i = 0; i < o->n_ports; i++) {
		o->ports[i].name = chance(&r, 70) ? xstrdup(port_names[rn(&r, 3)]) : NULL;
		o->ports[i].proto = protos[rn(&r, 3)];
		o->ports[i].port = port_nums[rn(&r, 4)];
	}
	return o;
}

static void gen_cidr(struct rng *r, struct cidr *c, int family, unsigned plen)
{
	set_ip(&c->addr, family, rn(r, 64));
	c->plen = (uint8_t)(family == AF_INET ? plen : plen + 96);
	/* Canonical: clear host bits. */
	for (unsigned i = c->plen; i < (family == AF_INET ? 32u : 128u); i++)
		c->addr.a[i / 8] &= (uint8_t)~(1u << (7 - i % 8));
}

static void gen_rule(struct rng *r, struct np_rule *nr)
{
	nr->n_peers = chance(r, 25) ? 0 : 1 + rn(r, 2);
	nr->peers = calloc(3, sizeof(*nr->peers));
	for (size_t i = 0; i < nr->n_peers; i++) {
		struct np_peer *pp = &nr->peers[i];

		if (chance(r, 25)) {
			int fam = chance(r, 60) ? AF_INET : AF_INET6;
			unsigned plen = 24 + rn(r, 9);

			pp->kind = PEER_IPBLOCK;
			if (chance(r, 15))
				plen = 0;
			gen_cidr(r, &pp->cidr, fam, plen);
			pp->n_except = rn(r, 3);
			pp->except = calloc(3, sizeof(*pp->except));
			for (size_t j = 0; j < pp->n_except; j++) {
				/* Inside cidr: same leading bits, a longer prefix. */
				unsigned el = plen + rn(r, 33 - plen);
				struct cidr *x = &pp->except[j];

				gen_cidr(r, x, fam, el);
				for (unsigned b = 0; b < pp->cidr.plen; b++) {
					uint8_t m = (uint8_t)(1u << (7 - b % 8));

					x->addr.a[b / 8] = (uint8_t)((x->addr.a[b / 8] & ~m) |
								     (pp->cidr.addr.a[b / 8] & m));
				}
			}
			continue;
		}
		pp->kind = PEER_SELECTOR;
		switch (rn(r, 3)) {
		case 0:
			pp->has_pod_selector = true;
			break;
		case 1:
			pp->has_ns_selector = true;
			break;
		default:
			pp->has_pod_selector = pp->has_ns_selector = true;
		}
		if (pp->has_pod_selector)
			gen_selector(r, &pp->pod_selector, false);
		if (pp->has_ns_selector)
			gen_selector(r, &pp->ns_selector, true);
	}
	nr->n_ports = chance(r, 40) ? 0 : 1 + rn(r, 2);
	nr->ports = calloc(3, sizeof(*nr->ports));
	for (size_t i = 0; i < nr->n_ports; i++) {
		struct np_port *p = &nr->ports[i];
		unsigned k = rn(r, 10);

		p->proto = protos[rn(r, 3)];
		if (k < 3) {
			p->has_port = true;
			p->name = xstrdup(port_names[rn(r, 4)]);
		} else if (k < 7) {
			p->has_port = true;
			p->port = port_nums[rn(r, 4)];
			p->end_port = chance(r, 40) ? (uint16_t)(p->port + rn(r, 20)) : p->port;
		}
	}
}

static struct netpol *gen_pol(uint64_t seed, int slot)
{
	struct rng r = {seed | 1};
	struct netpol *o = calloc(1, sizeof(*o));

	o->ns = fmt("ns", slot % NNS);
	o->name = fmt("q", slot);
	o->uid = fmt("puid-", slot);
	gen_selector(&r, &o->pod_selector, false);
	o->type_ingress = chance(&r, 80);
	o->type_egress = !o->type_ingress || chance(&r, 50);
	o->mode = chance(&r, 25) ? NP_MODE_AUDIT : NP_MODE_ENFORCE;
	o->n_ingress = rn(&r, 3);
	o->ingress = calloc(3, sizeof(*o->ingress));
	for (size_t i = 0; i < o->n_ingress; i++)
		gen_rule(&r, &o->ingress[i]);
	o->n_egress = rn(&r, 3);
	o->egress = calloc(3, sizeof(*o->egress));
	for (size_t i = 0; i < o->n_egress; i++)
		gen_rule(&r, &o->egress[i]);
	return o;
}

/* The test's own copy of the world, plus the shadow of the change log. */
struct shadow_rule {
	bool live;
	char **members; /* "ns/name" */
	size_t n;
};

struct world {
	struct engine *e;
	uint64_t seed;
	uint64_t ns_seed[NNS], pod_seed[NPODS], pol_seed[NPOLS];
	struct namespace_obj *nss[NNS];
	struct pod_obj *pods[NPODS];
	struct netpol *pols[NPOLS];
	struct shadow_rule *rules; /* by id */
	uint32_t max_id;
	char **targeted; /* pods with POD_TARGET/POD_REMOVED in the last drain */
	size_t n_targeted;
	uint64_t verdicts, allowed, audited;
};

static char *pod_key(const struct pod_obj *p)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "%s/%s", p->ns, p->name);
	return xstrdup(buf);
}

/* Identity plus what the dataplane programs for a member: addresses and ports. */
static char *member_key(const struct pod_obj *p)
{
	char buf[512], a[64];
	size_t o = (size_t)snprintf(buf, sizeof(buf), "%s/%s", p->ns, p->name);

	for (size_t i = 0; i < p->n_ips; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, " %s",
				      ip_addr_fmt(&p->ips[i], a, sizeof(a)));
	for (size_t i = 0; i < p->n_ports && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, " %s:%u/%d",
				      p->ports[i].name ? p->ports[i].name : "", p->ports[i].port,
				      p->ports[i].proto);
	return xstrdup(buf);
}

static void on_change(void *ud, const struct engine_change *c)
{
	struct world *w = ud;
	struct shadow_rule *sr = &w->rules[c->rule_id];
	char *k;

	ck_assert_uint_lt(c->rule_id, MAX_RULE_IDS);
	switch (c->kind) {
	case ENGINE_CHG_RULE_ADDED:
		ck_assert_msg(!sr->live && !sr->n, "seed %" PRIu64 ": rule %u re-added", w->seed,
			      c->rule_id);
		sr->live = true;
		if (c->rule_id > w->max_id)
			w->max_id = c->rule_id;
		break;
	case ENGINE_CHG_RULE_REMOVED:
		ck_assert_msg(sr->live, "seed %" PRIu64 ": rule %u removed twice", w->seed, c->rule_id);
		sr->live = false;
		for (size_t i = 0; i < sr->n; i++)
			free(sr->members[i]);
		sr->n = 0;
		break;
	case ENGINE_CHG_MEMBER_ADDED:
		k = member_key(c->pod);
		ck_assert_msg(sr->live, "seed %" PRIu64 ": member of dead rule", w->seed);
		for (size_t i = 0; i < sr->n; i++)
			ck_assert_msg(strcmp(sr->members[i], k) != 0,
				      "seed %" PRIu64 ": %s added twice to rule %u", w->seed, k,
				      c->rule_id);
		sr->members = realloc(sr->members, (sr->n + 1) * sizeof(char *));
		sr->members[sr->n++] = k;
		break;
	case ENGINE_CHG_MEMBER_REMOVED: {
		bool found = false;

		k = member_key(c->pod);
		for (size_t i = 0; i < sr->n && !found; i++)
			if (strcmp(sr->members[i], k) == 0) {
				free(sr->members[i]);
				sr->members[i] = sr->members[--sr->n];
				found = true;
			}
		ck_assert_msg(found, "seed %" PRIu64 ": %s removed from rule %u but not a member",
			      w->seed, k, c->rule_id);
		free(k);
		break;
	}
	case ENGINE_CHG_POD_TARGET:
	case ENGINE_CHG_POD_REMOVED:
		w->targeted = realloc(w->targeted, (w->n_targeted + 1) * sizeof(char *));
		w->targeted[w->n_targeted++] = pod_key(c->pod);
		break;
	}
}

static void build_ref(struct world *w, struct reference_world *rw, const struct namespace_obj **nv,
		      const struct pod_obj **pv, const struct netpol **qv)
{
	*rw = (struct reference_world){.nss = nv, .pods = pv, .pols = qv};
	for (int i = 0; i < NNS; i++)
		if (w->nss[i])
			nv[rw->n_nss++] = w->nss[i];
	for (int i = 0; i < NPODS; i++)
		if (w->pods[i])
			pv[rw->n_pods++] = w->pods[i];
	for (int i = 0; i < NPOLS; i++)
		if (w->pols[i])
			qv[rw->n_pols++] = w->pols[i];
}

static int collect_member(void *ud, const struct pod_obj *p)
{
	struct shadow_rule *acc = ud;

	acc->members = realloc(acc->members, (acc->n + 1) * sizeof(char *));
	acc->members[acc->n++] = member_key(p);
	return 0;
}

static const struct pod_obj *ref_pod_of(struct world *w, const struct pod_obj *ep)
{
	for (int i = 0; i < NPODS; i++)
		if (w->pods[i] && strcmp(w->pods[i]->ns, ep->ns) == 0 &&
		    strcmp(w->pods[i]->name, ep->name) == 0)
			return w->pods[i];
	return NULL;
}

/* Snapshot of one pod's target state: isolation bits and applying rule ids. */
static void target_sig(struct world *w, const struct pod_obj *p, char *buf, size_t len)
{
	size_t o = 0;

	for (int d = 0; d < 2; d++) {
		const struct compiled_rule *const *rv;
		size_t n = engine_pod_rules(w->e, p, (enum direction)d, &rv);

		o += (size_t)snprintf(buf + o, len - o, "%d%d:", engine_pod_isolated(w->e, p, d),
				      engine_pod_audit(w->e, p, d));
		for (size_t i = 0; i < n && o < len; i++)
			o += (size_t)snprintf(buf + o, len - o, "%u,", rv[i]->id);
		if (o >= len)
			break;
	}
}

static void check_members(struct world *w, const struct reference_world *rw)
{
	for (uint32_t id = 0; id <= w->max_id; id++) {
		struct shadow_rule *sr = &w->rules[id];
		const struct compiled_rule *cr = engine_rule(w->e, id);
		struct shadow_rule got = {0};
		const struct netpol *rp = NULL;

		ck_assert_msg(!!cr == sr->live, "seed %" PRIu64 ": rule %u live %d in log, %d in engine",
			      w->seed, id, sr->live, !!cr);
		if (!cr)
			continue;
		ck_assert_int_ge(engine_rule_members(w->e, id, collect_member, &got), 0);
		ck_assert_msg(got.n == sr->n, "seed %" PRIu64 ": rule %u has %zu members, log says %zu",
			      w->seed, id, got.n, sr->n);
		if (got.n) {
			qsort(got.members, got.n, sizeof(char *), cmp_str);
			qsort(sr->members, sr->n, sizeof(char *), cmp_str);
		}
		for (size_t i = 0; i < got.n; i++)
			ck_assert_msg(strcmp(got.members[i], sr->members[i]) == 0,
				      "seed %" PRIu64 ": rule %u member %s vs %s", w->seed, id,
				      got.members[i], sr->members[i]);
		/* And the membership itself against the reference. */
		for (size_t i = 0; i < rw->n_pols; i++)
			if (strcmp(rw->pols[i]->ns, cr->pol->ns) == 0 &&
			    strcmp(rw->pols[i]->name, cr->pol->name) == 0)
				rp = rw->pols[i];
		ck_assert_ptr_nonnull(rp);
		for (size_t i = 0; i < rw->n_pods; i++) {
			const struct pod_obj *p = rw->pods[i];
			const struct np_rule *rr =
				cr->dir == DIR_INGRESS ? &rp->ingress[cr->index] : &rp->egress[cr->index];
			bool want = p->n_ips && p->phase != POD_PHASE_SUCCEEDED &&
				    p->phase != POD_PHASE_FAILED && reference_rule_member(rw, rp, rr, p);
			_cleanup_free_ char *k = member_key(p);
			bool has = got.n && bsearch(&k, got.members, got.n, sizeof(char *), cmp_str);

			ck_assert_msg(want == has, "seed %" PRIu64 ": rule %u %s/%s[%u] member %s: %d vs ref %d",
				      w->seed, id, rp->ns, rp->name, cr->index, k, has, want);
		}
		for (size_t i = 0; i < got.n; i++)
			free(got.members[i]);
		free(got.members);
	}
}

static void random_endpoint(struct world *w, struct rng *r, int family, struct endpoint *eng,
			    struct endpoint *ref, const struct reference_world *rw)
{
	struct ip_addr ip;
	unsigned k = rn(r, 10);

	if (k < 6) {
		/* A pod of the family, if one has it. */
		for (int tries = 0; tries < 10; tries++) {
			const struct pod_obj *rp = rw->n_pods ? rw->pods[rn(r, (unsigned)rw->n_pods)] : NULL;
			const struct pod_obj *ep;

			if (!rp || !pod_ip(rp, family))
				continue;
			ep = engine_pod(w->e, rp->ns, rp->name);
			ck_assert_ptr_nonnull(ep);
			ck_assert_int_eq(endpoint_from_pod(ep, family, eng), 0);
			ck_assert_int_eq(endpoint_from_pod(rp, family, ref), 0);
			return;
		}
	}
	if (k < 8) {
		set_ip(&ip, family, rn(r, 64));
	} else {
		set_ip(&ip, family, rn(r, 256));
		ip.a[1] = (uint8_t)rn(r, 3);
	}
	engine_endpoint_from_ip(w->e, &ip, eng);
	reference_endpoint_from_ip(rw, &ip, ref);
	ck_assert_msg(!eng->pod == !ref->pod, "seed %" PRIu64 ": ip owner presence differs", w->seed);
	if (eng->pod)
		ck_assert_msg(ref_pod_of(w, eng->pod) == ref->pod,
			      "seed %" PRIu64 ": ip owner differs (%s/%s)", w->seed, eng->pod->ns,
			      eng->pod->name);
}

static void check_verdicts(struct world *w, struct rng *r, const struct reference_world *rw, int n)
{
	static const uint16_t qports[] = {53, 80, 81, 90, 99, 443, 8080, 8085, 9090, 9100, 1};

	for (int i = 0; i < n; i++) {
		int family = chance(r, 60) ? AF_INET : AF_INET6;
		struct endpoint es, ed, rs, rd;
		enum proto proto = protos[rn(r, 3)];
		uint16_t port = qports[rn(r, ELEMENTSOF(qports))];
		struct explanation x;
		bool got, want;
		char a[64], b[64];

		random_endpoint(w, r, family, &es, &rs, rw);
		random_endpoint(w, r, family, &ed, &rd, rw);
		got = engine_verdict(w->e, &es, &ed, proto, port, NULL);
		want = reference_verdict(rw, &rs, &rd, proto, port);
		ck_assert_msg(got == want,
			      "seed %" PRIu64 ": %s(%s) -> %s(%s) %s/%u: engine %d, reference %d",
			      w->seed, ip_addr_fmt(&es.ip, a, sizeof(a)), es.pod ? es.pod->name : "-",
			      ip_addr_fmt(&ed.ip, b, sizeof(b)), ed.pod ? ed.pod->name : "-",
			      proto_name(proto), port, got, want);
		ck_assert_msg(engine_verdict(w->e, &es, &ed, proto, port, &x) == got && x.allowed == got,
			      "seed %" PRIu64 ": explained verdict differs", w->seed);
		if (x.egress.isolated && x.egress.allowed)
			ck_assert_ptr_nonnull(x.egress.by.pol);
		if (x.ingress.isolated && !x.ingress.allowed)
			ck_assert_uint_gt(x.ingress.n_isolating, 0);
		/* audit: what audit-only policies would deny, as the reference sees it */
		bool ae, ai;

		reference_audit(rw, &rs, &rd, proto, port, &ae, &ai);
		ck_assert_msg(x.egress.audit_denied == ae && x.ingress.audit_denied == ai,
			      "seed %" PRIu64 ": %s(%s) -> %s(%s) %s/%u: audit engine %d/%d, "
			      "reference %d/%d",
			      w->seed, ip_addr_fmt(&es.ip, a, sizeof(a)), es.pod ? es.pod->name : "-",
			      ip_addr_fmt(&ed.ip, b, sizeof(b)), ed.pod ? ed.pod->name : "-",
			      proto_name(proto), port, x.egress.audit_denied, x.ingress.audit_denied,
			      ae, ai);
		if (x.ingress.audit_denied)
			ck_assert(x.ingress.audit && !x.ingress.isolated &&
				  x.ingress.n_isolating > 0);
		w->audited += ae || ai;
		w->verdicts++;
		w->allowed += got;
	}
}

static void forget_targeted(struct world *w)
{
	for (size_t i = 0; i < w->n_targeted; i++)
		free(w->targeted[i]);
	w->n_targeted = 0;
}

static void drain(struct world *w)
{
	engine_drain_changes(w->e, on_change, w);
}

static bool was_targeted(struct world *w, const char *k)
{
	for (size_t i = 0; i < w->n_targeted; i++)
		if (strcmp(w->targeted[i], k) == 0)
			return true;
	return false;
}

static void apply_ns(struct world *w, int i, uint64_t seed)
{
	struct k8s_object o = {.kind = OBJ_NAMESPACE, .ns = gen_ns(seed, i)};

	namespace_obj_free(w->nss[i]);
	w->nss[i] = gen_ns(seed, i);
	w->ns_seed[i] = seed;
	ck_assert_int_eq(engine_apply(w->e, &o), 0);
}

static void apply_pod(struct world *w, int i, uint64_t seed)
{
	struct k8s_object o = {.kind = OBJ_POD, .pod = gen_pod(seed, i)};

	pod_obj_free(w->pods[i]);
	w->pods[i] = gen_pod(seed, i);
	w->pod_seed[i] = seed;
	ck_assert_int_eq(engine_apply(w->e, &o), 0);
}

static void apply_pol(struct world *w, int i, uint64_t seed)
{
	struct k8s_object o = {.kind = OBJ_NETWORK_POLICY, .pol = gen_pol(seed, i)};

	netpol_free(w->pols[i]);
	w->pols[i] = gen_pol(seed, i);
	w->pol_seed[i] = seed;
	ck_assert_int_eq(engine_apply(w->e, &o), 0);
}

static void mutate(struct world *w, struct rng *r)
{
	unsigned k = rn(r, 100);
	int i;

	if (k < 40) {
		i = (int)rn(r, NPODS);
		if (w->pods[i] && chance(r, 25)) {
			ck_assert_int_eq(engine_delete(w->e, OBJ_POD, w->pods[i]->ns, w->pods[i]->name), 0);
			pod_obj_free(w->pods[i]);
			w->pods[i] = NULL;
		} else {
			apply_pod(w, i, rnd(r));
		}
	} else if (k < 70) {
		i = (int)rn(r, NPOLS);
		if (w->pols[i] && chance(r, 25)) {
			ck_assert_int_eq(engine_delete(w->e, OBJ_NETWORK_POLICY, w->pols[i]->ns,
						       w->pols[i]->name), 0);
			netpol_free(w->pols[i]);
			w->pols[i] = NULL;
		} else {
			apply_pol(w, i, rnd(r));
		}
	} else if (k < 85) {
		i = (int)rn(r, NNS);
		if (w->nss[i] && chance(r, 30)) {
			ck_assert_int_eq(engine_delete(w->e, OBJ_NAMESPACE, NULL, w->nss[i]->name), 0);
			namespace_obj_free(w->nss[i]);
			w->nss[i] = NULL;
		} else {
			apply_ns(w, i, rnd(r));
		}
	} else {
		/* Re-apply an identical object: the engine must record nothing. */
		drain(w);
		i = (int)rn(r, NPODS);
		if (w->pods[i])
			apply_pod(w, i, w->pod_seed[i]);
		i = (int)rn(r, NPOLS);
		if (w->pols[i])
			apply_pol(w, i, w->pol_seed[i]);
		ck_assert_msg(engine_drain_changes(w->e, on_change, w) == 0,
			      "seed %" PRIu64 ": identical re-apply recorded changes", w->seed);
	}
}

static uint64_t get_seed(void)
{
	const char *s = getenv("NETPOLD_SEED");
	int64_t v;

	if (s && parse_int64(s, 0, INT64_MAX, &v) == 0)
		return (uint64_t)v;
	return (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
}

START_TEST(test_random_worlds)
{
	uint64_t base = get_seed();
	int worlds = 8, batches = 80;

	for (int wi = 0; wi < worlds; wi++) {
		struct world w = {.seed = base + (uint64_t)wi};
		struct rng r = {w.seed * 0x9E3779B97F4A7C15ULL + 1};
		char *sigs[NPODS] = {0};

		w.e = engine_new();
		w.rules = calloc(MAX_RULE_IDS, sizeof(*w.rules));
		ck_assert_ptr_nonnull(w.e);
		/* Initial world, in random order of kinds. */
		for (int i = 0; i < NNS; i++)
			if (chance(&r, 80))
				apply_ns(&w, i, rnd(&r));
		for (int i = 0; i < NPOLS; i++)
			if (chance(&r, 70))
				apply_pol(&w, i, rnd(&r));
		for (int i = 0; i < NPODS; i++)
			if (chance(&r, 80))
				apply_pod(&w, i, rnd(&r));
		for (int b = 0; b < batches; b++) {
			const struct namespace_obj *nv[NNS];
			const struct pod_obj *pv[NPODS];
			const struct netpol *qv[NPOLS];
			struct reference_world rw;
			int nm = b == 0 ? 0 : 1 + (int)rn(&r, 4);

			forget_targeted(&w);
			for (int m = 0; m < nm; m++)
				mutate(&w, &r);
			drain(&w);
			build_ref(&w, &rw, nv, pv, qv);
			check_members(&w, &rw);
			/* Pods whose target state moved must have been reported. */
			for (int i = 0; i < NPODS; i++) {
				char sig[4096] = "";
				const struct pod_obj *ep =
					w.pods[i] ? engine_pod(w.e, w.pods[i]->ns, w.pods[i]->name) : NULL;

				if (ep)
					target_sig(&w, ep, sig, sizeof(sig));
				if (sigs[i] && ep && strcmp(sigs[i], sig) != 0) {
					_cleanup_free_ char *k = pod_key(ep);

					ck_assert_msg(was_targeted(&w, k),
						      "seed %" PRIu64 ": %s target changed (%s -> %s) without POD_TARGET",
						      w.seed, k, sigs[i], sig);
				}
				free(sigs[i]);
				sigs[i] = ep ? xstrdup(sig) : NULL;
			}
			check_verdicts(&w, &r, &rw, 250);
		}
		fprintf(stderr, "differential: seed %" PRIu64 ": %" PRIu64 " verdicts, %" PRIu64
				" allowed, %" PRIu64 " audit-denied\n", w.seed, w.verdicts, w.allowed,
			w.audited);
		ck_assert_uint_gt(w.audited, 0);
		ck_assert_uint_gt(w.allowed, w.verdicts / 50);
		ck_assert_uint_lt(w.allowed, w.verdicts - w.verdicts / 50);
		for (int i = 0; i < NPODS; i++) {
			free(sigs[i]);
			pod_obj_free(w.pods[i]);
		}
		for (int i = 0; i < NNS; i++)
			namespace_obj_free(w.nss[i]);
		for (int i = 0; i < NPOLS; i++)
			netpol_free(w.pols[i]);
		for (uint32_t i = 0; i <= w.max_id; i++) {
			for (size_t j = 0; j < w.rules[i].n; j++)
				free(w.rules[i].members[j]);
			free(w.rules[i].members);
		}
		drain(&w);
		forget_targeted(&w);
		free(w.targeted);
		free(w.rules);
		engine_free(w.e);
	}
}
END_TEST

static Suite *differential_suite(void)
{
	Suite *s = suite_create("differential");
	TCase *tc = tcase_create("random");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_random_worlds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(differential_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
