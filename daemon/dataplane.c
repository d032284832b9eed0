/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dataplane of dataplane.h: keeps a mirror of what netpold programmed
 * (a struct plan), turns the engine's change log into the smallest delta
 * against it, and falls back to dump + full diff on start, after drift or
 * after a failed batch. The netlink work is in nft_io.c / nft_build.c.
 */
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <time.h>

#include "dataplane.h"
#include "log.h"
#include "nft.h"
#include "plan.h"

#define GEN_RETRIES 5
/*
 * Above this many elements in a batch, the monitor leaves its group while we
 * commit: the kernel would otherwise build one notification per element for
 * it (a third of the commit time at 100k elements). The generation id tells
 * whether anyone else committed meanwhile.
 */
#define QUIET_COMMIT_ELEMS 2000

struct dataplane {
	char *table;
	char *node_name;
	struct plan_config pcfg;
	struct nft_sock sock;
	struct mnl_socket *mon;
	bool need_full;

	struct plan cur;        /* what the kernel holds (as far as we know) */
	struct plan_map rules;  /* rule key -> struct plan_rule_info (referenced rules) */
	struct dataplane_stats stats;
	struct cidr *fc_cidrs;  /* fail-closed ranges (pcfg points here) */
	struct plan_map fc_records; /* "ns/name" -> struct plan_record: the pod's fc_known elements */
	dataplane_pod_fn pod_hook;
	void *pod_hook_ud;
	/* rule comment -> struct dataplane_counters, summed over chains; read at counters_at */
	struct plan_map counters;
	double counters_at;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void rule_info_free_v(void *p)
{
	plan_rule_info_free(p);
}

static void record_free_v(void *p)
{
	plan_record_free(p);
}

int dataplane_new(const struct dataplane_config *cfg, struct dataplane **ret)
{
	struct dataplane *dp = calloc(1, sizeof(*dp));
	int r;

	if (!dp)
		return -ENOMEM;
	dp->table = strdup(cfg->table ? cfg->table : "netpold");
	dp->node_name = strdup_or_null(cfg->node_name);
	if (!dp->table || (cfg->node_name && !dp->node_name)) {
		r = -ENOMEM;
		goto fail;
	}
	dp->pcfg.node_name = dp->node_name;
	dp->pcfg.reject = cfg->deny_action == DENY_REJECT;
	dp->pcfg.log = cfg->deny_log;
	dp->pcfg.log_group = cfg->nflog_group;
	dp->pcfg.log_rate = cfg->log_rate;
	dp->pcfg.log_burst = cfg->log_burst;
	if (cfg->n_fc_cidrs) {
		dp->fc_cidrs = calloc(cfg->n_fc_cidrs, sizeof(*dp->fc_cidrs));
		if (!dp->fc_cidrs) {
			r = -ENOMEM;
			goto fail;
		}
		memcpy(dp->fc_cidrs, cfg->fc_cidrs, cfg->n_fc_cidrs * sizeof(*dp->fc_cidrs));
		dp->pcfg.fc_cidrs = dp->fc_cidrs;
		dp->pcfg.n_fc_cidrs = cfg->n_fc_cidrs;
	}
	dp->need_full = true;
	if ((r = nft_sock_open(&dp->sock)) < 0)
		goto fail;
	if ((r = nft_monitor_open(&dp->mon)) < 0)
		goto fail;
	*ret = dp;
	return 0;
fail:
	dataplane_free(dp);
	return r;
}

void dataplane_free(struct dataplane *dp)
{
	if (!dp)
		return;
	nft_sock_close(&dp->sock);
	if (dp->mon)
		mnl_socket_close(dp->mon);
	plan_clear(&dp->cur);
	plan_map_clear(&dp->rules, rule_info_free_v);
	plan_map_clear(&dp->fc_records, record_free_v);
	plan_map_clear(&dp->counters, free);
	free(dp->fc_cidrs);
	free(dp->table);
	free(dp->node_name);
	free(dp);
}

void dataplane_set_pod_hook(struct dataplane *dp, dataplane_pod_fn cb, void *ud)
{
	dp->pod_hook = cb;
	dp->pod_hook_ud = ud;
}

static void pod_hook(struct dataplane *dp, const struct engine_change *c)
{
	if (dp->pod_hook && c->pod &&
	    (c->kind == ENGINE_CHG_POD_TARGET || c->kind == ENGINE_CHG_POD_REMOVED))
		dp->pod_hook(dp->pod_hook_ud, c->pod, c->kind == ENGINE_CHG_POD_REMOVED);
}

/* The fail-closed known elements of pod, as a record (NULL when it has none). */
static int fc_record(const struct dataplane *dp, const struct pod_obj *pod,
		     struct plan_record **ret)
{
	struct plan_member_elem buf[MODEL_MAX_POD_IPS];
	int n = plan_fc_elems(&dp->pcfg, pod, buf, ELEMENTSOF(buf));

	*ret = NULL;
	if (n <= 0)
		return n;
	struct plan_record *rec = calloc(1, sizeof(*rec));

