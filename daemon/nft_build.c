/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * plan objects <-> libnftnl objects. The rule builder emits exactly the
 * expressions the nft CLI would for the same statement, and the parser
 * reads only that grammar back, so a dumped chain compares equal to the
 * desired one iff nobody changed it.
 */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>
#include <stdio.h>

#include "nft.h"

#define NFT_REJECT_ICMPX_ADMIN_PROHIBITED_ 3
#define ND_TYPE_FIRST 133 /* nd-router-solicit */
#define ND_TYPE_LAST 137  /* nd-redirect */

static int put_comment(void *obj, int attr, int udtype,
		       void (*set)(void *, uint16_t, const void *, uint32_t), const char *comment)
{
	struct nftnl_udata_buf *ud;

	if (!comment)
		return 0;
	ud = nftnl_udata_buf_alloc(PLAN_COMMENT_MAX + 16);
	if (!ud)
		return -ENOMEM;
	if (!nftnl_udata_put_strz(ud, udtype, comment)) {
		nftnl_udata_buf_free(ud);
		return -EINVAL;
	}
	set(obj, attr, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
	return 0;
}

static void chain_set_data(void *o, uint16_t a, const void *d, uint32_t l)
{
	nftnl_chain_set_data(o, a, d, l);
}
static void rule_set_data(void *o, uint16_t a, const void *d, uint32_t l)
{
	nftnl_rule_set_data(o, a, d, l);
}
static void set_set_data(void *o, uint16_t a, const void *d, uint32_t l)
{
	nftnl_set_set_data(o, a, d, l);
}

/*
 * The comment of a userdata blob the kernel hands back. Walked here with
 * explicit bounds rather than with nftnl_udata_parse(), which trusts each
 * entry's length: anyone with CAP_NET_ADMIN can plant userdata in our table.
 * Entries are { u8 type; u8 len; value[len] }; the comment is a
 * NUL-terminated string filling its entry.
 */
char *nft_udata_comment(const void *data, uint32_t len, int type)
{
	const uint8_t *p = data;
	uint32_t off = 0;

	if (!data)
		return NULL;
	while (off + 2 <= len) {
		uint8_t t = p[off], l = p[off + 1];
		const char *v = (const char *)&p[off + 2];

		if ((uint32_t)l > len - off - 2)
			return NULL;
		if (t == type && l > 0 && v[l - 1] == '\0')
			return strndup(v, l);
		off += 2u + l;
	}
	return NULL;
}

struct nftnl_chain *nft_build_chain(const char *table, const struct plan_chain *c)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();

	if (!ch)
		return NULL;
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, c->name);
	if (c->base) {
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, c->hooknum);
		nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, 0); /* priority filter */
		nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	if (put_comment(ch, NFTNL_CHAIN_USERDATA, NFTNL_UDATA_CHAIN_COMMENT, chain_set_data,
			c->comment) < 0) {
		nftnl_chain_free(ch);
		return NULL;
	}
	return ch;
}

static bool add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return false;
	nftnl_rule_add_expr(r, e);
	return true;
}

static struct nftnl_expr *meta(uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return e;
}

static struct nftnl_expr *cmp(uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return e;
}

static struct nftnl_expr *payload(uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	}
	return e;
}

static struct nftnl_expr *range(const void *from, const void *to, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("range");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, from, len);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, to, len);
	}
	return e;
}

static struct nftnl_expr *verdict(int v)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
	}
	return e;
}

static struct nftnl_expr *reject(uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = nftnl_expr_alloc("reject");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
		nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
	}
	return e;
}

static struct nftnl_expr *lookup(const char *set, bool vmap)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
		if (vmap)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
	}
	return e;
}

/* <addr> != @set */
static struct nftnl_expr *lookup_inv(const char *set)
{
	struct nftnl_expr *e = lookup(set, false);

	if (e)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	return e;
}

/* limit rate <rate>/second burst <burst> packets */
static struct nftnl_expr *limit(uint32_t rate, uint32_t burst)
{
	struct nftnl_expr *e = nftnl_expr_alloc("limit");

	if (e) {
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, rate);
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, burst);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
	}
	return e;
}

