/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The desired state from the engine: per-pod chains (rules resolved against
 * the pod), the fixed base chains and verdict maps, each referenced rule's
 * sets with their full content, and the whole plan for a full sync.
 */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <stdio.h>

#include "plan.h"

/* ---- rules of a pod ---- */

bool plan_pod_local(const struct plan_config *cfg, const struct pod_obj *pod)
{
	return pod->node_name && cfg->node_name && strcmp(pod->node_name, cfg->node_name) == 0 &&
	       pod_is_target(pod);
}

static bool rule_has_selector(const struct np_rule *r)
{
	for (size_t i = 0; i < r->n_peers; i++)
		if (r->peers[i].kind == PEER_SELECTOR)
			return true;
	return false;
}

static bool rule_has_ipblock(const struct np_rule *r, int family)
{
	for (size_t i = 0; i < r->n_peers; i++)
		if (r->peers[i].kind == PEER_IPBLOCK &&
		    (!family || r->peers[i].cidr.addr.family == family))
			return true;
	return false;
}

bool plan_rule_has_named(const struct compiled_rule *cr)
{
	if (cr->dir != DIR_EGRESS)
		return false;
	for (size_t i = 0; i < cr->rule->n_ports; i++)
		if (cr->rule->ports[i].name)
			return true;
	return false;
}

bool plan_rule_named_ipblock(const struct compiled_rule *cr)
{
	return plan_rule_has_named(cr) &&
	       (cr->rule->n_peers == 0 || rule_has_ipblock(cr->rule, 0));
}

