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
