/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The nftables dataplane against the real kernel, each test in a network
 * namespace of its own (unshare in the forked test process): full sync,
 * adoption with an empty diff, incremental element updates, drift repair
 * after foreign changes, cleanup, reject mode, and kernel errors mapped to
 * the policy that caused them. Needs root; skips (77) otherwise.
 */
#include <check.h>
#include <jansson.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>

#include "dataplane.h"
#include "decode.h"
#include "engine.h"
#include "nft.h"
#include "plan.h"

static void sink_obj(void *ud, struct k8s_object *o)
{
	ck_assert_int_eq(engine_apply(ud, o), 0);
}

static void sink_err(void *ud, const struct decode_diag *d)
{
	ck_abort_msg("decode: %s", d->message);
}

static void load(struct engine *e, const char *yaml)
{
	struct decode_sink sink = {.object = sink_obj, .error = sink_err, .userdata = e};

	ck_assert_int_ge(decode_manifest(yaml, strlen(yaml), "test", &sink), 0);
}

static void netns(void)
{
	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
}

static const char *WORLD =
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n---\n"
	"apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: default, labels: {app: web}}\n"
	"spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}\n"
	"status: {phase: Running, podIPs: [{ip: 10.0.0.1}, {ip: 'fd00::1'}]}\n---\n"
	"apiVersion: v1\nkind: Pod\nmetadata: {name: web-2, namespace: default, labels: {app: web}}\n"
	"spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 8081}]}]}\n"
	"status: {phase: Running, podIPs: [{ip: 10.0.0.2}]}\n---\n"
	"apiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: default, labels: {app: client}}\n"
	"spec: {nodeName: n2, containers: [{name: c}]}\n"
	"status: {phase: Running, podIPs: [{ip: 10.0.1.1}, {ip: 'fd00::101'}]}\n---\n"
	"apiVersion: v1\nkind: Pod\nmetadata: {name: other, namespace: default, labels: {app: other}}\n"
	"spec: {nodeName: n2, containers: [{name: c}]}\n"
	"status: {phase: Running, podIPs: [{ip: 10.0.1.2}]}\n---\n"
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: allow-web, namespace: default}\n"
	"spec:\n  podSelector: {matchLabels: {app: web}}\n  ingress:\n"
	"  - from: [{podSelector: {matchLabels: {app: client}}}, {ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24]}}]\n"
	"    ports: [{port: http}, {port: 9000, endPort: 9010, protocol: UDP}]\n---\n"
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: web-egress, namespace: default}\n"
	"spec:\n  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n  egress:\n"
	"  - to: [{podSelector: {matchLabels: {app: client}}}]\n    ports: [{port: http}]\n"
	"  - to: [{ipBlock: {cidr: 'fd00::/64'}}]\n";

static const struct dataplane_config CFG = {.table = "netpold", .node_name = "n1"};

static struct engine *world(void)
{
	struct engine *e = engine_new();

	load(e, WORLD);
	return e;
}

static struct dataplane *dp_new(const struct dataplane_config *cfg)
{
	struct dataplane *dp;

	ck_assert_int_eq(dataplane_new(cfg, &dp), 0);
	return dp;
}

static struct dataplane_stats stats(const struct dataplane *dp)
{
	struct dataplane_stats s;

	dataplane_get_stats(dp, &s);
	return s;
}

/* The kernel state compared with what a fresh plan of the engine wants. */
static void assert_kernel_matches(struct engine *e, const struct dataplane_config *cfg)
{
	struct nft_sock s;
	struct plan kern, want;
	struct plan_delta d;
	struct plan_config pc = {.node_name = cfg->node_name,
				 .reject = cfg->deny_action == DENY_REJECT,
				 .log = cfg->deny_log,
				 .log_group = cfg->nflog_group,
				 .log_rate = cfg->log_rate,
				 .log_burst = cfg->log_burst,
				 .fc_cidrs = cfg->fc_cidrs,
				 .n_fc_cidrs = cfg->n_fc_cidrs};

	ck_assert_int_eq(nft_sock_open(&s), 0);
	ck_assert_int_eq(nft_dump_table(&s, cfg->table, &kern), 0);
	ck_assert_int_eq(plan_build(e, &pc, &want, NULL), 0);
	ck_assert_int_eq(plan_diff(&kern, &want, &d), 0);
	ck_assert_msg(plan_delta_empty(&d),
		      "kernel differs: +sets %zu -sets %zu +chains %zu ~chains %zu -chains %zu "
		      "+elems %zu -elems %zu flush %zu (first chain replaced: %s)",
		      d.n_add_sets, d.n_del_sets, d.n_add_chains, d.n_replace_chains,
		      d.n_del_chains, d.n_add_elems, d.n_del_elems, d.n_flush_sets,
		      d.n_replace_chains ? d.replace_chains[0]->name : "-");
	plan_delta_clear(&d);
	plan_clear(&kern);
	plan_clear(&want);
	nft_sock_close(&s);
}

