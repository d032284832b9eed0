/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loop: timers fire in deadline order and only once per arming, fd handlers
 * see readiness, handlers may free themselves and each other mid-dispatch,
 * the before-sleep hook runs once per pass and loop_stop returns its code.
 */
#include <check.h>
#include <fcntl.h>

#include "loop.h"

struct rec {
	struct loop *l;
	char order[32];
	size_t n;
	uint64_t fired_at[8];
	unsigned hook_calls;
	unsigned io_calls;
	struct loop_io *io_self;
	struct loop_io *io_other;
	struct loop_timer *timer;
};

static void note(struct rec *r, char c)
{
	if (r->n < sizeof(r->order) - 1)
		r->order[r->n++] = c;
}

static void timer_a(struct loop *l, void *ud)
{
	note(ud, 'a');
}

static void timer_b(struct loop *l, void *ud)
{
	note(ud, 'b');
}

static void timer_stop(struct loop *l, void *ud)
{
	note(ud, 's');
	loop_stop(l, 7);
}

START_TEST(timers_fire_in_order)
{
	struct loop *l = NULL;
	struct loop_timer *a, *b, *s;
	struct rec r = {0};
	uint64_t t0;

	ck_assert_int_eq(loop_new(&l), 0);
	ck_assert_int_eq(loop_timer_new(l, timer_a, &r, &a), 0);
	ck_assert_int_eq(loop_timer_new(l, timer_b, &r, &b), 0);
	ck_assert_int_eq(loop_timer_new(l, timer_stop, &r, &s), 0);
	t0 = loop_now_usec();
	loop_timer_arm(b, 20000);
	loop_timer_arm(a, 5000);
	loop_timer_arm(s, 40000);
	ck_assert(loop_timer_armed(a));
	ck_assert_int_eq(loop_run(l), 7);
	ck_assert_str_eq(r.order, "abs");
	ck_assert_uint_ge(loop_now_usec() - t0, 40000);
	ck_assert(!loop_timer_armed(a));
	loop_free(l);
}
END_TEST

START_TEST(disarm_and_rearm)
{
	struct loop *l = NULL;
	struct loop_timer *a, *b, *s;
	struct rec r = {0};

	ck_assert_int_eq(loop_new(&l), 0);
	ck_assert_int_eq(loop_timer_new(l, timer_a, &r, &a), 0);
	ck_assert_int_eq(loop_timer_new(l, timer_b, &r, &b), 0);
	ck_assert_int_eq(loop_timer_new(l, timer_stop, &r, &s), 0);
	loop_timer_arm(a, 1000);
	loop_timer_disarm(a);
	loop_timer_arm(b, 50000);
	loop_timer_arm(b, 2000); /* re-arming replaces the deadline */
	loop_timer_arm(s, 10000);
	ck_assert_int_eq(loop_run(l), 7);
	ck_assert_str_eq(r.order, "bs");
	/* freeing an armed timer is fine */
	loop_timer_arm(a, 0);
	loop_timer_free(a);
	loop_timer_arm(s, 0);
	ck_assert_int_eq(loop_run(l), 7);
	ck_assert_str_eq(r.order, "bss");
	loop_free(l);
}
END_TEST

static void rearm_zero(struct loop *l, void *ud)
{
	struct rec *r = ud;

	note(r, 'z');
	r->fired_at[r->n - 1 < 8 ? r->n - 1 : 7] = loop_iterations(l);
	if (r->n < 3)
		loop_timer_arm(r->timer, 0);
	else
		loop_stop(l, 0);
}

START_TEST(rearm_from_callback_waits_a_pass)
{
	struct loop *l = NULL;
	struct rec r = {0};

	ck_assert_int_eq(loop_new(&l), 0);
	ck_assert_int_eq(loop_timer_new(l, rearm_zero, &r, &r.timer), 0);
	loop_timer_arm(r.timer, 0);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_str_eq(r.order, "zzz");
	/* one firing per pass: a zero-delay re-arm never starves the loop */
	ck_assert_uint_lt(r.fired_at[0], r.fired_at[1]);
	ck_assert_uint_lt(r.fired_at[1], r.fired_at[2]);
	loop_free(l);
}
END_TEST

static void self_free_timer(struct loop *l, void *ud)
{
	struct rec *r = ud;

	note(r, 'f');
	loop_timer_free(r->timer);
	r->timer = NULL;
}

START_TEST(timer_frees_itself)
{
	struct loop *l = NULL;
	struct loop_timer *s;
	struct rec r = {0};

	ck_assert_int_eq(loop_new(&l), 0);
	ck_assert_int_eq(loop_timer_new(l, self_free_timer, &r, &r.timer), 0);
	ck_assert_int_eq(loop_timer_new(l, timer_stop, &r, &s), 0);
	loop_timer_arm(r.timer, 0);
	loop_timer_arm(s, 1000);
	ck_assert_int_eq(loop_run(l), 7);
	ck_assert_str_eq(r.order, "fs");
	loop_free(l);
}
END_TEST

static void on_pipe(struct loop *l, int fd, uint32_t events, void *ud)
{
	struct rec *r = ud;
	char buf[16];

	ck_assert(events & EPOLLIN);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 1);
	note(r, buf[0]);
	if (buf[0] == 'q')
		loop_stop(l, 3);
}

