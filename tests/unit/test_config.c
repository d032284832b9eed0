/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config: defaults, NODE_NAME, every option and its checks, the key=value
 * file (comments, spaces, file:line errors), the command line overriding the
 * file, and parsing twice in one process (as SIGHUP does).
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>

#include "config.h"
#include "log.h"

static char tmpdir[64];

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	unsetenv("NODE_NAME");
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *write_conf(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* Parse a NULL-terminated argument list (argv[0] added). */
static int load(struct config *cfg, char **ret_err, const char *default_file, ...)
{
	char *argv[32] = {"netpold"};
	int argc = 1;
	va_list ap;
	const char *a;

	va_start(ap, default_file);
	while ((a = va_arg(ap, const char *)) && argc < 31)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return config_load(cfg, argc, argv, default_file, ret_err);
}

START_TEST(defaults)
{
	struct config c;
	char *err = NULL;

	ck_assert_int_eq(load(&c, &err, NULL, "--manifests", "/m", "--node-name", "node-1", NULL), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(c.action, CONFIG_RUN);
	ck_assert_str_eq(c.manifests, "/m");
	ck_assert_str_eq(c.node_name, "node-1");
	ck_assert_str_eq(c.table, "netpold");
	ck_assert_int_eq(c.deny_action, DENY_DROP);
	ck_assert_str_eq(c.status_socket, CONFIG_DEFAULT_STATUS_SOCKET);
	ck_assert_ptr_null(c.socket_group);
	ck_assert_int_eq(c.log_level, LOG_INFO);
	ck_assert_ptr_null(c.config_file);
	config_clear(&c);
}
END_TEST

START_TEST(all_options)
{
	struct config c;
	char *err = NULL;

	ck_assert_int_eq(load(&c, &err, NULL, "-m", "/srv/m", "-n", "worker-2.example",
			      "--table", "np_test-1", "--deny-action", "reject", "--status-socket",
			      "/tmp/x.sock", "--socket-group=adm", "--log-level", "debug", NULL),
			 0);
	ck_assert_str_eq(c.manifests, "/srv/m");
	ck_assert_str_eq(c.node_name, "worker-2.example");
	ck_assert_str_eq(c.table, "np_test-1");
	ck_assert_int_eq(c.deny_action, DENY_REJECT);
	ck_assert_str_eq(c.status_socket, "/tmp/x.sock");
	ck_assert_str_eq(c.socket_group, "adm");
	ck_assert_int_eq(c.log_level, LOG_DEBUG);
	config_clear(&c);
}
END_TEST

START_TEST(node_name_from_env)
{
	struct config c;
	char *err = NULL;

	setenv("NODE_NAME", "env-node", 1);
	ck_assert_int_eq(load(&c, &err, NULL, "--manifests", "/m", NULL), 0);
	ck_assert_str_eq(c.node_name, "env-node");
	config_clear(&c);
	/* the option wins over the environment */
	ck_assert_int_eq(load(&c, &err, NULL, "--manifests", "/m", "--node-name", "cli", NULL), 0);
	ck_assert_str_eq(c.node_name, "cli");
	config_clear(&c);
	setenv("NODE_NAME", "Bad_Name", 1);
	ck_assert_int_eq(load(&c, &err, NULL, "--manifests", "/m", NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "NODE_NAME"));
	free(err);
	unsetenv("NODE_NAME");
}
END_TEST

struct bad_case {
	const char *args[4];
	const char *needle; /* must appear in the message */
};

START_TEST(bad_command_lines)
{
	static const struct bad_case cases[] = {
		{{"--node-name", "n", NULL}, "--manifests is required"},
		{{"--manifests", "/m", NULL}, "--node-name or NODE_NAME"},
		{{"--bogus", NULL}, "unknown option --bogus"},
		{{"-z", NULL}, "unknown option -z"},
		{{"--table", NULL}, "needs a value"},
		{{"--table", "bad name", NULL}, "--table: invalid table name"},
		{{"--table", "", NULL}, "--table"},
		{{"--deny-action", "accept", NULL}, "neither drop nor reject"},
		{{"--log-level", "loud", NULL}, "unknown log level"},
		{{"--status-socket", "relative.sock", NULL}, "absolute path"},
		{{"--node-name", "UPPER", NULL}, "invalid node name"},
		{{"--socket-group", "a b", NULL}, "invalid group"},
		{{"--manifests", "/m", "stray", NULL}, "unexpected argument \"stray\""},
		{{"--help=yes", NULL}, "--help"},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct config c;
		char *err = NULL;
		int r;

		r = load(&c, &err, NULL, cases[i].args[0], cases[i].args[1], cases[i].args[2],
			 cases[i].args[3]);
		ck_assert_msg(r == -EINVAL, "case %zu: r=%d", i, r);
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strstr(err, cases[i].needle), "case %zu: \"%s\" lacks \"%s\"", i, err,
			      cases[i].needle);
		ck_assert_ptr_null(c.table); /* cleared on failure */
		free(err);
	}
}
END_TEST

START_TEST(actions)
{
	struct config c;
	char *err = NULL;

	/* none of these needs --manifests or --node-name */
	ck_assert_int_eq(load(&c, &err, NULL, "--help", NULL), 0);
	ck_assert_int_eq(c.action, CONFIG_HELP);
	config_clear(&c);
	ck_assert_int_eq(load(&c, &err, NULL, "-V", NULL), 0);
	ck_assert_int_eq(c.action, CONFIG_VERSION);
	config_clear(&c);
	ck_assert_int_eq(load(&c, &err, NULL, "--version", "--help", NULL), 0);
	ck_assert_int_eq(c.action, CONFIG_HELP);
	config_clear(&c);
	ck_assert_int_eq(load(&c, &err, NULL, "--cleanup", "--table", "t2", NULL), 0);
	ck_assert_int_eq(c.action, CONFIG_CLEANUP);
	ck_assert_str_eq(c.table, "t2");
	config_clear(&c);
	ck_assert_ptr_nonnull(strstr(config_usage(), "--deny-action"));
}
END_TEST

START_TEST(file_and_overrides)
{
	struct config c;
	char *err = NULL;
	const char *path;

	path = write_conf("a.conf", "# netpold\n"
				    "\n"
				    "  manifests = /etc/netpold/manifests  \n"
				    "node-name=file-node\n"
				    "table\t=\tfiletable\n"
				    "deny-action = reject\r\n"
				    "socket-group = 0\n"
				    "log-level = warning\n");
	ck_assert_int_eq(load(&c, &err, NULL, "--config", path, NULL), 0);
	ck_assert_str_eq(c.config_file, path);
	ck_assert_str_eq(c.manifests, "/etc/netpold/manifests");
	ck_assert_str_eq(c.node_name, "file-node");
	ck_assert_str_eq(c.table, "filetable");
	ck_assert_int_eq(c.deny_action, DENY_REJECT);
	ck_assert_str_eq(c.socket_group, "0");
	ck_assert_int_eq(c.log_level, LOG_WARNING);
	config_clear(&c);

	/* the command line wins, wherever it stands relative to --config */
	ck_assert_int_eq(load(&c, &err, NULL, "--table", "clitable", "-c", path, "--deny-action",
			      "drop", NULL),
			 0);
	ck_assert_str_eq(c.table, "clitable");
	ck_assert_int_eq(c.deny_action, DENY_DROP);
	ck_assert_str_eq(c.node_name, "file-node");
	config_clear(&c);

	/* NODE_NAME < file < command line */
	setenv("NODE_NAME", "env-node", 1);
	ck_assert_int_eq(load(&c, &err, NULL, "-c", path, NULL), 0);
	ck_assert_str_eq(c.node_name, "file-node");
	config_clear(&c);
	unsetenv("NODE_NAME");
}
END_TEST

START_TEST(default_file)
{
	struct config c;
	char *err = NULL;
	char missing[128];
	const char *path;

	/* an absent default file is fine */
	snprintf(missing, sizeof(missing), "%s/none.conf", tmpdir);
	ck_assert_int_eq(load(&c, &err, missing, "-m", "/m", "-n", "n", NULL), 0);
	ck_assert_ptr_null(c.config_file);
	config_clear(&c);
	/* a present one is read */
	path = write_conf("default.conf", "table = fromdefault\n");
	ck_assert_int_eq(load(&c, &err, path, "-m", "/m", "-n", "n", NULL), 0);
	ck_assert_str_eq(c.table, "fromdefault");
	ck_assert_str_eq(c.config_file, path);
	config_clear(&c);
	/* an explicitly named missing file is an error */
	ck_assert_int_eq(load(&c, &err, NULL, "-m", "/m", "-n", "n", "--config", missing, NULL),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "none.conf"));
	free(err);
}
END_TEST