static json_t *nft_json(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	json_error_t err;
	json_t *j;

	ck_assert_ptr_nonnull(f);
	j = json_loadf(f, 0, &err);
	pclose(f);
	ck_assert_msg(j != NULL, "nft json: %s", err.text);
	return j;
}

/* Count objects of kind ("chain", "set", "rule") in `nft -j list table` output. */
static size_t count_kind(json_t *j, const char *kind, const char *name)
{
	json_t *arr = json_object_get(j, "nftables"), *it;
	size_t i, n = 0;

	json_array_foreach(arr, i, it)
	{
		json_t *o = json_object_get(it, kind);

		if (!o)
			continue;
		if (!name || (json_is_string(json_object_get(o, "name")) &&
			      strcmp(json_string_value(json_object_get(o, "name")), name) == 0))
			n++;
	}
	return n;
}

static size_t set_elem_count(json_t *j, const char *name)
{
	json_t *arr = json_object_get(j, "nftables"), *it;
	size_t i;

	json_array_foreach(arr, i, it)
	{
		json_t *o = json_object_get(it, "set");

		if (!o)
			o = json_object_get(it, "map");
		if (o && strcmp(json_string_value(json_object_get(o, "name")), name) == 0)
			return json_array_size(json_object_get(o, "elem"));
	}
	return (size_t)-1;
}

START_TEST(test_full_sync_and_inspect)
{
	struct engine *e;
	struct dataplane *dp;
	json_t *j;

	netns();
	e = world();
	dp = dp_new(&CFG);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	ck_assert_uint_eq(stats(dp).commits, 1);
	ck_assert_uint_gt(stats(dp).last_batch_msgs, 10);
	assert_kernel_matches(e, &CFG);

	j = nft_json("nft -j list table inet netpold");
	ck_assert_uint_eq(count_kind(j, "chain", "in_default_web-1"), 1);
	ck_assert_uint_eq(count_kind(j, "chain", "in_default_web-2"), 1);
	ck_assert_uint_eq(count_kind(j, "chain", "eg_default_web-1"), 1);
	ck_assert_uint_eq(count_kind(j, "chain", "in_default_client"), 0);
	ck_assert_uint_eq(count_kind(j, "chain", "forward"), 1);
	ck_assert_uint_eq(set_elem_count(j, "default_allow-web_in0_pods4"), 1);
	ck_assert_uint_eq(set_elem_count(j, "default_allow-web_in0_pods6"), 1);
	ck_assert_uint_eq(set_elem_count(j, "default_allow-web_in0_cidr4"), 2);
	ck_assert_uint_eq(set_elem_count(j, "ingress4"), 2);
	ck_assert_uint_eq(set_elem_count(j, "ingress6"), 1);
	/* egress named port: client has no "http" port, so the named set is empty */
	ck_assert_uint_eq(count_kind(j, "set", "default_web-egress_eg0_named4"), 1);
	json_decref(j);
	if (getenv("NETPOLD_TEST_SHOW"))
		ck_assert_int_eq(system("nft list table inet netpold"), 0);
	dataplane_free(dp);
	engine_free(e);
}
END_TEST

