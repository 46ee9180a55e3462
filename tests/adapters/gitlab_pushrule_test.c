/* SPDX-License-Identifier: MIT */
/*
 * forge_push_rule() against the stand-in: GitLab's answers for a project
 * without rules (200 null), with rules, a token below Maintainer (403), a
 * CI job token, GitLab Free and EE without the licence (404), a missing
 * project, and malformed or hostile answers.
 */
#include "gitlab_testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUTE "GET /api/v4/projects/:id/push_rule"

static int read_rule(const struct gitlab_options *o,
		     struct forge_push_rule *r, struct st_error *err)
{
	struct forge *f = tu_forge(o);
	int rc;

	st_error_clear(err);
	rc = forge_push_rule(f, r, err);
	if (rc)
		tu_msg(err->msg);
	if (*r->detail)
		tu_msg(r->detail);
	forge_free(f);
	return rc;
}

START_TEST(test_no_rule_is_null)
{
	struct gitlab_options o;
	struct forge_push_rule r;
	struct st_error err;

	tu_options(&o);
	forge_push_rule_init(&r);
	r.state = FORGE_PUSH_RULES_FORBIDDEN; /* replaced on success */
	ck_assert_msg(read_rule(&o, &r, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(r.state, FORGE_PUSH_RULES_NONE);
	ck_assert(!r.reject_unsigned_commits);
	ck_assert_ptr_null(r.commit_message_regex);
	ck_assert_int_eq(tu_count(ROUTE), 1);
	forge_push_rule_release(&r);
}
END_TEST

START_TEST(test_rule_fields)
{
	struct gitlab_options o;
	struct forge_push_rule r;
	struct st_error err;

	cJSON_Delete(tu_ctl("PUT", "/__control__/projects/7/push_rule",
			    "{\"reject_unsigned_commits\":true,"
			    "\"commit_message_regex\":\"^(Release|Merge) \","
			    "\"commit_message_negative_regex\":\"WIP\","
			    "\"commit_committer_check\":true,"
			    "\"commit_committer_name_check\":true,"
			    "\"member_check\":true,\"branch_name_regex\":\"\"}",
			    200));
	tu_options(&o);
	o.project = "grp/app";
	forge_push_rule_init(&r);
	ck_assert_msg(read_rule(&o, &r, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(r.state, FORGE_PUSH_RULES_SET);
	ck_assert(r.reject_unsigned_commits);
	ck_assert(r.commit_committer_check);
	ck_assert(r.commit_committer_name_check);
	ck_assert(r.member_check);
	ck_assert(!r.deny_delete_tag);
	ck_assert_str_eq(r.commit_message_regex, "^(Release|Merge) ");
	ck_assert_str_eq(r.commit_message_negative_regex, "WIP");
	ck_assert_ptr_null(r.branch_name_regex); /* "" is unset */
	ck_assert_ptr_null(r.author_email_regex);
	ck_assert_str_eq(r.detail, "");
	forge_push_rule_release(&r);
	ck_assert_ptr_null(r.commit_message_regex);
}
END_TEST

START_TEST(test_developer_forbidden)
{
	struct gitlab_options o;
	struct forge_push_rule r;
	struct st_error err;

	cJSON_Delete(tu_ctl("PUT", "/__control__/projects/7/push_rule",
			    "{\"reject_unsigned_commits\":true}", 200));
	cJSON_Delete(tu_ctl("POST", "/__control__/tokens",
			    "{\"token\":\"glpat-CANARY-dev-0123456789abcdef\","
			    "\"username\":\"dev\",\"role\":\"developer\"}", 201));
	tu_options(&o);
	o.token = "glpat-CANARY-dev-0123456789abcdef";
	forge_push_rule_init(&r);
	ck_assert_msg(read_rule(&o, &r, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(r.state, FORGE_PUSH_RULES_FORBIDDEN);
	ck_assert_str_eq(r.detail, "HTTP 403 (403 Forbidden)");
	ck_assert(!r.reject_unsigned_commits); /* unknown, not "off" */
	ck_assert_ptr_null(strstr(r.detail, "CANARY"));
	forge_push_rule_release(&r);
}
END_TEST

START_TEST(test_job_token_forbidden)
{
	struct gitlab_options o;
	struct forge_push_rule r;
	struct st_error err;

	tu_options(&o);
	o.token = TU_JOB_TOKEN;
	o.token_kind = GITLAB_TOKEN_JOB;
	forge_push_rule_init(&r);
	ck_assert_msg(read_rule(&o, &r, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(r.state, FORGE_PUSH_RULES_FORBIDDEN);
	ck_assert_ptr_nonnull(strstr(r.detail, "HTTP 401"));
	forge_push_rule_release(&r);
}
END_TEST

START_TEST(test_editions_without_push_rules)
{
	const char *ed[] = {"ee-unlicensed", "ce"};
	const char *detail[] = {"HTTP 404 (404 Not Found)",
				"HTTP 404 (404 Not Found)"};
	struct gitlab_options o;
	struct forge_push_rule r;
	struct st_error err;
	char body[64];

	cJSON_Delete(tu_ctl("PUT", "/__control__/projects/7/push_rule",
			    "{\"reject_unsigned_commits\":true}", 200));
	tu_options(&o);
	for (int i = 0; i < 2; i++) {
		snprintf(body, sizeof(body), "{\"edition\":\"%s\"}", ed[i]);
		cJSON_Delete(tu_ctl("POST", "/__control__/edition", body, 200));
		forge_push_rule_init(&r);
		ck_assert_msg(read_rule(&o, &r, &err) == 0, "%s", err.msg);
		ck_assert_int_eq(r.state, FORGE_PUSH_RULES_UNAVAILABLE);
		ck_assert_str_eq(r.detail, detail[i]);
		forge_push_rule_release(&r);
	}
}
END_TEST

START_TEST(test_missing_project_is_an_error)
{
	struct gitlab_options o;
	struct forge_push_rule r;
	struct st_error err;

	tu_options(&o);
	o.project = "grp/missing";
	forge_push_rule_init(&r);
	ck_assert_int_eq(read_rule(&o, &r, &err), ST_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.msg,
				     "GET /projects/grp%2Fmissing/push_rule"));
	ck_assert_int_eq(r.state, FORGE_PUSH_RULES_NONE); /* untouched */
}
END_TEST

/* A 200 answer with body b must fail with rc, the message holding want. */
static void bad_answer(const char *b, int rc, const char *want)
{
	struct gitlab_options o;
	struct forge_push_rule r;
	struct st_error err;
	char fault[9000];

	snprintf(fault, sizeof(fault), "{\"endpoint\":\"" ROUTE "\","
		 "\"mode\":\"status\",\"status\":200,\"body\":\"%s\"}", b);
	tu_fault(fault);
	tu_options(&o);
	forge_push_rule_init(&r);
	ck_assert_int_eq(read_rule(&o, &r, &err), rc);
	ck_assert_msg(strstr(err.msg, want) != NULL, "%s", err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, "push_rule"));
	ck_assert_int_eq(r.state, FORGE_PUSH_RULES_NONE);
	ck_assert_ptr_null(r.commit_message_regex);
}

START_TEST(test_malformed_answers)
{
	char big[6000];
	char body[6100];

	bad_answer("[1,2]", ST_EINVAL, "expected a JSON object or null");
	bad_answer("{\\\"reject_unsigned_commits\\\":\\\"yes\\\"}", ST_EINVAL,
		   "reject_unsigned_commits");
	bad_answer("{\\\"commit_message_regex\\\":7}", ST_EINVAL,
		   "commit_message_regex");
	memset(big, 'a', 5000);
	big[5000] = '\0';
	snprintf(body, sizeof(body), "{\\\"commit_message_regex\\\":\\\"%s\\\"}",
		 big);
	bad_answer(body, ST_EINVAL, "commit_message_regex is longer than");
	/* a garbled body is retried like a 5xx (issue 14) */
	{
		struct gitlab_options o;
		struct forge_push_rule r;
		struct st_error err;

		tu_clear_counts();
		tu_fault("{\"endpoint\":\"" ROUTE "\",\"mode\":\"status\","
			 "\"status\":200,\"body\":\"{\\\"reject_unsigned\"}");
		tu_options(&o);
		forge_push_rule_init(&r);
		ck_assert_msg(read_rule(&o, &r, &err) == 0, "%s", err.msg);
		ck_assert_int_eq(r.state, FORGE_PUSH_RULES_NONE);
		ck_assert_int_eq(tu_count(ROUTE), 2);
	}
}
END_TEST

START_TEST(test_user_and_verified_emails)
{
	struct gitlab_options o;
	struct forge_user u;
	struct st_error err;
	struct forge *f;

	cJSON_Delete(tu_ctl("POST", "/__control__/users/semver-bot/emails",
			    "{\"email\":\"bot@corp.example\"}", 201));
	cJSON_Delete(tu_ctl("POST", "/__control__/users/semver-bot/emails",
			    "{\"email\":\"new@corp.example\","
			    "\"confirmed\":false}", 201));
	tu_options(&o);
	f = tu_forge(&o);
	forge_user_init(&u);
	st_error_clear(&err);
	ck_assert_msg(forge_user(f, &u, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(u.username, "semver-bot");
	ck_assert_str_eq(u.name, "Semver Bot");
	ck_assert(u.id > 0);
	/* primary and commit email (one), the confirmed secondary one; not
	 * the unconfirmed one */
	ck_assert_uint_eq(u.n_emails, 2);
	ck_assert_str_eq(u.emails[0], "semver-bot@example.com");
	ck_assert_str_eq(u.emails[1], "bot@corp.example");
	forge_user_release(&u);
	ck_assert_ptr_null(u.emails);
	forge_free(f);
	/* a CI job token cannot read /user: an error naming the call */
	o.token = TU_JOB_TOKEN;
	o.token_kind = GITLAB_TOKEN_JOB;
	f = tu_forge(&o);
	st_error_clear(&err);
	ck_assert_int_eq(forge_user(f, &u, &err), ST_EAUTH);
	tu_msg(err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, "GET /user"));
	ck_assert_ptr_null(u.username);
	forge_free(f);
}
END_TEST

START_TEST(test_user_malformed)
{
	struct gitlab_options o;
	struct forge_user u;
	struct st_error err;
	struct forge *f;

	tu_fault("{\"endpoint\":\"GET /api/v4/user\",\"mode\":\"status\","
		 "\"status\":200,\"body\":\"{\\\"id\\\":\\\"x\\\"}\"}");
	tu_options(&o);
	f = tu_forge(&o);
	forge_user_init(&u);
	st_error_clear(&err);
	ck_assert_int_eq(forge_user(f, &u, &err), ST_EINVAL);
	tu_msg(err.msg);
	ck_assert_msg(strstr(err.msg, "GET /user") && strstr(err.msg, "id"),
		      "%s", err.msg);
	ck_assert_ptr_null(u.username);
	forge_free(f);
}
END_TEST

START_TEST(test_no_message_holds_the_token)
{
	ck_assert_uint_ge(tu_msg_count(), 8);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gitlab-pushrule");
	TCase *tc = tcase_create("pushrule");
	SRunner *sr;
	int failed;

	tu_setup_once();
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_no_rule_is_null);
	tcase_add_test(tc, test_rule_fields);
	tcase_add_test(tc, test_developer_forbidden);
	tcase_add_test(tc, test_job_token_forbidden);
	tcase_add_test(tc, test_editions_without_push_rules);
	tcase_add_test(tc, test_missing_project_is_an_error);
	tcase_add_test(tc, test_malformed_answers);
	tcase_add_test(tc, test_user_and_verified_emails);
	tcase_add_test(tc, test_user_malformed);
	tcase_add_test(tc, test_no_message_holds_the_token);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_teardown_once();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