	if (!rec || !(rec->v = malloc(n * sizeof(*buf)))) {
		free(rec);
		return -ENOMEM;
	}
	memcpy(rec->v, buf, n * sizeof(*buf));
	rec->n = n;
	*ret = rec;
	return 0;
}

struct fc_ctx {
	struct dataplane *dp;
	struct plan_map records;
	int err;
};

static int fc_records_cb(void *ud, const struct pod_obj *pod)
{
	struct fc_ctx *ctx = ud;
	struct plan_record *rec;
	char key[2 * MODEL_MAX_NAME_LEN + 2];
	int r;

	if ((r = fc_record(ctx->dp, pod, &rec)) < 0)
		return ctx->err = r;
	if (!rec)
		return 0;
	snprintf(key, sizeof(key), "%s/%s", pod->ns, pod->name);
	if ((r = plan_map_puts(&ctx->records, key, rec, NULL)) < 0) {
		plan_record_free(rec);
		return ctx->err = r;
	}
	return 0;
}

void dataplane_mark_resync(struct dataplane *dp)
{
	dp->need_full = true;
}

int dataplane_monitor_fd(const struct dataplane *dp)
{
	return mnl_socket_get_fd(dp->mon);
}

int dataplane_monitor_read(struct dataplane *dp)
{
	bool foreign = false;
	int r = nft_monitor_read(dp->mon, dp->sock.portid, dp->table, &foreign);

	if (r < 0) {
		dp->need_full = true;
		return r;
	}
	if (foreign) {
		dp->need_full = true;
		dp->stats.drift_repairs++;
		return 1;
	}
	return 0;
}

void dataplane_get_stats(const struct dataplane *dp, struct dataplane_stats *ret)
{
	*ret = dp->stats;
}

/* ---- per-rule counters ---- */

struct counters_ctx {
	const char *table;
	struct plan_map *map;
	int err;
};

static int counter_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct counters_ctx *ctx = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct plan_rule pr = {0};
	struct dataplane_counters *c;
	const char *table;

	if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0)
		goto out;
	table = nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
	if (nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY) != NFPROTO_INET || !table ||
	    strcmp(table, ctx->table) != 0)
		goto out;
	/* foreign rules do not parse and are not counted */
	if (nft_parse_rule(r, &pr) < 0 || !pr.counter || !pr.comment)
		goto out;
	c = plan_map_gets(ctx->map, pr.comment);
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c || plan_map_puts(ctx->map, pr.comment, c, NULL) < 0) {
			free(c);
			ctx->err = -ENOMEM;
			goto out;
		}
	}
	c->packets += pr.packets;
	c->bytes += pr.bytes;
out:
	free(pr.set);
	free(pr.nset);
	free(pr.log_prefix);
	free(pr.comment);
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

/* One rule dump of our table into dp->counters; at most once per DATAPLANE_COUNTERS_MAX_AGE. */
static int refresh_counters(struct dataplane *dp)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct counters_ctx ctx = {.table = dp->table, .map = &dp->counters};
	struct nftnl_rule *q;
	struct nlmsghdr *nlh;
	double t = now();
	int r;

	if (dp->counters_at > 0 && t - dp->counters_at < DATAPLANE_COUNTERS_MAX_AGE)
		return 0;
	plan_map_clear(&dp->counters, free);
	dp->counters_at = 0;
	q = nftnl_rule_alloc();
	if (!q)
		return -ENOMEM;
	nftnl_rule_set_str(q, NFTNL_RULE_TABLE, dp->table);
	/* libmnl 1.0.4 leaves attribute padding unwritten (nft_io.c, "Attribute padding") */
	memset(buf, 0, sizeof(buf));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, ++dp->sock.seq);
	nftnl_rule_nlmsg_build_payload(nlh, q);
	nftnl_rule_free(q);
	r = nft_talk(&dp->sock, nlh, counter_rule_cb, &ctx);
	if (r == -ENOENT)
		r = 0; /* no table yet: no counters */
	if (r >= 0)
		r = ctx.err;
	if (r < 0) {
		plan_map_clear(&dp->counters, free);
		return r;
	}
	dp->counters_at = t;
	return 0;
}

int dataplane_rule_counters(struct dataplane *dp, const char *ns, const char *name,
			    enum direction dir, unsigned index, struct dataplane_counters *ret)
{
	char comment[PLAN_COMMENT_MAX];
	const struct dataplane_counters *c;
	int r;

	*ret = (struct dataplane_counters){0};
	r = refresh_counters(dp);
	if (r < 0)
		return r;
	/* the comment plan_build gives the rule's lines, cut the same way */
	snprintf(comment, sizeof(comment), "%s/%s %s[%u]", ns, name, direction_name(dir), index);
	c = plan_map_gets(&dp->counters, comment);
	if (c)
		*ret = *c;
	return 0;
}

static uint64_t count_elems(const struct plan *p)
{
	struct plan_map_ent *ent;
	uint64_t n = 0;

	for (size_t i = 0; plan_map_next(&p->sets, &i, &ent);)
		n += ((struct plan_set *)ent->val)->elems.n;
	return n;
}

