/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reference NetworkPolicy evaluator: loops over every policy for every
 * question, re-derives isolation, label matches and prefixes bit by bit.
 * It exists to be obviously right, not fast (see tests/unit/test_differential.c).
 */
#include "reference.h"

static const char *ref_label(const struct labels *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, key) == 0)
			return l->v[i].value;
	return NULL;
}

static bool ref_in_values(const struct selector_req *q, const char *v)
{
	for (size_t i = 0; i < q->n_values; i++)
		if (strcmp(q->values[i], v) == 0)
			return true;
	return false;
}

/*
 * ns_name != NULL: l is a namespace without its object, whose only label is
 * kubernetes.io/metadata.name=ns_name.
 */
static const char *ref_get(const struct labels *l, const char *ns_name, const char *key)
{
	if (ns_name)
		return strcmp(key, "kubernetes.io/metadata.name") == 0 ? ns_name : NULL;
	return ref_label(l, key);
}

static bool ref_selector(const struct selector *s, const struct labels *l, const char *ns_name)
{
	for (size_t i = 0; i < s->match_labels.n; i++) {
		const char *v = ref_get(l, ns_name, s->match_labels.v[i].key);

		if (!v || strcmp(v, s->match_labels.v[i].value) != 0)
			return false;
	}
	for (size_t i = 0; i < s->n_exprs; i++) {
		const struct selector_req *q = &s->exprs[i];
		const char *v = ref_get(l, ns_name, q->key);
		bool ok;

		switch (q->op) {
		case SEL_OP_IN:
			ok = v && ref_in_values(q, v);
			break;
		case SEL_OP_NOT_IN:
			ok = !v || !ref_in_values(q, v);
			break;
		case SEL_OP_EXISTS:
			ok = v != NULL;
			break;
		case SEL_OP_DOES_NOT_EXIST:
			ok = v == NULL;
			break;
		default:
			ok = false;
		}
		if (!ok)
			return false;
	}
	return true;
}

static bool ref_ns_matches(const struct reference_world *w, const struct selector *s,
			   const char *ns)
{
	for (size_t i = 0; i < w->n_nss; i++)
		if (strcmp(w->nss[i]->name, ns) == 0)
			return ref_selector(s, &w->nss[i]->labels, NULL);
	return ref_selector(s, NULL, ns);
}

