/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NFLOG parsing (daemon/nflog.c) on crafted buffers: valid IPv4/IPv6
 * packets, every malformed attribute rejected, truncated packets handled,
 * the prefixes netpold writes (and only those) accepted, records
 * attributed through a real engine, the JSON line, and the pod latency ring.
 */
#include <arpa/inet.h>
#include <check.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <netinet/in.h>
#include <stdio.h>

#include "decode.h"
#include "nflog.h"
#include "pod_latency.h"

static char buf[8192];

/* A packet message; NULL fields are left out. */
static struct nlmsghdr *msg(uint8_t family, const char *prefix, const void *payload, size_t plen)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *g;
	struct nfulnl_msg_packet_hdr ph = {.hw_protocol = htons(family == AF_INET ? 0x0800 : 0x86dd),
					   .hook = 2};

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof(ph), &ph);
	mnl_attr_put_u32(nlh, NFULA_MARK, 0);
	if (prefix)
		mnl_attr_put_strz(nlh, NFULA_PREFIX, prefix);
	if (payload)
		mnl_attr_put(nlh, NFULA_PAYLOAD, plen, payload);
	return nlh;
}

/* IPv4 header (20 bytes) + 8 bytes of transport header. */
static size_t ip4(uint8_t *p, const char *src, const char *dst, uint8_t proto, uint16_t dport)
{
	memset(p, 0, 28);
	p[0] = 0x45;
	p[3] = 28;
	p[8] = 64;
	p[9] = proto;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	p[20] = 0x30;
	p[21] = 0x39;
	p[22] = (uint8_t)(dport >> 8);
	p[23] = (uint8_t)dport;
	return 28;
}

static size_t ip6(uint8_t *p, const char *src, const char *dst, uint8_t proto, uint16_t dport,
		  bool hbh)
{
	size_t off = 40;

	memset(p, 0, 64);
	p[0] = 0x60;
	p[6] = hbh ? IPPROTO_HOPOPTS : proto;
	p[7] = 64;
	inet_pton(AF_INET6, src, p + 8);
	inet_pton(AF_INET6, dst, p + 24);
	if (hbh) {
		p[40] = proto; /* next header; length 0: 8 bytes */
		off = 48;
	}
	p[off + 2] = (uint8_t)(dport >> 8);
	p[off + 3] = (uint8_t)dport;
	return off + 8;
}

START_TEST(test_parse_valid)
{
	uint8_t pkt[64];
	struct nflog_packet np;
	struct nflog_l34 l;
	size_t n = ip4(pkt, "10.244.1.10", "10.244.1.11", IPPROTO_TCP, 80);

	ck_assert_int_eq(nflog_parse_msg(msg(AF_INET, "np:i:y/b", pkt, n), &np), 0);
	ck_assert_int_eq(np.family, AF_INET);
	ck_assert_uint_eq(np.hw_protocol, 0x0800);
	ck_assert_str_eq(np.prefix, "np:i:y/b");
	ck_assert_uint_eq(np.payload_len, n);
	ck_assert_int_eq(nflog_parse_l34(np.family, np.payload, np.payload_len, &l), 0);
	ck_assert_uint_eq(l.proto, IPPROTO_TCP);
	ck_assert(l.has_port);
	ck_assert_uint_eq(l.port, 80);

	n = ip6(pkt, "fd00::1", "fd00::2", IPPROTO_UDP, 5353, true);
	ck_assert_int_eq(nflog_parse_msg(msg(AF_INET6, "np:e:x/a", pkt, n), &np), 0);
	ck_assert_int_eq(nflog_parse_l34(np.family, np.payload, np.payload_len, &l), 0);
	ck_assert_uint_eq(l.proto, IPPROTO_UDP);
	ck_assert_uint_eq(l.port, 5353);
	ck_assert_uint_eq(l.src.family, AF_INET6);

	n = ip6(pkt, "fd00::1", "fd00::2", IPPROTO_SCTP, 9, false);
	ck_assert_int_eq(nflog_parse_l34(AF_INET6, pkt, n, &l), 0);
	ck_assert_uint_eq(l.proto, IPPROTO_SCTP);
	ck_assert_uint_eq(l.port, 9);

	/* ICMP: no port */
	n = ip4(pkt, "10.0.0.1", "10.0.0.2", IPPROTO_ICMP, 0);
	ck_assert_int_eq(nflog_parse_l34(AF_INET, pkt, n, &l), 0);
	ck_assert_uint_eq(l.proto, IPPROTO_ICMP);
	ck_assert(!l.has_port);

	/* another message type is skipped, not an error */
	struct nlmsghdr *nlh = msg(AF_INET, "np:i:y/b", pkt, n);
	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	ck_assert_int_eq(nflog_parse_msg(nlh, &np), -ENOMSG);
}
END_TEST

