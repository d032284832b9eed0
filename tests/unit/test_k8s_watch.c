/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * k8s_watch: the list/watch machine driven with HTTP outcomes and events,
 * checking the next request, the resourceVersion kept, relists on 410 (and
 * the consistent-read fallback), synthesised deletions, backoff values
 * (800 ms x 2, jitter, 30 s cap, reset after 2 min), Retry-After, and the
 * store's invalid-object bookkeeping (what the source reports as diagnostics).
 */
#include <check.h>
#include <stdio.h>

#include "k8s_watch.h"

#define SEC 1000000ull

static char req[4096];

static const char *request(struct k8s_watch *w, uint32_t rnd)
{
	ck_assert_int_gt(k8s_watch_request(w, rnd, req, sizeof(req)), 0);
	return req;
}

static struct k8s_object pod(const char *ns, const char *name)
{
	struct k8s_object o = {.kind = OBJ_POD};

	o.pod = calloc(1, sizeof(*o.pod));
	o.pod->ns = strdup(ns);
	o.pod->name = strdup(name);
	return o;
}

static void upsert(struct k8s_watch *w, const char *ns, const char *name)
{
	struct k8s_object o = pod(ns, name);

	ck_assert_int_eq(k8s_store_upsert(&w->store, ns, name, &o), 0);
	ck_assert_ptr_null(o.pod);
}

struct drained {
	char log[4096];
};

static void d_upsert(void *ud, struct k8s_object *obj)
{
	struct drained *d = ud;
	size_t n = strlen(d->log);

	snprintf(d->log + n, sizeof(d->log) - n, "+%s/%s ", obj->pod->ns, obj->pod->name);
	k8s_object_clear(obj);
}

static void d_remove(void *ud, enum obj_kind kind, const char *ns, const char *name)
{
	struct drained *d = ud;
	size_t n = strlen(d->log);

	ck_assert_int_eq(kind, OBJ_POD);
	snprintf(d->log + n, sizeof(d->log) - n, "-%s/%s ", ns, name);
}

static const char *drain(struct k8s_watch *w)
{
	static struct drained d;
	struct k8s_store_sink sink = {d_upsert, d_remove, &d};

	d.log[0] = '\0';
	k8s_store_drain(&w->store, &sink);
	return d.log;
}

/* Complete a one-page list holding the given pod names in namespace "a". */
static size_t list_once(struct k8s_watch *w, const char *rv, const char *const *names)
{
	size_t deleted;

	k8s_watch_page_begin(w);
	for (; *names; names++)
		upsert(w, "a", *names);
	ck_assert_int_eq(k8s_watch_list_page(w, rv, NULL, 0, &deleted), 0);
	return deleted;
}

START_TEST(list_pages_then_watch)
{
	struct k8s_watch w;
	size_t deleted;

	k8s_watch_init(&w, K8S_PODS);
	ck_assert_str_eq(request(&w, 0), "/api/v1/pods?limit=500&resourceVersion=0");
	ck_assert_int_eq(w.state, K8S_WS_LIST);

	k8s_watch_page_begin(&w);
	upsert(&w, "a", "p1");
	ck_assert_int_eq(k8s_watch_list_page(&w, "10", "tok/+=", 0, &deleted), 0);
	ck_assert(!w.synced);
	/* continue replaces resourceVersion and is escaped */
	ck_assert_str_eq(request(&w, 0), "/api/v1/pods?limit=500&continue=tok%2F%2B%3D");

	k8s_watch_page_begin(&w);
	upsert(&w, "b", "p2");
	ck_assert_int_eq(k8s_watch_list_page(&w, "12", "", 0, &deleted), 0);
	ck_assert_uint_eq(deleted, 0);
	ck_assert(w.synced);
	ck_assert_int_eq(w.state, K8S_WS_WATCH);
	ck_assert_str_eq(w.rv, "12");
	ck_assert_str_eq(drain(&w), "+a/p1 +b/p2 ");
	ck_assert_str_eq(drain(&w), "");

	/* timeoutSeconds at random in [300, 600] */
	ck_assert_str_eq(request(&w, 0), "/api/v1/pods?watch=1&allowWatchBookmarks=true&"
					 "timeoutSeconds=300&resourceVersion=12");
	ck_assert(strstr(request(&w, 300), "timeoutSeconds=600&"));
	ck_assert(strstr(request(&w, 301), "timeoutSeconds=300&"));
	ck_assert(strstr(request(&w, 4000000000u), "timeoutSeconds="));

	/* events move the RV; bookmarks too */
	k8s_watch_started(&w, 0);
	k8s_watch_event(&w, "13");
	k8s_watch_event(&w, NULL);
	ck_assert_str_eq(w.rv, "13");
	k8s_watch_event(&w, "20");
	ck_assert_str_eq(w.rv, "20");
	k8s_watch_clear(&w);
}
END_TEST

