/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * oracle: expected NetworkPolicy verdicts for a manifest folder, computed by the
 * REFERENCE evaluator (include/reference.h, policy/reference.c), never by the engine.
 *
 *   oracle DIR < lines
 *
 * DIR is read like netpold reads it (every visible *.yaml, *.yml, *.json, in name order;
 * an object that appears twice keeps its last version). Each input line is
 * `ID SRC DST PORT PROTO`: SRC and DST are IP literals (resolved to pods the way the
 * engine does, through reference_endpoint_from_ip), PORT 1..65535, PROTO tcp|udp|sctp
 * (any case). Output, in input order: `ID allow` or `ID deny`. Rejected objects are
 * counted on stderr (`oracle: N objects, N rejected`). Exit 0, or 2 on bad input.
 *
 * Used by tests/world/test_soak.sh to judge the kernel (real probes) and netpold's
 * /v1/explain against an evaluator that shares no code with the engine.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "decode.h"
#include "reference.h"

struct objs {
	struct k8s_object *v;
	size_t n, cap;
	unsigned rejected;
};

static const char *obj_ns(const struct k8s_object *o)
{
	switch (o->kind) {
	case OBJ_POD:
		return o->pod->ns;
	case OBJ_NETWORK_POLICY:
		return o->pol->ns;
	case OBJ_SERVICE:
		return o->svc->ns;
	default:
		return "";
	}
}

static const char *obj_name(const struct k8s_object *o)
{
	switch (o->kind) {
	case OBJ_NAMESPACE:
		return o->ns->name;
	case OBJ_POD:
		return o->pod->name;
	case OBJ_NETWORK_POLICY:
		return o->pol->name;
	default:
		return o->svc->name;
	}
}

static void on_object(void *ud, struct k8s_object *obj)
{
	struct objs *s = ud;

	/* a later version of the same object replaces the earlier one */
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].kind == obj->kind && strcmp(obj_ns(&s->v[i]), obj_ns(obj)) == 0 &&
		    strcmp(obj_name(&s->v[i]), obj_name(obj)) == 0) {
			k8s_object_clear(&s->v[i]);
			s->v[i] = *obj;
			*obj = (struct k8s_object){0};
			return;
		}
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v) {
			perror("oracle");
			exit(2);
		}
	}
	s->v[s->n++] = *obj;
	*obj = (struct k8s_object){0};
}

static void on_error(void *ud, const struct decode_diag *d)
{
	struct objs *s = ud;

	s->rejected++;
	if (getenv("ORACLE_VERBOSE"))
		fprintf(stderr, "oracle: %s:%u: %s\n", d->source, d->line, d->message);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static bool manifest_name(const char *n)
{
	size_t l = strlen(n);

	if (n[0] == '.')
		return false;
	return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) || (l > 4 && strcmp(n + l - 4, ".yml") == 0) ||
	       (l > 5 && strcmp(n + l - 5, ".json") == 0);
}

static int read_dir(const char *dir, struct objs *s)
{
	struct decode_sink sink = {.object = on_object, .error = on_error, .userdata = s};
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, by_name);

	if (n < 0) {
		fprintf(stderr, "oracle: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		FILE *f;
		char *buf = NULL;
		size_t len = 0, got;
		struct stat st;

		if (!manifest_name(ents[i]->d_name))
			goto next;
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (size_t)st.st_size > DECODE_MAX_DOCUMENT_BYTES)
			goto next;
		f = fopen(path, "r");
		if (!f)
			goto next;
		buf = malloc((size_t)st.st_size + 1);
		if (buf) {
			while ((got = fread(buf + len, 1, (size_t)st.st_size - len, f)) > 0)
				len += got;
			(void)decode_manifest(buf, len, ents[i]->d_name, &sink);
		}
		free(buf);
		fclose(f);
next:
		free(ents[i]);
	}
	free(ents);
	return 0;
}

int main(int argc, char **argv)
{
	struct objs s = {0};
	const struct namespace_obj **nss;
	const struct pod_obj **pods;
	const struct netpol **pols;
	struct reference_world w = {0};
	char line[1024];
	unsigned long lineno = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: oracle DIR < 'ID SRC_IP DST_IP PORT PROTO' lines\n");
		return 2;
	}
	if (read_dir(argv[1], &s) < 0)
		return 2;
	nss = calloc(s.n + 1, sizeof(*nss));
	pods = calloc(s.n + 1, sizeof(*pods));
	pols = calloc(s.n + 1, sizeof(*pols));
	if (!nss || !pods || !pols)
		return 2;
	for (size_t i = 0; i < s.n; i++) {
		switch (s.v[i].kind) {
		case OBJ_NAMESPACE:
			nss[w.n_nss++] = s.v[i].ns;
			break;
		case OBJ_POD:
			pods[w.n_pods++] = s.v[i].pod;
			break;
		case OBJ_NETWORK_POLICY:
			pols[w.n_pols++] = s.v[i].pol;
			break;
		default:
			break;
		}
	}
	w.nss = nss;
	w.pods = pods;
	w.pols = pols;
	fprintf(stderr, "oracle: %zu objects (%zu namespaces, %zu pods, %zu policies), %u rejected\n",
		s.n, w.n_nss, w.n_pods, w.n_pols, s.rejected);

	while (fgets(line, sizeof(line), stdin)) {
		char id[512], src[64], dst[64], proto_s[16];
		unsigned port;
		struct ip_addr sip, dip;
		struct endpoint se, de;
		enum proto proto;

		lineno++;
		if (line[strspn(line, " \t\r\n")] == '\0' || line[0] == '#')
			continue;
		if (sscanf(line, "%511s %63s %63s %u %15s", id, src, dst, &port, proto_s) != 5 ||
		    ip_addr_parse(src, &sip) < 0 || ip_addr_parse(dst, &dip) < 0 || port < 1 ||
		    port > 65535) {
			fprintf(stderr, "oracle: stdin:%lu: bad line\n", lineno);
			return 2;
		}
		if (strcasecmp(proto_s, "tcp") == 0)
			proto = PROTO_TCP;
		else if (strcasecmp(proto_s, "udp") == 0)
			proto = PROTO_UDP;
		else if (strcasecmp(proto_s, "sctp") == 0)
			proto = PROTO_SCTP;
		else {
			fprintf(stderr, "oracle: stdin:%lu: bad protocol %s\n", lineno, proto_s);
			return 2;
		}
		reference_endpoint_from_ip(&w, &sip, &se);
		reference_endpoint_from_ip(&w, &dip, &de);
		printf("%s %s\n", id,
		       reference_verdict(&w, &se, &de, proto, (uint16_t)port) ? "allow" : "deny");
	}
	for (size_t i = 0; i < s.n; i++)
		k8s_object_clear(&s.v[i]);
	free(s.v);
	free(nss);
	free(pods);
	free(pols);
	return 0;
}
