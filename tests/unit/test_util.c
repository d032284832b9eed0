/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of the shared helpers (util.c) and the model's small accessors and
 * name-syntax predicates (model.c): parsing is strict, prefixes canonical.
 */
#include <arpa/inet.h>
#include <check.h>
#include <limits.h>
#include <stdio.h>

#include "model.h"

static const char *fmt_cidr(const char *s, char *buf, size_t len)
{
	struct cidr c;

	if (cidr_parse(s, &c) < 0)
		return "ERR";
	return cidr_fmt(&c, buf, len);
}

START_TEST(test_cidr_parse)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"10.1.2.3/4", "0.0.0.0/4"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"10.1.2.3/32", "10.1.2.3/32"},
		{"10.1.2.255/31", "10.1.2.254/31"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"255.255.255.255/0", "0.0.0.0/0"},
		{"192.168.1.129/25", "192.168.1.128/25"},
		{"2001:db8::1/32", "2001:db8::/32"},
		{"2001:db8:ffff::1/33", "2001:db8:8000::/33"},
		{"::/0", "::/0"},
		{"fd00::1/128", "fd00::1/128"},
		{"::ffff:10.1.2.3/120", "::ffff:10.1.2.0/120"},
		{"10.0.0.0/08", "10.0.0.0/8"},
		/* invalid forms */
		{"10.0.0.0", "ERR"},
		{"10.0.0/8", "ERR"},
		{"10.0.0.0/33", "ERR"},
		{"10.0.0.0/-0", "ERR"},
		{"10.0.0.0/+8", "ERR"},
		{"10.0.0.0/ 8", "ERR"},
		{"10.0.0.0/8 ", "ERR"},
		{"10.0.0.0/", "ERR"},
		{"/8", "ERR"},
		{"10.0.0.0/0008", "ERR"},
		{"::/129", "ERR"},
		{"fd00::1%eth0/64", "ERR"},
		{"1.2.3.4.5/8", "ERR"},
		{"010.0.0.0/8", "ERR"},
		{"", "ERR"},
		{"10.0.0.0/8/8", "ERR"},
		{"abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefab::/8", "ERR"},
	};
	char buf[64];
	struct cidr c;

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		ck_assert_msg(strcmp(fmt_cidr(cases[i].in, buf, sizeof(buf)), cases[i].out) == 0,
			      "%s -> %s, want %s", cases[i].in, buf, cases[i].out);
	ck_assert_int_eq(cidr_parse(NULL, &c), -EINVAL);
	ck_assert_int_eq(cidr_parse("2001:db8::1/64", &c), 0);
	ck_assert_int_eq(c.addr.family, AF_INET6);
	ck_assert_int_eq(c.plen, 64);
}
END_TEST

START_TEST(test_cidr_contains)
{
	struct cidr a, b, v6;
	struct ip_addr ip;

	ck_assert_int_eq(cidr_parse("10.0.0.0/8", &a), 0);
	ck_assert_int_eq(cidr_parse("10.1.0.0/16", &b), 0);
	ck_assert_int_eq(cidr_parse("fd00::/8", &v6), 0);
	ck_assert(cidr_covers(&a, &b));
	ck_assert(!cidr_covers(&b, &a));
	ck_assert(cidr_covers(&a, &a));
	ck_assert(!cidr_covers(&a, &v6));
	ck_assert_int_eq(ip_addr_parse("10.255.1.1", &ip), 0);
	ck_assert(cidr_contains(&a, &ip));
	ck_assert(!cidr_contains(&b, &ip));
	ck_assert(!cidr_contains(&v6, &ip));
	ck_assert_int_eq(ip_addr_parse("fdff::1", &ip), 0);
	ck_assert(cidr_contains(&v6, &ip));
	ck_assert_int_eq(cidr_parse("0.0.0.0/0", &a), 0);
	ck_assert_int_eq(ip_addr_parse("255.255.255.255", &ip), 0);
	ck_assert(cidr_contains(&a, &ip));
}
END_TEST

