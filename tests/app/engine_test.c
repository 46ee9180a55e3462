/* SPDX-License-Identifier: MIT */
/*
 * The typed engine boundary: a config section resolved into settings
 * (project = wins over the section name for the project and the state
 * folder), the token, and the daemon <-> worker protocol (wire.h): a
 * round trip keeps every field, and truncated or corrupted messages are
 * errors, never crashes or huge allocations.
 */
#include "engine.h"
#include "wire.h"

#include "semver-tagger/config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static const char conf[] =
	"[global]\n"
	"api_url = https://gitlab.example/api/v4\n"
	"token_file = /nonexistent/token\n"
	"[project \"alpha/staging\"]\n"
	"project = group/real\n"
	"build_system = maven\n"
	"label_minor = Minor,Change\n"
	"base_version = 2.3.4\n"
	"notes = false\n"
	"[project \"group/plain\"]\n";

static void load(struct config *c)
{
	struct st_error err;

	config_init(c);
	st_error_clear(&err);
	ck_assert_int_eq(config_load_string("t.conf", conf, sizeof(conf) - 1,
					    c, &err), 0);
	ck_assert_uint_eq(c->n_projects, 2);
}

START_TEST(project_wins_over_section_name)
{
	struct config c;
	struct engine_settings s;
	struct st_error err;

	load(&c);
	engine_settings_init(&s);
	st_error_clear(&err);
	ck_assert_int_eq(engine_settings_from_section(&s, &c.projects[0],
						      "/var/lib/st", &err), 0);
	ck_assert_str_eq(s.cfg.project, "group/real");
	ck_assert_str_eq(s.section, "alpha/staging");
	ck_assert_str_eq(s.state_dir, "/var/lib/st/projects/group%2Freal");
	ck_assert_int_eq(s.cfg.build, BUILD_MAVEN);
	ck_assert_str_eq(s.cfg.api_url, "https://gitlab.example/api/v4");
	ck_assert(!s.cfg.notes);
	ck_assert_int_eq(s.network_timeout_ms, 60000);
	ck_assert_int_eq(engine_settings_from_section(&s, &c.projects[1],
						      "/var/lib/st", &err), 0);
	ck_assert_str_eq(s.cfg.project, "group/plain");
	ck_assert_str_eq(s.state_dir, "/var/lib/st/projects/group%2Fplain");
	engine_settings_release(&s);
	config_release(&c);
}
END_TEST

START_TEST(state_folders_never_collide)
{
	char a[256], b[256];
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(engine_state_dir("/s", "a/b", a, sizeof(a), &err), 0);
	ck_assert_int_eq(engine_state_dir("/s", "a%2Fb", b, sizeof(b), &err),
			 0);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(engine_state_dir("/s", "../x", a, sizeof(a), &err),
			 0);
	ck_assert_ptr_null(strstr(a, "/../"));
	ck_assert_int_eq(engine_state_dir("/s", "x", a, 8, &err), ST_ECONFIG);
}
END_TEST

START_TEST(token_missing_says_what_to_set)
{
	struct config c;
	struct secret t;
	enum gitlab_token_kind k;
	struct engine_token_from from = { false, NULL };
	struct st_error err;
	char path[] = "/tmp/engine-test-tokenXXXXXX";
	int fd = mkstemp(path);

	load(&c);
	secret_init(&t);
	st_error_clear(&err);
	ck_assert_int_ne(engine_token_load(&c.projects[0], &from, &t, &k,
					   &err), 0);
	ck_assert_msg(strstr(err.msg, "/nonexistent/token") != NULL, "%s", err.msg);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "glpat-abc\n", 10), 10);
	close(fd);
	from.file = path;
	st_error_clear(&err);
	ck_assert_int_eq(engine_token_load(&c.projects[0], &from, &t, &k,
					   &err), 0);
	ck_assert_str_eq(t.value, "glpat-abc");
	ck_assert_int_eq(k, GITLAB_TOKEN_PRIVATE);
	unlink(path);
	secret_release(&t);
	config_release(&c);
}
END_TEST

