/* SPDX-License-Identifier: MIT */
/*
 * The status page's pure renderers (statuspage.c) with hostile titles and
 * URLs, and the daemon's board (statusboard.c): what a report and a
 * verdict leave on the page, the caps, the bearer token's sources, and
 * which listen addresses are loopback.
 */
#include "statusboard.h"
#include "statuspage.h"

#include "semver-tagger/error.h"
#include "semver-tagger/log.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOSTILE "</span><script>alert(1)</script><img src=x " \
		"onerror='x'>\"&amp;\x01"

static char *render(const struct statuspage_snapshot *s, bool json)
{
	struct strbuf out;
	int rc;

	strbuf_init(&out, 1u << 20);
	rc = json ? statuspage_json(&out, s) : statuspage_html(&out, s);
	ck_assert_int_eq(rc, 0);
	return strbuf_detach(&out);
}

START_TEST(escape_every_special)
{
	struct strbuf out;

	strbuf_init(&out, 4096);
	ck_assert_int_eq(statuspage_escape(&out, HOSTILE), 0);
	ck_assert_str_eq(strbuf_str(&out),
			 "&lt;/span&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
			 "&lt;img src=x onerror=&#39;x&#39;&gt;&quot;&amp;amp;"
			 "\xef\xbf\xbd");
	strbuf_release(&out);
}
END_TEST

START_TEST(only_http_urls_are_links)
{
	static const char *const bad[] = {
		"javascript:alert(1)", "JavaScript:alert(1)",
		" javascript:alert(1)", "java\tscript:alert(1)",
		"data:text/html,<script>", "vbscript:x", "//evil.example/x",
		"http://", "https://", "http:///path", "https://?q",
		"https://a b", "https://a\"onmouseover=x", "https://a'x",
		"https://a<b", "https://a\\b", "https://a\x7f", "ftp://a/b",
		"https://a`b", "", NULL,
	};
	char longurl[STATUSPAGE_URL_MAX + 16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!statuspage_url_ok(bad[i]), "accepted %s",
			      bad[i] ? bad[i] : "NULL");
	ck_assert(statuspage_url_ok("https://gitlab.example.com/g/p"));
	ck_assert(statuspage_url_ok("HTTP://127.0.0.1:8080/g/p/-/"
				    "merge_requests/3"));
	memset(longurl, 'a', sizeof(longurl) - 1);
	memcpy(longurl, "https://", 8);
	longurl[sizeof(longurl) - 1] = '\0';
	ck_assert(!statuspage_url_ok(longurl));
}
END_TEST

START_TEST(release_url_encodes_the_tag)
{
	char buf[256];

	ck_assert(statuspage_release_url("https://gl.example/g/p/", "v1.2.0",
					 buf, sizeof(buf)));
	ck_assert_str_eq(buf, "https://gl.example/g/p/-/releases/v1.2.0");
	ck_assert(statuspage_release_url("https://gl.example/g/p",
					 "rel/1.0 #\"<", buf, sizeof(buf)));
	ck_assert_str_eq(buf, "https://gl.example/g/p/-/releases/"
			 "rel%2F1.0%20%23%22%3C");
	ck_assert(!statuspage_release_url("javascript:alert(1)//", "1.0.0",
					  buf, sizeof(buf)));
	ck_assert(!statuspage_release_url("https://gl.example/g/p", "",
					  buf, sizeof(buf)));
	ck_assert(!statuspage_release_url("https://gl.example/g/p", "1.0.0",
					  buf, 30));
}
END_TEST

static const struct statuspage_mr hostile_mr = {
	.iid = 7, .title = HOSTILE, .url = "javascript:alert(1)",
	.detail = "MR !7 " HOSTILE " has no impact label",
};

