/* SPDX-License-Identifier: MIT */
/*
 * GET /projects/:id/push_rule (ee/lib/api/project_push_rule.rb): the
 * project's push rules, read before anything is pushed. GitLab answers 200
 * with a JSON null when the project has none, 403 below Maintainer, and
 * 404 where push rules do not exist (Free: no route; EE without the
 * licence). Only the first two are facts about the project; the others
 * say the rules cannot be known or do not apply, which is not an error.
 */
#include "gitlab_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int rule_regex(const cJSON *root, const char *key,
		      const struct json_where *w, char **out,
		      struct st_error *err)
{
	const char *v = NULL;
	int rc = json_get_str(root, key, JSON_OPTIONAL, w, &v, err);

	if (rc || !v || !*v)
		return rc;
	if (strlen(v) > FORGE_PUSH_RULE_REGEX_MAX)
		return st_error_set(err, ST_EINVAL, "%s: %s is longer than %d "
				    "bytes", w->what, key,
				    FORGE_PUSH_RULE_REGEX_MAX);
	*out = strdup(v);
	return *out ? ST_OK : st_error_set(err, ST_ENOMEM, "%s: out of "
					   "memory", w->what);
}

static int rule_from_json(const cJSON *root, const struct json_where *w,
			  struct forge_push_rule *r, struct st_error *err)
{
	const struct { const char *key; bool *out; } flags[] = {
		{"reject_unsigned_commits", &r->reject_unsigned_commits},
		{"commit_committer_check", &r->commit_committer_check},
		{"commit_committer_name_check",
		 &r->commit_committer_name_check},
		{"member_check", &r->member_check},
		{"deny_delete_tag", &r->deny_delete_tag},
		{"reject_non_dco_commits", &r->reject_non_dco_commits},
	};
	const struct { const char *key; char **out; } rx[] = {
		{"commit_message_regex", &r->commit_message_regex},
		{"commit_message_negative_regex",
		 &r->commit_message_negative_regex},
		{"branch_name_regex", &r->branch_name_regex},
		{"author_email_regex", &r->author_email_regex},
	};
	int rc = ST_OK;

	if (!cJSON_IsObject(root))
		return st_error_set(err, ST_EINVAL, "%s: expected a JSON object "
				    "or null", w->what);
	r->state = FORGE_PUSH_RULES_SET;
	/* A key GitLab leaves out (feature not licensed) is a rule not
	 * enforced: false. */
	for (size_t i = 0; !rc && i < sizeof(flags) / sizeof(flags[0]); i++)
		rc = json_get_bool(root, flags[i].key, JSON_OPTIONAL, w,
				   flags[i].out, err);
	for (size_t i = 0; !rc && i < sizeof(rx) / sizeof(rx[0]); i++)
		rc = rule_regex(root, rx[i].key, w, rx[i].out, err);
	return rc;
}

/* 1 when the answer says the rules are not available or not readable,
 * with r->state and r->detail set; 0 when gitlab_check() decides. */
static int not_readable(const struct gitlab *g, const struct http_response *rs,
			struct forge_push_rule *r)
{
	char msg[200];

	gitlab_server_message(g, rs, msg, sizeof(msg));
	if (rs->status == 403 ||
	    (rs->status == 401 && g->kind == GITLAB_TOKEN_JOB))
		r->state = FORGE_PUSH_RULES_FORBIDDEN;
	else if (rs->status == 404 && !strstr(msg, "Project Not Found"))
		r->state = FORGE_PUSH_RULES_UNAVAILABLE;
	else
		return 0;
	snprintf(r->detail, sizeof(r->detail), "HTTP %ld%s%s%s", rs->status,
		 *msg ? " (" : "", msg, *msg ? ")" : "");
	return 1;
}

int gitlab_push_rule(void *impl, struct forge_push_rule *out,
		     struct st_error *err)
{
	struct gitlab *g = impl;
	struct http_response rs;
	struct forge_push_rule r;
	char what[512], path[512];
	cJSON *root = NULL;
	int rc;

	snprintf(what, sizeof(what), "GET /projects/%s/push_rule",
		 g->project_enc);
	snprintf(path, sizeof(path), "/projects/%s/push_rule", g->project_enc);
	forge_push_rule_init(&r);
	http_response_init(&rs);
	/* a garbled body is retried like a 5xx (issue 14) */
	rc = gitlab_get_json(g, path, NULL, what, &rs, &root, err);
	if (!rc && not_readable(g, &rs, &r))
		goto done;
	if (!rc)
		rc = gitlab_check(g, GITLAB_READ_PUSH_RULE, what, &rs, err);
	if (!rc && !cJSON_IsNull(root)) {
		struct json_where w = {what, ""};

		rc = rule_from_json(root, &w, &r, err);
	}
done:
	cJSON_Delete(root);
	http_response_release(&rs);
	if (rc) {
		forge_push_rule_release(&r);
		return rc;
	}
	forge_push_rule_release(out);
	*out = r;
	return ST_OK;
}