/* log group <group> prefix "<prefix>" */
static struct nftnl_expr *nflog(uint16_t group, const char *prefix)
{
	struct nftnl_expr *e = nftnl_expr_alloc("log");

	if (e) {
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix ? prefix : "");
	}
	return e;
}

/* ip saddr 12/4, daddr 16/4; ip6 saddr 8/16, daddr 24/16 */
static void addr_offset(uint8_t nfproto, enum plan_addr a, uint32_t *off, uint32_t *len)
{
	bool v4 = nfproto == NFPROTO_IPV4;

	*len = v4 ? 4 : 16;
	*off = v4 ? (a == PLAN_ADDR_SRC ? 12 : 16) : (a == PLAN_ADDR_SRC ? 8 : 24);
}

struct nftnl_rule *nft_build_rule(const char *table, const char *chain, const struct plan_rule *pr)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	bool ok = true;

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);

	if (pr->nfproto) {
		uint8_t v = pr->nfproto;

		ok = ok && add(r, meta(NFT_META_NFPROTO, NFT_REG_1)) && add(r, cmp(NFT_CMP_EQ, &v, 1));
	}
	if (pr->ct_estrel) {
		/* ct state established,related: (state & 0x6) != 0 */
		uint32_t mask = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);
		uint32_t zero = 0;
		struct nftnl_expr *ct = nftnl_expr_alloc("ct"), *bw = nftnl_expr_alloc("bitwise");

		if (ct) {
			nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
			nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_DREG, NFT_REG_1);
		}
		if (bw) {
			nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
			nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
			nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_LEN, 4);
			nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
			nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
		}
		ok = ok && add(r, ct) && add(r, bw) && add(r, cmp(NFT_CMP_NEQ, &zero, 4));
	}
	if (pr->addr != PLAN_ADDR_NONE && pr->set) {
		uint32_t off, len;

		addr_offset(pr->nfproto, pr->addr, &off, &len);
		ok = ok && add(r, payload(NFT_PAYLOAD_NETWORK_HEADER, off, len, NFT_REG_1));
		if (pr->named) {
			/* addr . meta l4proto . th dport: each field in its own 32-bit register */
			uint32_t next = NFT_REG32_00 + len / 4;

			ok = ok && add(r, meta(NFT_META_L4PROTO, next)) &&
			     add(r, payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, next + 1));
		}
		ok = ok && add(r, lookup(pr->set, pr->verdict == PLAN_V_VMAP));
		if (pr->nset && !pr->named && pr->verdict != PLAN_V_VMAP)
			ok = ok &&
			     add(r, payload(NFT_PAYLOAD_NETWORK_HEADER, off, len, NFT_REG_1)) &&
			     add(r, lookup_inv(pr->nset));
	}
	if (pr->l4proto) {
		uint8_t v = pr->l4proto;

		ok = ok && add(r, meta(NFT_META_L4PROTO, NFT_REG_1)) && add(r, cmp(NFT_CMP_EQ, &v, 1));
	}
	if (pr->icmpv6_nd) {
		uint8_t lo = ND_TYPE_FIRST, hi = ND_TYPE_LAST;

		ok = ok && add(r, payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1)) &&
		     add(r, range(&lo, &hi, 1));
	}
	if (pr->has_ports) {
		uint16_t lo = htons(pr->port_lo), hi = htons(pr->port_hi);

		ok = ok && add(r, payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1));
		if (pr->port_lo == pr->port_hi)
			ok = ok && add(r, cmp(NFT_CMP_EQ, &lo, 2));
		else
			ok = ok && add(r, range(&lo, &hi, 2));
	}
	if (pr->log)
		ok = ok && add(r, limit(pr->log_rate, pr->log_burst)) &&
		     add(r, nflog(pr->log_group, pr->log_prefix));
	if (pr->counter)
		ok = ok && add(r, nftnl_expr_alloc("counter")); /* counter: starts at 0 packets 0 bytes */
	switch (pr->verdict) {
	case PLAN_V_CONTINUE:
		break;
	case PLAN_V_ACCEPT:
		ok = ok && add(r, verdict(NF_ACCEPT));
		break;
	case PLAN_V_DROP:
		ok = ok && add(r, verdict(NF_DROP));
		break;
	case PLAN_V_RETURN:
		ok = ok && add(r, verdict(NFT_RETURN));
		break;
	case PLAN_V_REJECT_TCP:
		ok = ok && add(r, reject(NFT_REJECT_TCP_RST, 0));
		break;
	case PLAN_V_REJECT_ICMPX:
		ok = ok && add(r, reject(NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED_));
		break;
	case PLAN_V_VMAP:
		break;
	}
	if (!ok || put_comment(r, NFTNL_RULE_USERDATA, NFTNL_UDATA_RULE_COMMENT, rule_set_data,
			       pr->comment) < 0) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

