/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NFLOG reader of nflog.h: one NETLINK_NETFILTER socket bound to the
 * deny-record group, read on the loop without blocking and a bounded number
 * of datagrams at a time. Every attribute is validated before use and every
 * header length checked against what was copied; what does not parse is
 * counted and skipped. Lost records (ENOBUFS) are counted, never fatal.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "nflog.h"

#define NFLOG_BUF (128u * 1024) /* one datagram: NFLOG_QTHRESHOLD packets of NFLOG_COPY_RANGE */
#define V6_EXT_MAX 8            /* IPv6 extension headers walked before giving up on the port */

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

struct nflog {
	struct mnl_socket *nl;
	uint16_t group;
	uint32_t portid, seq;
	uint8_t *buf;
	struct nflog_stats stats;
};

/* ---- configuration ---- */

/*
 * buf is zeroed first: libmnl 1.0.4's mnl_attr_put() leaves the padding after an
 * attribute unwritten (NFULA_CFG_CMD carries 1 byte, NFULA_CFG_MODE 6).
 */
static struct nlmsghdr *cfg_msg(char *buf, size_t size, uint32_t seq, uint8_t family,
				uint16_t res_id)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *g;

	memset(buf, 0, size);
	nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = htons(res_id);
	return nlh;
}

/* Send one config message and read its ack. 0 or -errno. */
static int cfg_talk(struct nflog *nl, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n;
	int r;

	if (mnl_socket_sendto(nl->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(nl->nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	r = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, nl->portid, NULL, NULL);
	return r < 0 ? -errno : 0;
}

static int cfg_cmd(struct nflog *nl, uint8_t family, uint16_t group, uint8_t cmd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = cfg_msg(buf, sizeof(buf), ++nl->seq, family, group);
	struct nfulnl_msg_config_cmd c = {.command = cmd};

	mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(c), &c);
	return cfg_talk(nl, nlh);
}

static int configure(struct nflog *nl)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nfulnl_msg_config_mode mode = {.copy_range = htonl(NFLOG_COPY_RANGE),
					      .copy_mode = NFULNL_COPY_PACKET};
	struct nlmsghdr *nlh;
	int r;

	/* no-ops since Linux 3.17, needed before; failures there are not ours to fix */
	(void)cfg_cmd(nl, AF_INET, 0, NFULNL_CFG_CMD_PF_BIND);
	(void)cfg_cmd(nl, AF_INET6, 0, NFULNL_CFG_CMD_PF_BIND);
	if ((r = cfg_cmd(nl, AF_UNSPEC, nl->group, NFULNL_CFG_CMD_BIND)) < 0)
		return r;
	nlh = cfg_msg(buf, sizeof(buf), ++nl->seq, AF_UNSPEC, nl->group);
	mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
	mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(NFLOG_QTHRESHOLD));
	mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(NFLOG_TIMEOUT_CS));
	mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl(NFLOG_BUF / 2));
	return cfg_talk(nl, nlh);
}

