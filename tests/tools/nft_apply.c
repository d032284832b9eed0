/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nft_apply: a one-shot netpold for tests. Loads manifests (decode_manifest)
 * into an engine and runs dataplane_sync once for the given node, or removes
 * the table (--cleanup). Prints the dataplane stats. Run it inside the node's
 * network namespace.
 *   nft_apply --node NAME [--table T] [--reject] FILE...
 *   nft_apply --cleanup [--table T]
 */
#include <getopt.h>
#include <stdio.h>

#include "dataplane.h"
#include "decode.h"
#include "engine.h"

struct load_ctx {
	struct engine *e;
	int errors;
};

static void on_object(void *ud, struct k8s_object *o)
{
	struct load_ctx *ctx = ud;

	if (engine_apply(ctx->e, o) < 0)
		ctx->errors++;
}

static void on_error(void *ud, const struct decode_diag *d)
{
	struct load_ctx *ctx = ud;

	fprintf(stderr, "%s:%u: %s\n", d->source, d->line, d->message);
	ctx->errors++;
}

static int load_file(struct load_ctx *ctx, const char *path)
{
	struct decode_sink sink = {.object = on_object, .error = on_error, .userdata = ctx};
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int r;

	if (!f)
		return -errno;
	for (;;) {
		if (len + 65536 > cap) {
			char *n = realloc(buf, cap = len + 65536 * 4);

			if (!n) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = n;
		}
		size_t got = fread(buf + len, 1, cap - len, f);

		if (got == 0)
			break;
		len += got;
	}
	fclose(f);
	r = decode_manifest(buf, len, path, &sink);
	free(buf);
	return r < 0 ? r : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"node", required_argument, NULL, 'n'},
		{"table", required_argument, NULL, 't'},
		{"reject", no_argument, NULL, 'r'},
		{"cleanup", no_argument, NULL, 'c'},
		{},
	};
	struct dataplane_config cfg = {.table = "netpold"};
	struct load_ctx ctx = {0};
	struct dataplane *dp;
	struct dataplane_stats st;
	bool cleanup = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "n:t:rc", opts, NULL)) >= 0) {
		switch (c) {
		case 'n':
			cfg.node_name = optarg;
			break;
		case 't':
			cfg.table = optarg;
			break;
		case 'r':
			cfg.deny_action = DENY_REJECT;
			break;
		case 'c':
			cleanup = true;
			break;
		default:
			return 2;
		}
	}
	if (cleanup)
		return dataplane_cleanup(cfg.table) < 0 ? 1 : 0;
	if (!cfg.node_name || optind >= argc) {
		fprintf(stderr, "usage: nft_apply --node NAME [--table T] [--reject] FILE...\n");
		return 2;
	}
	ctx.e = engine_new();
	if (!ctx.e)
		return 1;
	for (int i = optind; i < argc; i++)
		if ((r = load_file(&ctx, argv[i])) < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
			ctx.errors++;
		}
	if (ctx.errors) {
		engine_free(ctx.e);
		return 1;
	}
	engine_discard_changes(ctx.e);
	if ((r = dataplane_new(&cfg, &dp)) < 0) {
		fprintf(stderr, "dataplane: %s\n", strerror(-r));
		engine_free(ctx.e);
		return 1;
	}
	r = dataplane_sync(dp, ctx.e);
	dataplane_get_stats(dp, &st);
	printf("commits=%llu msgs=%llu elems=%llu set_elements=%llu commit_s=%.6f kernel_s=%.6f\n",
	       (unsigned long long)st.commits, (unsigned long long)st.last_batch_msgs,
	       (unsigned long long)st.last_batch_elems, (unsigned long long)st.set_elements,
	       st.last_commit_seconds, st.last_kernel_seconds);
	dataplane_free(dp);
	engine_free(ctx.e);
	return r < 0 ? 1 : 0;
}
