/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics (Prometheus text exposition format 0.0.4) and GET /healthz
 * (JSON) from a snapshot of the scheduler's per-project statistics.
 */
#ifndef SEMVER_TAGGER_METRICS_H
#define SEMVER_TAGGER_METRICS_H

#include "scheduler.h"
#include "semver-tagger/strbuf.h"
#include "semver-tagger/webhook.h"

#include <stdint.h>

/* Process-wide figures next to the per-project ones. */
struct metrics_daemon {
	int64_t start_unix;
	uint64_t reloads_ok, reloads_failed;
	int64_t config_loaded_unix;
	const struct webhook_stats *webhook; /* NULL without a listener */
};

int metrics_render(struct strbuf *out, const struct sched_stats *st,
		   size_t n, const struct metrics_daemon *d);

/* --- preflight (issue 13) --- */
/* A project the daemon's preflight keeps from being released. */
struct metrics_blocked {
	char project[256];
	unsigned errors;
	char reason[600];   /* "preflight: check: problem (fix: ...)" */
};
/* --- end preflight --- */

/* 200 when every project is healthy (scheduler_stats_healthy), else 503;
 * the body names each unhealthy project and why, and under "preflight"
 * the n_pre projects the preflight keeps from being released (named
 * whatever the status: a preflight refused for roles or push rules is
 * healthy like a refused release, a refused token is not). */
int metrics_health(struct strbuf *out, const struct sched_stats *st,
		   size_t n, unsigned unhealthy_after, bool stopping,
		   const struct metrics_blocked *pre, size_t n_pre);

/* Append s as a Prometheus label value (\\, \", \n escaped). */
int metrics_label_escape(struct strbuf *out, const char *s);

#endif
