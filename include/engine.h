/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The policy engine: holds the cluster model (namespaces, pods, policies,
 * services), keeps a selector index up to date incrementally, and answers
 * verdict(source, destination, protocol, port) with an explanation. It also
 * records, per update, which compiled rules and which pods changed, which is
 * exactly what the dataplane turns into nftables deltas. Pure: no I/O, no
 * logging.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct engine;

enum direction {
	DIR_INGRESS = 0,
	DIR_EGRESS = 1,
};

const char *direction_name(enum direction d); /* "ingress" / "egress" */

/* Create an empty engine. NULL on allocation failure. */
struct engine *engine_new(void);
/* Free everything, including all objects handed in. Accepts NULL. */
void engine_free(struct engine *e);

/*
 * Insert or replace an object (keyed by kind, namespace, name). Takes
 * ownership of obj's contents on success and on failure (obj is cleared).
 * Returns 0, or -ENOMEM. Objects are assumed valid (decoders validate).
 */
int engine_apply(struct engine *e, struct k8s_object *obj);

/* Remove an object. ns is ignored for namespaces. Returns 0 or -ENOENT. */
int engine_delete(struct engine *e, enum obj_kind kind, const char *ns, const char *name);

/* Lookups; returned pointers stay valid until the object is replaced or deleted. */
const struct namespace_obj *engine_namespace(const struct engine *e, const char *name);
const struct pod_obj *engine_pod(const struct engine *e, const char *ns, const char *name);
/* The peer pod (pod_is_peer) holding ip; prefers Running pods on a collision. */
const struct pod_obj *engine_pod_by_ip(const struct engine *e, const struct ip_addr *ip);
const struct netpol *engine_policy(const struct engine *e, const char *ns, const char *name);
const struct service_obj *engine_service(const struct engine *e, const char *ns, const char *name);

/* Iteration in a stable order (namespace, then name). Callback returns < 0 to stop. */
int engine_foreach_pod(const struct engine *e, int (*cb)(void *ud, const struct pod_obj *p), void *ud);
int engine_foreach_policy(const struct engine *e, int (*cb)(void *ud, const struct netpol *p), void *ud);
int engine_foreach_namespace(const struct engine *e,
			     int (*cb)(void *ud, const struct namespace_obj *n), void *ud);

struct engine_counts {
	size_t namespaces, pods, policies, services, rules;
};
void engine_counts(const struct engine *e, struct engine_counts *ret);

/*
 * A compiled rule: one entry of a policy's spec.ingress or spec.egress.
 * Its id is unique for the lifetime of the engine and never reused; it stays
 * the same while the policy's rule is unchanged.
 */
struct compiled_rule {
	uint32_t id;
	const struct netpol *pol;
	enum direction dir;
	unsigned index;
	const struct np_rule *rule;
};

/*
 * The selector members of a rule: the peer pods (pod_is_peer) matched by any
 * PEER_SELECTOR peer of the rule (ipBlocks are not members; they are matched
 * by address). A rule with no peers at all matches everything and has no
 * members. Calls cb for each; returns the count or < 0 if cb stopped it.
 */
int engine_rule_members(const struct engine *e, uint32_t rule_id,
			int (*cb)(void *ud, const struct pod_obj *p), void *ud);
const struct compiled_rule *engine_rule(const struct engine *e, uint32_t rule_id);

/*
 * Whether pod (a target) is isolated in dir: selected by an enforcing policy
 * (mode enforce, the default) having that type.
 */
bool engine_pod_isolated(const struct engine *e, const struct pod_obj *pod, enum direction dir);

/*
 * Audit mode (netpold.io/mode: audit). Policies are additive, so an audit
 * policy only matters where it is the reason a pod would be isolated: a pod
 * selected in dir by audit policies only is "audited" there (not isolated):
 * its traffic is checked against the audit policies' rules, and what they
 * would deny is reported but allowed. Where an enforcing policy isolates the
 * pod, audit policies are ignored in that direction (they open nothing).
 * engine_pod_audit() says whether pod is audited in dir; for such a pod,
 * engine_pod_policies() and engine_pod_rules() return the audit policies
 * and their rules.
 */
bool engine_pod_audit(const struct engine *e, const struct pod_obj *pod, enum direction dir);

/*
 * The policies selecting pod that isolate it in dir (or, when the pod is
 * audited in dir, the audit policies), sorted by namespace/name.
 * *ret points into engine memory valid until the next update. Returns count.
 */
size_t engine_pod_policies(const struct engine *e, const struct pod_obj *pod, enum direction dir,
			   const struct netpol *const **ret);

/*
 * The rules that apply to pod in dir (the union the pod's traffic is checked
 * against), in a stable order (policy namespace/name, rule index). Returns
 * the count; *ret valid until the next update.
 */
size_t engine_pod_rules(const struct engine *e, const struct pod_obj *pod, enum direction dir,
			const struct compiled_rule *const **ret);

/*
 * Resolve the ports of rule r against a destination pod (NULL for a non-pod
 * destination): numeric ports as they are, named ports through the pod's
 * container ports (name and protocol must match; unresolved names are
 * dropped). Returns the number of ranges written to ret (at most max); -E2BIG
 * if more were needed. A rule without ports yields one range with
 * all_protocols set.
 */
struct port_range {
	bool all_protocols; /* rule has no ports: every protocol and port */
	enum proto proto;
	uint16_t lo, hi; /* 0..65535 when the port item had no port */
};
int engine_resolve_ports(const struct np_rule *r, const struct pod_obj *dst, struct port_range *ret,
			 size_t max);

