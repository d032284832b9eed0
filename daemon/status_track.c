/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the status socket remembers between reconciles: since when each
 * policy's current generation and each local pod's isolation are in the
 * kernel (stamped at the commit that first included them), and the
 * source's standing diagnostics per object. A sync only reports the inputs
 * it re-read, so diagnostics of an input stand until that input is re-read
 * (a file whose size or mtime changed, or that is gone). Bounded by the
 * engine's own object count and MAX_ERRORS.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "decode.h"
#include "status_int.h"

#define N_BUCKETS 4096u
#define MAX_ERRORS 10000u

struct entry {
	struct entry *next;
	char *key; /* "ns/name" */
	bool seen; /* marked in the current sweep */
	/* policies */
	int64_t generation;
	const void *obj; /* engine object at the time: a re-applied object counts as new */
	struct timespec since;
	/* pods */
	bool iso[2];
	struct timespec iso_since[2];
};

struct table {
	struct entry *b[N_BUCKETS];
};

struct obj_error {
	char *kind, *ns, *name, *source, *message;
	unsigned line;
	bool is_file; /* source was a file when reported: size and mtime below */
	off_t size;
	struct timespec mtime;
};

struct error_list {
	struct obj_error *v;
	size_t n;
};

struct status_track {
	struct table policies, pods;
	struct error_list cur, standing;
};

static unsigned hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h % N_BUCKETS;
}

static struct entry *table_get(const struct table *t, const char *key)
{
	for (struct entry *e = t->b[hash(key)]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static struct entry *table_add(struct table *t, const char *key)
{
	struct entry *e = calloc(1, sizeof(*e));
	unsigned h = hash(key);

	if (!e)
		return NULL;
	e->key = strdup(key);
	if (!e->key) {
		free(e);
		return NULL;
	}
	e->next = t->b[h];
	t->b[h] = e;
	return e;
}

/* Drop entries not seen in this sweep (all with all = true); clear the marks. */
static void table_sweep(struct table *t, bool all)
{
	for (size_t i = 0; i < N_BUCKETS; i++) {
		struct entry **pp = &t->b[i];

		while (*pp) {
			struct entry *e = *pp;

			if (all || !e->seen) {
				*pp = e->next;
				free(e->key);
				free(e);
				continue;
			}
			e->seen = false;
			pp = &e->next;
		}
	}
}

static void obj_error_clear(struct obj_error *e)
{
	free(e->kind);
	free(e->ns);
	free(e->name);
	free(e->source);
	free(e->message);
}

static void error_list_clear(struct error_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		obj_error_clear(&l->v[i]);
	free(l->v);
	*l = (struct error_list){0};
}

int status_track_new(struct status_track **ret)
{
	struct status_track *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	*ret = t;
	return 0;
}

void status_track_free(struct status_track *t)
{
	if (!t)
		return;
	table_sweep(&t->policies, true);
	table_sweep(&t->pods, true);
	error_list_clear(&t->cur);
	error_list_clear(&t->standing);
	free(t);
}

static void key_of(const char *ns, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", ns, name);
}

struct sweep_ctx {
	struct status_track *t;
	const struct daemon *d;
	struct timespec now;
};

static int stamp_policy(void *ud, const struct netpol *p)
{
	struct sweep_ctx *c = ud;
	char key[2 * MODEL_MAX_NAME_LEN + 2];
	struct entry *e;

	key_of(p->ns, p->name, key, sizeof(key));
	e = table_get(&c->t->policies, key);
	if (!e) {
		e = table_add(&c->t->policies, key);
		if (!e)
			return 0; /* out of memory: shown as not programmed */
		e->generation = -1;
	}
	e->seen = true;
	if (e->generation != p->generation || (p->generation == 0 && e->obj != p)) {
		e->generation = p->generation;
		e->since = c->now;
	}
	e->obj = p;
	return 0;
}

static int stamp_pod(void *ud, const struct pod_obj *p)
{
	struct sweep_ctx *c = ud;
	char key[2 * MODEL_MAX_NAME_LEN + 2];
	struct entry *e;
	bool fresh = false;

	if (!p->node_name || strcmp(p->node_name, c->d->cfg.node_name) != 0 || !pod_is_target(p))
		return 0;
	key_of(p->ns, p->name, key, sizeof(key));
	e = table_get(&c->t->pods, key);
	if (!e) {
		e = table_add(&c->t->pods, key);
		if (!e)
			return 0;
		fresh = true;
	}
	e->seen = true;
	for (int dir = DIR_INGRESS; dir <= DIR_EGRESS; dir++) {
		bool iso = engine_pod_isolated(c->d->engine, p, (enum direction)dir);

		if (fresh || iso != e->iso[dir]) {
			e->iso[dir] = iso;
			e->iso_since[dir] = c->now;
		}
	}
	return 0;
}

void status_track_programmed(struct status_track *t, const struct daemon *d)
{
	struct sweep_ctx c = {.t = t, .d = d};

	if (!t || !d->engine)
		return;
	clock_gettime(CLOCK_REALTIME, &c.now);
	(void)engine_foreach_policy(d->engine, stamp_policy, &c);
	table_sweep(&t->policies, false);
	(void)engine_foreach_pod(d->engine, stamp_pod, &c);
	table_sweep(&t->pods, false);
}

const struct timespec *status_track_policy_since(const struct status_track *t,
						 const struct netpol *pol)
{
	char key[2 * MODEL_MAX_NAME_LEN + 2];
	const struct entry *e;

	key_of(pol->ns, pol->name, key, sizeof(key));
	e = table_get(&t->policies, key);
	/* the engine holds a version the kernel does not have yet */
	if (!e || e->obj != pol || e->generation != pol->generation)
		return NULL;
	return &e->since;
}

const struct timespec *status_track_pod_since(const struct status_track *t,
					      const struct pod_obj *p, enum direction dir)
{
	char key[2 * MODEL_MAX_NAME_LEN + 2];
	const struct entry *e;

	key_of(p->ns, p->name, key, sizeof(key));
	e = table_get(&t->pods, key);
	return e ? &e->iso_since[dir] : NULL;
}

void status_track_diag(void *ud, const struct decode_diag *diag)
{
	struct status_track *t = ud;
	struct obj_error *v, *e;

	if (!t || t->cur.n >= MAX_ERRORS)
		return;
	v = reallocarray(t->cur.v, t->cur.n + 1, sizeof(*v));
	if (!v)
		return;
	t->cur.v = v;
	e = &v[t->cur.n++];
	*e = (struct obj_error){
		.kind = strdup_or_null(diag->kind),
		.ns = strdup_or_null(diag->ns),
		.name = strdup_or_null(diag->name),
		.source = strdup_or_null(diag->source),
		.message = strdup_or_null(diag->message ? diag->message : "rejected"),
		.line = diag->line,
	};
	if (diag->source) {
		struct stat st;

		if (stat(diag->source, &st) == 0 && S_ISREG(st.st_mode)) {
			e->is_file = true;
			e->size = st.st_size;
			e->mtime = st.st_mtim;
		}
	}
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool list_has_source(const struct error_list *l, const char *source)
{
	for (size_t i = 0; i < l->n; i++)
		if (str_eq(l->v[i].source, source))
			return true;
	return false;
}

static bool list_has_object(const struct error_list *l, const struct obj_error *e)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].name && str_eq(l->v[i].kind, e->kind) && str_eq(l->v[i].ns, e->ns) &&
		    str_eq(l->v[i].name, e->name))
			return true;
	return false;
}