static void job_settings(struct engine_settings *s, struct config *c)
{
	struct st_error err;

	load(c);
	engine_settings_init(s);
	st_error_clear(&err);
	ck_assert_int_eq(engine_settings_from_section(s, &c->projects[0],
						      "/st", &err), 0);
	ck_assert_int_eq(secret_set(&s->token, "glpat-xyz", 9, "test", &err),
			 0);
	s->debug = true;
	s->branch = strdup("release/1.2");
}

/* ---- quick-check state (issue 12) ---- */

static void sample_quick(struct engine_quick *q)
{
	memset(q, 0, sizeof(*q));
	q->valid = true;
	q->settings_fp = 0x1122334455667788ull;
	q->refs_hash = 0x8877665544332211ull;
	q->mr_cursor_ms = 1764950000123;
	q->mr_hash = 42;
	snprintf(q->git_url, sizeof(q->git_url), "https://gitlab.example/"
		 "group/real.git");
	q->status = ST_EREFUSED;
	q->full_at = 12345;
}

static void ck_assert_quick(const struct engine_quick *q)
{
	ck_assert(q->valid);
	ck_assert_uint_eq(q->settings_fp, 0x1122334455667788ull);
	ck_assert_uint_eq(q->refs_hash, 0x8877665544332211ull);
	ck_assert_int_eq(q->mr_cursor_ms, 1764950000123);
	ck_assert_uint_eq(q->mr_hash, 42);
	ck_assert_str_eq(q->git_url, "https://gitlab.example/group/real.git");
	ck_assert_int_eq(q->status, ST_EREFUSED);
	ck_assert_int_eq(q->full_at, 12345);
}

/* A quick state that cannot be is refused by name, in a job and in a
 * result alike. */
START_TEST(quick_state_validated)
{
	struct config c;
	struct engine_settings s;
	struct wire_buf b;
	struct st_error err;
	uint64_t seq;
	bool warm_ok;

	job_settings(&s, &c);
	wire_buf_init(&b);
	for (int k = 0; k < 3; k++) {
		struct engine_job j = { .kind = ENGINE_JOB_RECONCILE }, jb;
		struct engine_settings t;
		struct engine_result r, back;

		sample_quick(&j.quick);
		if (k == 0)
			j.quick.status = ST_ETEMP;  /* not a final status */
		else if (k == 1)
			j.quick.mr_cursor_ms = -2;
		else
			j.quick.git_url[0] = '\0'; /* valid needs a URL */
		ck_assert_int_eq(wire_put_job(&b, 1, &s, &j, false), 0);
		engine_settings_init(&t);
		st_error_clear(&err);
		ck_assert_int_eq(wire_get_job(b.p, b.len, &seq, &t, &jb,
					      &warm_ok, &err), ST_EINVAL);
		ck_assert_msg(strstr(err.msg, "quick-check state"), "%d: %s", k,
			      err.msg);
		engine_settings_release(&t);
		engine_result_init(&r);
		r.quick = j.quick;
		ck_assert_int_eq(wire_put_result(&b, 1, &r), 0);
		engine_result_init(&back);
		st_error_clear(&err);
		ck_assert_int_eq(wire_get_result(b.p, b.len, &seq, &back, &err),
				 ST_EINVAL);
		ck_assert_ptr_nonnull(strstr(err.msg, "quick-check state"));
		engine_result_release(&back);
		engine_result_release(&r);
	}
	wire_buf_release(&b);
	engine_settings_release(&s);
	config_release(&c);
}
END_TEST

/* A listener nobody should call: accept() finds no connection. */
static int listener(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &n), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static bool contacted(int fd)
{
	int c = accept(fd, NULL, NULL);

	if (c >= 0)
		close(c);
	return c >= 0;
}

