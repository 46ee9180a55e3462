/* SPDX-License-Identifier: MIT */
/*
 * forge_fleet.h against the stand-in: group projects (subgroups, topic,
 * archived, pages), the group MR listing (pages, updated_after, totals
 * omitted past 10,000), token self-information, access levels, protected
 * refs, labels (idempotent creation), hooks, an MR's head pipeline and a
 * status attached to it without an extra pipeline; hostile answers.
 */
#include "gitlab_testutil.h"

#include "semver-tagger/forge_fleet.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_MRS "GET /api/v4/groups/:id/merge_requests"

static void project(const char *path, const char *extra)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"path_with_namespace\":\"%s\"%s%s}",
		 path, *extra ? "," : "", extra);
	cJSON_Delete(tu_ctl("POST", "/__control__/projects", body, 201));
}

static struct forge *forge_pp(unsigned per_page)
{
	struct gitlab_options o;

	tu_options(&o);
	o.per_page = per_page;
	return tu_forge(&o);
}

START_TEST(test_group_projects)
{
	struct forge *f = forge_pp(2);
	struct forge_fleet_projects p = { 0 };
	struct forge_list_result res;
	struct st_error err;

	project("org/a/one", "\"topics\":[\"release\"]");
	project("org/a/b/two", "\"topics\":[\"release\",\"x\"]");
	project("org/a/b/old", "\"topics\":[\"release\"],\"archived\":true");
	project("org/a/b/c/three", "\"topics\":[]");
	project("org/other", "\"topics\":[\"release\"]");
	memset(&res, 0, sizeof(res));
	st_error_clear(&err);
	ck_assert_msg(forge_group_projects(f, "org/a", NULL, &p, &res, &err) == 0,
		      "%s", err.msg);
	ck_assert_uint_eq(p.len, 3);
	ck_assert_str_eq(p.items[0].path, "org/a/one");
	ck_assert_str_eq(p.items[0].default_branch, "main");
	ck_assert_uint_eq(res.pages, 2);
	ck_assert_int_eq(forge_group_projects(f, "org/a", "release", &p, &res,
					      &err), 0);
	ck_assert_uint_eq(p.len, 2);
	ck_assert_str_eq(p.items[1].path, "org/a/b/two");
	ck_assert_int_eq(forge_group_projects(f, "org/nope", NULL, &p, &res,
					      &err), ST_ENOTFOUND);
	ck_assert_uint_eq(p.len, 2); /* unchanged on failure */
	tu_msg(err.msg);
	forge_fleet_projects_release(&p);
	forge_free(f);
}
END_TEST