struct nftnl_set *nft_build_set(const char *table, const struct plan_set *ps, uint32_t id)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, ps->name);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, ps->key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, ps->key_len);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, ps->flags);
	/* the kernel requires a transaction-local id on NEWSET */
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	if (ps->flags & NFT_SET_MAP) {
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, ps->data_type);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 0);
	}
	if (put_comment(s, NFTNL_SET_USERDATA, NFTNL_UDATA_SET_COMMENT, set_set_data, ps->comment) <
	    0) {
		nftnl_set_free(s);
		return NULL;
	}
	return s;
}

int nft_build_elem(struct nftnl_set *s, const struct plan_set *ps, const struct plan_elem *el)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (!e)
		return -ENOMEM;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, el->key, el->klen);
	if (el->chain) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NFT_JUMP);
		nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, el->chain);
	}
	nftnl_set_elem_add(s, e);
	if (el->has_end) {
		/* intervals: [start, end) as a start element and an end element */
		e = nftnl_set_elem_alloc();
		if (!e)
			return -ENOMEM;
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, el->end, el->klen);
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
		nftnl_set_elem_add(s, e);
	}
	return 0;
}

size_t nft_elem_size(const struct plan_set *ps, const struct plan_elem *el)
{
	size_t n = 16 + el->klen;

	if (el->has_end)
		n += 32 + el->klen;
	if (el->chain)
		n += 32 + strlen(el->chain);
	return n;
}

/* ---- parsing our own grammar back ---- */

enum pending {
	P_NONE,
	P_NFPROTO,
	P_L4PROTO,
	P_CT,
	P_CT_MASKED,
	P_ADDR,
	P_ADDR_L4,
	P_ADDR_L4_PORT,
	P_ICMP_TYPE,
	P_PORT,
	P_NADDR,
	P_LIMIT,
};

struct parse_ctx {
	struct plan_rule *r;
	enum pending st;
	uint32_t addr_off, addr_len;
	bool seen_verdict;
	bool seen_log;
	bool seen_counter;
	bool bad;
};

static bool u32_is(const struct nftnl_expr *e, uint16_t attr, uint32_t v)
{
	return nftnl_expr_is_set(e, attr) && nftnl_expr_get_u32(e, attr) == v;
}

/*
 * The kernel keeps registers as 32-bit slots and dumps them in its own form
 * (NFT_REG32_00 comes back as NFT_REG_1, NFT_REG32_04 as NFT_REG_2): compare
 * slots, not numbers. NFT_REG_VERDICT is slot 0.
 */
static uint32_t reg_slot(uint32_t reg)
{
	return reg <= NFT_REG_4 ? reg * 4 : reg - NFT_REG32_00 + 4;
}

static bool reg_is(const struct nftnl_expr *e, uint16_t attr, uint32_t reg)
{
	return nftnl_expr_is_set(e, attr) && reg_slot(nftnl_expr_get_u32(e, attr)) == reg_slot(reg);
}

static const void *data_of(const struct nftnl_expr *e, uint16_t attr, uint32_t want_len)
{
	uint32_t len = 0;
	const void *d = nftnl_expr_get(e, attr, &len);

	return d && len == want_len ? d : NULL;
}

