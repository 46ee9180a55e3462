/* SPDX-License-Identifier: MIT */
/*
 * One engine job (engine.h): a reconciliation, or the check of one open
 * MR re-read from the API. The webhook that asked for a check only chose
 * the MR: its sha, labels, target branch and URL come from GitLab here.
 */
#include "assess.h"
#include "engine.h"
#include "engine_repofile.h"

#include "semver-tagger/forge_fleet.h"
#include "semver-tagger/labels.h"
#include "semver-tagger/policy.h"
#include "semver-tagger/statedir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define NO_LABEL_DESC "no impact label: add ImpactMajor, ImpactMinor or " \
		      "ImpactPatch"

struct engine_warm {
	struct forge *forge;
	struct labels *labels;
	struct release_warm rw;
};

struct engine_warm *engine_warm_new(void)
{
	return calloc(1, sizeof(struct engine_warm));
}

void engine_warm_free(struct engine_warm *w)
{
	if (!w)
		return;
	forge_free(w->forge);
	labels_free(w->labels);
	release_warm_release(&w->rw);
	free(w);
}

/* The job's forge and labels: the warm ones, else built into w. */
static int job_setup(const struct engine_settings *s, struct engine_warm *w,
		     const atomic_int *cancel, struct st_error *err)
{
	int rc;

	if (!w->labels) {
		w->labels = labels_new(s->cfg.label_major, s->cfg.label_minor,
				       s->cfg.label_patch, err);
		if (!w->labels)
			return err->code ? err->code : ST_ECONFIG;
	}
	if (w->forge)
		return ST_OK;
	rc = engine_forge_new(s, cancel, &w->forge, err);
	return rc;
}

static void options(const struct engine_settings *s,
		    const struct engine_warm *w, struct release_options *o)
{
	memset(o, 0, sizeof(*o));
	o->cfg = &s->cfg;
	o->labels = w->labels;
	o->state_dir = s->state_dir;
	o->token = s->token.value;
	o->token_user = s->token_kind == GITLAB_TOKEN_JOB ? "gitlab-ci-token"
							  : NULL;
	o->branch = s->branch;
	o->dry_run = s->dry_run;
	o->stable_release = s->cfg.stable_release;
	o->max_replans = 3;
	o->network_timeout_ms = s->network_timeout_ms;
	o->failpoint = s->failpoint;
	o->debug = s->debug;
}

static bool released_something(const struct release_report *r)
{
	for (size_t i = 0; i < r->n_branches; i++)
		for (size_t k = 0; k < r->branches[i].n_goals; k++)
			if (r->branches[i].goals[k].goal.kind == GOAL_TAG &&
			    r->branches[i].goals[k].state == GOAL_STATE_DONE)
				return true;
	return false;
}

static const char *default_branch(const struct engine_settings *s,
				  const struct release_report *r)
{
	return s->cfg.default_branch ? s->cfg.default_branch
				     : r->default_branch;
}

/* After a release: the open MRs into a released branch, to check again
 * (one listing; a failure is a warning in the report). */
static void list_rechecks(const struct engine_settings *s,
			  struct engine_warm *w, struct engine_result *r)
{
	struct forge_mr_list l;
	struct forge_list_result res;
	struct st_error err;
	char msg[ST_ERROR_MSG_MAX + 64];

	forge_mr_list_init(&l);
	memset(&res, 0, sizeof(res));
	st_error_clear(&err);
	if (forge_open_mrs(w->forge, &l, &res, &err) != 0) {
		snprintf(msg, sizeof(msg), "open merge requests not "
			 "re-checked: %s", err.msg);
		release_report_warn(&r->report, msg);
		return;
	}
	r->recheck = calloc(l.len + 1, sizeof(*r->recheck));
	for (size_t i = 0; r->recheck && i < l.len &&
			   r->n_recheck < ENGINE_RECHECK_MAX; i++)
		if (l.items[i].head_sha &&
		    policy_released_from(l.items[i].target_branch,
					 default_branch(s, &r->report),
					 s->cfg.release_prefix))
			r->recheck[r->n_recheck++] = l.items[i].iid;
	forge_mr_list_release(&l);
}

static int run_reconcile(const struct engine_settings *s,
			 struct engine_warm *w, struct engine_result *r,
			 struct st_error *err)
{
	struct release_options o;
	int rc;

	options(s, w, &o);
	o.warm = &w->rw;
	rc = release_run(&o, w->forge, &r->report, err);
	if (!s->dry_run && released_something(&r->report))
		list_rechecks(s, w, r);
	return rc;
}

static const char *impact_title(enum impact i)
{
	switch (i) {
	case IMPACT_MAJOR: return "ImpactMajor";
	case IMPACT_MINOR: return "ImpactMinor";
	case IMPACT_PATCH: return "ImpactPatch";
	default: return "no impact";
	}
}

