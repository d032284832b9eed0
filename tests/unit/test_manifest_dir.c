/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * manifest_dir: a temporary folder is edited between syncs (files added,
 * changed, removed, broken) and the engine must hold exactly the objects the
 * folder defines, with a broken edit keeping the last valid version.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "manifest_dir.h"

static char tmpdir[256];
static struct engine *eng;
static struct manifest_dir *md;
static unsigned n_diags;
static char last_diag[1024];

static void on_diag(void *ud, const struct decode_diag *d)
{
	n_diags++;
	snprintf(last_diag, sizeof(last_diag), "%s:%u %s %s/%s: %s", d->source, d->line,
		 d->kind ? d->kind : "-", d->ns ? d->ns : "-", d->name ? d->name : "-",
		 d->message ? d->message : "");
}

static void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static void remove_file(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_int_eq(unlink(path), 0);
}

static int sync_dir(void)
{
	n_diags = 0;
	last_diag[0] = '\0';
	return manifest_dir_sync(md, eng, on_diag, NULL);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_manifest_dir.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	eng = engine_new();
	ck_assert_ptr_nonnull(eng);
	ck_assert_int_eq(manifest_dir_new(tmpdir, &md), 0);
}

static void teardown(void)
{
	char cmd[512];

	manifest_dir_free(md);
	engine_free(eng);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

#define NS_X "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n"

static const char *pod_yaml(char *buf, size_t len, const char *name, const char *app)
{
	snprintf(buf, len,
		 "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: x\n"
		 "  labels:\n    app: %s\nspec:\n  nodeName: n1\n  containers:\n"
		 "  - name: c\n    image: i\n    ports:\n    - {name: http, containerPort: 80}\n"
		 "status:\n  phase: Running\n  podIP: 10.0.0.%d\n  podIPs:\n  - ip: 10.0.0.%d\n",
		 name, app, name[0], name[0]);
	return buf;
}

static const char *pod_app(const char *name)
{
	const struct pod_obj *p = engine_pod(eng, "x", name);

	return p ? labels_get(&p->labels, "app") : NULL;
}

/* A policy whose podSelector is app=<app>; a bad CIDR makes it invalid. */
static const char *policy_yaml(char *buf, size_t len, const char *app, const char *cidr)
{
	snprintf(buf, len,
		 "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
		 "  name: p\n  namespace: x\nspec:\n  podSelector:\n    matchLabels:\n"
		 "      app: %s\n  ingress:\n  - from:\n    - ipBlock:\n        cidr: %s\n",
		 app, cidr);
	return buf;
}

static const char *policy_app(void)
{
	const struct netpol *p = engine_policy(eng, "x", "p");

	return p ? labels_get(&p->pod_selector.match_labels, "app") : NULL;
}

START_TEST(test_add_modify_remove)
{
	char a[1024], b[1024], all[4096];
	int r;

	snprintf(all, sizeof(all), "%s---\n%s---\n%s", NS_X, pod_yaml(a, sizeof(a), "a", "web"),
		 pod_yaml(b, sizeof(b), "b", "db"));
	write_file("10-x.yaml", all);
	r = sync_dir();
	ck_assert_int_eq(r, 3);
	ck_assert_ptr_nonnull(engine_namespace(eng, "x"));
	ck_assert_str_eq(pod_app("a"), "web");
	ck_assert_str_eq(pod_app("b"), "db");
	ck_assert_uint_eq(manifest_dir_n_errors(md), 0);
	ck_assert_str_eq(manifest_dir_path(md), tmpdir);

	/* Nothing changed: nothing decoded, nothing applied. */
	ck_assert_int_eq(sync_dir(), 0);

	/* Change a label, drop pod b. */
	snprintf(all, sizeof(all), "%s---\n%s", NS_X, pod_yaml(a, sizeof(a), "a", "api"));
	write_file("10-x.yaml", all);
	r = sync_dir();
	ck_assert_int_ge(r, 2);
	ck_assert_str_eq(pod_app("a"), "api");
	ck_assert_ptr_null(engine_pod(eng, "x", "b"));

	/* A second file adds an object; removing the first file deletes its own. */
	write_file("20-y.json",
		   "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"y\"}}");
	ck_assert_int_eq(sync_dir(), 1);
	ck_assert_ptr_nonnull(engine_namespace(eng, "y"));
	remove_file("10-x.yaml");
	ck_assert_int_eq(sync_dir(), 2);
	ck_assert_ptr_null(engine_pod(eng, "x", "a"));
	ck_assert_ptr_null(engine_namespace(eng, "x"));
	ck_assert_ptr_nonnull(engine_namespace(eng, "y"));
}
END_TEST

START_TEST(test_bad_edit_keeps_last_valid)
{
	char p[1024];

	write_file("p.yaml", policy_yaml(p, sizeof(p), "v1", "10.0.0.0/8"));
	ck_assert_int_eq(sync_dir(), 1);
	ck_assert_str_eq(policy_app(), "v1");

	/* An invalid edit: reported, counted, and the old version stays. */
	write_file("p.yaml", policy_yaml(p, sizeof(p), "v2", "10.0.0/8"));
	ck_assert_int_eq(sync_dir(), 0);
	ck_assert_uint_ge(n_diags, 1);
	ck_assert_ptr_nonnull(strstr(last_diag, "p.yaml"));
	ck_assert_ptr_nonnull(strstr(last_diag, "x/p"));
	ck_assert_uint_eq(manifest_dir_n_errors(md), 1);
	ck_assert_str_eq(policy_app(), "v1");

	/* Standing errors are not reported again while the file is unchanged. */
	ck_assert_int_eq(sync_dir(), 0);
	ck_assert_uint_eq(n_diags, 0);
	ck_assert_uint_eq(manifest_dir_n_errors(md), 1);

	/* A YAML syntax error in the whole file keeps its objects too. */
	write_file("p.yaml", "kind: NetworkPolicy\nmetadata: [unclosed\n");
	ck_assert_int_eq(sync_dir(), 0);
	ck_assert_uint_ge(n_diags, 1);
	ck_assert_str_eq(policy_app(), "v1");

	/* Fixed: the new version goes in, errors are gone. */
	write_file("p.yaml", policy_yaml(p, sizeof(p), "v3", "10.0.0.0/8"));
	ck_assert_int_eq(sync_dir(), 1);
	ck_assert_str_eq(policy_app(), "v3");
	ck_assert_uint_eq(manifest_dir_n_errors(md), 0);

	/* An object that was never valid does not appear; removing the file deletes it. */
	write_file("q.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			     "metadata: {name: q, namespace: x}\nspec:\n  podSelector: {}\n"
			     "  ingress:\n  - from:\n    - ipBlock: {cidr: nope}\n");
	ck_assert_int_eq(sync_dir(), 0);
	ck_assert_ptr_null(engine_policy(eng, "x", "q"));
	ck_assert_uint_eq(manifest_dir_n_errors(md), 1);
	remove_file("p.yaml");
	remove_file("q.yaml");
	ck_assert_int_eq(sync_dir(), 1);
	ck_assert_ptr_null(engine_policy(eng, "x", "p"));
	ck_assert_uint_eq(manifest_dir_n_errors(md), 0);
}
END_TEST

START_TEST(test_same_object_in_two_files)
{
	char a[1024], b[1024];

	write_file("a.yaml", pod_yaml(a, sizeof(a), "p", "from-a"));
	write_file("b.yaml", pod_yaml(b, sizeof(b), "p", "from-b"));
	ck_assert_int_ge(sync_dir(), 1);
	ck_assert_str_eq(pod_app("p"), "from-b"); /* the later file wins */

	/* Editing the losing file changes nothing in the engine. */
	write_file("a.yaml", pod_yaml(a, sizeof(a), "p", "from-a2"));
	sync_dir();
	ck_assert_str_eq(pod_app("p"), "from-b");

	/* The winner broken: its last valid version stays (a.yaml does not take over). */
	write_file("b.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\n"
			     "status:\n  podIPs:\n  - ip: 999.1.1.1\n");
	sync_dir();
	ck_assert_uint_ge(n_diags, 1);
	ck_assert_str_eq(pod_app("p"), "from-b");

	/* The winner gone: the unchanged a.yaml is read again and its version applies. */
	remove_file("b.yaml");
	ck_assert_int_eq(sync_dir(), 1);
	ck_assert_str_eq(pod_app("p"), "from-a2");

	/* Within one file, the later document wins. */
	{
		char both[4096];

		snprintf(both, sizeof(both), "%s---\n%s", pod_yaml(a, sizeof(a), "p", "first"),
			 pod_yaml(b, sizeof(b), "p", "second"));
		write_file("a.yaml", both);
	}
	sync_dir();
	ck_assert_str_eq(pod_app("p"), "second");

	remove_file("a.yaml");
	ck_assert_int_eq(sync_dir(), 1);
	ck_assert_ptr_null(engine_pod(eng, "x", "p"));
}
END_TEST

START_TEST(test_ignored_files)
{
	char a[1024], path[512];
	struct engine_counts c;

	write_file(".hidden.yaml", NS_X);
	write_file("notes.txt", NS_X);
	write_file("x.yaml.bak", NS_X);
	snprintf(path, sizeof(path), "%s/sub.yaml", tmpdir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/fifo.yaml", tmpdir);
	ck_assert_int_eq(mkfifo(path, 0644), 0); /* must be skipped, not block */
	ck_assert_int_eq(sync_dir(), 0);
	engine_counts(eng, &c);
	ck_assert_uint_eq(c.namespaces, 0);

	/* .yml and .json are read; a symlink to a regular file is followed. */
	write_file("p.yml", pod_yaml(a, sizeof(a), "p", "yml"));
	snprintf(path, sizeof(path), "%s/ns.json", tmpdir);
	ck_assert_int_eq(symlink(".hidden.yaml", path), 0);
	ck_assert_int_eq(sync_dir(), 2);
	ck_assert_str_eq(pod_app("p"), "yml");
	ck_assert_ptr_nonnull(engine_namespace(eng, "x"));
	ck_assert_uint_eq(manifest_dir_n_errors(md), 0);
}
END_TEST

START_TEST(test_unreadable_dir)
{
	struct manifest_dir *bad = NULL;
	struct engine_counts c;
	char a[1024], path[512];

	write_file("a.yaml", pod_yaml(a, sizeof(a), "a", "web"));
	ck_assert_int_eq(sync_dir(), 1);

	/* The folder disappears: -ENOENT, the engine keeps what it had. */
	snprintf(path, sizeof(path), "%s.gone", tmpdir);
	ck_assert_int_eq(rename(tmpdir, path), 0);
	ck_assert_int_eq(sync_dir(), -ENOENT);
	ck_assert_str_eq(pod_app("a"), "web");
	ck_assert_int_eq(rename(path, tmpdir), 0);
	ck_assert_int_eq(sync_dir(), 0);

	/* A file given as the folder. */
	snprintf(path, sizeof(path), "%s/a.yaml", tmpdir);
	ck_assert_int_eq(manifest_dir_new(path, &bad), 0);
	ck_assert_int_eq(manifest_dir_sync(bad, eng, on_diag, NULL), -ENOTDIR);
	manifest_dir_free(bad);
	engine_counts(eng, &c);
	ck_assert_uint_eq(c.pods, 1);

	/* NULL diag is allowed. */
	write_file("b.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: x}\n"
			     "status:\n  podIPs:\n  - ip: bad\n");
	ck_assert_int_ge(manifest_dir_sync(md, eng, NULL, NULL), 0);
	ck_assert_uint_eq(manifest_dir_n_errors(md), 1);
}
END_TEST

static Suite *manifest_dir_suite(void)
{
	Suite *s = suite_create("manifest_dir");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_add_modify_remove);
	tcase_add_test(tc, test_bad_edit_keeps_last_valid);
	tcase_add_test(tc, test_same_object_in_two_files);
	tcase_add_test(tc, test_ignored_files);
	tcase_add_test(tc, test_unreadable_dir);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(manifest_dir_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