START_TEST(html_keeps_hostile_input_text)
{
	struct statuspage_mr open = hostile_mr;
	struct statuspage_project p = {
		.name = "g/<p>", .path = "g/\"p", .web_url = "javascript:x//",
		.latest_tag = "<v>1.0.0", .state = STATUSPAGE_BLOCKED,
		.healthy = true, .last_cycle_unix = 1700000000,
		.result = "refused", .blockers = &hostile_mr, .n_blockers = 1,
		.open_mrs = &open, .n_open_mrs = 1, .next_in_s = -1,
	};
	struct statuspage_snapshot s = {
		.version = "0.1.0", .now_unix = 1700000100,
		.start_unix = 1700000000, .projects = &p, .n_projects = 1,
	};
	char *html;

	open.verdict = "failed\"><script>";
	html = render(&s, false);
	ck_assert_ptr_null(strstr(html, "<script"));
	ck_assert_ptr_null(strstr(html, "<img"));
	ck_assert_ptr_null(strstr(html, "javascript:"));
	ck_assert_ptr_null(strstr(html, "href=\"java"));
	ck_assert_ptr_nonnull(strstr(html, "<span class=\"title\">&lt;/span&gt;"
				     "&lt;script&gt;alert(1)"));
	ck_assert_ptr_nonnull(strstr(html, "data-project=\"g/&lt;p&gt;\""));
	/* not linked: the project's web_url is not http(s) */
	ck_assert_ptr_nonnull(strstr(html, "<h2>g/&lt;p&gt;<span"));
	ck_assert_ptr_nonnull(strstr(html, "&lt;v&gt;1.0.0"));
	ck_assert_ptr_nonnull(strstr(html, "<meta name=\"viewport\""));
	ck_assert_ptr_nonnull(strstr(html, "data-health=\"ok\""));
	free(html);
}
END_TEST

START_TEST(html_links_gitlab_urls)
{
	struct statuspage_mr mr = {
		.iid = 12, .title = "Fix", .detail = "no label",
		.url = "https://gl.example/g/p/-/merge_requests/12",
	};
	struct statuspage_project p = {
		.name = "g/p", .web_url = "https://gl.example/g/p",
		.latest_tag = "v2.0.0", .state = STATUSPAGE_BLOCKED,
		.healthy = false, .unhealthy_why = "5 failed",
		.last_cycle_unix = 1700000000, .result = "refused",
		.blockers = &mr, .n_blockers = 1, .next_in_s = 30,
	};
	struct statuspage_snapshot s = {
		.version = "0.1.0", .now_unix = 1700000100,
		.projects = &p, .n_projects = 1,
	};
	char *html = render(&s, false);

	ck_assert_ptr_nonnull(strstr(html, "<a class=\"release\" href=\""
				     "https://gl.example/g/p/-/releases/v2.0.0"
				     "\" rel=\"noreferrer\">v2.0.0</a>"));
	ck_assert_ptr_nonnull(strstr(html, "<a class=\"mr\" href=\"https://"
				     "gl.example/g/p/-/merge_requests/12\" "
				     "rel=\"noreferrer\">!12</a>"));
	ck_assert_ptr_nonnull(strstr(html, "data-health=\"unhealthy\""));
	ck_assert_ptr_nonnull(strstr(html, "<title>semver-tagger: unhealthy"));
	free(html);
}
END_TEST

START_TEST(html_cut_by_the_cap_is_an_error)
{
	struct statuspage_project p = { .name = "g/p", .next_in_s = -1 };
	struct statuspage_snapshot s = { .projects = &p, .n_projects = 1 };
	struct strbuf out;

	strbuf_init(&out, 1000); /* less than the style sheet */
	ck_assert_int_eq(statuspage_html(&out, &s), ST_ETOOBIG);
	strbuf_release(&out);
}
END_TEST

START_TEST(json_round_trips_hostile_titles)
{
	struct statuspage_project p = {
		.name = "g/p", .web_url = "https://gl.example/g/p",
		.latest_tag = "1.0.0", .state = STATUSPAGE_BLOCKED,
		.healthy = true, .blockers = &hostile_mr, .n_blockers = 1,
		.next_in_s = -1,
	};
	struct statuspage_snapshot s = { .projects = &p, .n_projects = 1 };
	char *text = render(&s, true);
	cJSON *doc = cJSON_Parse(text), *b;

	ck_assert_ptr_nonnull(doc);
	b = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
		cJSON_GetObjectItem(doc, "projects"), 0),
		"blocking_merge_requests"), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(b, "title")->valuestring,
			 HOSTILE);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(
		cJSON_GetObjectItem(doc, "projects"), 0),
		"latest_release_url")->valuestring,
		"https://gl.example/g/p/-/releases/1.0.0");
	cJSON_Delete(doc);
	free(text);
}
END_TEST

/* ---- the board --------------------------------------------------------- */

/* A report as the engine gives it: main released 1.5.0 (latest was
 * 1.4.0) and is refused for !3 (twice) and a reason naming no MR; a
 * failed tag and a non-release branch's version do not count. */
