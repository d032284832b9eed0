/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The per-resource list/watch machine (client-go's reflector, minus
 * goroutines) and the key store behind it. Pure: the caller supplies the
 * clock and the random numbers, so tests can drive every transition.
 */
#include <stdio.h>

#include "k8s_watch.h"

static const struct k8s_resource_info infos[K8S_N_RESOURCES] = {
	[K8S_NAMESPACES] = {"namespaces", "namespaces", "/api/v1/namespaces", OBJ_NAMESPACE, false},
	[K8S_PODS] = {"pods", "pods", "/api/v1/pods", OBJ_POD, true},
	[K8S_NETWORKPOLICIES] = {"networkpolicies", "networkpolicies.networking.k8s.io",
				 "/apis/networking.k8s.io/v1/networkpolicies", OBJ_NETWORK_POLICY,
				 true},
	[K8S_SERVICES] = {"services", "services", "/api/v1/services", OBJ_SERVICE, true},
};

const struct k8s_resource_info *k8s_resource_info(enum k8s_resource r)
{
	return r < K8S_N_RESOURCES ? &infos[r] : NULL;
}

const char *k8s_watch_state_name(enum k8s_watch_state s)
{
	switch (s) {
	case K8S_WS_LIST:
		return "listing";
	case K8S_WS_WATCH:
		return "watching";
	case K8S_WS_BACKOFF:
		return "backoff";
	}
	return "?";
}

/* ---- store ---- */

