/* SPDX-License-Identifier: MIT */
#include "output.h"

#include "semver-tagger/log.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

int output_exit_code(int status)
{
	switch (status) {
	case ST_OK: return 0;
	case ST_EREFUSED:
	case ST_ECONFLICT: return 65;  /* EX_DATAERR: a person must act */
	case ST_ETEMP:
	case ST_ERACE: return 75;      /* EX_TEMPFAIL: re-run converges */
	case ST_EINVAL: return 76;     /* EX_PROTOCOL: the server's answer */
	case ST_EAUTH: return 77;      /* EX_NOPERM */
	case ST_ECONFIG:
	case ST_ENOTFOUND: return 78;  /* EX_CONFIG */
	case ST_EIO: return 74;        /* EX_IOERR: the state directory */
	default: return 70;            /* EX_SOFTWARE */
	}
}

static void version_str(const struct semver_ver *v, char *buf, size_t n)
{
	semver_ver_format(v, buf, n);
}

static void goal_line(const struct release_goal_report *g, bool dry_run,
		      FILE *out)
{
	const char *what = g->action[0] ? g->action : goal_state_name(g->state);

	if (g->state == GOAL_STATE_ACHIEVED)
		what = "already there";
	else if (g->state == GOAL_STATE_FAILED)
		what = "FAILED";
	switch (g->goal.kind) {
	case GOAL_TAG:
		fprintf(out, "tag %s at %.12s: %s%s\n", g->goal.version,
			g->commit, dry_run && g->state == GOAL_STATE_PLANNED
			? "would be " : "", what);
		break;
	case GOAL_BRANCH:
		fprintf(out, "%s at %.12s: %s%s\n", g->goal.branch, g->commit,
			dry_run && g->state == GOAL_STATE_PLANNED ? "would be "
								  : "", what);
		break;
	default:
		fprintf(out, "%s prep %s at %.12s: %s%s\n", g->goal.branch,
			g->goal.version, g->commit,
			dry_run && g->state == GOAL_STATE_PLANNED ? "would be "
								  : "", what);
	}
}

static void branch_log(const struct release_branch_report *b)
{
	const struct policy_plan *p = &b->plan;

	for (size_t i = 0; i < p->n_problems; i++) {
		if (p->problems[i].is_error)
			log_error("%s", p->problems[i].message);
		else
			log_warning("%s", p->problems[i].message);
	}
	if (b->status && b->error[0] && p->n_errors == 0)
		log_error("%s: %s", b->branch, b->error);
	for (size_t i = 0; i < b->n_goals; i++)
		if (b->goals[i].state == GOAL_STATE_FAILED &&
		    b->goals[i].detail[0] &&
		    strcmp(b->goals[i].detail, b->error) != 0)
			log_error("%s: %s", b->goals[i].goal.kind == GOAL_TAG
				  ? b->goals[i].goal.version
				  : b->goals[i].goal.branch,
				  b->goals[i].detail);
}

/* Errors and warnings go to the log (stderr), whatever the output. */
void output_log(const struct release_report *r)
{
	bool shown = false;

	for (size_t i = 0; i < r->n_debug; i++)
		log_debug("%s", r->debug[i]);
	for (size_t i = 0; i < r->n_warnings; i++)
		log_warning("%s", r->warnings[i]);
	for (size_t i = 0; i < r->n_branches; i++) {
		branch_log(&r->branches[i]);
		if (r->branches[i].plan.n_errors ||
		    strcmp(r->branches[i].error, r->error) == 0)
			shown = true;
	}
	for (size_t i = 0; i < r->n_maintenance; i++)
		if (r->maintenance[i].state == GOAL_STATE_FAILED)
			log_error("%s: %s", r->maintenance[i].goal.branch,
				  r->maintenance[i].detail);
	if (r->status && r->error[0] && !shown)
		log_error("%s", r->error);
}

