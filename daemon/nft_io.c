/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The nftables transport: one batch per commit (NFNL_MSG_BATCH_BEGIN/END,
 * page by page), one seq and NLM_F_ACK per message, every ack read and each
 * error mapped back to the object that caused it. Dumps are in nft_dump.c,
 * the monitor in nft_monitor.c.
 */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>

#include "log.h"
#include "nft.h"

/*
 * Attribute padding: libmnl 1.0.4's mnl_attr_put(), which libnftnl builds every
 * attribute with, copies the payload but never writes the 1-3 alignment bytes
 * after it (names, comments, 1- and 2-byte cmp data...), so whatever the buffer
 * held went to the kernel. Every buffer a message is built in starts zeroed:
 * request buffers on the stack, and each page of a batch when libnftnl adds it.
 */
#define NFT_BUF_SIZE (256 * 1024)
#define ELEM_MSG_BYTES (48 * 1024) /* nested attributes carry a 16-bit length */
#define ACK_TRUESIZE 1024          /* receive-buffer cost of one ack, generously */
#define ACK_TIMEOUT_MS 5000

int nft_sock_open(struct nft_sock *s)
{
	int one = 1;

	*s = (struct nft_sock){0};
	s->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!s->nl)
		return -errno;
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int r = -errno;

		nft_sock_close(s);
		return r;
	}
	/* acks carry only the header of the acked message; errors carry a reason */
	mnl_socket_setsockopt(s->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(s->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL);
	s->buflen = NFT_BUF_SIZE;
	s->buf = malloc(s->buflen);
	if (!s->buf) {
		nft_sock_close(s);
		return -ENOMEM;
	}
	return 0;
}

void nft_sock_close(struct nft_sock *s)
{
	if (s->nl)
		mnl_socket_close(s->nl);
	free(s->buf);
	*s = (struct nft_sock){0};
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One request, replies through cb until DONE / the ack. Returns 0 or -errno. */
int nft_talk(struct nft_sock *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	uint32_t seq = nlh->nlmsg_seq;
	int r;

	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->nl, s->buf, s->buflen);

		if (n < 0)
			return -errno;
		r = mnl_cb_run(s->buf, n, seq, s->portid, cb, data);
		if (r < 0)
			return -errno;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *g = nftnl_gen_alloc();
	int r = MNL_CB_ERROR;

	if (g && nftnl_gen_nlmsg_parse(nlh, g) == 0) {
		*(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
		r = MNL_CB_STOP;
	}
	nftnl_gen_free(g);
	return r;
}

int nft_get_gen(struct nft_sock *s, uint32_t *ret)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	*ret = 0;
	memset(buf, 0, sizeof(buf));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, NFPROTO_UNSPEC, 0, ++s->seq);
	return nft_talk(s, nlh, gen_cb, ret);
}

/* ---- commit ---- */

struct seq_obj {
	uint32_t seq;
	const char *what; /* borrowed from the delta's objects */
};

struct tx {
	struct nft_sock *s;
	const char *table;
	struct nftnl_batch *b;
	size_t page_bytes; /* a page's buffer: page size + overrun */
	struct seq_obj *objs;
	size_t n, cap;
	uint64_t elems;
	int err;
};

static struct nlmsghdr *tx_hdr(struct tx *tx, uint16_t type, uint16_t flags, const char *what)
{
	uint32_t seq = ++tx->s->seq;

	if (tx->n == tx->cap) {
		size_t cap = tx->cap ? tx->cap * 2 : 256;
		struct seq_obj *v = realloc(tx->objs, cap * sizeof(*v));

		if (!v) {
			tx->err = -ENOMEM;
			return NULL;
		}
		tx->objs = v;
		tx->cap = cap;
	}
	tx->objs[tx->n++] = (struct seq_obj){seq, what};
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(tx->b), type, NFPROTO_INET,
				     flags | NLM_F_ACK, seq);
}

/* A batch whose pages start zeroed (see "Attribute padding" above). */
static int tx_batch_alloc(struct tx *tx, uint32_t page_size)
{
	tx->b = nftnl_batch_alloc(page_size, NFT_BUF_SIZE);
	if (!tx->b)
		return -ENOMEM;
	/* libnftnl mallocs page size + overrun; the first page is empty, its buffer is ours */
	tx->page_bytes = (size_t)page_size + NFT_BUF_SIZE;
	memset(nftnl_batch_buffer(tx->b), 0, tx->page_bytes);
	return 0;
}

