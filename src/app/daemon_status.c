/* SPDX-License-Identifier: MIT */
/*
 * Per-project status (status.h): updated by the thread running the
 * project's turn after each job, read by anyone through a snapshot.
 * Texts and verdicts are allocated only when there are some.
 */
#include "daemon_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEXT_MAX 1024

void status_init(struct project_rt *rt)
{
	pthread_mutex_init(&rt->status_lock, NULL);
	memset(&rt->status, 0, sizeof(rt->status));
}

static void clear(struct project_status *st)
{
	free(st->last_error);
	free(st->blocked_reason);
	free(st->verdicts);
	free(st->section);
	free(st->project);
	memset(st, 0, sizeof(*st));
}

void status_destroy(struct project_rt *rt)
{
	clear(&rt->status);
	pthread_mutex_destroy(&rt->status_lock);
}

void project_status_free(struct project_status *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		clear(&v[i]);
	free(v);
}

/* *dst = a copy of s cut at TEXT_MAX (NULL for ""); kept on ENOMEM. */
static void set_text(char **dst, const char *s)
{
	char *copy = NULL;

	if (s && *s && !(copy = strndup(s, TEXT_MAX)))
		return;
	free(*dst);
	*dst = copy;
}

/* The highest release the report names: a branch family's latest or a
 * tag this run made. */
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
	char reason[TEXT_MAX];
	size_t off = 0;

	st->blocked = r->status == ST_EREFUSED || r->status == ST_ECONFLICT;
	st->n_blocked_mrs = 0;
	reason[0] = '\0';
	for (size_t i = 0; st->blocked && i < r->n_branches; i++)
		for (size_t k = 0; k < r->branches[i].plan.n_problems; k++) {
			const struct policy_problem *p =
				&r->branches[i].plan.problems[k];
			int w;

			if (!p->is_error)
				continue;
			if (p->iid && st->n_blocked_mrs < STATUS_BLOCKED_MRS)
				st->blocked_mrs[st->n_blocked_mrs++] =
					(int64_t)p->iid;
			w = snprintf(reason + off, sizeof(reason) - off, "%s%s",
				     off ? "; " : "", p->message);
			if (w > 0 && (size_t)w < sizeof(reason) - off)
				off += (size_t)w;
		}
	set_text(&st->blocked_reason, !st->blocked ? NULL
				      : off ? reason : r->error);
}

void status_reconciled(struct project_rt *rt, const struct engine_result *res)
{
	const struct release_report *r = &res->report;
	struct project_status *st = &rt->status;

	pthread_mutex_lock(&rt->status_lock);
	st->last_cycle_unix = (int64_t)time(NULL);
	st->last_status = r->status;
	set_text(&st->last_error, r->error);
	latest_of(r, st->latest_release, sizeof(st->latest_release));
	if (r->status == ST_OK || r->status == ST_EREFUSED ||
	    r->status == ST_ECONFLICT)
		blocked_of(st, r);
	pthread_mutex_unlock(&rt->status_lock);
}

/* The verdict slot for iid: its old one moved last, else a new one (the
 * oldest dropped past STATUS_VERDICTS). NULL on ENOMEM. */
static struct status_verdict *verdict_slot(struct project_status *st,
					   int64_t iid)
{
	struct status_verdict *v;

	for (size_t i = 0; i < st->n_verdicts; i++)
		if (st->verdicts[i].iid == iid) {
			memmove(&st->verdicts[i], &st->verdicts[i + 1],
				(st->n_verdicts - i - 1) * sizeof(*v));
			st->n_verdicts--;
			break;
		}
	if (st->n_verdicts == STATUS_VERDICTS) {
		memmove(&st->verdicts[0], &st->verdicts[1],
			(STATUS_VERDICTS - 1) * sizeof(*v));
		st->n_verdicts--;
	}
	v = realloc(st->verdicts, (st->n_verdicts + 1) * sizeof(*v));
	if (!v)
		return NULL;
	st->verdicts = v;
	return &v[st->n_verdicts++];
}

void status_checked(struct project_rt *rt, int64_t iid,
		    const struct engine_check *c)
{
	struct status_verdict *v;

	pthread_mutex_lock(&rt->status_lock);
	v = verdict_slot(&rt->status, iid);
	if (v) {
		memset(v, 0, sizeof(*v));
		v->iid = iid;
		v->success = c->success;
		snprintf(v->sha, sizeof(v->sha), "%s", c->sha);
		snprintf(v->description, sizeof(v->description), "%s",
			 c->desc);
		v->at_unix = (int64_t)time(NULL);
	}
	pthread_mutex_unlock(&rt->status_lock);
}

/* A deep copy of src into dst (zeroed); false on ENOMEM. */
static bool copy_status(struct project_status *dst,
			const struct project_status *src)
{
	*dst = *src;
	dst->section = dst->project = NULL;
	dst->last_error = src->last_error ? strdup(src->last_error) : NULL;
	dst->blocked_reason = src->blocked_reason
		? strdup(src->blocked_reason) : NULL;
	dst->verdicts = src->n_verdicts
		? malloc(src->n_verdicts * sizeof(*dst->verdicts)) : NULL;
	if (dst->verdicts)
		memcpy(dst->verdicts, src->verdicts,
		       src->n_verdicts * sizeof(*dst->verdicts));
	return (!src->last_error || dst->last_error) &&
	       (!src->blocked_reason || dst->blocked_reason) &&
	       (!src->n_verdicts || dst->verdicts);
}

void status_carry(struct project_rt *rt, struct project_rt *old)
{
	struct project_status copy;
	bool ok;

	pthread_mutex_lock(&old->status_lock);
	ok = copy_status(&copy, &old->status);
	pthread_mutex_unlock(&old->status_lock);
	pthread_mutex_lock(&rt->status_lock);
	clear(&rt->status);
	if (ok)
		rt->status = copy;
	else
		clear(&copy);
	pthread_mutex_unlock(&rt->status_lock);
}

int daemon_status_snapshot(struct daemon *d, struct project_status **out,
			   size_t *n)
{
	struct gen *g = gen_get(d);
	size_t count = g->n;
	struct project_status *v = calloc(count + 1, sizeof(*v));
	bool ok = v != NULL;

	for (size_t i = 0; ok && i < g->n; i++) {
		pthread_mutex_lock(&g->p[i].status_lock);
		ok = copy_status(&v[i], &g->p[i].status);
		pthread_mutex_unlock(&g->p[i].status_lock);
		v[i].section = strdup(g->p[i].s.section ? g->p[i].s.section
							: "");
		v[i].project = strdup(g->p[i].s.cfg.project
				      ? g->p[i].s.cfg.project : "");
		ok = ok && v[i].section && v[i].project;
	}
	gen_unref(g);
	if (!ok) {
		project_status_free(v, v ? count : 0);
		return ST_ENOMEM;
	}
	*n = count;
	*out = v;
	return ST_OK;
}
