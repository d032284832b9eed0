/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Command line and configuration file parsing. The file takes the long
 * option names as keys ("table = netpold"); the command line is applied
 * after it, so it always wins. Every value is checked here, once, so the
 * rest of the daemon can trust struct config.
 */
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config.h"
#include "log.h"
#include "metrics.h"

enum opt_id {
	OPT_MANIFESTS = 'm',
	OPT_NODE_NAME = 'n',
	OPT_CONFIG = 'c',
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_TABLE = 0x100,
	OPT_DENY_ACTION,
	OPT_STATUS_SOCKET,
	OPT_SOCKET_GROUP,
	OPT_USER,
	OPT_LOG_LEVEL,
	OPT_CLEANUP,
	OPT_KUBECONFIG,
	OPT_CONTEXT,
	OPT_IN_CLUSTER,
	OPT_METRICS_ADDRESS,
	OPT_DENY_LOG,
	OPT_DENY_LOG_RATE,
	OPT_NFLOG_GROUP,
	OPT_FAIL_CLOSED_CIDR,
};

struct opt_def {
	const char *name;
	int id;
	bool has_arg;
	bool in_file; /* may appear in the configuration file */
};

static const struct opt_def opt_defs[] = {
	{"manifests", OPT_MANIFESTS, true, true},
	{"node-name", OPT_NODE_NAME, true, true},
	{"table", OPT_TABLE, true, true},
	{"deny-action", OPT_DENY_ACTION, true, true},
	{"status-socket", OPT_STATUS_SOCKET, true, true},
	{"socket-group", OPT_SOCKET_GROUP, true, true},
	{"metrics-address", OPT_METRICS_ADDRESS, true, true},
	{"user", OPT_USER, true, false}, /* switched to before the file is read */
	{"log-level", OPT_LOG_LEVEL, true, true},
	{"config", OPT_CONFIG, true, false},
	{"cleanup", OPT_CLEANUP, false, false},
	{"kubeconfig", OPT_KUBECONFIG, true, true},
	{"context", OPT_CONTEXT, true, true},
	{"in-cluster", OPT_IN_CLUSTER, false, false},
	{"deny-log", OPT_DENY_LOG, true, true},
	{"deny-log-rate", OPT_DENY_LOG_RATE, true, true},
	{"nflog-group", OPT_NFLOG_GROUP, true, true},
	{"fail-closed-cidr", OPT_FAIL_CLOSED_CIDR, true, true},
	{"version", OPT_VERSION, false, false},
	{"help", OPT_HELP, false, false},
};

static const char usage_text[] =
	"Usage: netpold --manifests DIR --node-name NAME [OPTIONS]\n"
	"Enforce Kubernetes NetworkPolicy on this node with nftables.\n"
	"\n"
	"  -m, --manifests DIR        folder of Namespace/Pod/NetworkPolicy/Service manifests\n"
	"      --kubeconfig FILE      watch the API server of this kubeconfig (or a ':'-list;\n"
	"                             default: $KUBECONFIG, else in-cluster when available)\n"
	"      --context NAME         kubeconfig context to use [current-context]\n"
	"      --in-cluster           use the pod's service account and KUBERNETES_SERVICE_HOST\n"
	"  -n, --node-name NAME       this node's name (default: $NODE_NAME)\n"
	"      --table NAME           nftables table (inet family) owned by netpold [netpold]\n"
	"      --deny-action ACTION   drop | reject [drop]\n"
	"      --status-socket PATH   status socket [" CONFIG_DEFAULT_STATUS_SOCKET "]\n"
	"      --socket-group GROUP   group allowed to use the status socket\n"
	"      --metrics-address HOST:PORT  serve /metrics, /healthz, /readyz over TCP\n"
	"                             (numeric, e.g. 127.0.0.1:9617) [off]\n"
	"      --user USER            run as USER (name or number), keeping only CAP_NET_ADMIN\n"
	"      --deny-log on|off      deny records: rate-limited NFLOG rules before every deny [on]\n"
	"      --deny-log-rate RATE[/BURST]  records per second per pod and direction [10/20]\n"
	"      --nflog-group N        NFLOG group of the deny records [5417]\n"
	"      --fail-closed-cidr CIDR  reject addresses in CIDR that are no known pod's\n"
	"                             (repeatable; e.g. the node's pod range) [off]\n"
	"      --log-level LEVEL      error | warning | notice | info | debug [info]\n"
	"  -c, --config FILE          configuration file [" CONFIG_DEFAULT_FILE "]\n"
	"      --cleanup              remove netpold's table and exit\n"
	"  -V, --version              print the version and exit\n"
	"  -h, --help                 print this help and exit\n"
	"\n"
	"The configuration file holds key = value lines using the long option names;\n"
	"command-line options override it. SIGHUP re-reads it and rescans the source.\n";

