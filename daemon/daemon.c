/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netpold's core: wires the source, the engine, the dataplane and the status
 * socket to one epoll loop. Handlers only mark state dirty; the before-sleep
 * hook runs at most one reconcile per pass (source sync, then one atomic
 * dataplane batch), and failures retry with backoff instead of exiting.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "events.h"
#include "k8s.h"
#include "log.h"
#include "nflog.h"
#include "status.h"

static void set_reason(struct daemon *d, const char *fmt, ...) _printf_(2, 3);
static void set_reason(struct daemon *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

static void on_source_notify(void *ud)
{
	daemon_source_changed(ud, false);
}

void daemon_source_changed(struct daemon *d, bool full)
{
	uint64_t now = loop_now_usec(), when;

	d->source_dirty = true;
	d->source_full |= full;
	if (!d->dirty_since)
		d->dirty_since = now;
	/* Wait for the burst to settle, but never longer than the max delay since the first event. */
	when = now + DAEMON_DEBOUNCE_USEC;
	if (when > d->dirty_since + DAEMON_MAX_DELAY_USEC)
		when = d->dirty_since + DAEMON_MAX_DELAY_USEC;
	loop_timer_arm_at(d->debounce_timer, when);
}

void daemon_schedule_now(struct daemon *d)
{
	d->reconcile_due = true;
}

uint64_t daemon_request_sync(struct daemon *d)
{
	d->source_dirty = true;
	d->source_full = true;
	daemon_schedule_now(d);
	return ++d->sync_requests;
}

static void on_debounce(struct loop *l, void *ud)
{
	daemon_schedule_now(ud);
}

static void on_retry(struct loop *l, void *ud)
{
	daemon_schedule_now(ud);
}

static int count_local(void *ud, const struct pod_obj *p)
{
	struct daemon *d = ud;

	if (p->node_name && strcmp(p->node_name, d->cfg.node_name) == 0)
		d->counts.local_pods++;
	return 0;
}

static void update_counts(struct daemon *d)
{
	struct engine_counts c;

	engine_counts(d->engine, &c);
	d->counts = (struct daemon_counts){.namespaces = c.namespaces,
					   .pods = c.pods,
					   .policies = c.policies,
					   .services = c.services};
	(void)engine_foreach_pod(d->engine, count_local, d);
}

static void reconcile_failed(struct daemon *d, int r, const char *what)
{
	d->reconcile_failures++;
	d->last.error = r;
	snprintf(d->last.error_text, sizeof(d->last.error_text), "%s: %s", what, strerror(-r));
	d->retry_usec = d->retry_usec ? d->retry_usec * 2 : DAEMON_RETRY_MIN_USEC;
	if (d->retry_usec > DAEMON_RETRY_MAX_USEC)
		d->retry_usec = DAEMON_RETRY_MAX_USEC;
	loop_timer_arm(d->retry_timer, d->retry_usec);
	if (!d->degraded || strcmp(d->reason, d->last.error_text) != 0) {
		log_warning("reconcile failed (%s), retrying with backoff", d->last.error_text);
		sd_notifyf(0, "STATUS=degraded: %s", d->last.error_text);
	} else
		log_debug("reconcile failed again (%s), next try in %.1fs", d->last.error_text,
			  (double)d->retry_usec / 1e6);
	d->degraded = true;
	set_reason(d, "%s", d->last.error_text);
}

void daemon_reconcile(struct daemon *d)
{
	uint64_t t0 = loop_now_usec(), covered = d->sync_requests;
	struct dataplane_stats before, after;
	int r_src = 0, r_dp;

	loop_timer_disarm(d->debounce_timer);
	loop_timer_disarm(d->retry_timer);
	d->reconciles++;

	if (d->source_dirty) {
		bool full = d->source_full;
		uint64_t since = d->dirty_since ? d->dirty_since : t0; /* for the latency metric */

		pod_latency_input(&d->pod_latency, since);

		d->source_dirty = false;
		d->source_full = false;
		d->dirty_since = 0;
		r_src = d->source->ops->sync(d->source, d->engine, full);
		status_server_source_synced(d->status, r_src, since);
		if (r_src < 0) {
			/* stay dirty: the retry reads the source again */
			d->source_dirty = true;
		} else if (r_src > 0) {
			d->input_generation++;
			update_counts(d);
		}
	}

	/* Even when the source failed: what the engine holds is still enforced and drift repaired. */
	dataplane_get_stats(d->dp, &before);
	r_dp = dataplane_sync(d->dp, d->engine);
	if (r_dp >= 0)
		pod_latency_committed(&d->pod_latency, loop_now_usec());
	dataplane_get_stats(d->dp, &after);

	d->last.valid = true;
	clock_gettime(CLOCK_REALTIME, &d->last.time);
	d->last.duration_seconds = (double)(loop_now_usec() - t0) / 1e6;
	if (after.commits != before.commits) {
		d->last.batch_messages = after.last_batch_msgs;
		d->last.batch_elements = after.last_batch_elems;
	} else {
		d->last.batch_messages = 0;
		d->last.batch_elements = 0;
	}
	d->last.error = 0;
	d->last.error_text[0] = '\0';

	if (r_dp >= 0)
		d->programmed_generation = d->input_generation;
	if (r_dp < 0)
		reconcile_failed(d, r_dp, "dataplane");
	else if (r_src < 0)
		reconcile_failed(d, r_src, "source");
	else {
		if (d->degraded && !source_degraded(d->source)) {
			log_info("reconcile succeeded again after %s", d->reason);
			if (d->ready)
				sd_notify(0, "STATUS=enforcing");
		}
		d->degraded = false;
		d->reason[0] = '\0';
		d->retry_usec = 0;
		if (!d->ready && d->source->ops->synced(d->source)) {
			d->ready = true;
			log_info("ready: table inet %s programmed (%zu local pods, %zu policies, "
				 "generation %" PRIu64 ")",
				 d->cfg.table, d->counts.local_pods, d->counts.policies,
				 d->programmed_generation);
			sd_notify(0, "READY=1\nSTATUS=enforcing");
		}
		d->sync_served = covered;
	}
	/* a source that cannot follow its input: the last known state stays enforced */
	if (r_src >= 0 && r_dp >= 0 && source_degraded(d->source)) {
		d->degraded = true;
		set_reason(d, "%s", source_degraded(d->source));
	}
	if (!d->ready && !d->degraded)
		set_reason(d, "waiting for the first sync");
	else if (d->ready && !d->degraded)
		d->reason[0] = '\0';
	status_server_reconciled(d->status, covered, r_src >= 0 && r_dp >= 0);
}

static void before_sleep(struct loop *l, void *ud)
{
	struct daemon *d = ud;

	if (!d->reconcile_due)
		return;
	d->reconcile_due = false;
	daemon_reconcile(d);
}

static void on_monitor(struct loop *l, int fd, uint32_t events, void *ud)
{
	struct daemon *d = ud;
	int r;

	r = dataplane_monitor_read(d->dp);
	if (r == 0 || r == -EAGAIN || r == -EINTR)
		return;
	if (r == 1)
		log_notice("table inet %s changed by someone else, repairing", d->cfg.table);
	else if (r == -ENOBUFS)
		log_notice("nftables monitor lost events, resyncing table inet %s", d->cfg.table);
	else
		log_warning_errno(r, "nftables monitor read failed, resyncing table inet %s",
				  d->cfg.table);
	if (r < 0)
		dataplane_mark_resync(d->dp);
	daemon_schedule_now(d);
}

/* Keep settings that only take effect at start; say so once per reload. */
static void keep_restart_only(struct daemon *d, struct config *n)
{
	static const char msg[] = "reload: %s changed in the configuration; restart netpold to "
				  "apply it";
#define KEEP_STR(field, name)                                                                      \
	do {                                                                                       \
		if (!!n->field != !!d->cfg.field ||                                                \
		    (n->field && strcmp(n->field, d->cfg.field) != 0)) {                           \
			log_warning(msg, name);                                                    \
			free(n->field);                                                            \
			n->field = strdup_or_null(d->cfg.field);                                   \
		}                                                                                  \
	} while (0)
	KEEP_STR(manifests, "manifests");
	KEEP_STR(kubeconfig, "kubeconfig");
	KEEP_STR(context, "context");
	n->in_cluster = d->cfg.in_cluster;
	KEEP_STR(node_name, "node-name");
	KEEP_STR(table, "table");
	KEEP_STR(status_socket, "status-socket");
	KEEP_STR(socket_group, "socket-group");
	KEEP_STR(metrics_address, "metrics-address");
#undef KEEP_STR
	if (n->deny_log != d->cfg.deny_log || n->nflog_group != d->cfg.nflog_group ||
	    n->deny_log_rate != d->cfg.deny_log_rate || n->deny_log_burst != d->cfg.deny_log_burst ||
	    n->n_fc_cidrs != d->cfg.n_fc_cidrs ||
	    memcmp(n->fc_cidrs, d->cfg.fc_cidrs, sizeof(n->fc_cidrs)) != 0) {
		log_warning(msg, "deny-log, deny-log-rate, nflog-group or fail-closed-cidr");
		n->deny_log = d->cfg.deny_log;
		n->nflog_group = d->cfg.nflog_group;
		n->deny_log_rate = d->cfg.deny_log_rate;
		n->deny_log_burst = d->cfg.deny_log_burst;
		n->n_fc_cidrs = d->cfg.n_fc_cidrs;
		memcpy(n->fc_cidrs, d->cfg.fc_cidrs, sizeof(n->fc_cidrs));
	}
	if (n->deny_action != d->cfg.deny_action) {
		log_warning(msg, "deny-action");
		n->deny_action = d->cfg.deny_action;
	}
}

static void reload(struct daemon *d)
{
	struct config n;
	_cleanup_free_ char *err = NULL;
	int r;

	sd_notify(0, "RELOADING=1");
	r = config_load(&n, d->argc, d->argv, d->default_config_file, &err);
	if (r < 0) {
		if (err)
			log_error("reload: %s; keeping the current configuration", err);
		else
			log_error_errno(r, "reload failed; keeping the current configuration");
	} else if (n.action != CONFIG_RUN) {
		config_clear(&n);
	} else {
		keep_restart_only(d, &n);
		if (n.log_level != d->cfg.log_level)
			log_info("reload: log level now %d", n.log_level);
		log_set_level(n.log_level);
		config_clear(&d->cfg);
		d->cfg = n;
		log_info("reload: configuration re-read%s%s", d->cfg.config_file ? " from " : "",
			 d->cfg.config_file ? d->cfg.config_file : "");
	}
	daemon_source_changed(d, true);
	daemon_schedule_now(d);
	sd_notify(0, "READY=1");
}

static void on_signal(struct loop *l, int fd, uint32_t events, void *ud)
{
	struct daemon *d = ud;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("stopping on %s; table inet %s stays in place",
				 strsignal((int)si.ssi_signo), d->cfg.table);
			sd_notify(0, "STOPPING=1");
			loop_stop(l, 0);
			break;
		case SIGHUP:
			log_info("SIGHUP: reloading the configuration and rescanning the source");
			reload(d);
			break;
		default:
			break;
		}
	}
}

