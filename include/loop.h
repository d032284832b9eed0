/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netpold's event loop: one epoll instance, file-descriptor handlers, timers
 * multiplexed on a single timerfd, and a "before sleep" hook that runs once
 * per pass just before the loop blocks (where the daemon reconciles).
 * Single-threaded; handlers must not block. Never logs.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "util.h"

struct loop;
struct loop_io;
struct loop_timer;

/* Called when fd is ready; events is the EPOLL* mask seen. */
typedef void (*loop_io_fn)(struct loop *l, int fd, uint32_t events, void *ud);
typedef void (*loop_timer_fn)(struct loop *l, void *ud);
typedef void (*loop_hook_fn)(struct loop *l, void *ud);

/* Create a loop. Returns 0 or -errno. */
int loop_new(struct loop **ret);
/* Free the loop and every handler and timer still registered. Accepts NULL. Does not close fds. */
void loop_free(struct loop *l);
static inline void loop_freep(struct loop **l)
{
	loop_free(*l);
}

/* CLOCK_MONOTONIC in microseconds. */
uint64_t loop_now_usec(void);

/*
 * Watch fd for events (EPOLLIN, EPOLLOUT, ...). The loop does not own fd.
 * *ret (may be NULL) is the handle for loop_io_modify/loop_io_free; it is
 * also freed by loop_free. Returns 0 or -errno.
 */
int loop_io_add(struct loop *l, int fd, uint32_t events, loop_io_fn cb, void *ud,
		struct loop_io **ret);
int loop_io_modify(struct loop_io *io, uint32_t events);
/* Stop watching (safe from inside any callback, including io's own). Accepts NULL. */
void loop_io_free(struct loop_io *io);

/* Create a disarmed timer. Returns 0 or -errno. */
int loop_timer_new(struct loop *l, loop_timer_fn cb, void *ud, struct loop_timer **ret);
/* Fire once, usec from now (0: on the next pass). Re-arming replaces the deadline. */
void loop_timer_arm(struct loop_timer *t, uint64_t usec);
/* Fire once at an absolute loop_now_usec() time. */
void loop_timer_arm_at(struct loop_timer *t, uint64_t when_usec);
void loop_timer_disarm(struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);
/* Deadline (loop_now_usec time) of an armed timer, else 0. */
uint64_t loop_timer_deadline(const struct loop_timer *t);
/* Free (safe from inside callbacks, including t's own). Accepts NULL. */
void loop_timer_free(struct loop_timer *t);

/* Set the hook run once per pass before the loop sleeps (one hook; NULL clears). */
void loop_set_before_sleep(struct loop *l, loop_hook_fn cb, void *ud);

/*
 * Run until loop_stop(). Returns the code given to loop_stop(), or -errno if
 * epoll itself failed.
 */
int loop_run(struct loop *l);
/* Make loop_run() return code after the current pass. */
void loop_stop(struct loop *l, int code);
bool loop_stopping(const struct loop *l);
/* Number of passes so far (each pass: before-sleep, wait, dispatch). */
uint64_t loop_iterations(const struct loop *l);