START_TEST(test_malformed_attributes)
{
	uint8_t pkt[64];
	struct nflog_packet np;
	struct nlmsghdr *nlh;
	struct nlattr *a;
	size_t n = ip4(pkt, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80);

	/* no payload, no packet header */
	ck_assert_int_eq(nflog_parse_msg(msg(AF_INET, "np:i:y/b", NULL, 0), &np), -EBADMSG);
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_INET;
	mnl_attr_put(nlh, NFULA_PAYLOAD, n, pkt);
	ck_assert_int_eq(nflog_parse_msg(nlh, &np), -EBADMSG);

	/* packet header of the wrong size */
	nlh = msg(AF_INET, "np:i:y/b", pkt, n);
	a = (struct nlattr *)((char *)mnl_nlmsg_get_payload(nlh) + MNL_ALIGN(sizeof(struct nfgenmsg)));
	ck_assert_uint_eq(mnl_attr_get_type(a), NFULA_PACKET_HDR);
	a->nla_len = MNL_ATTR_HDRLEN + 2; /* 4 wanted; the rest becomes garbage attributes */
	ck_assert_int_eq(nflog_parse_msg(nlh, &np), -EBADMSG);

	/* prefix without its NUL */
	memset(buf, 0, sizeof(buf));
	nlh = msg(AF_INET, NULL, NULL, 0);
	mnl_attr_put(nlh, NFULA_PREFIX, 4, "np:i");
	mnl_attr_put(nlh, NFULA_PAYLOAD, n, pkt);
	ck_assert_int_eq(nflog_parse_msg(nlh, &np), -EBADMSG);

	/* an attribute longer than the message */
	nlh = msg(AF_INET, "np:i:y/b", pkt, n);
	a = (struct nlattr *)((char *)nlh + nlh->nlmsg_len - MNL_ALIGN(MNL_ATTR_HDRLEN + n));
	ck_assert_uint_eq(mnl_attr_get_type(a), NFULA_PAYLOAD);
	a->nla_len = (uint16_t)(a->nla_len + 64);
	ck_assert_int_eq(nflog_parse_msg(nlh, &np), -EBADMSG);

	/* duplicate payload */
	nlh = msg(AF_INET, "np:i:y/b", pkt, n);
	mnl_attr_put(nlh, NFULA_PAYLOAD, n, pkt);
	ck_assert_int_eq(nflog_parse_msg(nlh, &np), -EBADMSG);

	/* a mark that is not a u32 */
	nlh = msg(AF_INET, "np:i:y/b", pkt, n);
	mnl_attr_put_u16(nlh, NFULA_IFINDEX_INDEV, 1);
	ck_assert_int_eq(nflog_parse_msg(nlh, &np), -EBADMSG);

	/* too long a prefix */
	char longp[300];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	ck_assert_int_eq(nflog_parse_msg(msg(AF_INET, longp, pkt, n), &np), -EBADMSG);

	/* unknown family, bad version */
	nlh = msg(AF_INET, "np:i:y/b", pkt, n);
	((struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family = AF_UNIX;
	ck_assert_int_eq(nflog_parse_msg(nlh, &np), -EBADMSG);
	nlh = msg(AF_INET, "np:i:y/b", pkt, n);
	((struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->version = 7;
	ck_assert_int_eq(nflog_parse_msg(nlh, &np), -EBADMSG);

	/* a message too short for its nfgenmsg */
	nlh = msg(AF_INET, "np:i:y/b", pkt, n);
	nlh->nlmsg_len = NLMSG_HDRLEN + 2;
	ck_assert_int_eq(nflog_parse_msg(nlh, &np), -EBADMSG);

	/* unknown attributes of newer kernels are ignored */
	nlh = msg(AF_INET, "np:i:y/b", pkt, n);
	mnl_attr_put_u32(nlh, NFULA_MAX + 3, 7);
	ck_assert_int_eq(nflog_parse_msg(nlh, &np), 0);
}
END_TEST

START_TEST(test_truncated_packets)
{
	uint8_t pkt[64];
	struct nflog_l34 l;
	size_t n = ip4(pkt, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 53);

	/* every length short of a whole IPv4 header is refused; the ports need 4 bytes */
	for (size_t len = 0; len <= n; len++) {
		int r = nflog_parse_l34(AF_INET, pkt, len, &l);

		if (len < 20)
			ck_assert_int_eq(r, -EBADMSG);
		else
			ck_assert(r == 0 && l.has_port == (len >= 24));
	}
	pkt[0] = 0x4f; /* ihl 60 > copied */
	ck_assert_int_eq(nflog_parse_l34(AF_INET, pkt, n, &l), -EBADMSG);
	pkt[0] = 0x44; /* ihl 16 < 20 */
	ck_assert_int_eq(nflog_parse_l34(AF_INET, pkt, n, &l), -EBADMSG);
	pkt[0] = 0x65; /* version 6 in an IPv4 message */
	ck_assert_int_eq(nflog_parse_l34(AF_INET, pkt, n, &l), -EBADMSG);
	/* a later fragment has no ports */
	ip4(pkt, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 53);
	pkt[7] = 10;
	ck_assert_int_eq(nflog_parse_l34(AF_INET, pkt, n, &l), 0);
	ck_assert(!l.has_port);

	n = ip6(pkt, "fd00::1", "fd00::2", IPPROTO_TCP, 443, true);
	for (size_t len = 0; len <= n; len++) {
		int r = nflog_parse_l34(AF_INET6, pkt, len, &l);

		if (len < 40)
			ck_assert_int_eq(r, -EBADMSG);
		else
			ck_assert(r == 0 && l.has_port == (len >= 52));
	}
	/* an extension header claiming more than was copied */
	pkt[41] = 200;
	ck_assert_int_eq(nflog_parse_l34(AF_INET6, pkt, n, &l), 0);
	ck_assert(!l.has_port);
	ck_assert_int_eq(nflog_parse_l34(AF_INET6, pkt, n, &l), 0);
	ck_assert_int_eq(nflog_parse_l34(AF_UNIX, pkt, n, &l), -EBADMSG);
}
END_TEST

START_TEST(test_prefix)
{
	struct nflog_prefix p;
	char s[PLAN_LOG_PREFIX_MAX], ns[64], name[300];

	ck_assert_int_eq(nflog_parse_prefix("np:i:y/b", &p), 0);
	ck_assert(p.dir == DIR_INGRESS && !p.audit && !p.hashed);
	ck_assert_str_eq(p.ns, "y");
	ck_assert_str_eq(p.name, "b");
	ck_assert_int_eq(nflog_parse_prefix("np:ea:kube-system/core-dns.1", &p), 0);
	ck_assert(p.dir == DIR_EGRESS && p.audit);
	ck_assert_str_eq(p.name, "core-dns.1");

	/* what plan_log_prefix writes parses back, long names through the hash */
	plan_log_prefix(DIR_EGRESS, true, "web", "api-1", s);
	ck_assert_str_eq(s, "np:ea:web/api-1");
	snprintf(ns, sizeof(ns), "%s", "a-namespace-with-a-long-name-of-sixty-three-characters-xxxxxxx");
	memset(name, 'p', 253);
	name[253] = '\0';
	plan_log_prefix(DIR_INGRESS, false, ns, name, s);
	ck_assert_uint_lt(strlen(s), PLAN_LOG_PREFIX_MAX);
	ck_assert_int_eq(nflog_parse_prefix(s, &p), 0);
	ck_assert(p.hashed && p.hash == plan_log_pod_hash(ns, name) && p.dir == DIR_INGRESS);

	static const char *const bad[] = {
		"", "np:", "np:x:y/b", "np:i:", "np:i:y", "np:i:/b", "np:i:y/", "np:iy/b",
		"np:i:Y/b", "np:i:y/b c", "np:ib:y/b", "kube:i:y/b", "np:i:#123", "np:i:#0123456789abcdeg",
		"np:i:#0123456789abcdef0",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		ck_assert_msg(nflog_parse_prefix(bad[i], &p) == -EINVAL, "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(nflog_parse_prefix(NULL, &p), -EINVAL);
}
END_TEST

static void sink_object(void *ud, struct k8s_object *obj)
{
	ck_assert_int_eq(engine_apply(ud, obj), 0);
}

static void sink_error(void *ud, const struct decode_diag *d)
{
	ck_abort_msg("decode: %s", d->message);
}

static const char world[] =
	"apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x, labels: {app: a}}\n"
	"spec: {nodeName: n1, containers: [{name: c, image: i}]}\n"
	"status: {phase: Running, podIP: 10.244.1.10, podIPs: [{ip: 10.244.1.10}]}\n---\n"
	"apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: y, labels: {app: b}}\n"
	"spec: {nodeName: n1, containers: [{name: c, image: i}]}\n"
	"status: {phase: Running, podIP: 10.244.1.11, podIPs: [{ip: 10.244.1.11}]}\n---\n"
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: deny-all, namespace: y}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n"
	"---\n"
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: watch, namespace: x, annotations: {netpold.io/mode: audit}}\n"
	"spec: {podSelector: {}, policyTypes: [Egress]}\n";

START_TEST(test_record)
{
	struct engine *e = engine_new();
	struct decode_sink sink = {.object = sink_object, .error = sink_error, .userdata = e};
	uint8_t pkt[64];
	struct nflog_packet np;
	struct deny_record r;
	char line[NFLOG_JSON_MAX];
	size_t n;

	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(decode_manifest(world, strlen(world), "world", &sink), 4);
	engine_discard_changes(e);

	n = ip4(pkt, "10.244.1.10", "10.244.1.11", IPPROTO_TCP, 80);
	ck_assert_int_eq(nflog_parse_msg(msg(AF_INET, "np:i:y/b", pkt, n), &np), 0);
	ck_assert_int_eq(nflog_make_record(e, &np, &r), 0);
	ck_assert_str_eq(r.src, "x/a");
	ck_assert_str_eq(r.dst, "y/b");
	ck_assert_str_eq(r.policies, "y/deny-all");
	ck_assert(!r.audit && r.dir == DIR_INGRESS && r.port == 80);
	nflog_format_json(&r, line, sizeof(line));
	ck_assert_msg(strstr(line, "\"direction\":\"ingress\",\"action\":\"deny\",\"audit\":false,"
				   "\"src\":\"x/a\",\"dst\":\"y/b\",\"src_ip\":\"10.244.1.10\","
				   "\"dst_ip\":\"10.244.1.11\",\"protocol\":\"tcp\",\"port\":80,"
				   "\"policies\":[\"y/deny-all\"]}"),
		      "%s", line);
	ck_assert(strncmp(line, "{\"time\":\"", 9) == 0);

	/* audit: x/a is isolated for egress by the audit policy only */
	ck_assert(!engine_pod_isolated(e, engine_pod(e, "x", "a"), DIR_EGRESS));
	ck_assert(engine_pod_audit(e, engine_pod(e, "x", "a"), DIR_EGRESS));
	n = ip4(pkt, "10.244.1.10", "192.0.2.1", IPPROTO_UDP, 53);
	ck_assert_int_eq(nflog_parse_msg(msg(AF_INET, "np:ea:x/a", pkt, n), &np), 0);
	ck_assert_int_eq(nflog_make_record(e, &np, &r), 0);
	ck_assert(r.audit && r.dir == DIR_EGRESS);
	ck_assert_str_eq(r.dst, "192.0.2.1");
	ck_assert_str_eq(r.policies, "x/watch");
	nflog_format_json(&r, line, sizeof(line));
	ck_assert_msg(strstr(line, "\"action\":\"audit\",\"audit\":true,") &&
			      strstr(line, "\"dst_ip\":\"192.0.2.1\",\"protocol\":\"udp\","
					   "\"port\":53,\"policies\":[\"x/watch\"]}"),
		      "%s", line);

	/* hashed prefix: the pod is found by address and checked against the hash */
	char pf[PLAN_LOG_PREFIX_MAX];
	snprintf(pf, sizeof(pf), "np:i:#%016llx", (unsigned long long)plan_log_pod_hash("y", "b"));
	n = ip4(pkt, "10.244.1.10", "10.244.1.11", IPPROTO_TCP, 80);
	ck_assert_int_eq(nflog_parse_msg(msg(AF_INET, pf, pkt, n), &np), 0);
	ck_assert_int_eq(nflog_make_record(e, &np, &r), 0);
	ck_assert_str_eq(r.policies, "y/deny-all");
	snprintf(pf, sizeof(pf), "np:i:#%016llx", (unsigned long long)plan_log_pod_hash("y", "c"));
	ck_assert_int_eq(nflog_parse_msg(msg(AF_INET, pf, pkt, n), &np), 0);
	ck_assert_int_eq(nflog_make_record(e, &np, &r), 0);
	ck_assert_str_eq(r.policies, "");

	/* not ours */
	ck_assert_int_eq(nflog_parse_msg(msg(AF_INET, "other", pkt, n), &np), 0);
	ck_assert_int_eq(nflog_make_record(e, &np, &r), -EINVAL);
	engine_free(e);
}
END_TEST

START_TEST(test_json_escape)
{
	struct deny_record r = {.dir = DIR_EGRESS, .proto = 200, .port = 0};
	char line[256];

	snprintf(r.src, sizeof(r.src), "a\"b\\c\n");
	snprintf(r.dst, sizeof(r.dst), "d");
	snprintf(r.policies, sizeof(r.policies), "p/q,,r/s");
	nflog_format_json(&r, line, sizeof(line));
	ck_assert_msg(strstr(line, "\"src\":\"a\\\"b\\\\c\\u000a\"") &&
			      strstr(line, "\"protocol\":\"200\"") &&
			      strstr(line, "\"src_ip\":null,\"dst_ip\":null,") &&
			      strstr(line, "\"policies\":[\"p/q\",\"r/s\"]"),
		      "%s", line);
	/* bounded */
	ck_assert_uint_eq(nflog_format_json(&r, line, 10), 9);
	ck_assert_uint_eq(strlen(line), 9);
}
END_TEST

START_TEST(test_pod_latency)
{
	struct pod_latency pl;
	struct pod_obj p = {.ns = "x", .name = "a", .node_name = "n1", .n_ips = 1};
	double v[8];
	uint64_t cur = 0, lost;

	ck_assert_int_eq(pod_latency_init(&pl, "n1"), 0);
	/* pods of the first sync are not new */
	p.name = "old";
	pod_latency_hook(&pl, &p, false);
	pod_latency_committed(&pl, 500000);
	ck_assert_uint_eq(pl.count, 0);
	pod_latency_hook(&pl, &p, false);
	pod_latency_committed(&pl, 600000);
	ck_assert_uint_eq(pl.count, 0);
	p.name = "a";
	pod_latency_input(&pl, 1000000);
	pod_latency_hook(&pl, &p, false);
	pod_latency_hook(&pl, &p, false); /* once */
	pod_latency_committed(&pl, 1250000);
	ck_assert_uint_eq(pod_latency_read(&pl, &cur, v, 8, &lost), 1);
	ck_assert(v[0] > 0.2499 && v[0] < 0.2501);
	pod_latency_hook(&pl, &p, false); /* already programmed */
	pod_latency_committed(&pl, 2000000);
	ck_assert_uint_eq(pod_latency_read(&pl, &cur, v, 8, &lost), 0);
	pod_latency_hook(&pl, &p, true); /* gone; a new one is measured again */
	pod_latency_input(&pl, 3000000);
	pod_latency_hook(&pl, &p, false);
	p.node_name = "n2"; /* other nodes' pods are not measured */
	p.name = "b";
	pod_latency_hook(&pl, &p, false);
	pod_latency_committed(&pl, 3100000);
	ck_assert_uint_eq(pod_latency_read(&pl, &cur, v, 8, &lost), 1);
	ck_assert_uint_eq(pl.count, 2);
	/* a slow reader loses the oldest */
	for (int i = 0; i < POD_LATENCY_RING + 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%d", i);
		p.name = name;
		p.node_name = "n1";
		pod_latency_hook(&pl, &p, false);
		pod_latency_committed(&pl, 3200000);
	}
	ck_assert_uint_eq(pod_latency_read(&pl, &cur, v, 8, &lost), 8);
	ck_assert_uint_eq(lost, 5);
	pod_latency_clear(&pl);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("nflog");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_parse_valid);
	tcase_add_test(tc, test_malformed_attributes);
	tcase_add_test(tc, test_truncated_packets);
	tcase_add_test(tc, test_prefix);
	tcase_add_test(tc, test_record);
	tcase_add_test(tc, test_json_escape);
	tcase_add_test(tc, test_pod_latency);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