int nflog_open(uint16_t group, struct nflog **ret)
{
	struct nflog *nl = calloc(1, sizeof(*nl));
	int rcvbuf = NFLOG_RCVBUF, fl, r;

	if (!nl || !(nl->buf = malloc(NFLOG_BUF))) {
		r = -ENOMEM;
		goto fail;
	}
	nl->group = group;
	/* blocking while configuring: the kernel acks synchronously */
	nl->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl->nl || mnl_socket_bind(nl->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	nl->portid = mnl_socket_get_portid(nl->nl);
	(void)setsockopt(mnl_socket_get_fd(nl->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf,
			 sizeof(rcvbuf));
	if ((r = configure(nl)) < 0)
		goto fail;
	fl = fcntl(mnl_socket_get_fd(nl->nl), F_GETFL);
	if (fl < 0 || fcntl(mnl_socket_get_fd(nl->nl), F_SETFL, fl | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	*ret = nl;
	return 0;
fail:
	nflog_free(nl);
	return r;
}

void nflog_free(struct nflog *nl)
{
	if (!nl)
		return;
	if (nl->nl)
		mnl_socket_close(nl->nl); /* the kernel unbinds the group with the socket */
	free(nl->buf);
	free(nl);
}

int nflog_fd(const struct nflog *nl)
{
	return mnl_socket_get_fd(nl->nl);
}

void nflog_get_stats(const struct nflog *nl, struct nflog_stats *ret)
{
	*ret = nl ? nl->stats : (struct nflog_stats){0};
}

/* ---- parsing ---- */

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);
	int ok;

	if (mnl_attr_type_valid(a, NFULA_MAX) < 0)
		return MNL_CB_OK; /* newer kernels add attributes: ignore them */
	switch (type) {
	case NFULA_PACKET_HDR:
		ok = mnl_attr_validate2(a, MNL_TYPE_UNSPEC, sizeof(struct nfulnl_msg_packet_hdr));
		break;
	case NFULA_PREFIX:
		ok = mnl_attr_validate(a, MNL_TYPE_NUL_STRING);
		if (ok >= 0 && mnl_attr_get_payload_len(a) > PLAN_LOG_PREFIX_MAX)
			ok = -1;
		break;
	case NFULA_PAYLOAD:
		ok = mnl_attr_validate(a, MNL_TYPE_UNSPEC);
		break;
	case NFULA_MARK:
	case NFULA_IFINDEX_INDEV:
	case NFULA_IFINDEX_OUTDEV:
	case NFULA_IFINDEX_PHYSINDEV:
	case NFULA_IFINDEX_PHYSOUTDEV:
	case NFULA_UID:
	case NFULA_GID:
	case NFULA_SEQ:
	case NFULA_SEQ_GLOBAL:
		ok = mnl_attr_validate(a, MNL_TYPE_U32);
		break;
	case NFULA_TIMESTAMP:
		ok = mnl_attr_validate2(a, MNL_TYPE_UNSPEC,
					sizeof(struct nfulnl_msg_packet_timestamp));
		break;
	default:
		return MNL_CB_OK; /* not used: hardware address, header, conntrack, ... */
	}
	if (ok < 0)
		return MNL_CB_ERROR;
	if (tb[type])
		return MNL_CB_ERROR; /* one of each */
	tb[type] = a;
	return MNL_CB_OK;
}

int nflog_parse_msg(const struct nlmsghdr *nlh, struct nflog_packet *ret)
{
	const struct nlattr *tb[NFULA_MAX + 1] = {0};
	const struct nfgenmsg *g;
	const struct nfulnl_msg_packet_hdr *ph;

	*ret = (struct nflog_packet){0};
	if (nlh->nlmsg_len < NLMSG_HDRLEN)
		return -EBADMSG;
	if (nlh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET))
		return -ENOMSG;
	if (nlh->nlmsg_len < NLMSG_HDRLEN + MNL_ALIGN(sizeof(*g)))
		return -EBADMSG;
	g = mnl_nlmsg_get_payload(nlh);
	if (g->version != NFNETLINK_V0 ||
	    (g->nfgen_family != AF_INET && g->nfgen_family != AF_INET6))
		return -EBADMSG;
	if (mnl_attr_parse(nlh, sizeof(*g), attr_cb, tb) != MNL_CB_OK)
		return -EBADMSG;
	if (!tb[NFULA_PACKET_HDR] || !tb[NFULA_PAYLOAD])
		return -EBADMSG;
	ph = mnl_attr_get_payload(tb[NFULA_PACKET_HDR]);
	ret->family = g->nfgen_family;
	ret->hw_protocol = ntohs(ph->hw_protocol);
	ret->hook = ph->hook;
	ret->prefix = tb[NFULA_PREFIX] ? mnl_attr_get_str(tb[NFULA_PREFIX]) : NULL;
	ret->payload = mnl_attr_get_payload(tb[NFULA_PAYLOAD]);
	ret->payload_len = mnl_attr_get_payload_len(tb[NFULA_PAYLOAD]);
	return 0;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

int nflog_parse_prefix(const char *s, struct nflog_prefix *ret)
{
	const char *p, *slash;
	size_t nl, pl;

	*ret = (struct nflog_prefix){0};
	if (!s || strncmp(s, "np:", 3) != 0 ||
	    strnlen(s, PLAN_LOG_PREFIX_MAX) >= PLAN_LOG_PREFIX_MAX)
		return -EINVAL;
	p = s + 3;
	if (*p != 'i' && *p != 'e')
		return -EINVAL;
	ret->dir = *p++ == 'i' ? DIR_INGRESS : DIR_EGRESS;
	if (*p == 'a') {
		ret->audit = true;
		p++;
	}
	if (*p++ != ':')
		return -EINVAL;
	if (*p == '#') {
		uint64_t h = 0;

		p++;
		if (strlen(p) != 16)
			return -EINVAL;
		for (; *p; p++) {
			int v = *p >= '0' && *p <= '9'   ? *p - '0'
				: *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
							 : -1;

			if (v < 0)
				return -EINVAL;
			h = h << 4 | (uint64_t)v;
		}
		ret->hashed = true;
		ret->hash = h;
		return 0;
	}
	slash = strchr(p, '/');
	if (!slash)
		return -EINVAL;
	nl = (size_t)(slash - p);
	pl = strlen(slash + 1);
	if (nl == 0 || nl > MODEL_MAX_NAME_LEN || pl == 0 || pl > MODEL_MAX_NAME_LEN)
		return -EINVAL;
	for (size_t i = 0; i < nl; i++)
		if (!name_char(p[i]))
			return -EINVAL;
	for (size_t i = 0; i < pl; i++)
		if (!name_char(slash[1 + i]))
			return -EINVAL;
	memcpy(ret->ns, p, nl);
	memcpy(ret->name, slash + 1, pl);
	return 0;
}

static void ports_of(uint8_t proto, const uint8_t *l4, size_t len, struct nflog_l34 *ret)
{
	ret->proto = proto;
	if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
	     proto == IPPROTO_UDPLITE) &&
	    len >= 4) {
		ret->port = (uint16_t)(l4[2] << 8 | l4[3]);
		ret->has_port = true;
	}
}