static struct release_mr_report report_mrs[] = {
	{ 3, "T3", "https://gl.example/grp/app/-/merge_requests/3", "a",
	  IMPACT_NONE },
	{ 4, "T4", "u4", "a", IMPACT_PATCH },
};
static struct policy_problem report_problems[] = {
	{ PROBLEM_MISSING_IMPACT, true, 3, "MR !3 has no label" },
	{ PROBLEM_MISSING_IMPACT, true, 3, "again" },
	{ PROBLEM_NO_FAMILY, true, 0, "no family" },
	{ PROBLEM_SEVERAL_IMPACTS, false, 4, "a warning, not a blocker" },
};
static struct release_goal_report report_goals[2];
static struct release_branch_report report_branches[3];

static void make_report(struct release_report *r)
{
	memset(r, 0, sizeof(*r));
	memset(report_goals, 0, sizeof(report_goals));
	memset(report_branches, 0, sizeof(report_branches));
	report_goals[0].goal.kind = GOAL_TAG;
	report_goals[0].goal.release = (struct semver_ver){ 1, 5, 0 };
	report_goals[0].state = GOAL_STATE_DONE;
	report_goals[1].goal.kind = GOAL_TAG;
	report_goals[1].goal.release = (struct semver_ver){ 9, 0, 0 };
	report_goals[1].state = GOAL_STATE_FAILED;
	report_branches[0].branch = "main";
	report_branches[0].plan.branch.role = BRANCH_DEFAULT;
	report_branches[0].plan.branch.has_latest = true;
	report_branches[0].plan.branch.latest = (struct semver_ver){ 1, 4, 0 };
	report_branches[0].plan.problems = report_problems;
	report_branches[0].plan.n_problems = 4;
	report_branches[0].mrs = report_mrs;
	report_branches[0].n_mrs = 2;
	report_branches[0].goals = report_goals;
	report_branches[0].n_goals = 2;
	report_branches[1].branch = "feature";
	report_branches[1].plan.branch.role = BRANCH_OTHER;
	report_branches[1].plan.branch.has_latest = true;
	report_branches[1].plan.branch.latest = (struct semver_ver){ 7, 0, 0 };
	report_branches[2].branch = "release/1";
	report_branches[2].plan.branch.role = BRANCH_MAJOR_OLD;
	report_branches[2].plan.branch.has_latest = true;
	report_branches[2].plan.branch.latest = (struct semver_ver){ 1, 2, 9 };
	r->project = "grp/app";
	r->web_url = "https://gl.example/grp/app";
	r->branches = report_branches;
	r->n_branches = 3;
}

static char *board_page(struct statusboard *b, struct sched_stats *st,
			size_t n, bool json)
{
	struct statusboard_info info = {
		.version = "0.1.0", .now_unix = 1700000100,
		.unhealthy_after = 5,
	};
	struct strbuf out;

	strbuf_init(&out, 1u << 22);
	ck_assert_int_eq(statusboard_render(b, st, n, &info, json, &out), 200);
	return strbuf_detach(&out);
}

static cJSON *board_project(struct statusboard *b, struct sched_stats *st)
{
	char *text = board_page(b, st, 1, true);
	cJSON *doc = cJSON_Parse(text);
	cJSON *p = cJSON_DetachItemFromArray(cJSON_GetObjectItem(doc,
								 "projects"), 0);

	cJSON_Delete(doc);
	free(text);
	ck_assert_ptr_nonnull(p);
	return p;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

START_TEST(board_records_a_cycle)
{
	struct statusboard *b = statusboard_new();
	struct sched_stats st;
	struct release_report report;
	cJSON *p, *bl;

	make_report(&report);
	memset(&st, 0, sizeof(st));
	st.name = "app";
	st.last_cycle_unix = 1700000000;
	st.last_status = ST_EREFUSED;
	statusboard_cycle(b, "app", "v", &report);
	p = board_project(b, &st);
	ck_assert_str_eq(jstr(p, "state"), "blocked");
	ck_assert_str_eq(jstr(p, "project"), "grp/app");
	/* the tag made this cycle; not the pre-release, not the failed one */
	ck_assert_str_eq(jstr(p, "latest_release"), "v1.5.0");
	ck_assert_str_eq(jstr(p, "latest_release_url"),
			 "https://gl.example/grp/app/-/releases/v1.5.0");
	bl = cJSON_GetObjectItem(p, "blocking_merge_requests");
	ck_assert_int_eq(cJSON_GetArraySize(bl), 2); /* !3 once, no-family */
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(bl, 0), "web_url"),
			 "https://gl.example/grp/app/-/merge_requests/3");
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(bl, 0), "title"), "T3");
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(bl, 1), "reason"),
			 "no family");
	cJSON_Delete(p);
	/* No report (a failed cycle): the facts stay; blockers only show
	 * while blocked. */
	statusboard_cycle(b, "app", "v", NULL);
	st.last_status = ST_ETEMP;
	st.last_error = (char *)"GET /x: HTTP 502";
	p = board_project(b, &st);
	ck_assert_str_eq(jstr(p, "state"), "failing");
	ck_assert_str_eq(jstr(p, "latest_release"), "v1.5.0");
	ck_assert_str_eq(jstr(p, "error"), "GET /x: HTTP 502");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(
		p, "blocking_merge_requests")), 0);
	cJSON_Delete(p);
	statusboard_free(b);
}
END_TEST

