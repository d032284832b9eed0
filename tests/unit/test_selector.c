/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Label selector matching: every operator, absent keys, empty selectors,
 * equality selectors, structural equality, hashing and deep copies.
 */
#include <check.h>
#include <stdlib.h>

#include "selector.h"

static void add_req(struct selector *s, const char *key, enum selector_op op, const char *v1,
		    const char *v2)
{
	struct selector_req *q;

	s->exprs = realloc(s->exprs, (s->n_exprs + 1) * sizeof(*s->exprs));
	ck_assert_ptr_nonnull(s->exprs);
	q = &s->exprs[s->n_exprs++];
	*q = (struct selector_req){.key = strdup(key), .op = op};
	q->values = calloc(2, sizeof(char *));
	if (v1)
		q->values[q->n_values++] = strdup(v1);
	if (v2)
		q->values[q->n_values++] = strdup(v2);
}

static struct labels mk(const char *k1, const char *v1, const char *k2, const char *v2)
{
	struct labels l = {0};

	if (k1)
		ck_assert_int_eq(labels_set(&l, k1, v1), 0);
	if (k2)
		ck_assert_int_eq(labels_set(&l, k2, v2), 0);
	return l;
}

START_TEST(test_empty_selector_matches_all)
{
	struct selector s = {0};
	struct labels none = {0}, some = mk("app", "web", NULL, NULL);

	ck_assert(selector_is_empty(&s));
	ck_assert(selector_matches(&s, &none));
	ck_assert(selector_matches(&s, &some));
	labels_clear(&some);
}
END_TEST

START_TEST(test_match_labels)
{
	struct selector s = {0};
	struct labels a = mk("app", "web", "tier", "fe"), b = mk("app", "web", NULL, NULL),
		      c = mk("app", "db", "tier", "fe"), none = {0};

	labels_set(&s.match_labels, "app", "web");
	labels_set(&s.match_labels, "tier", "fe");
	ck_assert(!selector_is_empty(&s));
	ck_assert(selector_matches(&s, &a));
	ck_assert(!selector_matches(&s, &b)); /* AND of all pairs */
	ck_assert(!selector_matches(&s, &c));
	ck_assert(!selector_matches(&s, &none));
	selector_clear(&s);
	labels_clear(&a);
	labels_clear(&b);
	labels_clear(&c);
}
END_TEST

START_TEST(test_in_notin)
{
	struct selector in = {0}, notin = {0};
	struct labels x = mk("env", "prod", NULL, NULL), y = mk("env", "dev", NULL, NULL),
		      z = mk("other", "1", NULL, NULL);

	add_req(&in, "env", SEL_OP_IN, "prod", "staging");
	add_req(&notin, "env", SEL_OP_NOT_IN, "prod", "staging");
	ck_assert(selector_matches(&in, &x));
	ck_assert(!selector_matches(&in, &y));
	ck_assert(!selector_matches(&in, &z)); /* In needs the key */
	ck_assert(!selector_matches(&notin, &x));
	ck_assert(selector_matches(&notin, &y));
	ck_assert(selector_matches(&notin, &z)); /* NotIn matches an absent key */
	selector_clear(&in);
	selector_clear(&notin);
	labels_clear(&x);
	labels_clear(&y);
	labels_clear(&z);
}
END_TEST

START_TEST(test_exists_doesnotexist)
{
	struct selector ex = {0}, dne = {0};
	struct labels x = mk("env", "", NULL, NULL), none = {0};

	add_req(&ex, "env", SEL_OP_EXISTS, NULL, NULL);
	add_req(&dne, "env", SEL_OP_DOES_NOT_EXIST, NULL, NULL);
	ck_assert(selector_matches(&ex, &x)); /* empty value still exists */
	ck_assert(!selector_matches(&ex, &none));
	ck_assert(!selector_matches(&dne, &x));
	ck_assert(selector_matches(&dne, &none));
	selector_clear(&ex);
	selector_clear(&dne);
	labels_clear(&x);
}
END_TEST

START_TEST(test_labels_and_exprs_combined)
{
	struct selector s = {0};
	struct labels a = mk("app", "web", "env", "prod"), b = mk("app", "web", "env", "dev"),
		      c = mk("app", "web", NULL, NULL);

	labels_set(&s.match_labels, "app", "web");
	add_req(&s, "env", SEL_OP_NOT_IN, "dev", NULL);
	add_req(&s, "canary", SEL_OP_DOES_NOT_EXIST, NULL, NULL);
	ck_assert(selector_matches(&s, &a));
	ck_assert(!selector_matches(&s, &b));
	ck_assert(selector_matches(&s, &c));
	labels_set(&c, "canary", "yes");
	ck_assert(!selector_matches(&s, &c));
	selector_clear(&s);
	labels_clear(&a);
	labels_clear(&b);
	labels_clear(&c);
}
END_TEST

START_TEST(test_unknown_op_fails_closed)
{
	struct selector s = {0};
	struct labels a = mk("k", "v", NULL, NULL);

	add_req(&s, "k", (enum selector_op)42, "v", NULL);
	ck_assert(!selector_matches(&s, &a));
	selector_clear(&s);
	labels_clear(&a);
}
END_TEST

START_TEST(test_equality_selector)
{
	struct labels sel = mk("app", "web", NULL, NULL), empty = {0};
	struct labels a = mk("app", "web", "z", "1"), b = mk("app", "db", NULL, NULL);

	ck_assert(selector_labels_match(&sel, &a));
	ck_assert(!selector_labels_match(&sel, &b));
	ck_assert(!selector_labels_match(&sel, &empty));
	ck_assert(selector_labels_match(&empty, &b));
	labels_clear(&sel);
	labels_clear(&a);
	labels_clear(&b);
}
END_TEST

START_TEST(test_equal_hash_copy)
{
	struct selector a = {0}, b = {0}, c;

	labels_set(&a.match_labels, "app", "web");
	add_req(&a, "env", SEL_OP_IN, "a", "b");
	labels_set(&b.match_labels, "app", "web");
	add_req(&b, "env", SEL_OP_IN, "a", "c");
	ck_assert(!selector_equal(&a, &b));
	ck_assert_int_eq(selector_copy(&c, &a), 0);
	ck_assert(selector_equal(&a, &c));
	ck_assert_uint_eq(selector_hash(&a), selector_hash(&c));
	ck_assert_uint_ne(selector_hash(&a), selector_hash(&b));
	selector_clear(&a);
	selector_clear(&b);
	selector_clear(&c);
}
END_TEST

static Suite *selector_suite(void)
{
	Suite *s = suite_create("selector");
	TCase *tc = tcase_create("match");

	tcase_add_test(tc, test_empty_selector_matches_all);
	tcase_add_test(tc, test_match_labels);
	tcase_add_test(tc, test_in_notin);
	tcase_add_test(tc, test_exists_doesnotexist);
	tcase_add_test(tc, test_labels_and_exprs_combined);
	tcase_add_test(tc, test_unknown_op_fails_closed);
	tcase_add_test(tc, test_equality_selector);
	tcase_add_test(tc, test_equal_hash_copy);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(selector_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