START_TEST(test_restart_is_empty_diff)
{
	struct engine *e;
	struct dataplane *dp;

	netns();
	e = world();
	dp = dp_new(&CFG);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	dataplane_free(dp);
	/* a restarted netpold with the same inputs adopts the table and commits nothing */
	dp = dp_new(&CFG);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	ck_assert_uint_eq(stats(dp).commits, 0);
	ck_assert_uint_eq(stats(dp).last_batch_msgs, 0);
	ck_assert_uint_gt(stats(dp).set_elements, 5);
	/* and an idle incremental sync commits nothing either */
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	ck_assert_uint_eq(stats(dp).commits, 0);
	dataplane_free(dp);
	engine_free(e);
}
END_TEST

/* Per-rule counters round-trip, and their values never make two rules differ. */
static int bump_counter(struct nftnl_expr *ex, void *data)
{
	if (strcmp(nftnl_expr_get_str(ex, NFTNL_EXPR_NAME), "counter") == 0) {
		nftnl_expr_set_u64(ex, NFTNL_EXPR_CTR_PACKETS, 42);
		nftnl_expr_set_u64(ex, NFTNL_EXPR_CTR_BYTES, 4200);
		(*(int *)data)++;
	}
	return 0;
}

START_TEST(test_counter_roundtrip)
{
	struct plan_rule want = {.nfproto = NFPROTO_IPV4, .addr = PLAN_ADDR_SRC, .set = "s",
				 .l4proto = 6, .has_ports = true, .port_lo = 80, .port_hi = 80,
				 .counter = true, .verdict = PLAN_V_RETURN,
				 .comment = "default/allow-web ingress[0]"};
	struct plan_rule got, plain = want;
	struct nftnl_rule *r = nft_build_rule("netpold", "in_x", &want);
	int n = 0;

	ck_assert_ptr_nonnull(r);
	nftnl_expr_foreach(r, bump_counter, &n);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(nft_parse_rule(r, &got), 0);
	ck_assert(got.counter && got.packets == 42 && got.bytes == 4200);
	ck_assert(plan_rule_equal(&want, &got));
	plain.counter = false;
	ck_assert(!plan_rule_equal(&plain, &got));
	free(got.set);
	free(got.comment);
	nftnl_rule_free(r);
}
END_TEST

START_TEST(test_incremental)
{
	struct engine *e;
	struct dataplane *dp;

	netns();
	e = world();
	dp = dp_new(&CFG);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);

	/* "other" becomes a client: one element in the pods4 set, nothing else */
	load(e, "apiVersion: v1\nkind: Pod\nmetadata: {name: other, namespace: default, labels: {app: client}}\n"
		"spec: {nodeName: n2, containers: [{name: c, ports: [{name: http, containerPort: 80}]}]}\n"
		"status: {phase: Running, podIPs: [{ip: 10.0.1.2}]}\n");
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	ck_assert_uint_eq(stats(dp).commits, 2);
	/* pods4 of allow-web ingress[0], pods4 + named4 of web-egress egress[0] */
	ck_assert_uint_eq(stats(dp).last_batch_elems, 3);
	ck_assert_uint_le(stats(dp).last_batch_msgs, 3);
	assert_kernel_matches(e, &CFG);

	/* and back */
	load(e, "apiVersion: v1\nkind: Pod\nmetadata: {name: other, namespace: default, labels: {app: other}}\n"
		"spec: {nodeName: n2, containers: [{name: c}]}\n"
		"status: {phase: Running, podIPs: [{ip: 10.0.1.2}]}\n");
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	ck_assert_uint_eq(stats(dp).last_batch_elems, 3);
	assert_kernel_matches(e, &CFG);

	/* a new local pod: its chains and vmap elements */
	load(e, "apiVersion: v1\nkind: Pod\nmetadata: {name: web-3, namespace: default, labels: {app: web}}\n"
		"spec: {nodeName: n1, containers: [{name: c}]}\n"
		"status: {phase: Running, podIPs: [{ip: 10.0.0.3}]}\n");
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	assert_kernel_matches(e, &CFG);

	/* policy change: the ipBlock changes, the cidr set is refilled */
	load(e, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		"metadata: {name: allow-web, namespace: default}\n"
		"spec:\n  podSelector: {matchLabels: {app: web}}\n  ingress:\n"
		"  - from: [{podSelector: {matchLabels: {app: client}}}, {ipBlock: {cidr: 172.16.0.0/12}}]\n"
		"    ports: [{port: http}]\n");
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	assert_kernel_matches(e, &CFG);

	/* pod deleted, policy deleted */
	ck_assert_int_eq(engine_delete(e, OBJ_POD, "default", "web-1"), 0);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	assert_kernel_matches(e, &CFG);
	ck_assert_int_eq(engine_delete(e, OBJ_NETWORK_POLICY, "default", "web-egress"), 0);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	assert_kernel_matches(e, &CFG);
	ck_assert_uint_eq(stats(dp).kernel_errors, 0);
	dataplane_free(dp);
	engine_free(e);
}
END_TEST

