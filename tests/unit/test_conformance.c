/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The upstream NetworkPolicy e2e suite replayed at the matcher level: for each
 * case of tests/conformance/cases, both families, the world and each step's
 * objects go through decode_manifest into an engine, and engine_verdict must
 * give every expected pod-to-pod verdict. Each case is replayed twice: on the
 * full 9-pod world, and on upstream's own model for the case (its pods only,
 * with its container ports), where only upstream's pairs are checked.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conformance.h"
#include "decode.h"
#include "engine.h"
#include "model.h"

static char *data_dir;
static char **case_paths;
static int n_cases;

struct load_ctx {
	struct engine *e;
	int applied;
	int errors;
	char first_error[512];
};

static void sink_object(void *ud, struct k8s_object *obj)
{
	struct load_ctx *ctx = ud;
	int r = engine_apply(ctx->e, obj);

	if (r < 0) {
		if (!ctx->errors++)
			snprintf(ctx->first_error, sizeof(ctx->first_error), "engine_apply: %s", strerror(-r));
		return;
	}
	ctx->applied++;
}

static void sink_error(void *ud, const struct decode_diag *d)
{
	struct load_ctx *ctx = ud;

	if (!ctx->errors++)
		snprintf(ctx->first_error, sizeof(ctx->first_error), "%s:%u: %s %s/%s: %s", d->source, d->line,
			 d->kind ?: "?", d->ns ?: "-", d->name ?: "?", d->message);
}

/* decode_manifest(json) into the engine; fails the test on any rejection. */
static int feed(struct engine *e, const char *json, const char *what)
{
	struct load_ctx ctx = { .e = e };
	struct decode_sink sink = { .object = sink_object, .error = sink_error, .userdata = &ctx };
	int r;

	r = decode_manifest(json, strlen(json), what, &sink);
	ck_assert_msg(r >= 0 && ctx.errors == 0, "%s: decode/apply failed (r=%d): %s", what, r,
		      ctx.errors ? ctx.first_error : strerror(r < 0 ? -r : 0));
	return ctx.applied;
}

static int kind_of(const char *k, enum obj_kind *ret)
{
	if (strcmp(k, "NetworkPolicy") == 0)
		*ret = OBJ_NETWORK_POLICY;
	else if (strcmp(k, "Pod") == 0)
		*ret = OBJ_POD;
	else if (strcmp(k, "Namespace") == 0)
		*ret = OBJ_NAMESPACE;
	else
		return -EINVAL;
	return 0;
}

struct only_ctx {
	const struct conformance_case *c;
};

static bool only_case_pods(void *ud, size_t i)
{
	struct only_ctx *o = ud;

	return conformance_case_has_pod(o->c, i);
}

/*
 * Replay case c in family, on the whole world (upstream_model false) or on
 * upstream's model. Returns the number of mismatching pairs; adds the pairs
 * checked to *checked.
 */