static int setup_signals(struct daemon *d)
{
	sigset_t mask;
	int r;

	/* main() already blocked these before anything else started */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	d->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->signal_fd < 0)
		return log_error_errno(-errno, "signalfd failed");
	r = loop_io_add(d->loop, d->signal_fd, EPOLLIN, on_signal, d, &d->signal_io);
	if (r < 0)
		return log_error_errno(r, "cannot watch signals");
	return 0;
}

static void on_watchdog(struct loop *l, void *ud)
{
	struct daemon *d = ud;

	/* sent from the loop: a wedged loop stops petting and systemd restarts netpold */
	sd_notify(0, "WATCHDOG=1");
	loop_timer_arm(d->watchdog_timer, d->watchdog_usec / 2);
}

/* WatchdogSec= in the unit: WATCHDOG=1 every half interval. */
static int setup_watchdog(struct daemon *d)
{
	uint64_t usec = 0;
	int r;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	d->watchdog_usec = usec;
	r = loop_timer_new(d->loop, on_watchdog, d, &d->watchdog_timer);
	if (r < 0)
		return log_error_errno(r, "cannot create the watchdog timer");
	loop_timer_arm(d->watchdog_timer, 0);
	log_debug("systemd watchdog: %.1fs, notifying every %.1fs", (double)usec / 1e6,
		  (double)usec / 2e6);
	return 0;
}