static int commit(struct dataplane *dp, const struct plan_delta *d, uint32_t genid, double t0)
{
	struct nft_commit_info info;
	int r;

	if (plan_delta_empty(d)) {
		dp->stats.last_batch_msgs = 0;
		dp->stats.last_batch_elems = 0;
		return 0;
	}
	bool quiet = d->n_add_elems + d->n_del_elems > QUIET_COMMIT_ELEMS;
	uint32_t gen_before = genid, gen_after = 0;

	if (quiet && !gen_before && (r = nft_get_gen(&dp->sock, &gen_before)) < 0)
		quiet = false;
	if (quiet && nft_monitor_membership(dp->mon, false) < 0)
		quiet = false;
	r = nft_commit(&dp->sock, dp->table, d, quiet ? gen_before : genid, &info);
	if (quiet) {
		int q = nft_monitor_membership(dp->mon, true);

		/* exactly one commit (ours) since gen_before, else we may have missed a foreign one */
		if (q < 0 || nft_get_gen(&dp->sock, &gen_after) < 0 ||
		    gen_after != gen_before + (r >= 0 ? 1 : 0)) {
			dp->need_full = true;
			if (q < 0)
				log_error_errno(q, "nftables: cannot rejoin the monitor group");
		}
	}
	dp->stats.last_batch_msgs = info.msgs;
	dp->stats.last_batch_elems = info.elems;
	dp->stats.last_kernel_seconds = info.kernel_seconds;
	dp->stats.last_commit_seconds = now() - t0;
	if (r < 0) {
		dp->stats.kernel_errors++;
		dp->need_full = true;
		if (!info.n_errors)
			log_error_errno(r, "nftables: commit to table %s failed", dp->table);
		return r;
	}
	dp->stats.commits++;
	return 0;
}

static void discard_cb(void *ud, const struct engine_change *c)
{
	pod_hook(ud, c);
}

static int full_sync(struct dataplane *dp, struct engine *e)
{
	struct plan kern = {0}, want = {0};
	struct plan_map rules = {0};
	struct plan_delta d = {0};
	struct fc_ctx fc = {.dp = dp};
	uint32_t gen = 0, gen2 = 0;
	double t0 = now();
	int r;

	/* everything is recomputed: the change log is not needed */
	engine_drain_changes(e, discard_cb, dp);
	for (int i = 0;; i++) {
		if ((r = nft_get_gen(&dp->sock, &gen)) < 0 ||
		    (r = nft_dump_table(&dp->sock, dp->table, &kern)) < 0 ||
		    (r = nft_get_gen(&dp->sock, &gen2)) < 0)
			goto out;
		if (gen == gen2)
			break;
		plan_clear(&kern);
		if (i == GEN_RETRIES) {
			r = -EAGAIN;
			goto out;
		}
	}
	if ((r = plan_build(e, &dp->pcfg, &want, &rules)) < 0)
		goto out;
	if (dp->pcfg.n_fc_cidrs) {
		engine_foreach_pod(e, fc_records_cb, &fc);
		if ((r = fc.err) < 0)
			goto out;
	}
	if ((r = plan_diff(&kern, &want, &d)) < 0)
		goto out;
	/* the genid makes the kernel refuse the batch if the ruleset changed since the dump */
	dp->need_full = false;
	if ((r = commit(dp, &d, gen, t0)) < 0)
		goto out;
	plan_clear(&dp->cur);
	plan_map_clear(&dp->rules, rule_info_free_v);
	dp->cur = want;
	dp->rules = rules;
	plan_map_clear(&dp->fc_records, record_free_v);
	dp->fc_records = fc.records;
	want = (struct plan){0};
	rules = (struct plan_map){0};
	fc.records = (struct plan_map){0};
out:
	plan_map_clear(&fc.records, record_free_v);
	if (r < 0)
		log_error_errno(r, "nftables: full sync of table %s", dp->table);
	plan_delta_clear(&d);
	plan_clear(&kern);
	plan_clear(&want);
	plan_map_clear(&rules, rule_info_free_v);
	return r;
}

/* ---- incremental ---- */

struct chg {
	enum engine_change_kind kind;
	uint32_t rule_id;
	char key[PLAN_NAME_MAX]; /* rule key, "" if unknown */
	char *pod;               /* "ns/name" */
	char *ns, *name;
	struct plan_record *rec; /* MEMBER_ADDED: what the pod contributes */
};

struct inc {
	struct dataplane *dp;
	struct engine *e;
	struct chg *v;
	size_t n, cap;
	int err;
	/* (set name, key) -> struct touched: kernel presence before this sync */
	struct plan_map touched;
	struct plan_map dirty_keys; /* rule keys to recompute fully */
	struct plan_map dirty_pods; /* "ns/name" -> "ns\0name" */
	struct plan_map new_ids;    /* rule key -> id (RULE_ADDED) */
	bool pods_changed;
	/* objects removed from the mirror, freed after the commit */
	struct plan graveyard;
	size_t n_grave;
	struct plan_delta d;
};

struct touched {
	char *set;
	bool had;
	struct plan_elem before;
};

