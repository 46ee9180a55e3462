/* SPDX-License-Identifier: MIT */
/*
 * The listener's side of the daemon (daemon_internal.h), on
 * libmicrohttpd's thread: webhook routing (a webhook selects a project,
 * and an MR, and never decides anything: the worker re-reads from the
 * API), /healthz, /metrics and the status page. Never blocks: decide,
 * enqueue, answer.
 */
#include "daemon_internal.h"

#include "config.h"
#include "metrics.h"
#include "statusboard.h"
#include "semver-tagger/log.h"
#include "semver-tagger/num.h"
#include "semver-tagger/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The webhook's project is this section's GitLab project (by path or
 * numeric id; the section name only when it is the project). */
static bool same_project(const struct webhook_event *ev,
			 const struct project_rt *rt)
{
	const char *project = rt->s.cfg.project;
	uint64_t id;

	if (ev->project_path && strcmp(ev->project_path, project) == 0)
		return true;
	return ev->project_id > 0 &&
	       num_parse_u64_max(project, INT64_MAX, &id) == 0 &&
	       (int64_t)id == ev->project_id;
}

/* X-Gitlab-Instance is the base URL; api_url starts with it. */
static bool same_instance(const char *instance, const char *api_url)
{
	size_t n;

	if (!instance || !*instance || !api_url)
		return false;
	n = strlen(instance);
	while (n && instance[n - 1] == '/')
		n--;
	return strncmp(api_url, instance, n) == 0 &&
	       (api_url[n] == '/' || api_url[n] == '\0');
}

static bool act(struct daemon *d, const struct project_rt *rt,
		const struct webhook_event *ev,
		const struct webhook_delivery *dl)
{
	const struct config_project *p = &rt->s.cfg;
	struct webhook_branches b = { p->release_prefix, p->default_branch };
	char reason[256], why[300];
	enum webhook_decision dec = webhook_decide(ev, &b, reason,
						   sizeof(reason));
	void *c;

	switch (dec) {
	case WEBHOOK_RECONCILE:
		log_info("%s: %s: %s: reconciling", rt->s.section,
			 dl->event_header ? dl->event_header : "webhook",
			 reason);
		snprintf(why, sizeof(why), "webhook: %s", reason);
		return scheduler_trigger(d->sched, rt->s.section, why);
	case WEBHOOK_CHECK_MR:
		log_info("%s: %s: %s: checking", rt->s.section,
			 dl->event_header ? dl->event_header : "webhook",
			 reason);
		/* the webhook only says which MR: the worker reads it */
		c = mr_check_new(ev->iid);
		return c && scheduler_enqueue(d->sched, rt->s.section, ev->iid,
					      c);
	default:
		log_debug("%s: %s: %s: nothing to do", rt->s.section,
			  dl->event_header ? dl->event_header : "webhook",
			  reason);
		return false;
	}
}

int daemon_on_event(void *ctx, const struct webhook_event *ev,
		    const struct webhook_delivery *dl)
{
	struct daemon *d = ctx;
	struct gen *g;
	bool by_instance = false, matched = false, accepted = false;

	if (d->stopping)
		return 503;
	if (ev->kind == WEBHOOK_KIND_PROJECT)
		return fleet_on_project_event(d, ev, dl);
	if (ev->kind == WEBHOOK_KIND_OTHER) {
		log_debug("webhook %s from %s: not handled",
			  dl->event_header ? dl->event_header : "(no event)",
			  dl->peer);
		return 204;
	}
	g = gen_get(d);
	for (size_t i = 0; i < g->n; i++)
		if (same_project(ev, &g->p[i]) &&
		    same_instance(dl->instance, g->p[i].s.cfg.api_url))
			by_instance = true;
	for (size_t i = 0; i < g->n; i++) {
		if (!same_project(ev, &g->p[i]) ||
		    (by_instance && !same_instance(dl->instance,
						   g->p[i].s.cfg.api_url)))
			continue;
		matched = true;
		if (act(d, &g->p[i], ev, dl))
			accepted = true;
	}
	if (!matched) /* group and system hooks send every project's */
		log_debug("webhook %s for project %s (id %lld) from %s: not "
			 "configured here, ignored",
			 dl->event_header ? dl->event_header : "?",
			 ev->project_path ? ev->project_path : "?",
			 (long long)ev->project_id, dl->peer);
	gen_unref(g);
	return accepted ? 202 : 204;
}

int daemon_on_health(void *ctx, struct strbuf *body)
{
	struct daemon *d = ctx;
	struct sched_stats *st = NULL;
	struct metrics_blocked *pre = NULL;
	size_t n = 0, n_pre;
	int status;

	if (scheduler_snapshot(d->sched, &st, &n) != 0)
		return 500;
	n_pre = preflight_blocked(d, &pre);
	status = metrics_health(body, st, n, d->so.unhealthy_after,
				d->stopping != 0, pre, n_pre);
	free(pre);
	free(st);
	return status;
}

int daemon_on_metrics(void *ctx, struct strbuf *body)
{
	struct daemon *d = ctx;
	struct sched_stats *st = NULL;
	struct webhook_stats ws;
	struct metrics_daemon md;
	size_t n = 0;
	int status;

	if (scheduler_snapshot(d->sched, &st, &n) != 0)
		return 500;
	memset(&md, 0, sizeof(md));
	md.start_unix = d->start_unix;
	pthread_mutex_lock(&d->lock);
	md.reloads_ok = d->reloads_ok;
	md.reloads_failed = d->reloads_failed;
	md.config_loaded_unix = d->gen->loaded_unix;
	pthread_mutex_unlock(&d->lock);
	if (d->server) {
		webhook_server_stats(d->server, &ws);
		md.webhook = &ws;
	}
	status = metrics_render(body, st, n, &md);
	if (status == 200)
		fleet_metrics(d, body);
	if (status == 200)
		preflight_metrics(d, body); /* issue 13 */
	free(st);
	return status;
}


int daemon_on_status(void *ctx, bool json, struct strbuf *body)
{
	struct daemon *d = ctx;
	struct sched_stats *st = NULL;
	struct statusboard_info info = {
		.version = SEMVER_TAGGER_VERSION,
		.now_unix = (int64_t)time(NULL),
		.start_unix = d->start_unix,
		.stopping = d->stopping != 0,
		.unhealthy_after = d->so.unhealthy_after,
	};
	size_t n = 0;
	int status;

	if (scheduler_snapshot(d->sched, &st, &n) != 0)
		return 500;
	status = statusboard_render(d->board, st, n, &info, json, body);
	free(st);
	return status;
}
