/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Deny records: the per-pod chains log (rate-limited by the kernel) to one
 * NFLOG group; this module reads that group on the daemon's loop, parses
 * each packet (bounded, every attribute validated), attributes it to pods
 * and isolating policies through the engine, publishes a struct deny_record
 * to the event hub and logs it as one JSON line. See docs/deny-records.md.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "events.h"
#include "plan.h"

#define NFLOG_DEFAULT_GROUP 5417
#define NFLOG_DEFAULT_RATE 10   /* records per second per pod chain */
#define NFLOG_DEFAULT_BURST 20
#define NFLOG_COPY_RANGE 128    /* bytes of each packet copied to us: headers only */
#define NFLOG_QTHRESHOLD 32     /* packets the kernel batches per message ... */
#define NFLOG_TIMEOUT_CS 5      /* ... or this many 1/100 s */
#define NFLOG_RCVBUF (1u << 20) /* socket receive buffer; overruns are counted */
#define NFLOG_READ_BUDGET 16    /* datagrams per readiness callback, then back to the loop */

struct nflog;

/* Counters, for the status socket and metrics (netpold_deny_records_*). */
struct nflog_stats {
	uint64_t records;      /* records published (deny and audit) */
	uint64_t audit_records; /* of which audit ("would be denied") */
	uint64_t overruns;     /* ENOBUFS on the socket: records were lost (count unknown) */
	uint64_t malformed;    /* messages or packets rejected by validation */
	uint64_t unattributed; /* prefixes that are not netpold's, or pods no longer known */
};

/*
 * Open a NETLINK_NETFILTER socket bound to NFLOG group (copy mode packet,
 * NFLOG_COPY_RANGE bytes, small queue threshold and timeout), non-blocking.
 * Does not log. Returns 0, -EBUSY when another listener holds the group, or
 * -errno.
 */
int nflog_open(uint16_t group, struct nflog **ret);
/* Unbind and close. Accepts NULL. */
void nflog_free(struct nflog *nl);
int nflog_fd(const struct nflog *nl);

/*
 * Read at most NFLOG_READ_BUDGET datagrams without blocking; each packet
 * becomes a record published to hub (may be NULL) and logged at info level
 * as `deny {json}`. ENOBUFS is counted and reading goes on: lost records
 * never affect the dataplane. Returns the number of records, or -errno on a
 * socket error other than EAGAIN/ENOBUFS.
 */
int nflog_read(struct nflog *nl, const struct engine *e, struct event_hub *hub);

void nflog_get_stats(const struct nflog *nl, struct nflog_stats *ret);

/* ---- pure parsing (tests/unit/test_nflog.c) ---- */

/* One NFULNL_MSG_PACKET, pointing into the message. */
struct nflog_packet {
	uint8_t family;        /* nfgen_family: AF_INET or AF_INET6 */
	uint16_t hw_protocol;  /* host order */
	uint8_t hook;
	const char *prefix;    /* NUL-terminated, or NULL */
	const uint8_t *payload; /* network header onwards, or NULL */
	size_t payload_len;
};

/*
 * Validate and parse one netlink message of NFLOG. Returns 0, -ENOMSG when it
 * is not an NFULNL_MSG_PACKET (skip it), -EBADMSG when malformed.
 */
struct nlmsghdr;
int nflog_parse_msg(const struct nlmsghdr *nlh, struct nflog_packet *ret);

/* What the prefix of a netpold log rule says (plan_log_prefix). */
struct nflog_prefix {
	enum direction dir;
	bool audit;
	bool hashed; /* the pod is named by plan_log_pod_hash only */
	uint64_t hash;
	char ns[MODEL_MAX_NAME_LEN + 1];
	char name[MODEL_MAX_NAME_LEN + 1];
};
/* 0, or -EINVAL for a prefix netpold does not write. */
int nflog_parse_prefix(const char *s, struct nflog_prefix *ret);

/* Addresses, protocol and destination port of a logged packet. */
struct nflog_l34 {
	struct ip_addr src, dst;
	uint8_t proto; /* IPPROTO_*; after IPv6 extension headers */
	uint16_t port; /* destination port (TCP, UDP, SCTP, UDP-Lite), else 0 */
	bool has_port;
};
/*
 * Parse an IPv4 or IPv6 packet of family (AF_INET/AF_INET6) from its
 * network header. Truncated transport headers leave has_port false; a
 * truncated or inconsistent network header is -EBADMSG.
 */
int nflog_parse_l34(int family, const uint8_t *p, size_t len, struct nflog_l34 *ret);

/*
 * The record for a parsed packet: endpoints resolved to pods, the pod of the
 * prefix and its isolating (or, audit, its audit) policies. -EINVAL when the
 * prefix is not netpold's.
 */
int nflog_make_record(const struct engine *e, const struct nflog_packet *pkt,
		      struct deny_record *ret);

/*
 * The record as one JSON object (no newline) into buf: the only shape of a
 * deny record, used by the log line and by /v1/events (docs/deny-records.md).
 * Returns the length; an answer cut at max - 1 did not fit (NFLOG_JSON_MAX
 * always does).
 */
#define NFLOG_JSON_MAX 4096
size_t nflog_format_json(const struct deny_record *r, char *buf, size_t max);
