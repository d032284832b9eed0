/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * k8s_framer: a watch stream cut at every possible point (and into single
 * bytes, and at random) yields the same events; CRLF and blank lines;
 * over-long lines are rejected and poison the stream; the final partial line.
 */
#include <check.h>
#include <stdio.h>

#include "k8s_framer.h"
#include "util.h"

struct collect {
	char out[8192];
	size_t len;
	int n;
	int fail_at; /* return -EIO on this line (1-based), 0 never */
};

static int on_line(void *ud, const char *line, size_t len)
{
	struct collect *c = ud;

	c->n++;
	if (c->fail_at && c->n == c->fail_at)
		return -EIO;
	ck_assert_uint_lt(c->len + len + 1, sizeof(c->out));
	memcpy(c->out + c->len, line, len);
	c->len += len;
	c->out[c->len++] = '|';
	c->out[c->len] = '\0';
	return 0;
}

static const char stream[] =
	"{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n"
	"{\"type\":\"MODIFIED\",\"object\":{\"b\":\"x\\ny\"}}\r\n"
	"\n"
	"   \n"
	"{\"type\":\"BOOKMARK\"}\n"
	"{\"type\":\"DELETED\"}\n";
static const char expected[] = "{\"type\":\"ADDED\",\"object\":{\"a\":1}}|"
			       "{\"type\":\"MODIFIED\",\"object\":{\"b\":\"x\\ny\"}}|"
			       "{\"type\":\"BOOKMARK\"}|{\"type\":\"DELETED\"}|";

START_TEST(every_split_point)
{
	size_t len = strlen(stream);

	for (size_t a = 0; a <= len; a++)
		for (size_t b = a; b <= len; b++) {
			struct k8s_framer f;
			struct collect c = {0};
			int n = 0, r;

			k8s_framer_init(&f, 1024);
			r = k8s_framer_feed(&f, stream, a, on_line, &c);
			ck_assert_int_ge(r, 0);
			n += r;
			r = k8s_framer_feed(&f, stream + a, b - a, on_line, &c);
			ck_assert_int_ge(r, 0);
			n += r;
			r = k8s_framer_feed(&f, stream + b, len - b, on_line, &c);
			ck_assert_int_ge(r, 0);
			n += r;
			ck_assert_int_eq(k8s_framer_finish(&f, on_line, &c), 0);
			ck_assert_int_eq(n, 4);
			ck_assert_str_eq(c.out, expected);
			k8s_framer_clear(&f);
		}
}
END_TEST

START_TEST(byte_by_byte_and_random)
{
	size_t len = strlen(stream);
	struct k8s_framer f;
	struct collect c = {0};

	k8s_framer_init(&f, 1024);
	for (size_t i = 0; i < len; i++)
		ck_assert_int_ge(k8s_framer_feed(&f, stream + i, 1, on_line, &c), 0);
	ck_assert_str_eq(c.out, expected);
	ck_assert_uint_eq(k8s_framer_pending(&f), 0);
	k8s_framer_clear(&f);

	srandom(42);
	for (int round = 0; round < 500; round++) {
		struct collect c2 = {0};
		size_t pos = 0;

		k8s_framer_init(&f, 1024);
		while (pos < len) {
			size_t k = (size_t)random() % 9;

			if (k > len - pos)
				k = len - pos;
			ck_assert_int_ge(k8s_framer_feed(&f, stream + pos, k, on_line, &c2), 0);
			pos += k;
		}
		ck_assert_str_eq(c2.out, expected);
		k8s_framer_clear(&f);
	}
}
END_TEST

START_TEST(partial_final_line)
{
	struct k8s_framer f;
	struct collect c = {0};

	k8s_framer_init(&f, 1024);
	ck_assert_int_eq(k8s_framer_feed(&f, "{\"a\":1}\n{\"b\":", 13, on_line, &c), 1);
	ck_assert_uint_eq(k8s_framer_pending(&f), 5);
	ck_assert_int_eq(k8s_framer_feed(&f, "2}", 2, on_line, &c), 0);
	ck_assert_int_eq(k8s_framer_finish(&f, on_line, &c), 1);
	ck_assert_str_eq(c.out, "{\"a\":1}|{\"b\":2}|");
	ck_assert_uint_eq(k8s_framer_pending(&f), 0);
	ck_assert_int_eq(k8s_framer_finish(&f, on_line, &c), 0);
	k8s_framer_clear(&f);
}
END_TEST

START_TEST(over_long_lines)
{
	char big[100];
	struct k8s_framer f;
	struct collect c = {0};

	memset(big, 'x', sizeof(big));
	/* exactly the limit is fine, in one piece or buffered */
	k8s_framer_init(&f, 16);
	ck_assert_int_eq(k8s_framer_feed(&f, big, 16, on_line, &c), 0);
	ck_assert_int_eq(k8s_framer_feed(&f, "\n", 1, on_line, &c), 1);
	ck_assert_int_eq(k8s_framer_feed(&f, "0123456789abcdef\n", 17, on_line, &c), 1);
	/* one more byte is not, whether it arrives with its newline or without */
	ck_assert_int_eq(k8s_framer_feed(&f, big, 17, on_line, &c), -E2BIG);
	/* the stream stays unusable until a reset */
	ck_assert_int_eq(k8s_framer_feed(&f, "ok\n", 3, on_line, &c), -E2BIG);
	ck_assert_int_eq(k8s_framer_finish(&f, on_line, &c), 0);
	k8s_framer_reset(&f);
	ck_assert_int_eq(k8s_framer_feed(&f, "ok\n", 3, on_line, &c), 1);
	memcpy(big + 17, "\n", 1);
	ck_assert_int_eq(k8s_framer_feed(&f, big, 18, on_line, &c), -E2BIG);
	k8s_framer_reset(&f);
	/* growing past the limit over several feeds */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(k8s_framer_feed(&f, big, 4, on_line, &c), 0);
	ck_assert_int_eq(k8s_framer_feed(&f, big, 1, on_line, &c), -E2BIG);
	ck_assert_int_eq(c.n, 3);
	k8s_framer_clear(&f);
}
END_TEST

START_TEST(callback_error_stops)
{
	struct k8s_framer f;
	struct collect c = {.fail_at = 2};

	k8s_framer_init(&f, 64);
	ck_assert_int_eq(k8s_framer_feed(&f, "a\nb\nc\n", 6, on_line, &c), -EIO);
	ck_assert_int_eq(c.n, 2);
	ck_assert_str_eq(c.out, "a|");
	k8s_framer_clear(&f);
}
END_TEST

static Suite *framer_suite(void)
{
	Suite *s = suite_create("k8s_framer");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_split_point);
	tcase_add_test(tc, byte_by_byte_and_random);
	tcase_add_test(tc, partial_final_line);
	tcase_add_test(tc, over_long_lines);
	tcase_add_test(tc, callback_error_stops);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(framer_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
