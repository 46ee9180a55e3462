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

/* 200 when every project is healthy (scheduler_stats_healthy), else 503;
 * the body names each unhealthy project and why. */
int metrics_health(struct strbuf *out, const struct sched_stats *st,
		   size_t n, unsigned unhealthy_after, bool stopping);

/* Append s as a Prometheus label value (\\, \", \n escaped). */
int metrics_label_escape(struct strbuf *out, const char *s);

#endif