static void on_nflog(struct loop *l, int fd, uint32_t events, void *ud)
{
	struct daemon *d = ud;
	int r = nflog_read(d->nflog, d->engine, d->events);

	if (r < 0) {
		/* records only: enforcement does not depend on them */
		log_warning_errno(r, "NFLOG group %u: read failed, deny records stop",
				  d->cfg.nflog_group);
		loop_io_free(d->nflog_io);
		d->nflog_io = NULL;
	}
}

/* Deny records: without them (another listener on the group) the log rules are left out. */
static int setup_nflog(struct daemon *d)
{
	int r;

	if (!d->cfg.deny_log)
		return 0;
	r = nflog_open(d->cfg.nflog_group, &d->nflog);
	if (r < 0) {
		log_warning_errno(r, "cannot listen on NFLOG group %u; running without deny records",
				  d->cfg.nflog_group);
		return 0;
	}
	r = loop_io_add(d->loop, nflog_fd(d->nflog), EPOLLIN, on_nflog, d, &d->nflog_io);
	if (r < 0)
		return log_error_errno(r, "cannot watch the NFLOG socket");
	return 0;
}

int daemon_init(struct daemon *d)
{
	struct dataplane_config dpc;
	int r;

	d->signal_fd = -1;
	clock_gettime(CLOCK_REALTIME, &d->started);
	set_reason(d, "starting");

	r = loop_new(&d->loop);
	if (r < 0)
		return log_error_errno(r, "cannot create the event loop");
	loop_set_before_sleep(d->loop, before_sleep, d);
	r = setup_signals(d);
	if (r < 0)
		return r;
	r = loop_timer_new(d->loop, on_debounce, d, &d->debounce_timer);
	if (r >= 0)
		r = loop_timer_new(d->loop, on_retry, d, &d->retry_timer);
	if (r < 0)
		return log_error_errno(r, "cannot create timers");
	r = setup_watchdog(d);
	if (r < 0)
		return r;

	/* First, so a second netpold stops here before touching the table. */
	r = event_hub_new(&d->events);
	if (r < 0)
		return log_error_errno(r, "cannot create the deny-record hub");
	r = status_server_new(d, &d->status);
	if (r < 0)
		return r;

	d->engine = engine_new();
	if (!d->engine)
		return log_error_errno(-ENOMEM, "cannot create the policy engine");

	r = pod_latency_init(&d->pod_latency, d->cfg.node_name);
	if (r < 0)
		return log_error_errno(r, "cannot set up the pod latency tracker");
	r = setup_nflog(d);
	if (r < 0)
		return r;
	dpc = (struct dataplane_config){.table = d->cfg.table,
					.node_name = d->cfg.node_name,
					.deny_action = d->cfg.deny_action};
	dpc.deny_log = d->cfg.deny_log && d->nflog;
	dpc.nflog_group = d->cfg.nflog_group;
	dpc.log_rate = d->cfg.deny_log_rate;
	dpc.log_burst = d->cfg.deny_log_burst;
	dpc.fc_cidrs = d->cfg.fc_cidrs;
	dpc.n_fc_cidrs = d->cfg.n_fc_cidrs;
	r = dataplane_new(&dpc, &d->dp);
	if (r < 0)
		return log_error_errno(r, "cannot open nftables netlink sockets");
	dataplane_set_pod_hook(d->dp, pod_latency_hook, &d->pod_latency);
	r = loop_io_add(d->loop, dataplane_monitor_fd(d->dp), EPOLLIN, on_monitor, d,
			&d->monitor_io);
	if (r < 0)
		return log_error_errno(r, "cannot watch the nftables monitor socket");

	if (d->cfg.manifests) {
		r = manifest_source_new(d->cfg.manifests, on_source_notify, d, &d->source);
		if (r < 0)
			return log_error_errno(r, "cannot set up the manifest source %s",
					       d->cfg.manifests);
	} else {
		struct k8s_source_options ko = {.kubeconfig = d->cfg.kubeconfig,
						.context = d->cfg.context};
		_cleanup_free_ char *kerr = NULL;

		r = k8s_source_new(&ko, on_source_notify, d, &d->source, &kerr);
		if (r < 0) {
			if (kerr)
				log_error("%s", kerr);
			else
				log_error_errno(r, "cannot set up the Kubernetes source");
			return r;
		}
	}
	status_server_attach_source(d->status, d->source);
	r = d->source->ops->start(d->source, d->loop);
	if (r < 0)
		return r;

	log_info("netpold %s on node %s: %s source %s, table inet %s, deny action %s",
		 NETPOLD_VERSION, d->cfg.node_name, d->source->ops->kind,
		 d->source->ops->location(d->source), d->cfg.table,
		 deny_action_name(d->cfg.deny_action));
	/* the first reconcile runs in the first pass: adopt the table, read the source */
	d->source_dirty = true;
	d->source_full = true;
	daemon_schedule_now(d);
	return 0;
}

