/* SPDX-License-Identifier: MIT */
/* The capped buffer every outside body goes through, and the error type. */
#include "semver-tagger/error.h"
#include "semver-tagger/strbuf.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_cap)
{
	struct strbuf sb;

	strbuf_init(&sb, 8);
	ck_assert_str_eq(strbuf_str(&sb), "");
	ck_assert_int_eq(strbuf_adds(&sb, "12345"), 0);
	ck_assert(!sb.lost);
	ck_assert_int_eq(strbuf_adds(&sb, "6789"), ST_ETOOBIG);
	ck_assert(sb.lost); /* sticky: a writer that checks once sees it */
	ck_assert_str_eq(strbuf_str(&sb), "12345"); /* unchanged */
	ck_assert_int_eq(strbuf_addf(&sb, "%d", 678), 0);
	ck_assert_str_eq(strbuf_str(&sb), "12345678");
	ck_assert_int_eq(strbuf_addf(&sb, "%s", "x"), ST_ETOOBIG);
	ck_assert_uint_eq(sb.len, 8);
	ck_assert(sb.lost);
	strbuf_reset(&sb);
	ck_assert(!sb.lost);
	ck_assert_str_eq(strbuf_str(&sb), "");
	strbuf_release(&sb);
	strbuf_release(NULL);
}
END_TEST

START_TEST(test_binary_and_detach)
{
	struct strbuf sb;
	char *p;

	strbuf_init(&sb, 1 << 20);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(strbuf_add(&sb, "a\0b", 3), 0);
	ck_assert_uint_eq(sb.len, 3000);
	ck_assert_int_eq(sb.buf[1], '\0');
	ck_assert_int_eq(sb.buf[3000], '\0');
	p = strbuf_detach(&sb);
	ck_assert_ptr_null(sb.buf);
	ck_assert_int_eq(p[2], 'b');
	free(p);
	p = strbuf_detach(&sb);
	ck_assert_str_eq(p, "");
	free(p);
}
END_TEST

START_TEST(test_error_first_wins)
{
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(st_error_set(&err, ST_ETEMP, "GET %s: %d", "/x", 503),
			 ST_ETEMP);
	ck_assert_int_eq(st_error_set(&err, ST_EINVAL, "other"), ST_EINVAL);
	ck_assert_int_eq(err.code, ST_ETEMP);
	st_error_prefix(&err, "project %s", "g/p");
	ck_assert_str_eq(err.msg, "project g/p: GET /x: 503");
	ck_assert_str_eq(st_status_name(err.code), "temporary");
	ck_assert_int_eq(st_error_set(NULL, ST_EIO, "x"), ST_EIO);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("strbuf");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_binary_and_detach);
	tcase_add_test(tc, test_error_first_wins);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
