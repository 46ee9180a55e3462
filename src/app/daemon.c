/* SPDX-License-Identifier: MIT */
/*
 * The daemon's lifecycle (the other concerns: daemon_internal.h): start,
 * the signal loop, reload, shutdown, systemd notification.
 *
 * Threads: the main thread (signals, reload, watchdog), the listener's
 * thread (libmicrohttpd: decode, decide, enqueue; never blocks) and the
 * scheduler's threads, each waiting on an engine worker process
 * (worker.h) for its turn's jobs. Signal handlers only set flags; the main
 * thread sleeps in ppoll() with the signals unblocked only there.
 */
#include "daemon_internal.h"

#include "statusboard.h"

#include "output.h"
#include "semver-tagger/error.h"
#include "semver-tagger/http.h"
#include "semver-tagger/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The only mutable globals: set by signal handlers, read by the loop. */
static volatile sig_atomic_t got_term, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

static void rt_ref(void *data)
{
	gen_ref(((struct project_rt *)data)->gen);
}

static void rt_unref(void *data)
{
	gen_unref(((struct project_rt *)data)->gen);
}

/* ---- lifecycle (main thread) --------------------------------------------- */

static int schedule(struct daemon *d, struct gen *g, bool trigger)
{
	struct sched_project *sp = calloc(g->n, sizeof(*sp));
	int rc;

	if (!sp)
		return -1;
	for (size_t i = 0; i < g->n; i++) {
		sp[i].name = g->p[i].s.section;
		sp[i].interval_s = g->p[i].s.cfg.poll_interval;
		sp[i].data = &g->p[i];
	}
	rc = scheduler_set_projects(d->sched, sp, g->n, trigger);
	free(sp);
	return rc;
}

static void apply_log_level(const struct daemon *d, const struct gen *g)
{
	if (d->a->verbosity == 0 && g->cfg.log_level >= 0)
		log_setup((enum log_level)g->cfg.log_level, NULL);
}

static void status_line(struct daemon *d, const char *prefix)
{
	struct gen *g = gen_get(d);

	if (d->server)
		sdnotify_send(&d->notify, "%sSTATUS=%zu project%s, webhooks on "
			      "port %u", prefix, g->n, g->n == 1 ? "" : "s",
			      (unsigned)webhook_server_port(d->server));
	else
		sdnotify_send(&d->notify, "%sSTATUS=%zu project%s, polling "
			      "only", prefix, g->n, g->n == 1 ? "" : "s");
	gen_unref(g);
}

/* Only the current generation's secrets are redacted (rotated tokens
 * leave the table); the table's limit is said, not ignored. */
static void secrets_registered(const struct gen *g)
{
	size_t lost = gen_register_secrets(g);

	if (lost)
		log_warning("%zu secret%s (tokens, webhook secret) beyond "
			    "what the log redaction table holds: the daemon "
			    "never prints them, but they are not masked if "
			    "a server echoes them", lost, lost == 1 ? "" : "s");
}

/* Projects of g that old does not have: reconciled at once (a project
 * just created in a [group] is released without waiting a poll). */
static void trigger_new(struct daemon *d, const struct gen *g,
			const struct gen *old)
{
	for (size_t i = 0; i < g->n; i++) {
		bool known = false;

		for (size_t k = 0; k < old->n && !known; k++)
			known = strcmp(g->p[i].s.section,
				       old->p[k].s.section) == 0;
		if (!known)
			scheduler_trigger(d->sched, g->p[i].s.section,
					  "new in its group");
	}
}

static void discovery_log(const struct gen *g)
{
	if (g->disc.groups_failed)
		log_error("%zu group%s not listed, their projects wait for "
			  "the next discovery: %s", g->disc.groups_failed,
			  g->disc.groups_failed == 1 ? "" : "s",
			  g->disc.error);
}

