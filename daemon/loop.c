/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The epoll loop every netpold fd is served from. Timers share one timerfd
 * armed for the earliest deadline; handlers freed while a batch of epoll
 * events is being dispatched are parked and released after the pass, so a
 * callback may free any handler, its own included.
 */
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>

#include "loop.h"

#define LOOP_MAX_EVENTS 64

struct loop_io {
	struct loop *loop;
	int fd;
	loop_io_fn cb;
	void *ud;
	bool dead;
	struct loop_io *next; /* all live handlers, or the graveyard */
	struct loop_io **pprev;
};

struct loop_timer {
	struct loop *loop;
	loop_timer_fn cb;
	void *ud;
	uint64_t deadline; /* 0: disarmed */
	bool pending;      /* expired in the current dispatch, not yet run */
	struct loop_timer *next;
	struct loop_timer **pprev;
};

struct loop {
	int epfd;
	int tfd;
	uint64_t tfd_armed_for; /* deadline the timerfd is set to, 0 = disarmed */
	struct loop_io *ios;
	struct loop_io *graveyard;
	struct loop_timer *timers;
	loop_hook_fn before_sleep;
	void *before_sleep_ud;
	bool stop;
	int stop_code;
	uint64_t iterations;
};

uint64_t loop_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int loop_new(struct loop **ret)
{
	struct loop *l;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->epfd < 0 || l->tfd < 0)
		goto fail;
	/* data.ptr == NULL marks the timerfd itself */
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->tfd, &ev) < 0)
		goto fail;
	*ret = l;
	return 0;
fail:;
	int r = -errno;
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->tfd >= 0)
		close(l->tfd);
	free(l);
	return r;
}

static void bury_graveyard(struct loop *l)
{
	while (l->graveyard) {
		struct loop_io *io = l->graveyard;

		l->graveyard = io->next;
		free(io);
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	while (l->ios)
		loop_io_free(l->ios);
	bury_graveyard(l);
	while (l->timers)
		loop_timer_free(l->timers);
	close(l->epfd);
	close(l->tfd);
	free(l);
}

int loop_io_add(struct loop *l, int fd, uint32_t events, loop_io_fn cb, void *ud,
		struct loop_io **ret)
{
	struct loop_io *io;
	struct epoll_event ev = {.events = events};

	if (fd < 0 || !cb)
		return -EINVAL;
	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	*io = (struct loop_io){.loop = l, .fd = fd, .cb = cb, .ud = ud};
	ev.data.ptr = io;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;

		free(io);
		return r;
	}
	io->next = l->ios;
	if (l->ios)
		l->ios->pprev = &io->next;
	io->pprev = &l->ios;
	l->ios = io;
	if (ret)
		*ret = io;
	return 0;
}

int loop_io_modify(struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = io};

	if (!io || io->dead)
		return -EINVAL;
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	return 0;
}

void loop_io_free(struct loop_io *io)
{
	struct loop *l;

	if (!io || io->dead)
		return;
	l = io->loop;
	/* the fd may already be closed by its owner: then the kernel dropped it already */
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	*io->pprev = io->next;
	if (io->next)
		io->next->pprev = io->pprev;
	io->dead = true;
	io->next = l->graveyard;
	l->graveyard = io;
}

int loop_timer_new(struct loop *l, loop_timer_fn cb, void *ud, struct loop_timer **ret)
{
	struct loop_timer *t;

	if (!cb || !ret)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	*t = (struct loop_timer){.loop = l, .cb = cb, .ud = ud};
	t->next = l->timers;
	if (l->timers)
		l->timers->pprev = &t->next;
	t->pprev = &l->timers;
	l->timers = t;
	*ret = t;
	return 0;
}

void loop_timer_arm_at(struct loop_timer *t, uint64_t when_usec)
{
	t->deadline = when_usec ? when_usec : 1;
	t->pending = false;
}

void loop_timer_arm(struct loop_timer *t, uint64_t usec)
{
	loop_timer_arm_at(t, loop_now_usec() + usec);
}

void loop_timer_disarm(struct loop_timer *t)
{
	if (!t)
		return;
	t->deadline = 0;
	t->pending = false;
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return t && t->deadline != 0;
}

uint64_t loop_timer_deadline(const struct loop_timer *t)
{
	return t ? t->deadline : 0;
}

void loop_timer_free(struct loop_timer *t)
{
	/*
	 * Timers are never referenced across a callback by the dispatcher
	 * (it rescans the list after each one), so they can go at once.
	 */
	if (!t)
		return;
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	free(t);
}

void loop_set_before_sleep(struct loop *l, loop_hook_fn cb, void *ud)
{
	l->before_sleep = cb;
	l->before_sleep_ud = ud;
}

void loop_stop(struct loop *l, int code)
{
	l->stop = true;
	l->stop_code = code;
}

bool loop_stopping(const struct loop *l)
{
	return l->stop;
}

uint64_t loop_iterations(const struct loop *l)
{
	return l->iterations;
}

/* Point the timerfd at the earliest deadline; returns that deadline (0: none). */
static int arm_timerfd(struct loop *l, uint64_t *ret_earliest)
{
	uint64_t earliest = 0;
	struct itimerspec its = {0};

	for (struct loop_timer *t = l->timers; t; t = t->next)
		if (t->deadline && (!earliest || t->deadline < earliest))
			earliest = t->deadline;
	*ret_earliest = earliest;
	if (earliest == l->tfd_armed_for)
		return 0;
	its.it_value.tv_sec = (time_t)(earliest / 1000000u);
	its.it_value.tv_nsec = (long)(earliest % 1000000u) * 1000;
	if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	l->tfd_armed_for = earliest;
	return 0;
}

static void run_timers(struct loop *l)
{
	uint64_t now = loop_now_usec();
	bool any = false;

	/* Only timers due now run; one re-armed from its callback waits for the next pass. */
	for (struct loop_timer *t = l->timers; t; t = t->next)
		if (t->deadline && t->deadline <= now) {
			t->pending = true;
			any = true;
		}
	while (any && !l->stop) {
		struct loop_timer *t = l->timers;

		while (t && !t->pending)
			t = t->next;
		if (!t)
			break;
		t->pending = false;
		t->deadline = 0;
		t->cb(l, t->ud);
	}
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];

	l->stop = false;
	while (!l->stop) {
		uint64_t earliest, now;
		int timeout = -1, n, r;

		l->iterations++;
		if (l->before_sleep)
			l->before_sleep(l, l->before_sleep_ud);
		if (l->stop)
			break;
		r = arm_timerfd(l, &earliest);
		if (r < 0)
			return r;
		now = loop_now_usec();
		if (earliest && earliest <= now)
			timeout = 0;
		n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !l->stop; i++) {
			struct loop_io *io = evs[i].data.ptr;

			if (!io) {
				uint64_t expirations;

				if (read(l->tfd, &expirations, sizeof(expirations)) < 0) {
					/* EAGAIN: already consumed; the deadline check below decides */
				}
				l->tfd_armed_for = 0;
				continue;
			}
			if (io->dead)
				continue;
			io->cb(l, io->fd, evs[i].events, io->ud);
		}
		bury_graveyard(l);
		run_timers(l);
	}
	return l->stop_code;
}