/*
 * Changes recorded since the last drain, in order. A consumer (the daemon's
 * reconcile) drains them after applying a batch of updates.
 *  RULE_ADDED / RULE_REMOVED: a compiled rule appeared or went away (rule_id).
 *  MEMBER_ADDED / MEMBER_REMOVED: pod joined or left rule_id's members. When a
 *    member pod's IPs or container ports change, it is reported as removed
 *    then added again.
 *  POD_TARGET: the pod's isolation, applying rules, IPs, container ports or
 *    node changed (the dataplane rebuilds that pod's chains only).
 *  POD_REMOVED: the pod is gone (after its MEMBER_REMOVED entries).
 * The pod pointer in a change is only valid during the drain callback and
 * must not be used for POD_REMOVED beyond the identity fields (ns, name,
 * ips, node_name, which the engine keeps alive until the drain returns).
 */
enum engine_change_kind {
	ENGINE_CHG_RULE_ADDED,
	ENGINE_CHG_RULE_REMOVED,
	ENGINE_CHG_MEMBER_ADDED,
	ENGINE_CHG_MEMBER_REMOVED,
	ENGINE_CHG_POD_TARGET,
	ENGINE_CHG_POD_REMOVED,
};

struct engine_change {
	enum engine_change_kind kind;
	uint32_t rule_id;
	const struct pod_obj *pod;
};

/* Call cb for every change since the last drain, then forget them. Returns count. */
size_t engine_drain_changes(struct engine *e, void (*cb)(void *ud, const struct engine_change *c),
			    void *ud);
/* Forget recorded changes without visiting them (offline tools). */
void engine_discard_changes(struct engine *e);

/* An endpoint of a verdict question: a pod, or a bare IP that is no pod's. */
struct endpoint {
	const struct pod_obj *pod; /* NULL for a bare IP */
	struct ip_addr ip;         /* the address used (family picks the pod's IP) */
};

/*
 * Fill ep for a pod in the given family. Returns 0, or -EADDRNOTAVAIL when
 * the pod has no address of that family.
 */
int endpoint_from_pod(const struct pod_obj *pod, int family, struct endpoint *ret);
/* Fill ep for an IP; if it is a peer pod's IP, ep->pod is that pod. */
void engine_endpoint_from_ip(const struct engine *e, const struct ip_addr *ip, struct endpoint *ret);

/* Which rule allowed one direction. */
struct rule_match {
	const struct netpol *pol;
	enum direction dir;
	unsigned rule;
	int peer; /* index in from/to, -1 when the rule has no peers */
	int port; /* index in ports, -1 when the rule has no ports */
};

struct half_verdict {
	bool checked;  /* false: endpoint is not a pod target (bare IP, hostNetwork) */
	bool isolated; /* some enforcing policy isolates the pod in this direction */
	bool allowed;
	struct rule_match by; /* valid when (isolated && allowed) || (audit && !audit_denied) */
	/*
	 * when isolated (or audit) and nothing matched: the policies that isolate
	 * the pod (and so deny), or the audit policies that would
	 */
	const struct netpol *const *isolating;
	size_t n_isolating;
	/* not isolated, but audited (engine_pod_audit): the rules were checked, allowed stays true */
	bool audit;
	bool audit_denied; /* audit: no audit rule matched, "would be denied (audit)" */
};

struct explanation {
	bool allowed;
	bool self; /* source and destination are the same pod: always allowed */
	struct half_verdict egress;  /* of the source */
	struct half_verdict ingress; /* of the destination */
};

/*
 * The verdict for a new connection from src to dst on proto/port (port is
 * the destination port). Both endpoints must use the same family. ret may be
 * NULL for the fast path. Returns true if allowed. Pointers in ret are valid
 * until the next update.
 */
bool engine_verdict(const struct engine *e, const struct endpoint *src, const struct endpoint *dst,
		    enum proto proto, uint16_t port, struct explanation *ret);

/*
 * Service reachability. For each backend of svc (peer pods in svc's namespace
 * matched by its equality selector; none when !has_selector) behind service
 * port svc_port/proto, resolve the targetPort (numeric, or named through the
 * backend's container ports with the same protocol; unresolved backends are
 * skipped) and call cb(ud, backend, target_port). The caller then asks
 * engine_verdict for the client -> backend:target_port connection. Returns
 * the number of callbacks made, -ENOENT if svc has no such port, or the
 * callback's negative value if it stopped the walk. Order: backend ns/name.
 */
int engine_service_backends(const struct engine *e, const struct service_obj *svc,
			    uint16_t svc_port, enum proto proto,
			    int (*cb)(void *ud, const struct pod_obj *backend, uint16_t target_port),
			    void *ud);

/*
 * Change log details, as implemented (adds to the description above):
 *  - RULE_ADDED is followed by one MEMBER_ADDED per initial member of that
 *    rule; RULE_REMOVED is not preceded by MEMBER_REMOVED entries (the
 *    rule's members go with it). Replaying MEMBER_* from RULE_ADDED on
 *    gives exactly engine_rule_members().
 *  - A policy update keeps the id of every rule whose index and content are
 *    unchanged (and whose direction is still in policyTypes); other rules are
 *    removed and re-added with fresh ids. Rules of a direction missing from
 *    policyTypes are not compiled.
 *  - POD_TARGET is recorded for every new target pod, for a pod whose
 *    isolation or applying rules changed, whose IPs, ports or node changed,
 *    and for the pods a policy selects when the policy's mode changes.
 *  - Applying an object identical to the stored one records nothing.
 *  - On -ENOMEM the index may be incomplete: rebuild the engine (resync).
 */