int nflog_parse_l34(int family, const uint8_t *p, size_t len, struct nflog_l34 *ret)
{
	*ret = (struct nflog_l34){0};
	if (family == AF_INET) {
		size_t ihl;
		uint16_t frag;

		if (len < 20 || p[0] >> 4 != 4)
			return -EBADMSG;
		ihl = (size_t)(p[0] & 0xf) * 4;
		if (ihl < 20 || ihl > len)
			return -EBADMSG;
		ret->src.family = ret->dst.family = AF_INET;
		memcpy(ret->src.a, p + 12, 4);
		memcpy(ret->dst.a, p + 16, 4);
		frag = (uint16_t)((p[6] & 0x1f) << 8 | p[7]);
		ret->proto = p[9];
		if (frag == 0) /* later fragments carry no transport header */
			ports_of(p[9], p + ihl, len - ihl, ret);
		return 0;
	}
	if (family == AF_INET6) {
		size_t off = 40;
		uint8_t nh;

		if (len < 40 || p[0] >> 4 != 6)
			return -EBADMSG;
		ret->src.family = ret->dst.family = AF_INET6;
		memcpy(ret->src.a, p + 8, 16);
		memcpy(ret->dst.a, p + 24, 16);
		nh = p[6];
		for (int i = 0; i < V6_EXT_MAX; i++) {
			if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING ||
			    nh == IPPROTO_DSTOPTS) {
				if (off + 2 > len)
					break;
				uint8_t next = p[off];

				off += ((size_t)p[off + 1] + 1) * 8;
				nh = next;
			} else if (nh == IPPROTO_FRAGMENT) {
				if (off + 8 > len)
					break;
				uint8_t next = p[off];
				bool first = ((p[off + 2] << 8 | p[off + 3]) & 0xfff8) == 0;

				off += 8;
				nh = next;
				if (!first) {
					ret->proto = nh;
					return 0;
				}
			} else {
				break;
			}
		}
		ret->proto = nh;
		if (off <= len)
			ports_of(nh, p + off, len - off, ret);
		return 0;
	}
	return -EBADMSG;
}