/* Deny records, audit chains and fail-closed sets: built, adopted with an empty diff, updated. */
static const char *AUDIT_WORLD =
	"apiVersion: v1\nkind: Pod\nmetadata: {name: audited, namespace: default, labels: {app: audited}}\n"
	"spec: {nodeName: n1, containers: [{name: c}]}\n"
	"status: {phase: Running, podIPs: [{ip: 10.0.0.9}]}\n---\n"
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: watch-egress, namespace: default, annotations: {netpold.io/mode: audit}}\n"
	"spec:\n  podSelector: {matchLabels: {app: audited}}\n  policyTypes: [Egress]\n  egress:\n"
	"  - to: [{podSelector: {matchLabels: {app: client}}}]\n---\n"
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: watch-web, namespace: default, annotations: {netpold.io/mode: audit}}\n"
	"spec:\n  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Ingress]\n";

static size_t chain_rules(json_t *j, const char *chain, const char *needle)
{
	json_t *arr = json_object_get(j, "nftables"), *it;
	size_t i, n = 0;

	json_array_foreach(arr, i, it)
	{
		json_t *o = json_object_get(it, "rule");
		char *text;

		if (!o || strcmp(json_string_value(json_object_get(o, "chain")), chain) != 0)
			continue;
		text = json_dumps(json_object_get(o, "expr"), JSON_COMPACT);
		if (!needle || (text && strstr(text, needle)))
			n++;
		free(text);
	}
	return n;
}