START_TEST(board_open_mrs_bounded_and_dropped_when_merged)
{
	struct statusboard *b = statusboard_new();
	struct sched_stats st;
	struct release_report report;
	cJSON *p, *open;
	char title[STATUSBOARD_TEXT_MAX + 8];

	make_report(&report);
	memset(&st, 0, sizeof(st));
	st.name = "app";
	for (int64_t i = 1; i <= STATUSBOARD_OPEN_MAX + 5; i++)
		statusboard_verdict(b, "app", i, "t", "u", i % 2, "d", i);
	/* a long title is cut on a UTF-8 boundary: 1023 'a' then "é" */
	memset(title, 'a', sizeof(title));
	memcpy(title + STATUSBOARD_TEXT_MAX - 1, "\xc3\xa9", 2);
	title[sizeof(title) - 1] = '\0';
	statusboard_verdict(b, "app", 4, title, "u", true, "d", 999);
	p = board_project(b, &st);
	open = cJSON_GetObjectItem(p, "open_merge_requests");
	ck_assert_int_eq(cJSON_GetArraySize(open), STATUSBOARD_OPEN_MAX);
	/* the oldest went (1..6), !4 came back as the newest */
	ck_assert_int_eq((int)cJSON_GetObjectItem(cJSON_GetArrayItem(open, 0),
						  "iid")->valuedouble, 7);
	ck_assert_uint_eq(strlen(jstr(cJSON_GetArrayItem(open, -1 +
		cJSON_GetArraySize(open)), "title")), STATUSBOARD_TEXT_MAX - 1);
	cJSON_Delete(p);
	statusboard_forget(b, "app", 50);
	statusboard_forget(b, "nope", 51); /* unknown project: no-op */
	p = board_project(b, &st);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(
		p, "open_merge_requests")), STATUSBOARD_OPEN_MAX - 1);
	cJSON_Delete(p);
	statusboard_cycle(b, "app", "", &report); /* !3 and !4 merged */
	p = board_project(b, &st);
	open = cJSON_GetObjectItem(p, "open_merge_requests");
	ck_assert_int_eq(cJSON_GetArraySize(open), STATUSBOARD_OPEN_MAX - 2);
	for (int i = 0; i < cJSON_GetArraySize(open); i++) {
		int iid = (int)cJSON_GetObjectItem(cJSON_GetArrayItem(open, i),
						   "iid")->valuedouble;

		ck_assert_int_ne(iid, 3);
		ck_assert_int_ne(iid, 4);
		ck_assert_int_ne(iid, 50);
	}
	cJSON_Delete(p);
	statusboard_free(b);
}
END_TEST

START_TEST(board_blockers_capped)
{
	struct statusboard *b = statusboard_new();
	struct sched_stats st;
	struct policy_problem probs[500];
	struct release_branch_report br;
	struct release_report r;
	cJSON *p;

	memset(probs, 0, sizeof(probs));
	memset(&br, 0, sizeof(br));
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < 500; i++) {
		probs[i].is_error = true;
		probs[i].iid = (uint64_t)i + 1;
		snprintf(probs[i].message, sizeof(probs[i].message), "m");
	}
	br.plan.problems = probs;
	br.plan.n_problems = 500;
	r.branches = &br;
	r.n_branches = 1;
	memset(&st, 0, sizeof(st));
	st.name = "app";
	st.last_cycle_unix = 1;
	st.last_status = ST_EREFUSED;
	statusboard_cycle(b, "app", "", &r);
	p = board_project(b, &st);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(
		p, "blocking_merge_requests")), STATUSBOARD_BLOCKERS_MAX);
	cJSON_Delete(p);
	statusboard_free(b);
}
END_TEST