START_TEST(clean_end_rewatches)
{
	struct k8s_watch w;
	const char *none[] = {NULL};

	k8s_watch_init(&w, K8S_NETWORKPOLICIES);
	list_once(&w, "5", none);
	k8s_watch_started(&w, 100 * SEC);
	k8s_watch_event(&w, "7");
	/* the server's timeout: same RV, no delay, no relist */
	ck_assert_uint_eq(k8s_watch_ended(&w, 400 * SEC, 0), 0);
	ck_assert_int_eq(w.state, K8S_WS_WATCH);
	ck_assert_uint_eq(w.watch_restarts, 1);
	ck_assert_uint_eq(w.relists, 0);
	ck_assert_str_eq(request(&w, 0), "/apis/networking.k8s.io/v1/networkpolicies?watch=1&"
					 "allowWatchBookmarks=true&timeoutSeconds=300&"
					 "resourceVersion=7");
	/* a watch that ends at once without events is an error: back off */
	k8s_watch_started(&w, 500 * SEC);
	ck_assert_uint_ge(k8s_watch_ended(&w, 500 * SEC + 10, 0), 800000);
	ck_assert_int_eq(w.state, K8S_WS_BACKOFF);
	ck_assert_int_eq(w.next, K8S_WS_WATCH);
	k8s_watch_retry(&w);
	ck_assert(strstr(request(&w, 0), "resourceVersion=7"));
	k8s_watch_clear(&w);
}
END_TEST

START_TEST(expired_watch_relists_and_deletes)
{
	struct k8s_watch w;
	const char *first[] = {"p1", "p2", "p3", NULL};
	const char *second[] = {"p1", "p3", "p4", NULL};

	k8s_watch_init(&w, K8S_PODS);
	ck_assert_uint_eq(list_once(&w, "100", first), 0);
	drain(&w);
	k8s_watch_started(&w, 0);
	k8s_watch_event(&w, "150");

	/* ERROR 410 in the stream: relist at once, from the last RV, unpaginated (watch cache) */
	ck_assert_uint_eq(k8s_watch_failed(&w, K8S_FAIL_EXPIRED, "too old", 0, 10 * SEC, 0), 0);
	ck_assert_int_eq(w.next, K8S_WS_LIST);
	k8s_watch_retry(&w);
	ck_assert_str_eq(request(&w, 0), "/api/v1/pods?resourceVersion=150");
	ck_assert_uint_eq(w.relists, 1);
	ck_assert_uint_eq(w.expired, 1);

	/* p2 vanished meanwhile: its deletion is synthesised; p4 is new */
	ck_assert_uint_eq(list_once(&w, "160", second), 1);
	ck_assert_str_eq(drain(&w), "+a/p1 +a/p3 +a/p4 -a/p2 ");
	ck_assert_uint_eq(w.store.n_present, 3);
	ck_assert_ptr_null(k8s_store_find(&w.store, "a", "p2")); /* forgotten once drained */
	ck_assert_int_eq(w.state, K8S_WS_WATCH);
	ck_assert(strstr(request(&w, 0), "resourceVersion=160"));

	/* the listed RV expires at once: a consistent paginated read, still without delay */
	k8s_watch_started(&w, 20 * SEC);
	ck_assert_uint_eq(k8s_watch_failed(&w, K8S_FAIL_EXPIRED, "too old", 0, 20 * SEC, 0), 0);
	k8s_watch_retry(&w);
	ck_assert_str_eq(request(&w, 0), "/api/v1/pods?limit=500");
	list_once(&w, "170", second);
	/* and if even that RV cannot be watched: back off */
	k8s_watch_started(&w, 21 * SEC);
	ck_assert_uint_ge(k8s_watch_failed(&w, K8S_FAIL_EXPIRED, "too old", 0, 21 * SEC, 0),
			  800000);
	k8s_watch_clear(&w);
}
END_TEST