static void touched_free(void *p)
{
	struct touched *t = p;

	free(t->set);
	free(t->before.chain);
	free(t);
}

static void chg_clear(struct chg *c)
{
	free(c->pod);
	free(c->ns);
	free(c->name);
	plan_record_free(c->rec);
}

#define MAX_MEMBER_ELEMS (MODEL_MAX_POD_IPS * (MODEL_MAX_PORTS + 1))

static void collect_cb(void *ud, const struct engine_change *c)
{
	struct inc *inc = ud;
	const struct compiled_rule *cr = NULL;
	struct chg *x;

	pod_hook(inc->dp, c);
	if (inc->err)
		return;
	if (inc->n == inc->cap) {
		size_t cap = inc->cap ? inc->cap * 2 : 64;
		struct chg *v = realloc(inc->v, cap * sizeof(*v));

		if (!v) {
			inc->err = -ENOMEM;
			return;
		}
		inc->v = v;
		inc->cap = cap;
	}
	x = &inc->v[inc->n++];
	*x = (struct chg){.kind = c->kind, .rule_id = c->rule_id};
	if (c->kind <= ENGINE_CHG_MEMBER_REMOVED) {
		cr = engine_rule(inc->e, c->rule_id);
		if (cr)
			plan_rule_key(cr->pol->ns, cr->pol->name, cr->dir, cr->index, x->key);
	}
	if (c->pod) {
		if (asprintf(&x->pod, "%s/%s", c->pod->ns, c->pod->name) < 0) {
			x->pod = NULL;
			inc->err = -ENOMEM;
			return;
		}
		x->ns = strdup(c->pod->ns);
		x->name = strdup(c->pod->name);
		if (!x->ns || !x->name) {
			inc->err = -ENOMEM;
			return;
		}
	}
	if (c->kind == ENGINE_CHG_MEMBER_ADDED && cr && c->pod) {
		struct plan_member_elem buf[MAX_MEMBER_ELEMS];
		int n = plan_member_elems(cr, c->pod, buf, MAX_MEMBER_ELEMS);

		if (n < 0) {
			inc->err = n;
			return;
		}
		x->rec = calloc(1, sizeof(*x->rec));
		if (!x->rec || (n && !(x->rec->v = malloc(n * sizeof(*buf))))) {
			inc->err = -ENOMEM;
			return;
		}
		memcpy(x->rec->v, buf, n * sizeof(*buf));
		x->rec->n = n;
	}
}

/* Remember an element's kernel presence before its first change in this sync. */
static int touch(struct inc *inc, const struct plan_set *s, const struct plan_elem *el)
{
	size_t nlen = strlen(s->name);
	uint8_t k[PLAN_NAME_MAX + PLAN_KEY_MAX + 1];
	struct touched *t;
	const struct plan_elem *cur;

	memcpy(k, s->name, nlen + 1);
	memcpy(k + nlen + 1, el->key, el->klen);
	if (plan_map_get(&inc->touched, k, nlen + 1 + el->klen))
		return 0;
	t = calloc(1, sizeof(*t));
	if (!t || !(t->set = strdup(s->name)))
		goto nomem;
	cur = plan_map_get(&s->elems, el->key, el->klen);
	t->had = cur != NULL;
	t->before = cur ? *cur : *el;
	t->before.chain = NULL;
	if (cur && cur->chain && !(t->before.chain = strdup(cur->chain)))
		goto nomem;
	if (plan_map_put(&inc->touched, k, nlen + 1 + el->klen, t, NULL) < 0)
		goto nomem;
	return 0;
nomem:
	if (t)
		touched_free(t);
	return -ENOMEM;
}

static int grave_set(struct inc *inc, struct plan_set *s)
{
	char name[32];

	snprintf(name, sizeof(name), "%zu", inc->n_grave++);
	return plan_map_puts(&inc->graveyard.sets, name, s, NULL);
}

static int grave_chain(struct inc *inc, struct plan_chain *c)
{
	char name[32];

	snprintf(name, sizeof(name), "%zu", inc->n_grave++);
	return plan_map_puts(&inc->graveyard.chains, name, c, NULL);
}

static int mirror_elem_add(struct inc *inc, struct plan_set *s, const struct plan_elem *el)
{
	int r = touch(inc, s, el);

	return r < 0 ? r : plan_set_add(s, el);
}

static int mirror_elem_del(struct inc *inc, struct plan_set *s, const struct plan_elem *el)
{
	struct plan_elem *cur = plan_map_get(&s->elems, el->key, el->klen);
	int r;

	if (!cur)
		return 0;
	if ((r = touch(inc, s, el)) < 0)
		return r;
	if (--cur->refs == 0)
		plan_elem_free(plan_map_del(&s->elems, el->key, el->klen));
	return 0;
}

static struct plan_set *rule_set(struct dataplane *dp, const char *key, enum plan_set_kind kind)
{
	char name[PLAN_NAME_MAX];

	plan_set_name(key, kind, name);
	return plan_map_gets(&dp->cur.sets, name);
}

