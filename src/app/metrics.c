/* SPDX-License-Identifier: MIT */
#include "metrics.h"

#include "semver-tagger/error.h"
#include "semver-tagger/log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int metrics_label_escape(struct strbuf *out, const char *s)
{
	int rc = 0;

	for (; *s && rc == 0; s++) {
		if (*s == '\\')
			rc = strbuf_adds(out, "\\\\");
		else if (*s == '"')
			rc = strbuf_adds(out, "\\\"");
		else if (*s == '\n')
			rc = strbuf_adds(out, "\\n");
		else
			rc = strbuf_add(out, s, 1);
	}
	return rc;
}

static void head(struct strbuf *o, const char *name, const char *type,
		 const char *help)
{
	strbuf_addf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{project="p"<extra>} value */
static void sample(struct strbuf *o, const char *name, const char *project,
		   const char *extra, double value)
{
	strbuf_addf(o, "%s{project=\"", name);
	metrics_label_escape(o, project);
	strbuf_addf(o, "\"%s} %.17g\n", extra ? extra : "", value);
}

static void counter_per_project(struct strbuf *o, const char *name,
				const char *help, const struct sched_stats *st,
				size_t n, size_t offset)
{
	head(o, name, "counter", help);
	for (size_t i = 0; i < n; i++)
		sample(o, name, st[i].name, NULL,
		       (double)*(const uint64_t *)(const void *)(
			       (const char *)&st[i] + offset));
}

static void cycles(struct strbuf *o, const struct sched_stats *st, size_t n)
{
	head(o, "semver_tagger_cycles_total", "counter",
	     "Reconciliations by result (ok, refused: a person must act, "
	     "failed: retried with back-off).");
	for (size_t i = 0; i < n; i++) {
		sample(o, "semver_tagger_cycles_total", st[i].name,
		       ",result=\"ok\"", (double)st[i].cycles_ok);
		sample(o, "semver_tagger_cycles_total", st[i].name,
		       ",result=\"refused\"", (double)st[i].cycles_refused);
		sample(o, "semver_tagger_cycles_total", st[i].name,
		       ",result=\"failed\"", (double)st[i].cycles_failed);
	}
	head(o, "semver_tagger_cycle_errors_total", "counter",
	     "Reconciliations that ended in an error, by error class.");
	for (size_t i = 0; i < n; i++)
		for (int c = 1; c < SCHED_ERROR_CLASSES; c++) {
			char extra[64];

			if (!st[i].errors[c])
				continue;
			snprintf(extra, sizeof(extra), ",class=\"%s\"",
				 st_status_name(-c));
			sample(o, "semver_tagger_cycle_errors_total",
			       st[i].name, extra, (double)st[i].errors[c]);
		}
	head(o, "semver_tagger_cycle_duration_seconds", "histogram",
	     "Duration of reconciliations.");
	for (size_t i = 0; i < n; i++) {
		for (size_t b = 0; b < SCHED_DURATION_BUCKETS; b++) {
			char extra[64];

			snprintf(extra, sizeof(extra), ",le=\"%g\"",
				 sched_duration_bounds[b]);
			sample(o, "semver_tagger_cycle_duration_seconds_bucket",
			       st[i].name, extra,
			       (double)st[i].duration_buckets[b]);
		}
		sample(o, "semver_tagger_cycle_duration_seconds_bucket",
		       st[i].name, ",le=\"+Inf\"",
		       (double)st[i].duration_count);
		sample(o, "semver_tagger_cycle_duration_seconds_sum",
		       st[i].name, NULL, st[i].duration_sum);
		sample(o, "semver_tagger_cycle_duration_seconds_count",
		       st[i].name, NULL, (double)st[i].duration_count);
	}
}

static void gauges(struct strbuf *o, const struct sched_stats *st, size_t n)
{
	head(o, "semver_tagger_last_success_timestamp_seconds", "gauge",
	     "Unix time of the last reconciliation that succeeded (0: none).");
	for (size_t i = 0; i < n; i++)
		sample(o, "semver_tagger_last_success_timestamp_seconds",
		       st[i].name, NULL, (double)st[i].last_success_unix);
	head(o, "semver_tagger_consecutive_failures", "gauge",
	     "Failed reconciliations in a row (0 when the last succeeded).");
	for (size_t i = 0; i < n; i++)
		sample(o, "semver_tagger_consecutive_failures", st[i].name,
		       NULL, (double)st[i].failures);
	head(o, "semver_tagger_cycle_running", "gauge",
	     "1 while a reconciliation or MR check of the project runs.");
	for (size_t i = 0; i < n; i++)
		sample(o, "semver_tagger_cycle_running", st[i].name, NULL,
		       st[i].running ? 1 : 0);
	head(o, "semver_tagger_next_cycle_seconds", "gauge",
	     "Seconds until the next scheduled reconciliation.");
	for (size_t i = 0; i < n; i++)
		sample(o, "semver_tagger_next_cycle_seconds", st[i].name, NULL,
		       st[i].next_in_ms < 0 ? -1
					    : (double)st[i].next_in_ms / 1000);
}

static void checks(struct strbuf *o, const struct sched_stats *st, size_t n)
{
	head(o, "semver_tagger_mr_checks_total", "counter",
	     "Commit statuses of open merge requests: set, failed, dropped "
	     "(queue full).");
	for (size_t i = 0; i < n; i++) {
		sample(o, "semver_tagger_mr_checks_total", st[i].name,
		       ",result=\"set\"", (double)st[i].checks);
		sample(o, "semver_tagger_mr_checks_total", st[i].name,
		       ",result=\"failed\"", (double)st[i].checks_failed);
		sample(o, "semver_tagger_mr_checks_total", st[i].name,
		       ",result=\"dropped\"", (double)st[i].checks_dropped);
	}
}

static void webhook(struct strbuf *o, const struct webhook_stats *w)
{
	static const char *const names[] = {
		"accepted", "ignored", "duplicate", "unauthorized",
		"too_large", "bad_request", "timed_out", "other",
	};
	const uint64_t v[] = {
		w->accepted, w->ignored, w->duplicates, w->unauthorized,
		w->too_large, w->bad_request, w->timed_out, w->other,
	};

	head(o, "semver_tagger_webhook_requests_total", "counter",
	     "Webhook deliveries by outcome.");
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		strbuf_addf(o, "semver_tagger_webhook_requests_total{result=\""
			    "%s\"} %llu\n", names[i], (unsigned long long)v[i]);
}

int metrics_render(struct strbuf *o, const struct sched_stats *st, size_t n,
		   const struct metrics_daemon *d)
{
	head(o, "semver_tagger_up", "gauge", "1 while the daemon runs.");
	strbuf_adds(o, "semver_tagger_up 1\n");
	head(o, "semver_tagger_start_time_seconds", "gauge",
	     "Unix time the daemon started.");
	strbuf_addf(o, "semver_tagger_start_time_seconds %lld\n",
		    (long long)d->start_unix);
	head(o, "semver_tagger_config_loaded_timestamp_seconds", "gauge",
	     "Unix time the running configuration was loaded.");
	strbuf_addf(o, "semver_tagger_config_loaded_timestamp_seconds %lld\n",
		    (long long)d->config_loaded_unix);
	head(o, "semver_tagger_config_reloads_total", "counter",
	     "Configuration reloads (SIGHUP) by result.");
	strbuf_addf(o, "semver_tagger_config_reloads_total{result=\"ok\"} "
		    "%llu\nsemver_tagger_config_reloads_total{result="
		    "\"failed\"} %llu\n", (unsigned long long)d->reloads_ok,
		    (unsigned long long)d->reloads_failed);
	head(o, "semver_tagger_projects", "gauge", "Configured projects.");
	strbuf_addf(o, "semver_tagger_projects %zu\n", n);
	cycles(o, st, n);
	counter_per_project(o, "semver_tagger_releases_total",
			    "Tags created.", st, n,
			    offsetof(struct sched_stats, releases));
	counter_per_project(o, "semver_tagger_api_requests_total",
			    "GitLab API requests of reconciliations.", st, n,
			    offsetof(struct sched_stats, api_requests));
	counter_per_project(o, "semver_tagger_polls_unchanged_total",
			    "Polls answered by the quick check (nothing "
			    "moved: no full reconciliation ran).", st, n,
			    offsetof(struct sched_stats, polls_unchanged));
	counter_per_project(o, "semver_tagger_triggers_total",
			    "Reconciliations asked for by webhooks.", st, n,
			    offsetof(struct sched_stats, triggers));
	gauges(o, st, n);
	checks(o, st, n);
	if (d->webhook)
		webhook(o, d->webhook);
	return 200;
}

/* --- preflight (issue 13) --- */
static cJSON *preflight_json(const struct metrics_blocked *pre, size_t n)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && i < n; i++) {
		cJSON *p = cJSON_CreateObject();
		char why[sizeof(pre[i].reason)];

		if (!p)
			break;
		snprintf(why, sizeof(why), "%s", pre[i].reason);
		log_redact(why);
		cJSON_AddStringToObject(p, "project", pre[i].project);
		cJSON_AddNumberToObject(p, "errors", pre[i].errors);
		cJSON_AddStringToObject(p, "reason", why);
		cJSON_AddItemToArray(arr, p);
	}
	return arr;
}
/* --- end preflight --- */

