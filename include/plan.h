/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dataplane's desired state, pure: turns the engine's compiled rules and
 * local pods into named nftables objects (sets with elements, chains with
 * rules) and computes the difference between two such states. No I/O, no
 * logging; daemon/nft_*.c turns a plan_delta into netlink messages.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define PLAN_NAME_MAX 256 /* NFT_NAME_MAXLEN, including the NUL */
#define PLAN_KEY_MAX 24   /* ipv6_addr . inet_proto . inet_service */
#define PLAN_COMMENT_MAX 128 /* NFTNL_UDATA_COMMENT_MAXLEN */

/* nft's datatype ids (nftables src/datatype.h), used as set key types. */
#define PLAN_TYPE_IPV4 7
#define PLAN_TYPE_IPV6 8
#define PLAN_TYPE_PROTO 12
#define PLAN_TYPE_SERVICE 13
#define PLAN_TYPE_CONCAT(a, b, c) ((((a) << 6 | (b)) << 6) | (c))
#define PLAN_DATA_VERDICT 0xffffff00u

/* ---- a small byte-keyed hash map (open addressing) ---- */
struct plan_map_ent {
	uint32_t hash; /* 0: empty; 1: tombstone */
	uint16_t klen;
	void *key;
	void *val;
};

struct plan_map {
	struct plan_map_ent *v;
	size_t cap, n, used;
};

void *plan_map_get(const struct plan_map *m, const void *key, size_t klen);
/* Insert or replace (the old value goes to *ret_old when non-NULL). 0 or -ENOMEM. */
int plan_map_put(struct plan_map *m, const void *key, size_t klen, void *val, void **ret_old);
/* Remove; returns the value or NULL. */
void *plan_map_del(struct plan_map *m, const void *key, size_t klen);
/* Iterate: for (size_t i = 0; plan_map_next(m, &i, &ent);) */
bool plan_map_next(const struct plan_map *m, size_t *i, struct plan_map_ent **ret);
/* Free the table and keys; free_val (may be NULL) is called on each value. */
void plan_map_clear(struct plan_map *m, void (*free_val)(void *));

static inline void *plan_map_gets(const struct plan_map *m, const char *s)
{
	return plan_map_get(m, s, strlen(s));
}
static inline void *plan_map_dels(struct plan_map *m, const char *s)
{
	return plan_map_del(m, s, strlen(s));
}
static inline int plan_map_puts(struct plan_map *m, const char *s, void *val, void **ret_old)
{
	return plan_map_put(m, s, strlen(s), val, ret_old);
}

/* ---- objects ---- */
enum plan_set_kind {
	PLAN_SET_PODS4,
	PLAN_SET_PODS6,
	PLAN_SET_CIDR4,
	PLAN_SET_CIDR6,
	PLAN_SET_NAMED4,
	PLAN_SET_NAMED6,
	PLAN_SET_VMAP4,
	PLAN_SET_VMAP6,
	_PLAN_SET_KIND_MAX,
};

/*
 * One set element. Plain sets: key. Interval sets: [key, end) with end
 * absent when the interval runs to the top of the address space. Verdict
 * maps: key -> jump chain.
 */
struct plan_elem {
	uint8_t klen;
	uint8_t key[PLAN_KEY_MAX];
	bool has_end;
	uint8_t end[16];
	char *chain;
	uint32_t refs; /* how many pods contribute this element (mirror bookkeeping) */
};

struct plan_set {
	char *name;
	char *comment;
	enum plan_set_kind kind;
	uint32_t key_type, key_len, flags, data_type;
	struct plan_map elems; /* key bytes -> struct plan_elem */
};

enum plan_verdict {
	PLAN_V_ACCEPT,
	PLAN_V_DROP,
	PLAN_V_RETURN,
	PLAN_V_REJECT_TCP,   /* meta l4proto tcp reject with tcp reset */
	PLAN_V_REJECT_ICMPX, /* reject with icmpx admin-prohibited */
	PLAN_V_VMAP,         /* <addr> vmap @set */
	PLAN_V_CONTINUE,     /* no verdict: a log rule, evaluation goes on */
};

/* NFLOG prefixes are at most 127 bytes (NF_LOG_PREFIXLEN, with the NUL). */
#define PLAN_LOG_PREFIX_MAX 128

enum plan_addr { PLAN_ADDR_NONE, PLAN_ADDR_SRC, PLAN_ADDR_DST };

/*
 * One rule, as the conjunction: [meta nfproto] [ct state established,related]
 * [icmpv6 nd] [addr lookup @set | addr . l4proto . th dport @set (named)]
 * [addr != @nset] [meta l4proto] [th dport lo-hi]
 * [limit rate R/second burst B packets log group G prefix "P"] [counter] verdict.
 */