static int apply_record(struct inc *inc, const char *key, const struct plan_record *rec, bool add)
{
	int r;

	for (size_t i = 0; i < rec->n; i++) {
		struct plan_set *s = rule_set(inc->dp, key, rec->v[i].kind);

		if (!s)
			continue;
		r = add ? mirror_elem_add(inc, s, &rec->v[i].el) : mirror_elem_del(inc, s, &rec->v[i].el);
		if (r < 0)
			return r;
	}
	return 0;
}

static const char *key_of_id(struct dataplane *dp, uint32_t id)
{
	struct plan_map_ent *ent;

	for (size_t i = 0; plan_map_next(&dp->rules, &i, &ent);)
		if (((struct plan_rule_info *)ent->val)->id == id)
			return ent->key ? (const char *)ent->key : NULL;
	return NULL;
}

static int member_change(struct inc *inc, struct chg *c)
{
	struct dataplane *dp = inc->dp;
	char key[PLAN_NAME_MAX];
	struct plan_rule_info *ri;
	struct plan_record *old;
	int r;

	if (!c->key[0]) {
		const char *k = key_of_id(dp, c->rule_id);

		if (!k)
			return 0;
		/* map keys are not NUL-terminated */
		struct plan_map_ent *ent;
		for (size_t i = 0; plan_map_next(&dp->rules, &i, &ent);)
			if ((const char *)ent->key == k) {
				snprintf(key, sizeof(key), "%.*s", (int)ent->klen, k);
				break;
			}
	} else {
		snprintf(key, sizeof(key), "%s", c->key);
	}
	ri = plan_map_gets(&dp->rules, key);
	if (!ri || ri->all_pods || plan_map_gets(&inc->dirty_keys, key))
		return 0; /* not programmed here, or recomputed fully below */
	old = plan_map_gets(&ri->records, c->pod);
	if (c->kind == ENGINE_CHG_MEMBER_REMOVED) {
		if (!old)
			return 0;
		plan_map_dels(&ri->records, c->pod);
		r = apply_record(inc, key, old, false);
		plan_record_free(old);
		return r;
	}
	if (!c->rec)
		return 0;
	if (old) {
		/* added twice without a removal: replace */
		if ((r = apply_record(inc, key, old, false)) < 0)
			return r;
		plan_record_free(plan_map_dels(&ri->records, c->pod));
	}
	if ((r = apply_record(inc, key, c->rec, true)) < 0)
		return r;
	if ((r = plan_map_puts(&ri->records, c->pod, c->rec, NULL)) < 0)
		return r;
	c->rec = NULL;
	return 0;
}

static int mark_pod(struct inc *inc, const char *pod)
{
	if (!pod || plan_map_gets(&inc->dirty_pods, pod))
		return 0;
	return plan_map_puts(&inc->dirty_pods, pod, (void *)1, NULL);
}

static int key_refs(struct inc *inc, const struct plan_chain *c, int delta)
{
	for (size_t i = 0; c && i < c->n_rule_keys; i++) {
		struct plan_rule_info *ri = plan_map_gets(&inc->dp->rules, c->rule_keys[i]);

		if (!ri) {
			if (delta < 0)
				continue;
			/* newly referenced: sets are created after all pods are processed */
			ri = calloc(1, sizeof(*ri));
			if (!ri || plan_map_puts(&inc->dp->rules, c->rule_keys[i], ri, NULL) < 0) {
				free(ri);
				return -ENOMEM;
			}
			ri->pending = true;
		}
		ri->refs += delta;
	}
	return 0;
}

/* Fail-closed: the pod's addresses in the known sets follow its current addresses. */
static int fc_sync(struct inc *inc, const char *podkey, const struct pod_obj *pod)
{
	struct dataplane *dp = inc->dp;
	struct plan_record *old = plan_map_dels(&dp->fc_records, podkey), *now_rec = NULL;
	int r = 0;

	for (size_t i = 0; old && i < old->n && r >= 0; i++) {
		struct plan_set *s = plan_map_gets(&dp->cur.sets, old->v[i].kind == PLAN_SET_PODS4
									 ? PLAN_FC_KNOWN4
									 : PLAN_FC_KNOWN6);

		if (s)
			r = mirror_elem_del(inc, s, &old->v[i].el);
	}
	plan_record_free(old);
	if (r < 0 || !pod)
		return r;
	if ((r = fc_record(dp, pod, &now_rec)) < 0 || !now_rec)
		return r;
	for (size_t i = 0; i < now_rec->n && r >= 0; i++) {
		struct plan_set *s = plan_map_gets(&dp->cur.sets, now_rec->v[i].kind == PLAN_SET_PODS4
									  ? PLAN_FC_KNOWN4
									  : PLAN_FC_KNOWN6);

		if (s)
			r = mirror_elem_add(inc, s, &now_rec->v[i].el);
	}
	if (r >= 0 && (r = plan_map_puts(&dp->fc_records, podkey, now_rec, NULL)) >= 0)
		return 0;
	plan_record_free(now_rec);
	return r;
}

