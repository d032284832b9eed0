/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Structure-aware differential fuzzing of the engine. The bytes script a
 * small cluster (namespaces, labelled pods with v4/v6 addresses and named
 * ports, policies with every peer and port kind) and its incremental
 * updates through engine_apply/engine_delete; at every check the engine must
 * agree with reference_verdict() on every probe, with reference_rule_member()
 * on every rule's members, and its change log must replay to the same state.
 * Any disagreement aborts. Seeds: corpus/fuzz_engine_diff (any bytes work).
 */
#include <stdio.h>

#include "engine.h"
#include "fuzz_common.h"
#include "reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NS_SLOTS 4
#define NS_NAMES 5 /* pods and policies may live in ns4, which never exists */
#define POD_SLOTS 10
#define POL_SLOTS 6
#define MAX_OPS 64
#define BARE_IPS 3

static const char *const keys[] = {"app", "tier", "team", "kubernetes.io/metadata.name",
				   "example.com/role"};
static const char *const vals[] = {"a", "b", "", "ns0", "ns1", "red", "web"};
static const char *const port_names[] = {"http", "dns", "metrics", "nope"};
static const uint16_t port_nums[] = {80, 53, 8080, 9090, 1, 65535, 81, 443};
static const enum proto protos[] = {PROTO_TCP, PROTO_UDP, PROTO_SCTP};
static const unsigned v4_plens[] = {0, 8, 16, 23, 24, 29, 31, 32};
static const unsigned v6_plens[] = {0, 64, 120, 124, 125, 127, 128, 96};

/* ---- generators: the same bytes always give the same object ---- */

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	FUZZ_CHECK(d, "out of memory");
	return d;
}

static char *xfmt(const char *prefix, unsigned i)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%s%u", prefix, i);
	return xstrdup(buf);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	FUZZ_CHECK(p, "out of memory");
	return p;
}