/* A stored git URL on another origin than api_url (not the configured
 * git_url) is refused before anything is sent, like a fresh one; and a
 * state made under other settings is not used at all. */
START_TEST(quick_check_never_contacts_another_origin)
{
	struct config c;
	struct engine_settings s;
	struct engine_job j = { .kind = ENGINE_JOB_RECONCILE,
				.quick_ok = true };
	struct engine_result r;
	unsigned api_port, git_port;
	int api = listener(&api_port), git = listener(&git_port);
	char url[128];

	job_settings(&s, &c);
	free(s.branch);
	s.branch = NULL;
	s.debug = false;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v4", api_port);
	free(s.cfg.api_url);
	s.cfg.api_url = strdup(url);
	sample_quick(&j.quick);
	snprintf(j.quick.git_url, sizeof(j.quick.git_url),
		 "http://127.0.0.1:%u/group/real.git", git_port);
	j.quick.settings_fp = engine_settings_fingerprint(&s);
	engine_result_init(&r);
	ck_assert(!engine_quick_try(&s, &j, NULL, &r));
	ck_assert_msg(strstr(r.quick_why, "git URL refused for the token"),
		      "%s", r.quick_why);
	ck_assert_int_eq(r.quick_outcome, ENGINE_QUICK_NONE);
	engine_result_release(&r);
	/* other settings: not used, nothing sent either */
	snprintf(j.quick.git_url, sizeof(j.quick.git_url),
		 "http://127.0.0.1:%u/group/real.git", api_port);
	j.quick.settings_fp ^= 1;
	engine_result_init(&r);
	ck_assert(!engine_quick_try(&s, &j, NULL, &r));
	ck_assert_str_eq(r.quick_why, "settings changed");
	engine_result_release(&r);
	ck_assert(!contacted(git) && !contacted(api));
	close(api);
	close(git);
	engine_settings_release(&s);
	config_release(&c);
}
END_TEST

/* ---- end quick-check state ---- */

START_TEST(job_round_trip)
{
	struct config c;
	struct engine_settings s, back;
	struct engine_job j = { .kind = ENGINE_JOB_CHECK_MR, .iid = 42 }, jb;
	struct wire_buf b;
	struct st_error err;
	uint64_t seq;
	bool warm_ok;

	job_settings(&s, &c);
	sample_quick(&j.quick);
	j.quick_ok = true;
	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_job(&b, 7, &s, &j, true), 0);
	engine_settings_init(&back);
	st_error_clear(&err);
	ck_assert_int_eq(wire_get_job(b.p, b.len, &seq, &back, &jb, &warm_ok,
				      &err), 0);
	ck_assert_uint_eq(seq, 7);
	ck_assert(warm_ok && back.debug && !back.dry_run);
	ck_assert_int_eq(jb.kind, ENGINE_JOB_CHECK_MR);
	ck_assert_int_eq(jb.iid, 42);
	ck_assert_str_eq(back.cfg.project, "group/real");
	ck_assert_str_eq(back.cfg.label_minor, "Minor,Change");
	ck_assert_str_eq(back.section, "alpha/staging");
	ck_assert_str_eq(back.state_dir, s.state_dir);
	ck_assert_str_eq(back.token.value, "glpat-xyz");
	ck_assert_str_eq(back.branch, "release/1.2");
	ck_assert_int_eq(back.cfg.build, BUILD_MAVEN);
	ck_assert_uint_eq(back.cfg.base.major, 2);
	ck_assert_uint_eq(back.cfg.base.patch, 4);
	ck_assert(!back.cfg.notes && back.cfg.releases);
	ck_assert_uint_eq(back.cfg.set, s.cfg.set);
	ck_assert(jb.quick_ok);
	ck_assert_quick(&jb.quick);
	/* every prefix of the message is refused, none crashes */
	for (size_t n = 0; n < b.len; n++) {
		struct engine_settings t;

		engine_settings_init(&t);
		st_error_clear(&err);
		ck_assert_int_eq(wire_get_job(b.p, n, &seq, &t, &jb, &warm_ok,
					      &err), ST_EINVAL);
		engine_settings_release(&t);
	}
	/* flip each byte: decoded or refused, never a crash */
	for (size_t i = 0; i < b.len; i++) {
		struct engine_settings t;

		b.p[i] ^= 0xa5;
		engine_settings_init(&t);
		wire_get_job(b.p, b.len, &seq, &t, &jb, &warm_ok, &err);
		engine_settings_release(&t);
		b.p[i] ^= 0xa5;
	}
	wire_buf_release(&b);
	engine_settings_release(&back);
	engine_settings_release(&s);
	config_release(&c);
}
END_TEST

