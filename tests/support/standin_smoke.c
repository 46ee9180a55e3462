/* SPDX-License-Identifier: MIT */
/* Smoke test of the C stand-in helper: start, control call, stop. */
#include "standin.h"

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_start_control_stop)
{
	struct standin s;
	struct standin_response r;
	pid_t pid;

	ck_assert_int_eq(standin_start(&s), 0);
	ck_assert_msg(strncmp(s.url, "http://127.0.0.1:", 17) == 0, "url %s", s.url);
	pid = s.pid;
	ck_assert_int_gt(pid, 0);

	ck_assert_int_eq(standin_control(&s, "POST", "/__control__/tokens",
					 "{\"token\":\"smoke-token\",\"username\":\"smoke\"}", &r), 0);
	ck_assert_int_eq(r.status, 201);
	ck_assert_ptr_nonnull(strstr(r.body, "\"username\":\"smoke\""));
	standin_response_release(&r);

	ck_assert_int_eq(standin_controlf(&s, &r, "POST", "/__control__/projects",
					  "{\"path_with_namespace\":\"%s\",\"id\":%d}",
					  "grp/smoke", 42), 0);
	ck_assert_int_eq(r.status, 201);
	ck_assert_ptr_nonnull(strstr(r.body, "\"id\":42"));
	standin_response_release(&r);

	/* REST without a token: GitLab's 401 for an unknown token. */
	ck_assert_int_eq(standin_control(&s, "GET", "/api/v4/user", NULL, &r), 0);
	ck_assert_int_eq(r.status, 401);
	ck_assert_str_eq(r.body, "{\"message\":\"401 Unauthorized\"}");
	standin_response_release(&r);

	standin_stop(&s);
	ck_assert_int_eq(s.pid, 0);
	/* The process is gone (reaped), not just signalled. */
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	standin_stop(&s); /* idempotent */
}
END_TEST

START_TEST(test_stop_after_failed_start)
{
	struct standin s;

	setenv("STANDIN_PY", "/nonexistent/standin.py", 1);
	ck_assert_int_eq(standin_start(&s), -1);
	ck_assert_int_eq(s.pid, 0);
	standin_stop(&s);
	unsetenv("STANDIN_PY");
}
END_TEST

int main(void)
{
	Suite *su = suite_create("standin-c");
	TCase *tc = tcase_create("lifecycle");
	SRunner *sr;
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_start_control_stop);
	tcase_add_test(tc, test_stop_after_failed_start);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
