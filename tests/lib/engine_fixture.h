/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hand-built clusters for the engine's unit tests (tests/lib/engine_fixture.c).
 * Every fx_ helper checks its own steps with Check assertions, so it may only
 * be called from inside a Check test. Labels are given as "k=v,k2=v2".
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

#define TCP PROTO_TCP
#define UDP PROTO_UDP
#define SCTP PROTO_SCTP

/* Apply a Namespace (with its kubernetes.io/metadata.name label). */
void fx_add_ns(struct engine *e, const char *name, const char *labels);
/* A Running pod on node-a with up to one address per family (NULL: none); caller owns it. */
struct pod_obj *fx_mk_pod(const char *ns, const char *name, const char *labels, const char *ip4,
			  const char *ip6);
void fx_pod_port(struct pod_obj *o, const char *name, uint16_t port, enum proto proto);
/* Apply o; the engine takes ownership. */
void fx_apply_pod(struct engine *e, struct pod_obj *o);
void fx_add_pod(struct engine *e, const char *ns, const char *name, const char *labels,
		const char *ip4, const char *ip6);

/* A policy selecting podsel with the given policy types; caller owns it. */
struct netpol *fx_mk_pol(const char *ns, const char *name, const char *podsel, bool in, bool eg);
/* A new empty rule of direction d in p. */
struct np_rule *fx_add_rule(struct netpol *p, enum direction d);
/* A selector peer. podsel / nssel: NULL = absent, "" = empty selector. */
void fx_peer_sel(struct np_rule *r, const char *podsel, const char *nssel);
/* An ipBlock peer with up to two exceptions (NULL: none). */
void fx_peer_ipblock(struct np_rule *r, const char *cidr, const char *ex1, const char *ex2);
/* A port (end 0: just port; name: a named port). */
void fx_rule_port(struct np_rule *r, enum proto proto, uint16_t port, uint16_t end,
		  const char *name);
/* Apply p; the engine takes ownership. */
void fx_apply_pol(struct engine *e, struct netpol *p);

/* "ns/name" (a pod, IPv4), "ns/name@6" (IPv6), or an address. */
void fx_ep(struct engine *e, const char *spec, struct endpoint *ret);
/* The id of the i-th rule of direction d selecting pod ("ns/name"). */
uint32_t fx_rule_id(struct engine *e, const char *pod, enum direction d, size_t i);
/* How many pods the rule id has as members. */
int fx_members(struct engine *e, uint32_t id);

/*
 * A small cluster: ns a (team=x), ns b (team=y), ns c has no Namespace object;
 * pods {a,b,c}/web (app=web), a/db, a/other, b/client. Its change log is empty.
 */
struct engine *fx_cluster(void);