static size_t replay(const struct conformance_world *w, const struct conformance_case *c, int family,
		     bool upstream_model, size_t *checked)
{
	const char *fam = family == AF_INET ? "IPv4" : "IPv6";
	const char *mode = upstream_model ? "upstream model" : "full world";
	const struct conformance_case *model = upstream_model ? c : NULL;
	size_t n = conformance_world_n_pods(w), bad = 0;
	struct engine *e;
	char *json = NULL;
	int8_t *obs;
	int r;

	e = engine_new();
	ck_assert_ptr_nonnull(e);
	obs = malloc(n * n);
	ck_assert_ptr_nonnull(obs);

	r = conformance_render_world(w, model, family, &json);
	ck_assert_int_eq(r, 0);
	feed(e, json, "world");
	free(json);

	for (size_t s = 0; s < conformance_case_n_steps(c); s++) {
		const struct conformance_op *ops;
		const struct conformance_probe *pr;
		size_t n_ops, n_pr;
		char what[256];

		snprintf(what, sizeof(what), "%s step %zu", conformance_case_name(c), s + 1);
		r = conformance_render_step(w, c, s, family, &json);
		ck_assert_int_eq(r, 0);
		feed(e, json, what);
		free(json);

		n_ops = conformance_step_ops(c, s, &ops);
		for (size_t i = 0; i < n_ops; i++) {
			enum obj_kind k;

			if (ops[i].op == CONFORMANCE_OP_LABEL) {
				if (upstream_model && strcmp(ops[i].kind, "Pod") == 0) {
					char id[256];
					int idx;

					snprintf(id, sizeof(id), "%s/%s", ops[i].ns, ops[i].name);
					idx = conformance_world_pod_index(w, id);
					if (idx < 0 || !conformance_case_has_pod(c, idx))
						continue; /* upstream never created it */
				}
				r = conformance_render_label(w, model, &ops[i], family, &json);
				ck_assert_int_eq(r, 0);
				feed(e, json, what);
				free(json);
				continue;
			}
			ck_assert_int_eq(kind_of(ops[i].kind, &k), 0);
			r = engine_delete(e, k, ops[i].ns, ops[i].name);
			ck_assert_msg(r == 0, "%s: delete %s %s/%s: %s", what, ops[i].kind, ops[i].ns ?: "-",
				      ops[i].name, strerror(-r));
		}

		n_pr = conformance_step_probes(c, s, &pr);
		for (size_t p = 0; p < n_pr; p++) {
			size_t wrong = 0;
			enum proto proto;

			ck_assert_int_eq(proto_parse(pr[p].protocol, &proto), 0);
			memset(obs, -1, n * n);
			for (size_t f = 0; f < n; f++)
				for (size_t t = 0; t < n; t++) {
					const struct pod_obj *src, *dst;
					struct endpoint es, ed;
					int8_t want = pr[p].expect[f * n + t];

					if (want < 0)
						continue;
					if (upstream_model &&
					    (!conformance_case_has_pod(c, f) || !conformance_case_has_pod(c, t)))
						continue;
					src = engine_pod(e, conformance_world_pod_ns(w, f), conformance_world_pod_name(w, f));
					dst = engine_pod(e, conformance_world_pod_ns(w, t), conformance_world_pod_name(w, t));
					ck_assert_msg(src && dst, "%s: pod %s or %s missing from the engine", what,
						      conformance_world_pod_id(w, f), conformance_world_pod_id(w, t));
					ck_assert_int_eq(endpoint_from_pod(src, family, &es), 0);
					ck_assert_int_eq(endpoint_from_pod(dst, family, &ed), 0);
					obs[f * n + t] = engine_verdict(e, &es, &ed, proto, pr[p].port, NULL) ? 1 : 0;
					(*checked)++;
					if (obs[f * n + t] != want)
						wrong++;
				}
			if (wrong) {
				struct only_ctx oc = { .c = c };
				int8_t *cmp = malloc(n * n);

				ck_assert_ptr_nonnull(cmp);
				for (size_t i = 0; i < n * n; i++)
					cmp[i] = obs[i] < 0 ? -1 : obs[i] == pr[p].expect[i];
				printf("MISMATCH %s (%s): step %zu \"%s\", %s, %s, %s/%u: %zu wrong\n",
				       conformance_case_name(c), conformance_case_upstream(c), s + 1,
				       conformance_step_description(c, s) ?: "", fam, mode, pr[p].protocol,
				       pr[p].port, wrong);
				printf("expected:\n");
				conformance_print_matrix(stdout, w, pr[p].expect, upstream_model ? only_case_pods : NULL,
							 &oc);
				printf("observed:\n");
				conformance_print_matrix(stdout, w, obs, upstream_model ? only_case_pods : NULL, &oc);
				printf("comparison (X = wrong):\n");
				conformance_print_matrix(stdout, w, cmp, upstream_model ? only_case_pods : NULL, &oc);
				fflush(stdout);
				free(cmp);
				bad += wrong;
			}
		}
	}
	free(obs);
	engine_free(e);
	return bad;
}

static struct conformance_world *try_load_world(char **ret_err)
{
	struct conformance_world *w = NULL;
	char *path = NULL;

	if (asprintf(&path, "%s/world.json", data_dir) < 0)
		return NULL;
	if (conformance_world_load(path, &w, ret_err) < 0)
		w = NULL;
	free(path);
	return w;
}

static struct conformance_world *load_world(void)
{
	char *err = NULL;
	struct conformance_world *w = try_load_world(&err);

	ck_assert_msg(w, "world.json: %s", err ?: "cannot load");
	return w;
}

START_TEST(test_case)
{
	struct conformance_world *w = load_world();
	struct conformance_case *c = NULL;
	size_t bad = 0, checked = 0;
	char *err = NULL;
	int r;

	r = conformance_case_load(w, case_paths[_i], &c, &err);
	ck_assert_msg(r == 0, "%s", err ?: case_paths[_i]);

	for (int fam = 0; fam < 2; fam++)
		for (int up = 0; up < 2; up++)
			bad += replay(w, c, fam ? AF_INET6 : AF_INET, up, &checked);
	printf("%s: %zu probe(s), IPv4 and IPv6, full world and upstream model: %zu verdicts checked, "
	       "%zu wrong\n",
	       conformance_case_name(c), conformance_case_n_probes(c), checked, bad);
	ck_assert_msg(bad == 0, "%s (%s): %zu wrong verdicts", conformance_case_name(c),
		      conformance_case_upstream(c), bad);
	conformance_case_free(c);
	conformance_world_free(w);
}
END_TEST

