/* SPDX-License-Identifier: MIT */
/*
 * Shared by the daemon's files only:
 *
 *   daemon.c         lifecycle: start, signals, main loop, reload, stop
 *   daemon_gen.c     configuration generations, resolved settings, secrets
 *   daemon_jobs.c    a scheduler turn: reconcile / MR checks on a worker
 *   daemon_report.c  a typed report -> log lines (refusals said once)
 *   daemon_http.c    webhook routing, /healthz, /metrics, project status,
 *                    the status page (statusboard.h)
 *   daemon_fleet.c   [group]s: the group MR poller, re-discovery, labels
 */
#ifndef SEMVER_TAGGER_DAEMON_INTERNAL_H
#define SEMVER_TAGGER_DAEMON_INTERNAL_H

#include "daemon.h"
#include "engine.h"
#include "fleet.h"
#include "scheduler.h"
#include "sdnotify.h"
#include "worker.h"

#include "semver-tagger/config.h"
#include "semver-tagger/secret.h"
#include "semver-tagger/webhook.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CYCLE_DEADLINE_S 3600 /* a reconciliation, first clone included */
#define CHECK_DEADLINE_S 600
#define STOP_GRACE_S 5        /* SIGTERM: time for a cycle to finish */

struct gen;

/* What the log last said about a project's problems (refusals said
 * once): touched only by the thread running the project's turn. */
struct said {
	/* atomics only because a reload copies them while an old turn may
	 * still write them (gen_carry_said) */
	_Atomic uint64_t blocked_fp;  /* refusal last logged, 0: not blocked */
	_Atomic uint64_t warned_fp;   /* warnings last logged, 0: none */
};

/* A project of one configuration generation. */
struct project_rt {
	struct gen *gen;
	const struct config_project *section; /* while loading, then NULL */
	struct engine_settings s;   /* resolved once per generation */
	struct worker_affinity aff; /* touched only by its turn's thread */
	/* What the log said last; carried over from the previous
	 * generation's project of the same section by a reload. */
	struct said said;
	int64_t fleet_id;           /* GitLab id when discovered, else 0 */
	const char *group;          /* its [group] path, or NULL */
	/* Quick check (issue 12): what the last reconciliation that changed
	 * nothing decided from; its turn's thread only. Lost on reload and
	 * restart (the next poll runs in full). NULL, or allocated with
	 * only the git URL's bytes (10,000 projects: ~1 MB, not 6). */
	struct engine_quick *quick;
};

/* One loaded configuration, shared by reference (reload swaps it). */
struct gen {
	atomic_int refs;
	struct config cfg;
	char *state_dir;
	struct secret webhook_secret;
	struct secret status_token; /* NULL value: the read pages are open */
	struct project_rt *p;
	size_t n;
	int64_t loaded_unix;
	uint64_t seq;               /* 1, 2, ...: which load this is */
	struct fleet_set fleet;     /* the projects p[] resolve (owned) */
	struct fleet_discovery disc;
};

struct daemon {
	const struct daemon_args *a;
	char **env;
	pthread_mutex_t lock;  /* gen, reload counters */
	struct gen *gen;
	struct scheduler *sched;
	struct worker_pool *pool;
	struct statusboard *board; /* what the status page shows */
	struct webhook_server *server;
	struct sdnotify notify;
	int listen_fds;        /* from systemd socket activation */
	int stop_pipe[2];
	atomic_int stopping;   /* read by the listener and the workers */
	int64_t start_unix;
	uint64_t reloads_ok, reloads_failed;
	struct scheduler_options so;
	struct daemon_fleet *fleet; /* daemon_fleet.c */
	atomic_int quiet_reload;    /* the next SIGHUP is a re-discovery */
	uint64_t gen_seq;           /* main thread only: the last gen's seq */
	/* --- preflight (issue 13) --- */
	struct daemon_preflight *preflight; /* daemon_preflight.c */
	/* --- end preflight --- */
};

/* daemon_gen.c */
int gen_load(struct daemon *d, struct gen **out, struct st_error *err);
void gen_ref(struct gen *g);
void gen_unref(struct gen *g);
struct gen *gen_get(struct daemon *d);
/* Register the generation's secrets for log redaction (after clearing
 * the previous ones): the count that did not fit in the table. */
size_t gen_register_secrets(const struct gen *g);
/* Keep what the log said about each project of old in g (by section). */
void gen_carry_said(struct gen *g, const struct gen *old);

/* daemon_jobs.c */
void daemon_run_turn(void *ctx, const struct sched_turn *t,
		     struct sched_outcome *out);
/* An MR check item (owned by the scheduler once queued). */
void *mr_check_new(int64_t iid);
void mr_check_free(void *item);

/* daemon_report.c: log a reconciliation's report; refusals once. */
void report_log(struct project_rt *rt, const struct engine_result *r,
		unsigned *releases);

/* daemon_fleet.c: the group poller thread (no-op without [group]s). */
int fleet_start(struct daemon *d);
void fleet_stop(struct daemon *d);
/* A System Hook / group hook project event: re-discover when it concerns
 * a configured group or a known project. The HTTP status to answer. */
int fleet_on_project_event(struct daemon *d, const struct webhook_event *ev,
			   const struct webhook_delivery *dl);
/* Append the group metrics to /metrics. */
void fleet_metrics(struct daemon *d, struct strbuf *body);

/* --- preflight (issue 13) --- daemon_preflight.c */
struct daemon_preflight *preflight_new(void);
void preflight_free(struct daemon_preflight *p);
/* Before a reconciliation: assess the project when it has not passed
 * with its current settings. false: do not reconcile (out says why when
 * the assessment found errors). Runs on the project's turn thread. */
bool preflight_gate(struct daemon *d, struct project_rt *rt,
		    struct sched_outcome *out);
/* After a reconciliation: a write GitLab refused (a goal failed on a
 * refusal or the token) makes the next cycle assess again, since
 * permissions change without the project's settings changing. */
void preflight_after(struct daemon *d, struct project_rt *rt,
		     const struct engine_result *r);
/* Append the per-project gauges to /metrics. */
void preflight_metrics(struct daemon *d, struct strbuf *body);
/* The projects of the running generation it keeps from releasing
 * (*out owned by the caller, free()). */
struct metrics_blocked;
size_t preflight_blocked(struct daemon *d, struct metrics_blocked **out);
/* --- end preflight --- */

/* daemon_http.c */
int daemon_on_event(void *ctx, const struct webhook_event *ev,
		    const struct webhook_delivery *dl);
int daemon_on_health(void *ctx, struct strbuf *body);
int daemon_on_metrics(void *ctx, struct strbuf *body);
/* GET / (HTML) and GET /status.json. */
int daemon_on_status(void *ctx, bool json, struct strbuf *body);

#endif