START_TEST(test_records_audit_failclosed)
{
	struct cidr fc[2];
	struct dataplane_config cfg = CFG;
	struct engine *e;
	struct dataplane *dp;
	json_t *j;

	netns();
	ck_assert_int_eq(cidr_parse("10.0.0.0/16", &fc[0]), 0);
	ck_assert_int_eq(cidr_parse("fd00::/64", &fc[1]), 0);
	cfg.deny_log = true;
	cfg.nflog_group = 5417;
	cfg.log_rate = 10;
	cfg.log_burst = 20;
	cfg.fc_cidrs = fc;
	cfg.n_fc_cidrs = 2;
	e = world();
	load(e, AUDIT_WORLD);
	dp = dp_new(&cfg);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	assert_kernel_matches(e, &cfg);

	j = nft_json("nft -j list table inet netpold");
	/* audited pod: its audit rules, the audit log rule, then return; no drop */
	ck_assert_uint_eq(count_kind(j, "chain", "eg_default_audited"), 1);
	ck_assert_uint_eq(chain_rules(j, "eg_default_audited", "\"prefix\":\"np:ea:default/audited\""), 1);
	ck_assert_uint_eq(chain_rules(j, "eg_default_audited", "\"drop\""), 0);
	ck_assert_uint_eq(chain_rules(j, "eg_default_audited", "\"return\""), 3);
	/* web is isolated by an enforcing policy: the audit policy adds nothing */
	ck_assert_uint_eq(chain_rules(j, "in_default_web-1", "\"prefix\":\"np:i:default/web-1\""), 1);
	ck_assert_uint_eq(chain_rules(j, "in_default_web-1", "\"rate\":10"), 1);
	ck_assert_uint_eq(chain_rules(j, "in_default_web-1", "\"drop\""), 1);
	ck_assert_uint_eq(count_kind(j, "chain", "in_default_audited"), 0);
	/* fail-closed: every pod address in the ranges is known */
	ck_assert_uint_eq(set_elem_count(j, "fc_known4"), 5);
	ck_assert_uint_eq(set_elem_count(j, "fc_known6"), 2);
	ck_assert_uint_eq(chain_rules(j, "forward", "fc_known4"), 4);
	ck_assert_uint_eq(chain_rules(j, "input", "fc_known6"), 2);
	json_decref(j);
	if (getenv("NETPOLD_TEST_SHOW"))
		ck_assert_int_eq(system("nft list table inet netpold"), 0);
	dataplane_free(dp);

	/* restart: adopted, nothing committed */
	dp = dp_new(&cfg);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	ck_assert_uint_eq(stats(dp).commits, 0);
	ck_assert_uint_eq(stats(dp).last_batch_msgs, 0);

	/* a new pod in the range: one known element, incrementally; outside the range: none */
	load(e, "apiVersion: v1\nkind: Pod\nmetadata: {name: new, namespace: default, labels: {app: x}}\n"
		"spec: {nodeName: n2, containers: [{name: c}]}\n"
		"status: {phase: Running, podIPs: [{ip: 10.0.5.5}, {ip: 'fd01::5'}]}\n");
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	ck_assert_uint_eq(stats(dp).commits, 1);
	ck_assert_uint_eq(stats(dp).last_batch_elems, 1);
	assert_kernel_matches(e, &cfg);
	/* its address changes, then it goes */
	load(e, "apiVersion: v1\nkind: Pod\nmetadata: {name: new, namespace: default, labels: {app: x}}\n"
		"spec: {nodeName: n2, containers: [{name: c}]}\n"
		"status: {phase: Running, podIPs: [{ip: 10.0.5.6}]}\n");
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	ck_assert_uint_eq(stats(dp).last_batch_elems, 2);
	assert_kernel_matches(e, &cfg);
	ck_assert_int_eq(engine_delete(e, OBJ_POD, "default", "new"), 0);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	assert_kernel_matches(e, &cfg);

	/* the audit policy switched to enforce: the chain now drops */
	load(e, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		"metadata: {name: watch-egress, namespace: default}\n"
		"spec:\n  podSelector: {matchLabels: {app: audited}}\n  policyTypes: [Egress]\n  egress:\n"
		"  - to: [{podSelector: {matchLabels: {app: client}}}]\n");
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	assert_kernel_matches(e, &cfg);
	j = nft_json("nft -j list table inet netpold");
	ck_assert_uint_eq(chain_rules(j, "eg_default_audited", "\"prefix\":\"np:e:default/audited\""), 1);
	ck_assert_uint_eq(chain_rules(j, "eg_default_audited", "\"drop\""), 1);
	json_decref(j);
	/* and back to audit */
	load(e, AUDIT_WORLD);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	assert_kernel_matches(e, &cfg);
	ck_assert_uint_eq(stats(dp).kernel_errors, 0);
	dataplane_free(dp);

	/* without deny records the audit chain is pointless and goes; the log rules go too */
	cfg.deny_log = false;
	dp = dp_new(&cfg);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	assert_kernel_matches(e, &cfg);
	j = nft_json("nft -j list table inet netpold");
	ck_assert_uint_eq(count_kind(j, "chain", "eg_default_audited"), 0);
	ck_assert_uint_eq(chain_rules(j, "in_default_web-1", "\"log\""), 0);
	json_decref(j);
	dataplane_free(dp);
	engine_free(e);
}
END_TEST