/* The data itself: every case loads, every template expands in both families. */
START_TEST(test_data)
{
	struct conformance_world *w = load_world();
	size_t n = conformance_world_n_pods(w);
	char *s = NULL, *err = NULL;

	ck_assert_int_eq(n, 9);
	ck_assert_int_eq(conformance_expand(w, "${IP:x/b}/${HOSTMASK}", AF_INET, &s, &err), 0);
	ck_assert_str_eq(s, "10.244.2.11/32");
	free(s);
	ck_assert_int_eq(conformance_expand(w, "${IP:x/b}/${HOSTMASK}", AF_INET6, &s, &err), 0);
	ck_assert_str_eq(s, "fd00:10:244:2::11/128");
	free(s);
	ck_assert_int_eq(conformance_expand(w, "${NET:x/b:4:4}", AF_INET, &s, &err), 0);
	ck_assert_str_eq(s, "0.0.0.0/4");
	free(s);
	ck_assert_int_eq(conformance_expand(w, "${NET:x/b:4:4}", AF_INET6, &s, &err), 0);
	ck_assert_str_eq(s, "f000::/4");
	free(s);
	ck_assert_int_eq(conformance_expand(w, "${NET:y/a:24:64}$$", AF_INET6, &s, &err), 0);
	ck_assert_str_eq(s, "fd00:10:244:2::/64$");
	free(s);
	ck_assert_int_eq(conformance_expand(w, "${NET:y/a:24:64}", AF_INET, &s, &err), 0);
	ck_assert_str_eq(s, "10.244.2.0/24");
	free(s);
	ck_assert_int_lt(conformance_expand(w, "${IP:q/a}", AF_INET, &s, &err), 0);
	free(err);
	err = NULL;
	ck_assert_int_lt(conformance_expand(w, "${BOGUS}", AF_INET, &s, &err), 0);
	free(err);
	err = NULL;
	ck_assert_int_lt(conformance_expand(w, "${IP:x/a", AF_INET, &s, &err), 0);
	free(err);

	for (int i = 0; i < n_cases; i++) {
		struct conformance_case *c = NULL;

		err = NULL;
		ck_assert_msg(conformance_case_load(w, case_paths[i], &c, &err) == 0, "%s", err ?: "");
		ck_assert_int_ge(conformance_case_n_steps(c), 1);
		ck_assert_int_ge(conformance_case_n_probes(c), 1);
		conformance_case_free(c);
	}
	conformance_world_free(w);
}
END_TEST

/* The pair verdicts the case tests will check, counted without an engine. */
static size_t count_checks(const struct conformance_world *w, size_t *ret_probes)
{
	size_t n = conformance_world_n_pods(w), total = 0;

	for (int i = 0; i < n_cases; i++) {
		struct conformance_case *c = NULL;
		char *err = NULL;

		if (conformance_case_load(w, case_paths[i], &c, &err) < 0) {
			free(err);
			continue;
		}
		*ret_probes += conformance_case_n_probes(c);
		for (size_t s = 0; s < conformance_case_n_steps(c); s++) {
			const struct conformance_probe *pr;
			size_t np = conformance_step_probes(c, s, &pr);

			for (size_t p = 0; p < np; p++)
				for (size_t f = 0; f < n; f++)
					for (size_t t = 0; t < n; t++) {
						if (pr[p].expect[f * n + t] < 0)
							continue;
						total += 2; /* full world, both families */
						if (conformance_case_has_pod(c, f) && conformance_case_has_pod(c, t))
							total += 2; /* upstream model, both families */
					}
		}
		conformance_case_free(c);
	}
	return total;
}

int main(void)
{
	size_t n_probes = 0, checks;
	int failed;
	Suite *s;
	SRunner *sr;
	TCase *tc;

	data_dir = conformance_default_dir();
	n_cases = data_dir ? conformance_list_cases(data_dir, &case_paths) : -ENOMEM;
	if (n_cases <= 0) {
		fprintf(stderr, "test_conformance: no cases in %s/cases: %s\n", data_dir ?: "?",
			n_cases < 0 ? strerror(-n_cases) : "empty");
		return 1;
	}

	s = suite_create("conformance");
	tc = tcase_create("data");
	tcase_add_test(tc, test_data);
	suite_add_tcase(s, tc);
	/* One tcase per case, so failures name the case. */
	for (int i = 0; i < n_cases; i++) {
		const char *base = strrchr(case_paths[i], '/') + 1;

		tc = tcase_create(base);
		tcase_add_loop_test(tc, test_case, i, i + 1);
		suite_add_tcase(s, tc);
	}
	{
		char *err = NULL;
		struct conformance_world *w = try_load_world(&err);

		if (!w) {
			fprintf(stderr, "test_conformance: world.json: %s\n", err ?: "cannot load");
			return 1;
		}
		checks = count_checks(w, &n_probes);
		conformance_world_free(w);
	}

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	printf("conformance: %d cases, %zu probes per family, %zu pair verdicts checked "
	       "(full world and upstream model, IPv4 and IPv6)\n",
	       n_cases, n_probes, checks);
	conformance_strv_free(case_paths);
	free(data_dir);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