static void sample_result(struct engine_result *r)
{
	struct release_branch_report *br;

	engine_result_init(r);
	r->report.project = strdup("group/real");
	r->report.default_branch = strdup("main");
	r->report.branches = calloc(1, sizeof(*br));
	r->report.n_branches = 1;
	br = &r->report.branches[0];
	policy_plan_init(&br->plan);
	br->branch = strdup("main");
	br->plan.release = true;
	br->plan.next = (struct semver_ver){ 1, 4, 0 };
	br->plan.impact = IMPACT_MINOR;
	br->plan.goals = calloc(1, sizeof(*br->plan.goals));
	br->plan.n_goals = 1;
	snprintf(br->plan.goals[0].version, POLICY_VERSION_MAX, "1.4.0");
	br->plan.problems = calloc(1, sizeof(*br->plan.problems));
	br->plan.n_problems = 1;
	br->plan.problems[0].kind = PROBLEM_SEVERAL_IMPACTS;
	snprintf(br->plan.problems[0].message, POLICY_MESSAGE_MAX,
		 "MR !3 has two impact labels, a,b");
	br->mrs = calloc(1, sizeof(*br->mrs));
	br->n_mrs = 1;
	br->mrs[0].iid = 3;
	br->mrs[0].title = strdup("Title, with comma");
	br->mrs[0].impact = IMPACT_MINOR;
	br->goals = calloc(1, sizeof(*br->goals));
	br->n_goals = 1;
	br->goals[0].goal = br->plan.goals[0];
	br->goals[0].state = GOAL_STATE_DONE;
	r->report.warnings = calloc(1, sizeof(char *));
	r->report.warnings[0] = strdup("a warning");
	r->report.n_warnings = 1;
	r->report.api_requests = 3;
	r->check.outcome = ENGINE_CHECK_POSTED;
	r->check.success = true;
	snprintf(r->check.sha, sizeof(r->check.sha), "%040d", 1);
	r->recheck = calloc(2, sizeof(*r->recheck));
	r->recheck[0] = 5;
	r->recheck[1] = 6;
	r->n_recheck = 2;
	r->cpu_ms = 1.5;
	r->quick_outcome = ENGINE_QUICK_UNCHANGED;
	snprintf(r->quick_why, sizeof(r->quick_why), "refs changed");
	sample_quick(&r->quick);
}