static int wait_monitor(struct dataplane *dp)
{
	struct pollfd pfd = {.fd = dataplane_monitor_fd(dp), .events = POLLIN};
	int r = 0;

	while (poll(&pfd, 1, 500) > 0 && (r = dataplane_monitor_read(dp)) == 0)
		;
	return r;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

START_TEST(test_drift_repair)
{
	struct engine *e;
	struct dataplane *dp;

	netns();
	e = world();
	dp = dp_new(&CFG);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	/* our own commits are not drift */
	ck_assert_int_eq(dataplane_monitor_read(dp), 0);

	ck_assert_int_eq(system("nft delete element inet netpold ingress4 '{ 10.0.0.1 }'"), 0);
	ck_assert_int_eq(wait_monitor(dp), 1);
	double t0 = mono();
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	ck_assert_double_lt(mono() - t0, 1.0);
	assert_kernel_matches(e, &CFG);

	/* a chain flushed, a rule added to the base chain */
	ck_assert_int_eq(system("nft flush chain inet netpold in_default_web-2 && "
				"nft add rule inet netpold forward accept"),
			 0);
	ck_assert_int_eq(wait_monitor(dp), 1);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	assert_kernel_matches(e, &CFG);

	ck_assert_int_eq(system("nft flush ruleset"), 0);
	ck_assert_int_eq(wait_monitor(dp), 1);
	t0 = mono();
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	ck_assert_double_lt(mono() - t0, 1.0);
	assert_kernel_matches(e, &CFG);
	ck_assert_uint_ge(stats(dp).drift_repairs, 3);

	/* foreign changes elsewhere are not ours */
	ck_assert_int_eq(system("nft add table inet other"), 0);
	ck_assert_int_eq(wait_monitor(dp), 0);

	/* lost events: a tiny monitor buffer and a burst of notifications -> -ENOBUFS, resync */
	int small = 1;
	ck_assert_int_eq(setsockopt(dataplane_monitor_fd(dp), SOL_SOCKET, SO_RCVBUF, &small,
				    sizeof(small)),
			 0);
	ck_assert_int_eq(system("for i in $(seq 1 200); do echo \"add element inet netpold "
				"default_allow-web_in0_pods4 { 10.9.0.$i }\"; done | nft -f -"),
			 0);
	ck_assert_int_eq(wait_monitor(dp), -ENOBUFS);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	assert_kernel_matches(e, &CFG);
	dataplane_free(dp);
	engine_free(e);
}
END_TEST

START_TEST(test_cleanup)
{
	struct engine *e;
	struct dataplane *dp;

	netns();
	e = world();
	ck_assert_int_eq(dataplane_cleanup("netpold"), 0); /* absent: fine */
	dp = dp_new(&CFG);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	ck_assert_int_eq(dataplane_cleanup("netpold"), 0);
	ck_assert_int_ne(system("nft list table inet netpold >/dev/null 2>&1"), 0);
	/* the dataplane sees the deletion and rebuilds on the next sync */
	ck_assert_int_eq(wait_monitor(dp), 1);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	assert_kernel_matches(e, &CFG);
	dataplane_free(dp);
	engine_free(e);
}
END_TEST

START_TEST(test_reject_mode)
{
	struct dataplane_config cfg = CFG;
	struct engine *e;
	struct dataplane *dp;

	netns();
	cfg.deny_action = DENY_REJECT;
	e = world();
	dp = dp_new(&cfg);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	assert_kernel_matches(e, &cfg);
	ck_assert_int_eq(system("nft list chain inet netpold in_default_web-1 | "
				"grep -q 'reject with tcp reset'"),
			 0);
	dataplane_free(dp);
	/* switching the deny action replaces the chains, nothing else */
	dp = dp_new(&CFG);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	ck_assert_uint_eq(stats(dp).last_batch_elems, 0);
	assert_kernel_matches(e, &CFG);
	dataplane_free(dp);
	engine_free(e);
}
END_TEST

START_TEST(test_kernel_error_names_policy)
{
	struct engine *e;
	struct dataplane *dp;
	char path[] = "/tmp/netpold-test-nft-XXXXXX";
	char buf[4096] = {0};
	int fd, saved;

	netns();
	e = world();
	dp = dp_new(&CFG);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	/* someone else adds the element we are about to add: NLM_F_EXCL makes it fail */
	ck_assert_int_eq(system("nft add element inet netpold default_allow-web_in0_pods4 "
				"'{ 10.0.1.2 }'"),
			 0);
	(void)dataplane_monitor_read(dp); /* not polled: the incremental path still runs */
	dataplane_mark_resync(dp);
	/* a clean resync first... */
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	ck_assert_int_eq(system("nft add element inet netpold default_allow-web_in0_pods4 "
				"'{ 10.0.1.2 }'"),
			 0);
	load(e, "apiVersion: v1\nkind: Pod\nmetadata: {name: other, namespace: default, labels: {app: client}}\n"
		"spec: {nodeName: n2, containers: [{name: c}]}\n"
		"status: {phase: Running, podIPs: [{ip: 10.0.1.2}]}\n");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	saved = dup(2);
	dup2(fd, 2);
	int r = dataplane_sync(dp, e);
	dup2(saved, 2);
	close(saved);
	ck_assert_int_eq(r, -EEXIST);
	ck_assert_uint_eq(stats(dp).kernel_errors, 1);
	lseek(fd, 0, SEEK_SET);
	ck_assert_int_gt(read(fd, buf, sizeof(buf) - 1), 0);
	close(fd);
	unlink(path);
	ck_assert_msg(strstr(buf, "default/allow-web ingress[0]"), "log: %s", buf);
	/* the failed batch left the kernel as it was; the next sync resyncs */
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	assert_kernel_matches(e, &CFG);
	dataplane_free(dp);
	engine_free(e);
}
END_TEST

/* Many pods in one rule: elements per second of a big sync. */
START_TEST(test_big_sync)
{
	struct engine *e = engine_new();
	struct dataplane *dp;
	size_t n_pods = getenv("NETPOLD_BIG_PODS") ? strtoul(getenv("NETPOLD_BIG_PODS"), 0, 10)
						   : 20000;
	size_t cap = 400 * n_pods + 4096, len = 0;
	char *y = malloc(cap);

	netns();
	len += snprintf(y + len, cap - len, "%s", WORLD);
	for (size_t i = 0; i < n_pods; i++)
		len += snprintf(y + len, cap - len,
				"---\napiVersion: v1\nkind: Pod\nmetadata: {name: c%zu, namespace: default, "
				"labels: {app: client}}\nspec: {nodeName: n2}\n"
				"status: {phase: Running, podIPs: [{ip: 10.%zu.%zu.%zu}, {ip: 'fd01::%zx'}]}\n",
				i, 100 + i / 65536, (i / 256) % 256, i % 256, i + 1);
	load(e, y);
	free(y);
	engine_discard_changes(e);
	dp = dp_new(&CFG);
	double t0 = mono();
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	double t = mono() - t0;
	struct dataplane_stats s = stats(dp);
	fprintf(stderr,
		"big sync: %zu pods, %llu elements, %llu msgs, %.3f s total (commit %.3f s, kernel "
		"%.3f s), %.0f elements/s\n",
		n_pods, (unsigned long long)s.last_batch_elems, (unsigned long long)s.last_batch_msgs,
		t, s.last_commit_seconds, s.last_kernel_seconds, s.last_batch_elems / t);
	ck_assert_uint_ge(s.last_batch_elems, 2 * n_pods);
	/* the big batch was committed with the monitor out of its group: nothing to report */
	ck_assert_int_eq(dataplane_monitor_read(dp), 0);
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	ck_assert_uint_eq(stats(dp).commits, 1);
	dataplane_free(dp);
	/* adoption of the big table: empty diff */
	dp = dp_new(&CFG);
	t0 = mono();
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	fprintf(stderr, "big adopt: %.3f s, commits %llu\n", mono() - t0,
		(unsigned long long)stats(dp).commits);
	ck_assert_uint_eq(stats(dp).commits, 0);
	/* one pod leaves: one element */
	ck_assert_int_eq(engine_delete(e, OBJ_POD, "default", "c7"), 0);
	t0 = mono();
	ck_assert_int_eq(dataplane_sync(dp, e), 0);
	fprintf(stderr, "big incremental: %.4f s (kernel %.4f s), %llu elements\n", mono() - t0, stats(dp).last_kernel_seconds,
		(unsigned long long)stats(dp).last_batch_elems);
	/* its v4 and v6 address in the pods sets of allow-web ingress[0] and web-egress egress[0] */
	ck_assert_uint_eq(stats(dp).last_batch_elems, 4);
	dataplane_free(dp);
	engine_free(e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("nft");
	TCase *tc = tcase_create("kernel");
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr, "test_nft: needs root (network namespaces, nf_tables); skipped\n");
		return 77;
	}
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_full_sync_and_inspect);
	tcase_add_test(tc, test_restart_is_empty_diff);
	tcase_add_test(tc, test_counter_roundtrip);
	tcase_add_test(tc, test_incremental);
	tcase_add_test(tc, test_drift_repair);
	tcase_add_test(tc, test_cleanup);
	tcase_add_test(tc, test_reject_mode);
	tcase_add_test(tc, test_kernel_error_names_policy);
	tcase_add_test(tc, test_records_audit_failclosed);
	tcase_add_test(tc, test_big_sync);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK); /* each test unshares its own namespace */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