int metrics_health(struct strbuf *out, const struct sched_stats *st,
		   size_t n, unsigned unhealthy_after, bool stopping,
		   const struct metrics_blocked *pre, size_t n_pre)
{
	cJSON *o = cJSON_CreateObject(), *problems = cJSON_CreateArray();
	char *text;
	bool ok = !stopping;

	for (size_t i = 0; i < n; i++) {
		char why[SCHED_MSG_MAX + 128];
		cJSON *p;

		if (scheduler_stats_healthy(&st[i], unhealthy_after, why,
					    sizeof(why)))
			continue;
		ok = false;
		log_redact(why);
		p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "project", st[i].name);
		cJSON_AddStringToObject(p, "reason", why);
		cJSON_AddNumberToObject(p, "failures", st[i].failures);
		cJSON_AddItemToArray(problems, p);
	}
	cJSON_AddStringToObject(o, "status", stopping ? "stopping"
					     : ok ? "ok" : "unhealthy");
	cJSON_AddNumberToObject(o, "projects", (double)n);
	cJSON_AddItemToObject(o, "problems", problems);
	cJSON_AddItemToObject(o, "preflight", preflight_json(pre, n_pre));
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text) {
		strbuf_adds(out, text);
		strbuf_adds(out, "\n");
		free(text);
	}
	return ok ? 200 : 503;
}