static void tx_next(struct tx *tx)
{
	const struct nlmsghdr *last = nftnl_batch_buffer(tx->b);
	uint32_t len = last->nlmsg_len;
	char *cur;

	if (nftnl_batch_update(tx->b) < 0) {
		tx->err = -ENOMEM;
		return;
	}
	/*
	 * The message did not fit: libnftnl added a page (malloc, not zeroed) and copied the
	 * message to its start. Zero the rest of that page.
	 */
	cur = nftnl_batch_buffer(tx->b);
	if (cur != (const char *)last + len)
		memset(cur, 0, tx->page_bytes - len);
}

static const char *set_what(const struct plan_set *ps)
{
	return ps->comment ? ps->comment : ps->name;
}

static void tx_set(struct tx *tx, const struct plan_set *ps, uint16_t type, uint16_t flags)
{
	struct nftnl_set *s = nft_build_set(tx->table, ps, tx->s->seq + 1);
	struct nlmsghdr *nlh;

	if (!s) {
		tx->err = -ENOMEM;
		return;
	}
	if ((nlh = tx_hdr(tx, type, flags, set_what(ps)))) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		tx_next(tx);
	}
	nftnl_set_free(s);
}

static void tx_chain(struct tx *tx, const struct plan_chain *pc, uint16_t type, uint16_t flags)
{
	struct nftnl_chain *c = nft_build_chain(tx->table, pc);
	struct nlmsghdr *nlh;

	if (!c) {
		tx->err = -ENOMEM;
		return;
	}
	if (type == NFT_MSG_DELCHAIN) {
		/* deletion by name only */
		nftnl_chain_unset(c, NFTNL_CHAIN_HOOKNUM);
		nftnl_chain_unset(c, NFTNL_CHAIN_PRIO);
		nftnl_chain_unset(c, NFTNL_CHAIN_TYPE);
		nftnl_chain_unset(c, NFTNL_CHAIN_POLICY);
		nftnl_chain_unset(c, NFTNL_CHAIN_USERDATA);
	}
	if ((nlh = tx_hdr(tx, type, flags, pc->comment ? pc->comment : pc->name))) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		tx_next(tx);
	}
	nftnl_chain_free(c);
}

static void tx_rules(struct tx *tx, const struct plan_chain *pc, bool flush_first)
{
	struct nlmsghdr *nlh;

	if (flush_first) {
		/* DELRULE without a handle flushes the chain */
		struct nftnl_rule *r = nftnl_rule_alloc();

		if (!r) {
			tx->err = -ENOMEM;
			return;
		}
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, tx->table);
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, pc->name);
		if ((nlh = tx_hdr(tx, NFT_MSG_DELRULE, 0, pc->comment ? pc->comment : pc->name))) {
			nftnl_rule_nlmsg_build_payload(nlh, r);
			tx_next(tx);
		}
		nftnl_rule_free(r);
	}
	for (size_t i = 0; i < pc->n_rules && !tx->err; i++) {
		struct nftnl_rule *r = nft_build_rule(tx->table, pc->name, &pc->rules[i]);

		if (!r) {
			tx->err = -ENOMEM;
			return;
		}
		/* rules append in order: no handles or positions */
		nlh = tx_hdr(tx, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
			     pc->rules[i].comment ? pc->rules[i].comment : pc->name);
		if (nlh) {
			nftnl_rule_nlmsg_build_payload(nlh, r);
			tx_next(tx);
		}
		nftnl_rule_free(r);
	}
}

static int op_cmp(const void *a, const void *b)
{
	const struct plan_elem_op *x = a, *y = b;

	return strcmp(x->set->name, y->set->name);
}

static void tx_elems(struct tx *tx, struct plan_elem_op *ops, size_t n, bool add)
{
	if (n)
		qsort(ops, n, sizeof(*ops), op_cmp);
	for (size_t i = 0; i < n && !tx->err;) {
		const struct plan_set *ps = ops[i].set;
		struct nftnl_set *s = nftnl_set_alloc();
		size_t bytes = 0, count = 0;
		struct nlmsghdr *nlh;

		if (!s) {
			tx->err = -ENOMEM;
			return;
		}
		nftnl_set_set_str(s, NFTNL_SET_TABLE, tx->table);
		nftnl_set_set_str(s, NFTNL_SET_NAME, ps->name);
		nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
		for (; i < n && strcmp(ops[i].set->name, ps->name) == 0 && count < NFT_ELEMS_PER_MSG &&
		       bytes < ELEM_MSG_BYTES;
		     i++, count++) {
			bytes += nft_elem_size(ps, ops[i].el);
			if (nft_build_elem(s, ps, ops[i].el) < 0) {
				tx->err = -ENOMEM;
				break;
			}
		}
		tx->elems += count;
		nlh = tx_hdr(tx, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
			     add ? NLM_F_CREATE | NLM_F_EXCL : 0, set_what(ps));
		if (nlh && !tx->err) {
			nftnl_set_elems_nlmsg_build_payload(nlh, s);
			tx_next(tx);
		}
		nftnl_set_free(s);
	}
}

