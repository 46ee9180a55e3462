/* SPDX-License-Identifier: MIT */
/*
 * The typed engine boundary (engine.h): settings, token, forge, and one
 * job run against them. The release engine itself is release*.c; this
 * file is what both modes share around it.
 */
#include "engine.h"

#include "semver-tagger/labels.h"
#include "semver-tagger/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_ENV "SEMVER_TAGGER_TOKEN"
#define NO_LABEL_DESC "no impact label: add ImpactMajor, ImpactMinor or " \
		      "ImpactPatch"

void engine_settings_init(struct engine_settings *s)
{
	memset(s, 0, sizeof(*s));
	secret_init(&s->token);
}

void engine_settings_release(struct engine_settings *s)
{
	if (!s)
		return;
	config_project_release(&s->cfg);
	secret_release(&s->token);
	free(s->section);
	free(s->state_dir);
	free(s->branch);
	free(s->failpoint);
	engine_settings_init(s);
}

/* Project path -> one folder name: [A-Za-z0-9_-] and inner '.' kept,
 * anything else %XX, so "a/b" and "a%2Fb" never share a folder. */
static int project_key(const char *project, char *buf, size_t size)
{
	size_t j = 0;

	for (const char *s = project; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (j + 4 >= size)
			return -1;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    (c == '.' && j > 0))
			buf[j++] = (char)c;
		else
			j += (size_t)snprintf(buf + j, size - j, "%%%02X", c);
	}
	buf[j] = '\0';
	return 0;
}

int engine_state_dir(const char *base, const char *project, char *buf,
		     size_t size, struct st_error *err)
{
	char key[1024];
	int n;

	if (!project || !*project || project_key(project, key, sizeof(key)))
		return st_error_set(err, ST_ECONFIG, "project '%.80s': empty "
				    "or too long for a state folder",
				    project ? project : "");
	n = snprintf(buf, size, "%s/projects/%s", base, key);
	if (n < 0 || (size_t)n >= size)
		return st_error_set(err, ST_ECONFIG, "state directory path "
				    "too long: %.200s", base);
	return ST_OK;
}

int engine_settings_from_section(struct engine_settings *s,
				 const struct config_project *sec,
				 const char *state_base, struct st_error *err)
{
	char dir[ENGINE_PATH_MAX];
	int rc;

	engine_settings_release(s);
	if (config_project_inherit(&s->cfg, sec) != 0)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	/* inherit copies only what is unset: stamp the section's own */
	s->cfg.set = sec->set;
	s->cfg.stable_release = sec->stable_release;
	if (!s->cfg.project && sec->name &&
	    !(s->cfg.project = strdup(sec->name)))
		return st_error_set(err, ST_ENOMEM, "out of memory");
	rc = engine_state_dir(state_base, s->cfg.project, dir, sizeof(dir),
			      err);
	if (rc)
		return rc;
	if (!(s->section = strdup(sec->name ? sec->name : s->cfg.project)) ||
	    !(s->state_dir = strdup(dir)) ||
	    (!s->cfg.name && !(s->cfg.name = strdup(s->section))))
		return st_error_set(err, ST_ENOMEM, "out of memory");
	s->network_timeout_ms = (long)s->cfg.total_timeout * 1000;
	return ST_OK;
}

static int token_from_files(const struct config_project *p,
			    const struct engine_token_from *from,
			    struct secret *out, struct st_error *err)
{
	const char *file = from->file ? from->file : p->token_file;
	int rc = ST_ENOTFOUND;

	if (file)
		rc = secret_read_file(out, file, err);
	if (rc == ST_ENOTFOUND && !file && p->token_env)
		rc = secret_from_env(out, p->token_env, false, err);
	if (rc == ST_ENOTFOUND && !file && !p->token_env) {
		st_error_clear(err);
		rc = secret_from_credentials(out, "gitlab-token", err);
	}
	return rc;
}

int engine_token_load(const struct config_project *p,
		      const struct engine_token_from *from, struct secret *out,
		      enum gitlab_token_kind *kind, struct st_error *err)
{
	char where[256];
	int rc = ST_ENOTFOUND;

	*kind = GITLAB_TOKEN_PRIVATE;
	if (from->ci)
		rc = secret_from_env(out, TOKEN_ENV, true, err);
	if (rc == ST_ENOTFOUND) {
		st_error_clear(err);
		rc = token_from_files(p, from, out, err);
	}
	/* a configured file or variable that is not there is named */
	if (rc == ST_ENOTFOUND && (from->file || p->token_file ||
				   p->token_env))
		return rc;
	if (rc == ST_ENOTFOUND && from->ci) {
		st_error_clear(err);
		rc = gitlab_token_find(NULL, out, kind, where, sizeof(where),
				       err);
	}
	if (rc == ST_ENOTFOUND) {
		st_error_clear(err);
		rc = from->ci
			? st_error_set(err, ST_EAUTH, "no API token: set %s (a "
				       "project or personal access token with "
				       "the api and write_repository scopes), "
				       "or use --token-file", TOKEN_ENV)
			: st_error_set(err, ST_EAUTH, "no API token: set "
				       "token_file or token_env, or give the "
				       "gitlab-token credential "
				       "(LoadCredential=)");
	}
	return rc;
}

int engine_forge_new(const struct engine_settings *s, const atomic_int *cancel,
		     struct forge **out, struct st_error *err)
{
	struct gitlab_options g;

	gitlab_options_default(&g);
	g.api_url = s->cfg.api_url;
	g.project = s->cfg.project;
	g.token = s->token.value;
	g.token_kind = s->token_kind;
	g.http.connect_timeout_ms = (long)s->cfg.connect_timeout * 1000;
	g.http.timeout_ms = (long)s->cfg.total_timeout * 1000;
	g.http.ca_file = s->cfg.ca_file;
	g.http.ca_path = s->cfg.ca_dir;
	g.http.cancel = cancel;
	return gitlab_forge_new(&g, out, err);
}

void engine_result_init(struct engine_result *r)
{
	memset(r, 0, sizeof(*r));
	release_report_init(&r->report);
}

void engine_result_release(struct engine_result *r)
{
	if (!r)
		return;
	release_report_release(&r->report);
	free(r->recheck);
	free(r->assess.items); /* preflight (issue 13) */
	engine_result_init(r);
}