static void branch_human(const struct release_branch_report *b, bool dry_run,
			 FILE *out)
{
	const struct policy_plan *p = &b->plan;
	char latest[SEMVER_VER_STR_MAX], next[SEMVER_VER_STR_MAX];

	version_str(&p->branch.latest, latest, sizeof(latest));
	version_str(&p->next, next, sizeof(next));
	if (p->branch.role == BRANCH_OTHER)
		fprintf(out, "%s: not a release branch, nothing to do\n",
			b->branch);
	else if (p->release)
		fprintf(out, "%s: %s -> %s (%s, %zu merge request%s)\n",
			b->branch, p->branch.has_latest ? latest : "no release",
			next, p->stable ? "STABLE_RELEASE" : impact_name(p->impact),
			b->n_mrs, b->n_mrs == 1 ? "" : "s");
	else if (p->n_errors == 0 && b->status == 0)
		fprintf(out, "%s: nothing new since %s\n", b->branch,
			p->branch.has_latest ? latest : "the start");
	for (size_t i = 0; i < b->n_goals; i++)
		if (b->goals[i].state != GOAL_STATE_SKIPPED || b->status == 0)
			goal_line(&b->goals[i], dry_run, out);
}

void output_human(const struct release_report *r, bool dry_run, FILE *out)
{
	output_log(r);
	for (size_t i = 0; i < r->n_branches; i++)
		branch_human(&r->branches[i], dry_run, out);
	for (size_t i = 0; i < r->n_maintenance; i++)
		goal_line(&r->maintenance[i], dry_run, out);
	if (r->release_objects)
		fprintf(out, "release objects: %u created\n", r->release_objects);
	if (r->released_notes)
		fprintf(out, "\"released in\" notes: %u posted\n",
			r->released_notes);
	fflush(out);
}

/* ---- JSON ---------------------------------------------------------------- */

static cJSON *version_or_null(bool present, const struct semver_ver *v)
{
	char buf[SEMVER_VER_STR_MAX];

	if (!present)
		return cJSON_CreateNull();
	version_str(v, buf, sizeof(buf));
	return cJSON_CreateString(buf);
}

static cJSON *goal_json(const struct release_goal_report *g)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "kind", goal_kind_name(g->goal.kind));
	if (g->goal.kind == GOAL_TAG)
		cJSON_AddNullToObject(o, "branch");
	else
		cJSON_AddStringToObject(o, "branch", g->goal.branch);
	if (g->goal.kind == GOAL_BRANCH)
		cJSON_AddNullToObject(o, "version");
	else
		cJSON_AddStringToObject(o, "version", g->goal.version);
	cJSON_AddItemToObject(o, "release", version_or_null(true, &g->goal.release));
	cJSON_AddStringToObject(o, "state", goal_state_name(g->state));
	cJSON_AddStringToObject(o, "action", g->action);
	if (g->commit[0])
		cJSON_AddStringToObject(o, "commit", g->commit);
	else
		cJSON_AddNullToObject(o, "commit");
	if (g->detail[0])
		cJSON_AddStringToObject(o, "detail", g->detail);
	return o;
}

