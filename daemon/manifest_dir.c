/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Keeps an engine in step with a folder of manifests. Each file is read with
 * a bounded size and fingerprinted (manifest_files.c); only files whose
 * fingerprint (FNV-1a 64 + length) changed are decoded again. Per object key we remember which
 * files mention it (validly or not) and which file's version the engine
 * holds, so that a removed or broken definition never loses the last valid one.
 */
#include <fcntl.h>
#include <stdio.h>

#include "manifest_dir.h"
#include "manifest_files.h"

#define KEY_BUCKETS_MIN 64

struct md_file;

/* One file's definition of one object. */
struct md_mention {
	struct md_file *file;
	bool valid;
	bool staged;            /* obj holds a freshly decoded version */
	struct k8s_object obj;
};

/* One object identity: "<kind>/<ns>/<name>" (ns empty for namespaces). */
struct md_key {
	char *id;
	enum obj_kind kind;
	char *ns;   /* NULL for namespaces */
	char *name;
	struct md_mention *mentions;
	size_t n_mentions;
	bool applied;           /* the engine holds a version we gave it */
	struct md_file *source; /* file whose version the engine holds; NULL if unknown */
	bool dirty;
	struct md_key *hnext;
};

struct md_file {
	char *name;
	bool have_fp;
	uint64_t hash;
	size_t size;
	size_t n_errors;
	struct md_key **keys; /* keys this file mentions, unique */
	size_t n_keys;
	size_t keys_alloc;
	bool present; /* listed in the current sync */
	bool decoded; /* decoded in the current sync */
	bool redecode;
};

struct manifest_dir {
	char *path;
	struct md_file **files; /* sorted by name */
	size_t n_files;
	struct md_key **buckets;
	size_t n_buckets;
	size_t n_keys;
	unsigned changed_kinds; /* 1u << enum obj_kind applied or deleted by the last sync */
};

int manifest_dir_new(const char *path, struct manifest_dir **ret)
{
	struct manifest_dir *md;

	if (!path || !ret)
		return -EINVAL;
	md = calloc(1, sizeof(*md));
	if (!md)
		return -ENOMEM;
	md->path = strdup(path);
	if (!md->path) {
		free(md);
		return -ENOMEM;
	}
	*ret = md;
	return 0;
}

static void mention_clear(struct md_mention *m)
{
	if (m->staged)
		k8s_object_clear(&m->obj);
	m->staged = false;
}

static void key_free(struct md_key *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n_mentions; i++)
		mention_clear(&k->mentions[i]);
	free(k->mentions);
	free(k->id);
	free(k->ns);
	free(k->name);
	free(k);
}

static void file_free(struct md_file *f)
{
	if (!f)
		return;
	free(f->keys);
	free(f->name);
	free(f);
}

void manifest_dir_free(struct manifest_dir *md)
{
	if (!md)
		return;
	for (size_t b = 0; b < md->n_buckets; b++) {
		struct md_key *k = md->buckets[b];

		while (k) {
			struct md_key *next = k->hnext;

			key_free(k);
			k = next;
		}
	}
	free(md->buckets);
	for (size_t i = 0; i < md->n_files; i++)
		file_free(md->files[i]);
	free(md->files);
	free(md->path);
	free(md);
}

const char *manifest_dir_path(const struct manifest_dir *md)
{
	return md->path;
}

unsigned manifest_dir_changed_kinds(const struct manifest_dir *md)
{
	return md ? md->changed_kinds : 0;
}

size_t manifest_dir_n_errors(const struct manifest_dir *md)
{
	size_t n = 0;

	for (size_t i = 0; i < md->n_files; i++)
		n += md->files[i]->n_errors;
	return n;
}

/* ---- key table ---- */

static size_t bucket(const char *id, size_t n_buckets)
{
	return manifest_fnv1a(id, strlen(id)) % n_buckets;
}