static uint64_t hash_key(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void k8s_store_init(struct k8s_store *s, enum obj_kind kind)
{
	*s = (struct k8s_store){.kind = kind};
	s->pending_tail = &s->pending_head;
}

static void entry_free(struct k8s_entry *e)
{
	if (!e)
		return;
	free(e->key);
	free(e->ns);
	free(e->name);
	free(e->invalid);
	if (e->pending == K8S_PENDING_UPSERT)
		k8s_object_clear(&e->obj);
	free(e);
}

void k8s_store_clear(struct k8s_store *s)
{
	for (size_t i = 0; i < s->n_buckets; i++)
		for (struct k8s_entry *e = s->buckets[i], *n; e; e = n) {
			n = e->hnext;
			entry_free(e);
		}
	free(s->buckets);
	k8s_store_init(s, s->kind);
}

static int make_key(const char *ns, const char *name, char *buf, size_t len)
{
	int n = ns ? snprintf(buf, len, "%s/%s", ns, name) : snprintf(buf, len, "%s", name);

	return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

static struct k8s_entry *lookup(const struct k8s_store *s, const char *key, uint64_t h)
{
	if (!s->n_buckets)
		return NULL;
	for (struct k8s_entry *e = s->buckets[h & (s->n_buckets - 1)]; e; e = e->hnext)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

const struct k8s_entry *k8s_store_find(const struct k8s_store *s, const char *ns, const char *name)
{
	char key[2 * MODEL_MAX_NAME_LEN + 2];

	if (!name || make_key(ns, name, key, sizeof(key)) < 0)
		return NULL;
	return lookup(s, key, hash_key(key));
}

static int grow(struct k8s_store *s)
{
	size_t n = s->n_buckets ? s->n_buckets * 2 : 64;
	struct k8s_entry **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_buckets; i++)
		for (struct k8s_entry *e = s->buckets[i], *next; e; e = next) {
			size_t j = hash_key(e->key) & (n - 1);

			next = e->hnext;
			e->hnext = b[j];
			b[j] = e;
		}
	free(s->buckets);
	s->buckets = b;
	s->n_buckets = n;
	return 0;
}

/* Find or create the entry of ns/name. */
static int get_entry(struct k8s_store *s, const char *ns, const char *name,
		     struct k8s_entry **ret)
{
	char key[2 * MODEL_MAX_NAME_LEN + 2];
	struct k8s_entry *e;
	uint64_t h;

	if (!name || !name[0] || make_key(ns, name, key, sizeof(key)) < 0)
		return -EINVAL;
	h = hash_key(key);
	e = lookup(s, key, h);
	if (e) {
		*ret = e;
		return 0;
	}
	if (s->n_entries >= K8S_MAX_OBJECTS_PER_RESOURCE)
		return -E2BIG;
	if (s->n_entries >= s->n_buckets && grow(s) < 0)
		return -ENOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->key = strdup(key);
	e->name = strdup(name);
	e->ns = ns ? strdup(ns) : NULL;
	if (!e->key || !e->name || (ns && !e->ns)) {
		entry_free(e);
		return -ENOMEM;
	}
	e->hnext = s->buckets[h & (s->n_buckets - 1)];
	s->buckets[h & (s->n_buckets - 1)] = e;
	s->n_entries++;
	*ret = e;
	return 0;
}

static void set_present(struct k8s_store *s, struct k8s_entry *e, bool present)
{
	if (e->present != present)
		s->n_present += present ? 1 : (size_t)-1;
	e->present = present;
	if (present && s->relisting)
		e->seen = true;
}

static void set_invalid(struct k8s_store *s, struct k8s_entry *e, char *msg)
{
	if (!!e->invalid != !!msg)
		s->n_invalid += msg ? 1 : (size_t)-1;
	free(e->invalid);
	e->invalid = msg;
}

static void queue(struct k8s_store *s, struct k8s_entry *e, enum k8s_pending p)
{
	if (e->pending == K8S_PENDING_UPSERT)
		k8s_object_clear(&e->obj);
	if (e->pending == K8S_PENDING_NONE) {
		e->pnext = NULL;
		*s->pending_tail = e;
		s->pending_tail = &e->pnext;
		s->n_pending++;
	}
	e->pending = p;
}

int k8s_store_upsert(struct k8s_store *s, const char *ns, const char *name,
		     struct k8s_object *obj)
{
	struct k8s_entry *e;
	int r;

	if (s->kind == OBJ_NAMESPACE)
		ns = NULL;
	r = get_entry(s, ns, name, &e);
	if (r < 0) {
		k8s_object_clear(obj);
		return r;
	}
	queue(s, e, K8S_PENDING_UPSERT);
	e->obj = *obj;
	*obj = (struct k8s_object){0};
	set_present(s, e, true);
	set_invalid(s, e, NULL);
	return 0;
}

int k8s_store_invalid(struct k8s_store *s, const char *ns, const char *name, const char *msg)
{
	struct k8s_entry *e;
	char *m;
	int r;

	if (s->kind == OBJ_NAMESPACE)
		ns = NULL;
	r = get_entry(s, ns, name, &e);
	if (r < 0)
		return r;
	set_present(s, e, true);
	if (e->invalid && strcmp(e->invalid, msg) == 0)
		return 0;
	m = strdup(msg);
	if (!m)
		return -ENOMEM;
	set_invalid(s, e, m);
	return 1;
}

int k8s_store_delete(struct k8s_store *s, const char *ns, const char *name)
{
	struct k8s_entry *e;
	int r;

	if (s->kind == OBJ_NAMESPACE)
		ns = NULL;
	r = get_entry(s, ns, name, &e);
	if (r < 0)
		return r;
	set_present(s, e, false);
	e->seen = false;
	set_invalid(s, e, NULL);
	queue(s, e, K8S_PENDING_DELETE);
	return 0;
}

void k8s_store_relist_begin(struct k8s_store *s)
{
	for (size_t i = 0; i < s->n_buckets; i++)
		for (struct k8s_entry *e = s->buckets[i]; e; e = e->hnext)
			e->seen = false;
	s->relisting = true;
}

size_t k8s_store_relist_end(struct k8s_store *s)
{
	size_t n = 0;

	if (!s->relisting)
		return 0;
	s->relisting = false;
	for (size_t i = 0; i < s->n_buckets; i++)
		for (struct k8s_entry *e = s->buckets[i]; e; e = e->hnext) {
			if (e->present && !e->seen) {
				set_present(s, e, false);
				set_invalid(s, e, NULL);
				queue(s, e, K8S_PENDING_DELETE);
				n++;
			}
			e->seen = false;
		}
	return n;
}

static void unlink_entry(struct k8s_store *s, struct k8s_entry *e)
{
	struct k8s_entry **pp = &s->buckets[hash_key(e->key) & (s->n_buckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	s->n_entries--;
	entry_free(e);
}

size_t k8s_store_drain(struct k8s_store *s, const struct k8s_store_sink *sink)
{
	struct k8s_entry *e = s->pending_head, *next;
	size_t n = 0;

	s->pending_head = NULL;
	s->pending_tail = &s->pending_head;
	s->n_pending = 0;
	for (; e; e = next) {
		enum k8s_pending p = e->pending;

		next = e->pnext;
		e->pnext = NULL;
		e->pending = K8S_PENDING_NONE;
		if (p == K8S_PENDING_UPSERT) {
			sink->upsert(sink->ud, &e->obj);
			e->obj = (struct k8s_object){0};
			n++;
		} else if (p == K8S_PENDING_DELETE) {
			sink->remove(sink->ud, s->kind, e->ns, e->name);
			n++;
		}
		/* a key that is gone keeps no memory */
		if (!e->present)
			unlink_entry(s, e);
	}
	return n;
}

size_t k8s_store_foreach_invalid(const struct k8s_store *s,
				 void (*fn)(void *ud, const struct k8s_entry *e), void *ud)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_buckets && n < s->n_invalid; i++)
		for (const struct k8s_entry *e = s->buckets[i]; e; e = e->hnext)
			if (e->invalid) {
				fn(ud, e);
				n++;
			}
	return n;
}

/* ---- the machine ---- */

void k8s_watch_init(struct k8s_watch *w, enum k8s_resource res)
{
	*w = (struct k8s_watch){.res = res, .state = K8S_WS_LIST};
	/* the first list may be served from the watch cache */
	snprintf(w->list_rv, sizeof(w->list_rv), "0");
	k8s_store_init(&w->store, infos[res].kind);
}

void k8s_watch_clear(struct k8s_watch *w)
{
	free(w->cont);
	w->cont = NULL;
	k8s_store_clear(&w->store);
}

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Append "&name=<escaped value>" to buf at *pos. */
static int add_param(char *buf, size_t len, size_t *pos, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	int n = snprintf(buf + *pos, len - *pos, "%s%s=", *pos && buf[*pos - 1] != '?' ? "&" : "",
			 name);

	if (n < 0 || (size_t)n >= len - *pos)
		return -ENOBUFS;
	*pos += (size_t)n;
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (len - *pos < 4)
			return -ENOBUFS;
		if (unreserved(*p)) {
			buf[(*pos)++] = (char)*p;
		} else {
			buf[(*pos)++] = '%';
			buf[(*pos)++] = hex[*p >> 4];
			buf[(*pos)++] = hex[*p & 15];
		}
	}
	buf[*pos] = '\0';
	return 0;
}

int k8s_watch_request(const struct k8s_watch *w, uint32_t rnd, char *buf, size_t len)
{
	size_t pos;
	char num[16];
	int n, r;

	n = snprintf(buf, len, "%s?", infos[w->res].path);
	if (n < 0 || (size_t)n >= len)
		return -ENOBUFS;
	pos = (size_t)n;
	switch (w->state == K8S_WS_BACKOFF ? w->next : w->state) {
	case K8S_WS_LIST:
		if (w->list_rv[0] && strcmp(w->list_rv, "0") != 0 && !w->cont) {
			/*
			 * A relist from a known RV: without a limit the watch cache serves
			 * it ("not older than"); with one, etcd would serve exactly that
			 * RV, which the watch cache may no longer reach (client-go's
			 * reflector drops the page size here for the same reason).
			 */
			r = add_param(buf, len, &pos, "resourceVersion", w->list_rv);
			break;
		}
		snprintf(num, sizeof(num), "%d", K8S_LIST_LIMIT);
		r = add_param(buf, len, &pos, "limit", num);
		if (r >= 0 && w->cont)
			r = add_param(buf, len, &pos, "continue", w->cont);
		else if (r >= 0 && w->list_rv[0])
			r = add_param(buf, len, &pos, "resourceVersion", w->list_rv);
		break;
	case K8S_WS_WATCH:
	default:
		snprintf(num, sizeof(num), "%u",
			 K8S_WATCH_TIMEOUT_MIN +
				 rnd % (K8S_WATCH_TIMEOUT_MAX - K8S_WATCH_TIMEOUT_MIN + 1));
		r = add_param(buf, len, &pos, "watch", "1");
		if (r >= 0)
			r = add_param(buf, len, &pos, "allowWatchBookmarks", "true");
		if (r >= 0)
			r = add_param(buf, len, &pos, "timeoutSeconds", num);
		if (r >= 0 && w->rv[0])
			r = add_param(buf, len, &pos, "resourceVersion", w->rv);
		break;
	}
	return r < 0 ? r : (int)pos;
}

void k8s_watch_started(struct k8s_watch *w, uint64_t now)
{
	w->watch_started = now;
	w->watch_events = 0;
	w->watches++;
}

void k8s_watch_page_begin(struct k8s_watch *w)
{
	if (!w->cont)
		k8s_store_relist_begin(&w->store);
}

static void copy_rv(char *dst, const char *rv)
{
	if (rv && rv[0] && strlen(rv) < K8S_MAX_RV_LEN)
		snprintf(dst, K8S_MAX_RV_LEN, "%s", rv);
}

int k8s_watch_list_page(struct k8s_watch *w, const char *rv, const char *cont, uint64_t now,
			size_t *ret_deleted)
{
	*ret_deleted = 0;
	if (cont && cont[0]) {
		char *c;

		if (strlen(cont) > K8S_MAX_CONTINUE_LEN)
			return -EINVAL;
		c = strdup(cont);
		if (!c)
			return -ENOMEM;
		free(w->cont);
		w->cont = c;
		w->state = K8S_WS_LIST;
		return 0;
	}
	free(w->cont);
	w->cont = NULL;
	if (rv && strlen(rv) >= K8S_MAX_RV_LEN)
		return -EINVAL;
	copy_rv(w->rv, rv);
	copy_rv(w->list_rv, w->rv);
	w->rv_from_list = true;
	*ret_deleted = k8s_store_relist_end(&w->store);
	w->synced = true;
	w->lists++;
	w->state = K8S_WS_WATCH;
	return 0;
}

void k8s_watch_event(struct k8s_watch *w, const char *rv)
{
	w->watch_events++;
	/* the watch works: a later expiry starts again from the cheap relist */
	w->rv_from_list = false;
	w->list_consistent = false;
	copy_rv(w->rv, rv);
}

uint64_t k8s_backoff_base(unsigned failures)
{
	uint64_t d = K8S_BACKOFF_INITIAL_USEC;

	for (unsigned i = 0; i < failures && d < K8S_BACKOFF_MAX_USEC; i++)
		d *= 2;
	return d < K8S_BACKOFF_MAX_USEC ? d : K8S_BACKOFF_MAX_USEC;
}

static void set_error(struct k8s_watch *w, const char *message)
{
	snprintf(w->last_error, sizeof(w->last_error), "%s", message ? message : "failed");
}

uint64_t k8s_watch_ended(struct k8s_watch *w, uint64_t now, uint32_t rnd)
{
	w->watch_restarts++;
	if (now - w->watch_started < K8S_SHORT_WATCH_USEC && w->watch_events == 0)
		return k8s_watch_failed(w, K8S_FAIL_TRANSPORT,
					"watch ended after less than a second without any event",
					0, now, rnd);
	w->state = K8S_WS_WATCH;
	return 0;
}

static void begin_relist(struct k8s_watch *w)
{
	free(w->cont);
	w->cont = NULL;
	w->relists++;
	w->next = K8S_WS_LIST;
}

uint64_t k8s_watch_failed(struct k8s_watch *w, enum k8s_failure f, const char *message,
			  uint64_t retry_after, uint64_t now, uint32_t rnd)
{
	enum k8s_watch_state was = w->state == K8S_WS_BACKOFF ? w->next : w->state;
	uint64_t delay = 0, base;
	bool count = true;

	if (w->last_failure && now - w->last_failure >= K8S_BACKOFF_RESET_USEC)
		w->failures = 0;
	set_error(w, message);

	if (f == K8S_FAIL_EXPIRED) {
		w->expired++;
		if (was == K8S_WS_WATCH && !w->rv_from_list) {
			/* events were lost: relist, first from the last RV (cheap, cached) */
			copy_rv(w->list_rv, w->rv);
			w->list_consistent = false;
			count = false;
		} else if (was == K8S_WS_WATCH) {
			/*
			 * The RV a list just returned is already too old to watch from:
			 * only a consistent read gives a newer one. Back off if even
			 * that keeps happening.
			 */
			count = w->list_consistent;
			w->list_rv[0] = '\0';
			w->list_consistent = true;
		} else {
			/*
			 * The list (or its continue token) expired: a consistent read from
			 * scratch, at once; only when that expires too, back off.
			 */
			count = w->list_consistent;
			w->list_rv[0] = '\0';
			w->list_consistent = true;
		}
		begin_relist(w);
	} else {
		w->errors++;
		if (f == K8S_FAIL_STREAM) {
			/* events were dropped: only a relist can tell what changed */
			copy_rv(w->list_rv, w->rv);
			begin_relist(w);
		} else if (was == K8S_WS_WATCH && w->synced && w->rv[0]) {
			w->next = K8S_WS_WATCH;
		} else {
			/* a list failed half-way: start it again from its first page */
			free(w->cont);
			w->cont = NULL;
			w->next = K8S_WS_LIST;
		}
	}

	if (count) {
		base = k8s_backoff_base(w->failures);
		w->failures++;
		/* jitter factor 1.0: [base, 2 base) */
		delay = base + (uint64_t)((double)base * ((double)rnd / 4294967296.0));
		if (delay > K8S_BACKOFF_MAX_USEC)
			delay = K8S_BACKOFF_MAX_USEC;
		w->last_failure = now;
	}
	if (retry_after > delay)
		delay = retry_after > 300000000ull ? 300000000ull : retry_after;
	w->state = K8S_WS_BACKOFF;
	w->retry_at = now + delay;
	return delay;
}

void k8s_watch_retry(struct k8s_watch *w)
{
	if (w->state == K8S_WS_BACKOFF)
		w->state = w->next;
}

void k8s_watch_healthy(struct k8s_watch *w)
{
	w->last_error[0] = '\0';
}
