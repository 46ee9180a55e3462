/* SPDX-License-Identifier: MIT */
/*
 * --once: configuration from the CI environment (and an optional file),
 * the token from the environment, a file or systemd's credentials, the
 * repository settings file over them (engine_with_repo_settings: the
 * daemon's rule), then one release_run() and its report. Exit status per
 * output_exit_code().
 */
#include "once.h"

#include "dotenv.h"
#include "engine.h"
#include "output.h"
#include "semver-tagger/config.h"
#include "semver-tagger/gitlab.h"
#include "semver-tagger/log.h"
#include "semver-tagger/num.h"
#include "semver-tagger/release.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct once {
	const struct once_args *a;
	char **env;
	struct config file;
	struct engine_settings s;
	struct labels *labels;
	struct forge *forge;
};

/* The section for this pipeline: the only one, or the one whose name or
 * project is $CI_PROJECT_PATH / $CI_PROJECT_ID; else [global]. */
static const struct config_project *pick_section(const struct once *o)
{
	const char *path = config_getenv(o->env, "CI_PROJECT_PATH");
	const char *id = config_getenv(o->env, "CI_PROJECT_ID");
	const struct config *f = &o->file;

	for (size_t i = 0; i < f->n_projects; i++) {
		const struct config_project *p = &f->projects[i];

		if (f->n_projects == 1 ||
		    (path && (strcmp(p->name, path) == 0 ||
			      strcmp(p->project, path) == 0)) ||
		    (id && *id && strcmp(p->project, id) == 0))
			return p;
	}
	return &f->global;
}

/* [global] of the file, then the project section for this project, then
 * SEMVER_TAGGER_* and CI variables. A key the section sets itself
 * (`project =` above all, SPEC §10) is not overridden by a CI variable. */
static int load_config(struct once *o, struct st_error *err)
{
	struct config_project *p = &o->s.cfg;
	int rc = config_project_defaults(p);

	if (rc)
		return st_error_set(err, rc, "out of memory");
	if (o->a->config_path) {
		const struct config_project *base;

		rc = config_load_file(o->a->config_path, &o->file, err);
		if (rc)
			return rc;
		base = pick_section(o);
		config_project_release(p);
		memset(p, 0, sizeof(*p));
		if (config_project_inherit(p, base) != 0)
			return st_error_set(err, ST_ENOMEM, "out of memory");
		p->set = base->set;
	}
	rc = config_apply_env(p, o->env, err);
	if (rc == 0 && o->a->stable_release)
		p->stable_release = true;
	if (rc == 0 && (!p->api_url || !p->project))
		rc = st_error_set(err, ST_ECONFIG,
				  "no GitLab project to release: set "
				  "CI_API_V4_URL and CI_PROJECT_ID (GitLab CI "
				  "sets both), or api_url and project in the "
				  "config file");
	return rc;
}

static int load_token(struct once *o, struct st_error *err)
{
	struct engine_token_from from = { true, o->a->token_file };
	int rc = engine_token_load(&o->s.cfg, &from, &o->s.token,
				   &o->s.token_kind, err);

	/* the redaction table's refusal is said, not ignored; the token is
	 * still used: nothing here prints it, masking is the backstop */
	if (rc == 0 && log_add_secret(o->s.token.value) != 0)
		log_warning("the API token is too long to be masked in log "
			    "lines (over 1024 bytes)");
	/* After the scrub ($SEMVER_TAGGER_TOKEN is wiped from the
	 * environment as it is read): the canary trial reads
	 * /proc/<pid>/environ on this line (tests/trials/test_canary.py). */
	if (rc == 0)
		log_debug("token read (environment scrubbed)");
	return rc;
}

/* --state-dir, SEMVER_TAGGER_STATE_DIR, the file's state_dir, or the
 * user's cache home; then one folder per GitLab project. */
static int state_dir(struct once *o, struct st_error *err)
{
	const char *base = o->a->state_dir;
	const char *xdg = config_getenv(o->env, "XDG_CACHE_HOME");
	const char *home = config_getenv(o->env, "HOME");
	char fallback[2048], dir[ENGINE_PATH_MAX];
	int rc;

	if (!base)
		base = config_getenv(o->env, "SEMVER_TAGGER_STATE_DIR");
	if (!base)
		base = o->file.state_dir;
	if (!base && (xdg || home)) {
		snprintf(fallback, sizeof(fallback), "%s%s/semver-tagger",
			 xdg ? xdg : home, xdg ? "" : "/.cache");
		base = fallback;
	}
	if (!base)
		return st_error_set(err, ST_ECONFIG,
				    "no state directory: use --state-dir or "
				    "SEMVER_TAGGER_STATE_DIR");
	rc = engine_state_dir(base, o->s.cfg.project, dir, sizeof(dir), err);
	if (rc == 0 && !(o->s.state_dir = strdup(dir)))
		rc = st_error_set(err, ST_ENOMEM, "out of memory");
	return rc;
}

static int make_forge(struct once *o, struct st_error *err)
{
	o->labels = labels_new(o->s.cfg.label_major, o->s.cfg.label_minor,
			       o->s.cfg.label_patch, err);
	if (!o->labels)
		return err->code;
	return engine_forge_new(&o->s, NULL, &o->forge, err);
}

static const char *run_branch(const struct once *o)
{
	const char *b = o->a->branch;

	if (!b)
		b = config_getenv(o->env, "CI_COMMIT_BRANCH");
	return b && *b ? b : NULL;
}

/* In a GitLab CI job: the state directory is a restored cache. */
static bool in_ci(const struct once *o)
{
	const char *ci = config_getenv(o->env, "GITLAB_CI");

	return ci && strcmp(ci, "true") == 0;
}