START_TEST(expired_list)
{
	struct k8s_watch w;
	size_t deleted;

	k8s_watch_init(&w, K8S_SERVICES);
	k8s_watch_page_begin(&w);
	ck_assert_int_eq(k8s_watch_list_page(&w, "9", "c1", 0, &deleted), 0);
	/* HTTP 410 on a continue: start again without it, consistent */
	ck_assert_uint_eq(k8s_watch_failed(&w, K8S_FAIL_EXPIRED, "410", 0, SEC, 0), 0);
	k8s_watch_retry(&w);
	ck_assert_str_eq(request(&w, 0), "/api/v1/services?limit=500");
	/* again: now it counts, with backoff */
	ck_assert_uint_eq(k8s_watch_failed(&w, K8S_FAIL_EXPIRED, "410", 0, 2 * SEC, 0), 800000);
	k8s_watch_retry(&w);
	ck_assert_str_eq(request(&w, 0), "/api/v1/services?limit=500");
	ck_assert(!w.synced);
	k8s_watch_clear(&w);
}
END_TEST

START_TEST(backoff_values)
{
	struct k8s_watch w;
	const char *none[] = {NULL};
	uint64_t want[] = {800000, 1600000, 3200000, 6400000, 12800000, 25600000, 30000000,
			   30000000};
	uint64_t now = 1000 * SEC, d;

	ck_assert_uint_eq(k8s_backoff_base(0), 800000);
	ck_assert_uint_eq(k8s_backoff_base(5), 25600000);
	ck_assert_uint_eq(k8s_backoff_base(6), 30000000);
	ck_assert_uint_eq(k8s_backoff_base(1000), 30000000);

	k8s_watch_init(&w, K8S_NAMESPACES);
	list_once(&w, "1", none);
	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		d = k8s_watch_failed(&w, K8S_FAIL_TRANSPORT, "connection refused", 0, now, 0);
		ck_assert_uint_eq(d, want[i]);
		ck_assert_int_eq(w.next, K8S_WS_WATCH); /* synced: re-watch, no relist */
		ck_assert_str_eq(w.last_error, "connection refused");
		k8s_watch_retry(&w);
		now += d;
	}
	ck_assert_uint_eq(w.relists, 0);
	/* jitter factor 1: [base, 2 base), capped */
	w.failures = 0;
	d = k8s_watch_failed(&w, K8S_FAIL_TRANSPORT, "x", 0, now, 0x80000000u);
	ck_assert_uint_eq(d, 1200000);
	d = k8s_watch_failed(&w, K8S_FAIL_TRANSPORT, "x", 0, now, 0xffffffffu);
	ck_assert_uint_ge(d, 3199999);
	ck_assert_uint_lt(d, 3200000);
	/* two healthy minutes reset the backoff */
	now += K8S_BACKOFF_RESET_USEC;
	ck_assert_uint_eq(k8s_watch_failed(&w, K8S_FAIL_HTTP, "HTTP 500", 0, now, 0), 800000);
	/* Retry-After wins when longer */
	ck_assert_uint_eq(k8s_watch_failed(&w, K8S_FAIL_HTTP, "HTTP 429", 5 * SEC, now, 0),
			  5 * SEC);
	k8s_watch_healthy(&w);
	ck_assert_str_eq(w.last_error, "");
	ck_assert_uint_eq(w.errors, ELEMENTSOF(want) + 4);
	k8s_watch_clear(&w);
}
END_TEST

