/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where the cluster model comes from. A source watches its input on the
 * daemon's loop and only says "something changed" (notify); the daemon's
 * reconcile then asks it to sync pending changes into the engine. The
 * manifest folder is the first kind; the API server watch is the next.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "loop.h"

struct source;
struct decode_diag;

struct source_ops {
	const char *kind; /* "manifests", "kubernetes" */
	/* Register fds and timers on l; may fail softly (the source retries). 0 or -errno. */
	int (*start)(struct source *s, struct loop *l);
	/*
	 * Bring e up to date with the input. full: re-read everything rather
	 * than trusting events (SIGHUP, POST /v1/sync, lost events). Returns the
	 * number of engine updates made, or -errno when the input could not be
	 * read at all (e is then untouched and the source stays dirty). Logs
	 * rejected objects once each.
	 */
	int (*sync)(struct source *s, struct engine *e, bool full);
	/* Whether the source has delivered one complete view of its input. */
	bool (*synced)(const struct source *s);
	/* Rejected objects still standing after the last sync. */
	size_t (*n_errors)(const struct source *s);
	/* Path or URL, for status and logs. */
	const char *(*location)(const struct source *s);
	void (*free)(struct source *s);
	/*
	 * Why the source cannot currently follow its input (the API server is
	 * unreachable, a watch is refused), or NULL when healthy. The engine
	 * keeps the last known state meanwhile. Optional: NULL means never
	 * degraded; use source_degraded(). The source notifies when it changes.
	 */
	const char *(*degraded)(const struct source *s);
	/*
	 * The kinds of object the last sync() applied or deleted, as
	 * 1u << enum obj_kind (the programming-latency metric's trigger).
	 * Optional: NULL or 0 means unknown.
	 */
	unsigned (*changed_kinds)(const struct source *s);
	/*
	 * Every sync() reports all rejections standing in the source, so one
	 * it no longer reports is gone (the API server source). False: a sync
	 * reports only what it re-read (the manifest folder).
	 */
	bool reports_all_errors;
};

struct source {
	const struct source_ops *ops;
	/* Called from loop handlers when the input changed; the daemon schedules a sync. */
	void (*notify)(void *ud);
	void *notify_ud;
	/*
	 * Optional, set by the daemon before the first sync: called during
	 * sync() with every object the source rejects (all standing ones, each
	 * sync), for the status socket's per-object errors.
	 */
	void (*diag)(void *ud, const struct decode_diag *d);
	void *diag_ud;
};

static inline void source_free(struct source *s)
{
	if (s)
		s->ops->free(s);
}

static inline const char *source_degraded(const struct source *s)
{
	return s && s->ops->degraded ? s->ops->degraded(s) : NULL;
}

static inline void source_freep(struct source **s)
{
	source_free(*s);
}

/*
 * The manifest-folder source: manifest_dir plus an inotify watch on the
 * folder. The folder need not exist yet: the watch is retried every second
 * and the source reports an error until it can be read. Returns 0 or -errno.
 */
int manifest_source_new(const char *path, void (*notify)(void *ud), void *ud,
			struct source **ret);
