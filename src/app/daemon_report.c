/* SPDX-License-Identifier: MIT */
/*
 * A reconciliation's typed report as log lines (daemon_internal.h).
 * Releases and goal changes are logged as they happen; a refusal is said
 * once: one line when the project becomes blocked, one when the reason
 * changes, one when it clears; warnings likewise only when they change.
 */
#include "daemon_internal.h"

#include "semver-tagger/log.h"
#include "semver-tagger/strbuf.h"

#include <stdio.h>
#include <string.h>

#define LINE_MAX_BYTES 4096  /* of the one "blocked" line */

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	h ^= 0xff;
	return h * 1099511628211ull;
}

/* "!12, !13" of a branch's merge requests. */
static void mr_list(const struct release_branch_report *b, char *buf,
		    size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < b->n_mrs && off + 24 < size; i++) {
		int n = snprintf(buf + off, size - off, "%s!%lld",
				 off ? ", " : "", (long long)b->mrs[i].iid);

		if (n > 0)
			off += (size_t)n;
	}
}

static const char *impact_word(enum impact i)
{
	switch (i) {
	case IMPACT_MAJOR: return "major";
	case IMPACT_MINOR: return "minor";
	case IMPACT_PATCH: return "patch";
	default: return "maintenance";
	}
}

static void log_goal(const char *name, const struct release_branch_report *b,
		     const struct release_goal_report *g, unsigned *releases)
{
	const struct policy_goal *pg = &g->goal;
	const char *what = pg->kind == GOAL_TAG ? pg->version : pg->branch;

	if (g->state == GOAL_STATE_FAILED) {
		log_error("%s: %s %s: %s", name, goal_kind_name(pg->kind), what,
			  g->detail[0] ? g->detail : "failed");
		return;
	}
	if (g->state != GOAL_STATE_DONE)
		return;
	if (pg->kind == GOAL_TAG) {
		char mrs[512] = "";

		if (b)
			mr_list(b, mrs, sizeof(mrs));
		(*releases)++;
		log_notice("%s: released %s on %s (%s%s%s)", name, pg->version,
			   b ? b->branch : "?",
			   b ? impact_word(b->plan.impact) : "maintenance",
			   mrs[0] ? ": " : "", mrs);
		return;
	}
	log_info("%s: %s %s%s%s: %s at %.12s", name, goal_kind_name(pg->kind),
		 pg->branch, pg->kind == GOAL_PREP ? " " : "",
		 pg->kind == GOAL_PREP ? pg->version : "",
		 g->action[0] ? g->action : "done", g->commit);
}

/* The errors of every refused branch (and a conflict's message). */
static uint64_t blocked_fp(const struct release_report *r)
{
	uint64_t fp = 1469598103934665603ull;
	bool any = false;

	for (size_t i = 0; i < r->n_branches; i++)
		for (size_t k = 0; k < r->branches[i].plan.n_problems; k++)
			if (r->branches[i].plan.problems[k].is_error) {
				fp = fnv(fp, r->branches[i].plan.problems[k]
						     .message);
				any = true;
			}
	if (r->status == ST_EREFUSED || r->status == ST_ECONFLICT) {
		fp = fnv(fp, r->error);
		any = true;
	}
	return any ? (fp ? fp : 1) : 0;
}

static void add_part(struct strbuf *sb, const char *text, size_t *left_out)
{
	if (sb->len + strlen(text) + 2 >= LINE_MAX_BYTES) {
		(*left_out)++;
		return;
	}
	if (sb->len)
		strbuf_add(sb, "; ", 2);
	strbuf_add(sb, text, strlen(text));
}

/* One line naming every problem (each names its MR or branch). */
static void log_blocked(const char *name, const struct release_report *r)
{
	struct strbuf sb;
	size_t more = 0;
	bool any = false;

	strbuf_init(&sb, LINE_MAX_BYTES);
	for (size_t i = 0; i < r->n_branches; i++)
		for (size_t k = 0; k < r->branches[i].plan.n_problems; k++)
			if (r->branches[i].plan.problems[k].is_error) {
				add_part(&sb, r->branches[i].plan.problems[k]
						      .message, &more);
				any = true;
			}
	if (!any && r->error[0])
		add_part(&sb, r->error, &more);
	if (more)
		log_warning("%s: release blocked: %s (and %zu more)", name,
			    strbuf_str(&sb), more);
	else
		log_warning("%s: release blocked: %s", name, strbuf_str(&sb));
	strbuf_release(&sb);
}

static uint64_t warnings_fp(const struct release_report *r)
{
	uint64_t fp = 1469598103934665603ull;
	bool any = false;

	for (size_t i = 0; i < r->n_branches; i++)
		for (size_t k = 0; k < r->branches[i].plan.n_problems; k++)
			if (!r->branches[i].plan.problems[k].is_error) {
				fp = fnv(fp, r->branches[i].plan.problems[k]
						     .message);
				any = true;
			}
	for (size_t i = 0; i < r->n_warnings; i++) {
		fp = fnv(fp, r->warnings[i]);
		any = true;
	}
	return any ? (fp ? fp : 1) : 0;
}

static void log_warnings(const char *name, const struct release_report *r)
{
	for (size_t i = 0; i < r->n_branches; i++)
		for (size_t k = 0; k < r->branches[i].plan.n_problems; k++)
			if (!r->branches[i].plan.problems[k].is_error)
				log_warning("%s: %s", name,
					    r->branches[i].plan.problems[k]
						    .message);
	for (size_t i = 0; i < r->n_warnings; i++)
		log_warning("%s: %s", name, r->warnings[i]);
}

/* Refusals and warnings: said when they change, not on every poll. */
static void log_problems(struct project_rt *rt, const struct release_report *r)
{
	const char *name = rt->s.section;
	uint64_t b = blocked_fp(r), w = warnings_fp(r);
	uint64_t was_b = atomic_load(&rt->said.blocked_fp);

	if (w != atomic_load(&rt->said.warned_fp)) {
		atomic_store(&rt->said.warned_fp, w);
		log_warnings(name, r);
	}
	if (b == was_b)
		return;
	atomic_store(&rt->said.blocked_fp, b);
	if (b)
		log_blocked(name, r);
	else if (r->status == ST_OK)
		log_notice("%s: no longer blocked", name);
}

void report_log(struct project_rt *rt, const struct engine_result *res,
		unsigned *releases)
{
	const struct release_report *r = &res->report;
	const char *name = rt->s.section;

	for (size_t i = 0; i < r->n_debug; i++)
		log_debug("%s: %s", name, r->debug[i]);
	for (size_t i = 0; i < r->n_branches; i++)
		for (size_t k = 0; k < r->branches[i].n_goals; k++)
			log_goal(name, &r->branches[i],
				 &r->branches[i].goals[k], releases);
	for (size_t i = 0; i < r->n_maintenance; i++)
		log_goal(name, NULL, &r->maintenance[i], releases);
	/* a failed run (network, ...) says nothing about the refusal */
	if (r->status == ST_OK || r->status == ST_EREFUSED ||
	    r->status == ST_ECONFLICT)
		log_problems(rt, r);
}
