/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading our table back: table, chains, rules (parsed into plan rules),
 * sets and their elements (interval start/end pairs folded back into
 * [start, end) intervals), so a full sync can diff it against the plan.
 */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>

#include "nft.h"

struct dump_ctx {
	const char *table;
	struct plan *p;
	int err;
};

static bool ours(const char *table, uint32_t family, const char *want)
{
	return family == NFPROTO_INET && table && strcmp(table, want) == 0;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *ctx = data;
	struct nftnl_table *t = nftnl_table_alloc();

	if (t && nftnl_table_nlmsg_parse(nlh, t) == 0 &&
	    ours(nftnl_table_get_str(t, NFTNL_TABLE_NAME), nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY),
		 ctx->table))
		ctx->p->has_table = true;
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *ctx = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct plan_chain *pc = NULL;
	uint32_t len;

	if (!c || nftnl_chain_nlmsg_parse(nlh, c) < 0)
		goto out;
	if (!ours(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY),
		  ctx->table))
		goto out;
	pc = calloc(1, sizeof(*pc));
	if (!pc || !(pc->name = strdup(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME)))) {
		ctx->err = -ENOMEM;
		goto out;
	}
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
		pc->base = true;
		pc->hooknum = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
		/* a base chain that is not ours in shape never compares equal */
		if (nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO) != 0 ||
		    nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) != NF_ACCEPT)
			pc->hooknum = ~0u;
	}
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_USERDATA)) {
		const void *ud = nftnl_chain_get_data(c, NFTNL_CHAIN_USERDATA, &len);

		pc->comment = nft_udata_comment(ud, len, NFTNL_UDATA_CHAIN_COMMENT);
	}
	if (plan_map_puts(&ctx->p->chains, pc->name, pc, NULL) < 0) {
		ctx->err = -ENOMEM;
		goto out;
	}
	pc = NULL;
out:
	plan_chain_free(pc);
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *ctx = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct plan_chain *pc;
	struct plan_rule pr;

	if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0)
		goto out;
	if (!ours(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY),
		  ctx->table))
		goto out;
	pc = plan_map_gets(&ctx->p->chains, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	if (!pc)
		goto out;
	if (nft_parse_rule(r, &pr) < 0) {
		/* not ours: an impossible verdict marks the chain as different */
		pr.verdict = (enum plan_verdict)-1;
	}
	struct plan_rule *v = realloc(pc->rules, (pc->n_rules + 1) * sizeof(*v));
	if (!v) {
		free(pr.set);
		free(pr.nset);
		free(pr.log_prefix);
		free(pr.comment);
		ctx->err = -ENOMEM;
		goto out;
	}
	pc->rules = v;
	v[pc->n_rules++] = pr;
out:
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *ctx = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct plan_set *ps;
	char *comment = NULL;
	uint32_t len;

	if (!s || nftnl_set_nlmsg_parse(nlh, s) < 0)
		goto out;
	if (!ours(nftnl_set_get_str(s, NFTNL_SET_TABLE), nftnl_set_get_u32(s, NFTNL_SET_FAMILY),
		  ctx->table))
		goto out;
	if (nftnl_set_is_set(s, NFTNL_SET_USERDATA)) {
		const void *ud = nftnl_set_get_data(s, NFTNL_SET_USERDATA, &len);

		comment = nft_udata_comment(ud, len, NFTNL_UDATA_SET_COMMENT);
	}
	ps = plan_set_new(nftnl_set_get_str(s, NFTNL_SET_NAME), PLAN_SET_PODS4, comment);
	free(comment);
	if (!ps) {
		ctx->err = -ENOMEM;
		goto out;
	}
	ps->key_type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE);
	ps->key_len = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
	/* only the flags netpold sets; the kernel may report more (e.g. NFT_SET_EVAL) */
	ps->flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & (NFT_SET_INTERVAL | NFT_SET_MAP);
	if (nftnl_set_is_set(s, NFTNL_SET_DATA_TYPE))
		ps->data_type = nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE);
	if (plan_map_puts(&ctx->p->sets, ps->name, ps, NULL) < 0) {
		plan_set_free(ps);
		ctx->err = -ENOMEM;
	}
out:
	nftnl_set_free(s);
	return MNL_CB_OK;
}

struct raw_elem {
	uint8_t key[PLAN_KEY_MAX];
	bool end;
};

struct elems_ctx {
	struct plan_set *ps;
	struct raw_elem *raw;
	size_t n_raw, cap_raw;
	int err;
};

static int elem_iter_cb(struct nftnl_set_elem *e, void *data)
{
	struct elems_ctx *ctx = data;
	struct plan_set *ps = ctx->ps;
	uint32_t klen = 0;
	const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
	uint32_t flags = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS)
				 ? nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) : 0;

	if (!key || klen != ps->key_len || klen > PLAN_KEY_MAX)
		return 0; /* not a shape we build: the set then differs in content */
	if (ps->flags & NFT_SET_INTERVAL) {
		if (ctx->n_raw == ctx->cap_raw) {
			size_t cap = ctx->cap_raw ? ctx->cap_raw * 2 : 64;
			struct raw_elem *v = realloc(ctx->raw, cap * sizeof(*v));

			if (!v)
				return ctx->err = -ENOMEM;
			ctx->raw = v;
			ctx->cap_raw = cap;
		}
		memcpy(ctx->raw[ctx->n_raw].key, key, klen);
		ctx->raw[ctx->n_raw++].end = flags & NFT_SET_ELEM_INTERVAL_END;
		return 0;
	}
	struct plan_elem el = {.klen = klen};
	memcpy(el.key, key, klen);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN) &&
	    nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT) == (uint32_t)NFT_JUMP)
		el.chain = (char *)nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN);
	else if (ps->flags & NFT_SET_MAP)
		el.chain = (char *)"<not a jump>";
	if (plan_set_add(ps, &el) < 0)
		return ctx->err = -ENOMEM;
	return 0;
}