START_TEST(test_group_mrs_pages_and_bound)
{
	struct forge *f = forge_pp(100);
	struct forge_group_mrs m = { 0 };
	struct forge_list_result res;
	struct st_error err;
	cJSON *clock;
	int64_t later;

	project("grp/two", "");
	tu_bulk(10050, ""); /* project 7 is grp/app */
	memset(&res, 0, sizeof(res));
	st_error_clear(&err);
	ck_assert_msg(forge_group_mrs(f, "grp", -1, &m, &res, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(m.len, 10050);
	ck_assert_uint_eq(res.pages, 101);
	ck_assert_int_eq(m.items[0].project_id, 7);
	clock = tu_ctl("POST", "/__control__/clock", "{\"advance_seconds\":60}", 200);
	cJSON_Delete(clock);
	tu_bulk(3, "");
	ck_assert_int_eq(json_time_parse("2000-01-01T00:00:00Z", &later), 0);
	later = m.items[m.len - 1].updated_ms + 30000;
	tu_clear_counts();
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(forge_group_mrs(f, "grp", later, &m, &res, &err), 0);
	ck_assert_uint_eq(m.len, 3);
	ck_assert_int_eq(m.items[2].iid, 10053);
	ck_assert_int_eq(tu_count(GROUP_MRS), 1);
	forge_group_mrs_release(&m);
	forge_free(f);
}
END_TEST

START_TEST(test_group_mrs_hostile)
{
	struct forge *f = forge_pp(100);
	struct forge_group_mrs m = { 0 };
	struct forge_list_result res;
	struct st_error err;

	memset(&res, 0, sizeof(res));
	tu_fault("{\"endpoint\":\"" GROUP_MRS "\",\"mode\":\"status\","
		 "\"status\":200,\"body\":\"[{\\\"project_id\\\":\\\"x\\\","
		 "\\\"iid\\\":1,\\\"updated_at\\\":\\\"now\\\"}]\"}");
	st_error_clear(&err);
	ck_assert_int_eq(forge_group_mrs(f, "grp", -1, &m, &res, &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "[0]"));
	tu_msg(err.msg);
	tu_fault("{\"endpoint\":\"" GROUP_MRS "\",\"mode\":\"status\","
		 "\"status\":200,\"body\":\"[{\\\"project_id\\\":7,"
		 "\\\"iid\\\":1,\\\"updated_at\\\":\\\"yesterday\\\"}]\"}");
	st_error_clear(&err);
	ck_assert_int_eq(forge_group_mrs(f, "grp", -1, &m, &res, &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "updated_at 'yesterday'"));
	ck_assert_uint_eq(m.len, 0);
	forge_free(f);
}
END_TEST

START_TEST(test_hostile_listings)
{
	struct forge *f = forge_pp(100);
	struct forge_fleet_projects p = { 0 };
	struct forge_protected_refs r = { 0 };
	struct forge_token_info t;
	struct forge_list_result res;
	struct st_error err;
	int64_t id = 0;

	memset(&res, 0, sizeof(res));
	tu_fault("{\"endpoint\":\"GET /api/v4/groups/:id/projects\","
		 "\"mode\":\"status\",\"status\":200,\"body\":"
		 "\"[{\\\"id\\\":1,\\\"path_with_namespace\\\":7}]\"}");
	st_error_clear(&err);
	ck_assert_int_eq(forge_group_projects(f, "grp", NULL, &p, &res, &err),
			 ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "path_with_namespace"));
	tu_msg(err.msg);
	tu_fault("{\"endpoint\":\"GET /api/v4/personal_access_tokens/self\","
		 "\"mode\":\"status\",\"status\":200,\"body\":"
		 "\"{\\\"scopes\\\":\\\"api\\\"}\"}");
	st_error_clear(&err);
	ck_assert_int_eq(forge_token_info(f, &t, &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "scopes"));
	tu_msg(err.msg);
	tu_fault("{\"endpoint\":\"GET /api/v4/projects/:id/protected_tags\","
		 "\"mode\":\"status\",\"status\":200,\"body\":\"[{}]\"}");
	st_error_clear(&err);
	ck_assert_int_eq(forge_protected_refs(f, true, &r, &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "without a name"));
	tu_fault("{\"endpoint\":\"GET /api/v4/projects/:id/merge_requests/:iid\","
		 "\"mode\":\"status\",\"status\":200,\"body\":"
		 "\"{\\\"head_pipeline\\\":{\\\"id\\\":-4}}\"}");
	st_error_clear(&err);
	ck_assert_int_eq(forge_mr_head_pipeline(f, 1, &id, &err), ST_EINVAL);
	ck_assert_int_eq(id, 0);
	tu_fault("{\"endpoint\":\"GET /api/v4/projects/:id/protected_tags\","
		 "\"mode\":\"malformed_json\",\"count\":50}");
	st_error_clear(&err);
	ck_assert_int_ne(forge_protected_refs(f, true, &r, &err), 0);
	forge_free(f);
}
END_TEST

START_TEST(test_token_and_access)
{
	struct forge *f = forge_pp(100);
	struct forge_token_info t;
	struct st_error err;
	int level = -1;

	st_error_clear(&err);
	ck_assert_msg(forge_token_info(f, &t, &err) == 0, "%s", err.msg);
	ck_assert(t.known);
	ck_assert_str_eq(t.scopes, "api");
	ck_assert_str_eq(t.expires_at, "2099-12-31");
	ck_assert(t.active && !t.revoked && !t.admin);
	ck_assert_int_eq(forge_access_level(f, t.user_id, &level, &err), 0);
	ck_assert_int_eq(level, FORGE_ACCESS_MAINTAINER);
	ck_assert_int_eq(forge_access_level(f, 987654, &level, &err), 0);
	ck_assert_int_eq(level, FORGE_ACCESS_NONE);
	forge_free(f);
}
END_TEST

START_TEST(test_protected_refs)
{
	struct forge *f = forge_pp(100);
	struct forge_protected_refs r = { 0 };
	struct st_error err;

	cJSON_Delete(tu_ctl("POST", "/__control__/projects/7/protected_branches",
			    "{\"name\":\"release/*\",\"level\":\"no_push\"}", 201));
	cJSON_Delete(tu_ctl("POST", "/__control__/projects/7/protected_branches",
			    "{\"name\":\"main\",\"level\":\"no_force_push\"}", 201));
	cJSON_Delete(tu_ctl("POST", "/__control__/projects/7/protected_tags",
			    "{\"name\":\"v*\",\"create_access_level\":60}", 201));
	st_error_clear(&err);
	ck_assert_int_eq(forge_protected_refs(f, false, &r, &err), 0);
	ck_assert_int_eq(forge_protected_level(&r, "release/1.2"), 0);
	ck_assert_int_eq(forge_protected_level(&r, "main"), 40);
	ck_assert_int_eq(forge_protected_level(&r, "feature"), -1);
	ck_assert_int_eq(forge_protected_refs(f, true, &r, &err), 0);
	ck_assert_int_eq(forge_protected_level(&r, "v1.0.0"), 60);
	ck_assert_int_eq(forge_protected_level(&r, "1.0.0"), -1);
	forge_protected_refs_release(&r);
	forge_free(f);
}
END_TEST

START_TEST(test_labels_idempotent)
{
	struct forge *f = forge_pp(100);
	struct forge_names n = { 0 };
	enum forge_outcome out = 0;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_msg(forge_create_label(f, "grp", "ImpactMajor", "#dc143c",
					 "breaking change", &out, &err) == 0,
		      "%s", err.msg);
	ck_assert_int_eq(out, FORGE_CREATED);
	ck_assert_int_eq(forge_create_label(f, "grp", "ImpactMajor", "#dc143c",
					    "breaking change", &out, &err), 0);
	ck_assert_int_eq(out, FORGE_EXISTED);
	ck_assert_int_eq(forge_create_label(f, NULL, "ImpactPatch", "#69d100",
					    "fix", &out, &err), 0);
	ck_assert_int_eq(forge_labels(f, NULL, &n, &err), 0);
	ck_assert(forge_names_has(&n, "ImpactMajor")); /* the group's */
	ck_assert(forge_names_has(&n, "ImpactPatch"));
	ck_assert_int_eq(forge_labels(f, "grp", &n, &err), 0);
	ck_assert_uint_eq(n.len, 1);
	ck_assert_int_eq(forge_create_label(f, NULL, "Bad", "red", "x", &out,
					    &err), ST_EINVAL);
	tu_msg(err.msg);
	forge_names_release(&n);
	forge_free(f);
}
END_TEST

START_TEST(test_hooks)
{
	struct forge *f = forge_pp(100);
	struct forge_names n = { 0 };
	struct st_error err;

	cJSON_Delete(tu_ctl("POST", "/__control__/projects/7/hooks",
			    "{\"url\":\"http://127.0.0.1:9/webhook\"}", 201));
	st_error_clear(&err);
	ck_assert_int_eq(forge_hooks(f, FORGE_HOOKS_PROJECT, NULL, &n, &err), 0);
	ck_assert_uint_eq(n.len, 1);
	ck_assert_str_eq(n.items[0], "http://127.0.0.1:9/webhook");
	ck_assert_int_eq(forge_hooks(f, FORGE_HOOKS_SYSTEM, NULL, &n, &err),
			 ST_EAUTH);
	tu_msg(err.msg);
	forge_names_release(&n);
	forge_free(f);
}
END_TEST

START_TEST(test_head_pipeline_status)
{
	struct forge *f = forge_pp(100);
	struct st_error err;
	cJSON *mr, *pipe, *pipes, *proj;
	int64_t id = -1;
	enum forge_outcome out = 0;
	struct forge_commit_status st = { 0 };
	char sha[64];

	proj = tu_ctl("GET", "/__control__/projects/7", NULL, 200);
	snprintf(sha, sizeof(sha), "%s",
		 cJSON_GetObjectItem(proj, "head")->valuestring);
	cJSON_Delete(proj);
	cJSON_Delete(tu_ctl("POST", "/__control__/projects/7/commits",
			    "{\"branch\":\"feat\",\"start_branch\":\"main\","
			    "\"files\":{\"a\":\"1\\n\"}}", 201));
	mr = tu_ctl("POST", "/__control__/projects/7/merge_requests",
		    "{\"source_branch\":\"feat\",\"title\":\"t\"}", 201);
	cJSON_Delete(mr);
	st_error_clear(&err);
	ck_assert_int_eq(forge_mr_head_pipeline(f, 1, &id, &err), 0);
	ck_assert_int_eq(id, 0);
	pipe = tu_ctl("POST", "/__control__/projects/7/merge_requests/1/pipeline",
		      "{}", 201);
	ck_assert_int_eq(forge_mr_head_pipeline(f, 1, &id, &err), 0);
	ck_assert_int_eq(id, (int64_t)cJSON_GetObjectItem(pipe, "id")->valuedouble);
	snprintf(sha, sizeof(sha), "%s",
		 cJSON_GetObjectItem(pipe, "sha")->valuestring);
	cJSON_Delete(pipe);
	st.sha = sha;
	st.name = "semver-tagger";
	st.state = FORGE_STATUS_SUCCESS;
	st.pipeline_id = id;
	ck_assert_msg(forge_set_commit_status(f, &st, &out, &err) == 0, "%s",
		      err.msg);
	pipes = tu_ctl("GET", "/__control__/projects/7/pipelines", NULL, 200);
	ck_assert_int_eq(cJSON_GetArraySize(pipes), 1);
	cJSON_Delete(pipes);
	pipes = tu_ctl("GET", "/__control__/projects/7/statuses", NULL, 200);
	ck_assert_int_eq((int64_t)cJSON_GetObjectItem(cJSON_GetArrayItem(pipes, 0),
						      "pipeline_id")->valuedouble,
			 id);
	cJSON_Delete(pipes);
	forge_free(f);
}
END_TEST

START_TEST(test_no_message_holds_the_token)
{
	ck_assert_uint_ge(tu_msg_count(), 4);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gitlab-fleet");
	TCase *tc = tcase_create("fleet");
	SRunner *sr;
	int failed;

	tu_setup_once();
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_group_projects);
	tcase_add_test(tc, test_group_mrs_pages_and_bound);
	tcase_add_test(tc, test_group_mrs_hostile);
	tcase_add_test(tc, test_hostile_listings);
	tcase_add_test(tc, test_token_and_access);
	tcase_add_test(tc, test_protected_refs);
	tcase_add_test(tc, test_labels_idempotent);
	tcase_add_test(tc, test_hooks);
	tcase_add_test(tc, test_head_pipeline_status);
	tcase_add_test(tc, test_no_message_holds_the_token);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_teardown_once();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