START_TEST(failure_before_sync_lists_again)
{
	struct k8s_watch w;
	size_t deleted;

	k8s_watch_init(&w, K8S_PODS);
	k8s_watch_page_begin(&w);
	upsert(&w, "a", "p1");
	ck_assert_int_eq(k8s_watch_list_page(&w, "3", "more", 0, &deleted), 0);
	/* a 403 half-way: the list starts over from its first page */
	ck_assert_uint_eq(k8s_watch_failed(&w, K8S_FAIL_HTTP, "forbidden", 0, SEC, 0), 800000);
	ck_assert_int_eq(w.next, K8S_WS_LIST);
	k8s_watch_retry(&w);
	ck_assert_str_eq(request(&w, 0), "/api/v1/pods?limit=500&resourceVersion=0");
	k8s_watch_clear(&w);
}
END_TEST

START_TEST(stream_failure_relists)
{
	struct k8s_watch w;
	const char *one[] = {"p1", NULL};

	k8s_watch_init(&w, K8S_PODS);
	list_once(&w, "40", one);
	k8s_watch_started(&w, 0);
	k8s_watch_event(&w, "41");
	/* an over-long event was dropped: events were lost, relist from the last RV */
	ck_assert_uint_ge(k8s_watch_failed(&w, K8S_FAIL_STREAM, "too long", 0, SEC, 0), 800000);
	ck_assert_int_eq(w.next, K8S_WS_LIST);
	k8s_watch_retry(&w);
	ck_assert_str_eq(request(&w, 0), "/api/v1/pods?resourceVersion=41");
	ck_assert_uint_eq(w.relists, 1);
	k8s_watch_clear(&w);
}
END_TEST

START_TEST(store_invalid_and_delete)
{
	struct k8s_watch w;
	const char *one[] = {"p1", NULL};
	const struct k8s_entry *e;

	k8s_watch_init(&w, K8S_PODS);
	list_once(&w, "1", one);
	ck_assert_str_eq(drain(&w), "+a/p1 ");
	/* becomes invalid: logged once, nothing queued (the engine keeps the last valid one) */
	ck_assert_int_eq(k8s_store_invalid(&w.store, "a", "p1", "bad cidr"), 1);
	ck_assert_int_eq(k8s_store_invalid(&w.store, "a", "p1", "bad cidr"), 0);
	ck_assert_int_eq(k8s_store_invalid(&w.store, "a", "p1", "other"), 1);
	ck_assert_uint_eq(w.store.n_invalid, 1);
	ck_assert_str_eq(drain(&w), "");
	/* a relist that lists it (still invalid) does not delete it */
	k8s_watch_page_begin(&w);
	ck_assert_int_eq(k8s_store_invalid(&w.store, "a", "p1", "other"), 0);
	{
		size_t deleted;

		ck_assert_int_eq(k8s_watch_list_page(&w, "2", NULL, 0, &deleted), 0);
		ck_assert_uint_eq(deleted, 0);
	}
	/* valid again */
	upsert(&w, "a", "p1");
	ck_assert_uint_eq(w.store.n_invalid, 0);
	e = k8s_store_find(&w.store, "a", "p1");
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_null(e->invalid);
	/* modified twice before a sync: one upsert; then deleted: one delete */
	upsert(&w, "a", "p1");
	ck_assert_str_eq(drain(&w), "+a/p1 ");
	ck_assert_int_eq(k8s_store_invalid(&w.store, "a", "p2", "bad"), 1);
	ck_assert_int_eq(k8s_store_delete(&w.store, "a", "p2"), 0);
	ck_assert_uint_eq(w.store.n_invalid, 0);
	upsert(&w, "a", "p3");
	ck_assert_int_eq(k8s_store_delete(&w.store, "a", "p3"), 0);
	ck_assert_str_eq(drain(&w), "-a/p2 -a/p3 ");
	ck_assert_uint_eq(w.store.n_present, 1);
	ck_assert_uint_eq(w.store.n_entries, 1);
	k8s_watch_clear(&w);
}
END_TEST