static void endpoint_name(const struct engine *e, const struct ip_addr *ip, char *buf, size_t max)
{
	const struct pod_obj *pod = e ? engine_pod_by_ip(e, ip) : NULL;

	if (pod)
		snprintf(buf, max, "%s/%s", pod->ns, pod->name);
	else
		ip_addr_fmt(ip, buf, max);
}

int nflog_make_record(const struct engine *e, const struct nflog_packet *pkt,
		      struct deny_record *ret)
{
	struct nflog_prefix pf;
	struct nflog_l34 l;
	const struct pod_obj *pod = NULL;
	const struct netpol *const *pols;
	size_t n, off = 0;
	int r;

	*ret = (struct deny_record){0};
	if ((r = nflog_parse_prefix(pkt->prefix, &pf)) < 0)
		return r;
	if ((r = nflog_parse_l34(pkt->family, pkt->payload, pkt->payload_len, &l)) < 0)
		return r;
	clock_gettime(CLOCK_REALTIME, &ret->time);
	ret->dir = pf.dir;
	ret->audit = pf.audit;
	ret->src_ip = l.src;
	ret->dst_ip = l.dst;
	ret->proto = l.proto;
	ret->port = l.has_port ? l.port : 0;
	endpoint_name(e, &l.src, ret->src, sizeof(ret->src));
	endpoint_name(e, &l.dst, ret->dst, sizeof(ret->dst));
	if (!e)
		return 0;
	/* the chain is reached through the protected pod's own address */
	if (pf.hashed) {
		pod = engine_pod_by_ip(e, pf.dir == DIR_INGRESS ? &l.dst : &l.src);
		if (pod && plan_log_pod_hash(pod->ns, pod->name) != pf.hash)
			pod = NULL;
	} else {
		pod = engine_pod(e, pf.ns, pf.name);
	}
	if (!pod)
		return 0;
	n = engine_pod_policies(e, pod, pf.dir, &pols);
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(ret->policies + off, sizeof(ret->policies) - off, "%s%s/%s",
				 i ? "," : "", pols[i]->ns, pols[i]->name);

		if (w < 0 || (size_t)w >= sizeof(ret->policies) - off) {
			/* cut at the last whole name */
			ret->policies[off] = '\0';
			break;
		}
		off += (size_t)w;
	}
	return 0;
}

/* ---- JSON ---- */

struct out {
	char *buf;
	size_t max, len;
};

