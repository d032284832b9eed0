/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The request side of the status socket without a socket: /v1/explain and
 * /v1/matrix hand their URL arguments to query.h's parsers and then to
 * query_explain()/query_matrix() (shared with netpolctl). libmicrohttpd and
 * the router itself need a socket and a daemon, and are not covered here.
 * Input: byte 0 (bit 0 matrix, bit 1 JSON), then NUL-separated fields:
 * from, to, namespaces, protocol, port, family. The engine holds a fixed
 * small world (two namespaces, dual-stack, v4-only, v6-only, hostNetwork and
 * finished pods, a Service with named ports, policies). JSON answers must
 * parse. Seeds: corpus/fuzz_query.
 */
#include <jansson.h>
#include <stdio.h>

#include "decode.h"
#include "engine.h"
#include "fuzz_common.h"
#include "query.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char world[] =
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {team: red}}\n"
	"---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a, labels: {app: web}}\n"
	"spec:\n  nodeName: node-1\n  containers:\n  - name: c\n    ports:\n"
	"    - {name: http, containerPort: 8080}\n"
	"    - {name: dns, containerPort: 53, protocol: UDP}\n"
	"status: {phase: Running, podIPs: [{ip: 10.0.0.1}, {ip: 'fd00::1'}]}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: a, labels: {app: db}}\n"
	"spec: {containers: [{name: c, ports: [{name: sql, containerPort: 5432}]}]}\n"
	"status: {phase: Running, podIPs: [{ip: 10.0.0.2}]}\n"
	"---\napiVersion: v1\nkind: Pod\n"
	"metadata: {name: client, namespace: b, labels: {app: client}}\n"
	"spec: {containers: [{name: c}]}\nstatus: {phase: Running, podIPs: [{ip: 'fd00::3'}]}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: both, namespace: b}\n"
	"spec: {containers: [{name: c}]}\n"
	"status: {phase: Running, podIPs: [{ip: 10.0.1.4}, {ip: 'fd00::4'}]}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: hostnet, namespace: b}\n"
	"spec: {hostNetwork: true, containers: [{name: c}]}\n"
	"status: {phase: Running, podIPs: [{ip: 192.168.0.5}]}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: done, namespace: a, labels: {app: web}}\n"
	"spec: {containers: [{name: c}]}\nstatus: {phase: Succeeded, podIPs: [{ip: 10.0.0.6}]}\n"
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: a}\n"
	"spec:\n  selector: {app: web}\n  ports:\n  - {name: http, port: 80, targetPort: http}\n"
	"  - {name: dns, port: 53, protocol: UDP, targetPort: dns}\n"
	"  - {name: raw, port: 9000, targetPort: 9001}\n"
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: none, namespace: b}\n"
	"spec: {ports: [{port: 1}]}\n"
	"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: deny, namespace: a}\n"
	"spec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n"
	"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: web, namespace: a}\n"
	"spec:\n  podSelector: {matchLabels: {app: web}}\n  ingress:\n"
	"  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: client}}},\n"
	"           {ipBlock: {cidr: 10.0.1.0/24}}]\n"
	"    ports: [{port: http}, {port: 53, protocol: UDP}]\n"
	"  egress:\n  - to: [{podSelector: {matchLabels: {app: db}}}]\n"
	"    ports: [{port: 5000, endPort: 6000}]\n";

static struct engine *eng;

static void apply(void *ud, struct k8s_object *obj)
{
	FUZZ_CHECK(engine_apply(eng, obj) == 0, "engine_apply");
}

static void reject(void *ud, const struct decode_diag *d)
{
	FUZZ_CHECK(0, "the fixed world does not decode: %s", d->message);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct decode_sink sink = {.object = apply, .error = reject};

	eng = engine_new();
	FUZZ_CHECK(eng, "engine_new");
	FUZZ_CHECK(decode_manifest(world, sizeof(world) - 1, "world", &sink) == 12, "world");
	engine_discard_changes(eng);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *f[6] = {NULL};
	char *buf, *p, *out = NULL, *warn = NULL;
	char ns[MODEL_MAX_NAME_LEN + 1], name[MODEL_MAX_NAME_LEN + 1];
	size_t out_len = 0, warn_len = 0;
	struct query q = {.proto = PROTO_TCP, .port = 80};
	struct query_out o = {0};
	bool matrix;
	int r;

	if (size < 1)
		return 0;
	matrix = data[0] & 1;
	q.json = data[0] & 2;
	buf = malloc(size);
	FUZZ_CHECK(buf, "out of memory");
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	p = buf;
	for (size_t i = 0; i < ELEMENTSOF(f) && p < buf + size; i++) {
		f[i] = p;
		p += strlen(p) + 1;
	}
	q.from = f[0];
	q.to = f[1];
	q.namespaces = f[2] && *f[2] ? f[2] : NULL;
	if (f[3])
		(void)query_parse_proto(f[3], &q.proto);
	if (f[4] && query_parse_port(f[4], &q.port) < 0)
		q.port = 0;
	if (f[5])
		(void)query_parse_family(f[5], &q.family);
	for (int i = 0; i < 2; i++)
		if (f[i] && query_split_name(f[i], ns, name) == 0)
			FUZZ_CHECK(strlen(ns) <= MODEL_MAX_NAME_LEN &&
					   strlen(name) <= MODEL_MAX_NAME_LEN,
				   "query_split_name");

	o.out = open_memstream(&out, &out_len);
	o.warn = open_memstream(&warn, &warn_len);
	FUZZ_CHECK(o.out && o.warn, "open_memstream");
	r = matrix ? query_matrix(eng, &q, &o) : query_explain(eng, &q, &o);
	fclose(o.out);
	fclose(o.warn);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL || r == -ENOENT || r == -EADDRNOTAVAIL || r == -ENOMEM ||
				   r == -EIO,
			   "returned %d", r);
		FUZZ_CHECK(o.err[0] && strnlen(o.err, sizeof(o.err)) < sizeof(o.err),
			   "refused (%d) without a message", r);
	} else {
		FUZZ_CHECK(matrix ? r == 0 : (r == QUERY_ALLOWED || r == QUERY_DENIED),
			   "returned %d", r);
		FUZZ_CHECK(out_len > 0, "an answer without output");
		if (q.json) {
			json_error_t e;
			json_t *j = json_loadb(out, out_len, 0, &e);

			FUZZ_CHECK(j, "JSON answer does not parse (%s): %.*s", e.text, (int)out_len,
				   out);
			json_decref(j);
		}
	}
	free(out);
	free(warn);
	free(buf);
	return 0;
}
