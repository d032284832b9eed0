/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NFNLGRP_NFTABLES monitor: tells changes to our table made by other
 * sockets (drift) from our own, and reports lost events (ENOBUFS).
 */
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "nft.h"

int nft_monitor_open(struct mnl_socket **ret)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int group = NFNLGRP_NFTABLES, r;
	int rcvbuf = 4 << 20;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
		r = -errno;
		mnl_socket_close(nl);
		return r;
	}
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) <
	    0)
		setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	*ret = nl;
	return 0;
}

int nft_monitor_membership(struct mnl_socket *mon, bool join)
{
	int group = NFNLGRP_NFTABLES;

	if (mnl_socket_setsockopt(mon, join ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP,
				  &group, sizeof(group)) < 0)
		return -errno;
	return 0;
}

/* Every nf_tables object message carries its table name as attribute 1. */
static int table_attr_cb(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == 1 && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		*(const char **)data = mnl_attr_get_str(attr);
	return MNL_CB_OK;
}

int nft_monitor_read(struct mnl_socket *mon, uint32_t our_portid, const char *table,
		     bool *ret_foreign)
{
	char buf[64 * 1024];

	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(mon), buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, (int)n);
		     nlh = mnl_nlmsg_next(nlh, (int *)&n)) {
			const struct nfgenmsg *nfg;
			const char *tname = NULL;
			uint16_t type;

			if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
			    mnl_nlmsg_get_payload_len(nlh) < sizeof(*nfg))
				continue;
			type = NFNL_MSG_TYPE(nlh->nlmsg_type);
			if (type == NFT_MSG_NEWGEN || nlh->nlmsg_pid == our_portid)
				continue;
			nfg = mnl_nlmsg_get_payload(nlh);
			if (nfg->nfgen_family != NFPROTO_INET)
				continue;
			if (mnl_attr_parse(nlh, sizeof(*nfg), table_attr_cb, &tname) < 0)
				continue;
			if (tname && strcmp(tname, table) == 0)
				*ret_foreign = true;
		}
	}
}
