/* SPDX-License-Identifier: MIT */
/* JSON helpers: nesting limit, exact integers, typed getters, times. */
#include "semver-tagger/json.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static cJSON *parse_ok(const char *text)
{
	struct st_error err;
	cJSON *root = NULL;

	st_error_clear(&err);
	ck_assert_msg(json_parse(text, strlen(text), "GET /x", &root, &err) ==
		      0, "%s", err.msg);
	return root;
}

static int parse_err(const char *text, size_t len, struct st_error *err)
{
	cJSON *root = NULL;
	int rc;

	st_error_clear(err);
	rc = json_parse(text, len, "GET /projects/7/merge_requests page 2",
			&root, err);
	ck_assert_ptr_null(root);
	return rc;
}

START_TEST(test_parse_rejects_bad_text)
{
	struct st_error err;
	const char *trunc = "[{\"iid\":1,\"title\":\"a";

	ck_assert_int_eq(parse_err("", 0, &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "empty body"));
	ck_assert_int_eq(parse_err(trunc, strlen(trunc), &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "GET /projects/7/merge_requests"
				     " page 2"));
	ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));
	ck_assert_int_eq(parse_err("<html>", 6, &err), ST_EINVAL);
	ck_assert_int_eq(parse_err("{} x", 4, &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "trailing"));
	/* Length is honoured: the text after len is not looked at. */
	cJSON_Delete(parse_ok("[1] "));
}
END_TEST

static char *nested(int depth)
{
	char *s = malloc((size_t)depth * 2 + 1);

	for (int i = 0; i < depth; i++) {
		s[i] = '[';
		s[depth * 2 - 1 - i] = ']';
	}
	s[depth * 2] = '\0';
	return s;
}

START_TEST(test_nesting_limit)
{
	struct st_error err;
	char *ok = nested(JSON_MAX_DEPTH), *deep = nested(JSON_MAX_DEPTH + 1);
	char *huge = nested(100000);

	cJSON_Delete(parse_ok(ok));
	ck_assert_int_eq(parse_err(deep, strlen(deep), &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "nested deeper"));
	ck_assert_int_eq(parse_err(huge, strlen(huge), &err), ST_EINVAL);
	/* Brackets inside strings are text, not nesting. */
	ck_assert_int_eq(json_depth_ok("[\"[[[[\\\"[[\"]", 12, 1), 1);
	free(ok);
	free(deep);
	free(huge);
}
END_TEST

START_TEST(test_integers_exact)
{
	cJSON *o = parse_ok("{\"a\":9007199254740991,\"b\":9007199254740992,"
			    "\"c\":9007199254740993,\"d\":1.5,\"e\":-1,"
			    "\"f\":\"12\",\"g\":1e300,\"h\":4294967297}");
	struct json_where w = {"GET /notes", "[0]"};
	struct st_error err;
	int64_t v = 0;

	st_error_clear(&err);
	ck_assert_int_eq(json_get_int(o, "a", JSON_REQUIRED, 1, JSON_INT_MAX,
				      &w, &v, &err), 0);
	ck_assert(v == 9007199254740991LL);
	ck_assert_int_eq(json_get_int(o, "h", JSON_REQUIRED, 1, JSON_INT_MAX,
				      &w, &v, &err), 0);
	ck_assert(v == 4294967297LL); /* note ids pass 2^32 on GitLab.com */
	/* 2^53 and 2^53+1 are the same double: both refused. */
	for (const char *k = "bcdgh"; *k != 'h'; k++) {
		char key[2] = {*k, 0};

		st_error_clear(&err);
		v = 77;
		ck_assert_int_eq(json_get_int(o, key, JSON_REQUIRED, 1,
					      JSON_INT_MAX, &w, &v, &err),
				 ST_EINVAL);
		ck_assert(v == 77); /* output untouched on failure */
		ck_assert_ptr_nonnull(strstr(err.msg, "GET /notes: [0]."));
	}
	st_error_clear(&err);
	ck_assert_int_eq(json_get_int(o, "e", JSON_REQUIRED, 1, JSON_INT_MAX,
				      &w, &v, &err), ST_EINVAL);
	st_error_clear(&err);
	ck_assert_int_eq(json_get_int(o, "f", JSON_REQUIRED, 1, JSON_INT_MAX,
				      &w, &v, &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "expected an integer, got "
				     "string"));
	cJSON_Delete(o);
}
END_TEST

