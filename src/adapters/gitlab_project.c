/* SPDX-License-Identifier: MIT */
/* Project facts and finding the token. */
#include "gitlab_internal.h"

#include <stdlib.h>
#include <string.h>

static int project_from_json(const cJSON *root, const struct json_where *w,
			     struct forge_project *out, struct st_error *err)
{
	const char *path = NULL, *branch = NULL, *http = NULL, *web = NULL;
	struct forge_project p;
	int64_t id = 0;
	int rc;

	forge_project_init(&p);
	rc = json_get_int(root, "id", JSON_REQUIRED | JSON_NOT_NULL, 1,
			  JSON_INT_MAX, w, &id, err);
	if (!rc)
		rc = json_get_str(root, "path_with_namespace",
				  JSON_REQUIRED | JSON_NOT_NULL, w, &path, err);
	/* An empty repository has no default branch yet. */
	if (!rc)
		rc = json_get_str(root, "default_branch", JSON_OPTIONAL, w,
				  &branch, err);
	if (!rc)
		rc = json_get_str(root, "http_url_to_repo", JSON_OPTIONAL, w,
				  &http, err);
	if (!rc)
		rc = json_get_str(root, "web_url", JSON_OPTIONAL, w, &web, err);
	if (rc)
		return rc;
	p.id = id;
	if (gitlab_dup(&p.path, path) || gitlab_dup(&p.default_branch, branch) ||
	    gitlab_dup(&p.http_url_to_repo, http) ||
	    gitlab_dup(&p.web_url, web)) {
		forge_project_release(&p);
		return st_error_set(err, ST_ENOMEM, "%s: out of memory",
				    w->what);
	}
	*out = p;
	return ST_OK;
}

int gitlab_project(void *impl, struct forge_project *out,
		   struct st_error *err)
{
	struct gitlab *g = impl;
	struct http_response rs;
	char what[512], path[512];
	cJSON *root = NULL;
	int rc;

	snprintf(what, sizeof(what), "GET /projects/%s", g->project_enc);
	snprintf(path, sizeof(path), "/projects/%s", g->project_enc);
	http_response_init(&rs);
	rc = gitlab_call(g, "GET", path, NULL, NULL, false, what, &rs, err);
	if (!rc)
		rc = gitlab_check(g, GITLAB_READ_PROJECT, what, &rs, err);
	if (!rc)
		rc = json_parse(rs.body.buf, rs.body.len, what, &root, err);
	if (!rc) {
		struct json_where w = {what, ""};

		rc = project_from_json(root, &w, out, err);
	}
	cJSON_Delete(root);
	http_response_release(&rs);
	return rc;
}

int gitlab_token_find(const char *token_file, struct secret *out,
		      enum gitlab_token_kind *kind, char *from,
		      size_t from_len, struct st_error *err)
{
	struct st_error e;
	int rc;

	st_error_clear(&e);
	rc = secret_from_credentials(out, "gitlab-token", &e);
	if (rc != ST_ENOTFOUND) {
		snprintf(from, from_len, "$CREDENTIALS_DIRECTORY/gitlab-token");
		goto done;
	}
	if (token_file) {
		st_error_clear(&e);
		snprintf(from, from_len, "%s", token_file);
		rc = secret_read_file(out, token_file, &e);
		goto done;
	}
	st_error_clear(&e);
	rc = secret_from_env(out, "GITLAB_TOKEN", false, &e);
	snprintf(from, from_len, "$GITLAB_TOKEN");
	if (rc != ST_ENOTFOUND)
		goto done;
	st_error_clear(&e);
	rc = secret_from_env(out, "CI_JOB_TOKEN", false, &e);
	snprintf(from, from_len, "$CI_JOB_TOKEN");
	if (!rc) {
		*kind = GITLAB_TOKEN_JOB;
		return ST_OK;
	}
	return st_error_set(err, ST_ECONFIG, "no GitLab token: none in "
			    "$CREDENTIALS_DIRECTORY/gitlab-token, no token "
			    "file configured, GITLAB_TOKEN and CI_JOB_TOKEN "
			    "unset");
done:
	if (rc)
		return st_error_set(err, rc, "%s", e.msg);
	*kind = GITLAB_TOKEN_PRIVATE;
	return ST_OK;
}