/* Rebuild one pod's chains and its verdict-map elements against the mirror. */
static int pod_sync(struct inc *inc, const char *podkey)
{
	struct dataplane *dp = inc->dp;
	const char *slash = strchr(podkey, '/');
	char ns[MODEL_MAX_NAME_LEN + 1];
	const struct pod_obj *pod;
	int r;

	if (!slash || (size_t)(slash - podkey) > MODEL_MAX_NAME_LEN)
		return 0;
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - podkey), podkey);
	pod = engine_pod(inc->e, ns, slash + 1);
	if (dp->pcfg.n_fc_cidrs && (r = fc_sync(inc, podkey, pod)) < 0)
		return r;
	for (int d = 0; d < 2; d++) {
		char name[PLAN_NAME_MAX];
		struct plan_chain *want = NULL, *have;

		plan_chain_name(d, ns, slash + 1, name);
		have = plan_map_gets(&dp->cur.chains, name);
		if (pod && (r = plan_pod_chain(inc->e, &dp->pcfg, pod, d, &want)) < 0)
			return r;
		/* vmap elements: drop the old ones pointing at this chain, add the new ones */
		for (int f = 0; f < 2; f++) {
			struct plan_set *vm = plan_map_gets(&dp->cur.sets,
							    plan_vmap_name(d, f ? AF_INET6 : AF_INET));
			struct plan_map_ent *ent;
			struct plan_elem *stale[MODEL_MAX_POD_IPS * 2];
			size_t ns_ = 0;

			if (!vm)
				continue;
			for (size_t i = 0; plan_map_next(&vm->elems, &i, &ent);) {
				struct plan_elem *el = ent->val;

				if (el->chain && strcmp(el->chain, name) == 0 && ns_ < ELEMENTSOF(stale))
					stale[ns_++] = el;
			}
			for (size_t i = 0; i < ns_; i++) {
				struct plan_elem copy = *stale[i];

				copy.chain = NULL;
				stale[i]->refs = 1;
				if ((r = mirror_elem_del(inc, vm, &copy)) < 0)
					return r;
			}
			for (size_t i = 0; want && pod && i < pod->n_ips; i++) {
				struct plan_elem el;

				if ((pod->ips[i].family == AF_INET6) != (f == 1))
					continue;
				plan_elem_addr(&pod->ips[i], &el);
				el.chain = want->name;
				if (plan_map_get(&vm->elems, el.key, el.klen))
					continue; /* the address belongs to another local pod */
				if ((r = mirror_elem_add(inc, vm, &el)) < 0)
					return r;
			}
		}
		if (!want && !have)
			continue;
		if (want && have && plan_chain_equal(want, have)) {
			plan_chain_free(want);
			continue;
		}
		if ((r = key_refs(inc, have, -1)) < 0 || (r = key_refs(inc, want, +1)) < 0) {
			plan_chain_free(want);
			return r;
		}
		if (have) {
			plan_map_dels(&dp->cur.chains, name);
			if ((r = grave_chain(inc, have)) < 0) {
				plan_chain_free(have);
				plan_chain_free(want);
				return r;
			}
		}
		if (want) {
			if ((r = plan_map_puts(&dp->cur.chains, name, want, NULL)) < 0) {
				plan_chain_free(want);
				return r;
			}
			r = have ? plan_delta_push((const void ***)&inc->d.replace_chains,
						   &inc->d.n_replace_chains, want)
				 : plan_delta_push((const void ***)&inc->d.add_chains,
						   &inc->d.n_add_chains, want);
		} else {
			r = plan_delta_push((const void ***)&inc->d.del_chains, &inc->d.n_del_chains,
					    have);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static const struct compiled_rule *rule_for_key(struct inc *inc, const char *key,
						const struct plan_rule_info *ri)
{
	uintptr_t id = (uintptr_t)plan_map_gets(&inc->new_ids, key);
	const struct compiled_rule *cr = engine_rule(inc->e, id ? (uint32_t)id : ri->id);
	char k[PLAN_NAME_MAX];

	if (!cr)
		return NULL;
	plan_rule_key(cr->pol->ns, cr->pol->name, cr->dir, cr->index, k);
	return strcmp(k, key) == 0 ? cr : NULL;
}

/* Find the compiled rule of a newly referenced key through the pods' rules. */
static const struct compiled_rule *find_rule(struct inc *inc, const char *key)
{
	struct plan_map_ent *ent;

	for (size_t i = 0; plan_map_next(&inc->dp->cur.chains, &i, &ent);) {
		const struct plan_chain *c = ent->val;
		const struct compiled_rule *const *crs;
		const struct pod_obj *pod;
		char ns[MODEL_MAX_NAME_LEN + 1];
		const char *slash;
		bool uses = false;

		for (size_t k = 0; k < c->n_rule_keys && !uses; k++)
			uses = strcmp(c->rule_keys[k], key) == 0;
		if (!uses || !c->pod || !(slash = strchr(c->pod, '/')))
			continue;
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - c->pod), c->pod);
		pod = engine_pod(inc->e, ns, slash + 1);
		if (!pod)
			continue;
		for (int d = 0; d < 2; d++) {
			size_t n = engine_pod_rules(inc->e, pod, d, &crs);

			for (size_t j = 0; j < n; j++) {
				char k[PLAN_NAME_MAX];

				plan_rule_key(crs[j]->pol->ns, crs[j]->pol->name, d, crs[j]->index, k);
				if (strcmp(k, key) == 0)
					return crs[j];
			}
		}
	}
	return NULL;
}