START_TEST(bad_files)
{
	static const struct {
		const char *text;
		const char *needle;
	} cases[] = {
		{"table = ok\nbogus = 1\n", ":2: unknown key \"bogus\""},
		{"\n\n# c\njust words\n", ":4: expected key = value"},
		{"cleanup = yes\n", ":1: \"cleanup\" is a command-line option only"},
		{"config = /x\n", "command-line option only"},
		{"table =\n", ":1: empty value for \"table\""},
		{"deny-action = maybe\n", ":1: \"maybe\" is neither drop nor reject"},
		{"table = a b\n", ":1: invalid table name"},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct config c;
		char *err = NULL;
		const char *path = write_conf("bad.conf", cases[i].text);
		int r = load(&c, &err, NULL, "-m", "/m", "-n", "n", "-c", path, NULL);

		ck_assert_msg(r == -EINVAL, "case %zu: r=%d", i, r);
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strstr(err, cases[i].needle), "case %zu: \"%s\" lacks \"%s\"", i, err,
			      cases[i].needle);
		ck_assert_msg(strstr(err, "bad.conf"), "case %zu: no file name in \"%s\"", i, err);
		free(err);
	}
}
END_TEST

START_TEST(limits)
{
	struct config c;
	char *err = NULL;
	char *big, name[300];
	const char *path;

	/* files beyond the size limit and lines beyond the line limit are refused */
	big = malloc(CONFIG_MAX_FILE_BYTES + 2);
	ck_assert_ptr_nonnull(big);
	memset(big, '#', CONFIG_MAX_FILE_BYTES + 1);
	big[CONFIG_MAX_FILE_BYTES + 1] = '\0';
	path = write_conf("big.conf", big);
	ck_assert_int_eq(load(&c, &err, NULL, "-c", path, "-m", "/m", "-n", "n", NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "larger than"));
	free(err);
	big[CONFIG_MAX_LINE + 10] = '\0';
	path = write_conf("long.conf", big);
	ck_assert_int_eq(load(&c, &err, NULL, "-c", path, "-m", "/m", "-n", "n", NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "line longer"));
	free(err);
	free(big);
	/* a directory is not a configuration file */
	ck_assert_int_eq(load(&c, &err, NULL, "-c", tmpdir, "-m", "/m", "-n", "n", NULL), -EINVAL);
	free(err);
	/* node names: 253 characters at most */
	memset(name, 'a', 254);
	name[254] = '\0';
	ck_assert_int_eq(load(&c, &err, NULL, "-m", "/m", "-n", name, NULL), -EINVAL);
	free(err);
	name[253] = '\0';
	ck_assert_int_eq(load(&c, &err, NULL, "-m", "/m", "-n", name, NULL), 0);
	config_clear(&c);
}
END_TEST

START_TEST(parse_twice)
{
	struct config c;
	char *err = NULL;
	char *argv[] = {"netpold", "--manifests", "/m", "-n", "x", "--table", "t", NULL};

	/* SIGHUP parses the same argv again: getopt's state must not leak between runs */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(config_load(&c, 7, argv, NULL, &err), 0);
		ck_assert_str_eq(c.table, "t");
		ck_assert_str_eq(c.manifests, "/m");
		ck_assert_str_eq(argv[1], "--manifests"); /* argv is not permuted */
		config_clear(&c);
	}
	config_clear(&c); /* clearing twice is safe */
	ck_assert_str_eq(deny_action_name(DENY_REJECT), "reject");
	ck_assert_str_eq(deny_action_name(DENY_DROP), "drop");
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, all_options);
	tcase_add_test(tc, node_name_from_env);
	tcase_add_test(tc, bad_command_lines);
	tcase_add_test(tc, actions);
	tcase_add_test(tc, file_and_overrides);
	tcase_add_test(tc, default_file);
	tcase_add_test(tc, bad_files);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, parse_twice);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