/* Cut s to at most max bytes without splitting a UTF-8 sequence. */
static void utf8_cut(char *s, size_t max)
{
	if (strlen(s) <= max)
		return;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	s[max] = '\0';
}

/* src (NULL: "") into dst, cut without splitting a UTF-8 sequence. */
static void copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The status for a planned merge; false when there is no verdict. */
static bool verdict(const struct release_report *rep, int rc,
		    struct engine_check *c)
{
	const struct release_branch_report *b =
		rep->n_branches ? &rep->branches[0] : NULL;
	char desc[1024];

	if (!b)
		return false;
	if (rc == ST_EREFUSED) {
		const struct policy_problem *p = b->plan.n_problems
			? &b->plan.problems[0] : NULL;

		c->success = false;
		snprintf(desc, sizeof(desc), "%s",
			 p && p->kind == PROBLEM_MISSING_IMPACT ? NO_LABEL_DESC
			 : p ? p->message : b->error);
	} else if (rc == ST_OK && b->plan.release) {
		char v[SEMVER_VER_STR_MAX];

		semver_ver_format(&b->plan.next, v, sizeof(v));
		c->success = true;
		snprintf(desc, sizeof(desc), "%s: merging releases %s on %s",
			 impact_title(b->plan.impact), v, c->target);
	} else if (rc == ST_OK) {
		c->success = true;
		snprintf(desc, sizeof(desc), "merging releases nothing on %s",
			 c->target);
	} else {
		return false;
	}
	utf8_cut(desc, ENGINE_STATUS_DESC_MAX);
	snprintf(c->desc, sizeof(c->desc), "%s", desc);
	return true;
}

static int post_status(struct engine_warm *w, const struct forge_mr *mr,
		       struct engine_check *c, struct st_error *err)
{
	struct forge_commit_status st = {
		.sha = mr->head_sha,
		.name = "semver-tagger",
		.state = c->success ? FORGE_STATUS_SUCCESS
				    : FORGE_STATUS_FAILED,
		.description = c->desc,
		.target_url = mr->web_url,
		.ref = mr->source_branch,
	};
	enum forge_outcome out;
	int64_t pipeline = 0;
	struct st_error e;

	/* On a project with merge-request pipelines a status with ref =
	 * source branch makes an extra "external" pipeline; the MR's head
	 * pipeline takes it instead (docs/fleet.md). No head pipeline, or
	 * the forge cannot say: the status as before. */
	st_error_clear(&e);
	if (forge_mr_head_pipeline(w->forge, mr->iid, &pipeline, &e) == 0 &&
	    pipeline > 0) {
		st.pipeline_id = pipeline;
		st.ref = NULL;
	}
	return forge_set_commit_status(w->forge, &st, &out, err);
}

/* Plan the merge of the MR as GitLab has it, then set the status. */
static int check_open_mr(const struct engine_settings *s,
			 struct engine_warm *w, const struct forge_mr *mr,
			 struct engine_result *r, struct st_error *err)
{
	struct release_check chk = {
		.target_branch = mr->target_branch,
		.iid = mr->iid,
		.title = mr->title,
		.labels = (const char *const *)mr->labels,
		.n_labels = mr->n_labels,
	};
	struct engine_check *c = &r->check;
	struct release_options o;
	int rc;

	options(s, w, &o);
	o.warm = &w->rw;
	o.branch = NULL;
	snprintf(c->sha, sizeof(c->sha), "%s", mr->head_sha);
	snprintf(c->target, sizeof(c->target), "%s", mr->target_branch);
	copy_cut(c->title, sizeof(c->title), mr->title);
	/* a cut URL would be a wrong link: none then */
	if (mr->web_url && strlen(mr->web_url) < sizeof(c->web_url))
		memcpy(c->web_url, mr->web_url, strlen(mr->web_url) + 1);
	rc = release_check_mr(&o, w->forge, &chk, &r->report, err);
	if (r->report.n_branches &&
	    r->report.branches[0].plan.branch.role == BRANCH_OTHER) {
		c->outcome = ENGINE_CHECK_NOT_RELEASED;
		return ST_OK;
	}
	if (!verdict(&r->report, rc, c)) {
		c->outcome = ENGINE_CHECK_FAILED;
		snprintf(c->error, sizeof(c->error), "no verdict (%s): %s",
			 st_status_name(rc), err->msg);
		return rc;
	}
	if (s->dry_run) {
		c->outcome = ENGINE_CHECK_NONE;
		return rc;
	}
	st_error_clear(err);
	if (post_status(w, mr, c, err) != 0) {
		c->outcome = ENGINE_CHECK_FAILED;
		snprintf(c->error, sizeof(c->error), "commit status not set: "
			 "%s", err->msg);
		return err->code;
	}
	c->outcome = ENGINE_CHECK_POSTED;
	return rc;
}