static void put(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n && o->len + 1 < o->max; i++)
		o->buf[o->len++] = s[i];
	o->buf[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_str(struct out *o, const char *s, size_t max)
{
	put(o, "\"", 1);
	for (size_t i = 0; i < max && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(o, esc, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(o, esc, 6);
		} else {
			put(o, (const char *)&c, 1);
		}
	}
	put(o, "\"", 1);
}

static void put_ip(struct out *o, const struct ip_addr *ip)
{
	char tmp[64];

	if (!ip->family) {
		puts_(o, "null");
		return;
	}
	put_str(o, ip_addr_fmt(ip, tmp, sizeof(tmp)), sizeof(tmp));
}

/*
 * The one shape of a deny record, for the log line and for /v1/events
 * (docs/deny-records.md): both call this, so they cannot drift apart.
 */
size_t nflog_format_json(const struct deny_record *r, char *buf, size_t max)
{
	struct out o = {.buf = buf, .max = max};
	char tmp[64];
	const char *pname = event_proto_name(r->proto);
	struct tm tm;
	const char *p = r->policies;

	if (!max)
		return 0;
	buf[0] = '\0';
	gmtime_r(&r->time.tv_sec, &tm);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 r->time.tv_nsec / 1000000);
	puts_(&o, "{\"time\":");
	put_str(&o, tmp, sizeof(tmp));
	puts_(&o, ",\"direction\":");
	put_str(&o, direction_name(r->dir), 16);
	puts_(&o, r->audit ? ",\"action\":\"audit\",\"audit\":true"
			   : ",\"action\":\"deny\",\"audit\":false");
	puts_(&o, ",\"src\":");
	put_str(&o, r->src, sizeof(r->src));
	puts_(&o, ",\"dst\":");
	put_str(&o, r->dst, sizeof(r->dst));
	puts_(&o, ",\"src_ip\":");
	put_ip(&o, &r->src_ip);
	puts_(&o, ",\"dst_ip\":");
	put_ip(&o, &r->dst_ip);
	puts_(&o, ",\"protocol\":");
	if (!pname) {
		snprintf(tmp, sizeof(tmp), "%u", r->proto);
		pname = tmp;
	}
	put_str(&o, pname, 16);
	snprintf(tmp, sizeof(tmp), ",\"port\":%u,\"policies\":[", r->port);
	puts_(&o, tmp);
	for (bool first = true; *p;) {
		size_t l = strcspn(p, ",");

		if (l) {
			if (!first)
				put(&o, ",", 1);
			put_str(&o, p, l);
			first = false;
		}
		p += l;
		if (*p == ',')
			p++;
	}
	puts_(&o, "]}");
	return o.len;
}

/* ---- reading ---- */

struct read_ctx {
	struct nflog *nl;
	const struct engine *e;
	struct event_hub *hub;
	int records;
};

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct read_ctx *ctx = data;
	struct nflog_packet pkt;
	struct deny_record rec;
	char line[NFLOG_JSON_MAX];
	int r;

	r = nflog_parse_msg(nlh, &pkt);
	if (r == -ENOMSG)
		return MNL_CB_OK;
	if (r < 0) {
		ctx->nl->stats.malformed++;
		return MNL_CB_OK;
	}
	r = nflog_make_record(ctx->e, &pkt, &rec);
	if (r == -EINVAL && nflog_parse_l34(pkt.family, pkt.payload, pkt.payload_len,
					    &(struct nflog_l34){0}) >= 0) {
		ctx->nl->stats.unattributed++;
		return MNL_CB_OK;
	}
	if (r < 0) {
		ctx->nl->stats.malformed++;
		return MNL_CB_OK;
	}
	if (!rec.policies[0])
		ctx->nl->stats.unattributed++;
	ctx->nl->stats.records++;
	ctx->nl->stats.audit_records += rec.audit;
	ctx->records++;
	event_hub_publish(ctx->hub, &rec);
	nflog_format_json(&rec, line, sizeof(line));
	log_info("deny %s", line);
	return MNL_CB_OK;
}

int nflog_read(struct nflog *nl, const struct engine *e, struct event_hub *hub)
{
	struct read_ctx ctx = {.nl = nl, .e = e, .hub = hub};

	for (int i = 0; i < NFLOG_READ_BUDGET; i++) {
		ssize_t n = recv(mnl_socket_get_fd(nl->nl), nl->buf, NFLOG_BUF, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) {
				/* the kernel dropped records for us: count, read on */
				nl->stats.overruns++;
				continue;
			}
			return -errno;
		}
		/* multicast from the kernel: seq 0, portid 0; a bad message ends its datagram only */
		(void)mnl_cb_run(nl->buf, (size_t)n, 0, 0, msg_cb, &ctx);
	}
	return ctx.records;
}
