/* SPDX-License-Identifier: MIT */
/*
 * A scheduler turn (daemon_internal.h): the project's reconciliation and
 * its queued MR checks, each a job on an engine worker (worker.h). The
 * daemon holds no forge: what GitLab is asked, the worker asks.
 */
#include "daemon_internal.h"

#include "statusboard.h"

#include "semver-tagger/log.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One queued MR check: only which MR. Everything else (head sha,
 * labels, target branch, URL) the worker reads from the API. */
struct mr_check {
	int64_t iid;
};

void *mr_check_new(int64_t iid)
{
	struct mr_check *c = calloc(1, sizeof(*c));

	if (c)
		c->iid = iid;
	return c;
}

void mr_check_free(void *item)
{
	free(item);
}

static int run_job(struct daemon *d, struct project_rt *rt,
		   const struct engine_job *j, unsigned deadline_s,
		   struct engine_result *r, struct worker_outcome *o)
{
	struct worker_call c = {
		.s = &rt->s,
		.j = j,
		.aff = &rt->aff,
		.stop_fd = d->stop_pipe[0],
		.deadline_s = deadline_s,
		.grace_s = STOP_GRACE_S,
	};
	int rc = worker_pool_run(d->pool, &c, r, o);

	if (o->crashed)
		log_error("%s: the engine worker died during the %s; %s",
			  rt->s.section, j->kind == ENGINE_JOB_RECONCILE
			  ? "reconciliation" : "MR check",
			  o->retried && rc == 0 ? "ran it again on a new one"
						: "replaced");
	return rc;
}

/* A release: every open MR into a released branch gets a fresh check
 * (its verdict named the version just taken), in the next turn. */
static void queue_rechecks(struct daemon *d, struct project_rt *rt,
			   const struct engine_result *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_recheck && n < d->so.max_checks; i++) {
		void *c = mr_check_new(r->recheck[i]);

		if (c && scheduler_enqueue(d->sched, rt->s.section,
					   r->recheck[i], c))
			n++;
	}
	if (n)
		log_info("%s: re-checking %zu open merge request%s after the "
			 "release", rt->s.section, n, n == 1 ? "" : "s");
}

/* ---- quick check (issue 12) --------------------------------------------- */

static int64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* A poll may be answered by the quick check: not a webhook, reload or
 * retry, not the first cycle, and a full reconciliation at least every
 * reconcile_interval. A [group]'s project is polled only as that safety
 * net (daemon_gen.c), so its polls always run in full. */
static void quick_job(const struct project_rt *rt, const char *why,
		      struct engine_job *j)
{
	unsigned every = rt->gen->cfg.reconcile_interval;
	const struct engine_quick *q = rt->quick;

	if (strcmp(why, "poll") != 0 || !q || rt->group ||
	    mono_s() - q->full_at >= (int64_t)every)
		return;
	j->quick_ok = true;
	/* the kept copy ends after its URL's NUL (quick_keep) */
	memcpy(&j->quick, q, offsetof(struct engine_quick, git_url));
	snprintf(j->quick.git_url, sizeof(j->quick.git_url), "%s",
		 q->git_url);
}

/* "Same as last time": nothing said, nothing shown changes. */
static bool quick_unchanged(struct project_rt *rt, const struct engine_result *r,
			    double seconds, struct sched_outcome *out)
{
	if (r->quick_outcome != ENGINE_QUICK_UNCHANGED || !rt->quick)
		return false;
	out->cycle_ran = true;
	out->status = rt->quick->status; /* back-off rules unchanged */
	out->api_requests = r->report.api_requests;
	out->quick_unchanged = 1;
	out->seconds = seconds;
	log_debug("%s: poll unchanged (quick check, %.1f ms CPU)",
		  rt->s.section, r->cpu_ms);
	return true;
}

/* Keep what a full cycle left (nothing after one that changed or
 * failed), stamped with when it ran: the fixed fields and only the
 * URL's bytes. */
static void quick_keep(struct project_rt *rt, const struct engine_result *r)
{
	size_t head = offsetof(struct engine_quick, git_url), len;
	struct engine_quick *q;

	if (r->quick_why[0])
		log_debug("%s: quick check: full cycle (%s)", rt->s.section,
			  r->quick_why);
	free(rt->quick);
	rt->quick = NULL;
	if (!r->quick.valid)
		return;
	len = strnlen(r->quick.git_url, sizeof(r->quick.git_url) - 1);
	if (!(q = malloc(head + len + 1)))
		return; /* the next poll runs in full */
	memcpy(q, &r->quick, head);
	memcpy((char *)q + head, r->quick.git_url, len);
	((char *)q + head)[len] = '\0';
	q->full_at = mono_s();
	rt->quick = q;
}