static int run_check(const struct engine_settings *s, const struct engine_job *j,
		     struct engine_warm *w, struct engine_result *r,
		     struct st_error *err)
{
	struct forge_mr_list l;
	struct forge_list_result res;
	const struct forge_mr *mr;
	int rc;

	forge_mr_list_init(&l);
	memset(&res, 0, sizeof(res));
	rc = forge_open_mrs(w->forge, &l, &res, err);
	if (rc == 0) {
		mr = forge_mr_list_find(&l, j->iid);
		if (!mr || !mr->head_sha || !mr->target_branch)
			r->check.outcome = ENGINE_CHECK_NOT_OPEN;
		else
			rc = check_open_mr(s, w, mr, r, err);
	}
	forge_mr_list_release(&l);
	return rc;
}

static double cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* A bad repository settings file blocks the project: a failed status on
 * the commit that changed it says so where its author looks. */
static void bad_file_status(struct engine_warm *w,
			    const struct repofile_info *info,
			    const struct st_error *why)
{
	char desc[ENGINE_STATUS_DESC_MAX + 1];
	struct forge_commit_status st = {
		.sha = info->bad_commit,
		.name = "semver-tagger",
		.state = FORGE_STATUS_FAILED,
		.description = desc,
	};
	enum forge_outcome out;
	struct st_error e;

	if (!w->forge || !info->bad_commit[0])
		return;
	snprintf(desc, sizeof(desc), "%s", why->msg);
	utf8_cut(desc, ENGINE_STATUS_DESC_MAX);
	st_error_clear(&e);
	forge_set_commit_status(w->forge, &st, &out, &e);
}

/* A planning pass that changes nothing but fetches (or clones) the
 * mirror, so the repository file is read as GitLab has it now: for a new
 * project (its first release already follows the file) and after a bad
 * file (its fix is seen). Its report is discarded. */
static void fetch_pass(const struct engine_settings *s, struct engine_warm *w)
{
	struct engine_result scratch;
	struct engine_settings dry = *s;
	struct release_options o;
	struct st_error e;

	engine_result_init(&scratch);
	dry.dry_run = true;
	options(&dry, w, &o);
	o.warm = &w->rw;
	st_error_clear(&e);
	release_run(&o, w->forge, &scratch.report, &e);
	engine_result_release(&scratch);
}

/* A mirror read from disk (not the warm one) is read only from a state
 * directory known to be ours (statedir.h), as release_run() would check
 * it: the file decides what is released. check_dir false: a CI cache,
 * whose owner and modes say nothing (release_options.ci_cache). */
static int dir_ready(const struct engine_settings *s,
		     const struct engine_warm *w, bool check_dir,
		     struct st_error *err)
{
	if (!check_dir || w->rw.repo || access(s->state_dir, F_OK) != 0)
		return ST_OK;
	return statedir_check(s->state_dir, err);
}

/* The job with the repository file's settings over s (eff->cfg owned by
 * the caller); labels compiled again when the file sets patterns. */
static int with_repo_file(const struct engine_settings *s,
			  struct engine_warm *w, bool check_dir,
			  struct engine_settings *eff,
			  struct labels **own_labels, struct st_error *err)
{
	struct repofile_info info;
	int rc;

	*eff = *s;
	rc = dir_ready(s, w, check_dir, err);
	if (rc) {
		memset(&eff->cfg, 0, sizeof(eff->cfg)); /* s's, not ours */
		return rc;
	}
	rc = engine_repo_settings(s, w->rw.repo, &eff->cfg, &info, err);
	/* the fetch pass writes nothing: a dry run fetches too (a first
	 * --once --dry-run previews with the file; a fix is seen) */
	if ((rc == 0 && !info.mirror) || rc == ST_ECONFIG) {
		config_project_release(&eff->cfg);
		fetch_pass(s, w);
		st_error_clear(err);
		rc = engine_repo_settings(s, w->rw.repo, &eff->cfg, &info, err);
	}
	if (rc == ST_ECONFIG) {
		st_error_prefix(err, "repository settings on %s",
				info.branch[0] ? info.branch
					       : "the default branch");
		if (!s->dry_run)
			bad_file_status(w, &info, err);
		return rc;
	}
	if (rc)
		return rc;
	if (info.labels_set) {
		*own_labels = labels_new(eff->cfg.label_major,
					 eff->cfg.label_minor,
					 eff->cfg.label_patch, err);
		if (!*own_labels) {
			st_error_prefix(err, "%s", CONFIG_REPO_FILE);
			return err->code ? err->code : ST_ECONFIG;
		}
	}
	return ST_OK;
}