static void writer(struct loop *l, void *ud)
{
	int *fds = ud;

	ck_assert_int_eq(write(fds[1], "q", 1), 1);
}

START_TEST(fd_handler_and_stop)
{
	struct loop *l = NULL;
	struct loop_io *io;
	struct loop_timer *t;
	struct rec r = {0};
	int fds[2];

	ck_assert_int_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	ck_assert_int_eq(loop_new(&l), 0);
	ck_assert_int_eq(loop_io_add(l, fds[0], EPOLLIN, on_pipe, &r, &io), 0);
	ck_assert_int_eq(loop_io_add(l, fds[0], EPOLLIN, on_pipe, &r, NULL), -EEXIST);
	ck_assert_int_eq(loop_io_add(l, -1, EPOLLIN, on_pipe, &r, NULL), -EINVAL);
	ck_assert_int_eq(loop_timer_new(l, writer, fds, &t), 0);
	ck_assert_int_eq(write(fds[1], "q", 1), 1);
	ck_assert_int_eq(loop_run(l), 3);
	ck_assert_str_eq(r.order, "q");
	/* now the only writer is a timer: the loop sleeps until it fires */
	loop_timer_arm(t, 2000);
	ck_assert_int_eq(loop_run(l), 3);
	ck_assert_str_eq(r.order, "qq");
	ck_assert(!loop_timer_armed(t));
	loop_io_free(io);
	loop_free(l);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* Both ends of two pipes become ready in one epoll batch; the first handler frees both. */
static void free_both(struct loop *l, int fd, uint32_t events, void *ud)
{
	struct rec *r = ud;

	r->io_calls++;
	loop_io_free(r->io_self);
	loop_io_free(r->io_other);
	loop_io_free(r->io_other); /* twice is harmless */
	loop_stop(l, 5);
}

START_TEST(free_handlers_mid_dispatch)
{
	struct loop *l = NULL;
	struct rec r = {0};
	int p1[2], p2[2];

	ck_assert_int_eq(pipe2(p1, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(p2, O_CLOEXEC), 0);
	ck_assert_int_eq(loop_new(&l), 0);
	ck_assert_int_eq(loop_io_add(l, p1[0], EPOLLIN, free_both, &r, &r.io_self), 0);
	ck_assert_int_eq(loop_io_add(l, p2[0], EPOLLIN, free_both, &r, &r.io_other), 0);
	ck_assert_int_eq(write(p1[1], "1", 1), 1);
	ck_assert_int_eq(write(p2[1], "2", 1), 1);
	ck_assert_int_eq(loop_run(l), 5);
	ck_assert_uint_eq(r.io_calls, 1);
	loop_free(l);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
}
END_TEST

static void hook(struct loop *l, void *ud)
{
	struct rec *r = ud;

	r->hook_calls++;
	if (r->hook_calls == 4)
		loop_stop(l, 9);
}

START_TEST(before_sleep_once_per_pass)
{
	struct loop *l = NULL;
	struct loop_timer *t;
	struct rec r = {0};

	ck_assert_int_eq(loop_new(&l), 0);
	loop_set_before_sleep(l, hook, &r);
	ck_assert_int_eq(loop_timer_new(l, rearm_zero, &r, &t), 0);
	r.timer = t;
	loop_timer_arm(t, 0);
	/* passes: hook, timer z (re-arm), hook, z, hook, z (stop) */
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_uint_eq(r.hook_calls, 3);
	ck_assert_uint_eq(loop_iterations(l), 3);
	/* the hook can stop the loop before it sleeps; nothing is armed, yet no hang */
	ck_assert_int_eq(loop_run(l), 9);
	ck_assert_uint_eq(r.hook_calls, 4);
	ck_assert(loop_stopping(l));
	loop_free(l);
}
END_TEST

START_TEST(free_null_and_leftovers)
{
	struct loop *l = NULL;
	struct loop_timer *t;
	struct rec r = {0};
	int p[2];

	loop_free(NULL);
	loop_io_free(NULL);
	loop_timer_free(NULL);
	loop_timer_disarm(NULL);
	ck_assert(!loop_timer_armed(NULL));
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(loop_new(&l), 0);
	/* loop_free releases whatever is still registered */
	ck_assert_int_eq(loop_io_add(l, p[0], EPOLLIN, on_pipe, &r, NULL), 0);
	ck_assert_int_eq(loop_timer_new(l, timer_a, &r, &t), 0);
	loop_timer_arm(t, 1000000);
	ck_assert_uint_ne(loop_timer_deadline(t), 0);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}
END_TEST

static Suite *loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, timers_fire_in_order);
	tcase_add_test(tc, disarm_and_rearm);
	tcase_add_test(tc, rearm_from_callback_waits_a_pass);
	tcase_add_test(tc, timer_frees_itself);
	tcase_add_test(tc, fd_handler_and_stop);
	tcase_add_test(tc, free_handlers_mid_dispatch);
	tcase_add_test(tc, before_sleep_once_per_pass);
	tcase_add_test(tc, free_null_and_leftovers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(loop_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