static int chain_push(struct plan_chain *c, const struct plan_rule *r)
{
	struct plan_rule *n = realloc(c->rules, (c->n_rules + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	c->rules = n;
	n[c->n_rules] = *r;
	n[c->n_rules].set = r->set ? strdup(r->set) : NULL;
	n[c->n_rules].nset = r->nset ? strdup(r->nset) : NULL;
	n[c->n_rules].log_prefix = r->log_prefix ? plan_strdup_max(r->log_prefix, PLAN_LOG_PREFIX_MAX - 1)
						 : NULL;
	n[c->n_rules].comment = r->comment ? plan_strdup_max(r->comment, PLAN_COMMENT_MAX - 1) : NULL;
	c->n_rules++;
	if ((r->set && !n[c->n_rules - 1].set) || (r->comment && !n[c->n_rules - 1].comment) ||
	    (r->nset && !n[c->n_rules - 1].nset) ||
	    (r->log_prefix && !n[c->n_rules - 1].log_prefix))
		return -ENOMEM;
	return 0;
}

static int chain_add_key(struct plan_chain *c, const char *key)
{
	char **n = realloc(c->rule_keys, (c->n_rule_keys + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	c->rule_keys = n;
	if (!(n[c->n_rule_keys] = strdup(key)))
		return -ENOMEM;
	c->n_rule_keys++;
	return 0;
}

static struct plan_chain *chain_new(const char *name, const char *comment)
{
	struct plan_chain *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->name = strdup(name);
	c->comment = plan_strdup_max(comment, PLAN_COMMENT_MAX - 1);
	if (!c->name || !c->comment) {
		plan_chain_free(c);
		return NULL;
	}
	return c;
}

#define MAX_PORT_RANGES 512

static int add_rule_lines(struct plan_chain *c, const struct pod_obj *pod, enum direction dir,
			  const struct compiled_rule *cr)
{
	struct port_range pr[MAX_PORT_RANGES];
	char key[PLAN_NAME_MAX], set[PLAN_NAME_MAX], comment[PLAN_COMMENT_MAX];
	enum plan_set_kind targets[4];
	size_t nt = 0;
	int n, r;

	plan_rule_key(cr->pol->ns, cr->pol->name, dir, cr->index, key);
	snprintf(comment, sizeof(comment), "%s/%s %s[%u]", cr->pol->ns, cr->pol->name,
		 direction_name(dir), cr->index);
	/* ingress: ports resolve on the pod itself; egress: numeric here, named via the named sets */
	n = engine_resolve_ports(cr->rule, dir == DIR_INGRESS ? pod : NULL, pr, MAX_PORT_RANGES);
	if (n < 0)
		return n;
	if (rule_has_selector(cr->rule)) {
		targets[nt++] = PLAN_SET_PODS4;
		targets[nt++] = PLAN_SET_PODS6;
	}
	if (rule_has_ipblock(cr->rule, AF_INET))
		targets[nt++] = PLAN_SET_CIDR4;
	if (rule_has_ipblock(cr->rule, AF_INET6))
		targets[nt++] = PLAN_SET_CIDR6;
	bool named = plan_rule_has_named(cr);
	if (nt > 0 || named) {
		if ((r = chain_add_key(c, key)) < 0)
			return r;
	}

	for (size_t t = 0; t < (cr->rule->n_peers ? nt : 1); t++) {
		for (int i = 0; i < n; i++) {
			struct plan_rule pl = {.verdict = PLAN_V_RETURN, .counter = true,
					       .comment = comment};

			if (cr->rule->n_peers) {
				bool v4 = targets[t] == PLAN_SET_PODS4 || targets[t] == PLAN_SET_CIDR4;

				plan_set_name(key, targets[t], set);
				pl.nfproto = v4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
				pl.addr = dir == DIR_INGRESS ? PLAN_ADDR_SRC : PLAN_ADDR_DST;
				pl.set = set;
			}
			if (!pr[i].all_protocols) {
				pl.l4proto = pr[i].proto;
				if (pr[i].lo != 0 || pr[i].hi != 65535) {
					pl.has_ports = true;
					pl.port_lo = pr[i].lo;
					pl.port_hi = pr[i].hi;
				}
			}
			if ((r = chain_push(c, &pl)) < 0)
				return r;
		}
	}
	if (named) {
		for (int f = 0; f < 2; f++) {
			struct plan_rule pl = {
				.verdict = PLAN_V_RETURN,
				.counter = true,
				.comment = comment,
				.nfproto = f == 0 ? NFPROTO_IPV4 : NFPROTO_IPV6,
				.addr = PLAN_ADDR_DST,
				.named = true,
				.set = set,
			};

			plan_set_name(key, f == 0 ? PLAN_SET_NAMED4 : PLAN_SET_NAMED6, set);
			if ((r = chain_push(c, &pl)) < 0)
				return r;
		}
	}
	return 0;
}

uint64_t plan_log_pod_hash(const char *ns, const char *pod)
{
	uint64_t h = 1469598103934665603ull;

	/* FNV-1a of "ns/name" */
	for (const char *p = ns; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h = (h ^ (uint8_t)'/') * 1099511628211ull;
	for (const char *p = pod; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return h;
}

void plan_log_prefix(enum direction dir, bool audit, const char *ns, const char *pod,
		     char ret[PLAN_LOG_PREFIX_MAX])
{
	int n = snprintf(ret, PLAN_LOG_PREFIX_MAX, "np:%c%s:%s/%s", dir == DIR_INGRESS ? 'i' : 'e',
			 audit ? "a" : "", ns, pod);

	if (n < 0 || n >= PLAN_LOG_PREFIX_MAX)
		snprintf(ret, PLAN_LOG_PREFIX_MAX, "np:%c%s:#%016llx", dir == DIR_INGRESS ? 'i' : 'e',
			 audit ? "a" : "", (unsigned long long)plan_log_pod_hash(ns, pod));
}

/* limit rate R/second burst B packets log group G prefix "np:..." (no verdict) */
static int push_log(struct plan_chain *c, const struct plan_config *cfg, const struct pod_obj *pod,
		    enum direction dir, bool audit)
{
	char prefix[PLAN_LOG_PREFIX_MAX];
	struct plan_rule lg = {.verdict = PLAN_V_CONTINUE, .log = true,
			       .log_group = cfg->log_group, .log_rate = cfg->log_rate,
			       .log_burst = cfg->log_burst, .log_prefix = prefix,
			       .comment = audit ? "audit record" : "deny record"};

	plan_log_prefix(dir, audit, pod->ns, pod->name, prefix);
	return chain_push(c, &lg);
}

int plan_pod_chain(const struct engine *e, const struct plan_config *cfg,
		   const struct pod_obj *pod, enum direction dir, struct plan_chain **ret)
{
	const struct compiled_rule *const *crs;
	char name[PLAN_NAME_MAX], comment[PLAN_COMMENT_MAX];
	struct plan_chain *c;
	bool audit;
	size_t n;
	int r;

	*ret = NULL;
	if (!plan_pod_local(cfg, pod))
		return 0;
	/* audit chains only log: without deny records they would change nothing */
	audit = !engine_pod_isolated(e, pod, dir);
	if (audit && !(cfg->log && engine_pod_audit(e, pod, dir)))
		return 0;
	plan_chain_name(dir, pod->ns, pod->name, name);
	/* the same comment either way: a replaced chain keeps its comment in the kernel */
	snprintf(comment, sizeof(comment), "pod %s/%s %s", pod->ns, pod->name, direction_name(dir));
	c = chain_new(name, comment);
	if (!c)
		return -ENOMEM;
	if (asprintf(&c->pod, "%s/%s", pod->ns, pod->name) < 0) {
		c->pod = NULL;
		plan_chain_free(c);
		return -ENOMEM;
	}
	n = engine_pod_rules(e, pod, dir, &crs);
	for (size_t i = 0; i < n; i++)
		if ((r = add_rule_lines(c, pod, dir, crs[i])) < 0)
			goto fail;
	if (cfg->log && (r = push_log(c, cfg, pod, dir, audit)) < 0)
		goto fail;
	if (audit) {
		/* counted like a deny: what the audit policies would have denied */
		struct plan_rule allow = {.verdict = PLAN_V_RETURN, .counter = true,
					  .comment = "audit: allow"};

		if ((r = chain_push(c, &allow)) < 0)
			goto fail;
	} else if (cfg->reject) {
		struct plan_rule tcp = {.l4proto = PROTO_TCP, .verdict = PLAN_V_REJECT_TCP,
					.counter = true, .comment = "deny"};
		struct plan_rule any = {.verdict = PLAN_V_REJECT_ICMPX, .counter = true,
					.comment = "deny"};

		if ((r = chain_push(c, &tcp)) < 0 || (r = chain_push(c, &any)) < 0)
			goto fail;
	} else {
		struct plan_rule drop = {.verdict = PLAN_V_DROP, .counter = true,
					 .comment = "deny"};

		if ((r = chain_push(c, &drop)) < 0)
			goto fail;
	}
	*ret = c;
	return 0;
fail:
	plan_chain_free(c);
	return r;
}

/* ---- base objects ---- */

/*
 * Fail-closed: ip saddr @fc_range4 ip saddr != @fc_known4 meta l4proto tcp
 * reject with tcp reset, then the same with reject with icmpx admin-prohibited
 * (and daddr in forward, where the destination can be a local pod).
 */
static int add_fc_rules(struct plan_chain *c, const struct plan_config *cfg, bool ingress)
{
	for (int a = 0; a < (ingress ? 2 : 1); a++)
		for (int f = 0; f < 2; f++) {
			bool have = false;
			int r;

			for (size_t i = 0; i < cfg->n_fc_cidrs && !have; i++)
				have = cfg->fc_cidrs[i].addr.family == (f ? AF_INET6 : AF_INET);
			if (!have)
				continue;
			struct plan_rule fc = {
				.nfproto = f ? NFPROTO_IPV6 : NFPROTO_IPV4,
				.addr = a ? PLAN_ADDR_DST : PLAN_ADDR_SRC,
				.set = f ? PLAN_FC_RANGE6 : PLAN_FC_RANGE4,
				.nset = f ? PLAN_FC_KNOWN6 : PLAN_FC_KNOWN4,
				.l4proto = PROTO_TCP,
				.verdict = PLAN_V_REJECT_TCP,
				.comment = a ? "fail-closed: to an unknown pod address"
					     : "fail-closed: from an unknown pod address",
			};
			/* TCP gets a reset (Linux TCP over IPv6 ignores admin-prohibited in SYN-SENT) */
			if ((r = chain_push(c, &fc)) < 0)
				return r;
			fc.l4proto = 0;
			fc.verdict = PLAN_V_REJECT_ICMPX;
			if ((r = chain_push(c, &fc)) < 0)
				return r;
		}
	return 0;
}

static int add_base_chain(struct plan *p, const struct plan_config *cfg, const char *name,
			  uint32_t hook, bool ingress)
{
	static const struct {
		enum direction dir;
		int family;
	} dispatch[] = {
		{DIR_EGRESS, AF_INET},
		{DIR_EGRESS, AF_INET6},
		{DIR_INGRESS, AF_INET},
		{DIR_INGRESS, AF_INET6},
	};
	struct plan_chain *c = chain_new(name, "netpold: dispatch to per-pod chains");
	struct plan_rule est = {.ct_estrel = true, .verdict = PLAN_V_ACCEPT,
				.comment = "established"};
	struct plan_rule nd = {.nfproto = NFPROTO_IPV6, .l4proto = 58, .icmpv6_nd = true,
			       .verdict = PLAN_V_ACCEPT, .comment = "neighbour discovery"};
	int r;

	if (!c)
		return -ENOMEM;
	c->base = true;
	c->hooknum = hook;
	if ((r = chain_push(c, &est)) < 0 || (r = chain_push(c, &nd)) < 0)
		goto fail;
	if (cfg && (r = add_fc_rules(c, cfg, ingress)) < 0)
		goto fail;
	for (size_t i = 0; i < ELEMENTSOF(dispatch); i++) {
		if (dispatch[i].dir == DIR_INGRESS && !ingress)
			continue;
		struct plan_rule v = {
			.nfproto = dispatch[i].family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6,
			.addr = dispatch[i].dir == DIR_INGRESS ? PLAN_ADDR_DST : PLAN_ADDR_SRC,
			.set = (char *)plan_vmap_name(dispatch[i].dir, dispatch[i].family),
			.verdict = PLAN_V_VMAP,
			.comment = dispatch[i].dir == DIR_INGRESS ? "ingress of local pods"
								  : "egress of local pods",
		};
		if ((r = chain_push(c, &v)) < 0)
			goto fail;
	}
	if ((r = plan_map_puts(&p->chains, name, c, NULL)) < 0)
		goto fail;
	return 0;
fail:
	plan_chain_free(c);
	return r;
}

static int add_fc_sets(struct plan *p, const struct plan_config *cfg)
{
	struct np_peer *peers;
	struct np_rule rule = {0};
	int r = 0;

	if (!cfg->n_fc_cidrs)
		return 0;
	peers = calloc(cfg->n_fc_cidrs, sizeof(*peers));
	if (!peers)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_fc_cidrs; i++)
		peers[i] = (struct np_peer){.kind = PEER_IPBLOCK, .cidr = cfg->fc_cidrs[i]};
	rule.peers = peers;
	rule.n_peers = cfg->n_fc_cidrs;
	for (int f = 0; f < 2 && r >= 0; f++) {
		int family = f ? AF_INET6 : AF_INET;
		struct plan_set *range, *known;
		struct plan_elem iv[64];
		int n = plan_rule_intervals(&rule, family, iv, ELEMENTSOF(iv));

		if (n <= 0) {
			r = n;
			continue;
		}
		range = plan_set_new(f ? PLAN_FC_RANGE6 : PLAN_FC_RANGE4,
				     f ? PLAN_SET_CIDR6 : PLAN_SET_CIDR4, "fail-closed ranges");
		known = plan_set_new(f ? PLAN_FC_KNOWN6 : PLAN_FC_KNOWN4,
				     f ? PLAN_SET_PODS6 : PLAN_SET_PODS4,
				     "fail-closed: known pod addresses");
		if (!range || !known) {
			plan_set_free(range);
			plan_set_free(known);
			r = -ENOMEM;
			break;
		}
		for (int i = 0; i < n && r >= 0; i++)
			r = plan_set_add(range, &iv[i]);
		if (r < 0 || (r = plan_map_puts(&p->sets, range->name, range, NULL)) < 0) {
			plan_set_free(range);
			plan_set_free(known);
			break;
		}
		if ((r = plan_map_puts(&p->sets, known->name, known, NULL)) < 0)
			plan_set_free(known);
	}
	free(peers);
	return r;
}

int plan_fc_elems(const struct plan_config *cfg, const struct pod_obj *pod,
		  struct plan_member_elem *ret, size_t max)
{
	size_t n = 0;

	if (pod->host_network)
		return 0;
	for (size_t f = 0; f < pod->n_ips; f++) {
		bool in = false;

		for (size_t i = 0; i < cfg->n_fc_cidrs && !in; i++)
			in = cidr_contains(&cfg->fc_cidrs[i], &pod->ips[f]);
		if (!in)
			continue;
		if (n >= max)
			return -E2BIG;
		ret[n].kind = pod->ips[f].family == AF_INET ? PLAN_SET_PODS4 : PLAN_SET_PODS6;
		plan_elem_addr(&pod->ips[f], &ret[n].el);
		n++;
	}
	return (int)n;
}

int plan_add_base(struct plan *p)
{
	return plan_add_base_cfg(p, NULL);
}

int plan_add_base_cfg(struct plan *p, const struct plan_config *cfg)
{
	static const enum direction dirs[] = {DIR_INGRESS, DIR_EGRESS};
	int r;

	p->has_table = true;
	if ((r = add_base_chain(p, cfg, "forward", NF_INET_FORWARD, true)) < 0 ||
	    (r = add_base_chain(p, cfg, "input", NF_INET_LOCAL_IN, false)) < 0)
		return r;
	if (cfg && (r = add_fc_sets(p, cfg)) < 0)
		return r;
	for (size_t d = 0; d < 2; d++)
		for (int f = 0; f < 2; f++) {
			const char *name = plan_vmap_name(dirs[d], f ? AF_INET6 : AF_INET);
			struct plan_set *s = plan_set_new(name, f ? PLAN_SET_VMAP6 : PLAN_SET_VMAP4,
							  dirs[d] == DIR_INGRESS
								  ? "local pods isolated for ingress"
								  : "local pods isolated for egress");

			if (!s)
				return -ENOMEM;
			if ((r = plan_map_puts(&p->sets, name, s, NULL)) < 0) {
				plan_set_free(s);
				return r;
			}
		}
	return 0;
}

/* ---- rule sets ---- */

static bool named_port_of(const struct np_port *np, const struct pod_obj *pod, uint16_t *ret)
{
	for (size_t i = 0; i < pod->n_ports; i++)
		if (pod->ports[i].name && strcmp(pod->ports[i].name, np->name) == 0 &&
		    pod->ports[i].proto == np->proto) {
			*ret = pod->ports[i].port;
			return true;
		}
	return false;
}

static int named_elems(const struct compiled_rule *cr, const struct pod_obj *pod,
		       struct plan_member_elem *ret, size_t max, size_t n)
{
	for (size_t f = 0; f < pod->n_ips; f++)
		for (size_t i = 0; i < cr->rule->n_ports; i++) {
			const struct np_port *np = &cr->rule->ports[i];
			uint16_t port;

			if (!np->name || !named_port_of(np, pod, &port))
				continue;
			if (n >= max)
				return -E2BIG;
			ret[n].kind = pod->ips[f].family == AF_INET ? PLAN_SET_NAMED4 : PLAN_SET_NAMED6;
			plan_elem_named(&pod->ips[f], np->proto, port, &ret[n].el);
			n++;
		}
	return (int)n;
}

int plan_member_elems(const struct compiled_rule *cr, const struct pod_obj *pod,
		      struct plan_member_elem *ret, size_t max)
{
	size_t n = 0;

	if (rule_has_selector(cr->rule))
		for (size_t f = 0; f < pod->n_ips; f++) {
			if (n >= max)
				return -E2BIG;
			ret[n].kind = pod->ips[f].family == AF_INET ? PLAN_SET_PODS4 : PLAN_SET_PODS6;
			plan_elem_addr(&pod->ips[f], &ret[n].el);
			n++;
		}
	if (plan_rule_has_named(cr))
		return named_elems(cr, pod, ret, max, n);
	return (int)n;
}

#define MAX_MEMBER_ELEMS (MODEL_MAX_POD_IPS * (MODEL_MAX_PORTS + 1))

struct rule_sets_ctx {
	const struct compiled_rule *cr;
	struct plan_set *sets[_PLAN_SET_KIND_MAX];
	struct plan_map *records;
	struct plan_member_elem buf[MAX_MEMBER_ELEMS];
	int err;
};

static int add_member_elems(struct rule_sets_ctx *ctx, const struct plan_member_elem *v, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		struct plan_set *s = ctx->sets[v[i].kind];

		if (s && (r = plan_set_add(s, &v[i].el)) < 0)
			return r;
	}
	return 0;
}

static int member_cb(void *ud, const struct pod_obj *pod)
{
	struct rule_sets_ctx *ctx = ud;
	int n = plan_member_elems(ctx->cr, pod, ctx->buf, MAX_MEMBER_ELEMS);
	int r;

	if (n < 0)
		return ctx->err = n;
	if ((r = add_member_elems(ctx, ctx->buf, n)) < 0)
		return ctx->err = r;
	if (ctx->records) {
		char key[2 * MODEL_MAX_NAME_LEN + 2];
		struct plan_record *rec = calloc(1, sizeof(*rec));

		snprintf(key, sizeof(key), "%s/%s", pod->ns, pod->name);
		if (!rec || (n && !(rec->v = malloc(n * sizeof(*rec->v))))) {
			free(rec);
			return ctx->err = -ENOMEM;
		}
		rec->n = n;
		memcpy(rec->v, ctx->buf, n * sizeof(*rec->v));
		void *old;
		if (plan_map_puts(ctx->records, key, rec, &old) < 0) {
			plan_record_free(rec);
			return ctx->err = -ENOMEM;
		}
		plan_record_free(old);
	}
	return 0;
}

static bool in_ipblock(const struct np_rule *r, const struct ip_addr *ip)
{
	for (size_t i = 0; i < r->n_peers; i++) {
		const struct np_peer *p = &r->peers[i];
		bool excluded = false;

		if (p->kind != PEER_IPBLOCK || !cidr_contains(&p->cidr, ip))
			continue;
		for (size_t x = 0; x < p->n_except && !excluded; x++)
			excluded = cidr_contains(&p->except[x], ip);
		if (!excluded)
			return true;
	}
	return false;
}

static int all_pods_cb(void *ud, const struct pod_obj *pod)
{
	struct rule_sets_ctx *ctx = ud;
	struct pod_obj one;
	int n, r;

	if (!pod_is_peer(pod))
		return 0;
	/* a named port applies to pods inside the ipBlock (by address), never to other addresses */
	one = *pod;
	one.n_ips = 0;
	for (size_t f = 0; f < pod->n_ips; f++)
		if (ctx->cr->rule->n_peers == 0 || in_ipblock(ctx->cr->rule, &pod->ips[f]))
			one.ips[one.n_ips++] = pod->ips[f];
	if (!one.n_ips)
		return 0;
	n = named_elems(ctx->cr, &one, ctx->buf, MAX_MEMBER_ELEMS, 0);
	if (n < 0)
		return ctx->err = n;
	if ((r = add_member_elems(ctx, ctx->buf, n)) < 0)
		return ctx->err = r;
	return 0;
}

#define MAX_INTERVALS (MODEL_MAX_PEERS * (MODEL_MAX_EXCEPT + 1))

int plan_add_rule_sets(const struct engine *e, const struct compiled_rule *cr, struct plan *p,
		       struct plan_map *records)
{
	struct rule_sets_ctx *ctx;
	char key[PLAN_NAME_MAX], name[PLAN_NAME_MAX], comment[PLAN_COMMENT_MAX];
	int r = 0;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->cr = cr;
	ctx->records = records;
	plan_rule_key(cr->pol->ns, cr->pol->name, cr->dir, cr->index, key);
	snprintf(comment, sizeof(comment), "%s/%s %s[%u]", cr->pol->ns, cr->pol->name,
		 direction_name(cr->dir), cr->index);
	bool want[_PLAN_SET_KIND_MAX] = {
		[PLAN_SET_PODS4] = rule_has_selector(cr->rule),
		[PLAN_SET_PODS6] = rule_has_selector(cr->rule),
		[PLAN_SET_CIDR4] = rule_has_ipblock(cr->rule, AF_INET),
		[PLAN_SET_CIDR6] = rule_has_ipblock(cr->rule, AF_INET6),
		[PLAN_SET_NAMED4] = plan_rule_has_named(cr),
		[PLAN_SET_NAMED6] = plan_rule_has_named(cr),
	};
	for (int k = 0; k < _PLAN_SET_KIND_MAX; k++) {
		if (!want[k])
			continue;
		plan_set_name(key, k, name);
		ctx->sets[k] = plan_set_new(name, k, comment);
		if (!ctx->sets[k]) {
			r = -ENOMEM;
			goto out;
		}
		void *old;
		if ((r = plan_map_puts(&p->sets, name, ctx->sets[k], &old)) < 0) {
			plan_set_free(ctx->sets[k]);
			goto out;
		}
		plan_set_free(old);
	}
	if (want[PLAN_SET_PODS4] || want[PLAN_SET_NAMED4]) {
		r = engine_rule_members(e, cr->id, member_cb, ctx);
		if (ctx->err < 0 || r < 0) {
			r = ctx->err < 0 ? ctx->err : r;
			goto out;
		}
	}
	if (plan_rule_named_ipblock(cr)) {
		engine_foreach_pod(e, all_pods_cb, ctx);
		if ((r = ctx->err) < 0)
			goto out;
	}
	for (int k = PLAN_SET_CIDR4; k <= PLAN_SET_CIDR6; k++) {
		if (!want[k])
			continue;
		struct plan_elem *iv = malloc(MAX_INTERVALS * sizeof(*iv));
		if (!iv) {
			r = -ENOMEM;
			goto out;
		}
		int n = plan_rule_intervals(cr->rule, k == PLAN_SET_CIDR4 ? AF_INET : AF_INET6, iv,
					    MAX_INTERVALS);
		for (int i = 0; i < n && r >= 0; i++)
			r = plan_set_add(ctx->sets[k], &iv[i]);
		free(iv);
		if (n < 0 || r < 0) {
			r = n < 0 ? n : r;
			goto out;
		}
	}
	r = 0;
out:
	free(ctx);
	return r;
}

/* ---- the whole desired state ---- */

struct build_ctx {
	const struct engine *e;
	const struct plan_config *cfg;
	struct plan *p;
	struct plan_map rules; /* key -> struct plan_rule_info */
	int err;
};

static void rule_info_free_v(void *p)
{
	plan_rule_info_free(p);
}

static int build_pod_cb(void *ud, const struct pod_obj *pod)
{
	struct build_ctx *ctx = ud;
	struct plan_member_elem fc[MODEL_MAX_POD_IPS];
	int r, n_fc;

	/* fail-closed: every pod address netpold knows inside the ranges */
	n_fc = plan_fc_elems(ctx->cfg, pod, fc, ELEMENTSOF(fc));
	for (int i = 0; i < n_fc; i++) {
		struct plan_set *s = plan_map_gets(&ctx->p->sets, fc[i].kind == PLAN_SET_PODS4
									 ? PLAN_FC_KNOWN4
									 : PLAN_FC_KNOWN6);

		if (s && (r = plan_set_add(s, &fc[i].el)) < 0)
			return ctx->err = r;
	}

	for (int d = 0; d < 2; d++) {
		struct plan_chain *c;
		const struct compiled_rule *const *crs;
		size_t n;

		if ((r = plan_pod_chain(ctx->e, ctx->cfg, pod, d, &c)) < 0)
			return ctx->err = r;
		if (!c)
			continue;
		if ((r = plan_map_puts(&ctx->p->chains, c->name, c, NULL)) < 0) {
			plan_chain_free(c);
			return ctx->err = r;
		}
		/* reference counts of the rules' sets */
		n = engine_pod_rules(ctx->e, pod, d, &crs);
		for (size_t i = 0; i < n; i++) {
			char key[PLAN_NAME_MAX];
			struct plan_rule_info *ri;
			bool used = false;

			plan_rule_key(crs[i]->pol->ns, crs[i]->pol->name, d, crs[i]->index, key);
			for (size_t k = 0; k < c->n_rule_keys && !used; k++)
				used = strcmp(c->rule_keys[k], key) == 0;
			if (!used)
				continue;
			ri = plan_map_gets(&ctx->rules, key);
			if (!ri) {
				ri = calloc(1, sizeof(*ri));
				if (!ri || plan_map_puts(&ctx->rules, key, ri, NULL) < 0) {
					free(ri);
					return ctx->err = -ENOMEM;
				}
				ri->id = crs[i]->id;
				ri->all_pods = plan_rule_named_ipblock(crs[i]);
				if ((r = plan_add_rule_sets(ctx->e, crs[i], ctx->p, &ri->records)) < 0)
					return ctx->err = r;
			}
			ri->refs++;
		}
		/* vmap elements: the pod's addresses jump to its chain */
		for (size_t f = 0; f < pod->n_ips; f++) {
			struct plan_set *s = plan_map_gets(
				&ctx->p->sets, plan_vmap_name(d, pod->ips[f].family));
			struct plan_elem el;

			plan_elem_addr(&pod->ips[f], &el);
			el.chain = c->name;
			if (s && !plan_map_get(&s->elems, el.key, el.klen) &&
			    (r = plan_set_add(s, &el)) < 0)
				return ctx->err = r;
		}
	}
	return 0;
}

int plan_build(const struct engine *e, const struct plan_config *cfg, struct plan *ret,
	       struct plan_map *ret_rules)
{
	struct build_ctx ctx = {.e = e, .cfg = cfg, .p = ret};
	int r;

	*ret = (struct plan){0};
	if ((r = plan_add_base_cfg(ret, cfg)) < 0)
		goto fail;
	engine_foreach_pod(e, build_pod_cb, &ctx);
	if ((r = ctx.err) < 0)
		goto fail;
	if (ret_rules)
		*ret_rules = ctx.rules;
	else
		plan_map_clear(&ctx.rules, rule_info_free_v);
	return 0;
fail:
	plan_map_clear(&ctx.rules, rule_info_free_v);
	plan_clear(ret);
	return r;
}