/* --- preflight (issue 13) --- */
/* The assessment with the repository file's settings as the mirror has
 * them (its tag and branch prefixes name what is checked): no fetch, and
 * nothing posted; a bad file (or a state folder not ours) is the
 * reconciliation's to report, the daemon's settings are assessed
 * meanwhile (docs/fleet.md). */
static int run_assess(const struct engine_settings *s, struct engine_warm *w,
		      struct engine_result *r, struct st_error *err)
{
	struct config_project cfg;
	struct repofile_info info;
	bool own = dir_ready(s, w, true, err) == 0 &&
		   engine_repo_settings(s, w->rw.repo, &cfg, &info, err) == 0;
	int rc;

	st_error_clear(err);
	rc = assess_job(own ? &cfg : &s->cfg, w->forge, &r->assess, err);
	if (own)
		config_project_release(&cfg);
	return rc;
}
/* --- end preflight --- */

/* --- repository settings file for --once (issue 13) --- */
int engine_with_repo_settings(const struct engine_settings *s,
			      struct forge *forge, struct labels *labels,
			      bool check_dir, engine_with_fn fn, void *ctx,
			      struct st_error *err)
{
	struct engine_warm w = { .forge = forge, .labels = labels };
	struct engine_settings eff;
	struct labels *own = NULL;
	int rc;

	memset(&eff, 0, sizeof(eff));
	rc = with_repo_file(s, &w, check_dir, &eff, &own, err);
	if (rc == 0)
		rc = fn(&eff, own ? own : labels, ctx, err);
	labels_free(own);
	config_project_release(&eff.cfg);
	release_warm_release(&w.rw); /* the fetch pass's mirror */
	return rc;
}
/* --- end repository settings file for --once --- */

static int run_job_kind(const struct engine_settings *s,
			const struct engine_job *j, struct engine_warm *w,
			struct engine_result *r, struct st_error *err)
{
	struct engine_settings eff;
	struct labels *own = NULL, *saved = w->labels;
	int rc;

	memset(&eff, 0, sizeof(eff));
	if (j->kind == ENGINE_JOB_ASSESS) /* preflight (issue 13) */
		return run_assess(s, w, r, err);
	rc = with_repo_file(s, w, true, &eff, &own, err);
	if (rc) {
		config_project_release(&eff.cfg);
		return rc;
	}
	if (own)
		w->labels = own;
	if (j->kind == ENGINE_JOB_CHECK_MR)
		rc = run_check(&eff, j, w, r, err);
	else
		rc = run_reconcile(&eff, w, r, err);
	w->labels = saved;
	labels_free(own);
	config_project_release(&eff.cfg);
	return rc;
}

/* make_quick: leave a quick-check state (a long-lived caller's poll
 * uses it; --once has no next poll). */
static int run(const struct engine_settings *s, const struct engine_job *j,
	       struct engine_warm *warm, struct engine_conns *conns,
	       bool make_quick, const atomic_int *cancel,
	       struct engine_result *r)
{
	struct engine_warm cold = { 0 };
	struct engine_warm *w = warm ? warm : &cold;
	struct st_error err;
	double t0 = cpu_ms();
	unsigned quick_requests;
	int rc;

	/* before the repository file, the mirror, the MR cache: a poll
	 * where nothing moved touches none of them */
	if (engine_quick_try(s, j, conns, r))
		return r->report.status;
	quick_requests = r->report.api_requests; /* a quick check's */
	r->report.api_requests = 0;
	st_error_clear(&err);
	r->warm = warm && warm->forge;
	rc = job_setup(s, w, cancel, &err);
	if (rc == 0)
		rc = run_job_kind(s, j, w, r, &err);
	if (rc && !r->report.status) {
		r->report.status = rc;
		snprintf(r->report.error, sizeof(r->report.error), "%s",
			 err.msg);
	}
	if (make_quick && j->kind == ENGINE_JOB_RECONCILE)
		engine_quick_make(s, &w->rw, r);
	if (!warm) {
		forge_free(cold.forge);
		labels_free(cold.labels);
		release_warm_release(&cold.rw);
	}
	r->report.api_requests += quick_requests;
	r->cpu_ms += cpu_ms() - t0;
	return r->report.status;
}

int engine_run(const struct engine_settings *s, const struct engine_job *j,
	       struct engine_warm *warm, const atomic_int *cancel,
	       struct engine_result *r)
{
	return run(s, j, warm, NULL, false, cancel, r);
}

int engine_run_conns(const struct engine_settings *s,
		     const struct engine_job *j, struct engine_warm *warm,
		     struct engine_conns *conns, const atomic_int *cancel,
		     struct engine_result *r)
{
	return run(s, j, warm, conns, true, cancel, r);
}
