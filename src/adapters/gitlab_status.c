/* SPDX-License-Identifier: MIT */
/*
 * HTTP statuses from GitLab to error classes and messages a person can act
 * on: a 401/403 says which token was used and what it needs, since "403"
 * alone sends people hunting in the wrong place.
 */
#include "gitlab_internal.h"

#include <string.h>
#include <strings.h>

static const char *token_name(enum gitlab_token_kind k)
{
	return k == GITLAB_TOKEN_JOB ? "CI job token (JOB-TOKEN)" :
	       "access token (PRIVATE-TOKEN)";
}

static const char *permission(enum gitlab_action a)
{
	switch (a) {
	case GITLAB_READ_PROJECT:
		return "the read_api scope and access to the project";
	case GITLAB_LIST_MRS:
	case GITLAB_READ_NOTES:
		return "the read_api scope and at least the Reporter role";
	case GITLAB_POST_NOTE:
		return "the api scope and at least the Reporter role (and "
		       "the MR discussion must not be locked)";
	case GITLAB_RELEASE:
		return "the api scope and at least the Developer role "
		       "(Maintainer when the tag is protected)";
	case GITLAB_STATUS:
		return "the api scope and at least the Developer role";
	case GITLAB_READ_PUSH_RULE:
		return "the read_api scope and the Maintainer role";
	case GITLAB_READ_USER:
		return "the read_user or read_api scope";
	}
	return "more permissions";
}

static const char *job_cannot(enum gitlab_action a)
{
	switch (a) {
	case GITLAB_LIST_MRS:
	case GITLAB_READ_NOTES:
		return "read merge requests";
	case GITLAB_POST_NOTE:
		return "post notes";
	case GITLAB_STATUS:
		return "set commit statuses";
	case GITLAB_READ_PROJECT:
		return "read the project";
	case GITLAB_READ_PUSH_RULE:
		return "read push rules";
	case GITLAB_READ_USER:
		return "read its user";
	case GITLAB_RELEASE:
		break;
	}
	return NULL;
}

static void sanitise(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			*s = ' ';
}

void gitlab_server_message(const struct gitlab *g,
			   const struct http_response *rs, char *out, size_t n)
{
	cJSON *root = NULL;
	const cJSON *m;
	char *printed = NULL;

	out[0] = '\0';
	if (rs->body.len == 0)
		return;
	if (json_depth_ok(rs->body.buf, rs->body.len, JSON_MAX_DEPTH))
		root = cJSON_ParseWithLength(rs->body.buf, rs->body.len);
	m = cJSON_IsObject(root) ? cJSON_GetObjectItem(root, "message") : NULL;
	if (!m && cJSON_IsObject(root))
		m = cJSON_GetObjectItem(root, "error");
	if (m && cJSON_IsString(m) && m->valuestring)
		snprintf(out, n, "%s", m->valuestring);
	else if (m && (printed = cJSON_PrintUnformatted(m)))
		snprintf(out, n, "%s", printed);
	else if (!root)
		/* Not JSON (a proxy page): show its start only. */
		snprintf(out, n, "%.*s", rs->body.len > 120 ? 120 :
			 (int)rs->body.len, rs->body.buf);
	cJSON_free(printed);
	cJSON_Delete(root);
	sanitise(out);
	/* A proxy or a debug page may echo the request headers. */
	http_client_redact(g->http, out);
}

static int auth_error(const struct gitlab *g, enum gitlab_action a,
		      const char *what, const struct http_response *rs,
		      const char *msg, struct st_error *err)
{
	const char *cannot = job_cannot(a);

	if (g->kind == GITLAB_TOKEN_JOB && cannot)
		return st_error_set(err, ST_EAUTH, "%s: HTTP %ld%s%s%s: a CI "
				    "job token cannot %s; give semver-tagger "
				    "a project or personal access token with "
				    "the api and write_repository scopes "
				    "(for example a masked GITLAB_TOKEN CI/CD "
				    "variable)", what, rs->status,
				    *msg ? " (" : "", msg, *msg ? ")" : "",
				    cannot);
	if (rs->status == 401)
		return st_error_set(err, ST_EAUTH, "%s: HTTP 401%s%s%s: GitLab "
				    "rejected the %s (expired, revoked or "
				    "mistyped?); it needs %s", what,
				    *msg ? " (" : "", msg, *msg ? ")" : "",
				    token_name(g->kind), permission(a));
	return st_error_set(err, ST_EAUTH, "%s: HTTP %ld%s%s%s: the %s lacks "
			    "permission; it needs %s", what, rs->status,
			    *msg ? " (" : "", msg, *msg ? ")" : "",
			    token_name(g->kind), permission(a));
}

static int check_body_type(const char *what, const struct http_response *rs,
			   struct st_error *err)
{
	const char *ct = rs->content_type;

	if (rs->status == 204 || !*ct ||
	    strncasecmp(ct, "application/json", 16) == 0)
		return ST_OK;
	/* A 200 with HTML is a proxy, login or maintenance page: no data,
	 * and usually gone later. */
	return st_error_set(err, ST_ETEMP, "%s: HTTP %ld with Content-Type "
			    "%.60s instead of JSON (a proxy, login or "
			    "maintenance page?)", what, rs->status, ct);
}

int gitlab_check(const struct gitlab *g, enum gitlab_action a,
		 const char *what, const struct http_response *rs,
		 struct st_error *err)
{
	char msg[256];
	long s = rs->status;

	if (s >= 200 && s < 300)
		return check_body_type(what, rs, err);
	gitlab_server_message(g, rs, msg, sizeof(msg));
	if (s == 401 || s == 403 ||
	    (s == 404 && g->kind == GITLAB_TOKEN_JOB && job_cannot(a)))
		return auth_error(g, a, what, rs, msg, err);
	if (s >= 300 && s < 400)
		return st_error_set(err, ST_ECONFIG, "%s: HTTP %ld redirect to "
				    "%.200s not followed (it could carry the "
				    "token elsewhere); configure the API URL "
				    "and project path it points to", what, s,
				    *rs->location ? rs->location : "(none)");
	if (s == 404)
		return st_error_set(err, ST_ENOTFOUND, "%s: HTTP 404%s%s%s: "
				    "not found, or the token cannot see it",
				    what, *msg ? " (" : "", msg,
				    *msg ? ")" : "");
	if (s == 409)
		return st_error_set(err, ST_ECONFLICT, "%s: HTTP 409 (%s)",
				    what, msg);
	if (s >= 400 && s < 500)
		return st_error_set(err, ST_EINVAL, "%s: HTTP %ld%s%s%s", what,
				    s, *msg ? " (" : "", msg, *msg ? ")" : "");
	return st_error_set(err, ST_ETEMP, "%s: unexpected HTTP %ld", what, s);
}