START_TEST(test_ip_addr)
{
	struct ip_addr a, b;
	char buf[INET6_ADDRSTRLEN];

	ck_assert_int_eq(ip_addr_parse("10.0.0.1", &a), 0);
	ck_assert_int_eq(a.family, AF_INET);
	ck_assert_str_eq(ip_addr_fmt(&a, buf, sizeof(buf)), "10.0.0.1");
	ck_assert_int_eq(ip_addr_parse("FD00:0::0:1", &b), 0);
	ck_assert_str_eq(ip_addr_fmt(&b, buf, sizeof(buf)), "fd00::1");
	ck_assert(!ip_addr_equal(&a, &b));
	ck_assert_int_eq(ip_addr_parse("10.0.0.256", &a), -EINVAL);
	ck_assert_int_eq(ip_addr_parse(" 10.0.0.1", &a), -EINVAL);
	ck_assert_int_eq(ip_addr_parse("10.0.0", &a), -EINVAL);
	ck_assert_int_eq(ip_addr_parse(":::", &a), -EINVAL);
	ck_assert_int_eq(ip_addr_parse(NULL, &a), -EINVAL);
	a = (struct ip_addr){0};
	ck_assert_str_eq(ip_addr_fmt(&a, buf, sizeof(buf)), "?");
}
END_TEST

