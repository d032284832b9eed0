/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netpold: enforces Kubernetes NetworkPolicy for the pods of one node with
 * nftables. main() only parses the configuration, blocks the signals the
 * loop serves through signalfd, and runs struct daemon; exit codes are in
 * config.h and docs/daemon.md.
 */
#include <signal.h>
#include <stdio.h>

#include "caps.h"
#include "config.h"
#include "daemon.h"
#include "dataplane.h"
#include "log.h"

int main(int argc, char **argv)
{
	struct daemon d = {0};
	_cleanup_free_ char *err = NULL, *user = NULL, *cap_err = NULL;
	sigset_t mask;
	int r, net_admin;

	/* Before any input is read (configuration file, manifests, kubeconfig): CAP_NET_ADMIN only. */
	net_admin = config_cmdline_user(argc, argv, &user);
	if (net_admin >= 0)
		net_admin = caps_restrict(user, &cap_err);
	if (net_admin < 0) {
		if (cap_err)
			log_error("cannot drop privileges: %s", cap_err);
		else
			log_error_errno(net_admin, "cannot drop privileges");
		return EXIT_RUNTIME;
	}

	r = config_load(&d.cfg, argc, argv, CONFIG_DEFAULT_FILE, &err);
	if (r < 0) {
		if (err)
			log_error("%s", err);
		else
			log_error_errno(r, "cannot load the configuration");
		if (r == -EINVAL)
			fprintf(stderr, "Try 'netpold --help'.\n");
		return EXIT_USAGE;
	}
	log_set_level(d.cfg.log_level);

	switch (d.cfg.action) {
	case CONFIG_HELP:
		fputs(config_usage(), stdout);
		config_clear(&d.cfg);
		return EXIT_OK;
	case CONFIG_VERSION:
		printf("netpold %s\n", NETPOLD_VERSION);
		config_clear(&d.cfg);
		return EXIT_OK;
	case CONFIG_CLEANUP:
		r = dataplane_cleanup(d.cfg.table);
		if (r < 0)
			log_error_errno(r, "cannot remove table inet %s", d.cfg.table);
		else
			log_info("table inet %s removed", d.cfg.table);
		config_clear(&d.cfg);
		return r < 0 ? EXIT_RUNTIME : EXIT_OK;
	case CONFIG_RUN:
		break;
	}
	if (net_admin == 0)
		log_warning("running without CAP_NET_ADMIN: nftables will refuse to program table "
			    "inet %s",
			    d.cfg.table);

	/* The loop reads these from a signalfd; block them before anything else exists. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		log_error_errno(-errno, "sigprocmask failed");
		config_clear(&d.cfg);
		return EXIT_RUNTIME;
	}
	signal(SIGPIPE, SIG_IGN);

	d.argc = argc;
	d.argv = argv;
	d.default_config_file = CONFIG_DEFAULT_FILE;
	r = daemon_init(&d);
	if (r >= 0)
		r = daemon_run(&d);
	daemon_done(&d);
	if (r == -EADDRINUSE)
		return EXIT_INSTANCE;
	return r < 0 ? EXIT_RUNTIME : EXIT_OK;
}