static void options(const struct once *o, const struct config_project *cfg,
		    const struct labels *labels, struct release_options *ro)
{
	memset(ro, 0, sizeof(*ro));
	ro->cfg = cfg;
	ro->labels = labels;
	ro->state_dir = o->s.state_dir;
	ro->token = o->s.token.value;
	ro->token_user = o->s.token_kind == GITLAB_TOKEN_JOB
		? "gitlab-ci-token" : NULL;
	ro->branch = run_branch(o);
	ro->dry_run = o->a->dry_run;
	ro->stable_release = cfg->stable_release;
	ro->max_replans = 3;
	ro->network_timeout_ms = (long)cfg->total_timeout * 1000;
	ro->failpoint = config_getenv(o->env, "SEMVER_TAGGER_FAILPOINT");
	ro->debug = log_threshold() >= LOG_LEVEL_DEBUG;
	ro->ci_cache = in_ci(o);
}

static void once_release(struct once *o)
{
	forge_free(o->forge);
	labels_free(o->labels);
	engine_settings_release(&o->s);
	config_release(&o->file);
}

/* CI_MERGE_REQUEST_LABELS is "a,b,c" (label names cannot hold ','). */
static size_t split_labels(char *list, const char **out, size_t max)
{
	size_t n = 0;

	for (char *p = list; p && *p && n < max;) {
		char *comma = strchr(p, ',');

		if (comma)
			*comma = '\0';
		if (*p)
			out[n++] = p;
		p = comma ? comma + 1 : NULL;
	}
	return n;
}

/* In a merge-request pipeline: what merging this MR would release. */
static int check_mr(struct once *o, const struct release_options *ro,
		    struct release_report *r, struct st_error *err)
{
	const char *iid = config_getenv(o->env, "CI_MERGE_REQUEST_IID");
	const char *labels = config_getenv(o->env, "CI_MERGE_REQUEST_LABELS");
	const char *target = config_getenv(o->env,
					   "CI_MERGE_REQUEST_TARGET_BRANCH_NAME");
	const char *names[256];
	struct release_check mr = { 0 };
	char *copy = strdup(labels ? labels : "");
	uint64_t n;
	int rc;

	if (!copy)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	if (!target || !*target || num_parse_u64_max(iid, INT64_MAX, &n) != 0)
		rc = st_error_set(err, ST_ECONFIG,
				  "merge-request pipeline without a valid "
				  "CI_MERGE_REQUEST_IID and "
				  "CI_MERGE_REQUEST_TARGET_BRANCH_NAME");
	else {
		mr.target_branch = target;
		mr.iid = (int64_t)n;
		mr.title = config_getenv(o->env, "CI_MERGE_REQUEST_TITLE");
		mr.labels = names;
		mr.n_labels = split_labels(copy, names, 256);
		rc = release_check_mr(ro, o->forge, &mr, r, err);
	}
	free(copy);
	return rc;
}

static int report(const struct once *o, struct release_report *r,
		  bool check)
{
	struct st_error err;

	st_error_clear(&err);
	if (o->a->dotenv &&
	    dotenv_write(o->a->dotenv, r, o->s.cfg.tag_prefix, run_branch(o),
			 check, &err) != 0) {
		log_error("%s", err.msg);
		if (r->status == 0)
			r->status = err.code;
	}
	if (o->a->json)
		output_json(r, o->a->dry_run, stdout);
	else
		output_human(r, o->a->dry_run, stdout);
	return output_exit_code(r->status);
}

/* The run, with the repository file's settings (eff) over o's. */
struct once_run {
	struct once *o;
	struct release_report *r;
	bool check;
	bool ran;      /* run_with was called: the file was accepted */
};

static int run_with(const struct engine_settings *eff,
		    const struct labels *labels, void *ctx,
		    struct st_error *err)
{
	struct once_run *x = ctx;
	struct release_options ro;

	x->ran = true;
	options(x->o, &eff->cfg, labels, &ro);
	if (x->check)
		return check_mr(x->o, &ro, x->r, err);
	return release_run(&ro, x->o->forge, x->r, err);
}

/* The run did not start: the repository file refused (file:line:key)
 * or the state directory not ours. Into the report, which says it (the
 * log line, --json's "error", the exit status: 78). */
static void not_run(struct release_report *r, int rc,
		    const struct st_error *err)
{
	r->status = rc;
	snprintf(r->error, sizeof(r->error), "%s", err->msg);
}

int once_main(const struct once_args *a, char **env)
{
	struct once o = { .a = a, .env = env };
	struct release_report r;
	struct st_error err;
	int rc;

	st_error_clear(&err);
	config_init(&o.file);
	engine_settings_init(&o.s);
	release_report_init(&r);
	rc = load_config(&o, &err);
	if (rc == 0)
		rc = load_token(&o, &err);
	if (rc == 0)
		rc = state_dir(&o, &err);
	if (rc == 0)
		rc = make_forge(&o, &err);
	if (rc == 0) {
		struct once_run x = { &o, &r, config_getenv(env,
			"CI_MERGE_REQUEST_IID") && !a->branch, false };

		o.s.dry_run = a->dry_run;
		o.s.network_timeout_ms = (long)o.s.cfg.total_timeout * 1000;
		rc = engine_with_repo_settings(&o.s, o.forge, o.labels,
					       !in_ci(&o), run_with, &x, &err);
		if (rc && !x.ran)
			not_run(&r, rc, &err);
		rc = report(&o, &r, x.check);
	} else {
		log_error("%s", err.msg);
		rc = output_exit_code(rc);
	}
	release_report_release(&r);
	once_release(&o);
	return rc;
}