/* Whether a standing error's input was re-read since: its file is gone or was rewritten. */
static bool input_changed(const struct obj_error *e)
{
	struct stat st;

	if (!e->is_file)
		return false;
	if (stat(e->source, &st) < 0)
		return true;
	return st.st_size != e->size || st.st_mtim.tv_sec != e->mtime.tv_sec ||
	       st.st_mtim.tv_nsec != e->mtime.tv_nsec;
}

void status_track_sync_done(struct status_track *t, bool ok, bool complete)
{
	if (!t)
		return;
	if (ok) {
		struct error_list merged = t->cur;
		size_t kept = 0;

		/* standing errors survive unless their input was re-read or reported anew */
		for (size_t i = 0; i < t->standing.n; i++) {
			struct obj_error *e = &t->standing.v[i];

			if (complete || list_has_source(&t->cur, e->source) ||
			    list_has_object(&t->cur, e) || input_changed(e) ||
			    merged.n + kept >= MAX_ERRORS) {
				obj_error_clear(e);
				continue;
			}
			t->standing.v[kept++] = *e;
		}
		if (kept) {
			struct obj_error *v = reallocarray(merged.v, merged.n + kept, sizeof(*v));

			if (v) {
				memcpy(v + merged.n, t->standing.v, kept * sizeof(*v));
				merged.v = v;
				merged.n += kept;
			} else {
				for (size_t i = 0; i < kept; i++)
					obj_error_clear(&t->standing.v[i]);
			}
		}
		free(t->standing.v);
		t->standing = merged;
		t->cur = (struct error_list){0};
	} else {
		error_list_clear(&t->cur);
	}
}

static bool eq_or_null(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static json_t *error_json(const struct obj_error *e)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:I, s:o}", "kind",
			 status_json_str_or_null(e->kind), "namespace",
			 status_json_str_or_null(e->ns), "name", status_json_str_or_null(e->name),
			 "source", status_json_str_or_null(e->source), "line",
			 (json_int_t)e->line, "message", status_json_str_or_null(e->message));
}

json_t *status_track_errors(const struct status_track *t, const char *kind, const char *ns,
			    const char *name)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < t->standing.n; i++) {
		const struct obj_error *e = &t->standing.v[i];

		if (eq_or_null(e->kind, kind) && eq_or_null(e->ns, ns) && eq_or_null(e->name, name))
			json_array_append_new(a, error_json(e));
	}
	return a;
}

json_t *status_track_all_errors(const struct status_track *t, size_t max)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < t->standing.n && i < max; i++)
		json_array_append_new(a, error_json(&t->standing.v[i]));
	return a;
}
