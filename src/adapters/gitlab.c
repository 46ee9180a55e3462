/* SPDX-License-Identifier: MIT */
/* The GitLab forge: construction, calls, and turning statuses into errors. */
#include "gitlab_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void gitlab_options_default(struct gitlab_options *o)
{
	memset(o, 0, sizeof(*o));
	http_options_default(&o->http);
	o->token_kind = GITLAB_TOKEN_PRIVATE;
	o->overlap_s = 300;
	o->full_every_s = 86400;
	o->max_mrs = 200000;
	o->per_page = 100;
}

int gitlab_dup(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return ST_OK;
	*dst = strdup(src);
	return *dst ? ST_OK : ST_ENOMEM;
}

int gitlab_sha_valid(const char *s)
{
	size_t n = strlen(s);

	if (n != 40 && n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static void gitlab_free(void *impl)
{
	struct gitlab *g = impl;

	if (!g)
		return;
	gitlab_preload_drop(g);
	gitlab_warm_drop(g);
	http_client_free(g->http);
	free(g->api_url);
	free(g->project);
	free(g->project_enc);
	memset(g->seal_key, 0, sizeof(g->seal_key));
	free(g);
}

static void gitlab_counters(void *impl, struct forge_counters *out)
{
	struct gitlab *g = impl;
	struct http_counters hc;

	http_client_counters(g->http, &hc);
	out->requests = hc.requests;
	out->retries = hc.retries;
	out->bytes_received = hc.bytes;
}

static const struct forge_ops gitlab_ops = {
	.name = "gitlab",
	.project = gitlab_project,
	.merged_mrs = gitlab_merged_mrs,
	.open_mrs = gitlab_open_mrs,
	.post_note = gitlab_post_note,
	.create_release = gitlab_create_release,
	.set_commit_status = gitlab_set_commit_status,
	.counters = gitlab_counters,
	.free = gitlab_free,
	.project_cached = gitlab_project_cached,
	.preload_mrs = gitlab_preload_mrs,
	.release_exists = gitlab_release_exists,
	.mr_release_text = gitlab_mr_release_text,
	.push_rule = gitlab_push_rule,
	.user = gitlab_user,
	.fleet = &gitlab_fleet_ops,
};

static int check_options(const struct gitlab_options *o, const char *url,
			 struct st_error *err)
{
	if (!url || !*url)
		return st_error_set(err, ST_ECONFIG, "gitlab: no API URL "
				    "(set it in the configuration, or run in "
				    "GitLab CI where CI_API_V4_URL is set)");
	if (strchr(url, '@'))
		/* Not printed: the part before '@' may be a token. */
		return st_error_set(err, ST_ECONFIG, "gitlab: the API URL "
				    "must not carry credentials (user:token@); "
				    "give the token through a file, "
				    "$CREDENTIALS_DIRECTORY or the environment");
	if (!http_url_safe(url))
		return st_error_set(err, ST_ECONFIG, "gitlab: API URL %s: "
				    "must be https (plain http only to this "
				    "machine, so the token is never sent in "
				    "clear)", url);
	if (!o->project || !*o->project)
		return st_error_set(err, ST_ECONFIG, "gitlab: no project "
				    "(numeric id or group/name path)");
	if (!o->token || !*o->token)
		return st_error_set(err, ST_ECONFIG, "gitlab: no API token");
	if (o->per_page == 0 || o->per_page > 100)
		return st_error_set(err, ST_ECONFIG, "gitlab: per_page must "
				    "be 1..100");
	return ST_OK;
}

static int setup(struct gitlab *g, const struct gitlab_options *o,
		 const char *url, struct st_error *err)
{
	struct strbuf enc;
	size_t n = strlen(url);
	int rc;

	while (n && url[n - 1] == '/')
		n--;
	g->api_url = strndup(url, n);
	if (!g->api_url || gitlab_dup(&g->project, o->project))
		return st_error_set(err, ST_ENOMEM, "gitlab: out of memory");
	strbuf_init(&enc, 4096);
	rc = http_escape(&enc, o->project);
	if (rc) {
		strbuf_release(&enc);
		return st_error_set(err, ST_ECONFIG, "gitlab: project path "
				    "too long");
	}
	g->project_enc = strbuf_detach(&enc);
	if (!g->project_enc)
		return st_error_set(err, ST_ENOMEM, "gitlab: out of memory");
	rc = http_client_new(&o->http, &g->http, err);
	if (rc)
		return rc;
	gitlab_seal_key(g, o->token);
	return http_client_set_secret_header(g->http,
		o->token_kind == GITLAB_TOKEN_JOB ? "JOB-TOKEN" :
		"PRIVATE-TOKEN", o->token, err);
}

int gitlab_forge_new(const struct gitlab_options *o, struct forge **out,
		     struct st_error *err)
{
	const char *url = o->api_url ? o->api_url : getenv("CI_API_V4_URL");
	struct gitlab *g;
	int rc = check_options(o, url, err);

	if (rc)
		return rc;
	g = calloc(1, sizeof(*g));
	if (!g)
		return st_error_set(err, ST_ENOMEM, "gitlab: out of memory");
	g->kind = o->token_kind;
	g->overlap_s = o->overlap_s;
	g->full_every_s = o->full_every_s;
	g->max_mrs = o->max_mrs;
	g->per_page = o->per_page;
	rc = setup(g, o, url, err);
	if (!rc && forge_new(&gitlab_ops, g, out) != 0)
		rc = st_error_set(err, ST_ENOMEM, "gitlab: out of memory");
	if (rc)
		gitlab_free(g);
	return rc;
}

struct json_accept {
	const char *what;
	cJSON **root;
};

/* http_request.accept for JSON reads: keeps the parsed body, so a
 * body is parsed once. */
static int accept_json(void *ctx, const struct http_response *rs,
		       char *reason, size_t size)
{
	struct json_accept *a = ctx;
	struct st_error e;
	size_t n = strlen(a->what);

	cJSON_Delete(*a->root);
	*a->root = NULL;
	st_error_clear(&e);
	if (json_parse(rs->body.buf, rs->body.len, a->what, a->root, &e) == 0)
		return 0;
	if (strncasecmp(rs->content_type, "application/json", 16) != 0) {
		/* a sign-in or maintenance page: say so */
		snprintf(reason, size, "answer is %.60s, not JSON",
			 *rs->content_type ? rs->content_type : "untyped");
		return -1;
	}
	/* "GET ...: body is not valid JSON" -> without the "GET ...: " */
	snprintf(reason, size, "%s", strncmp(e.msg, a->what, n) == 0 &&
		 e.msg[n] == ':' ? e.msg + n + 2 : e.msg);
	return -1;
}

static int call(struct gitlab *g, struct http_request *rq, const char *path,
		const char *query, struct http_response *rs,
		struct st_error *err);

int gitlab_get_json(struct gitlab *g, const char *path, const char *query,
		    const char *what, struct http_response *rs, cJSON **root,
		    struct st_error *err)
{
	struct json_accept a = { what, root };
	struct http_request rq = {.method = "GET", .what = what,
				  .accept = accept_json, .accept_ctx = &a};

	*root = NULL;
	return call(g, &rq, path, query, rs, err);
}

int gitlab_call(struct gitlab *g, const char *method, const char *path,
		const char *query, const char *body, bool once,
		const char *what, struct http_response *rs,
		struct st_error *err)
{
	struct http_request rq = {.method = method, .what = what,
				  .body = body, .once = once};

	return call(g, &rq, path, query, rs, err);
}

static int call(struct gitlab *g, struct http_request *rq, const char *path,
		const char *query, struct http_response *rs,
		struct st_error *err)
{
	const char *what = rq->what;
	struct strbuf url;
	int rc;

	strbuf_init(&url, 16384);
	rc = strbuf_addf(&url, "%s%s%s%s", g->api_url, path,
			 query && *query ? "?" : "", query ? query : "");
	if (rc) {
		strbuf_release(&url);
		return st_error_set(err, rc, "%s: URL too long", what);
	}
	rq->url = strbuf_str(&url);
	rc = http_do(g->http, rq, rs, err);
	strbuf_release(&url);
	return rc;
}
