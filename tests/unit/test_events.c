/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * events: publish fans a record out to every subscriber in order, each
 * queue is bounded and a full one drops its oldest records with a count,
 * unsubscribing (even from inside a callback of another subscriber) and
 * freeing the hub before its subscriptions are safe.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>

#include "events.h"

static struct deny_record rec(unsigned i)
{
	struct deny_record r = {.dir = DIR_INGRESS, .proto = IPPROTO_TCP, .port = (uint16_t)i};

	snprintf(r.src, sizeof(r.src), "a/pod-%u", i);
	snprintf(r.dst, sizeof(r.dst), "b/server");
	snprintf(r.policies, sizeof(r.policies), "b/deny-all");
	return r;
}

struct counter {
	unsigned calls;
	uint16_t last_port;
};

static void count_cb(void *ud, const struct deny_record *r)
{
	struct counter *c = ud;

	c->calls++;
	c->last_port = r->port;
}

START_TEST(fan_out_in_order)
{
	struct event_hub *h;
	struct event_sub *a, *b;
	struct counter ca = {0}, cb = {0};
	struct deny_record out;

	ck_assert_int_eq(event_hub_new(&h), 0);
	ck_assert_int_eq(event_hub_subscribe(h, count_cb, &ca, &a), 0);
	ck_assert_int_eq(event_hub_subscribe(h, count_cb, &cb, &b), 0);
	for (unsigned i = 1; i <= 3; i++) {
		struct deny_record r = rec(i);

		event_hub_publish(h, &r);
	}
	ck_assert_uint_eq(ca.calls, 3);
	ck_assert_uint_eq(cb.calls, 3);
	ck_assert_uint_eq(cb.last_port, 3);
	ck_assert_uint_eq(event_sub_pending(a), 3);
	for (unsigned i = 1; i <= 3; i++) {
		ck_assert(event_sub_pop(a, &out));
		ck_assert_uint_eq(out.port, i);
		ck_assert_str_eq(out.policies, "b/deny-all");
	}
	ck_assert(!event_sub_pop(a, &out));
	ck_assert_uint_eq(event_sub_pending(b), 3);
	ck_assert_uint_eq(event_hub_published(h), 3);
	ck_assert_uint_eq(event_hub_dropped(h), 0);
	event_sub_free(a);
	event_sub_free(b);
	event_hub_free(h);
}
END_TEST

START_TEST(slow_subscriber_drops_oldest)
{
	struct event_hub *h;
	struct event_sub *slow, *fast;
	struct deny_record out;
	unsigned extra = 10;

	ck_assert_int_eq(event_hub_new(&h), 0);
	ck_assert_int_eq(event_hub_subscribe(h, NULL, NULL, &slow), 0);
	ck_assert_int_eq(event_hub_subscribe(h, NULL, NULL, &fast), 0);
	for (unsigned i = 0; i < EVENT_QUEUE_MAX + extra; i++) {
		struct deny_record r = rec(i);

		event_hub_publish(h, &r);
		/* the fast one keeps up */
		ck_assert(event_sub_pop(fast, &out));
		ck_assert_uint_eq(out.port, i);
	}
	ck_assert_uint_eq(event_sub_pending(slow), EVENT_QUEUE_MAX);
	ck_assert_uint_eq(event_sub_dropped(slow), extra);
	ck_assert_uint_eq(event_sub_dropped(fast), 0);
	ck_assert_uint_eq(event_hub_dropped(h), extra);
	/* what is left is the newest, in order */
	for (unsigned i = extra; i < EVENT_QUEUE_MAX + extra; i++) {
		ck_assert(event_sub_pop(slow, &out));
		ck_assert_uint_eq(out.port, i);
	}
	ck_assert(!event_sub_pop(slow, &out));
	event_sub_free(slow);
	event_sub_free(fast);
	event_hub_free(h);
}
END_TEST

struct killer {
	struct event_sub **victim;
	unsigned calls;
};

static void kill_other(void *ud, const struct deny_record *r)
{
	struct killer *k = ud;

	k->calls++;
	/* unsubscribing another subscriber from a callback */
	event_sub_free(*k->victim);
	*k->victim = NULL;
}

START_TEST(unsubscribe_other_from_callback)
{
	struct event_hub *h;
	struct event_sub *first, *second = NULL;
	struct killer k = {.victim = &second};
	struct counter c = {0};
	struct deny_record r = rec(1);

	ck_assert_int_eq(event_hub_new(&h), 0);
	/* subscribers are called newest first: second (counter) was added first, killer next */
	ck_assert_int_eq(event_hub_subscribe(h, count_cb, &c, &second), 0);
	ck_assert_int_eq(event_hub_subscribe(h, kill_other, &k, &first), 0);
	event_hub_publish(h, &r);
	ck_assert_uint_eq(k.calls, 1);
	ck_assert_ptr_null(second);
	event_hub_publish(h, &r);
	ck_assert_uint_eq(k.calls, 2);
	event_sub_free(first);
	event_hub_free(h);
}
END_TEST

START_TEST(hub_freed_first_and_limits)
{
	struct event_hub *h;
	struct event_sub *subs[EVENT_SUBSCRIBERS_MAX], *extra = NULL;
	struct deny_record r = rec(1), out;

	ck_assert_int_eq(event_hub_new(&h), 0);
	for (size_t i = 0; i < EVENT_SUBSCRIBERS_MAX; i++)
		ck_assert_int_eq(event_hub_subscribe(h, NULL, NULL, &subs[i]), 0);
	ck_assert_int_eq(event_hub_subscribe(h, NULL, NULL, &extra), -ENOSPC);
	event_hub_publish(h, &r);
	event_hub_free(h);
	/* detached subscriptions keep what they had and free cleanly */
	ck_assert(event_sub_pop(subs[0], &out));
	for (size_t i = 0; i < EVENT_SUBSCRIBERS_MAX; i++)
		event_sub_free(subs[i]);
	event_sub_free(NULL);
	event_hub_free(NULL);
	event_hub_publish(NULL, &r);
	ck_assert_int_eq(event_hub_subscribe(NULL, NULL, NULL, &extra), -EINVAL);
	ck_assert_str_eq(event_proto_name(IPPROTO_TCP), "tcp");
	ck_assert_ptr_null(event_proto_name(250));
}
END_TEST

static Suite *events_suite(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("hub");

	tcase_add_test(tc, fan_out_in_order);
	tcase_add_test(tc, slow_subscriber_drops_oldest);
	tcase_add_test(tc, unsubscribe_other_from_callback);
	tcase_add_test(tc, hub_freed_first_and_limits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(events_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