/* Build the rule's sets afresh and bring the mirror to them (touch records the kernel state). */
static int recompute_rule(struct inc *inc, const char *key, struct plan_rule_info *ri, bool created)
{
	struct dataplane *dp = inc->dp;
	const struct compiled_rule *cr = created ? find_rule(inc, key) : rule_for_key(inc, key, ri);
	struct plan fresh = {0};
	struct plan_map records = {0};
	struct plan_map_ent *ent;
	int r;

	if (!cr)
		return 0; /* gone: the chains that used it are being rebuilt */
	if ((r = plan_add_rule_sets(inc->e, cr, &fresh, &records)) < 0)
		goto out;
	ri->id = cr->id;
	ri->all_pods = plan_rule_named_ipblock(cr);
	plan_map_clear(&ri->records, record_free_v);
	ri->records = records;
	records = (struct plan_map){0};
	for (size_t i = 0; plan_map_next(&fresh.sets, &i, &ent);) {
		struct plan_set *want = ent->val;
		struct plan_set *have = plan_map_gets(&dp->cur.sets, want->name);
		struct plan_map_ent *el;

		ent->val = NULL;
		if (!have) {
			if ((r = plan_delta_push((const void ***)&inc->d.add_sets, &inc->d.n_add_sets,
						 want)) < 0 ||
			    (r = plan_map_puts(&dp->cur.sets, want->name, want, NULL)) < 0) {
				plan_set_free(want);
				goto out;
			}
			for (size_t j = 0; plan_map_next(&want->elems, &j, &el);)
				if ((r = plan_delta_add_elem(&inc->d, true, want, el->val)) < 0)
					goto out;
			continue;
		}
		if (want->flags & 0x4) {
			/* interval sets: flush and refill when the content changed */
			if (!plan_set_same_elems(have, want) &&
			    (r = plan_diff_set(have, want, &inc->d)) < 0) {
				plan_set_free(want);
				goto out;
			}
		} else {
			for (size_t j = 0; plan_map_next(&have->elems, &j, &el);)
				if ((r = touch(inc, have, el->val)) < 0) {
					plan_set_free(want);
					goto out;
				}
			for (size_t j = 0; plan_map_next(&want->elems, &j, &el);)
				if ((r = touch(inc, have, el->val)) < 0) {
					plan_set_free(want);
					goto out;
				}
		}
		plan_map_puts(&dp->cur.sets, want->name, want, NULL);
		if ((r = grave_set(inc, have)) < 0)
			goto out;
	}
	r = 0;
out:
	plan_map_clear(&records, record_free_v);
	plan_clear(&fresh);
	return r;
}

static int delete_rule_sets(struct inc *inc, const char *key)
{
	for (int k = PLAN_SET_PODS4; k <= PLAN_SET_NAMED6; k++) {
		char name[PLAN_NAME_MAX];
		struct plan_set *s;
		int r;

		plan_set_name(key, k, name);
		s = plan_map_dels(&inc->dp->cur.sets, name);
		if (!s)
			continue;
		if ((r = grave_set(inc, s)) < 0 ||
		    (r = plan_delta_push((const void ***)&inc->d.del_sets, &inc->d.n_del_sets, s)) < 0)
			return r;
	}
	return 0;
}

/* Net element changes: kernel state before vs mirror now. */
static int touched_ops(struct inc *inc)
{
	struct plan_map_ent *ent;
	int r;

	for (size_t i = 0; plan_map_next(&inc->touched, &i, &ent);) {
		struct touched *t = ent->val;
		struct plan_set *s = plan_map_gets(&inc->dp->cur.sets, t->set);
		const struct plan_elem *now_el;
		bool deleted_set = false;

		for (size_t k = 0; k < inc->d.n_add_sets && s; k++)
			deleted_set = inc->d.add_sets[k] == s; /* new set: elements already listed */
		if (!s || deleted_set)
			continue;
		now_el = plan_map_get(&s->elems, t->before.key, t->before.klen);
		bool same = now_el && t->had && now_el->has_end == t->before.has_end &&
			    ((!now_el->chain && !t->before.chain) ||
			     (now_el->chain && t->before.chain &&
			      strcmp(now_el->chain, t->before.chain) == 0));
		if (same)
			continue;
		if (t->had && (r = plan_delta_add_elem(&inc->d, false, s, &t->before)) < 0)
			return r;
		if (now_el && (r = plan_delta_add_elem(&inc->d, true, s, now_el)) < 0)
			return r;
	}
	return 0;
}

static void inc_clear(struct inc *inc)
{
	for (size_t i = 0; i < inc->n; i++)
		chg_clear(&inc->v[i]);
	free(inc->v);
	plan_map_clear(&inc->touched, touched_free);
	plan_map_clear(&inc->dirty_keys, NULL);
	plan_map_clear(&inc->dirty_pods, NULL);
	plan_map_clear(&inc->new_ids, NULL);
	plan_clear(&inc->graveyard);
	plan_delta_clear(&inc->d);
}

