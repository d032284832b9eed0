/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kubeconfig: every field, -data variants winning over files, relative
 * paths resolved against the file holding them, $KUBECONFIG lists merged
 * (first file to set a name wins), current-context and --context, errors
 * naming the file and the field, the in-cluster configuration, and the
 * ExecCredential answers of exec plugins.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "k8s_exec.h"
#include "kubeconfig.h"

static char dir[64];

#define PEM_CA "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
#define PEM_CERT "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n"
#define PEM_KEY "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n"
/* base64 of PEM_CA */
#define PEM_CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_kubeconfig.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *put(const char *name, const char *fmt, ...) _printf_(2, 3);
static const char *put(const char *name, const char *fmt, ...)
{
	static char paths[8][256];
	static int next;
	char *path = paths[next++ % 8];
	va_list ap;
	FILE *f;

	snprintf(path, 256, "%s/%s", dir, name);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static void expect_error(const char *paths, const char *context, int want_r, const char *needle)
{
	struct k8s_conn_config c;
	char *err = NULL;
	int r = kubeconfig_load(paths, context, &c, &err);

	ck_assert_msg(r == want_r, "r=%d want %d (%s)", r, want_r, err ? err : "");
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, needle), "\"%s\" lacks \"%s\"", err, needle);
	ck_assert_ptr_null(c.server);
	free(err);
}