static void reload(struct daemon *d)
{
	struct gen *g = NULL, *old;
	struct st_error err;
	/* a re-discovery asked for by the group poller or a project event:
	 * not a reason to reconcile every project */
	bool quiet = atomic_exchange(&d->quiet_reload, 0) != 0;

	st_error_clear(&err);
	sdnotify_send(&d->notify, "RELOADING=1");
	if (gen_load(d, &g, &err) != 0) {
		log_error("reload failed, keeping the running configuration: "
			  "%s", err.msg);
		pthread_mutex_lock(&d->lock);
		d->reloads_failed++;
		pthread_mutex_unlock(&d->lock);
		sdnotify_send(&d->notify, "READY=1\nSTATUS=reload failed, "
			      "running the previous configuration");
		return;
	}
	old = gen_get(d);
	gen_carry_said(g, old);
	secrets_registered(g);
	if ((g->cfg.listen && (!old->cfg.listen ||
			       strcmp(g->cfg.listen, old->cfg.listen) != 0)) ||
	    (!g->cfg.listen && old->cfg.listen && d->listen_fds == 0))
		log_warning("listen changed to %s: restart the service to "
			    "apply it", g->cfg.listen ? g->cfg.listen
						      : "(none)");
	if (d->server && g->webhook_secret.value)
		webhook_server_set_secret(d->server, g->webhook_secret.value);
	if (d->server)
		webhook_server_set_read_token(d->server, g->status_token.value);
	gen_unref(old);
	apply_log_level(d, g);
	discovery_log(g);
	if (schedule(d, g, !quiet) != 0) {
		log_error("reload failed: out of memory");
		gen_unref(g);
		return;
	}
	pthread_mutex_lock(&d->lock);
	old = d->gen;
	d->gen = g;
	d->reloads_ok++;
	pthread_mutex_unlock(&d->lock);
	trigger_new(d, g, old);
	gen_unref(old);
	if (quiet)
		log_info("projects re-discovered: %zu project%s", g->n,
			 g->n == 1 ? "" : "s");
	else
		log_notice("configuration reloaded: %zu project%s", g->n,
			   g->n == 1 ? "" : "s");
	status_line(d, "READY=1\n");
}

static int start_listener(struct daemon *d, struct st_error *err)
{
	struct webhook_server_options o;
	struct gen *g = d->gen;
	int rc;

	if (!g->cfg.listen && d->listen_fds == 0)
		return ST_OK;
	memset(&o, 0, sizeof(o));
	o.listen = g->cfg.listen;
	o.listen_fd = d->listen_fds > 0 ? SDNOTIFY_LISTEN_FDS_START : -1;
	o.secret = g->webhook_secret.value;
	webhook_limits_default(&o.limits);
	o.handlers.ctx = d;
	o.handlers.event = daemon_on_event;
	o.handlers.health = daemon_on_health;
	o.handlers.metrics = daemon_on_metrics;
	o.handlers.status = daemon_on_status;
	o.read_token = g->status_token.value;
	if (!o.read_token && d->listen_fds == 0 &&
	    !statusboard_listen_loopback(g->cfg.listen))
		log_warning("listening on %s without status_token_file: the "
			    "status page and /metrics show every project to "
			    "anyone who can connect", g->cfg.listen);
	rc = webhook_server_start(&o, &d->server, err);
	if (rc == 0 && d->listen_fds > 0)
		log_notice("listening on the socket systemd passed (port %u)",
			   (unsigned)webhook_server_port(d->server));
	else if (rc == 0)
		log_notice("listening on %s (port %u): POST /webhook, "
			   "GET /healthz, GET /metrics, GET / (status page%s)",
			   g->cfg.listen, (unsigned)webhook_server_port(d->server),
			   o.read_token ? ", bearer token" : "");
	return rc;
}

/* Sleep until a signal or the next watchdog ping; handle both. */
static void main_loop(struct daemon *d, const sigset_t *wait_mask,
		      uint64_t watchdog_usec)
{
	int64_t ping_ms = watchdog_usec ? (int64_t)(watchdog_usec / 2000) : 0;
	int64_t max_turn_ms = (int64_t)(CYCLE_DEADLINE_S + CHECK_DEADLINE_S *
					d->so.max_checks + 120) * 1000;

	if (ping_ms <= 0 && watchdog_usec)
		ping_ms = 1;
	while (!got_term) {
		struct timespec ts = { (time_t)(ping_ms / 1000),
				       (long)(ping_ms % 1000) * 1000000 };

		if (ppoll(NULL, 0, ping_ms ? &ts : NULL, wait_mask) < 0 &&
		    errno != EINTR)
			break;
		if (got_hup) {
			got_hup = 0;
			reload(d);
		}
		if (ping_ms && !got_term &&
		    scheduler_alive(d->sched, max_turn_ms) == 0)
			sdnotify_send(&d->notify, "WATCHDOG=1");
	}
}

