/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A brute-force evaluator of NetworkPolicy v1 written straight from the
 * rules, over plain arrays of objects, with its own label matcher. Slow on
 * purpose and sharing no code with the engine: the tests compare the two.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "model.h"

/* A cluster as plain arrays; the caller owns everything. */
struct reference_world {
	const struct namespace_obj *const *nss;
	size_t n_nss;
	const struct pod_obj *const *pods;
	size_t n_pods;
	const struct netpol *const *pols;
	size_t n_pols;
};

/*
 * The verdict for src -> dst on proto/port, exactly as engine_verdict()
 * documents it; endpoint pods must belong to w. Never allocates or logs.
 */
bool reference_verdict(const struct reference_world *w, const struct endpoint *src,
		       const struct endpoint *dst, enum proto proto, uint16_t port);

/*
 * Audit mode: whether the egress half (of src) and the ingress half (of dst)
 * would deny src -> dst if audit-mode policies were enforced, counted only
 * for a pod that no enforcing policy isolates in that direction (as
 * half_verdict.audit_denied).
 */
void reference_audit(const struct reference_world *w, const struct endpoint *src,
		     const struct endpoint *dst, enum proto proto, uint16_t port,
		     bool *ret_egress, bool *ret_ingress);

/*
 * The endpoint for ip: the peer pod holding it (on a collision Running
 * first, then the lowest namespace/name, as the engine), else a bare IP.
 */
void reference_endpoint_from_ip(const struct reference_world *w, const struct ip_addr *ip,
				struct endpoint *ret);

/* Whether pod (of w) is selected by some selector peer of rule r of pol. */
bool reference_rule_member(const struct reference_world *w, const struct netpol *pol,
			   const struct np_rule *r, const struct pod_obj *pod);