START_TEST(test_getters_presence_and_types)
{
	cJSON *o = parse_ok("{\"s\":\"x\",\"n\":null,\"b\":true,\"o\":{},"
			    "\"a\":[],\"num\":3}");
	struct json_where w = {"GET /projects/7", ""};
	struct st_error err;
	const char *s = "unset";
	const cJSON *it = NULL;
	bool b = false;

	st_error_clear(&err);
	ck_assert_int_eq(json_get_str(o, "s", JSON_REQUIRED, &w, &s, &err), 0);
	ck_assert_str_eq(s, "x");
	s = "unset";
	ck_assert_int_eq(json_get_str(o, "n", JSON_OPTIONAL, &w, &s, &err), 0);
	ck_assert_str_eq(s, "unset"); /* null: optional, untouched */
	ck_assert_int_eq(json_get_str(o, "zz", JSON_OPTIONAL, &w, &s, &err), 0);
	ck_assert_int_eq(json_get_str(o, "zz", JSON_REQUIRED, &w, &s, &err),
			 ST_EINVAL);
	ck_assert_str_eq(err.msg, "GET /projects/7: zz: missing");
	st_error_clear(&err);
	ck_assert_int_eq(json_get_str(o, "n", JSON_NOT_NULL, &w, &s, &err),
			 ST_EINVAL);
	st_error_clear(&err);
	ck_assert_int_eq(json_get_str(o, "num", 0, &w, &s, &err), ST_EINVAL);
	ck_assert_str_eq(err.msg, "GET /projects/7: num: expected a string, "
			 "got number");
	st_error_clear(&err);
	ck_assert_int_eq(json_get_bool(o, "n", 0, &w, &b, &err), 0);
	ck_assert(!b); /* GitLab: null booleans mean false */
	ck_assert_int_eq(json_get_bool(o, "b", 0, &w, &b, &err), 0);
	ck_assert(b);
	ck_assert_int_eq(json_get_object(o, "o", 0, &w, &it, &err), 0);
	ck_assert_int_eq(json_get_array(o, "a", 0, &w, &it, &err), 0);
	ck_assert_int_eq(json_get_array(o, "o", 0, &w, &it, &err), ST_EINVAL);
	cJSON_Delete(o);
}
END_TEST

START_TEST(test_time_parse_format)
{
	int64_t ms = 0;
	char buf[32];

	ck_assert_int_eq(json_time_parse("1970-01-01T00:00:00.000Z", &ms), 0);
	ck_assert(ms == 0);
	ck_assert_int_eq(json_time_parse("2026-03-14T09:21:07.481Z", &ms), 0);
	ck_assert(ms == 1773480067481LL);
	ck_assert_int_eq(json_time_format(ms, buf), 0);
	ck_assert_str_eq(buf, "2026-03-14T09:21:07.481Z");
	/* Same instant, other spellings GitLab uses. */
	ck_assert_int_eq(json_time_parse("2026-03-14T11:21:07.481+02:00",
					 &ms), 0);
	ck_assert(ms == 1773480067481LL);
	ck_assert_int_eq(json_time_parse("2026-03-14 09:21:07 UTC", &ms), 0);
	ck_assert(ms == 1773480067000LL);
	ck_assert_int_eq(json_time_parse("2024-02-29T00:00:00Z", &ms), 0);
	ck_assert_int_eq(json_time_format(ms, buf), 0);
	ck_assert_str_eq(buf, "2024-02-29T00:00:00.000Z");
	ck_assert_int_eq(json_time_parse("2026-02-30T00:00:00Z", &ms),
			 ST_EINVAL);
	ck_assert_int_eq(json_time_parse("2026-03-14T09:21:07", &ms),
			 ST_EINVAL);
	ck_assert_int_eq(json_time_parse("2026-03-14T09:21:07.Z", &ms),
			 ST_EINVAL);
	ck_assert_int_eq(json_time_parse("yesterday", &ms), ST_EINVAL);
	ck_assert_int_eq(json_time_format(-1, buf), 0);
	ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("json");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_parse_rejects_bad_text);
	tcase_add_test(tc, test_nesting_limit);
	tcase_add_test(tc, test_integers_exact);
	tcase_add_test(tc, test_getters_presence_and_types);
	tcase_add_test(tc, test_time_parse_format);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