const char *config_usage(void)
{
	return usage_text;
}

const char *deny_action_name(enum deny_action a)
{
	return a == DENY_REJECT ? "reject" : "drop";
}

static int fail(char **ret_err, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(char **ret_err, int r, const char *fmt, ...)
{
	va_list ap;

	if (ret_err) {
		va_start(ap, fmt);
		if (vasprintf(ret_err, fmt, ap) < 0)
			*ret_err = NULL;
		va_end(ap);
	}
	return r;
}

void config_clear(struct config *cfg)
{
	free(cfg->config_file);
	free(cfg->manifests);
	free(cfg->kubeconfig);
	free(cfg->context);
	free(cfg->node_name);
	free(cfg->table);
	free(cfg->status_socket);
	free(cfg->socket_group);
	free(cfg->metrics_address);
	free(cfg->user);
	*cfg = (struct config){0};
}

static bool all_chars(const char *s, const char *extra, bool upper)
{
	for (; *s; s++) {
		char c = *s;

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (upper && c >= 'A' && c <= 'Z') || (c && strchr(extra, c)))
			continue;
		return false;
	}
	return true;
}

static int set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

/* Check and store one value; where names the option or file:line for messages. */
static int apply_value(struct config *cfg, const struct opt_def *def, const char *v,
		       const char *where, char **ret_err)
{
	size_t len = v ? strlen(v) : 0;
	int r;

	switch (def->id) {
	case OPT_MANIFESTS:
		if (len == 0 || len >= PATH_MAX)
			return fail(ret_err, -EINVAL, "%s: invalid folder \"%s\"", where, v);
		return set_string(&cfg->manifests, v);
	case OPT_NODE_NAME:
		if (len == 0 || len > CONFIG_MAX_NODE_NAME_LEN || !all_chars(v, "-.", false))
			return fail(ret_err, -EINVAL,
				    "%s: invalid node name \"%s\" (lowercase DNS subdomain)", where,
				    v);
		return set_string(&cfg->node_name, v);
	case OPT_TABLE:
		if (len == 0 || len > CONFIG_MAX_TABLE_LEN || !all_chars(v, "-_", true))
			return fail(ret_err, -EINVAL,
				    "%s: invalid table name \"%s\" (letters, digits, '-', '_')",
				    where, v);
		return set_string(&cfg->table, v);
	case OPT_DENY_ACTION:
		if (strcmp(v, "drop") == 0)
			cfg->deny_action = DENY_DROP;
		else if (strcmp(v, "reject") == 0)
			cfg->deny_action = DENY_REJECT;
		else
			return fail(ret_err, -EINVAL, "%s: \"%s\" is neither drop nor reject",
				    where, v);
		return 0;
	case OPT_STATUS_SOCKET:
		if (v[0] != '/' || len >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return fail(ret_err, -EINVAL,
				    "%s: \"%s\" is not an absolute path shorter than %zu bytes",
				    where, v, sizeof(((struct sockaddr_un *)0)->sun_path));
		return set_string(&cfg->status_socket, v);
	case OPT_SOCKET_GROUP:
		if (len == 0 || len > 32 || !all_chars(v, "-_.", true))
			return fail(ret_err, -EINVAL, "%s: invalid group name \"%s\"", where, v);
		return set_string(&cfg->socket_group, v);
	case OPT_METRICS_ADDRESS: {
		struct sockaddr_storage sa;
		socklen_t sl;

		if (len > 64 || metrics_address_parse(v, &sa, &sl) < 0)
			return fail(ret_err, -EINVAL,
				    "%s: invalid address \"%s\" (numeric HOST:PORT, [IPv6]:PORT)",
				    where, v);
		return set_string(&cfg->metrics_address, v);
	}
	case OPT_USER:
		if (len == 0 || len > 32 || !all_chars(v, "-_.", true))
			return fail(ret_err, -EINVAL, "%s: invalid user name \"%s\"", where, v);
		return set_string(&cfg->user, v);
	case OPT_DENY_LOG:
		if (strcmp(v, "on") == 0)
			cfg->deny_log = true;
		else if (strcmp(v, "off") == 0)
			cfg->deny_log = false;
		else
			return fail(ret_err, -EINVAL, "%s: \"%s\" is neither on nor off", where, v);
		return 0;
	case OPT_DENY_LOG_RATE: {
		char rate[32];
		const char *slash = strchr(v, '/');
		int64_t rv, bv;

		if (len >= sizeof(rate))
			return fail(ret_err, -EINVAL, "%s: invalid rate \"%s\"", where, v);
		snprintf(rate, sizeof(rate), "%.*s", (int)(slash ? (size_t)(slash - v) : len), v);
		if (parse_int64(rate, 1, 100000, &rv) < 0 ||
		    (slash && parse_int64(slash + 1, 1, 1000000, &bv) < 0))
			return fail(ret_err, -EINVAL,
				    "%s: invalid rate \"%s\" (RATE[/BURST], packets per second, "
				    "1-100000)",
				    where, v);
		cfg->deny_log_rate = (uint32_t)rv;
		cfg->deny_log_burst = slash ? (uint32_t)bv : (uint32_t)(2 * rv);
		return 0;
	}
	case OPT_NFLOG_GROUP: {
		int64_t g;

		if (parse_int64(v, 0, 65535, &g) < 0)
			return fail(ret_err, -EINVAL, "%s: invalid NFLOG group \"%s\" (0-65535)",
				    where, v);
		cfg->nflog_group = (uint16_t)g;
		return 0;
	}
	case OPT_FAIL_CLOSED_CIDR:
		if (cfg->n_fc_cidrs == CONFIG_MAX_FC_CIDRS)
			return fail(ret_err, -EINVAL, "%s: more than %d ranges", where,
				    CONFIG_MAX_FC_CIDRS);
		if (len > 64 || cidr_parse(v, &cfg->fc_cidrs[cfg->n_fc_cidrs]) < 0)
			return fail(ret_err, -EINVAL, "%s: invalid CIDR \"%s\"", where, v);
		cfg->n_fc_cidrs++;
		return 0;
	case OPT_LOG_LEVEL:
		r = log_level_parse(v);
		if (r < 0)
			return fail(ret_err, -EINVAL,
				    "%s: unknown log level \"%s\" (error, warning, notice, info, "
				    "debug)",
				    where, v);
		cfg->log_level = r;
		return 0;
	case OPT_CONFIG:
		if (len == 0 || len >= PATH_MAX)
			return fail(ret_err, -EINVAL, "%s: invalid file name", where);
		return set_string(&cfg->config_file, v);
	case OPT_CLEANUP:
		cfg->action = CONFIG_CLEANUP;
		return 0;
	case OPT_KUBECONFIG:
		if (len == 0 || len >= 16 * PATH_MAX)
			return fail(ret_err, -EINVAL, "%s: invalid file name \"%s\"", where, v);
		return set_string(&cfg->kubeconfig, v);
	case OPT_CONTEXT:
		if (len == 0 || len > CONFIG_MAX_NODE_NAME_LEN)
			return fail(ret_err, -EINVAL, "%s: invalid context name \"%s\"", where, v);
		return set_string(&cfg->context, v);
	case OPT_IN_CLUSTER:
		cfg->in_cluster = true;
		return 0;
	case OPT_VERSION:
		if (cfg->action != CONFIG_HELP)
			cfg->action = CONFIG_VERSION;
		return 0;
	case OPT_HELP:
		cfg->action = CONFIG_HELP;
		return 0;
	}
	return -EINVAL;
}

static const struct opt_def *opt_by_id(int id)
{
	for (size_t i = 0; i < ELEMENTSOF(opt_defs); i++)
		if (opt_defs[i].id == id)
			return &opt_defs[i];
	return NULL;
}

static const struct opt_def *opt_by_name(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(opt_defs); i++)
		if (strcmp(opt_defs[i].name, name) == 0)
			return &opt_defs[i];
	return NULL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = '\0';
	return s;
}

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

