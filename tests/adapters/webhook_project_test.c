/* SPDX-License-Identifier: MIT */
/* Project events of System Hooks and group hooks (issue 13): decoded
 * from GitLab's payloads; other system events and hostile bodies. */
#include "semver-tagger/webhook.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int decode(const char *hdr, const char *body, struct webhook_event *ev,
		  struct st_error *err)
{
	st_error_clear(err);
	return webhook_decode(hdr, body, strlen(body), ev, err);
}

START_TEST(test_system_hook_events)
{
	static const char *const names[] = { "create", "destroy", "rename",
					     "transfer", "update" };
	struct webhook_event ev;
	struct st_error err;
	char body[1024];

	for (size_t i = 0; i < 5; i++) {
		snprintf(body, sizeof(body),
			 "{\"event_name\":\"project_%s\",\"created_at\":"
			 "\"2026-01-02T03:04:05Z\",\"name\":\"api\",\"path\":"
			 "\"api\",\"path_with_namespace\":\"plat/back/api\","
			 "\"project_id\":74,\"owner_name\":\"A\",\"owner_email\":"
			 "\"[REDACTED]\",\"owners\":[],\"project_visibility\":"
			 "\"private\"%s}",
			 names[i], i == 2 || i == 3
			 ? ",\"old_path_with_namespace\":\"plat/old/api\"" : "");
		ck_assert_int_eq(decode("System Hook", body, &ev, &err), 0);
		ck_assert_int_eq(ev.kind, WEBHOOK_KIND_PROJECT);
		ck_assert_str_eq(ev.project_event, names[i]);
		ck_assert_int_eq(ev.project_id, 74);
		ck_assert_str_eq(ev.project_path, "plat/back/api");
		if (i == 2 || i == 3)
			ck_assert_str_eq(ev.old_path, "plat/old/api");
		else
			ck_assert_ptr_null(ev.old_path);
		webhook_event_release(&ev);
	}
	ck_assert_int_eq(decode("Project Hook", "{\"event_name\":\"project_create\","
				"\"project_id\":9,\"path_with_namespace\":\"g/x\"}",
				&ev, &err), 0);
	ck_assert_int_eq(ev.kind, WEBHOOK_KIND_PROJECT);
	webhook_event_release(&ev);
}
END_TEST

START_TEST(test_other_and_hostile)
{
	struct webhook_event ev;
	struct st_error err;

	ck_assert_int_eq(decode("System Hook", "{\"event_name\":\"user_create\","
				"\"user_id\":3}", &ev, &err), 0);
	ck_assert_int_eq(ev.kind, WEBHOOK_KIND_OTHER);
	webhook_event_release(&ev);
	ck_assert_int_eq(decode("System Hook", "{\"event_name\":\"project_explode\","
				"\"project_id\":3}", &ev, &err), 0);
	ck_assert_int_eq(ev.kind, WEBHOOK_KIND_OTHER);
	webhook_event_release(&ev);
	ck_assert_int_eq(decode("System Hook", "{\"event_name\":\"project_create\","
				"\"project_id\":\"74\"}", &ev, &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "project_id"));
	ck_assert_int_eq(decode("Project Hook", "{\"event_name\":\"project_rename\","
				"\"project_id\":7,\"path_with_namespace\":[1]}",
				&ev, &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "path_with_namespace"));
	ck_assert_int_eq(decode("Project Hook", "[]", &ev, &err), ST_EINVAL);
	ck_assert_int_eq(decode("System Hook", "{\"event_name\":\"project_create\","
				"\"project_id\":-1}", &ev, &err), ST_EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("webhook_project");
	TCase *tc = tcase_create("project");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_system_hook_events);
	tcase_add_test(tc, test_other_and_hostile);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