int daemon_run(struct daemon *d)
{
	int r = loop_run(d->loop);

	if (r < 0)
		return log_error_errno(r, "event loop failed");
	return r;
}

void daemon_done(struct daemon *d)
{
	/* the status server answers its long polls while the loop still exists */
	status_server_free(d->status);
	d->status = NULL;
	loop_io_free(d->nflog_io);
	d->nflog_io = NULL;
	nflog_free(d->nflog);
	d->nflog = NULL;
	pod_latency_clear(&d->pod_latency);
	event_hub_free(d->events); /* after its subscribers; publishers are gone with the loop */
	d->events = NULL;
	source_free(d->source);
	d->source = NULL;
	loop_io_free(d->monitor_io);
	d->monitor_io = NULL;
	dataplane_free(d->dp); /* the table stays: enforcement continues without us */
	d->dp = NULL;
	engine_free(d->engine);
	d->engine = NULL;
	loop_io_free(d->signal_io);
	d->signal_io = NULL;
	loop_timer_free(d->debounce_timer);
	loop_timer_free(d->retry_timer);
	d->debounce_timer = d->retry_timer = NULL;
	loop_timer_free(d->watchdog_timer);
	d->watchdog_timer = NULL;
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	d->signal_fd = -1;
	loop_free(d->loop);
	d->loop = NULL;
	config_clear(&d->cfg);
}