static void gen_labels(struct fuzz_in *in, struct labels *l)
{
	for (unsigned n = fz_below(in, 4); n > 0; n--) {
		const char *k = keys[fz_below(in, ELEMENTSOF(keys))];

		const char *v = vals[fz_below(in, ELEMENTSOF(vals))];

		FUZZ_CHECK(labels_set(l, k, v) == 0, "labels_set");
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void gen_selector(struct fuzz_in *in, struct selector *s)
{
	*s = (struct selector){0};
	gen_labels(in, &s->match_labels);
	s->n_exprs = fz_below(in, 3);
	s->exprs = xcalloc(s->n_exprs, sizeof(*s->exprs));
	for (size_t i = 0; i < s->n_exprs; i++) {
		struct selector_req *q = &s->exprs[i];
		size_t n, k = 0;

		q->key = xstrdup(keys[fz_below(in, ELEMENTSOF(keys))]);
		q->op = (enum selector_op)fz_below(in, 4);
		if (q->op != SEL_OP_IN && q->op != SEL_OP_NOT_IN)
			continue;
		n = 1 + fz_below(in, 3);
		q->values = xcalloc(n, sizeof(char *));
		for (size_t j = 0; j < n; j++)
			q->values[j] = xstrdup(vals[fz_below(in, ELEMENTSOF(vals))]);
		qsort(q->values, n, sizeof(char *), cmp_str);
		for (size_t j = 0; j < n; j++) {
			if (k > 0 && strcmp(q->values[k - 1], q->values[j]) == 0)
				free(q->values[j]);
			else
				q->values[k++] = q->values[j];
		}
		q->n_values = k;
	}
}

/* Addresses come from a small pool so that pods collide and ipBlocks hit. */
static void gen_ip(struct fuzz_in *in, int family, struct ip_addr *ip)
{
	uint8_t b = fz_u8(in);

	*ip = (struct ip_addr){.family = (uint8_t)family};
	if (family == AF_INET) {
		ip->a[0] = 10;
		ip->a[2] = (b >> 3) & 1;
		ip->a[3] = b & 7;
		if (b & 0x80)
			ip->a[3] |= 0x80; /* another half of the /24 */
	} else {
		ip->a[0] = 0xfd;
		ip->a[14] = (b >> 3) & 1;
		ip->a[15] = b & 7;
		if (b & 0x80)
			ip->a[15] |= 0x80;
	}
}

static void canonical(struct cidr *c)
{
	for (unsigned b = c->plen; b < 128; b++)
		c->addr.a[b / 8] &= (uint8_t) ~(1u << (7 - b % 8));
}

static void gen_ipblock(struct fuzz_in *in, struct np_peer *p)
{
	int family = fz_bool(in) ? AF_INET6 : AF_INET;
	const unsigned *plens = family == AF_INET ? v4_plens : v6_plens;
	unsigned max = family == AF_INET ? 32 : 128;

	p->kind = PEER_IPBLOCK;
	gen_ip(in, family, &p->cidr.addr);
	p->cidr.plen = (uint8_t)plens[fz_below(in, 8)];
	canonical(&p->cidr);
	p->n_except = p->cidr.plen < max ? fz_below(in, 3) : 0;
	p->except = xcalloc(p->n_except, sizeof(*p->except));
	for (size_t i = 0; i < p->n_except; i++) {
		struct cidr *x = &p->except[i];

		/* strictly inside: the cidr's leading bits, a longer prefix */
		gen_ip(in, family, &x->addr);
		x->plen = (uint8_t)(p->cidr.plen + 1 + fz_below(in, max - p->cidr.plen));
		for (unsigned b = 0; b < p->cidr.plen; b++) {
			uint8_t m = (uint8_t)(1u << (7 - b % 8));

			x->addr.a[b / 8] =
				(uint8_t)((x->addr.a[b / 8] & ~m) | (p->cidr.addr.a[b / 8] & m));
		}
		canonical(x);
	}
}

static void gen_rule(struct fuzz_in *in, struct np_rule *r)
{
	r->n_peers = fz_below(in, 4);
	r->peers = xcalloc(r->n_peers, sizeof(*r->peers));
	for (size_t i = 0; i < r->n_peers; i++) {
		struct np_peer *p = &r->peers[i];

		switch (fz_below(in, 4)) {
		case 0:
			p->has_pod_selector = true;
			break;
		case 1:
			p->has_ns_selector = true;
			break;
		case 2:
			p->has_pod_selector = p->has_ns_selector = true;
			break;
		default:
			gen_ipblock(in, p);
			continue;
		}
		p->kind = PEER_SELECTOR;
		if (p->has_pod_selector)
			gen_selector(in, &p->pod_selector);
		if (p->has_ns_selector)
			gen_selector(in, &p->ns_selector);
	}
	r->n_ports = fz_below(in, 3);
	r->ports = xcalloc(r->n_ports, sizeof(*r->ports));
	for (size_t i = 0; i < r->n_ports; i++) {
		struct np_port *p = &r->ports[i];
		static const uint16_t widths[] = {0, 1, 10, 1000, 65535};

		p->proto = protos[fz_below(in, 3)];
		switch (fz_below(in, 4)) {
		case 0: /* protocol only */
			break;
		case 1:
			p->has_port = true;
			p->port = p->end_port = port_nums[fz_below(in, ELEMENTSOF(port_nums))];
			break;
		case 2: {
			unsigned end;

			p->has_port = true;
			p->port = port_nums[fz_below(in, ELEMENTSOF(port_nums))];
			end = p->port + widths[fz_below(in, ELEMENTSOF(widths))];
			p->end_port = (uint16_t)(end > 65535 ? 65535 : end);
			break;
		}
		default:
			p->has_port = true;
			p->name = xstrdup(port_names[fz_below(in, ELEMENTSOF(port_names))]);
		}
	}
}

static struct namespace_obj *gen_ns(struct fuzz_in *in, unsigned slot)
{
	struct namespace_obj *o = xcalloc(1, sizeof(*o));

	o->name = xfmt("ns", slot);
	gen_labels(in, &o->labels);
	FUZZ_CHECK(labels_set(&o->labels, "kubernetes.io/metadata.name", o->name) == 0, "labels");
	return o;
}

static struct pod_obj *gen_pod(struct fuzz_in *in, unsigned slot)
{
	static const enum pod_phase phases[] = {POD_PHASE_RUNNING, POD_PHASE_RUNNING,
						POD_PHASE_PENDING, POD_PHASE_SUCCEEDED,
						POD_PHASE_FAILED, POD_PHASE_UNKNOWN};
	struct pod_obj *o = xcalloc(1, sizeof(*o));
	uint8_t f = fz_u8(in);

	o->ns = xfmt("ns", slot % NS_NAMES);
	o->name = xfmt("p", slot);
	o->uid = xfmt("uid-", slot);
	gen_labels(in, &o->labels);
	o->phase = phases[fz_below(in, ELEMENTSOF(phases))];
	o->host_network = (f & 7) == 7;
	o->node_name = (f & 8) ? NULL : xstrdup((f & 16) ? "node-1" : "node-2");
	if (!(f & 32))
		gen_ip(in, AF_INET, &o->ips[o->n_ips++]);
	if (f & 64)
		gen_ip(in, AF_INET6, &o->ips[o->n_ips++]);
	if ((f & 128) && o->n_ips == 2) {
		/* the API lists either family first */
		struct ip_addr t = o->ips[0];

		o->ips[0] = o->ips[1];
		o->ips[1] = t;
	}
	o->n_ports = fz_below(in, 4);
	o->ports = xcalloc(o->n_ports, sizeof(*o->ports));
	for (size_t i = 0; i < o->n_ports; i++) {
		unsigned k = fz_below(in, ELEMENTSOF(port_names) + 1);

		o->ports[i].name = k < 3 ? xstrdup(port_names[k]) : NULL;
		o->ports[i].proto = protos[fz_below(in, 3)];
		o->ports[i].port = port_nums[fz_below(in, ELEMENTSOF(port_nums))];
	}
	return o;
}

static struct netpol *gen_pol(struct fuzz_in *in, unsigned slot)
{
	struct netpol *o = xcalloc(1, sizeof(*o));
	unsigned types = 1 + fz_below(in, 3);

	o->ns = xfmt("ns", slot % NS_NAMES);
	o->name = xfmt("np", slot);
	o->uid = xfmt("puid-", slot);
	o->generation = 1;
	gen_selector(in, &o->pod_selector);
	o->type_ingress = types & 1;
	o->type_egress = types & 2;
	o->n_ingress = fz_below(in, 3);
	o->ingress = xcalloc(o->n_ingress, sizeof(*o->ingress));
	for (size_t i = 0; i < o->n_ingress; i++)
		gen_rule(in, &o->ingress[i]);
	o->n_egress = fz_below(in, 3);
	o->egress = xcalloc(o->n_egress, sizeof(*o->egress));
	for (size_t i = 0; i < o->n_egress; i++)
		gen_rule(in, &o->egress[i]);
	return o;
}

/* ---- the world: the engine, our own copy of every object, the change log replayed ---- */

struct shadow_rule {
	bool live;
	char **members; /* member_key() */
	size_t n;
};

struct world {
	struct engine *e;
	struct namespace_obj *nss[NS_SLOTS];
	struct pod_obj *pods[POD_SLOTS];
	struct netpol *pols[POL_SLOTS];
	struct fuzz_in pod_src[POD_SLOTS], pol_src[POL_SLOTS]; /* bytes of the current version */
	struct shadow_rule *rules; /* by rule id */
	size_t n_rules;
	char *targeted[POD_SLOTS]; /* reported by POD_TARGET/POD_REMOVED since the last check */
	char *sigs[POD_SLOTS];     /* target state at the last check */
};

static int slot_of(const struct pod_obj *p)
{
	unsigned slot;

	FUZZ_CHECK(sscanf(p->name, "p%u", &slot) == 1 && slot < POD_SLOTS, "pod %s", p->name);
	return (int)slot;
}

/* Identity plus what the dataplane programs for a member: addresses and ports. */
static char *member_key(const struct pod_obj *p)
{
	char buf[1024], a[64];
	size_t o = (size_t)snprintf(buf, sizeof(buf), "%s/%s", p->ns, p->name);

	for (size_t i = 0; i < p->n_ips; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, " %s",
				      ip_addr_fmt(&p->ips[i], a, sizeof(a)));
	for (size_t i = 0; i < p->n_ports && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, " %s:%u/%d",
				      p->ports[i].name ? p->ports[i].name : "", p->ports[i].port,
				      (int)p->ports[i].proto);
	return xstrdup(buf);
}

static struct shadow_rule *shadow(struct world *w, uint32_t id)
{
	if (id >= w->n_rules) {
		size_t n = id + 64;
		struct shadow_rule *v = realloc(w->rules, n * sizeof(*v));

		FUZZ_CHECK(v, "out of memory");
		memset(v + w->n_rules, 0, (n - w->n_rules) * sizeof(*v));
		w->rules = v;
		w->n_rules = n;
	}
	return &w->rules[id];
}

static void on_change(void *ud, const struct engine_change *c)
{
	struct world *w = ud;
	struct shadow_rule *sr;
	char *k;
	bool found = false;

	switch (c->kind) {
	case ENGINE_CHG_RULE_ADDED:
		sr = shadow(w, c->rule_id);
		FUZZ_CHECK(!sr->live && !sr->n, "rule %u added twice", c->rule_id);
		sr->live = true;
		break;
	case ENGINE_CHG_RULE_REMOVED:
		sr = shadow(w, c->rule_id);
		FUZZ_CHECK(sr->live, "rule %u removed but not live", c->rule_id);
		sr->live = false;
		for (size_t i = 0; i < sr->n; i++)
			free(sr->members[i]);
		sr->n = 0;
		break;
	case ENGINE_CHG_MEMBER_ADDED:
		sr = shadow(w, c->rule_id);
		k = member_key(c->pod);
		FUZZ_CHECK(sr->live, "member %s added to dead rule %u", k, c->rule_id);
		for (size_t i = 0; i < sr->n; i++)
			FUZZ_CHECK(strcmp(sr->members[i], k) != 0, "%s added twice to rule %u", k,
				   c->rule_id);
		sr->members = realloc(sr->members, (sr->n + 1) * sizeof(char *));
		FUZZ_CHECK(sr->members, "out of memory");
		sr->members[sr->n++] = k;
		break;
	case ENGINE_CHG_MEMBER_REMOVED:
		sr = shadow(w, c->rule_id);
		k = member_key(c->pod);
		for (size_t i = 0; i < sr->n && !found; i++)
			if (strcmp(sr->members[i], k) == 0) {
				free(sr->members[i]);
				sr->members[i] = sr->members[--sr->n];
				found = true;
			}
		FUZZ_CHECK(found, "%s removed from rule %u but not a member", k, c->rule_id);
		free(k);
		break;
	case ENGINE_CHG_POD_TARGET:
	case ENGINE_CHG_POD_REMOVED: {
		int s = slot_of(c->pod);

		(void)strlen(c->pod->ns);
		if (!w->targeted[s])
			w->targeted[s] = xstrdup(c->pod->ns);
		break;
	}
	default:
		FUZZ_CHECK(0, "change kind %d", (int)c->kind);
	}
}

static void drain(struct world *w)
{
	engine_drain_changes(w->e, on_change, w);
}

/* Our copy, regenerated from the same bytes, and the engine's, applied. */
#define APPLY(w, KIND, field, gen, slot_arr, i, src)                                               \
	do {                                                                                       \
		struct fuzz_in save = *(src);                                                      \
		struct k8s_object o = {.kind = KIND};                                              \
                                                                                                   \
		o.field = gen(src, i);                                                             \
		FUZZ_CHECK(engine_apply((w)->e, &o) == 0, "engine_apply");                         \
		*(src) = save;                                                                     \
		k8s_object_clear(&(struct k8s_object){.kind = KIND, .field = (w)->slot_arr[i]});  \
		(w)->slot_arr[i] = gen(src, i);                                                    \
	} while (0)

static void delete_obj(struct world *w, enum obj_kind kind, const char *ns, const char *name,
		       bool present)
{
	int r = engine_delete(w->e, kind, ns, name);

	FUZZ_CHECK(present ? r == 0 : r == -ENOENT, "engine_delete %s/%s: %d (present %d)",
		   ns ? ns : "", name, r, present);
}

static void build_ref(struct world *w, struct reference_world *rw, const struct namespace_obj **nv,
		      const struct pod_obj **pv, const struct netpol **qv)
{
	*rw = (struct reference_world){.nss = nv, .pods = pv, .pols = qv};
	for (int i = 0; i < NS_SLOTS; i++)
		if (w->nss[i])
			nv[rw->n_nss++] = w->nss[i];
	for (int i = 0; i < POD_SLOTS; i++)
		if (w->pods[i])
			pv[rw->n_pods++] = w->pods[i];
	for (int i = 0; i < POL_SLOTS; i++)
		if (w->pols[i])
			qv[rw->n_pols++] = w->pols[i];
}

static int collect(void *ud, const struct pod_obj *p)
{
	struct shadow_rule *acc = ud;

	acc->members = realloc(acc->members, (acc->n + 1) * sizeof(char *));
	FUZZ_CHECK(acc->members, "out of memory");
	acc->members[acc->n++] = member_key(p);
	return 0;
}

static void check_members(struct world *w, const struct reference_world *rw)
{
	for (uint32_t id = 0; id < w->n_rules; id++) {
		struct shadow_rule *sr = &w->rules[id];
		const struct compiled_rule *cr = engine_rule(w->e, id);
		struct shadow_rule got = {0};
		const struct netpol *rp = NULL;
		const struct np_rule *rr;

		FUZZ_CHECK(!!cr == sr->live, "rule %u: live %d in the log, %d in the engine", id,
			   sr->live, !!cr);
		if (!cr)
			continue;
		FUZZ_CHECK(engine_rule_members(w->e, id, collect, &got) == (int)got.n,
			   "engine_rule_members count");
		FUZZ_CHECK(got.n == sr->n, "rule %u: %zu members, the log says %zu", id, got.n,
			   sr->n);
		if (got.n) {
			qsort(got.members, got.n, sizeof(char *), cmp_str);
			qsort(sr->members, sr->n, sizeof(char *), cmp_str);
		}
		for (size_t i = 0; i < got.n; i++)
			FUZZ_CHECK(!strcmp(got.members[i], sr->members[i]),
				   "rule %u: member %s vs log %s", id, got.members[i],
				   sr->members[i]);
		for (size_t i = 0; i < rw->n_pols; i++)
			if (!strcmp(rw->pols[i]->ns, cr->pol->ns) &&
			    !strcmp(rw->pols[i]->name, cr->pol->name))
				rp = rw->pols[i];
		FUZZ_CHECK(rp, "rule %u of a policy %s/%s we do not have", id, cr->pol->ns,
			   cr->pol->name);
		FUZZ_CHECK(cr->index < (cr->dir == DIR_INGRESS ? rp->n_ingress : rp->n_egress),
			   "rule %u index %u", id, cr->index);
		rr = cr->dir == DIR_INGRESS ? &rp->ingress[cr->index] : &rp->egress[cr->index];
		for (size_t i = 0; i < rw->n_pods; i++) {
			const struct pod_obj *p = rw->pods[i];
			bool want = pod_is_peer(p) && reference_rule_member(rw, rp, rr, p);
			char *k = member_key(p);
			bool has = got.n &&
				   bsearch(&k, got.members, got.n, sizeof(char *), cmp_str);

			FUZZ_CHECK(want == has,
				   "rule %u (%s/%s %s[%u]): member %s: engine %d, reference %d", id,
				   rp->ns, rp->name, direction_name(cr->dir), cr->index, k, has,
				   want);
			free(k);
		}
		for (size_t i = 0; i < got.n; i++)
			free(got.members[i]);
		free(got.members);
	}
}

/* What the dataplane programs for an isolated pod: rules, addresses, ports, node. */
static char *target_sig(struct world *w, const struct pod_obj *p)
{
	char *m, buf[4096];
	size_t o;

	/* A pod no policy isolates has no chains: only the flip to or from chains matters. */
	if (!pod_is_target(p) ||
	    (!engine_pod_isolated(w->e, p, DIR_INGRESS) &&
	     !engine_pod_isolated(w->e, p, DIR_EGRESS)))
		return xstrdup("no chains");
	m = member_key(p);
	o = (size_t)snprintf(buf, sizeof(buf), "%s node=%s", m, p->node_name ? p->node_name : "-");
	free(m);
	for (int d = 0; d < 2; d++) {
		const struct compiled_rule *const *rv;
		size_t n = engine_pod_rules(w->e, p, (enum direction)d, &rv);

		o += (size_t)snprintf(buf + o, sizeof(buf) - o, " %s:%d:", direction_name(d),
				      engine_pod_isolated(w->e, p, (enum direction)d));
		for (size_t i = 0; i < n && o < sizeof(buf); i++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%u,", rv[i]->id);
		if (o >= sizeof(buf))
			break;
	}
	return xstrdup(buf);
}

static void check_targets(struct world *w)
{
	for (int i = 0; i < POD_SLOTS; i++) {
		const struct pod_obj *ep =
			w->pods[i] ? engine_pod(w->e, w->pods[i]->ns, w->pods[i]->name) : NULL;
		char *sig = ep ? target_sig(w, ep) : NULL;

		FUZZ_CHECK(!w->pods[i] || ep, "pod slot %d missing in the engine", i);
		if (w->sigs[i] && sig && strcmp(w->sigs[i], sig) != 0)
			FUZZ_CHECK(w->targeted[i], "p%d changed without POD_TARGET:\n  %s\n  %s", i,
				   w->sigs[i], sig);
		if (w->sigs[i] && !sig)
			FUZZ_CHECK(w->targeted[i], "p%d gone without POD_REMOVED", i);
		free(w->sigs[i]);
		w->sigs[i] = sig;
		free(w->targeted[i]);
		w->targeted[i] = NULL;
	}
}

struct ep_pair {
	struct endpoint eng, ref;
};

static const char *ep_name(const struct endpoint *ep, char *buf, size_t len)
{
	char a[64];

	snprintf(buf, len, "%s(%s/%s)", ip_addr_fmt(&ep->ip, a, sizeof(a)),
		 ep->pod ? ep->pod->ns : "-", ep->pod ? ep->pod->name : "-");
	return buf;
}

static size_t endpoints(struct world *w, const struct reference_world *rw, int family,
			const struct ip_addr *bare, struct ep_pair *ret)
{
	size_t n = 0;

	for (size_t i = 0; i < rw->n_pods; i++) {
		const struct pod_obj *rp = rw->pods[i];
		const struct pod_obj *ep = engine_pod(w->e, rp->ns, rp->name);

		FUZZ_CHECK(ep, "pod %s/%s missing in the engine", rp->ns, rp->name);
		if (!pod_ip(rp, family))
			continue;
		FUZZ_CHECK(endpoint_from_pod(ep, family, &ret[n].eng) == 0, "endpoint_from_pod");
		FUZZ_CHECK(endpoint_from_pod(rp, family, &ret[n].ref) == 0, "endpoint_from_pod");
		n++;
	}
	for (int i = 0; i < BARE_IPS; i++) {
		struct ep_pair *p = &ret[n++];

		engine_endpoint_from_ip(w->e, &bare[i], &p->eng);
		reference_endpoint_from_ip(rw, &bare[i], &p->ref);
		FUZZ_CHECK(!p->eng.pod == !p->ref.pod, "owner of an ip: engine %s, reference %s",
			   p->eng.pod ? p->eng.pod->name : "-",
			   p->ref.pod ? p->ref.pod->name : "-");
		if (p->eng.pod)
			FUZZ_CHECK(!strcmp(p->eng.pod->ns, p->ref.pod->ns) &&
					   !strcmp(p->eng.pod->name, p->ref.pod->name),
				   "owner of an ip: engine %s/%s, reference %s/%s", p->eng.pod->ns,
				   p->eng.pod->name, p->ref.pod->ns, p->ref.pod->name);
	}
	return n;
}

static void check_verdict(struct world *w, const struct reference_world *rw,
			  const struct ep_pair *s, const struct ep_pair *d, enum proto proto,
			  uint16_t port)
{
	struct explanation x;
	bool got = engine_verdict(w->e, &s->eng, &d->eng, proto, port, NULL);
	bool want = reference_verdict(rw, &s->ref, &d->ref, proto, port);
	char a[160], b[160];

	FUZZ_CHECK(got == want, "%s -> %s %s/%u: engine %d, reference %d",
		   ep_name(&s->eng, a, sizeof(a)), ep_name(&d->eng, b, sizeof(b)),
		   proto_name(proto), port, got, want);
	FUZZ_CHECK(engine_verdict(w->e, &s->eng, &d->eng, proto, port, &x) == got &&
			   x.allowed == got,
		   "the explained verdict differs");
	if (x.self)
		FUZZ_CHECK(got && s->eng.pod == d->eng.pod, "self verdict");
	if (!got)
		FUZZ_CHECK((x.egress.isolated && !x.egress.allowed) ||
				   (x.ingress.isolated && !x.ingress.allowed),
			   "denied without a denying half");
	if (x.egress.isolated && x.egress.allowed && !x.self)
		FUZZ_CHECK(x.egress.by.pol && x.egress.by.dir == DIR_EGRESS,
			   "egress allowed by nothing");
	if (x.ingress.isolated && x.ingress.allowed && !x.self)
		FUZZ_CHECK(x.ingress.by.pol && x.ingress.by.dir == DIR_INGRESS,
			   "ingress allowed by nothing");
	/* the isolating policies are listed when a half denies */
	if (x.egress.isolated && !x.egress.allowed)
		FUZZ_CHECK(x.egress.n_isolating > 0, "egress denied by no policy");
	if (x.ingress.isolated && !x.ingress.allowed)
		FUZZ_CHECK(x.ingress.n_isolating > 0, "ingress denied by no policy");
}

static void check(struct world *w, struct fuzz_in *in)
{
	const struct namespace_obj *nv[NS_SLOTS];
	const struct pod_obj *pv[POD_SLOTS];
	const struct netpol *qv[POL_SLOTS];
	struct ep_pair eps[POD_SLOTS + BARE_IPS];
	struct reference_world rw;
	struct {
		enum proto proto;
		uint16_t port;
	} probes[4] = {{PROTO_TCP, 80}, {PROTO_UDP, 53}, {PROTO_SCTP, 9090}};
	uint8_t pb = fz_u8(in);

	probes[3].proto = protos[pb % 3];
	probes[3].port = port_nums[(pb >> 2) % ELEMENTSOF(port_nums)] + ((pb & 0x20) ? 1 : 0);

	drain(w);
	build_ref(w, &rw, nv, pv, qv);
	check_members(w, &rw);
	check_targets(w);
	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET;
		struct ip_addr bare[BARE_IPS];
		size_t n;

		gen_ip(in, family, &bare[0]);
		gen_ip(in, family, &bare[1]);
		FUZZ_CHECK(!ip_addr_parse(family == AF_INET ? "192.168.7.1" : "2001:db8::1",
					  &bare[2]),
			   "ip_addr_parse");
		n = endpoints(w, &rw, family, bare, eps);
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < n; j++)
				for (size_t k = 0; k < ELEMENTSOF(probes); k++)
					check_verdict(w, &rw, &eps[i], &eps[j], probes[k].proto,
						      probes[k].port);
	}
}

/* Re-apply the current versions: the engine must record nothing. */
static void reapply_same(struct world *w, struct fuzz_in *in)
{
	unsigned i = fz_below(in, POD_SLOTS), j = fz_below(in, POL_SLOTS);
	size_t n;

	check(w, in); /* drains */
	if (w->pods[i]) {
		struct fuzz_in src = w->pod_src[i];

		APPLY(w, OBJ_POD, pod, gen_pod, pods, i, &src);
	}
	if (w->pols[j]) {
		struct fuzz_in src = w->pol_src[j];

		APPLY(w, OBJ_NETWORK_POLICY, pol, gen_pol, pols, j, &src);
	}
	n = engine_drain_changes(w->e, on_change, w);
	FUZZ_CHECK(n == 0, "re-applying identical objects recorded %zu changes", n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct world w = {.e = engine_new()};
	char name[16];
	unsigned i;

	FUZZ_CHECK(w.e, "engine_new");
	for (int op = 0; op < MAX_OPS && in.n > 0; op++) {
		switch (fz_below(&in, 12)) {
		case 0:
		case 1:
			i = fz_below(&in, NS_SLOTS);
			APPLY(&w, OBJ_NAMESPACE, ns, gen_ns, nss, i, &in);
			break;
		case 2:
			i = fz_below(&in, NS_SLOTS);
			snprintf(name, sizeof(name), "ns%u", i);
			delete_obj(&w, OBJ_NAMESPACE, NULL, name, w.nss[i] != NULL);
			namespace_obj_free(w.nss[i]);
			w.nss[i] = NULL;
			break;
		case 3:
		case 4:
		case 5:
			i = fz_below(&in, POD_SLOTS);
			w.pod_src[i] = in;
			APPLY(&w, OBJ_POD, pod, gen_pod, pods, i, &in);
			break;
		case 6:
			i = fz_below(&in, POD_SLOTS);
			if (w.pods[i]) {
				delete_obj(&w, OBJ_POD, w.pods[i]->ns, w.pods[i]->name, true);
				pod_obj_free(w.pods[i]);
				w.pods[i] = NULL;
			} else {
				delete_obj(&w, OBJ_POD, "ns0", "p0x", false);
			}
			break;
		case 7:
		case 8:
			i = fz_below(&in, POL_SLOTS);
			w.pol_src[i] = in;
			APPLY(&w, OBJ_NETWORK_POLICY, pol, gen_pol, pols, i, &in);
			break;
		case 9:
			i = fz_below(&in, POL_SLOTS);
			if (w.pols[i]) {
				delete_obj(&w, OBJ_NETWORK_POLICY, w.pols[i]->ns, w.pols[i]->name,
					   true);
				netpol_free(w.pols[i]);
				w.pols[i] = NULL;
			}
			break;
		case 10:
			check(&w, &in);
			break;
		default:
			reapply_same(&w, &in);
		}
	}
	check(&w, &in);

	engine_free(w.e);
	for (int k = 0; k < NS_SLOTS; k++)
		namespace_obj_free(w.nss[k]);
	for (int k = 0; k < POD_SLOTS; k++) {
		pod_obj_free(w.pods[k]);
		free(w.sigs[k]);
		free(w.targeted[k]);
	}
	for (int k = 0; k < POL_SLOTS; k++)
		netpol_free(w.pols[k]);
	for (size_t k = 0; k < w.n_rules; k++) {
		for (size_t m = 0; m < w.rules[k].n; m++)
			free(w.rules[k].members[m]);
		free(w.rules[k].members);
	}
	free(w.rules);
	return 0;
}
