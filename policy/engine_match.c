/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The matcher: answers verdict(src, dst, proto, port) from the index. The
 * fast path (no explanation) checks each applying rule's ports, its member
 * set by pod id and its ipBlocks by address, without allocating. The slow
 * path also names the first matching rule, peer and port in stable order.
 */
#include "engine_int.h"

static bool prefix_match(const struct cidr *c, const struct ip_addr *ip)
{
	unsigned full = c->plen / 8, rest = c->plen % 8;

	if (c->addr.family != ip->family)
		return false;
	if (memcmp(c->addr.a, ip->a, full) != 0)
		return false;
	if (!rest)
		return true;
	return ((c->addr.a[full] ^ ip->a[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool ipblock_matches(const struct np_peer *pp, const struct ip_addr *ip)
{
	if (!prefix_match(&pp->cidr, ip))
		return false;
	for (size_t i = 0; i < pp->n_except; i++)
		if (prefix_match(&pp->except[i], ip))
			return false;
	return true;
}

/* Index of the first port item matching, -1 for "all ports", -2 for none. */
static int rule_port_index(const struct crule *c, const struct pod_hot *dst, enum proto proto,
			   uint16_t port)
{
	if (!c->n_fports)
		return -1;
	for (uint32_t i = 0; i < c->n_fports; i++) {
		const struct fport *f = &c->fports[i];

		if (f->proto != proto)
			continue;
		if (f->name < 0) {
			if (port >= f->lo && port <= f->hi)
				return (int)i;
			continue;
		}
		/* Named ports resolve on the destination pod only. */
		for (uint32_t j = 0; dst && j < dst->n_cports; j++)
			if (dst->cports[j].name == f->name && dst->cports[j].port == port &&
			    dst->cports[j].proto == proto)
				return (int)i;
	}
	return -2;
}

/* Index of the first peer matching, -1 for "all peers", -2 for none. */
static int rule_peer_index(const struct crule *c, const struct pod_ent *peer_ent,
			   const struct ip_addr *peer_ip, bool explain)
{
	const struct np_rule *r;
	bool member;

	if (c->any_peer)
		return -1;
	/* Namespace isolation ("from: podSelector: {}") needs no set lookup. */
	member = peer_ent && ((c->local_all && peer_ent->peer && peer_ent->ns == c->local_ns) ||
			      engine_u32set_has(&c->members, peer_ent->id));
	if (!explain && member)
		return 0; /* some selector peer matched; which one only matters when explaining */
	if (!member && !c->has_ipblock)
		return -2;
	r = c->pub.rule;
	for (size_t i = 0; i < r->n_peers; i++) {
		const struct np_peer *pp = &r->peers[i];

		if (pp->kind == PEER_IPBLOCK) {
			if (ipblock_matches(pp, peer_ip))
				return (int)i;
		} else if (member && engine_index_peer_selects(pp, c->pol, peer_ent)) {
			return (int)i;
		}
	}
	return -2;
}

static void half_check(const struct pod_ent *self, enum direction d, const struct endpoint *peer,
		       const struct pod_ent *peer_ent, const struct pod_hot *dst, enum proto proto,
		       uint16_t port, struct half_verdict *hv, bool explain)
{
	hv->checked = true;
	hv->isolated = self->isolated[d];
	hv->audit = self->audit[d];
	hv->allowed = !hv->isolated;
	if (!hv->isolated && !hv->audit)
		return;
	for (uint32_t i = 0; i < self->n_rules[d]; i++) {
		const struct crule *c = self->rules[d][i];
		int pi, ri;

		ri = rule_port_index(c, dst, proto, port);
		if (ri == -2)
			continue;
		pi = rule_peer_index(c, peer_ent, &peer->ip, explain);
		if (pi == -2)
			continue;
		hv->allowed = true;
		if (explain)
			hv->by = (struct rule_match){.pol = c->pub.pol, .dir = d, .rule = c->pub.index,
						     .peer = pi, .port = ri};
		return;
	}
	hv->isolating = self->pols[d];
	hv->n_isolating = self->n_pols[d];
	/* audit: nothing matched, so it would be denied, but audit policies never drop */
	hv->audit_denied = hv->audit;
}

/*
 * The fast path's half: whether some applying rule of self (enforced in d)
 * admits the peer. Reads only the dense per-pod records, the rule block and
 * the rules; the rules are prefetched together so their misses overlap.
 */
static bool fast_half(const struct pod_hot *self, enum direction d, uint32_t peer_id,
		      const struct pod_hot *peer, const struct ip_addr *peer_ip,
		      const struct pod_hot *dst, enum proto proto, uint16_t port)
{
	const struct tblock *tb = self->tb;
	const struct crule *const *rv =
		(const struct crule *const *)tb->v + (d == DIR_EGRESS ? tb->n_rules[DIR_INGRESS] : 0);
	uint32_t n = tb->n_rules[d];
	bool peer_pod = peer && (peer->flags & HOT_PEER);

	for (uint32_t i = 0; i < n; i++)
		__builtin_prefetch(rv[i]);
	for (uint32_t i = 0; i < n; i++) {
		const struct crule *c = rv[i];
		bool port_ok = !c->n_fports;

		for (uint32_t k = 0; k < c->n_fports && !port_ok; k++) {
			const struct fport *f = &c->fports[k];

			if (f->proto != proto)
				continue;
			if (f->name < 0) {
				port_ok = port >= f->lo && port <= f->hi;
				continue;
			}
			/* Named ports resolve on the destination pod only. */
			for (uint32_t j = 0; dst && j < dst->n_cports && !port_ok; j++)
				port_ok = dst->cports[j].name == f->name && dst->cports[j].port == port &&
					  dst->cports[j].proto == proto;
		}
		if (!port_ok)
			continue;
		if (c->any_peer)
			return true;
		/* Namespace isolation ("from: podSelector: {}") needs no set lookup. */
		if (peer && ((c->local_all && peer_pod && peer->ns == c->local_ns) ||
			     engine_u32set_has(&c->members, peer_id)))
			return true;
		if (!c->has_ipblock)
			continue;
		for (size_t k = 0; k < c->pub.rule->n_peers; k++) {
			const struct np_peer *pp = &c->pub.rule->peers[k];

			if (pp->kind == PEER_IPBLOCK && ipblock_matches(pp, peer_ip))
				return true;
		}
	}
	return false;
}

static bool fast_verdict(const struct engine *e, const struct endpoint *src,
			 const struct endpoint *dst, enum proto proto, uint16_t port)
{
	uint32_t sid = src->pod ? engine_pod_id(e, src->pod) : UINT32_MAX;
	uint32_t did = dst->pod ? engine_pod_id(e, dst->pod) : UINT32_MAX;
	const struct pod_hot *s = sid != UINT32_MAX ? &e->hot[sid] : NULL;
	const struct pod_hot *d = did != UINT32_MAX ? &e->hot[did] : NULL;
	bool s_enf = s && (s->flags & (HOT_ENFORCED << DIR_EGRESS));
	bool d_enf = d && (d->flags & (HOT_ENFORCED << DIR_INGRESS));

	if (d_enf) {
		__builtin_prefetch(d->tb);
		__builtin_prefetch(d->cports);
	}
	if (s_enf) {
		__builtin_prefetch(s->tb);
		if (d && !d_enf)
			__builtin_prefetch(d->cports);
		if (!fast_half(s, DIR_EGRESS, did, d, &dst->ip, d, proto, port))
			return false;
	}
	return !d_enf || fast_half(d, DIR_INGRESS, sid, s, &src->ip, d, proto, port);
}

bool engine_verdict(const struct engine *e, const struct endpoint *src, const struct endpoint *dst,
		    enum proto proto, uint16_t port, struct explanation *ret)
{
	struct explanation x;
	const struct pod_ent *s, *d;
	const struct pod_hot *dh;

	if (src->pod && src->pod == dst->pod) {
		if (ret)
			*ret = (struct explanation){.allowed = true, .self = true,
						    .egress.allowed = true, .ingress.allowed = true};
		return true;
	}
	if (!ret)
		/* Fast path: no explanation, stop at the first denying half. */
		return fast_verdict(e, src, dst, proto, port);
	s = src->pod ? engine_pod_ent(e, src->pod) : NULL;
	d = dst->pod ? engine_pod_ent(e, dst->pod) : NULL;
	dh = d ? &e->hot[d->id] : NULL;
	memset(&x, 0, sizeof(x));
	if (s && s->target)
		/* Egress: the destination is the peer, and named ports resolve on it. */
		half_check(s, DIR_EGRESS, dst, d, dh, proto, port, &x.egress, true);
	else
		x.egress.allowed = true;
	if (d && d->target)
		half_check(d, DIR_INGRESS, src, s, dh, proto, port, &x.ingress, true);
	else
		x.ingress.allowed = true;
	x.allowed = x.egress.allowed && x.ingress.allowed;
	*ret = x;
	return x.allowed;
}

int engine_resolve_ports(const struct np_rule *r, const struct pod_obj *dst, struct port_range *ret,
			 size_t max)
{
	size_t n = 0;

#define EMIT(...)                                                                                  \
	do {                                                                                       \
		if (n < max)                                                                       \
			ret[n] = (struct port_range){__VA_ARGS__};                                  \
		n++;                                                                               \
	} while (0)

	if (!r->n_ports)
		EMIT(.all_protocols = true, .proto = PROTO_TCP, .lo = 0, .hi = 65535);
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct np_port *pp = &r->ports[i];

		if (pp->name) {
			for (size_t j = 0; dst && j < dst->n_ports; j++) {
				const struct container_port *cp = &dst->ports[j];

				if (cp->proto == pp->proto && cp->name && strcmp(cp->name, pp->name) == 0)
					EMIT(.proto = pp->proto, .lo = cp->port, .hi = cp->port);
			}
		} else if (!pp->has_port) {
			EMIT(.proto = pp->proto, .lo = 0, .hi = 65535);
		} else {
			EMIT(.proto = pp->proto, .lo = pp->port,
			     .hi = pp->end_port > pp->port ? pp->end_port : pp->port);
		}
	}
#undef EMIT
	return n > max ? -E2BIG : (int)n;
}

bool engine_pod_isolated(const struct engine *e, const struct pod_obj *pod, enum direction dir)
{
	const struct pod_ent *p = engine_pod_ent(e, pod);

	return p && p->isolated[dir];
}

bool engine_pod_audit(const struct engine *e, const struct pod_obj *pod, enum direction dir)
{
	const struct pod_ent *p = engine_pod_ent(e, pod);

	return p && p->audit[dir];
}

size_t engine_pod_policies(const struct engine *e, const struct pod_obj *pod, enum direction dir,
			   const struct netpol *const **ret)
{
	const struct pod_ent *p = engine_pod_ent(e, pod);

	*ret = p ? p->pols[dir] : NULL;
	return p ? p->n_pols[dir] : 0;
}

size_t engine_pod_rules(const struct engine *e, const struct pod_obj *pod, enum direction dir,
			const struct compiled_rule *const **ret)
{
	const struct pod_ent *p = engine_pod_ent(e, pod);

	/* struct crule starts with its compiled_rule. */
	*ret = p ? (const struct compiled_rule *const *)p->rules[dir] : NULL;
	return p ? p->n_rules[dir] : 0;
}

int endpoint_from_pod(const struct pod_obj *pod, int family, struct endpoint *ret)
{
	const struct ip_addr *ip = pod_ip(pod, family);

	if (!ip)
		return -EADDRNOTAVAIL;
	*ret = (struct endpoint){.pod = pod, .ip = *ip};
	return 0;
}

void engine_endpoint_from_ip(const struct engine *e, const struct ip_addr *ip, struct endpoint *ret)
{
	*ret = (struct endpoint){.pod = engine_pod_by_ip(e, ip), .ip = *ip};
}

static int cmp_pod_name(const void *a, const void *b)
{
	const struct pod_obj *x = *(const struct pod_obj *const *)a;
	const struct pod_obj *y = *(const struct pod_obj *const *)b;

	return strcmp(x->name, y->name);
}

int engine_service_backends(const struct engine *e, const struct service_obj *svc,
			    uint16_t svc_port, enum proto proto,
			    int (*cb)(void *ud, const struct pod_obj *backend, uint16_t target_port),
			    void *ud)
{
	const struct service_port *sp = NULL;
	_cleanup_free_ const struct pod_obj **v = NULL;
	const struct ns_ent *n;
	size_t nv = 0;
	int count = 0;

	for (size_t i = 0; i < svc->n_ports && !sp; i++)
		if (svc->ports[i].port == svc_port && svc->ports[i].proto == proto)
			sp = &svc->ports[i];
	if (!sp)
		return -ENOENT;
	n = engine_ns_find(e, svc->ns);
	if (!svc->has_selector || !n || !n->pods.n)
		return 0;
	v = calloc(n->pods.n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < n->pods.cap; i++) {
		const struct pod_obj *o;

		if (n->pods.v[i] == UINT32_MAX)
			continue;
		o = e->pod_v[n->pods.v[i]]->obj;
		if (pod_is_peer(o) && selector_labels_match(&svc->selector, &o->labels))
			v[nv++] = o;
	}
	qsort(v, nv, sizeof(*v), cmp_pod_name);
	for (size_t i = 0; i < nv; i++) {
		uint16_t target = sp->target_port ? sp->target_port : sp->port;
		bool found = !sp->target_name;
		int k;

		/* A named targetPort resolves per backend, on its container ports. */
		for (size_t j = 0; sp->target_name && j < v[i]->n_ports && !found; j++) {
			const struct container_port *cp = &v[i]->ports[j];

			if (cp->proto == proto && cp->name && strcmp(cp->name, sp->target_name) == 0) {
				target = cp->port;
				found = true;
			}
		}
		if (!found)
			continue;
		k = cb(ud, v[i], target);
		if (k < 0)
			return k;
		count++;
	}
	return count;
}