static int key_id(enum obj_kind kind, const char *ns, const char *name, char **ret)
{
	char *s = NULL;

	if (kind == OBJ_NAMESPACE)
		ns = "";
	if (asprintf(&s, "%d/%s/%s", (int)kind, ns ? ns : "", name) < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static struct md_key *key_lookup(const struct manifest_dir *md, const char *id)
{
	if (md->n_buckets == 0)
		return NULL;
	for (struct md_key *k = md->buckets[bucket(id, md->n_buckets)]; k; k = k->hnext)
		if (strcmp(k->id, id) == 0)
			return k;
	return NULL;
}

static int table_grow(struct manifest_dir *md)
{
	size_t n = md->n_buckets ? md->n_buckets * 2 : KEY_BUCKETS_MIN;
	struct md_key **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < md->n_buckets; i++) {
		struct md_key *k = md->buckets[i];

		while (k) {
			struct md_key *next = k->hnext;
			size_t h = bucket(k->id, n);

			k->hnext = b[h];
			b[h] = k;
			k = next;
		}
	}
	free(md->buckets);
	md->buckets = b;
	md->n_buckets = n;
	return 0;
}

static int key_get(struct manifest_dir *md, enum obj_kind kind, const char *ns, const char *name,
		   struct md_key **ret)
{
	_cleanup_free_ char *id = NULL;
	struct md_key *k;
	size_t h;
	int r;

	r = key_id(kind, ns, name, &id);
	if (r < 0)
		return r;
	k = key_lookup(md, id);
	if (k) {
		*ret = k;
		return 0;
	}
	if (md->n_keys >= md->n_buckets) {
		r = table_grow(md);
		if (r < 0)
			return r;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->kind = kind;
	k->name = strdup(name);
	k->ns = kind == OBJ_NAMESPACE ? NULL : strdup(ns ? ns : "");
	if (!k->name || (kind != OBJ_NAMESPACE && !k->ns)) {
		key_free(k);
		return -ENOMEM;
	}
	k->id = TAKE_PTR(id);
	h = bucket(k->id, md->n_buckets);
	k->hnext = md->buckets[h];
	md->buckets[h] = k;
	md->n_keys++;
	*ret = k;
	return 0;
}

static void key_remove(struct manifest_dir *md, struct md_key *k)
{
	size_t h = bucket(k->id, md->n_buckets);

	for (struct md_key **p = &md->buckets[h]; *p; p = &(*p)->hnext)
		if (*p == k) {
			*p = k->hnext;
			md->n_keys--;
			key_free(k);
			return;
		}
}

static struct md_mention *key_mention(struct md_key *k, const struct md_file *f)
{
	for (size_t i = 0; i < k->n_mentions; i++)
		if (k->mentions[i].file == f)
			return &k->mentions[i];
	return NULL;
}

/* Drop every mention f has, and forget f as a source; the keys become dirty. */
static void file_forget_mentions(struct md_file *f)
{
	for (size_t i = 0; i < f->n_keys; i++) {
		struct md_key *k = f->keys[i];
		struct md_mention *m = key_mention(k, f);

		if (m) {
			mention_clear(m);
			*m = k->mentions[--k->n_mentions];
		}
		if (k->source == f)
			k->source = NULL;
		k->dirty = true;
	}
	f->n_keys = 0;
}

/* ---- decoding one file ---- */

struct decode_ctx {
	struct manifest_dir *md;
	struct md_file *file;
	bool restage; /* only stage objects into existing valid mentions */
	void (*diag)(void *ud, const struct decode_diag *d);
	void *ud;
	int error;
};

static int obj_identity(const struct k8s_object *o, const char **ret_ns, const char **ret_name)
{
	switch (o->kind) {
	case OBJ_NAMESPACE:
		*ret_ns = NULL;
		*ret_name = o->ns->name;
		return 0;
	case OBJ_POD:
		*ret_ns = o->pod->ns;
		*ret_name = o->pod->name;
		return 0;
	case OBJ_NETWORK_POLICY:
		*ret_ns = o->pol->ns;
		*ret_name = o->pol->name;
		return 0;
	case OBJ_SERVICE:
		*ret_ns = o->svc->ns;
		*ret_name = o->svc->name;
		return 0;
	}
	return -EINVAL;
}

static int file_add_key(struct md_file *f, struct md_key *k)
{
	if (f->n_keys == f->keys_alloc) {
		size_t n = f->keys_alloc ? f->keys_alloc * 2 : 8;
		struct md_key **v = reallocarray(f->keys, n, sizeof(*v));

		if (!v)
			return -ENOMEM;
		f->keys = v;
		f->keys_alloc = n;
	}
	f->keys[f->n_keys++] = k;
	return 0;
}

/* m holds obj now (taken over) for the engine. */
static void mention_stage(struct md_mention *m, struct k8s_object *obj)
{
	m->obj = *obj;
	m->staged = true;
	*obj = (struct k8s_object){ 0 };
}

/* Record that the current file mentions key; a later document replaces an earlier one. */
static int mention_set(struct decode_ctx *c, struct md_key *k, bool valid, struct k8s_object *obj)
{
	struct md_mention *m = key_mention(k, c->file);

	if (!m) {
		struct md_mention *v = reallocarray(k->mentions, k->n_mentions + 1, sizeof(*v));
		int r;

		if (!v)
			return -ENOMEM;
		k->mentions = v;
		r = file_add_key(c->file, k);
		if (r < 0)
			return r;
		m = &k->mentions[k->n_mentions++];
		*m = (struct md_mention){ .file = c->file };
	}
	mention_clear(m);
	m->valid = valid;
	if (obj)
		mention_stage(m, obj);
	k->dirty = true;
	return 0;
}

static void sink_object(void *userdata, struct k8s_object *obj)
{
	struct decode_ctx *c = userdata;
	const char *ns, *name;
	struct md_key *k;
	int r;

	r = obj_identity(obj, &ns, &name);
	if (r < 0 || c->error < 0)
		goto drop;
	if (c->restage) {
		_cleanup_free_ char *id = NULL;
		struct md_mention *m;

		if (key_id(obj->kind, ns, name, &id) < 0)
			goto drop;
		k = key_lookup(c->md, id);
		m = k ? key_mention(k, c->file) : NULL;
		if (!m || !m->valid)
			goto drop;
		mention_clear(m);
		mention_stage(m, obj);
		return;
	}
	r = key_get(c->md, obj->kind, ns, name, &k);
	if (r >= 0)
		r = mention_set(c, k, true, obj);
	if (r < 0)
		c->error = r;
drop:
	k8s_object_clear(obj);
}

static bool kind_from_name(const char *s, enum obj_kind *ret)
{
	static const enum obj_kind kinds[] = { OBJ_NAMESPACE, OBJ_POD, OBJ_NETWORK_POLICY,
					       OBJ_SERVICE };

	if (!s)
		return false;
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
		if (strcmp(s, obj_kind_name(kinds[i])) == 0) {
			*ret = kinds[i];
			return true;
		}
	return false;
}

static void sink_error(void *userdata, const struct decode_diag *d)
{
	struct decode_ctx *c = userdata;
	enum obj_kind kind;
	struct md_key *k;
	int r;

	if (c->restage)
		return;
	c->file->n_errors++;
	if (c->diag)
		c->diag(c->ud, d);
	/* A rejected object we can name is still present: it keeps its last valid version. */
	if (c->error < 0 || !d->name || !kind_from_name(d->kind, &kind))
		return;
	r = key_get(c->md, kind, kind == OBJ_NAMESPACE ? NULL : (d->ns ? d->ns : "default"),
		    d->name, &k);
	if (r >= 0)
		r = mention_set(c, k, false, NULL);
	if (r < 0)
		c->error = r;
}

static void report(void (*diag)(void *ud, const struct decode_diag *d), void *ud,
		   const char *source, const char *what, int err)
{
	char msg[256];
	struct decode_diag d = { .source = source, .message = msg };

	snprintf(msg, sizeof(msg), "%s: %s; keeping its previous objects", what, strerror(-err));
	if (diag)
		diag(ud, &d);
}

/* ---- files ---- */

static struct md_file *find_file(const struct manifest_dir *md, const char *name)
{
	size_t lo = 0, hi = md->n_files;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(md->files[mid]->name, name);

		if (c == 0)
			return md->files[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int decode_file(struct manifest_dir *md, struct md_file *f, const char *buf, size_t len,
		       bool restage, void (*diag)(void *ud, const struct decode_diag *d), void *ud)
{
	_cleanup_free_ char *source = NULL;
	struct decode_ctx c = {
		.md = md, .file = f, .restage = restage, .diag = diag, .ud = ud,
	};
	struct decode_sink sink = { .object = sink_object, .error = sink_error, .userdata = &c };
	int r;

	if (asprintf(&source, "%s/%s", md->path, f->name) < 0)
		return -ENOMEM;
	r = decode_manifest(buf, len, source, &sink);
	if (c.error < 0)
		return c.error;
	return r;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp((*(struct md_key *const *)a)->id, (*(struct md_key *const *)b)->id);
}

/* The file whose mention decides k: the last in name order. */
static struct md_mention *key_winner(struct md_key *k)
{
	struct md_mention *w = NULL;

	for (size_t i = 0; i < k->n_mentions; i++)
		if (!w || strcmp(k->mentions[i].file->name, w->file->name) > 0)
			w = &k->mentions[i];
	return w;
}

/* Re-read and re-decode an unchanged file to get fresh copies of its valid objects. */
static void restage_file(struct manifest_dir *md, int dirfd, struct md_file *f,
			 void (*diag)(void *ud, const struct decode_diag *d), void *ud)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;

	if (manifest_read_file_at(dirfd, f->name, &buf, &len) < 0 ||
	    manifest_fnv1a(buf, len) != f->hash || len != f->size ||
	    decode_file(md, f, buf, len, true, diag, ud) < 0)
		f->have_fp = false; /* changed under us: the next sync decodes it again */
}

/* Free the decoded objects that did not go to the engine (losing duplicates, unchanged ones). */
static void drop_staged(struct manifest_dir *md)
{
	for (size_t b = 0; b < md->n_buckets; b++)
		for (struct md_key *k = md->buckets[b]; k; k = k->hnext)
			for (size_t i = 0; i < k->n_mentions; i++)
				mention_clear(&k->mentions[i]);
}

static int apply_keys(struct manifest_dir *md, struct engine *e, int dirfd, struct md_key **dirty,
		      size_t n_dirty, void (*diag)(void *ud, const struct decode_diag *d), void *ud)
{
	int updates = 0, err = 0, r;

	/* Winners whose object we don't hold staged: decode their (unchanged) files again. */
	for (size_t i = 0; i < n_dirty; i++) {
		struct md_key *k = dirty[i];
		struct md_mention *w = key_winner(k);

		if (w && w->valid && !w->staged && (!k->applied || k->source != w->file))
			w->file->redecode = true;
	}
	for (size_t i = 0; i < md->n_files; i++)
		if (md->files[i]->redecode) {
			restage_file(md, dirfd, md->files[i], diag, ud);
			md->files[i]->redecode = false;
		}

	for (size_t i = 0; i < n_dirty; i++) {
		struct md_key *k = dirty[i];
		struct md_mention *w = key_winner(k);

		k->dirty = false;
		if (!w) {
			/* No file mentions it any more. */
			if (k->applied) {
				r = engine_delete(e, k->kind, k->ns, k->name);
				if (r >= 0 || r == -ENOENT) {
					updates++;
					md->changed_kinds |= 1u << k->kind;
				}
			}
			key_remove(md, k);
			continue;
		}
		/*
		 * The deciding definition is rejected, or is the one the engine
		 * already holds: keep what the engine has (its last valid version).
		 */
		if (!w->valid || !w->staged)
			continue;
		r = engine_apply(e, &w->obj);
		w->staged = false;
		w->obj = (struct k8s_object){ 0 };
		if (r < 0) {
			w->file->have_fp = false; /* retried at the next sync */
			if (err == 0)
				err = r;
			continue;
		}
		k->applied = true;
		k->source = w->file;
		md->changed_kinds |= 1u << k->kind;
		updates++;
	}
	drop_staged(md);
	return err < 0 ? err : updates;
}

static int file_insert(struct manifest_dir *md, size_t at, const char *name, struct md_file **ret)
{
	struct md_file **v, *f;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->name = strdup(name);
	if (!f->name) {
		file_free(f);
		return -ENOMEM;
	}
	v = reallocarray(md->files, md->n_files + 1, sizeof(*v));
	if (!v) {
		file_free(f);
		return -ENOMEM;
	}
	md->files = v;
	memmove(v + at + 1, v + at, (md->n_files - at) * sizeof(*v));
	v[at] = f;
	md->n_files++;
	*ret = f;
	return 0;
}

/* Bring md->files to exactly names (sorted); removed files drop their mentions. */
static int files_reconcile(struct manifest_dir *md, char **names, size_t n_names)
{
	size_t j = 0;
	int r;

	for (size_t i = 0; i < md->n_files; i++)
		md->files[i]->present = false;
	for (size_t i = 0; i < n_names; i++) {
		struct md_file *f = find_file(md, names[i]);

		if (!f) {
			size_t at = 0;

			while (at < md->n_files && strcmp(md->files[at]->name, names[i]) < 0)
				at++;
			r = file_insert(md, at, names[i], &f);
			if (r < 0)
				return r;
		}
		f->present = true;
	}
	for (size_t i = 0; i < md->n_files; i++) {
		struct md_file *f = md->files[i];

		if (f->present) {
			md->files[j++] = f;
			continue;
		}
		file_forget_mentions(f);
		file_free(f);
	}
	md->n_files = j;
	return 0;
}

static struct md_key **memdup_keys(const struct md_file *f)
{
	struct md_key **v = calloc(f->n_keys, sizeof(*v));

	if (v)
		memcpy(v, f->keys, f->n_keys * sizeof(*v));
	return v;
}

/* Read f; decode it when its fingerprint changed. Never fails for the file's own problems. */
static int refresh_file(struct manifest_dir *md, int dirfd, struct md_file *f,
			void (*diag)(void *ud, const struct decode_diag *d), void *ud)
{
	_cleanup_free_ char *buf = NULL, *source = NULL;
	_cleanup_free_ struct md_key **old = NULL;
	size_t len = 0, n_old = 0;
	uint64_t h;
	int r;

	r = manifest_read_file_at(dirfd, f->name, &buf, &len);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		/* Unreadable now: keep what it defined before; report it. */
		if (asprintf(&source, "%s/%s", md->path, f->name) < 0)
			return -ENOMEM;
		report(diag, ud, source, r == -EFBIG ? "file too large" : "cannot read file", r);
		f->have_fp = false;
		f->n_errors = 1;
		return 0;
	}
	h = manifest_fnv1a(buf, len);
	if (f->have_fp && f->hash == h && f->size == len)
		return 0;

	/* Re-decode: drop the old mentions, collect the new ones. */
	if (f->n_keys > 0) {
		old = memdup_keys(f);
		if (!old)
			return -ENOMEM;
		n_old = f->n_keys;
	}
	file_forget_mentions(f);
	f->n_errors = 0;
	f->hash = h;
	f->size = len;
	f->have_fp = true;
	f->decoded = true;
	r = decode_file(md, f, buf, len, false, diag, ud);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		/*
		 * The file could not be parsed as a whole (a YAML syntax error, say):
		 * the objects it defined before and that we could not read again stay
		 * as they were, exactly like rejected objects.
		 */
		struct decode_ctx c = { .md = md, .file = f };

		if (f->n_errors == 0)
			f->n_errors = 1;
		for (size_t i = 0; i < n_old; i++)
			if (!key_mention(old[i], f)) {
				r = mention_set(&c, old[i], false, NULL);
				if (r < 0)
					return r;
			}
	}
	return 0;
}

int manifest_dir_sync(struct manifest_dir *md, struct engine *e,
		      void (*diag)(void *ud, const struct decode_diag *d), void *ud)
{
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_free_ struct md_key **dirty = NULL;
	char **names = NULL;
	size_t n_names = 0, n_dirty = 0;
	int r;

	if (!md || !e)
		return -EINVAL;
	md->changed_kinds = 0;
	dirfd = open(md->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	r = manifest_list_dir(dirfd, &names, &n_names);
	if (r < 0)
		return r;
	/* From here on the folder could be listed: the engine follows it. */
	r = files_reconcile(md, names, n_names);
	manifest_strv_free(names, n_names);
	if (r < 0)
		return r;

	for (size_t i = 0; i < md->n_files; i++) {
		md->files[i]->decoded = false;
		r = refresh_file(md, dirfd, md->files[i], diag, ud);
		if (r < 0)
			goto fail;
	}

	dirty = calloc(md->n_keys ? md->n_keys : 1, sizeof(*dirty));
	if (!dirty) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t b = 0; b < md->n_buckets; b++)
		for (struct md_key *k = md->buckets[b]; k; k = k->hnext)
			if (k->dirty)
				dirty[n_dirty++] = k;
	/* Namespaces, pods, policies, services, each by namespace/name: a stable update order. */
	qsort(dirty, n_dirty, sizeof(*dirty), cmp_key);
	return apply_keys(md, e, dirfd, dirty, n_dirty, diag, ud);

fail:
	/* Everything decoded this round is decoded again next time. */
	drop_staged(md);
	for (size_t i = 0; i < md->n_files; i++)
		if (md->files[i]->decoded)
			md->files[i]->have_fp = false;
	return r;
}
