/* SPDX-License-Identifier: MIT */
/*
 * The daemon's scheduler: when each project is reconciled, by which
 * worker, and what happened (for /metrics and /healthz).
 *
 * - At most one turn per project at a time. A turn is a reconciliation
 *   (when due or triggered) followed by the MR checks queued for it.
 * - A trigger (webhook, reload) during a turn is remembered and coalesced
 *   with any other: one more reconciliation right after the turn.
 * - Poll intervals get +-10 % jitter; a failing project backs off
 *   exponentially (retry_base doubled per failure, up to retry_max); a
 *   person-must-act outcome (refused, conflict) is not a failure to retry.
 * - A pool of workers; a slow or failing project holds one worker only.
 * - Idle workers sleep on a condition variable: one of them with a
 *   timeout (the earliest due time), the others without. No polling.
 *
 * Projects are named (their config section). The scheduler keeps a
 * reference on each project's data (hooks ref/unref), so a reload can
 * replace a project's data while a worker still uses the old one.
 */
#ifndef SEMVER_TAGGER_SCHEDULER_H
#define SEMVER_TAGGER_SCHEDULER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCHED_ERROR_CLASSES 16       /* -ST_E* codes, 0 unused */
#define SCHED_DURATION_BUCKETS 10
#define SCHED_MSG_MAX 512

extern const double sched_duration_bounds[SCHED_DURATION_BUCKETS];

/* One turn, as the run hook sees it. */
struct sched_turn {
	const char *name;
	void *data;            /* the project's data, referenced for the turn */
	bool cycle;            /* run a reconciliation */
	char why[128];         /* "poll", "webhook: !12 merged into main"... */
	void **checks;         /* queued items (MR checks), oldest first */
	size_t n_checks;
	/* Non-zero once the scheduler is stopping: skip what can wait. */
	const atomic_int *stopping;
};

/* What the turn did; the run hook fills it. */
struct sched_outcome {
	bool cycle_ran;
	int status;            /* 0 or ST_E*, of the reconciliation */
	double seconds;        /* of the reconciliation */
	unsigned releases;     /* tags created */
	unsigned api_requests;
	unsigned checks_done, checks_failed;
	char error[SCHED_MSG_MAX]; /* when status != 0 */
};

struct scheduler_hooks {
	void *ctx;
	void (*run)(void *ctx, const struct sched_turn *t,
		    struct sched_outcome *out);
	void (*ref)(void *data);
	void (*unref)(void *data);
	void (*free_item)(void *item);
};

struct scheduler_options {
	unsigned workers;        /* 4 */
	unsigned retry_base_ms;  /* 10 000 (never above the interval) */
	unsigned retry_max_ms;   /* 900 000 */
	unsigned spread_ms;      /* 5 000: first cycles spread over this */
	unsigned max_checks;     /* 32 queued MR checks per project */
	unsigned unhealthy_after;/* 5 consecutive failed reconciliations */
	/* 300 000: after an authentication failure nothing runs for the
	 * project for this long, webhooks and MR checks included (they wait
	 * and run then); a configuration reload ends it. At most 3 attempts
	 * with a revoked token per 10 min (reliability.md §2 C3; GitLab bans
	 * an address after 30 failed logins in 3 min). */
	unsigned auth_hold_ms;
};

void scheduler_options_default(struct scheduler_options *o);

struct sched_project {
	const char *name;
	unsigned interval_s;
	void *data;
};

/* Per project, for /metrics and /healthz. In a snapshot
 * (scheduler_snapshot) both strings point into the snapshot's own block
 * and are never NULL; inside the scheduler name is the entry's and
 * last_error is NULL or owned by the entry (a few bytes per project at
 * 10,000 projects instead of 768 fixed ones). */
struct sched_stats {
	const char *name;
	uint64_t cycles_ok, cycles_refused, cycles_failed;
	uint64_t errors[SCHED_ERROR_CLASSES]; /* by -status */
	uint64_t releases, api_requests, checks, checks_failed, triggers;
	uint64_t checks_dropped;
	double duration_sum;
	uint64_t duration_count;
	uint64_t duration_buckets[SCHED_DURATION_BUCKETS]; /* cumulative */
	int64_t last_success_unix;   /* 0: never */
	int64_t last_cycle_unix;
	int last_status;
	char *last_error;            /* at most SCHED_MSG_MAX - 1 bytes */
	unsigned failures;           /* consecutive failed reconciliations */
	int64_t failing_since_unix;
	bool running;
	int64_t running_ms;          /* of the current turn */
	int64_t next_in_ms;          /* until the next poll (or retry) */
};

struct scheduler;

int scheduler_new(const struct scheduler_options *o,
		  const struct scheduler_hooks *h, struct scheduler **out);
/* Start the workers. -1 when a thread cannot be created. */
int scheduler_start(struct scheduler *s);
/* Stop: running turns finish (their hooks see *stopping), the workers
 * are joined. Idempotent. */
void scheduler_stop(struct scheduler *s);
void scheduler_free(struct scheduler *s);

/*
 * Replace the project list. Projects already known (by name) keep their
 * statistics and schedule (and get a reconciliation when `trigger`); new
 * ones are due within spread_ms; missing ones are dropped (after their
 * running turn). Takes a reference on each data. 0, or -1 out of memory
 * (nothing changed).
 */
int scheduler_set_projects(struct scheduler *s, const struct sched_project *p,
			   size_t n, bool trigger);

/* Ask for a reconciliation of `name` now (or right after its running
 * turn). false when the project is unknown. */
bool scheduler_trigger(struct scheduler *s, const char *name, const char *why);

/* Queue an item (an MR check) for the project's next turn; an item with
 * the same key replaces the queued one; past max_checks the oldest is
 * dropped. The scheduler owns item from here (even on failure). */
bool scheduler_enqueue(struct scheduler *s, const char *name, int64_t key,
		       void *item);

/* Statistics of every current project, in configuration order; *out is
 * malloc'd (free it). */
int scheduler_snapshot(struct scheduler *s, struct sched_stats **out,
		       size_t *n);

/* For the watchdog: 0 when the scheduler's lock can be taken within a
 * second and no turn has run longer than max_turn_ms, else -1. */
int scheduler_alive(struct scheduler *s, int64_t max_turn_ms);

/* Healthy by the rule of /healthz: not failing for unhealthy_after
 * consecutive reconciliations, and the last one not an auth/config
 * failure. why gets the reason when not. */
bool scheduler_stats_healthy(const struct sched_stats *st,
			     unsigned unhealthy_after, char *why,
			     size_t why_size);

/* Pure helpers (unit-testable). */
int64_t sched_backoff_ms(unsigned failures, unsigned interval_s,
			 unsigned base_ms, unsigned max_ms);
/* Apply +-10 % jitter to ms with r uniform in [0, 1). */
int64_t sched_jitter_ms(int64_t ms, double r);

#endif