static void tx_flush_set(struct tx *tx, const struct plan_set *ps)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;

	if (!s) {
		tx->err = -ENOMEM;
		return;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, tx->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, ps->name);
	/* DELSETELEM without elements flushes the set */
	if ((nlh = tx_hdr(tx, NFT_MSG_DELSETELEM, 0, set_what(ps)))) {
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		tx_next(tx);
	}
	nftnl_set_free(s);
}

static const char *what_of(const struct tx *tx, uint32_t seq)
{
	/* seqs are increasing: binary search */
	size_t lo = 0, hi = tx->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (tx->objs[mid].seq == seq)
			return tx->objs[mid].what;
		if (tx->objs[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return "batch";
}

static const char *ext_ack_msg(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	size_t off = sizeof(*err); /* NETLINK_CAP_ACK: only the header is echoed */
	const struct nlattr *attr;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
	if (mnl_nlmsg_get_payload_len(nlh) < off)
		return NULL;
	mnl_attr_for_each_payload((const struct nlattr *)((const char *)err + off), mnl_nlmsg_get_payload_len(nlh) - off)
	{
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			return mnl_attr_get_str(attr);
	}
	return NULL;
}

/* Read every ack of the batch; log each error once with its object. */
static int read_acks(struct tx *tx, struct nft_commit_info *info)
{
	struct nft_sock *s = tx->s;
	size_t acked = 0, expected = tx->n - 1; /* the batch begin is not acked on success */
	int first_err = 0;

	while (acked < expected) {
		struct pollfd pfd = {.fd = mnl_socket_get_fd(s->nl), .events = POLLIN};
		ssize_t n;

		n = recv(pfd.fd, s->buf, s->buflen, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN) {
			int pr = poll(&pfd, 1, ACK_TIMEOUT_MS);

			if (pr == 0)
				return first_err ? first_err : -ETIMEDOUT;
			continue;
		}
		if (n < 0)
			return -errno; /* ENOBUFS: acks lost, the caller resyncs */
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)s->buf; mnl_nlmsg_ok(nlh, (int)n);
		     nlh = mnl_nlmsg_next(nlh, (int *)&n)) {
			const struct nlmsgerr *err;

			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    mnl_nlmsg_get_payload_len(nlh) < sizeof(*err))
				continue;
			err = mnl_nlmsg_get_payload(nlh);
			acked++;
			if (err->error == 0)
				continue;
			const char *what = what_of(tx, nlh->nlmsg_seq);
			const char *why = ext_ack_msg(nlh);

			info->n_errors++;
			log_error_errno(err->error, "nftables: table %s: %s%s%s", tx->table, what,
					why ? ": " : "", why ? why : "");
			if (!first_err)
				first_err = err->error;
			if (strcmp(what, "batch") == 0)
				return first_err; /* the whole batch was refused: no further acks */
		}
	}
	return first_err;
}

static int send_batch(struct tx *tx)
{
	int iovlen = nftnl_batch_iovec_len(tx->b);
	struct iovec *iov = calloc(iovlen, sizeof(*iov));
	struct sockaddr_nl snl = {.nl_family = AF_NETLINK};
	int r;

	if (!iov)
		return -ENOMEM;
	nftnl_batch_iovec(tx->b, iov, iovlen);
	/* the whole batch is one datagram: the send buffer must hold it */
	size_t total = 0;
	for (int i = 0; i < iovlen; i++)
		total += iov[i].iov_len;
	int sndbuf = (int)total + 65536;
	if (setsockopt(mnl_socket_get_fd(tx->s->nl), SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
		       sizeof(sndbuf)) < 0)
		setsockopt(mnl_socket_get_fd(tx->s->nl), SOL_SOCKET, SO_SNDBUF, &sndbuf,
			   sizeof(sndbuf));
	struct msghdr msg = {.msg_name = &snl, .msg_namelen = sizeof(snl), .msg_iov = iov,
			     .msg_iovlen = iovlen};
	r = sendmsg(mnl_socket_get_fd(tx->s->nl), &msg, 0) < 0 ? -errno : 0;
	free(iov);
	return r;
}

int nft_commit(struct nft_sock *s, const char *table, const struct plan_delta *d, uint32_t genid,
	       struct nft_commit_info *ret)
{
	struct tx tx = {.s = s, .table = table};
	struct nlmsghdr *nlh;
	double t0;
	int r;