struct plan_rule {
	uint8_t nfproto; /* 0, NFPROTO_IPV4, NFPROTO_IPV6 */
	bool ct_estrel;
	bool icmpv6_nd;
	enum plan_addr addr;
	bool named; /* set is a named-port concatenation (addr . l4proto . th dport) */
	char *set;  /* lookup set or verdict map */
	char *nset; /* and the same address not in this set (inverted lookup); needs set */
	/* deny records: a rate-limited NFLOG statement (verdict PLAN_V_CONTINUE) */
	bool log;
	uint16_t log_group;
	uint32_t log_rate, log_burst; /* packets per second, burst in packets */
	char *log_prefix;
	uint8_t l4proto;
	bool has_ports;
	uint16_t port_lo, port_hi;
	/*
	 * `counter` before the verdict (per-pod chains' allow and deny rules).
	 * packets/bytes are only filled by the parser of dumped rules and are
	 * ignored by plan_rule_equal(): a counter's value is no difference.
	 */
	bool counter;
	uint64_t packets, bytes;
	enum plan_verdict verdict;
	char *comment;
};

struct plan_chain {
	char *name;
	char *comment;
	bool base;
	uint32_t hooknum; /* NF_INET_* when base */
	struct plan_rule *rules;
	size_t n_rules;
	/* rule keys (set name prefixes) this chain references, for set refcounting */
	char **rule_keys;
	size_t n_rule_keys;
	char *pod; /* "ns/name" of the pod owning the chain; NULL for base chains */
};

struct plan {
	bool has_table;
	struct plan_map sets;   /* name -> struct plan_set */
	struct plan_map chains; /* name -> struct plan_chain */
};

void plan_elem_free(struct plan_elem *el);
void plan_set_free(struct plan_set *s);
void plan_chain_free(struct plan_chain *c);
void plan_clear(struct plan *p);

/* A set of the given kind with its fixed type (no elements). NULL on ENOMEM. */
struct plan_set *plan_set_new(const char *name, enum plan_set_kind kind, const char *comment);
/* Add (or count another reference to) an element; takes nothing. 0 or -ENOMEM. */
int plan_set_add(struct plan_set *s, const struct plan_elem *el);
bool plan_elem_equal(const struct plan_elem *a, const struct plan_elem *b);
bool plan_set_same_type(const struct plan_set *a, const struct plan_set *b);
bool plan_set_same_elems(const struct plan_set *a, const struct plan_set *b);
bool plan_chain_equal(const struct plan_chain *a, const struct plan_chain *b);
bool plan_rule_equal(const struct plan_rule *a, const struct plan_rule *b);

/* ---- names ---- */
/* Deterministic, <= 255 bytes; over-long names are cut and get a hash suffix. */
void plan_chain_name(enum direction dir, const char *ns, const char *pod, char ret[PLAN_NAME_MAX]);
/* The prefix of a compiled rule's sets: "<ns>_<policy>_in<idx>" / "_eg<idx>". */
void plan_rule_key(const char *ns, const char *pol, enum direction dir, unsigned idx,
		   char ret[PLAN_NAME_MAX]);
/* "<rule_key>_pods4" etc. */
void plan_set_name(const char *rule_key, enum plan_set_kind kind, char ret[PLAN_NAME_MAX]);
/* A copy of s cut to at most max bytes (names and comments have kernel limits). NULL on ENOMEM. */
char *plan_strdup_max(const char *s, size_t max);
const char *plan_vmap_name(enum direction dir, int family);

/* ---- elements ---- */
void plan_elem_addr(const struct ip_addr *ip, struct plan_elem *ret);
/* ip . proto . port, each field padded to 4 bytes as the kernel's registers. */
void plan_elem_named(const struct ip_addr *ip, uint8_t proto, uint16_t port, struct plan_elem *ret);

/*
 * The union over rule's ipBlock peers of family of (cidr minus excepts), as
 * sorted, disjoint, non-adjacent intervals. Returns the count written (at
 * most max) or -E2BIG.
 */
int plan_rule_intervals(const struct np_rule *rule, int family, struct plan_elem *ret, size_t max);

/* ---- building from the engine ---- */
struct plan_config {
	const char *node_name;
	bool reject;
	/*
	 * Deny records (docs/deny-records.md): with log, every per-pod chain gets
	 * `limit rate log_rate/second burst log_burst packets log group log_group
	 * prefix "<plan_log_prefix>"` before its deny verdict, and pods isolated
	 * only by audit-mode policies get audit chains (which never deny).
	 */
	bool log;
	uint16_t log_group;
	uint32_t log_rate, log_burst;
	/*
	 * Fail-closed: addresses inside these ranges that are no known pod's are
	 * rejected by the base chains (sets fc_range4/6 and fc_known4/6).
	 */
	const struct cidr *fc_cidrs;
	size_t n_fc_cidrs;
};

/* Fail-closed sets. */
#define PLAN_FC_RANGE4 "fc_range4"
#define PLAN_FC_RANGE6 "fc_range6"
#define PLAN_FC_KNOWN4 "fc_known4"
#define PLAN_FC_KNOWN6 "fc_known6"

