/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nftables over netlink (libnftnl + libmnl) for the dataplane: builders that
 * turn plan objects into nftnl objects and parse them back (nft_build.c),
 * and the transport (nft_io.c): one atomic batch per commit with a seq per
 * message and every ack read; dumps of our table (nft_dump.c) and the
 * monitor socket (nft_monitor.c).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "plan.h"

struct nftnl_chain;
struct nftnl_rule;
struct nftnl_set;
struct mnl_socket;

/* Element messages are split at this many elements (and ~48 KiB of attributes). */
#define NFT_ELEMS_PER_MSG 1000

/* ---- builders (nft_build.c); NULL on ENOMEM ---- */
struct nftnl_chain *nft_build_chain(const char *table, const struct plan_chain *c);
struct nftnl_rule *nft_build_rule(const char *table, const char *chain, const struct plan_rule *r);
/* id: the transaction-local NFTA_SET_ID the kernel requires on NEWSET (unique per batch). */
struct nftnl_set *nft_build_set(const char *table, const struct plan_set *s, uint32_t id);
/* Append el to s (an interval is two kernel elements). 0 or -ENOMEM. */
int nft_build_elem(struct nftnl_set *s, const struct plan_set *ps, const struct plan_elem *el);
/* Approximate netlink size of one element, for splitting. */
size_t nft_elem_size(const struct plan_set *ps, const struct plan_elem *el);

/*
 * Parse what nft_build_rule produced back into ret (allocated strings).
 * Returns 0, or -EINVAL for a rule netpold would not have built (foreign).
 */
int nft_parse_rule(const struct nftnl_rule *r, struct plan_rule *ret);
/* Comment stored in an object's userdata, or NULL; allocated. */
char *nft_udata_comment(const void *data, uint32_t len, int type);

/* ---- transport (nft_io.c) ---- */
struct nft_sock {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char *buf;
	size_t buflen;
};

struct nft_commit_info {
	uint64_t msgs, elems;
	double kernel_seconds;
	int n_errors;
};

/* Open and bind a NETLINK_NETFILTER socket with capped and extended acks. 0 or -errno. */
int nft_sock_open(struct nft_sock *s);
void nft_sock_close(struct nft_sock *s);

/* Send one request and run cb on each reply until the ack / NLMSG_DONE. 0 or -errno. */
struct nlmsghdr;
int nft_talk(struct nft_sock *s, struct nlmsghdr *nlh, int (*cb)(const struct nlmsghdr *, void *),
	     void *data);

/* The ruleset generation id. 0 or -errno. */
int nft_get_gen(struct nft_sock *s, uint32_t *ret);

/*
 * Read table (family inet) into ret: has_table, chains with their rules
 * (rules netpold would not build are kept as unparseable, so the chain
 * compares unequal), sets with elements. 0 or -errno.
 */
int nft_dump_table(struct nft_sock *s, const char *table, struct plan *ret);

/*
 * Commit d as one batch (genid != 0: the kernel refuses it with -ERESTART
 * when the ruleset changed since). Logs every kernel error once, naming the
 * object (set comment, chain comment) it came from. Returns 0 or the first
 * error.
 */
int nft_commit(struct nft_sock *s, const char *table, const struct plan_delta *d, uint32_t genid,
	       struct nft_commit_info *ret);

/* Delete table if present. 0 when done or absent, -errno otherwise. */
int nft_delete_table(struct nft_sock *s, const char *table);

/* ---- monitor (nft_monitor.c) ---- */
int nft_monitor_open(struct mnl_socket **ret);
/* Join or leave NFNLGRP_NFTABLES (to skip the kernel's per-element notifications of our own big batches). */
int nft_monitor_membership(struct mnl_socket *mon, bool join);
/*
 * Drain pending notifications without blocking. *ret_foreign is set when a
 * change to table (family inet) came from another socket than our_portid.
 * Returns 0, -ENOBUFS when events were lost, or -errno.
 */
int nft_monitor_read(struct mnl_socket *mon, uint32_t our_portid, const char *table,
		     bool *ret_foreign);
