/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A tiny publish/subscribe hub for deny records. Every subscriber owns a
 * fixed-size ring; publish copies the record into each ring (a full ring
 * loses its oldest record and counts it) and then calls the subscriber's
 * callback, so a slow reader costs memory bounded by EVENT_QUEUE_MAX.
 */
#include <netinet/in.h>
#include <stdlib.h>

#include "events.h"

struct event_sub {
	struct event_hub *hub; /* NULL once the hub is gone */
	struct event_sub *prev, *next;
	event_fn cb;
	void *ud;
	struct deny_record *ring; /* EVENT_QUEUE_MAX slots */
	size_t head, len;
	uint64_t dropped;
};

struct event_hub {
	struct event_sub *subs;
	size_t n_subs;
	uint64_t published;
	uint64_t dropped; /* of subscribers still and formerly attached */
	struct event_sub *iter_next; /* publish's next subscriber: unsubscribing moves it on */
};

int event_hub_new(struct event_hub **ret)
{
	struct event_hub *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	*ret = h;
	return 0;
}

static void sub_unlink(struct event_sub *s)
{
	struct event_hub *h = s->hub;

	if (!h)
		return;
	if (h->iter_next == s)
		h->iter_next = s->next;
	if (s->prev)
		s->prev->next = s->next;
	else
		h->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	h->n_subs--;
	s->hub = NULL;
	s->prev = s->next = NULL;
}

void event_hub_free(struct event_hub *h)
{
	if (!h)
		return;
	while (h->subs)
		sub_unlink(h->subs);
	free(h);
}

static void sub_push(struct event_sub *s, const struct deny_record *r)
{
	if (s->len == EVENT_QUEUE_MAX) {
		/* the reader is behind: the oldest record goes, the newest is kept */
		s->head = (s->head + 1) % EVENT_QUEUE_MAX;
		s->len--;
		s->dropped++;
		s->hub->dropped++;
	}
	s->ring[(s->head + s->len) % EVENT_QUEUE_MAX] = *r;
	s->len++;
}

void event_hub_publish(struct event_hub *h, const struct deny_record *r)
{
	struct event_sub *s;

	if (!h || !r)
		return;
	h->published++;
	for (s = h->subs; s; s = h->iter_next) {
		h->iter_next = s->next;
		sub_push(s, r);
		if (s->cb)
			s->cb(s->ud, r);
	}
	h->iter_next = NULL;
}

int event_hub_subscribe(struct event_hub *h, event_fn cb, void *ud, struct event_sub **ret)
{
	struct event_sub *s;

	if (!h)
		return -EINVAL;
	if (h->n_subs >= EVENT_SUBSCRIBERS_MAX)
		return -ENOSPC;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ring = calloc(EVENT_QUEUE_MAX, sizeof(*s->ring));
	if (!s->ring) {
		free(s);
		return -ENOMEM;
	}
	s->hub = h;
	s->cb = cb;
	s->ud = ud;
	s->next = h->subs;
	if (h->subs)
		h->subs->prev = s;
	h->subs = s;
	h->n_subs++;
	*ret = s;
	return 0;
}

void event_sub_free(struct event_sub *s)
{
	if (!s)
		return;
	sub_unlink(s);
	free(s->ring);
	free(s);
}

bool event_sub_pop(struct event_sub *s, struct deny_record *ret)
{
	if (!s || s->len == 0)
		return false;
	*ret = s->ring[s->head];
	s->head = (s->head + 1) % EVENT_QUEUE_MAX;
	s->len--;
	return true;
}

size_t event_sub_pending(const struct event_sub *s)
{
	return s ? s->len : 0;
}

uint64_t event_sub_dropped(const struct event_sub *s)
{
	return s ? s->dropped : 0;
}

uint64_t event_hub_published(const struct event_hub *h)
{
	return h ? h->published : 0;
}

uint64_t event_hub_dropped(const struct event_hub *h)
{
	return h ? h->dropped : 0;
}

const char *event_proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_SCTP:
		return "sctp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	default:
		return NULL;
	}
}
