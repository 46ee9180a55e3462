/* SPDX-License-Identifier: MIT */
/* The release report: what one reconciliation found and did. */
#include "release_internal.h"

#include <stdlib.h>
#include <string.h>

void release_report_init(struct release_report *r)
{
	memset(r, 0, sizeof(*r));
}

static void branch_release(struct release_branch_report *b)
{
	free(b->branch);
	policy_plan_release(&b->plan);
	for (size_t i = 0; i < b->n_mrs; i++) {
		free(b->mrs[i].title);
		free(b->mrs[i].web_url);
		free(b->mrs[i].author);
	}
	free(b->mrs);
	free(b->goals);
	free(b->notes);
	memset(b, 0, sizeof(*b));
}

void report_clear_attempt(struct release_report *r)
{
	for (size_t i = 0; i < r->n_branches; i++)
		branch_release(&r->branches[i]);
	free(r->branches);
	free(r->maintenance);
	r->branches = NULL;
	r->n_branches = 0;
	r->maintenance = NULL;
	r->n_maintenance = 0;
}

void release_report_release(struct release_report *r)
{
	if (!r)
		return;
	report_clear_attempt(r);
	for (size_t i = 0; i < r->n_warnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	for (size_t i = 0; i < r->n_debug; i++)
		free(r->debug[i]);
	free(r->debug);
	free(r->project);
	free(r->default_branch);
	free(r->web_url);
	release_report_init(r);
}

int release_report_warn(struct release_report *r, const char *msg)
{
	return report_add_warning(r, msg);
}

int report_add_branch(struct release_report *r, const char *name,
		      struct release_branch_report **out)
{
	struct release_branch_report *grown, *b;

	grown = realloc(r->branches, (r->n_branches + 1) * sizeof(*grown));
	if (!grown)
		return ST_ENOMEM;
	r->branches = grown;
	b = &r->branches[r->n_branches];
	memset(b, 0, sizeof(*b));
	policy_plan_init(&b->plan);
	b->branch = strdup(name);
	if (!b->branch)
		return ST_ENOMEM;
	r->n_branches++;
	*out = b;
	return ST_OK;
}

int report_add_maintenance(struct release_report *r,
			   const struct release_goal_report *g)
{
	struct release_goal_report *grown;

	grown = realloc(r->maintenance,
			(r->n_maintenance + 1) * sizeof(*grown));
	if (!grown)
		return ST_ENOMEM;
	r->maintenance = grown;
	r->maintenance[r->n_maintenance++] = *g;
	return ST_OK;
}

static int add_line(char ***v, size_t *n, const char *msg)
{
	char **grown, *copy = strdup(msg);

	if (!copy)
		return ST_ENOMEM;
	grown = realloc(*v, (*n + 1) * sizeof(*grown));
	if (!grown) {
		free(copy);
		return ST_ENOMEM;
	}
	*v = grown;
	(*v)[(*n)++] = copy;
	return ST_OK;
}

int report_add_warning(struct release_report *r, const char *msg)
{
	return add_line(&r->warnings, &r->n_warnings, msg);
}

int report_add_debug(struct release_report *r, const char *msg)
{
	return add_line(&r->debug, &r->n_debug, msg);
}

struct release_goal_report *report_find_goal(struct release_report *r,
					     const struct policy_goal *g)
{
	for (size_t i = 0; i < r->n_branches; i++) {
		struct release_branch_report *b = &r->branches[i];

		for (size_t j = 0; j < b->n_goals; j++) {
			const struct policy_goal *x = &b->goals[j].goal;

			if (x->kind == g->kind && strcmp(x->branch, g->branch) == 0 &&
			    semver_ver_compare(&x->release, &g->release) == 0)
				return &b->goals[j];
		}
	}
	return NULL;
}

static int severity(int code)
{
	switch (code) {
	case ST_OK: return 0;
	case ST_ERACE: return 1;
	case ST_ETEMP: return 2;
	case ST_EIO: return 3;
	case ST_EREFUSED:
	case ST_ECONFLICT: return 4;
	case ST_EAUTH: return 5;
	case ST_ECONFIG: return 6;
	default: return 3;
	}
}

int report_worse(int a, int b)
{
	return severity(b) > severity(a) ? b : a;
}

const char *goal_state_name(enum goal_state s)
{
	switch (s) {
	case GOAL_STATE_ACHIEVED: return "achieved";
	case GOAL_STATE_DONE: return "done";
	case GOAL_STATE_PLANNED: return "planned";
	case GOAL_STATE_FAILED: return "failed";
	default: return "skipped";
	}
}