/* Read path (bounded) into a NUL-terminated buffer. */
static int read_file(const char *path, char **ret, char **ret_err)
{
	_cleanup_(fclosep) FILE *f = NULL;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t n;

	f = fopen(path, "re");
	if (!f)
		return fail(ret_err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) < 0)
		return fail(ret_err, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(ret_err, -EINVAL, "%s: not a regular file", path);
	if ((size_t)st.st_size > CONFIG_MAX_FILE_BYTES)
		return fail(ret_err, -EINVAL, "%s: larger than %u bytes", path,
			    CONFIG_MAX_FILE_BYTES);
	buf = malloc(CONFIG_MAX_FILE_BYTES + 1);
	if (!buf)
		return -ENOMEM;
	n = fread(buf, 1, CONFIG_MAX_FILE_BYTES + 1, f);
	if (ferror(f))
		return fail(ret_err, -EIO, "%s: read error", path);
	if (n > CONFIG_MAX_FILE_BYTES)
		return fail(ret_err, -EINVAL, "%s: larger than %u bytes", path,
			    CONFIG_MAX_FILE_BYTES);
	if (memchr(buf, '\0', n))
		return fail(ret_err, -EINVAL, "%s: contains a NUL byte", path);
	buf[n] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

static int load_file(struct config *cfg, const char *path, char **ret_err)
{
	_cleanup_free_ char *buf = NULL;
	char *line, *next;
	unsigned lineno = 0;
	int r;

	r = read_file(path, &buf, ret_err);
	if (r < 0)
		return r;
	for (line = buf; line; line = next) {
		const struct opt_def *def;
		char where[PATH_MAX + 32];
		char *eq, *key, *value;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (strlen(line) > CONFIG_MAX_LINE)
			return fail(ret_err, -EINVAL, "%s: line longer than %u bytes", where,
				    CONFIG_MAX_LINE);
		line = trim(line);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq)
			return fail(ret_err, -EINVAL, "%s: expected key = value", where);
		*eq = '\0';
		key = trim(line);
		value = trim(eq + 1);
		def = opt_by_name(key);
		if (!def)
			return fail(ret_err, -EINVAL, "%s: unknown key \"%s\"", where, key);
		if (!def->in_file)
			return fail(ret_err, -EINVAL, "%s: \"%s\" is a command-line option only",
				    where, key);
		if (value[0] == '\0')
			return fail(ret_err, -EINVAL, "%s: empty value for \"%s\"", where, key);
		r = apply_value(cfg, def, value, where, ret_err);
		if (r < 0)
			return r;
	}
	return 0;
}

