/* SPDX-License-Identifier: MIT */
/*
 * Per-project status (status.h): updated by the thread running the
 * project's turn after each job, read by anyone through a snapshot.
 */
#include "daemon_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void status_init(struct project_rt *rt)
{
	pthread_mutex_init(&rt->status_lock, NULL);
	memset(&rt->status, 0, sizeof(rt->status));
	snprintf(rt->status.section, sizeof(rt->status.section), "%s",
		 rt->s.section ? rt->s.section : "");
	snprintf(rt->status.project, sizeof(rt->status.project), "%s",
		 rt->s.cfg.project ? rt->s.cfg.project : "");
}

void status_destroy(struct project_rt *rt)
{
	pthread_mutex_destroy(&rt->status_lock);
}

/* The highest release the report names: the default family's latest or
 * a tag this run made. */
static void latest_of(const struct release_report *r, char *buf, size_t n)
{
	struct semver_ver best = { 0, 0, 0 };
	bool any = false;

	for (size_t i = 0; i < r->n_branches; i++) {
		const struct release_branch_report *b = &r->branches[i];

		if (b->plan.branch.has_latest &&
		    (!any || semver_ver_compare(&b->plan.branch.latest,
						&best) > 0)) {
			best = b->plan.branch.latest;
			any = true;
		}
		for (size_t k = 0; k < b->n_goals; k++)
			if (b->goals[k].goal.kind == GOAL_TAG &&
			    b->goals[k].state == GOAL_STATE_DONE &&
			    (!any || semver_ver_compare(&b->goals[k].goal.release,
							&best) > 0)) {
				best = b->goals[k].goal.release;
				any = true;
			}
	}
	if (any)
		semver_ver_format(&best, buf, n);
}

static void blocked_of(struct project_status *st, const struct release_report *r)
{
	size_t off = 0;

	st->blocked = r->status == ST_EREFUSED || r->status == ST_ECONFLICT;
	st->blocked_reason[0] = '\0';
	st->n_blocked_mrs = 0;
	if (!st->blocked)
		return;
	for (size_t i = 0; i < r->n_branches; i++)
		for (size_t k = 0; k < r->branches[i].plan.n_problems; k++) {
			const struct policy_problem *p =
				&r->branches[i].plan.problems[k];
			int w;

			if (!p->is_error)
				continue;
			if (p->iid && st->n_blocked_mrs < STATUS_BLOCKED_MRS)
				st->blocked_mrs[st->n_blocked_mrs++] =
					(int64_t)p->iid;
			w = snprintf(st->blocked_reason + off,
				     sizeof(st->blocked_reason) - off, "%s%s",
				     off ? "; " : "", p->message);
			if (w > 0 && (size_t)w < sizeof(st->blocked_reason) - off)
				off += (size_t)w;
		}
	if (!off)
		snprintf(st->blocked_reason, sizeof(st->blocked_reason), "%s",
			 r->error);
}

void status_reconciled(struct project_rt *rt, const struct engine_result *res)
{
	const struct release_report *r = &res->report;
	struct project_status *st = &rt->status;

	pthread_mutex_lock(&rt->status_lock);
	st->last_cycle_unix = (int64_t)time(NULL);
	st->last_status = r->status;
	snprintf(st->last_error, sizeof(st->last_error), "%s", r->error);
	latest_of(r, st->latest_release, sizeof(st->latest_release));
	if (r->status == ST_OK || r->status == ST_EREFUSED ||
	    r->status == ST_ECONFLICT)
		blocked_of(st, r);
	pthread_mutex_unlock(&rt->status_lock);
}

void status_checked(struct project_rt *rt, int64_t iid,
		    const struct engine_check *c)
{
	struct project_status *st = &rt->status;
	struct status_verdict *v = NULL;

	pthread_mutex_lock(&rt->status_lock);
	for (size_t i = 0; i < st->n_verdicts; i++)
		if (st->verdicts[i].iid == iid) { /* replaced, moved last */
			memmove(&st->verdicts[i], &st->verdicts[i + 1],
				(st->n_verdicts - i - 1) * sizeof(*v));
			st->n_verdicts--;
			break;
		}
	if (st->n_verdicts == STATUS_VERDICTS) { /* the oldest goes */
		memmove(&st->verdicts[0], &st->verdicts[1],
			(STATUS_VERDICTS - 1) * sizeof(*v));
		st->n_verdicts--;
	}
	v = &st->verdicts[st->n_verdicts++];
	v->iid = iid;
	v->success = c->success;
	snprintf(v->sha, sizeof(v->sha), "%s", c->sha);
	snprintf(v->description, sizeof(v->description), "%s", c->desc);
	v->at_unix = (int64_t)time(NULL);
	pthread_mutex_unlock(&rt->status_lock);
}

void status_carry(struct project_rt *rt, struct project_rt *old)
{
	pthread_mutex_lock(&old->status_lock);
	pthread_mutex_lock(&rt->status_lock);
	{
		char section[256], project[256];

		memcpy(section, rt->status.section, sizeof(section));
		memcpy(project, rt->status.project, sizeof(project));
		rt->status = old->status;
		memcpy(rt->status.section, section, sizeof(section));
		memcpy(rt->status.project, project, sizeof(project));
	}
	pthread_mutex_unlock(&rt->status_lock);
	pthread_mutex_unlock(&old->status_lock);
}

int daemon_status_snapshot(struct daemon *d, struct project_status **out,
			   size_t *n)
{
	struct gen *g = gen_get(d);
	struct project_status *v = calloc(g->n + 1, sizeof(*v));

	if (!v) {
		gen_unref(g);
		return ST_ENOMEM;
	}
	for (size_t i = 0; i < g->n; i++) {
		pthread_mutex_lock(&g->p[i].status_lock);
		v[i] = g->p[i].status;
		pthread_mutex_unlock(&g->p[i].status_lock);
	}
	*n = g->n;
	*out = v;
	gen_unref(g);
	return ST_OK;
}