/* ---- the token's user (what the committer rules compare with) ---- */

static int add_email(struct forge_user *u, const char *e)
{
	char **v;

	if (!e || !*e || u->n_emails >= FORGE_USER_EMAILS_MAX)
		return ST_OK;
	for (size_t i = 0; i < u->n_emails; i++)
		if (strcasecmp(u->emails[i], e) == 0)
			return ST_OK;
	v = realloc(u->emails, (u->n_emails + 1) * sizeof(*v));
	if (!v)
		return ST_ENOMEM;
	u->emails = v;
	if (!(v[u->n_emails] = strdup(e)))
		return ST_ENOMEM;
	u->n_emails++;
	return ST_OK;
}

static int user_from_json(const cJSON *root, const struct json_where *w,
			  struct forge_user *u, struct st_error *err)
{
	const char *name = NULL, *username = NULL, *mail[3] = { NULL };
	const char *keys[3] = { "email", "commit_email", "public_email" };
	int rc;

	rc = json_get_int(root, "id", JSON_REQUIRED | JSON_NOT_NULL, 1,
			  JSON_INT_MAX, w, &u->id, err);
	if (!rc)
		rc = json_get_str(root, "username", JSON_REQUIRED |
				  JSON_NOT_NULL, w, &username, err);
	if (!rc)
		rc = json_get_str(root, "name", JSON_OPTIONAL, w, &name, err);
	for (int i = 0; !rc && i < 3; i++)
		rc = json_get_str(root, keys[i], JSON_OPTIONAL, w, &mail[i],
				  err);
	if (rc)
		return rc;
	if (gitlab_dup(&u->username, username) || gitlab_dup(&u->name, name))
		return st_error_set(err, ST_ENOMEM, "out of memory");
	for (int i = 0; i < 3; i++)
		if (add_email(u, mail[i]))
			return st_error_set(err, ST_ENOMEM, "out of memory");
	return ST_OK;
}

/* Confirmed secondary emails (GET /user/emails); a failure here only
 * leaves them out. */
static void user_emails(struct gitlab *g, struct forge_user *u)
{
	struct http_response rs;
	struct st_error e;
	cJSON *root = NULL;
	const cJSON *it;

	st_error_clear(&e);
	http_response_init(&rs);
	if (gitlab_call(g, "GET", "/user/emails", "per_page=100", NULL, false,
			"GET /user/emails", &rs, &e) == 0 &&
	    gitlab_check(g, GITLAB_READ_USER, "GET /user/emails", &rs, &e) == 0 &&
	    json_parse(rs.body.buf, rs.body.len, "GET /user/emails", &root,
		       &e) == 0 && cJSON_IsArray(root))
		cJSON_ArrayForEach(it, root) {
			const cJSON *m = cJSON_GetObjectItem(it, "email");
			const cJSON *c = cJSON_GetObjectItem(it, "confirmed_at");

			if (cJSON_IsString(m) && cJSON_IsString(c))
				add_email(u, m->valuestring);
		}
	cJSON_Delete(root);
	http_response_release(&rs);
}

int gitlab_user(void *impl, struct forge_user *out, struct st_error *err)
{
	struct gitlab *g = impl;
	struct http_response rs;
	struct forge_user u;
	cJSON *root = NULL;
	int rc;

	forge_user_init(&u);
	http_response_init(&rs);
	rc = gitlab_call(g, "GET", "/user", NULL, NULL, false, "GET /user",
			 &rs, err);
	if (!rc)
		rc = gitlab_check(g, GITLAB_READ_USER, "GET /user", &rs, err);
	if (!rc)
		rc = json_parse(rs.body.buf, rs.body.len, "GET /user", &root,
				err);
	if (!rc) {
		struct json_where w = {"GET /user", ""};

		rc = cJSON_IsObject(root) ? user_from_json(root, &w, &u, err)
			: st_error_set(err, ST_EINVAL, "GET /user: expected a "
				       "JSON object");
	}
	cJSON_Delete(root);
	http_response_release(&rs);
	if (!rc)
		user_emails(g, &u);
	if (rc) {
		forge_user_release(&u);
		return rc;
	}
	forge_user_release(out);
	*out = u;
	return ST_OK;
}
