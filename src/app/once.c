/* SPDX-License-Identifier: MIT */
/*
 * --once: configuration from the CI environment (and an optional file),
 * the token from the environment, a file or systemd's credentials, then
 * one release_run() and its report. Exit status per output_exit_code().
 */
#include "once.h"

#include "dotenv.h"
#include "output.h"
#include "semver-tagger/config.h"
#include "semver-tagger/gitlab.h"
#include "semver-tagger/log.h"
#include "semver-tagger/num.h"
#include "semver-tagger/release.h"
#include "semver-tagger/secret.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_ENV "SEMVER_TAGGER_TOKEN"

struct once {
	const struct once_args *a;
	char **env;
	struct config file;
	struct config_project p;
	struct secret token;
	enum gitlab_token_kind kind;
	struct labels *labels;
	struct forge *forge;
	char state[4096];
};

/* [global] of the file, then the project section naming this project (or
 * the only one), then SEMVER_TAGGER_* and CI variables. */
static int load_config(struct once *o, struct st_error *err)
{
	const char *ci = config_getenv(o->env, "CI_PROJECT_PATH");
	const struct config_project *base = NULL;
	int rc = config_project_defaults(&o->p);

	if (rc)
		return st_error_set(err, rc, "out of memory");
	if (o->a->config_path) {
		rc = config_load_file(o->a->config_path, &o->file, err);
		if (rc)
			return rc;
		base = &o->file.global;
		for (size_t i = 0; i < o->file.n_projects; i++)
			if (o->file.n_projects == 1 ||
			    (ci && strcmp(o->file.projects[i].name, ci) == 0))
				base = &o->file.projects[i];
		config_project_release(&o->p);
		memset(&o->p, 0, sizeof(o->p));
		if (config_project_inherit(&o->p, base) != 0)
			return st_error_set(err, ST_ENOMEM, "out of memory");
		o->p.set = 0;
	}
	rc = config_apply_env(&o->p, o->env, err);
	if (rc == 0 && o->a->stable_release)
		o->p.stable_release = true;
	if (rc == 0 && (!o->p.api_url || !o->p.project))
		rc = st_error_set(err, ST_ECONFIG,
				  "no GitLab project to release: set "
				  "CI_API_V4_URL and CI_PROJECT_ID (GitLab CI "
				  "sets both), or api_url and project in the "
				  "config file");
	return rc;
}

static int load_token(struct once *o, struct st_error *err)
{
	char from[256];
	const char *file = o->a->token_file ? o->a->token_file
					    : o->p.token_file;
	int rc;

	o->kind = GITLAB_TOKEN_PRIVATE;
	rc = secret_from_env(&o->token, TOKEN_ENV, true, err);
	if (rc == ST_ENOTFOUND) {
		st_error_clear(err);
		rc = gitlab_token_find(file, &o->token, &o->kind, from,
				       sizeof(from), err);
	}
	if (rc == ST_ENOTFOUND)
		return st_error_set(err, ST_EAUTH,
				    "no API token: set %s (a project or "
				    "personal access token with the api and "
				    "write_repository scopes), or use "
				    "--token-file",
				    TOKEN_ENV);
	if (rc == 0)
		log_add_secret(o->token.value);
	return rc;
}

static void project_key(const char *project, char *buf, size_t size)
{
	size_t j = 0;

	for (const char *s = project; *s && j + 4 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    (c == '.' && j > 0))
			buf[j++] = (char)c;
		else
			j += (size_t)snprintf(buf + j, size - j, "%%%02X", c);
	}
	buf[j] = '\0';
}

/* --state-dir, SEMVER_TAGGER_STATE_DIR, the file's state_dir, or the
 * user's cache home; then one folder per project. */
static int state_dir(struct once *o, struct st_error *err)
{
	const char *base = o->a->state_dir;
	const char *xdg = config_getenv(o->env, "XDG_CACHE_HOME");
	const char *home = config_getenv(o->env, "HOME");
	char fallback[2048], key[1024];
	int n;

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
	project_key(o->p.project, key, sizeof(key));
	n = snprintf(o->state, sizeof(o->state), "%s/projects/%s", base, key);
	if (n < 0 || (size_t)n >= sizeof(o->state))
		return st_error_set(err, ST_ECONFIG, "state directory path "
				    "too long");
	return ST_OK;
}

static int make_forge(struct once *o, struct st_error *err)
{
	struct gitlab_options g;

	o->labels = labels_new(o->p.label_major, o->p.label_minor,
			       o->p.label_patch, err);
	if (!o->labels)
		return err->code;
	gitlab_options_default(&g);
	g.api_url = o->p.api_url;
	g.project = o->p.project;
	g.token = o->token.value;
	g.token_kind = o->kind;
	g.http.connect_timeout_ms = (long)o->p.connect_timeout * 1000;
	g.http.timeout_ms = (long)o->p.total_timeout * 1000;
	g.http.ca_file = o->p.ca_file;
	g.http.ca_path = o->p.ca_dir;
	return gitlab_forge_new(&g, &o->forge, err);
}

static const char *run_branch(const struct once *o)
{
	const char *b = o->a->branch;

	if (!b)
		b = config_getenv(o->env, "CI_COMMIT_BRANCH");
	return b && *b ? b : NULL;
}

static void options(const struct once *o, struct release_options *ro)
{
	memset(ro, 0, sizeof(*ro));
	ro->cfg = &o->p;
	ro->labels = o->labels;
	ro->state_dir = o->state;
	ro->token = o->token.value;
	ro->token_user = o->kind == GITLAB_TOKEN_JOB ? "gitlab-ci-token" : NULL;
	ro->branch = run_branch(o);
	ro->dry_run = o->a->dry_run;
	ro->stable_release = o->p.stable_release;
	ro->max_replans = 3;
	ro->network_timeout_ms = (long)o->p.total_timeout * 1000;
	ro->failpoint = config_getenv(o->env, "SEMVER_TAGGER_FAILPOINT");
	ro->debug = log_threshold() >= LOG_LEVEL_DEBUG;
}

static void once_release(struct once *o)
{
	forge_free(o->forge);
	labels_free(o->labels);
	secret_release(&o->token);
	config_project_release(&o->p);
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

static int report(const struct once *o, struct release_report *r)
{
	struct st_error err;

	st_error_clear(&err);
	if (o->a->dotenv &&
	    dotenv_write(o->a->dotenv, r, o->p.tag_prefix, run_branch(o),
			 &err) != 0) {
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

int once_main(const struct once_args *a, char **env)
{
	struct once o = { .a = a, .env = env };
	struct release_options ro;
	struct release_report r;
	struct st_error err;
	int rc;

	st_error_clear(&err);
	config_init(&o.file);
	secret_init(&o.token);
	release_report_init(&r);
	rc = load_config(&o, &err);
	if (rc == 0)
		rc = load_token(&o, &err);
	if (rc == 0)
		rc = state_dir(&o, &err);
	if (rc == 0)
		rc = make_forge(&o, &err);
	if (rc == 0) {
		options(&o, &ro);
		if (config_getenv(env, "CI_MERGE_REQUEST_IID") && !a->branch)
			check_mr(&o, &ro, &r, &err);
		else
			release_run(&ro, o.forge, &r, &err);
		rc = report(&o, &r);
	} else {
		log_error("%s", err.msg);
		rc = output_exit_code(rc);
	}
	release_report_release(&r);
	once_release(&o);
	return rc;
}
