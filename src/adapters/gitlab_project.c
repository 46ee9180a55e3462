/* SPDX-License-Identifier: MIT */
/* Project facts (and their cache file) and finding the token. */
#include "gitlab_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROJECT_MAGIC "semver-tagger-project 1\n"
#define PROJECT_CACHE_MAX 65536

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
	rc = gitlab_get_json(g, path, NULL, what, &rs, &root, err);
	if (!rc)
		rc = gitlab_check(g, GITLAB_READ_PROJECT, what, &rs, err);
	if (!rc) {
		struct json_where w = {what, ""};

		rc = project_from_json(root, &w, out, err);
	}
	cJSON_Delete(root);
	http_response_release(&rs);
	return rc;
}

/* --- the project cache -------------------------------------------------
 *
 * "semver-tagger-project 1\n" + JSON: the server and project it is for,
 * then the REST fields gitlab_project() reads, so one parser serves both.
 * Written with a temporary file and a rename, not fsynced: a lost or torn
 * file does not parse or does not match, and costs one GET.
 */

static int read_small(const char *path, char *buf, size_t size, size_t *n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t r;

	*n = 0;
	if (fd < 0)
		return -1;
	while (*n < size - 1 &&
	       ((r = read(fd, buf + *n, size - 1 - *n)) > 0 ||
		(r < 0 && errno == EINTR)))
		if (r > 0)
			*n += (size_t)r;
	close(fd);
	buf[*n] = '\0';
	return *n > 0 && *n < size - 1 ? 0 : -1;
}

/* 0 and out filled when path holds this server's project. */
static int project_cache_load(struct gitlab *g, const char *path,
			      struct forge_project *out)
{
	char *buf = malloc(PROJECT_CACHE_MAX);
	const char *url = NULL, *proj = NULL;
	struct st_error e;
	struct json_where w = {"project cache", ""};
	cJSON *root = NULL;
	size_t n, ml = strlen(PROJECT_MAGIC);
	int rc;

	st_error_clear(&e);
	if (gitlab_seal_check(g, path, &e) != 0) {
		free(buf);
		return -1; /* not ours: ask the server */
	}
	if (!buf || read_small(path, buf, PROJECT_CACHE_MAX, &n) != 0 ||
	    n < ml || memcmp(buf, PROJECT_MAGIC, ml) != 0) {
		free(buf);
		return -1;
	}
	st_error_clear(&e);
	rc = json_parse(buf + ml, n - ml, "project cache", &root, &e);
	if (!rc)
		rc = json_get_str(root, "api_url", JSON_REQUIRED | JSON_NOT_NULL,
				  &w, &url, &e);
	if (!rc)
		rc = json_get_str(root, "project", JSON_REQUIRED | JSON_NOT_NULL,
				  &w, &proj, &e);
	if (!rc && (strcmp(url, g->api_url) != 0 ||
		    strcmp(proj, g->project) != 0))
		rc = -1;
	if (!rc)
		rc = project_from_json(root, &w, out, &e);
	cJSON_Delete(root);
	free(buf);
	return rc ? -1 : 0;
}

static void project_cache_save(struct gitlab *g, const char *path,
			       const struct forge_project *p)
{
	cJSON *o = cJSON_CreateObject();
	char tmp[4200], *text = NULL;
	struct st_error e;
	bool ok = o &&
		cJSON_AddStringToObject(o, "api_url", g->api_url) &&
		cJSON_AddStringToObject(o, "project", g->project) &&
		cJSON_AddNumberToObject(o, "id", (double)p->id) &&
		cJSON_AddStringToObject(o, "path_with_namespace", p->path);
	const struct { const char *k, *v; } opt[] = {
		{"default_branch", p->default_branch},
		{"http_url_to_repo", p->http_url_to_repo},
		{"web_url", p->web_url},
	};
	int fd;

	for (size_t i = 0; ok && i < sizeof(opt) / sizeof(opt[0]); i++)
		ok = opt[i].v ? cJSON_AddStringToObject(o, opt[i].k, opt[i].v) != NULL
			      : cJSON_AddNullToObject(o, opt[i].k) != NULL;
	if (ok)
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text || strlen(text) + strlen(PROJECT_MAGIC) >= PROJECT_CACHE_MAX ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
			     (long)getpid()) >= sizeof(tmp)) {
		cJSON_free(text);
		return;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	ok = fd >= 0 &&
	     write(fd, PROJECT_MAGIC, strlen(PROJECT_MAGIC)) ==
		     (ssize_t)strlen(PROJECT_MAGIC) &&
	     write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (!ok || rename(tmp, path) != 0)
		unlink(tmp); /* only a cache: the next run asks again */
	else
		gitlab_seal_write(g, path, &e); /* unsealed: asked again */
	cJSON_free(text);
}

int gitlab_project_cached(void *impl, const char *cache_path, bool refresh,
			  struct forge_project *out, bool *from_cache,
			  struct st_error *err)
{
	struct gitlab *g = impl;
	struct forge_project p;
	int rc;

	forge_project_init(&p);
	if (!refresh && project_cache_load(g, cache_path, &p) == 0) {
		*out = p;
		*from_cache = true;
		return ST_OK;
	}
	rc = gitlab_project(impl, &p, err);
	if (rc)
		return rc;
	project_cache_save(g, cache_path, &p);
	*out = p;
	*from_cache = false;
	return ST_OK;
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
