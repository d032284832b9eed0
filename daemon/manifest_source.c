/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The manifest-folder source: an inotify watch on the folder turns file
 * changes into a notify; the daemon's reconcile then calls manifest_dir_sync,
 * which re-reads the folder. Rejected objects are logged once, when they
 * first appear, not on every sync.
 */
#include <stdio.h>
#include <sys/inotify.h>

#include "log.h"
#include "manifest_dir.h"
#include "source.h"

#define WATCH_MASK                                                                                 \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF |   \
	 IN_MOVE_SELF | IN_ONLYDIR)
#define REWATCH_USEC 1000000u
#define MAX_TRACKED_ERRORS 10000

struct error_set {
	char **v;
	size_t n, cap;
};

struct manifest_source {
	struct source base;
	struct manifest_dir *md;
	struct loop *loop;
	int ifd;
	int wd;
	int watch_error; /* last inotify_add_watch failure logged, 0 when watching */
	int read_error;  /* last folder read failure logged */
	struct loop_io *io;
	struct loop_timer *rewatch;
	bool synced;
	struct error_set seen; /* diagnostics standing after the previous sync */
	struct error_set cur;  /* being collected by the current sync */
};

static void error_set_clear(struct error_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct error_set){0};
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool error_set_has(const struct error_set *s, const char *key)
{
	return s->n && bsearch(&key, s->v, s->n, sizeof(char *), cmp_str);
}

static const char *location(const struct source *s)
{
	const struct manifest_source *ms = (const struct manifest_source *)s;

	return manifest_dir_path(ms->md);
}

static void on_diag(void *ud, const struct decode_diag *d)
{
	struct manifest_source *ms = ud;
	_cleanup_free_ char *key = NULL;
	char line[16] = "";

	if (d->line)
		snprintf(line, sizeof(line), ":%u", d->line);
	if (asprintf(&key, "%s%s: %s %s%s%s: %s", d->source ? d->source : "?", line,
		     d->kind ? d->kind : "object", d->ns ? d->ns : "", d->ns ? "/" : "",
		     d->name ? d->name : "?", d->message ? d->message : "rejected") < 0)
		return;
	if (ms->base.diag)
		ms->base.diag(ms->base.diag_ud, d);
	if (!error_set_has(&ms->seen, key))
		log_warning("manifests: %s", key);
	if (ms->cur.n >= MAX_TRACKED_ERRORS)
		return;
	if (ms->cur.n == ms->cur.cap) {
		size_t cap = ms->cur.cap ? ms->cur.cap * 2 : 16;
		char **v = reallocarray(ms->cur.v, cap, sizeof(char *));

		if (!v)
			return;
		ms->cur.v = v;
		ms->cur.cap = cap;
	}
	ms->cur.v[ms->cur.n++] = TAKE_PTR(key);
}

static int try_watch(struct manifest_source *ms)
{
	const char *path = manifest_dir_path(ms->md);
	int wd;

	wd = inotify_add_watch(ms->ifd, path, WATCH_MASK);
	if (wd < 0) {
		int r = -errno;

		if (r != ms->watch_error)
			log_warning_errno(r, "manifests: cannot watch %s, retrying every second",
					  path);
		ms->watch_error = r;
		loop_timer_arm(ms->rewatch, REWATCH_USEC);
		return r;
	}
	if (ms->watch_error)
		log_info("manifests: watching %s again", path);
	ms->watch_error = 0;
	ms->wd = wd;
	return 0;
}

static void lost_watch(struct manifest_source *ms, bool still_registered)
{
	if (still_registered && ms->wd >= 0)
		(void)inotify_rm_watch(ms->ifd, ms->wd);
	ms->wd = -1;
	(void)try_watch(ms);
}

static void on_rewatch(struct loop *l, void *ud)
{
	struct manifest_source *ms = ud;

	if (ms->wd < 0 && try_watch(ms) == 0)
		ms->base.notify(ms->base.notify_ud);
}