static void shutdown_all(struct daemon *d)
{
	ssize_t w;

	d->stopping = 1;
	fleet_stop(d);
	if (d->server)
		webhook_server_quiesce(d->server);
	/* Waiting turns see the pipe readable: STOP_GRACE_S for their job
	 * to finish, then the worker gets SIGTERM, then SIGKILL. */
	if (d->stop_pipe[1] >= 0)
		do
			w = write(d->stop_pipe[1], "x", 1);
		while (w < 0 && errno == EINTR);
	scheduler_stop(d->sched);
	webhook_server_free(d->server);
	d->server = NULL;
}

static int setup_signals(sigset_t *wait_mask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	/* Blocked everywhere (threads inherit it) except in ppoll(). */
	if (pthread_sigmask(SIG_BLOCK, &block, wait_mask) != 0)
		return -1;
	sigdelset(wait_mask, SIGTERM);
	sigdelset(wait_mask, SIGINT);
	sigdelset(wait_mask, SIGHUP);
	if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL))
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

static int start(struct daemon *d, struct st_error *err)
{
	struct scheduler_hooks h = {
		.ctx = d,
		.run = daemon_run_turn,
		.ref = rt_ref,
		.unref = rt_unref,
		.free_item = mr_check_free,
	};
	int rc;

	rc = http_global_init(err);
	if (rc == 0 && !(d->board = statusboard_new()))
		rc = st_error_set(err, ST_ENOMEM, "out of memory");
	if (rc == 0 && !(d->preflight = preflight_new())) /* issue 13 */
		rc = st_error_set(err, ST_ENOMEM, "out of memory");
	if (rc == 0)
		rc = gen_load(d, &d->gen, err);
	if (rc)
		return rc;
	secrets_registered(d->gen);
	apply_log_level(d, d->gen);
	if (pipe2(d->stop_pipe, O_CLOEXEC) != 0)
		return st_error_set(err, ST_EIO, "pipe: %s", strerror(errno));
	scheduler_options_default(&d->so);
	if (worker_pool_new(d->so.workers, "/proc/self/exe",
			    log_threshold() >= LOG_LEVEL_DEBUG, &d->pool) != 0 ||
	    scheduler_new(&d->so, &h, &d->sched) != 0 ||
	    schedule(d, d->gen, false) != 0)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	discovery_log(d->gen);
	rc = start_listener(d, err);
	if (rc == 0 && scheduler_start(d->sched) != 0)
		rc = st_error_set(err, ST_EIO, "cannot start the workers");
	if (rc == 0 && fleet_start(d) != 0)
		rc = st_error_set(err, ST_EIO, "cannot start the group poller");
	return rc;
}

int daemon_main(const struct daemon_args *a, char **env)
{
	struct daemon d;
	struct st_error err;
	sigset_t wait_mask;
	uint64_t watchdog;
	int rc;

	memset(&d, 0, sizeof(d));
	d.a = a;
	d.env = env;
	d.stop_pipe[0] = d.stop_pipe[1] = -1;
	d.start_unix = (int64_t)time(NULL);
	pthread_mutex_init(&d.lock, NULL);
	st_error_clear(&err);
	sdnotify_open(&d.notify, env);
	d.listen_fds = sdnotify_listen_fds(env, (long)getpid());
	watchdog = sdnotify_watchdog_usec(env, (long)getpid());
	if (setup_signals(&wait_mask) != 0) {
		log_error("cannot set up signal handling: %s", strerror(errno));
		return 71; /* EX_OSERR */
	}
	rc = start(&d, &err);
	if (rc == 0) {
		log_notice("started: %zu project%s, state in %s", d.gen->n,
			   d.gen->n == 1 ? "" : "s", d.gen->state_dir);
		status_line(&d, "READY=1\n");
		main_loop(&d, &wait_mask, watchdog);
		log_notice("stopping");
		sdnotify_send(&d.notify, "STOPPING=1\nSTATUS=stopping");
	} else {
		log_error("%s", err.msg);
		sdnotify_send(&d.notify, "STATUS=failed to start: %s", err.msg);
	}
	shutdown_all(&d);
	scheduler_free(d.sched);
	statusboard_free(d.board);
	preflight_free(d.preflight);
	worker_pool_free(d.pool);
	gen_unref(d.gen);
	for (int i = 0; i < 2; i++)
		if (d.stop_pipe[i] >= 0)
			close(d.stop_pipe[i]);
	sdnotify_close(&d.notify);
	http_global_cleanup();
	pthread_mutex_destroy(&d.lock);
	if (rc == 0)
		log_notice("stopped");
	return rc ? output_exit_code(rc) : 0;
}