static bool ref_bit(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

static bool ref_in_cidr(const struct cidr *c, const struct ip_addr *ip)
{
	if (c->addr.family != ip->family)
		return false;
	for (unsigned i = 0; i < c->plen; i++)
		if (ref_bit(c->addr.a, i) != ref_bit(ip->a, i))
			return false;
	return true;
}

static bool ref_is_peer_pod(const struct pod_obj *p)
{
	return !p->host_network && p->n_ips > 0 && p->phase != POD_PHASE_SUCCEEDED && p->phase != POD_PHASE_FAILED;
}

static bool ref_same_pod(const struct pod_obj *a, const struct pod_obj *b)
{
	return strcmp(a->ns, b->ns) == 0 && strcmp(a->name, b->name) == 0;
}

static bool ref_peer(const struct reference_world *w, const struct netpol *pol,
		     const struct np_peer *pp, const struct endpoint *ep)
{
	const struct pod_obj *p = ep->pod;

	if (pp->kind == PEER_IPBLOCK) {
		if (!ref_in_cidr(&pp->cidr, &ep->ip))
			return false;
		for (size_t i = 0; i < pp->n_except; i++)
			if (ref_in_cidr(&pp->except[i], &ep->ip))
				return false;
		return true;
	}
	if (!p || !ref_is_peer_pod(p))
		return false;
	if (!pp->has_pod_selector && !pp->has_ns_selector)
		return false;
	if (pp->has_ns_selector) {
		if (!ref_ns_matches(w, &pp->ns_selector, p->ns))
			return false;
	} else if (strcmp(p->ns, pol->ns) != 0) {
		return false;
	}
	if (pp->has_pod_selector && !ref_selector(&pp->pod_selector, &p->labels, NULL))
		return false;
	return true;
}

static bool ref_port(const struct np_port *pp, const struct pod_obj *dst, enum proto proto,
		     uint16_t port)
{
	if (pp->proto != proto)
		return false;
	if (pp->name) {
		if (!dst)
			return false;
		for (size_t i = 0; i < dst->n_ports; i++)
			if (dst->ports[i].name && strcmp(dst->ports[i].name, pp->name) == 0 &&
			    dst->ports[i].proto == proto && dst->ports[i].port == port)
				return true;
		return false;
	}
	if (!pp->has_port)
		return true;
	return port >= pp->port && port <= (pp->end_port < pp->port ? pp->port : pp->end_port);
}

/*
 * One direction for pod self, counting only the policies of one mode:
 * isolated if some such policy of its namespace selects it with that type;
 * then some rule of those must allow peer / dst_pod.
 */
static bool ref_half_mode(const struct reference_world *w, const struct pod_obj *self, bool ingress,
			  const struct endpoint *peer, const struct pod_obj *dst_pod,
			  enum proto proto, uint16_t port, enum np_mode mode, bool *ret_isolated)
{
	bool isolated = false;

	*ret_isolated = false;
	if (self->host_network)
		return true;
	for (size_t i = 0; i < w->n_pols; i++) {
		const struct netpol *pol = w->pols[i];
		const struct np_rule *rules = ingress ? pol->ingress : pol->egress;
		size_t n = ingress ? pol->n_ingress : pol->n_egress;

		if (strcmp(pol->ns, self->ns) != 0 || !(ingress ? pol->type_ingress : pol->type_egress))
			continue;
		if (pol->mode != mode)
			continue;
		if (!ref_selector(&pol->pod_selector, &self->labels, NULL))
			continue;
		isolated = *ret_isolated = true;
		for (size_t j = 0; j < n; j++) {
			const struct np_rule *r = &rules[j];
			bool peer_ok = r->n_peers == 0, port_ok = r->n_ports == 0;

			for (size_t k = 0; k < r->n_peers && !peer_ok; k++)
				peer_ok = ref_peer(w, pol, &r->peers[k], peer);
			for (size_t k = 0; k < r->n_ports && !port_ok; k++)
				port_ok = ref_port(&r->ports[k], dst_pod, proto, port);
			if (peer_ok && port_ok)
				return true;
		}
	}
	return !isolated;
}

/* Enforcement: audit-mode policies never isolate and never allow. */
static bool ref_half(const struct reference_world *w, const struct pod_obj *self, bool ingress,
		     const struct endpoint *peer, const struct pod_obj *dst_pod, enum proto proto,
		     uint16_t port)
{
	bool iso;

	return ref_half_mode(w, self, ingress, peer, dst_pod, proto, port, NP_MODE_ENFORCE, &iso);
}

/* Audit: no enforcing policy isolates self, some audit policy does, and none of those allows. */
static bool ref_half_audit_denied(const struct reference_world *w, const struct pod_obj *self,
				  bool ingress, const struct endpoint *peer,
				  const struct pod_obj *dst_pod, enum proto proto, uint16_t port)
{
	bool iso_enf, iso_audit, ok;

	(void)ref_half_mode(w, self, ingress, peer, dst_pod, proto, port, NP_MODE_ENFORCE,
			    &iso_enf);
	ok = ref_half_mode(w, self, ingress, peer, dst_pod, proto, port, NP_MODE_AUDIT,
			   &iso_audit);
	return !iso_enf && iso_audit && !ok;
}

void reference_audit(const struct reference_world *w, const struct endpoint *src,
		     const struct endpoint *dst, enum proto proto, uint16_t port,
		     bool *ret_egress, bool *ret_ingress)
{
	*ret_egress = *ret_ingress = false;
	if (src->pod && dst->pod && ref_same_pod(src->pod, dst->pod))
		return;
	if (src->pod)
		*ret_egress = ref_half_audit_denied(w, src->pod, false, dst, dst->pod, proto, port);
	if (dst->pod)
		*ret_ingress = ref_half_audit_denied(w, dst->pod, true, src, dst->pod, proto, port);
}

bool reference_verdict(const struct reference_world *w, const struct endpoint *src,
		       const struct endpoint *dst, enum proto proto, uint16_t port)
{
	if (src->pod && dst->pod && ref_same_pod(src->pod, dst->pod))
		return true;
	if (src->pod && !ref_half(w, src->pod, false, dst, dst->pod, proto, port))
		return false;
	if (dst->pod && !ref_half(w, dst->pod, true, src, dst->pod, proto, port))
		return false;
	return true;
}

void reference_endpoint_from_ip(const struct reference_world *w, const struct ip_addr *ip,
				struct endpoint *ret)
{
	const struct pod_obj *best = NULL;

	for (size_t i = 0; i < w->n_pods; i++) {
		const struct pod_obj *p = w->pods[i];
		bool has = false;

		if (!ref_is_peer_pod(p))
			continue;
		for (size_t j = 0; j < p->n_ips; j++)
			if (p->ips[j].family == ip->family &&
			    memcmp(p->ips[j].a, ip->a, ip->family == AF_INET ? 4 : 16) == 0)
				has = true;
		if (!has)
			continue;
		if (!best) {
			best = p;
		} else if ((p->phase == POD_PHASE_RUNNING) != (best->phase == POD_PHASE_RUNNING)) {
			if (p->phase == POD_PHASE_RUNNING)
				best = p;
		} else if (strcmp(p->ns, best->ns) < 0 ||
			   (strcmp(p->ns, best->ns) == 0 && strcmp(p->name, best->name) < 0)) {
			best = p;
		}
	}
	*ret = (struct endpoint){.pod = best, .ip = *ip};
}

bool reference_rule_member(const struct reference_world *w, const struct netpol *pol,
			   const struct np_rule *r, const struct pod_obj *pod)
{
	struct endpoint ep = {.pod = pod};

	if (pod->n_ips)
		ep.ip = pod->ips[0];
	for (size_t k = 0; k < r->n_peers; k++)
		if (r->peers[k].kind == PEER_SELECTOR && ref_peer(w, pol, &r->peers[k], &ep))
			return true;
	return false;
}