START_TEST(all_fields_files)
{
	struct k8s_conn_config c;
	char *err = NULL;
	const char *kc;
	char want[256];

	snprintf(want, sizeof(want), "%s/pki", dir);
	ck_assert_int_eq(mkdir(want, 0700), 0);
	put("pki/ca.crt", PEM_CA);
	put("pki/client.crt", PEM_CERT);
	put("pki/client.key", PEM_KEY);
	put("tok", "  secret-token\n");
	kc = put("config",
		 "apiVersion: v1\nkind: Config\n"
		 "clusters:\n"
		 "- name: other\n  cluster: {server: https://other:1}\n"
		 "- name: c1\n"
		 "  cluster:\n"
		 "    server: https://10.0.0.1:6443/\n"
		 "    certificate-authority: pki/ca.crt\n"
		 "    tls-server-name: kubernetes.default\n"
		 "users:\n"
		 "- name: u1\n"
		 "  user:\n"
		 "    client-certificate: pki/client.crt\n"
		 "    client-key: %s/pki/client.key\n"
		 "    tokenFile: tok\n"
		 "contexts:\n"
		 "- name: ctx\n  context: {cluster: c1, user: u1, namespace: x}\n"
		 "current-context: ctx\n",
		 dir);
	ck_assert_int_eq(kubeconfig_load(kc, NULL, &c, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(c.server, "https://10.0.0.1:6443");
	snprintf(want, sizeof(want), "%s/pki/ca.crt", dir);
	ck_assert_str_eq(c.ca_file, want);
	ck_assert_str_eq(c.ca.data, PEM_CA);
	ck_assert_uint_eq(c.ca.len, strlen(PEM_CA));
	ck_assert_str_eq(c.tls_server_name, "kubernetes.default");
	ck_assert(!c.insecure);
	ck_assert_str_eq(c.cert.data, PEM_CERT);
	ck_assert_str_eq(c.key.data, PEM_KEY);
	snprintf(want, sizeof(want), "%s/pki/client.crt", dir);
	ck_assert_str_eq(c.cert_file, want);
	snprintf(want, sizeof(want), "%s/tok", dir);
	ck_assert_str_eq(c.token_file, want);
	ck_assert_ptr_null(c.token);
	ck_assert(!c.has_exec);
	ck_assert(strstr(c.origin, "context ctx"));
	k8s_conn_config_clear(&c);
}
END_TEST

START_TEST(data_variants_and_token)
{
	struct k8s_conn_config c;
	char *err = NULL;
	const char *kc;

	kc = put("config",
		 "clusters:\n- name: c\n  cluster:\n    server: https://h:443\n"
		 "    certificate-authority-data: " PEM_CA_B64 "\n"
		 "    certificate-authority: /does/not/matter\n"
		 "users:\n- name: u\n  user:\n    token: \" abc.def \"\n"
		 "    client-certificate-data: " PEM_CA_B64 "\n"
		 "    client-key-data: " PEM_CA_B64 "\n"
		 "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
		 "current-context: x\n");
	ck_assert_int_eq(kubeconfig_load(kc, NULL, &c, &err), 0);
	ck_assert_str_eq(c.ca.data, PEM_CA);
	ck_assert_ptr_null(c.ca_file); /* -data wins and names no file */
	ck_assert_str_eq(c.cert.data, PEM_CA);
	ck_assert_str_eq(c.key.data, PEM_CA);
	ck_assert_str_eq(c.token, "abc.def");
	k8s_conn_config_clear(&c);

	kc = put("insecure",
		 "clusters:\n- name: c\n  cluster: {server: 'https://h', insecure-skip-tls-verify: true}\n"
		 "users: []\ncontexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n");
	ck_assert_int_eq(kubeconfig_load(kc, NULL, &c, &err), 0);
	ck_assert(c.insecure);
	ck_assert_uint_eq(c.ca.len, 0);
	ck_assert_ptr_null(c.token);
	k8s_conn_config_clear(&c);
}
END_TEST

START_TEST(exec_plugin_config)
{
	struct k8s_conn_config c;
	char *err = NULL;
	const char *kc;
	char want[256];

	kc = put("config",
		 "clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
		 "users:\n- name: u\n  user:\n    exec:\n"
		 "      apiVersion: client.authentication.k8s.io/v1\n"
		 "      command: ./bin/cred\n"
		 "      args: [get, --x=1]\n"
		 "      env:\n      - {name: FOO, value: bar}\n"
		 "      provideClusterInfo: true\n"
		 "      interactiveMode: Never\n"
		 "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n");
	ck_assert_int_eq(kubeconfig_load(kc, NULL, &c, &err), 0);
	ck_assert(c.has_exec);
	snprintf(want, sizeof(want), "%s/./bin/cred", dir);
	ck_assert_str_eq(c.exec.command, want);
	ck_assert_uint_eq(c.exec.n_argv, 3);
	ck_assert_str_eq(c.exec.argv[1], "get");
	ck_assert_str_eq(c.exec.argv[2], "--x=1");
	ck_assert_ptr_null(c.exec.argv[3]);
	ck_assert_uint_eq(c.exec.n_env, 1);
	ck_assert_str_eq(c.exec.env[0], "FOO=bar");
	ck_assert(c.exec.provide_cluster_info);
	k8s_conn_config_clear(&c);
}
END_TEST

START_TEST(merge_list_and_context)
{
	struct k8s_conn_config c;
	char *err = NULL;
	char list[1024];
	const char *a, *b;

	a = put("a",
		"clusters:\n- name: c\n  cluster: {server: 'https://first'}\n"
		"users:\n- name: u\n  user: {token: first}\n"
		"contexts:\n- name: x\n  context: {cluster: c, user: u}\n");
	b = put("b",
		"clusters:\n- name: c\n  cluster: {server: 'https://second'}\n"
		"- name: d\n  cluster: {server: 'https://d'}\n"
		"users:\n- name: u\n  user: {token: second}\n"
		"contexts:\n- name: x\n  context: {cluster: d, user: u}\n"
		"- name: y\n  context: {cluster: d, user: u}\n"
		"current-context: x\n");
	/* a missing file in a list is skipped; a sets c, u and x first; b the current-context */
	snprintf(list, sizeof(list), "%s/missing:%s::%s", dir, a, b);
	ck_assert_int_eq(kubeconfig_load(list, NULL, &c, &err), 0);
	ck_assert_str_eq(c.server, "https://first");
	ck_assert_str_eq(c.token, "first");
	k8s_conn_config_clear(&c);
	/* --context picks y, whose cluster d only b defines */
	ck_assert_int_eq(kubeconfig_load(list, "y", &c, &err), 0);
	ck_assert_str_eq(c.server, "https://d");
	ck_assert_str_eq(c.token, "first");
	k8s_conn_config_clear(&c);
	/* the other order */
	snprintf(list, sizeof(list), "%s:%s", b, a);
	ck_assert_int_eq(kubeconfig_load(list, NULL, &c, &err), 0);
	ck_assert_str_eq(c.server, "https://d");
	ck_assert_str_eq(c.token, "second");
	k8s_conn_config_clear(&c);
	expect_error(list, "nope", -ENOENT, "context \"nope\" (--context) not found");
	/* a single file that does not exist is an error */
	snprintf(list, sizeof(list), "%s/missing", dir);
	expect_error(list, NULL, -ENOENT, "missing: file not found");
	snprintf(list, sizeof(list), "%s/missing:%s/missing2", dir, dir);
	expect_error(list, NULL, -ENOENT, "none of");
}
END_TEST

START_TEST(bad_files)
{
	static const struct {
		const char *text;
		const char *needle;
	} cases[] = {
		{"clusters: [\n", "kubeconfig "},
		{"- a\n- b\n", "not a map"},
		{"clusters: {}\n", "clusters: expected a list"},
		{"clusters:\n- cluster: {server: 'https://h'}\n", "clusters[0].name: missing"},
		{"clusters:\n- name: c\n  cluster: {server: 'https://h'}\ncontexts:\n- name: x\n  "
		 "context: {cluster: c}\n",
		 "current-context: not set"},
		{"current-context: x\n", "context \"x\" not found"},
		{"clusters:\n- name: c\n  cluster: {}\ncontexts:\n- name: x\n  context: {cluster: "
		 "c}\ncurrent-context: x\n",
		 "clusters[0].cluster.server: missing"},
		{"clusters:\n- name: c\n  cluster: {server: 'ftp://h'}\ncontexts:\n- name: x\n  "
		 "context: {cluster: c}\ncurrent-context: x\n",
		 "clusters[0].cluster.server: \"ftp://h\" is not an http(s) URL"},
		{"clusters:\n- name: c\n  cluster: {server: 'https://h'}\ncontexts:\n- name: x\n  "
		 "context: {cluster: nope}\ncurrent-context: x\n",
		 "contexts[0].context.cluster: cluster \"nope\" not found"},
		{"clusters:\n- name: c\n  cluster: {server: 'https://h'}\ncontexts:\n- name: x\n  "
		 "context: {cluster: c, user: nope}\ncurrent-context: x\n",
		 "contexts[0].context.user: user \"nope\" not found"},
		{"clusters:\n- name: c\n  cluster: {server: 'https://h', certificate-authority: "
		 "ca.pem}\ncontexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
		 "clusters[0].cluster.certificate-authority: file not found"},
		{"clusters:\n- name: c\n  cluster: {server: 'https://h', "
		 "certificate-authority-data: '!!'}\ncontexts:\n- name: x\n  context: {cluster: "
		 "c}\ncurrent-context: x\n",
		 "clusters[0].cluster.certificate-authority-data: invalid base64"},
		{"clusters:\n- name: c\n  cluster: {server: 'https://h', insecure-skip-tls-verify: "
		 "maybe}\ncontexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
		 "insecure-skip-tls-verify: expected true or false"},
		{"clusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n- name: u\n  user: "
		 "{client-certificate-data: " PEM_CA_B64 ", client-key: /x/key}\ncontexts:\n- name: "
		 "x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
		 "users[0].user.client-key: file not found"},
		{"clusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n- name: u\n  user: "
		 "{client-certificate-data: " PEM_CA_B64 "}\ncontexts:\n- name: x\n  context: "
		 "{cluster: c, user: u}\ncurrent-context: x\n",
		 "users[0].user.client-key: missing"},
		{"clusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n- name: u0\n  "
		 "user: {}\n- name: u\n  user: {tokenFile: nope}\ncontexts:\n- name: x\n  context: "
		 "{cluster: c, user: u}\ncurrent-context: x\n",
		 "users[1].user.tokenFile: file not found"},
		{"clusters:\n- name: c\n  cluster: {server: 'http://h'}\nusers:\n- name: u\n  user: "
		 "{token: t}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
		 "current-context: x\n",
		 "a bearer token is only ever sent over https"},
		{"clusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n- name: u\n  user: "
		 "{exec: {command: x}}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
		 "current-context: x\n",
		 "users[0].user.exec.apiVersion"},
		{"clusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n- name: u\n  user: "
		 "{username: a, password: b}\ncontexts:\n- name: x\n  context: {cluster: c, user: "
		 "u}\ncurrent-context: x\n",
		 "users[0].user.username: basic authentication is not supported"},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct k8s_conn_config c;
		char *err = NULL;
		const char *kc = put("bad", "%s", cases[i].text);
		char needle[512];
		int r = kubeconfig_load(kc, NULL, &c, &err);

		ck_assert_msg(r < 0, "case %zu accepted", i);
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strstr(err, cases[i].needle), "case %zu: \"%s\" lacks \"%s\"", i,
			      err, cases[i].needle);
		snprintf(needle, sizeof(needle), "kubeconfig %s", kc);
		ck_assert_msg(strstr(err, needle), "case %zu: \"%s\" lacks the file name", i, err);
		free(err);
	}
}
END_TEST

START_TEST(in_cluster)
{
	struct k8s_conn_config c;
	char *err = NULL;

	ck_assert_int_eq(kubeconfig_in_cluster(dir, &c, &err), -ENOENT);
	free(err);
	put("ca.crt", PEM_CA);
	put("token", "sa-token\n");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ck_assert_int_eq(kubeconfig_in_cluster(dir, &c, &err), 0);
	ck_assert_str_eq(c.server, "https://10.96.0.1:443");
	ck_assert_str_eq(c.ca.data, PEM_CA);
	ck_assert(strstr(c.token_file, "/token"));
	k8s_conn_config_clear(&c);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	ck_assert_int_eq(kubeconfig_in_cluster(dir, &c, &err), 0);
	ck_assert_str_eq(c.server, "https://[fd00::1]:443");
	k8s_conn_config_clear(&c);
	setenv("KUBERNETES_SERVICE_PORT", "99999", 1);
	ck_assert_int_eq(kubeconfig_in_cluster(dir, &c, &err), -EINVAL);
	free(err);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	unlink(put("token", "x"));
	ck_assert_int_eq(kubeconfig_in_cluster(dir, &c, &err), -ENOENT);
	ck_assert(strstr(err, "/token"));
	free(err);
}
END_TEST

START_TEST(helpers)
{
	struct k8s_blob b;

	ck_assert_int_eq(k8s_base64_decode("aGVs\nbG8=", 9, &b), 0);
	ck_assert_str_eq(b.data, "hello");
	k8s_blob_clear(&b);
	ck_assert_int_eq(k8s_base64_decode("aGVsbG8", 7, &b), 0); /* unpadded */
	ck_assert_str_eq(b.data, "hello");
	k8s_blob_clear(&b);
	ck_assert_int_eq(k8s_base64_decode("aG=Vs", 5, &b), -EINVAL);
	ck_assert_int_eq(k8s_base64_decode("a", 1, &b), -EINVAL);
	b.data = strdup(" \tabc \n");
	b.len = strlen(b.data);
	ck_assert_int_eq(k8s_token_normalize(&b), 0);
	ck_assert_str_eq(b.data, "abc");
	k8s_blob_clear(&b);
	b.data = strdup("a b");
	b.len = 3;
	ck_assert_int_eq(k8s_token_normalize(&b), -EINVAL);
	k8s_blob_clear(&b);
	ck_assert_int_eq(k8s_read_file(dir, 10, &b), -EINVAL);
	ck_assert_int_eq(k8s_read_file(put("big", "0123456789ab"), 10, &b), -EFBIG);
}
END_TEST

START_TEST(exec_credential)
{
	static const char v1[] = "client.authentication.k8s.io/v1";
	struct k8s_exec_credential cr;
	char *err = NULL;
	const char *ok = "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
			 "\"ExecCredential\",\"status\":{\"token\":\"tok\","
			 "\"expirationTimestamp\":\"2030-01-02T03:04:05Z\"}}";
	const char *cert = "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
			   "\"ExecCredential\",\"status\":{\"clientCertificateData\":\"C\","
			   "\"clientKeyData\":\"K\"}}";

	ck_assert_int_eq(k8s_exec_parse(ok, strlen(ok), v1, &cr, &err), 0);
	ck_assert_str_eq(cr.token, "tok");
	ck_assert_int_eq(cr.expiry, 1893553445);
	k8s_exec_credential_clear(&cr);
	ck_assert_int_eq(k8s_exec_parse(cert, strlen(cert), v1, &cr, &err), 0);
	ck_assert_ptr_null(cr.token);
	ck_assert_str_eq(cr.cert.data, "C");
	ck_assert_str_eq(cr.key.data, "K");
	ck_assert_int_eq(cr.expiry, 0);
	k8s_exec_credential_clear(&cr);
	ck_assert_int_eq(k8s_exec_parse(ok, strlen(ok), "client.authentication.k8s.io/v1beta1",
					&cr, &err),
			 -EINVAL);
	ck_assert(strstr(err, "apiVersion"));
	free(err);
	ck_assert_int_eq(k8s_exec_parse("{}", 2, v1, &cr, &err), -EINVAL);
	free(err);
	ck_assert_int_eq(k8s_exec_parse("nope", 4, v1, &cr, &err), -EINVAL);
	ck_assert(strstr(err, "invalid JSON"));
	free(err);
}
END_TEST

static Suite *kubeconfig_suite(void)
{
	Suite *s = suite_create("kubeconfig");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, all_fields_files);
	tcase_add_test(tc, data_variants_and_token);
	tcase_add_test(tc, exec_plugin_config);
	tcase_add_test(tc, merge_list_and_context);
	tcase_add_test(tc, bad_files);
	tcase_add_test(tc, in_cluster);
	tcase_add_test(tc, helpers);
	tcase_add_test(tc, exec_credential);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(kubeconfig_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