START_TEST(result_round_trip_and_corruption)
{
	struct engine_result r, back;
	struct wire_buf b;
	struct st_error err;
	uint64_t seq;

	sample_result(&r);
	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_result(&b, 9, &r), 0);
	engine_result_init(&back);
	st_error_clear(&err);
	ck_assert_int_eq(wire_get_result(b.p, b.len, &seq, &back, &err), 0);
	ck_assert_uint_eq(seq, 9);
	ck_assert_str_eq(back.report.project, "group/real");
	ck_assert_uint_eq(back.report.n_branches, 1);
	ck_assert_str_eq(back.report.branches[0].plan.goals[0].version,
			 "1.4.0");
	ck_assert_str_eq(back.report.branches[0].mrs[0].title,
			 "Title, with comma");
	ck_assert_int_eq(back.report.branches[0].goals[0].state,
			 GOAL_STATE_DONE);
	ck_assert_str_eq(back.report.branches[0].plan.problems[0].message,
			 "MR !3 has two impact labels, a,b");
	ck_assert_str_eq(back.report.warnings[0], "a warning");
	ck_assert_uint_eq(back.report.api_requests, 3);
	ck_assert_int_eq(back.check.outcome, ENGINE_CHECK_POSTED);
	ck_assert_uint_eq(back.n_recheck, 2);
	ck_assert_int_eq(back.recheck[1], 6);
	ck_assert_int_eq(back.quick_outcome, ENGINE_QUICK_UNCHANGED);
	ck_assert_str_eq(back.quick_why, "refs changed");
	ck_assert_quick(&back.quick);
	engine_result_release(&back);
	for (size_t n = 0; n < b.len; n++) {
		engine_result_init(&back);
		ck_assert_int_eq(wire_get_result(b.p, n, &seq, &back, &err),
				 ST_EINVAL);
		engine_result_release(&back);
	}
	/* flip each byte: decoded or refused, never a crash */
	for (size_t i = 0; i < b.len; i++) {
		b.p[i] ^= 0xa5;
		engine_result_init(&back);
		wire_get_result(b.p, b.len, &seq, &back, &err);
		engine_result_release(&back);
		b.p[i] ^= 0xa5;
	}
	wire_buf_release(&b);
	engine_result_release(&r);
}
END_TEST

/* --- preflight (issue 13) --- */
static void sample_assess(struct engine_result *r)
{
	struct engine_assess *a = &r->assess;

	engine_result_init(r);
	a->ran = true;
	a->n = 2;
	a->n_more = 1;
	a->errors = 2;
	a->warnings = 1;
	a->items = calloc(2, sizeof(*a->items));
	a->items[0].severity = ENGINE_ASSESS_ERROR;
	snprintf(a->items[0].check, sizeof(a->items[0].check), "role");
	snprintf(a->items[0].problem, sizeof(a->items[0].problem),
		 "tag v1.0.0 is protected (create allowed: Maintainer)");
	snprintf(a->items[0].fix, sizeof(a->items[0].fix),
		 "in Settings > Repository > Protected tags allow ...");
	a->items[1].severity = ENGINE_ASSESS_WARNING;
	snprintf(a->items[1].check, sizeof(a->items[1].check), "webhook");
	memset(a->items[1].problem, 'x', sizeof(a->items[1].problem) - 1);
	snprintf(a->items[1].fix, sizeof(a->items[1].fix), "add a webhook");
}

/* The assessment job's kind crosses the wire; its findings come back
 * whole, and a message whose counts disagree is refused. */