struct cli_item {
	const struct opt_def *def;
	const char *value;
};

/* Split argv into options; nothing is applied yet (the file comes first). */
static int parse_argv(int argc, char *const *argv, struct cli_item *items, size_t *n_items,
		      char **ret_err)
{
	struct option longopts[ELEMENTSOF(opt_defs) + 1];
	char shortopts[32] = "+:"; /* '+': stop at the first operand; ':': report missing args */
	size_t n = 0, s = 2;
	int c;

	for (size_t i = 0; i < ELEMENTSOF(opt_defs); i++) {
		const struct opt_def *d = &opt_defs[i];

		longopts[i] = (struct option){d->name, d->has_arg ? required_argument : no_argument,
					      NULL, d->id};
		if (d->id < 0x100) {
			shortopts[s++] = (char)d->id;
			if (d->has_arg)
				shortopts[s++] = ':';
		}
	}
	longopts[ELEMENTSOF(opt_defs)] = (struct option){0};
	shortopts[s] = '\0';

	optind = 0; /* full reset of glibc's getopt state: we parse again on SIGHUP */
	opterr = 0;
	while ((c = getopt_long(argc, (char **)argv, shortopts, longopts, NULL)) != -1) {
		const struct opt_def *d;

		if (c == '?') {
			const char *arg = argv[optind - 1];

			if (strncmp(arg, "--", 2) != 0)
				return fail(ret_err, -EINVAL, "unknown option -%c", optopt);
			if (optopt) /* a known long option given a value it does not take */
				return fail(ret_err, -EINVAL, "option %s takes no value", arg);
			return fail(ret_err, -EINVAL, "unknown option %s", arg);
		}
		if (c == ':')
			return fail(ret_err, -EINVAL, "option %s needs a value", argv[optind - 1]);
		d = opt_by_id(c);
		if (!d || n >= (size_t)argc)
			return fail(ret_err, -EINVAL, "cannot parse the command line");
		items[n++] = (struct cli_item){d, d->has_arg ? optarg : NULL};
	}
	if (optind < argc)
		return fail(ret_err, -EINVAL, "unexpected argument \"%s\"", argv[optind]);
	*n_items = n;
	return 0;
}