/*
 * The NFLOG prefix of pod's chain in dir: "np:<i|e>[a]:<ns>/<name>" ('a':
 * an audit chain), or "np:<i|e>[a]:#<16 hex digits>" (plan_log_pod_hash of
 * "ns/name") when that does not fit in 127 bytes.
 */
void plan_log_prefix(enum direction dir, bool audit, const char *ns, const char *pod,
		     char ret[PLAN_LOG_PREFIX_MAX]);
uint64_t plan_log_pod_hash(const char *ns, const char *pod);

/*
 * The fail-closed known-set elements pod contributes (kind PLAN_SET_PODS4/6):
 * its addresses inside cfg's fail-closed ranges, for pods that are not
 * hostNetwork. Returns the count (at most max) or -E2BIG.
 */
struct plan_member_elem;
int plan_fc_elems(const struct plan_config *cfg, const struct pod_obj *pod,
		  struct plan_member_elem *ret, size_t max);

/* Whether the pod gets chains on this node. */
bool plan_pod_local(const struct plan_config *cfg, const struct pod_obj *pod);

/* The fixed objects: forward/input base chains and the four verdict maps (empty). */
int plan_add_base(struct plan *p);
/* Same, with cfg's fail-closed rules in the base chains and the fail-closed sets (ranges filled, known sets empty). */
int plan_add_base_cfg(struct plan *p, const struct plan_config *cfg);

/*
 * The chain of pod in dir, or *ret = NULL when the pod is not isolated there
 * (or not local / not a target). 0 or -ENOMEM.
 */
int plan_pod_chain(const struct engine *e, const struct plan_config *cfg,
		   const struct pod_obj *pod, enum direction dir, struct plan_chain **ret);

/* Whether rule uses named ports together with ipBlock peers (its named sets then depend on every pod). */
bool plan_rule_named_ipblock(const struct compiled_rule *cr);
bool plan_rule_has_named(const struct compiled_rule *cr);

/* The elements member pod contributes to rule's sets: (kind, elem) pairs. Returns count. */
struct plan_member_elem {
	enum plan_set_kind kind;
	struct plan_elem el;
};
int plan_member_elems(const struct compiled_rule *cr, const struct pod_obj *pod,
		      struct plan_member_elem *ret, size_t max);

/*
 * All sets of compiled rule cr with their full content, added to p (which
 * must not have them yet). If records is non-NULL, each member pod's
 * contribution is recorded there ("ns/name" -> struct plan_record).
 */
struct plan_record {
	size_t n;
	struct plan_member_elem *v;
};
void plan_record_free(struct plan_record *r);
int plan_add_rule_sets(const struct engine *e, const struct compiled_rule *cr, struct plan *p,
		       struct plan_map *records);

/* Per referenced compiled rule: what the dataplane keeps to update its sets incrementally. */
struct plan_rule_info {
	uint32_t id;      /* current compiled rule id */
	unsigned refs;    /* chains referencing the rule's sets */
	bool all_pods;    /* named sets depend on every pod: recompute on any pod change */
	bool pending;     /* newly referenced: sets not built yet (dataplane bookkeeping) */
	struct plan_map records; /* "ns/name" -> struct plan_record */
};
void plan_rule_info_free(struct plan_rule_info *ri);

/*
 * The whole desired state (table, base chains, local pods' chains, vmaps,
 * referenced sets). If ret_rules is non-NULL it receives rule key ->
 * struct plan_rule_info for every referenced rule. 0 or -ENOMEM.
 */
int plan_build(const struct engine *e, const struct plan_config *cfg, struct plan *ret,
	       struct plan_map *ret_rules);

/* ---- diff ---- */
struct plan_elem_op {
	const struct plan_set *set; /* borrowed from one of the two plans */
	const struct plan_elem *el;
};

struct plan_delta {
	bool add_table;
	const struct plan_set **add_sets, **del_sets, **flush_sets;
	size_t n_add_sets, n_del_sets, n_flush_sets;
	const struct plan_chain **add_chains, **del_chains, **replace_chains;
	size_t n_add_chains, n_del_chains, n_replace_chains;
	struct plan_elem_op *add_elems, *del_elems;
	size_t n_add_elems, n_del_elems;
};

void plan_delta_clear(struct plan_delta *d);
bool plan_delta_empty(const struct plan_delta *d);

/*
 * What turns cur into want. Pointers borrow from both plans, which must
 * outlive d. Interval sets whose content differs are flushed and refilled;
 * other sets get element adds/deletes; a set whose type differs is deleted
 * and re-created, and the chains using it are replaced. 0 or -ENOMEM.
 */
int plan_diff(const struct plan *cur, const struct plan *want, struct plan_delta *ret);
/* Diff of one set's elements (both present, same type) appended to d. */
int plan_diff_set(const struct plan_set *cur, const struct plan_set *want, struct plan_delta *d);
int plan_delta_add_elem(struct plan_delta *d, bool add, const struct plan_set *s,
			const struct plan_elem *el);
int plan_delta_push(const void ***arr, size_t *n, const void *obj);