START_TEST(store_many)
{
	struct k8s_watch w;
	char name[32];
	size_t deleted;

	k8s_watch_init(&w, K8S_PODS);
	k8s_watch_page_begin(&w);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		upsert(&w, "ns", name);
	}
	ck_assert_int_eq(k8s_watch_list_page(&w, "1", NULL, 0, &deleted), 0);
	drain(&w);
	/* relist keeping the even ones */
	k8s_watch_page_begin(&w);
	for (int i = 0; i < 5000; i += 2) {
		snprintf(name, sizeof(name), "p%d", i);
		upsert(&w, "ns", name);
	}
	ck_assert_int_eq(k8s_watch_list_page(&w, "2", NULL, 0, &deleted), 0);
	ck_assert_uint_eq(deleted, 2500);
	ck_assert_uint_eq(w.store.n_present, 2500);
	drain(&w);
	ck_assert_uint_eq(w.store.n_entries, 2500);
	ck_assert_ptr_null(k8s_store_find(&w.store, "ns", "p1"));
	ck_assert_ptr_nonnull(k8s_store_find(&w.store, "ns", "p4998"));
	k8s_watch_clear(&w);
}
END_TEST

static void collect_invalid(void *ud, const struct k8s_entry *e)
{
	char *log = ud;
	size_t n = strlen(log);

	snprintf(log + n, 256 - n, "%s=%s ", e->key, e->invalid);
}

/* What the source reports through diag at each sync: every rejection standing, none cleared. */
START_TEST(store_foreach_invalid)
{
	struct k8s_watch w;
	const char *two[] = {"p1", "p2", NULL};
	char log[256] = "";

	k8s_watch_init(&w, K8S_PODS);
	ck_assert_uint_eq(k8s_store_foreach_invalid(&w.store, collect_invalid, log), 0);
	list_once(&w, "1", two);
	drain(&w);
	ck_assert_uint_eq(k8s_store_foreach_invalid(&w.store, collect_invalid, log), 0);
	ck_assert_int_eq(k8s_store_invalid(&w.store, "a", "p1", "bad cidr"), 1);
	ck_assert_uint_eq(k8s_store_foreach_invalid(&w.store, collect_invalid, log), 1);
	ck_assert_str_eq(log, "a/p1=bad cidr ");
	/* still standing after a sync drained the store */
	drain(&w);
	log[0] = '\0';
	ck_assert_uint_eq(k8s_store_foreach_invalid(&w.store, collect_invalid, log), 1);
	ck_assert_str_eq(log, "a/p1=bad cidr ");
	/* a valid version clears it; a deletion clears it; a relist without it clears it */
	upsert(&w, "a", "p1");
	ck_assert_uint_eq(k8s_store_foreach_invalid(&w.store, collect_invalid, log), 0);
	ck_assert_int_eq(k8s_store_invalid(&w.store, "a", "p2", "bad port"), 1);
	ck_assert_int_eq(k8s_store_delete(&w.store, "a", "p2"), 0);
	ck_assert_uint_eq(k8s_store_foreach_invalid(&w.store, collect_invalid, log), 0);
	ck_assert_int_eq(k8s_store_invalid(&w.store, "a", "p3", "bad"), 1);
	{
		const char *one[] = {"p1", NULL};

		ck_assert_uint_eq(list_once(&w, "2", one), 1);
	}
	ck_assert_uint_eq(k8s_store_foreach_invalid(&w.store, collect_invalid, log), 0);
	drain(&w);
	k8s_watch_clear(&w);
}
END_TEST

static Suite *watch_suite(void)
{
	Suite *s = suite_create("k8s_watch");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, list_pages_then_watch);
	tcase_add_test(tc, clean_end_rewatches);
	tcase_add_test(tc, expired_watch_relists_and_deletes);
	tcase_add_test(tc, expired_list);
	tcase_add_test(tc, backoff_values);
	tcase_add_test(tc, failure_before_sync_lists_again);
	tcase_add_test(tc, stream_failure_relists);
	tcase_add_test(tc, store_invalid_and_delete);
	tcase_add_test(tc, store_many);
	tcase_add_test(tc, store_foreach_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(watch_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