static int incremental_sync(struct dataplane *dp, struct engine *e)
{
	struct inc inc = {.dp = dp, .e = e};
	struct plan_map_ent *ent;
	double t0 = now();
	int r;

	engine_drain_changes(e, collect_cb, &inc);
	if ((r = inc.err) < 0)
		goto out;

	if (inc.n == 0) {
		dp->stats.last_batch_msgs = dp->stats.last_batch_elems = 0;
		goto out;
	}
	/* 1: which rules change as a whole, which pods need their chains rebuilt */
	for (size_t i = 0; i < inc.n; i++) {
		struct chg *c = &inc.v[i];

		if (c->kind == ENGINE_CHG_RULE_ADDED || c->kind == ENGINE_CHG_RULE_REMOVED) {
			if (!c->key[0]) {
				const char *k = key_of_id(dp, c->rule_id);
				struct plan_map_ent *re;

				for (size_t j = 0; k && plan_map_next(&dp->rules, &j, &re);)
					if ((const char *)re->key == k)
						snprintf(c->key, sizeof(c->key), "%.*s",
							 (int)re->klen, k);
			}
			if (!c->key[0])
				continue;
			if ((r = plan_map_puts(&inc.dirty_keys, c->key, (void *)1, NULL)) < 0)
				goto out;
			if (c->kind == ENGINE_CHG_RULE_ADDED &&
			    (r = plan_map_puts(&inc.new_ids, c->key, (void *)(uintptr_t)c->rule_id,
					       NULL)) < 0)
				goto out;
		} else {
			inc.pods_changed = true;
			if (c->kind >= ENGINE_CHG_POD_TARGET && (r = mark_pod(&inc, c->pod)) < 0)
				goto out;
		}
	}
	/* chains using a changed rule are rebuilt too (ports may differ) */
	if (inc.dirty_keys.n)
		for (size_t i = 0; plan_map_next(&dp->cur.chains, &i, &ent);) {
			const struct plan_chain *c = ent->val;

			for (size_t k = 0; k < c->n_rule_keys; k++)
				if (plan_map_gets(&inc.dirty_keys, c->rule_keys[k]) &&
				    (r = mark_pod(&inc, c->pod)) < 0)
					goto out;
		}
	/* 2: member changes of rules whose sets stay */
	for (size_t i = 0; i < inc.n; i++)
		if ((inc.v[i].kind == ENGINE_CHG_MEMBER_ADDED ||
		     inc.v[i].kind == ENGINE_CHG_MEMBER_REMOVED) &&
		    (r = member_change(&inc, &inc.v[i])) < 0)
			goto out;
	/* 3: chains and verdict-map elements of the affected pods */
	for (size_t i = 0; plan_map_next(&inc.dirty_pods, &i, &ent);) {
		char pod[2 * MODEL_MAX_NAME_LEN + 2];

		snprintf(pod, sizeof(pod), "%.*s", (int)ent->klen, (const char *)ent->key);
		if ((r = pod_sync(&inc, pod)) < 0)
			goto out;
	}
	/* 4: sets of rules no longer referenced go; newly referenced ones come; changed ones are recomputed */
	for (size_t i = 0; plan_map_next(&dp->rules, &i, &ent);) {
		struct plan_rule_info *ri = ent->val;
		char key[PLAN_NAME_MAX];

		snprintf(key, sizeof(key), "%.*s", (int)ent->klen, (const char *)ent->key);
		if (ri->refs == 0) {
			if ((r = delete_rule_sets(&inc, key)) < 0)
				goto out;
			plan_rule_info_free(plan_map_dels(&dp->rules, key));
			continue;
		}
		if (ri->pending || plan_map_gets(&inc.dirty_keys, key) ||
		    (ri->all_pods && inc.pods_changed)) {
			if ((r = recompute_rule(&inc, key, ri, ri->pending)) < 0)
				goto out;
			ri->pending = false;
		}
	}
	if ((r = touched_ops(&inc)) < 0)
		goto out;
	r = commit(dp, &inc.d, 0, t0);
out:
	if (r < 0) {
		dp->need_full = true;
		log_error_errno(r, "nftables: incremental sync of table %s", dp->table);
	}
	inc_clear(&inc);
	return r;
}

int dataplane_sync(struct dataplane *dp, struct engine *e)
{
	int r;

	if (dp->need_full)
		r = full_sync(dp, e);
	else
		r = incremental_sync(dp, e);
	dp->stats.set_elements = count_elems(&dp->cur);
	return r;
}

int dataplane_cleanup(const char *table)
{
	struct nft_sock s;
	int r;

	if ((r = nft_sock_open(&s)) < 0)
		return log_error_errno(r, "nftables: cannot open netlink socket");
	r = nft_delete_table(&s, table ? table : "netpold");
	nft_sock_close(&s);
	if (r < 0)
		log_error_errno(r, "nftables: cannot delete table %s", table ? table : "netpold");
	return r;
}