START_TEST(board_states_and_health)
{
	struct statusboard *b = statusboard_new();
	struct sched_stats st[4];
	char *html;

	memset(st, 0, sizeof(st));
	static const char *names[4] = { "p0", "p1", "p2", "p3" };

	for (int i = 0; i < 4; i++)
		st[i].name = names[i];
	st[1].last_cycle_unix = st[2].last_cycle_unix = 1;
	st[3].last_cycle_unix = 1;
	st[2].last_status = ST_ECONFLICT;
	st[3].last_status = ST_EAUTH;
	st[3].failures = 1;
	st[3].last_error = (char *)"401";
	html = board_page(b, st, 4, false);
	ck_assert_ptr_nonnull(strstr(html, "data-state=\"pending\" "
				     "data-project=\"p0\""));
	ck_assert_ptr_nonnull(strstr(html, "data-state=\"ok\" "
				     "data-project=\"p1\""));
	ck_assert_ptr_nonnull(strstr(html, "data-state=\"blocked\" "
				     "data-project=\"p2\""));
	ck_assert_ptr_nonnull(strstr(html, "data-state=\"failing\" "
				     "data-project=\"p3\""));
	ck_assert_ptr_nonnull(strstr(html, "data-health=\"unhealthy\""));
	free(html);
	statusboard_free(b);
}
END_TEST

START_TEST(loopback_listen_addresses)
{
	ck_assert(statusboard_listen_loopback("127.0.0.1:8080"));
	ck_assert(statusboard_listen_loopback("127.1.2.3:0"));
	ck_assert(statusboard_listen_loopback("[::1]:8080"));
	ck_assert(!statusboard_listen_loopback(":8080"));
	ck_assert(!statusboard_listen_loopback("*:8080"));
	ck_assert(!statusboard_listen_loopback("0.0.0.0:8080"));
	ck_assert(!statusboard_listen_loopback("[::]:8080"));
	ck_assert(!statusboard_listen_loopback("127.evil.example:80"));
	ck_assert(!statusboard_listen_loopback("localhost:80"));
	ck_assert(!statusboard_listen_loopback("192.0.2.1:80"));
	ck_assert(!statusboard_listen_loopback(NULL));
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(read_token_sources)
{
	char dir[] = "/tmp/statuspage-test-XXXXXX", cred[128], file[128];
	struct config c;
	struct secret s;
	struct st_error err;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cred, sizeof(cred), "%s/status-token", dir);
	snprintf(file, sizeof(file), "%s/file-token", dir);
	config_init(&c);
	secret_init(&s);
	st_error_clear(&err);
	unsetenv("CREDENTIALS_DIRECTORY");
	ck_assert_int_eq(statusboard_read_token(&c, &s, &err), 0);
	ck_assert_ptr_null(s.value); /* nothing: open */
	/* the unit's default credential means "none" too */
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	write_file(cred, "(none)");
	ck_assert_int_eq(statusboard_read_token(&c, &s, &err), 0);
	ck_assert_ptr_null(s.value);
	write_file(file, "from-file\n");
	c.status_token_file = file;
	ck_assert_int_eq(statusboard_read_token(&c, &s, &err), 0);
	ck_assert_str_eq(s.value, "from-file");
	secret_release(&s);
	secret_init(&s);
	write_file(cred, "from-credential\n");
	ck_assert_int_eq(statusboard_read_token(&c, &s, &err), 0);
	ck_assert_str_eq(s.value, "from-credential");
	secret_release(&s);
	secret_init(&s);
	unlink(cred);
	unlink(file);
	ck_assert_int_eq(statusboard_read_token(&c, &s, &err), ST_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.msg, "file-token"));
	c.status_token_file = NULL;
	rmdir(dir);
	unsetenv("CREDENTIALS_DIRECTORY");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("statuspage");
	TCase *t = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(t, escape_every_special);
	tcase_add_test(t, only_http_urls_are_links);
	tcase_add_test(t, release_url_encodes_the_tag);
	tcase_add_test(t, html_keeps_hostile_input_text);
	tcase_add_test(t, html_links_gitlab_urls);
	tcase_add_test(t, html_cut_by_the_cap_is_an_error);
	tcase_add_test(t, json_round_trips_hostile_titles);
	tcase_add_test(t, board_records_a_cycle);
	tcase_add_test(t, board_open_mrs_bounded_and_dropped_when_merged);
	tcase_add_test(t, board_blockers_capped);
	tcase_add_test(t, board_states_and_health);
	tcase_add_test(t, loopback_listen_addresses);
	tcase_add_test(t, read_token_sources);
	suite_add_tcase(s, t);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