static int load(struct config *cfg, int argc, char *const *argv, const char *default_file,
		char **ret_err)
{
	_cleanup_free_ struct cli_item *items = NULL;
	const char *file = NULL, *env;
	size_t n_items = 0;
	int r;

	*cfg = (struct config){.deny_action = DENY_DROP,
			       .log_level = LOG_INFO,
			       .deny_log = true,
			       .nflog_group = 5417, /* NFLOG_DEFAULT_GROUP */
			       .deny_log_rate = 10,
			       .deny_log_burst = 20};
	if (set_string(&cfg->table, CONFIG_DEFAULT_TABLE) < 0 ||
	    set_string(&cfg->status_socket, CONFIG_DEFAULT_STATUS_SOCKET) < 0)
		return -ENOMEM;
	env = getenv("NODE_NAME");
	if (env && env[0]) {
		r = apply_value(cfg, opt_by_id(OPT_NODE_NAME), env, "NODE_NAME", ret_err);
		if (r < 0)
			return r;
	}

	items = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*items));
	if (!items)
		return -ENOMEM;
	r = parse_argv(argc, argv, items, &n_items, ret_err);
	if (r < 0)
		return r;

	for (size_t i = 0; i < n_items; i++)
		if (items[i].def->id == OPT_CONFIG)
			file = items[i].value;
	if (file) {
		r = load_file(cfg, file, ret_err);
		if (r < 0)
			return r;
	} else if (default_file && access(default_file, F_OK) == 0) {
		file = default_file;
		r = load_file(cfg, file, ret_err);
		if (r < 0)
			return r;
	}
	if (file && set_string(&cfg->config_file, file) < 0)
		return -ENOMEM;

	for (size_t i = 0; i < n_items; i++) {
		char where[64];

		if (items[i].def->id == OPT_CONFIG)
			continue;
		snprintf(where, sizeof(where), "--%s", items[i].def->name);
		r = apply_value(cfg, items[i].def, items[i].value, where, ret_err);
		if (r < 0)
			return r;
	}

	if (cfg->action != CONFIG_RUN)
		return 0;
	if (cfg->manifests && (cfg->kubeconfig || cfg->in_cluster))
		return fail(ret_err, -EINVAL,
			    "--manifests cannot be combined with --kubeconfig or --in-cluster");
	if (cfg->kubeconfig && cfg->in_cluster)
		return fail(ret_err, -EINVAL, "--kubeconfig and --in-cluster are exclusive");
	if (!cfg->manifests && !cfg->kubeconfig && !cfg->in_cluster) {
		/* as kubectl: $KUBECONFIG, then the in-cluster service account */
		env = getenv("KUBECONFIG");
		if (env && env[0]) {
			if (set_string(&cfg->kubeconfig, env) < 0)
				return -ENOMEM;
		} else if (getenv("KUBERNETES_SERVICE_HOST")) {
			cfg->in_cluster = true;
		} else {
			return fail(ret_err, -EINVAL,
				    "--manifests is required (or --kubeconfig, $KUBECONFIG, "
				    "--in-cluster; see --help)");
		}
	}
	if (!cfg->node_name)
		return fail(ret_err, -EINVAL, "--node-name or NODE_NAME is required");
	return 0;
}

int config_load(struct config *cfg, int argc, char *const *argv, const char *default_file,
		char **ret_err)
{
	int r;

	if (ret_err)
		*ret_err = NULL;
	r = load(cfg, argc, argv, default_file, ret_err);
	if (r < 0)
		config_clear(cfg);
	return r;
}

int config_cmdline_user(int argc, char *const *argv, char **ret_user)
{
	_cleanup_free_ struct cli_item *items = NULL;
	size_t n_items = 0;
	char *user = NULL;

	*ret_user = NULL;
	items = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*items));
	if (!items)
		return -ENOMEM;
	/* a bad command line is config_load()'s to report */
	if (parse_argv(argc, argv, items, &n_items, NULL) < 0)
		return 0;
	for (size_t i = 0; i < n_items; i++)
		if (items[i].def->id == OPT_USER)
			user = (char *)items[i].value;
	if (!user)
		return 0;
	*ret_user = strdup(user);
	return *ret_user ? 0 : -ENOMEM;
}