START_TEST(test_parse_int64)
{
	int64_t v = 42;

	ck_assert_int_eq(parse_int64("0", 0, 10, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(parse_int64("-5", -10, 10, &v), 0);
	ck_assert_int_eq(v, -5);
	ck_assert_int_eq(parse_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
	ck_assert(v == INT64_MAX);
	ck_assert_int_eq(parse_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	ck_assert(v == INT64_MIN);
	ck_assert_int_eq(parse_int64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -ERANGE);
	ck_assert_int_eq(parse_int64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -ERANGE);
	ck_assert_int_eq(parse_int64("99999999999999999999999", 0, 10, &v), -ERANGE);
	ck_assert_int_eq(parse_int64("11", 0, 10, &v), -ERANGE);
	ck_assert_int_eq(parse_int64("-1", 0, 10, &v), -ERANGE);
	ck_assert_int_eq(parse_int64("65535", 1, 65535, &v), 0);
	ck_assert_int_eq(parse_int64("65536", 1, 65535, &v), -ERANGE);
	v = 7;
	ck_assert_int_eq(parse_int64("", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(parse_int64(NULL, 0, 10, &v), -EINVAL);
	ck_assert_int_eq(parse_int64("-", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(parse_int64("+1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(parse_int64(" 1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(parse_int64("1 ", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(parse_int64("0x10", 0, 100, &v), -EINVAL);
	ck_assert_int_eq(parse_int64("1e3", 0, 10000, &v), -EINVAL);
	ck_assert_int_eq(parse_int64("1.0", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(v, 7);
}
END_TEST

START_TEST(test_labels)
{
	struct labels l = {0}, m = {0};

	ck_assert_int_eq(labels_set(&l, "b", "2"), 0);
	ck_assert_int_eq(labels_set(&l, "a", "1"), 0);
	ck_assert_int_eq(labels_set(&l, "c", "3"), 0);
	ck_assert_int_eq(labels_set(&l, "b", "two"), 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_str_eq(l.v[0].key, "a");
	ck_assert_str_eq(l.v[1].key, "b");
	ck_assert_str_eq(l.v[2].key, "c");
	ck_assert_str_eq(labels_get(&l, "b"), "two");
	ck_assert_ptr_null(labels_get(&l, "d"));
	ck_assert_ptr_null(labels_get(&m, "a"));
	ck_assert(!labels_equal(&l, &m));
	ck_assert_int_eq(labels_set(&m, "c", "3"), 0);
	ck_assert_int_eq(labels_set(&m, "b", "two"), 0);
	ck_assert_int_eq(labels_set(&m, "a", "1"), 0);
	ck_assert(labels_equal(&l, &m));
	labels_clear(&l);
	labels_clear(&m);
	ck_assert_uint_eq(l.n, 0);
	ck_assert(labels_equal(&l, &m));
}
END_TEST

START_TEST(test_name_syntax)
{
	char long_name[80];

	ck_assert(labels_key_valid("app"));
	ck_assert(labels_key_valid("app.kubernetes.io/name"));
	ck_assert(labels_key_valid("kubernetes.io/metadata.name"));
	ck_assert(labels_key_valid("A_b-c.D"));
	ck_assert(!labels_key_valid(""));
	ck_assert(!labels_key_valid("/name"));
	ck_assert(!labels_key_valid("Example.com/name"));
	ck_assert(!labels_key_valid("example.com/"));
	ck_assert(!labels_key_valid("a/b/c"));
	ck_assert(!labels_key_valid("-app"));
	ck_assert(!labels_key_valid("app_"));
	ck_assert(!labels_key_valid("bad key"));
	memset(long_name, 'a', 64);
	long_name[64] = 0;
	ck_assert(!labels_key_valid(long_name));
	ck_assert(!labels_value_valid(long_name));
	long_name[63] = 0;
	ck_assert(labels_key_valid(long_name));
	ck_assert(labels_value_valid(long_name));
	ck_assert(labels_value_valid(""));
	ck_assert(labels_value_valid("v1.2_3-x"));
	ck_assert(!labels_value_valid("a b"));
	ck_assert(!labels_value_valid("-a"));
	ck_assert(!labels_value_valid("a/b"));

	ck_assert(port_name_valid("http"));
	ck_assert(port_name_valid("h2c"));
	ck_assert(port_name_valid("web-2"));
	ck_assert(port_name_valid("abcdefghijklmno"));
	ck_assert(!port_name_valid("abcdefghijklmnop"));
	ck_assert(!port_name_valid("123"));
	ck_assert(!port_name_valid("-http"));
	ck_assert(!port_name_valid("http-"));
	ck_assert(!port_name_valid("my--port"));
	ck_assert(!port_name_valid("Http"));
	ck_assert(!port_name_valid("my_port"));
	ck_assert(!port_name_valid(""));

	ck_assert(dns_label_valid("kube-system"));
	ck_assert(!dns_label_valid("kube.system"));
	ck_assert(!dns_label_valid("Kube"));
	ck_assert(!dns_label_valid("-a"));
	ck_assert(dns_subdomain_valid("web-7d9c8b6f5d-x2k9p"));
	ck_assert(dns_subdomain_valid("a.b.c"));
	ck_assert(!dns_subdomain_valid("a..b"));
	ck_assert(!dns_subdomain_valid(".a"));
	ck_assert(!dns_subdomain_valid("a_b"));
	ck_assert(!dns_subdomain_valid(""));
	ck_assert(!dns_subdomain_valid(NULL));
}
END_TEST

START_TEST(test_model_misc)
{
	enum proto p;
	struct pod_obj pod = {0};

	ck_assert_int_eq(proto_parse("TCP", &p), 0);
	ck_assert_int_eq(p, PROTO_TCP);
	ck_assert_int_eq(proto_parse("SCTP", &p), 0);
	ck_assert_int_eq(p, PROTO_SCTP);
	ck_assert_int_eq(proto_parse("tcp", &p), -EINVAL);
	ck_assert_int_eq(proto_parse(NULL, &p), -EINVAL);
	ck_assert_str_eq(proto_name(PROTO_UDP), "UDP");
	ck_assert_str_eq(obj_kind_name(OBJ_NETWORK_POLICY), "NetworkPolicy");

	ck_assert(!pod_is_peer(&pod));
	ck_assert_int_eq(ip_addr_parse("fd00::1", &pod.ips[0]), 0);
	pod.n_ips = 1;
	pod.phase = POD_PHASE_RUNNING;
	ck_assert(pod_is_peer(&pod));
	ck_assert_ptr_null(pod_ip(&pod, AF_INET));
	ck_assert_ptr_eq(pod_ip(&pod, AF_INET6), &pod.ips[0]);
	pod.phase = POD_PHASE_SUCCEEDED;
	ck_assert(!pod_is_peer(&pod));
	ck_assert(pod_is_target(&pod));
	pod.host_network = true;
	ck_assert(!pod_is_target(&pod));

	/* destructors accept NULL */
	namespace_obj_free(NULL);
	pod_obj_free(NULL);
	netpol_free(NULL);
	service_obj_free(NULL);
}
END_TEST

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");

	tcase_add_test(tc, test_cidr_parse);
	tcase_add_test(tc, test_cidr_contains);
	tcase_add_test(tc, test_ip_addr);
	tcase_add_test(tc, test_parse_int64);
	tcase_add_test(tc, test_labels);
	tcase_add_test(tc, test_name_syntax);
	tcase_add_test(tc, test_model_misc);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(util_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
