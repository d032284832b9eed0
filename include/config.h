/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netpold's configuration: built-in defaults, then the optional key=value
 * file (/etc/netpold/netpold.conf or --config), then the command line, which
 * always wins. The same parse runs again on SIGHUP. Never logs: errors come
 * back as a message for the caller to report.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "dataplane.h"

#define CONFIG_DEFAULT_FILE "/etc/netpold/netpold.conf"
#define CONFIG_DEFAULT_TABLE "netpold"
#define CONFIG_DEFAULT_STATUS_SOCKET "/run/netpold/netpold.sock"
#define CONFIG_MAX_FILE_BYTES (64u * 1024)
#define CONFIG_MAX_LINE 4096
#define CONFIG_MAX_TABLE_LEN 64
#define CONFIG_MAX_NODE_NAME_LEN 253
#define CONFIG_MAX_FC_CIDRS 16

/* Exit codes of netpold (docs/daemon.md). */
enum {
	EXIT_OK = 0,         /* clean stop, --help, --version, --cleanup done */
	EXIT_RUNTIME = 1,    /* could not start or run (netlink, sockets, memory) */
	EXIT_USAGE = 2,      /* bad command line or configuration file */
	EXIT_INSTANCE = 3,   /* another netpold answers on the status socket */
};

/* What the command line asked for besides running. */
enum config_action {
	CONFIG_RUN = 0,
	CONFIG_HELP,
	CONFIG_VERSION,
	CONFIG_CLEANUP,
};

struct config {
	enum config_action action;
	char *config_file; /* file read, or NULL when none (the default file may be absent) */
	/* sources: exactly one for now */
	char *manifests;
	char *kubeconfig; /* a file or ':'-list; NULL: --manifests or in-cluster */
	char *context;    /* kubeconfig context overriding current-context */
	bool in_cluster;  /* the pod's service account and KUBERNETES_SERVICE_HOST/PORT */
	/* node and dataplane */
	char *node_name;
	char *table;
	enum deny_action deny_action;
	/* status socket */
	char *status_socket;
	char *socket_group; /* NULL: keep the process group */
	char *metrics_address; /* HOST:PORT of the Prometheus listener; NULL: off */
	char *user;         /* --user (command line only): caps_restrict() switched to it */
	/* deny records and fail-closed (docs/deny-records.md); restart-only */
	bool deny_log;            /* --deny-log on|off [on] */
	uint16_t nflog_group;     /* --nflog-group [5417] */
	uint32_t deny_log_rate;   /* --deny-log-rate RATE[/BURST]: per second [10] */
	uint32_t deny_log_burst;  /* [20] */
	struct cidr fc_cidrs[CONFIG_MAX_FC_CIDRS]; /* --fail-closed-cidr, repeatable */
	size_t n_fc_cidrs;
	int log_level;
};

/*
 * Build cfg from defaults, NODE_NAME in the environment, the configuration
 * file (the one named by --config, else default_file if it exists; default_file
 * may be NULL) and argv (not modified). Returns 0, or -EINVAL (bad option or
 * value, *ret_err set to an allocated message naming the option or
 * file:line), -ENOENT/-EACCES/... when an explicitly named file cannot be read,
 * -ENOMEM. On failure cfg is left cleared.
 */
int config_load(struct config *cfg, int argc, char *const *argv, const char *default_file,
		char **ret_err);

void config_clear(struct config *cfg);

/*
 * The --user value of argv (allocated, or NULL when absent or when argv does
 * not parse), without reading any file: privileges are dropped before the
 * configuration file is read. Returns 0 or -ENOMEM.
 */
int config_cmdline_user(int argc, char *const *argv, char **ret_user);

/* The text printed by --help. */
const char *config_usage(void);

/* "drop" / "reject" */
const char *deny_action_name(enum deny_action a);
