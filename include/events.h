/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The deny-record hub: NFLOG (daemon/nflog.c) publishes one record per
 * denied or audited packet; subscribers (the status socket's /v1/events
 * streams, metrics) each get their own bounded queue, drained on the loop.
 * A subscriber that falls behind loses records and a drop counter says how many.
 * Single-threaded like the rest of the daemon; never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "engine.h"
#include "util.h"

#define EVENT_QUEUE_MAX 256u  /* records queued per subscriber before it drops */
#define EVENT_SUBSCRIBERS_MAX 64u

/* One packet that policy denied (or, audit = true, would have denied). */
struct deny_record {
	struct timespec time; /* CLOCK_REALTIME */
	enum direction dir;   /* the direction whose isolation denied it */
	bool audit;           /* an audit-mode policy: logged, not dropped */
	char src[300], dst[300]; /* "ns/pod" or IP */
	struct ip_addr src_ip, dst_ip;
	uint8_t proto; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, ... */
	uint16_t port; /* destination port, 0 when the protocol has none */
	char policies[1024]; /* comma-separated ns/name that isolate */
};

struct event_hub;
struct event_sub;

/*
 * Called by event_hub_publish(), once per record, for every subscriber,
 * after the record was queued for it. It runs synchronously inside publish
 * and must not block; it may free any subscription (its own included) but
 * not the hub. Typical use: wake a reader that then drains its queue with
 * event_sub_pop(); cb may also be NULL (poll the queue).
 */
typedef void (*event_fn)(void *ud, const struct deny_record *r);

/* Create an empty hub. Returns 0 or -ENOMEM. */
int event_hub_new(struct event_hub **ret);
/* Free the hub; every subscription still open is detached (safe to free later). Accepts NULL. */
void event_hub_free(struct event_hub *h);

/*
 * Fan a record out to every subscriber: a copy goes into each queue (a full
 * queue drops the oldest record and counts it), then cb is called when set.
 * Counts the record in event_hub_published(). Accepts h == NULL.
 */
void event_hub_publish(struct event_hub *h, const struct deny_record *r);

/*
 * Subscribe. cb (may be NULL) is called with ud for each published record,
 * after the record was queued. Returns 0, -ENOSPC past
 * EVENT_SUBSCRIBERS_MAX or -ENOMEM. The subscription is owned by the caller.
 */
int event_hub_subscribe(struct event_hub *h, event_fn cb, void *ud, struct event_sub **ret);
/* Unsubscribe and free; queued records are dropped. Accepts NULL. */
void event_sub_free(struct event_sub *s);

/* Take the oldest queued record into *ret. Returns true, or false when the queue is empty. */
bool event_sub_pop(struct event_sub *s, struct deny_record *ret);
/* Records queued for s. */
size_t event_sub_pending(const struct event_sub *s);
/* Records s lost because its queue was full. */
uint64_t event_sub_dropped(const struct event_sub *s);

/* Records published since the hub was created; drops of all subscribers so far. */
uint64_t event_hub_published(const struct event_hub *h);
uint64_t event_hub_dropped(const struct event_hub *h);

/* Protocol name for proto ("tcp", "udp", "sctp", "icmp", ...) or NULL. */
const char *event_proto_name(uint8_t proto);