START_TEST(assess_round_trip_and_corruption)
{
	struct engine_result r, back;
	struct engine_settings s, sb;
	struct engine_job j = { .kind = ENGINE_JOB_ASSESS }, jb;
	struct config c;
	struct wire_buf b;
	struct st_error err;
	uint64_t seq;
	bool warm_ok;

	job_settings(&s, &c);
	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_job(&b, 3, &s, &j, false), 0);
	engine_settings_init(&sb);
	st_error_clear(&err);
	ck_assert_int_eq(wire_get_job(b.p, b.len, &seq, &sb, &jb, &warm_ok,
				      &err), 0);
	ck_assert_int_eq(jb.kind, ENGINE_JOB_ASSESS);
	engine_settings_release(&sb);
	engine_settings_release(&s);
	config_release(&c);

	sample_assess(&r);
	ck_assert_int_eq(wire_put_result(&b, 4, &r), 0);
	engine_result_init(&back);
	ck_assert_int_eq(wire_get_result(b.p, b.len, &seq, &back, &err), 0);
	ck_assert(back.assess.ran);
	ck_assert_uint_eq(back.assess.n, 2);
	ck_assert_uint_eq(back.assess.n_more, 1);
	ck_assert_uint_eq(back.assess.errors, 2);
	ck_assert_uint_eq(back.assess.warnings, 1);
	ck_assert_int_eq(back.assess.items[0].severity, ENGINE_ASSESS_ERROR);
	ck_assert_str_eq(back.assess.items[0].check, "role");
	ck_assert_str_eq(back.assess.items[0].problem, r.assess.items[0].problem);
	ck_assert_str_eq(back.assess.items[1].problem, r.assess.items[1].problem);
	ck_assert_str_eq(back.assess.items[1].fix, "add a webhook");
	engine_result_release(&back);
	for (size_t n = 0; n < b.len; n++) {
		engine_result_init(&back);
		ck_assert_int_eq(wire_get_result(b.p, n, &seq, &back, &err),
				 ST_EINVAL);
		engine_result_release(&back);
	}
	for (size_t i = 0; i < b.len; i++) {
		b.p[i] ^= 0x5a;
		engine_result_init(&back);
		wire_get_result(b.p, b.len, &seq, &back, &err);
		ck_assert_uint_le(back.assess.n, ENGINE_ASSESS_MAX);
		engine_result_release(&back);
		b.p[i] ^= 0x5a;
	}
	/* counts that disagree with the items: refused, naming the field */
	r.assess.errors = 0;
	ck_assert_int_eq(wire_put_result(&b, 5, &r), 0);
	engine_result_init(&back);
	st_error_clear(&err);
	ck_assert_int_eq(wire_get_result(b.p, b.len, &seq, &back, &err),
			 ST_EINVAL);
	ck_assert_msg(strstr(err.msg, "assessment") != NULL, "%s", err.msg);
	engine_result_release(&back);
	wire_buf_release(&b);
	engine_result_release(&r);
}
END_TEST

/* More problems than the cap: refused, before any allocation. */
START_TEST(assess_over_the_cap_is_refused)
{
	struct engine_result r, back;
	struct wire_buf b;
	struct st_error err;
	uint64_t seq;

	engine_result_init(&r);
	r.assess.ran = true;
	r.assess.n = ENGINE_ASSESS_MAX + 1;
	r.assess.errors = r.assess.n;
	r.assess.items = calloc(r.assess.n, sizeof(*r.assess.items));
	for (size_t i = 0; i < r.assess.n; i++)
		snprintf(r.assess.items[i].check, 16, "labels");
	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_result(&b, 1, &r), 0);
	engine_result_init(&back);
	st_error_clear(&err);
	ck_assert_int_eq(wire_get_result(b.p, b.len, &seq, &back, &err),
			 ST_EINVAL);
	ck_assert_ptr_null(back.assess.items);
	engine_result_release(&back);
	wire_buf_release(&b);
	engine_result_release(&r);
}
END_TEST
/* --- end preflight --- */

START_TEST(frame_over_the_cap_is_refused)
{
	int sv[2];
	uint32_t hdr[2] = { WIRE_RESULT, WIRE_MSG_MAX + 1u };
	struct wire_rx rx;

	ck_assert_int_eq(pipe(sv), 0);
	ck_assert_int_eq(write(sv[1], hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	wire_rx_init(&rx);
	ck_assert_int_eq(wire_rx_read(sv[0], &rx), -1);
	wire_rx_release(&rx);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, project_wins_over_section_name);
	tcase_add_test(tc, state_folders_never_collide);
	tcase_add_test(tc, token_missing_says_what_to_set);
	tcase_add_test(tc, job_round_trip);
	tcase_add_test(tc, quick_state_validated);
	tcase_add_test(tc, quick_check_never_contacts_another_origin);
	tcase_add_test(tc, result_round_trip_and_corruption);
	tcase_add_test(tc, frame_over_the_cap_is_refused);
	tcase_add_test(tc, assess_round_trip_and_corruption); /* issue 13 */
	tcase_add_test(tc, assess_over_the_cap_is_refused);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