static cJSON *problems_json(const struct policy_plan *p, bool errors)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < p->n_problems; i++) {
		const struct policy_problem *pr = &p->problems[i];
		cJSON *o;

		if (pr->is_error != errors)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "kind", problem_kind_name(pr->kind));
		if (pr->iid)
			cJSON_AddNumberToObject(o, "iid", (double)pr->iid);
		else
			cJSON_AddNullToObject(o, "iid");
		cJSON_AddStringToObject(o, "message", pr->message);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static cJSON *mrs_json(const struct release_branch_report *b)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < b->n_mrs; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "iid", (double)b->mrs[i].iid);
		cJSON_AddStringToObject(o, "title", b->mrs[i].title);
		cJSON_AddStringToObject(o, "web_url", b->mrs[i].web_url);
		cJSON_AddStringToObject(o, "author", b->mrs[i].author);
		if (b->mrs[i].impact == IMPACT_NONE)
			cJSON_AddNullToObject(o, "impact");
		else
			cJSON_AddStringToObject(o, "impact",
						impact_name(b->mrs[i].impact));
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static cJSON *branch_json(const struct release_branch_report *b)
{
	const struct policy_plan *p = &b->plan;
	cJSON *o = cJSON_CreateObject(), *goals = cJSON_CreateArray();
	bool family = p->branch.role != BRANCH_OTHER &&
		      p->branch.role != BRANCH_NO_FAMILY;

	cJSON_AddStringToObject(o, "branch", b->branch);
	cJSON_AddStringToObject(o, "role", branch_role_name(p->branch.role));
	cJSON_AddItemToObject(o, "latest",
			      version_or_null(family && p->branch.has_latest,
					      &p->branch.latest));
	cJSON_AddItemToObject(o, "next", version_or_null(p->release, &p->next));
	if (p->impact == IMPACT_NONE)
		cJSON_AddNullToObject(o, "impact");
	else
		cJSON_AddStringToObject(o, "impact", impact_name(p->impact));
	cJSON_AddBoolToObject(o, "stable_release", p->stable);
	cJSON_AddItemToObject(o, "merge_requests", mrs_json(b));
	for (size_t i = 0; i < b->n_goals; i++)
		cJSON_AddItemToArray(goals, goal_json(&b->goals[i]));
	cJSON_AddItemToObject(o, "goals", goals);
	cJSON_AddItemToObject(o, "errors", problems_json(p, true));
	cJSON_AddItemToObject(o, "warnings", problems_json(p, false));
	if (b->notes)
		cJSON_AddStringToObject(o, "notes", b->notes);
	else
		cJSON_AddNullToObject(o, "notes");
	cJSON_AddStringToObject(o, "status", st_status_name(b->status));
	if (b->status && b->error[0])
		cJSON_AddStringToObject(o, "error", b->error);
	return o;
}

int output_json(const struct release_report *r, bool dry_run, FILE *out)
{
	cJSON *o = cJSON_CreateObject(), *a, *m, *w;
	char *text;

	output_log(r);
	if (!o)
		return ST_ENOMEM;
	cJSON_AddStringToObject(o, "project", r->project ? r->project : "");
	cJSON_AddStringToObject(o, "default_branch",
				r->default_branch ? r->default_branch : "");
	if (r->web_url)
		cJSON_AddStringToObject(o, "web_url", r->web_url);
	cJSON_AddBoolToObject(o, "dry_run", dry_run);
	a = cJSON_AddArrayToObject(o, "branches");
	for (size_t i = 0; a && i < r->n_branches; i++)
		cJSON_AddItemToArray(a, branch_json(&r->branches[i]));
	m = cJSON_AddArrayToObject(o, "maintenance");
	for (size_t i = 0; m && i < r->n_maintenance; i++)
		cJSON_AddItemToArray(m, goal_json(&r->maintenance[i]));
	w = cJSON_AddArrayToObject(o, "warnings");
	for (size_t i = 0; w && i < r->n_warnings; i++)
		cJSON_AddItemToArray(w, cJSON_CreateString(r->warnings[i]));
	cJSON_AddNumberToObject(o, "replans", r->replans);
	cJSON_AddNumberToObject(o, "api_requests", r->api_requests);
	cJSON_AddNumberToObject(o, "release_objects", r->release_objects);
	cJSON_AddNumberToObject(o, "released_notes", r->released_notes);
	cJSON_AddStringToObject(o, "status", st_status_name(r->status));
	cJSON_AddNumberToObject(o, "exit_code", output_exit_code(r->status));
	if (r->status && r->error[0])
		cJSON_AddStringToObject(o, "error", r->error);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text)
		return ST_ENOMEM;
	fprintf(out, "%s\n", text);
	fflush(out);
	free(text);
	return ST_OK;
}