static void on_inotify(struct loop *l, int fd, uint32_t events, void *ud)
{
	struct manifest_source *ms = ud;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warning_errno(-errno, "manifests: inotify read failed");
			break;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			p += sizeof(*ev) + ev->len;
			/*
			 * Any event counts, hidden names included: a ConfigMap volume
			 * swaps its "..data" symlink and never touches the visible files.
			 */
			changed = true;
			if (ev->mask & IN_Q_OVERFLOW)
				log_notice("manifests: inotify queue overflowed, rescanning");
			if (ev->wd != ms->wd)
				continue;
			if (ev->mask & IN_IGNORED)
				lost_watch(ms, false);
			else if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))
				lost_watch(ms, true);
		}
	}
	if (changed)
		ms->base.notify(ms->base.notify_ud);
}

static int start(struct source *s, struct loop *l)
{
	struct manifest_source *ms = (struct manifest_source *)s;
	int r;

	ms->loop = l;
	ms->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ms->ifd < 0)
		return log_error_errno(-errno, "manifests: inotify_init1 failed");
	r = loop_io_add(l, ms->ifd, EPOLLIN, on_inotify, ms, &ms->io);
	if (r >= 0)
		r = loop_timer_new(l, on_rewatch, ms, &ms->rewatch);
	if (r < 0)
		return log_error_errno(r, "manifests: cannot register the inotify watch");
	(void)try_watch(ms); /* a missing folder is retried, not fatal */
	return 0;
}

static int sync_source(struct source *s, struct engine *e, bool full)
{
	struct manifest_source *ms = (struct manifest_source *)s;
	const char *path = manifest_dir_path(ms->md);
	int r;

	/* manifest_dir_sync always lists the whole folder, so every sync is a full one */
	error_set_clear(&ms->cur);
	r = manifest_dir_sync(ms->md, e, on_diag, ms);
	if (r < 0) {
		if (r != ms->read_error)
			log_warning_errno(r, "manifests: cannot read %s", path);
		ms->read_error = r;
		error_set_clear(&ms->cur);
		return r;
	}
	if (ms->read_error)
		log_info("manifests: %s is readable again", path);
	ms->read_error = 0;
	if (ms->cur.n)
		qsort(ms->cur.v, ms->cur.n, sizeof(char *), cmp_str);
	error_set_clear(&ms->seen);
	ms->seen = ms->cur;
	ms->cur = (struct error_set){0};
	if (!ms->synced)
		log_info("manifests: %s read, %zu object(s) rejected", path,
			 manifest_dir_n_errors(ms->md));
	ms->synced = true;
	return r;
}

static bool synced(const struct source *s)
{
	return ((const struct manifest_source *)s)->synced;
}

static size_t n_errors(const struct source *s)
{
	const struct manifest_source *ms = (const struct manifest_source *)s;

	if (ms->read_error)
		return manifest_dir_n_errors(ms->md) + 1;
	return manifest_dir_n_errors(ms->md);
}

static unsigned changed_kinds(const struct source *s)
{
	return manifest_dir_changed_kinds(((const struct manifest_source *)s)->md);
}

static void free_source(struct source *s)
{
	struct manifest_source *ms = (struct manifest_source *)s;

	loop_io_free(ms->io);
	loop_timer_free(ms->rewatch);
	if (ms->ifd >= 0)
		close(ms->ifd);
	manifest_dir_free(ms->md);
	error_set_clear(&ms->seen);
	error_set_clear(&ms->cur);
	free(ms);
}

static const struct source_ops manifest_source_ops = {
	.kind = "manifests",
	.start = start,
	.sync = sync_source,
	.synced = synced,
	.n_errors = n_errors,
	.location = location,
	.free = free_source,
	.changed_kinds = changed_kinds,
};

int manifest_source_new(const char *path, void (*notify)(void *ud), void *ud,
			struct source **ret)
{
	struct manifest_source *ms;
	int r;

	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return -ENOMEM;
	ms->base = (struct source){.ops = &manifest_source_ops, .notify = notify, .notify_ud = ud};
	ms->ifd = -1;
	ms->wd = -1;
	r = manifest_dir_new(path, &ms->md);
	if (r < 0) {
		free(ms);
		return r;
	}
	*ret = &ms->base;
	return 0;
}