static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct elems_ctx *ctx = data;
	struct nftnl_set *s = nftnl_set_alloc();

	if (s && nftnl_set_elems_nlmsg_parse(nlh, s) == 0)
		nftnl_set_elem_foreach(s, elem_iter_cb, ctx);
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static int raw_cmp(const void *a, const void *b, void *len)
{
	return memcmp(((const struct raw_elem *)a)->key, ((const struct raw_elem *)b)->key,
		      *(const uint32_t *)len);
}

/* The kernel's start/end elements back into [start, end) intervals. */
static int intervals_from_raw(struct elems_ctx *ctx)
{
	struct plan_set *ps = ctx->ps;

	if (ctx->n_raw)
		qsort_r(ctx->raw, ctx->n_raw, sizeof(*ctx->raw), raw_cmp, &ps->key_len);
	for (size_t i = 0; i < ctx->n_raw; i++) {
		struct plan_elem el = {.klen = ps->key_len};

		if (ctx->raw[i].end) {
			/* an end without a start: keep it visible as a difference */
			el.has_end = true;
			memcpy(el.end, ctx->raw[i].key, ps->key_len);
			memset(el.key, 0xff, ps->key_len);
		} else {
			memcpy(el.key, ctx->raw[i].key, ps->key_len);
			if (i + 1 < ctx->n_raw && ctx->raw[i + 1].end) {
				el.has_end = true;
				memcpy(el.end, ctx->raw[++i].key, ps->key_len);
			}
		}
		if (plan_set_add(ps, &el) < 0)
			return -ENOMEM;
	}
	return 0;
}

/*
 * A request header in a zeroed buffer: libmnl 1.0.4 leaves attribute padding
 * unwritten (see nft_io.c, "Attribute padding").
 */
static struct nlmsghdr *req_hdr(char *buf, size_t size, uint16_t type, uint16_t flags,
				uint32_t seq)
{
	memset(buf, 0, size);
	return nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, flags, seq);
}

static int dump_elems(struct nft_sock *s, const char *table, struct plan_set *ps)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_set *q = nftnl_set_alloc();
	struct elems_ctx ctx = {.ps = ps};
	struct nlmsghdr *nlh;
	int r;

	if (!q)
		return -ENOMEM;
	nftnl_set_set_str(q, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(q, NFTNL_SET_NAME, ps->name);
	nlh = req_hdr(buf, sizeof(buf), NFT_MSG_GETSETELEM, NLM_F_DUMP, ++s->seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, q);
	nftnl_set_free(q);
	r = nft_talk(s, nlh, elems_cb, &ctx);
	if (r >= 0)
		r = ctx.err;
	if (r >= 0 && (ps->flags & NFT_SET_INTERVAL))
		r = intervals_from_raw(&ctx);
	free(ctx.raw);
	return r;
}

int nft_dump_table(struct nft_sock *s, const char *table, struct plan *ret)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct dump_ctx ctx = {.table = table, .p = ret};
	struct plan_map_ent *ent;
	struct nlmsghdr *nlh;
	int r;

	*ret = (struct plan){0};
	{
		struct nftnl_table *t = nftnl_table_alloc();

		if (!t)
			return -ENOMEM;
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
		nlh = req_hdr(buf, sizeof(buf), NFT_MSG_GETTABLE, NLM_F_ACK, ++s->seq);
		nftnl_table_nlmsg_build_payload(nlh, t);
		nftnl_table_free(t);
		r = nft_talk(s, nlh, table_cb, &ctx);
		if (r == -ENOENT)
			return 0;
		if (r < 0 || !ret->has_table)
			return r;
	}
	nlh = req_hdr(buf, sizeof(buf), NFT_MSG_GETCHAIN, NLM_F_DUMP, ++s->seq);
	if ((r = nft_talk(s, nlh, chain_cb, &ctx)) < 0 || (r = ctx.err) < 0)
		goto fail;
	{
		struct nftnl_rule *q = nftnl_rule_alloc();

		if (!q) {
			r = -ENOMEM;
			goto fail;
		}
		nftnl_rule_set_str(q, NFTNL_RULE_TABLE, table);
		nlh = req_hdr(buf, sizeof(buf), NFT_MSG_GETRULE, NLM_F_DUMP, ++s->seq);
		nftnl_rule_nlmsg_build_payload(nlh, q);
		nftnl_rule_free(q);
		if ((r = nft_talk(s, nlh, rule_cb, &ctx)) < 0 || (r = ctx.err) < 0)
			goto fail;
	}
	{
		struct nftnl_set *q = nftnl_set_alloc();

		if (!q) {
			r = -ENOMEM;
			goto fail;
		}
		nftnl_set_set_str(q, NFTNL_SET_TABLE, table);
		nlh = req_hdr(buf, sizeof(buf), NFT_MSG_GETSET, NLM_F_DUMP, ++s->seq);
		nftnl_set_nlmsg_build_payload(nlh, q);
		nftnl_set_free(q);
		if ((r = nft_talk(s, nlh, set_cb, &ctx)) < 0 || (r = ctx.err) < 0)
			goto fail;
	}
	for (size_t i = 0; plan_map_next(&ret->sets, &i, &ent);)
		if ((r = dump_elems(s, table, ent->val)) < 0)
			goto fail;
	return 0;
fail:
	plan_clear(ret);
	return r;
}

