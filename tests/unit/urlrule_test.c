/* SPDX-License-Identifier: MIT */
/* Where the token may go: the clone-URL rule (issue 14 items 1, 2, 6). */
#include "semver-tagger/urlrule.h"

#include <check.h>
#include <string.h>

#define API "https://gitlab.example.com/api/v4"
#define LAPI "http://127.0.0.1:18080/api/v4"

START_TEST(test_loopback_numeric_only)
{
	ck_assert(urlrule_loopback("127.0.0.1"));
	ck_assert(urlrule_loopback("127.3.4.5"));
	ck_assert(urlrule_loopback("[::1]"));
	ck_assert(urlrule_loopback("[0:0:0:0:0:0:0:1]"));
	/* names that only look local (item 6) */
	ck_assert(!urlrule_loopback("127.evil.example"));
	ck_assert(!urlrule_loopback("127.0.0.1.evil.example"));
	ck_assert(!urlrule_loopback("localhost"));
	ck_assert(!urlrule_loopback("localhost.evil"));
	ck_assert(!urlrule_loopback("[::1].evil"));
	ck_assert(!urlrule_loopback("[::1"));
	ck_assert(!urlrule_loopback("::1"));
	ck_assert(!urlrule_loopback("[::2]"));
	ck_assert(!urlrule_loopback("127.1"));
	ck_assert(!urlrule_loopback("0x7f.0.0.1"));
	ck_assert(!urlrule_loopback("128.0.0.1"));
	ck_assert(!urlrule_loopback(""));
}
END_TEST

START_TEST(test_transport)
{
	ck_assert(urlrule_transport_safe(API));
	ck_assert(urlrule_transport_safe(LAPI));
	ck_assert(urlrule_transport_safe("http://[::1]:80/api/v4"));
	ck_assert(!urlrule_transport_safe("http://127.evil.example/api/v4"));
	ck_assert(!urlrule_transport_safe("http://localhost.evil:80/api"));
	ck_assert(!urlrule_transport_safe("http://127.0.0.1@evil/api"));
	ck_assert(!urlrule_transport_safe("http://evil\\@127.0.0.1/api"));
	ck_assert(!urlrule_transport_safe("http://127.0.0.1%2eevil/api"));
	ck_assert(!urlrule_transport_safe("http://[::1%25lo]/api"));
	ck_assert(!urlrule_transport_safe("http://127.0.0.1:/api"));
	ck_assert(!urlrule_transport_safe("http://127.0.0.1:99999/api"));
	ck_assert(!urlrule_transport_safe("http://127.0.0.1#@evil/api"));
	ck_assert(!urlrule_transport_safe("ftp://127.0.0.1/"));
	ck_assert(!urlrule_transport_safe("not a url"));
}
END_TEST

START_TEST(test_origin)
{
	struct urlrule_origin o;

	ck_assert_int_eq(urlrule_origin("HTTPS://GitLab.Example.COM/x", &o), 0);
	ck_assert_str_eq(o.scheme, "https");
	ck_assert_str_eq(o.host, "gitlab.example.com");
	ck_assert_uint_eq(o.port, 443);
	ck_assert_int_eq(urlrule_origin("http://[::1]:8080", &o), 0);
	ck_assert_str_eq(o.host, "[::1]");
	ck_assert_uint_eq(o.port, 8080);
	ck_assert_int_ne(urlrule_origin("http://:80/x", &o), 0);
	ck_assert_int_ne(urlrule_origin("http://a:b/x", &o), 0);
}
END_TEST

START_TEST(test_clone_from_api)
{
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(urlrule_clone_url(API, "https://gitlab.example.com/g/p.git",
					   false, &err), 0);
	ck_assert_int_eq(urlrule_clone_url(API, "https://GITLAB.example.com:443/g/p.git",
					   false, &err), 0);
	ck_assert_int_eq(urlrule_clone_url(LAPI, "http://127.0.0.1:18080/g/p.git",
					   false, &err), 0);
	/* item 1: another host, port or scheme than api_url's */
	ck_assert_int_eq(urlrule_clone_url(LAPI, "http://127.0.0.2:18081/x.git",
					   false, &err), ST_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "127.0.0.2:18081"));
	ck_assert_ptr_nonnull(strstr(err.msg, "git_url"));
	st_error_clear(&err);
	ck_assert_int_eq(urlrule_clone_url(LAPI, "http://127.0.0.1:18081/x.git",
					   false, &err), ST_ECONFIG);
	st_error_clear(&err);
	ck_assert_int_eq(urlrule_clone_url(API, "http://gitlab.example.com/g/p.git",
					   false, &err), ST_ECONFIG);
	st_error_clear(&err);
	ck_assert_int_eq(urlrule_clone_url(API, "https://evil.example/g/p.git",
					   false, &err), ST_ECONFIG);
	st_error_clear(&err);
	/* nothing from the API names a local path */
	ck_assert_int_eq(urlrule_clone_url(API, "file:///etc", false, &err),
			 ST_ECONFIG);
	st_error_clear(&err);
	ck_assert_int_eq(urlrule_clone_url(API, "/srv/git/p.git", false, &err),
			 ST_ECONFIG);
	st_error_clear(&err);
	/* credentials never echoed */
	ck_assert_int_eq(urlrule_clone_url(API, "https://u:SECRET@evil/x", false,
					   &err), ST_ECONFIG);
	ck_assert_ptr_null(strstr(err.msg, "SECRET"));
}
END_TEST

START_TEST(test_clone_configured)
{
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(urlrule_clone_url(API, "https://mirror.example/p.git",
					   true, &err), 0);
	ck_assert_int_eq(urlrule_clone_url(API, "/srv/git/p.git", true, &err), 0);
	ck_assert_int_eq(urlrule_clone_url(API, "http://127.0.0.5:9/p.git", true,
					   &err), 0);
	ck_assert_int_eq(urlrule_clone_url(API, "http://mirror.example/p.git",
					   true, &err), ST_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "loopback"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("urlrule");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_loopback_numeric_only);
	tcase_add_test(tc, test_transport);
	tcase_add_test(tc, test_origin);
	tcase_add_test(tc, test_clone_from_api);
	tcase_add_test(tc, test_clone_configured);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