/* ---- end of the quick check ---------------------------------------------- */

static void reconcile(struct daemon *d, struct project_rt *rt,
		      const char *why, struct sched_outcome *out)
{
	const char *name = rt->s.section;
	struct engine_job j = { .kind = ENGINE_JOB_RECONCILE };
	struct engine_result r;
	struct worker_outcome o;
	unsigned releases = 0;

	if (!preflight_gate(d, rt, out)) /* preflight (issue 13) */
		return;
	engine_result_init(&r);
	quick_job(rt, why, &j);
	if (!j.quick_ok)
		log_debug("%s: reconciling (%s)", name, why);
	run_job(d, rt, &j, CYCLE_DEADLINE_S, &r, &o);
	if (o.abandoned) {
		log_warning("%s: reconciliation abandoned: the daemon stops",
			    name);
		engine_result_release(&r);
		return; /* not a failure of the project */
	}
	if (quick_unchanged(rt, &r, o.seconds, out)) {
		engine_result_release(&r);
		return;
	}
	quick_keep(rt, &r);
	out->cycle_ran = true;
	out->status = r.report.status;
	out->seconds = o.seconds;
	out->api_requests = r.report.api_requests;
	snprintf(out->error, sizeof(out->error), "%s", r.report.error);
	report_log(rt, &r, &releases);
	preflight_after(d, rt, &r); /* preflight (issue 13) */
	statusboard_cycle(d->board, name, rt->s.cfg.tag_prefix, &r.report);
	out->releases = releases;
	if (releases && !d->stopping)
		queue_rechecks(d, rt, &r);
	if (r.report.status == ST_OK || r.report.status == ST_EREFUSED ||
	    r.report.status == ST_ECONFLICT)
		log_debug("%s: reconciled in %.3f s (%s, %s, %s, %.1f ms CPU)",
			  name, o.seconds, why,
			  st_status_name(r.report.status),
			  o.warm ? "warm" : "cold", r.cpu_ms);
	else
		log_msg(r.report.status == ST_ETEMP ||
				r.report.status == ST_ERACE
			? LOG_LEVEL_WARNING : LOG_LEVEL_ERROR,
			"%s: reconciliation failed (%s): %s; will retry", name,
			st_status_name(r.report.status), r.report.error);
	engine_result_release(&r);
}

static void check_mr(struct daemon *d, struct project_rt *rt,
		     const struct mr_check *mc, struct sched_outcome *out)
{
	const char *name = rt->s.section;
	struct engine_job j = { .kind = ENGINE_JOB_CHECK_MR, .iid = mc->iid };
	struct engine_result r;
	struct worker_outcome o;
	const struct engine_check *c = &r.check;

	engine_result_init(&r);
	run_job(d, rt, &j, CHECK_DEADLINE_S, &r, &o);
	if (o.abandoned) {
		engine_result_release(&r);
		return;
	}
	switch (c->outcome) {
	case ENGINE_CHECK_POSTED:
		out->checks_done++;
		statusboard_verdict(d->board, name, mc->iid, c->title,
				    c->web_url[0] ? c->web_url : NULL,
				    c->success, c->desc, (int64_t)time(NULL));
		log_info("%s: !%lld: status %s on %.12s: %s", name,
			 (long long)mc->iid, c->success ? "success" : "failed",
			 c->sha, c->desc);
		break;
	case ENGINE_CHECK_NOT_OPEN:
		statusboard_forget(d->board, name, mc->iid);
		log_debug("%s: !%lld: not open (GitLab says): no status",
			  name, (long long)mc->iid);
		break;
	case ENGINE_CHECK_NOT_RELEASED:
		log_debug("%s: !%lld: targets %s, not released from: no "
			  "status", name, (long long)mc->iid, c->target);
		break;
	default:
		out->checks_failed++;
		log_warning("%s: !%lld: %s", name, (long long)mc->iid,
			    c->error[0] ? c->error : r.report.error);
	}
	engine_result_release(&r);
}

void daemon_run_turn(void *ctx, const struct sched_turn *t,
		     struct sched_outcome *out)
{
	struct daemon *d = ctx;
	struct project_rt *rt = t->data;

	if (t->cycle && !*t->stopping)
		reconcile(d, rt, t->why, out);
	for (size_t i = 0; i < t->n_checks && !*t->stopping; i++)
		check_mr(d, rt, t->checks[i], out);
}