static void parse_addr(struct parse_ctx *ctx)
{
	struct plan_rule *r = ctx->r;

	if (ctx->addr_len == 4 && r->nfproto == NFPROTO_IPV4)
		r->addr = ctx->addr_off == 12 ? PLAN_ADDR_SRC
			  : ctx->addr_off == 16 ? PLAN_ADDR_DST : PLAN_ADDR_NONE;
	else if (ctx->addr_len == 16 && r->nfproto == NFPROTO_IPV6)
		r->addr = ctx->addr_off == 8 ? PLAN_ADDR_SRC
			  : ctx->addr_off == 24 ? PLAN_ADDR_DST : PLAN_ADDR_NONE;
	if (r->addr == PLAN_ADDR_NONE)
		ctx->bad = true;
}

static int parse_expr_cb(struct nftnl_expr *e, void *data)
{
	struct parse_ctx *ctx = data;
	struct plan_rule *r = ctx->r;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	const uint8_t *d;

	if (ctx->bad || ctx->seen_verdict || !name)
		goto bad;
	/* a log statement is last but for [counter] and the verdict; a counter, but for the verdict */
	if (ctx->seen_log && strcmp(name, "immediate") != 0 && strcmp(name, "reject") != 0 &&
	    strcmp(name, "counter") != 0)
		goto bad;
	if (ctx->seen_counter && strcmp(name, "immediate") != 0 && strcmp(name, "reject") != 0)
		goto bad;
	if (strcmp(name, "counter") == 0) {
		if (ctx->st != P_NONE || r->counter)
			goto bad;
		r->counter = true;
		r->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		r->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
		ctx->seen_counter = true;
		return 0;
	}
	if (strcmp(name, "meta") == 0) {
		uint32_t key = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);

		if (ctx->st == P_ADDR && key == NFT_META_L4PROTO &&
		    reg_is(e, NFTNL_EXPR_META_DREG, NFT_REG32_00 + ctx->addr_len / 4)) {
			ctx->st = P_ADDR_L4;
			return 0;
		}
		if (ctx->st != P_NONE || !reg_is(e, NFTNL_EXPR_META_DREG, NFT_REG_1))
			goto bad;
		if (key == NFT_META_NFPROTO && !r->nfproto)
			ctx->st = P_NFPROTO;
		else if (key == NFT_META_L4PROTO && !r->l4proto)
			ctx->st = P_L4PROTO;
		else
			goto bad;
		return 0;
	}
	if (strcmp(name, "cmp") == 0) {
		uint32_t op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP);

		if (!reg_is(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1))
			goto bad;
		if (ctx->st == P_NFPROTO && op == NFT_CMP_EQ && (d = data_of(e, NFTNL_EXPR_CMP_DATA, 1)))
			r->nfproto = d[0];
		else if (ctx->st == P_L4PROTO && op == NFT_CMP_EQ &&
			 (d = data_of(e, NFTNL_EXPR_CMP_DATA, 1)))
			r->l4proto = d[0];
		else if (ctx->st == P_CT_MASKED && op == NFT_CMP_NEQ &&
			 (d = data_of(e, NFTNL_EXPR_CMP_DATA, 4)) && !memcmp(d, "\0\0\0\0", 4))
			r->ct_estrel = true;
		else if (ctx->st == P_PORT && op == NFT_CMP_EQ &&
			 (d = data_of(e, NFTNL_EXPR_CMP_DATA, 2))) {
			r->has_ports = true;
			r->port_lo = r->port_hi = (uint16_t)(d[0] << 8 | d[1]);
		} else
			goto bad;
		ctx->st = P_NONE;
		return 0;
	}
	if (strcmp(name, "ct") == 0) {
		if (ctx->st != P_NONE || !u32_is(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE) ||
		    !reg_is(e, NFTNL_EXPR_CT_DREG, NFT_REG_1))
			goto bad;
		ctx->st = P_CT;
		return 0;
	}
	if (strcmp(name, "bitwise") == 0) {
		uint32_t mask = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);

		if (ctx->st != P_CT || !reg_is(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1) ||
		    !reg_is(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1) ||
		    !u32_is(e, NFTNL_EXPR_BITWISE_LEN, 4) ||
		    !(d = data_of(e, NFTNL_EXPR_BITWISE_XOR, 4)) || memcmp(d, "\0\0\0\0", 4) != 0 ||
		    !(d = data_of(e, NFTNL_EXPR_BITWISE_MASK, 4)) || memcmp(d, &mask, 4) != 0)
			goto bad;
		ctx->st = P_CT_MASKED;
		return 0;
	}
	if (strcmp(name, "payload") == 0) {
		uint32_t base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE);
		uint32_t off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);
		uint32_t len = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);

		if (ctx->st == P_ADDR_L4 && base == NFT_PAYLOAD_TRANSPORT_HEADER && off == 2 &&
		    len == 2 && reg_is(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG32_00 + ctx->addr_len / 4 + 1)) {
			ctx->st = P_ADDR_L4_PORT;
			return 0;
		}
		if (ctx->st != P_NONE || !reg_is(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1))
			goto bad;
		if (base == NFT_PAYLOAD_NETWORK_HEADER && r->addr != PLAN_ADDR_NONE && r->set &&
		    !r->nset && !r->named && off == ctx->addr_off && len == ctx->addr_len) {
			ctx->st = P_NADDR; /* the same address again: != @nset follows */
			return 0;
		}
		if (base == NFT_PAYLOAD_NETWORK_HEADER && r->addr == PLAN_ADDR_NONE) {
			ctx->addr_off = off;
			ctx->addr_len = len;
			ctx->st = P_ADDR;
		} else if (base == NFT_PAYLOAD_TRANSPORT_HEADER && off == 0 && len == 1) {
			ctx->st = P_ICMP_TYPE;
		} else if (base == NFT_PAYLOAD_TRANSPORT_HEADER && off == 2 && len == 2) {
			ctx->st = P_PORT;
		} else
			goto bad;
		return 0;
	}
	if (strcmp(name, "range") == 0) {
		const uint8_t *lo, *hi;

		if (!reg_is(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1) ||
		    !u32_is(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ))
			goto bad;
		if (ctx->st == P_ICMP_TYPE && (lo = data_of(e, NFTNL_EXPR_RANGE_FROM_DATA, 1)) &&
		    (hi = data_of(e, NFTNL_EXPR_RANGE_TO_DATA, 1)) && lo[0] == ND_TYPE_FIRST &&
		    hi[0] == ND_TYPE_LAST)
			r->icmpv6_nd = true;
		else if (ctx->st == P_PORT && (lo = data_of(e, NFTNL_EXPR_RANGE_FROM_DATA, 2)) &&
			 (hi = data_of(e, NFTNL_EXPR_RANGE_TO_DATA, 2))) {
			r->has_ports = true;
			r->port_lo = (uint16_t)(lo[0] << 8 | lo[1]);
			r->port_hi = (uint16_t)(hi[0] << 8 | hi[1]);
		} else
			goto bad;
		ctx->st = P_NONE;
		return 0;
	}
	if (strcmp(name, "lookup") == 0 && ctx->st == P_NADDR) {
		const char *set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);

		if (!set || !u32_is(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV) ||
		    !reg_is(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1) ||
		    nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG) || !(r->nset = strdup(set)))
			goto bad;
		ctx->st = P_NONE;
		return 0;
	}
	if (strcmp(name, "limit") == 0) {
		if (ctx->st != P_NONE || r->log ||
		    !u32_is(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS) ||
		    !nftnl_expr_is_set(e, NFTNL_EXPR_LIMIT_UNIT) ||
		    nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_UNIT) != 1 ||
		    !nftnl_expr_is_set(e, NFTNL_EXPR_LIMIT_RATE) ||
		    nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_RATE) > UINT32_MAX ||
		    (nftnl_expr_is_set(e, NFTNL_EXPR_LIMIT_FLAGS) &&
		     nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_FLAGS) != 0))
			goto bad;
		r->log_rate = (uint32_t)nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_RATE);
		r->log_burst = nftnl_expr_is_set(e, NFTNL_EXPR_LIMIT_BURST)
				       ? nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_BURST)
				       : 0;
		ctx->st = P_LIMIT;
		return 0;
	}
	if (strcmp(name, "log") == 0) {
		const char *prefix = nftnl_expr_is_set(e, NFTNL_EXPR_LOG_PREFIX)
					     ? nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX)
					     : NULL;

		if (ctx->st != P_LIMIT || !nftnl_expr_is_set(e, NFTNL_EXPR_LOG_GROUP) || !prefix ||
		    (nftnl_expr_is_set(e, NFTNL_EXPR_LOG_SNAPLEN) &&
		     nftnl_expr_get_u32(e, NFTNL_EXPR_LOG_SNAPLEN) != 0) ||
		    (nftnl_expr_is_set(e, NFTNL_EXPR_LOG_QTHRESHOLD) &&
		     nftnl_expr_get_u16(e, NFTNL_EXPR_LOG_QTHRESHOLD) != 0) ||
		    !(r->log_prefix = strndup(prefix, PLAN_LOG_PREFIX_MAX - 1)))
			goto bad;
		r->log = true;
		r->log_group = nftnl_expr_get_u16(e, NFTNL_EXPR_LOG_GROUP);
		ctx->seen_log = true;
		ctx->st = P_NONE;
		return 0;
	}
	if (strcmp(name, "lookup") == 0) {
		const char *set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);

		if ((ctx->st != P_ADDR && ctx->st != P_ADDR_L4_PORT) || !set ||
		    !reg_is(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1) ||
		    (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS) &&
		     nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) != 0))
			goto bad;
		r->named = ctx->st == P_ADDR_L4_PORT;
		parse_addr(ctx);
		if (!(r->set = strdup(set)))
			goto bad;
		if (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG)) {
			if (nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_DREG) != NFT_REG_VERDICT)
				goto bad;
			r->verdict = PLAN_V_VMAP;
			ctx->seen_verdict = true;
		}
		ctx->st = P_NONE;
		return 0;
	}
	if (strcmp(name, "immediate") == 0 && ctx->st == P_NONE &&
	    u32_is(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT)) {
		int v = (int)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);

		if (v == NF_ACCEPT)
			r->verdict = PLAN_V_ACCEPT;
		else if (v == NF_DROP)
			r->verdict = PLAN_V_DROP;
		else if (v == NFT_RETURN)
			r->verdict = PLAN_V_RETURN;
		else
			goto bad;
		ctx->seen_verdict = true;
		return 0;
	}
	if (strcmp(name, "reject") == 0 && ctx->st == P_NONE) {
		uint32_t type = nftnl_expr_get_u32(e, NFTNL_EXPR_REJECT_TYPE);
		uint8_t code = nftnl_expr_get_u8(e, NFTNL_EXPR_REJECT_CODE);

		if (type == NFT_REJECT_TCP_RST)
			r->verdict = PLAN_V_REJECT_TCP;
		else if (type == NFT_REJECT_ICMPX_UNREACH && code == NFT_REJECT_ICMPX_ADMIN_PROHIBITED_)
			r->verdict = PLAN_V_REJECT_ICMPX;
		else
			goto bad;
		ctx->seen_verdict = true;
		return 0;
	}
bad:
	ctx->bad = true;
	return -1;
}

int nft_parse_rule(const struct nftnl_rule *nr, struct plan_rule *ret)
{
	struct parse_ctx ctx = {.r = ret};
	uint32_t len = 0;
	const void *ud;

	*ret = (struct plan_rule){0};
	nftnl_expr_foreach((struct nftnl_rule *)nr, parse_expr_cb, &ctx);
	if (nftnl_rule_is_set(nr, NFTNL_RULE_USERDATA)) {
		ud = nftnl_rule_get_data(nr, NFTNL_RULE_USERDATA, &len);
		ret->comment = nft_udata_comment(ud, len, NFTNL_UDATA_RULE_COMMENT);
	}
	if (ctx.bad || ctx.st != P_NONE)
		return -EINVAL;
	if (!ctx.seen_verdict) {
		/* only a log statement may go without a verdict (and then without a counter) */
		if (!ctx.seen_log || ctx.seen_counter)
			return -EINVAL;
		ret->verdict = PLAN_V_CONTINUE;
	}
	return 0;
}