	*ret = (struct nft_commit_info){0};
	if (tx_batch_alloc(&tx, 32 * 4096) < 0)
		return -ENOMEM;
	nlh = nftnl_batch_begin(nftnl_batch_buffer(tx.b), ++s->seq);
	if (genid)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
	tx.objs = malloc(256 * sizeof(*tx.objs));
	tx.cap = tx.objs ? 256 : 0;
	if (tx.objs)
		tx.objs[tx.n++] = (struct seq_obj){s->seq, "batch"};
	tx_next(&tx);

	if (d->add_table) {
		struct nftnl_table *t = nftnl_table_alloc();

		if (t && (nlh = tx_hdr(&tx, NFT_MSG_NEWTABLE, NLM_F_CREATE, "table"))) {
			nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
			nftnl_table_nlmsg_build_payload(nlh, t);
			tx_next(&tx);
		}
		nftnl_table_free(t);
	}
	/* order: see docs/dataplane.md, "One batch" */
	for (size_t i = 0; i < d->n_add_chains; i++)
		tx_chain(&tx, d->add_chains[i], NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL);
	for (size_t i = 0; i < d->n_replace_chains; i++)
		tx_rules(&tx,
			 &(struct plan_chain){.name = d->replace_chains[i]->name,
					      .comment = d->replace_chains[i]->comment},
			 true);
	tx_elems(&tx, d->del_elems, d->n_del_elems, false);
	for (size_t i = 0; i < d->n_flush_sets; i++)
		tx_flush_set(&tx, d->flush_sets[i]);
	for (size_t i = 0; i < d->n_del_chains; i++)
		tx_chain(&tx, d->del_chains[i], NFT_MSG_DELCHAIN, 0);
	for (size_t i = 0; i < d->n_del_sets; i++)
		tx_set(&tx, d->del_sets[i], NFT_MSG_DELSET, 0);
	for (size_t i = 0; i < d->n_add_sets; i++)
		tx_set(&tx, d->add_sets[i], NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL);
	tx_elems(&tx, d->add_elems, d->n_add_elems, true);
	for (size_t i = 0; i < d->n_replace_chains; i++)
		tx_rules(&tx, d->replace_chains[i], false);
	for (size_t i = 0; i < d->n_add_chains; i++)
		tx_rules(&tx, d->add_chains[i], false);

	nftnl_batch_end(nftnl_batch_buffer(tx.b), ++s->seq);
	tx_next(&tx);
	if (tx.err) {
		r = tx.err;
		goto out;
	}
	ret->msgs = tx.n - 1;
	ret->elems = tx.elems;

	/* room for every ack */
	int rcvbuf = (int)(tx.n * ACK_TRUESIZE + (1 << 20));
	if (setsockopt(mnl_socket_get_fd(s->nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		       sizeof(rcvbuf)) < 0)
		setsockopt(mnl_socket_get_fd(s->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

	t0 = now();
	r = send_batch(&tx);
	if (r >= 0)
		r = read_acks(&tx, ret);
	ret->kernel_seconds = now() - t0;
out:
	nftnl_batch_free(tx.b);
	free(tx.objs);
	return r;
}

int nft_delete_table(struct nft_sock *s, const char *table)
{
	struct plan cur;
	int r = nft_dump_table(s, table, &cur);
	bool exists = cur.has_table;

	plan_clear(&cur);
	if (r < 0 || !exists)
		return r;
	/* a one-message batch: DELTABLE removes everything inside */
	struct tx tx = {.s = s, .table = table};
	struct nlmsghdr *nlh;
	struct nftnl_table *t = nftnl_table_alloc();

	/* libnftnl's destructors do not accept NULL */
	if (!t || tx_batch_alloc(&tx, 4096) < 0 || !(tx.objs = calloc(2, sizeof(*tx.objs)))) {
		if (t)
			nftnl_table_free(t);
		if (tx.b)
			nftnl_batch_free(tx.b);
		return -ENOMEM;
	}
	nftnl_batch_begin(nftnl_batch_buffer(tx.b), ++s->seq);
	tx.cap = 2;
	tx.objs[tx.n++] = (struct seq_obj){s->seq, "batch"};
	tx_next(&tx);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	if ((nlh = tx_hdr(&tx, NFT_MSG_DELTABLE, 0, "table"))) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		tx_next(&tx);
	}
	nftnl_table_free(t);
	nftnl_batch_end(nftnl_batch_buffer(tx.b), ++s->seq);
	tx_next(&tx);
	r = tx.err;
	if (r >= 0) {
		struct nft_commit_info ci = {0};

		r = send_batch(&tx);
		if (r >= 0)
			r = read_acks(&tx, &ci);
	}
	nftnl_batch_free(tx.b);
	free(tx.objs);
	return r == -ENOENT ? 0 : r;
}

