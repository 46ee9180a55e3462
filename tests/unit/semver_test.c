/* SPDX-License-Identifier: MIT */
/* SemVer core: parsing, precedence, release tags (SPEC §1). */
#include "semver-tagger/error.h"
#include "semver-tagger/num.h"
#include "semver-tagger/semver.h"

#include <check.h>
#include <stdint.h>
#include <string.h>

static int parse(const char *s, struct semver *v)
{
	return semver_parse(s, strlen(s), v);
}

static const char *const valid[] = {
	"0.0.0", "1.2.3", "10.20.30", "1.1.2-prerelease+meta", "1.1.2+meta",
	"1.1.2+meta-valid", "1.0.0-alpha", "1.0.0-beta", "1.0.0-alpha.beta",
	"1.0.0-alpha.beta.1", "1.0.0-alpha.1", "1.0.0-alpha0.valid",
	"1.0.0-alpha.0valid", "1.0.0-rc.1+build.1", "2.0.0-rc.1+build.123",
	"1.2.3-beta", "10.2.3-DEV-SNAPSHOT", "1.2.3-SNAPSHOT-123",
	"2.0.0+build.1848", "2.0.1-alpha.1227", "1.0.0-alpha+beta",
	"1.2.3----RC-SNAPSHOT.12.9.1--.12+788", "1.2.3----R-S.12.9.1--.12+meta",
	"1.0.0+0.build.1-rc.10000aaa-kk-0.1",
	"18446744073709551615.18446744073709551615.18446744073709551615",
	"1.0.0-0A.is.legal", "1.0.0+001",
};

static const char *const invalid[] = {
	"", "1", "1.2", "1.2.3.4", "1.2.3-", "1.2.3+", "01.2.3", "1.02.3",
	"1.2.03", "1.2.3-0123", "1.2.3-0123.0123", "1.1.2+.123", "+invalid",
	"-invalid", "-invalid+invalid", "-invalid.01", "alpha", "alpha.beta",
	"alpha.beta.1", "alpha.1", "alpha+beta", "alpha_beta", "alpha.",
	"alpha..", "beta", "1.0.0-alpha_beta", "-alpha.", "1.0.0-alpha..",
	"1.0.0-alpha..1", "1.0.0-alpha...1", "1.0.0-alpha....1",
	"1.2.3.DEV", "1.2-SNAPSHOT", "1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788",
	"1.2-RC-SNAPSHOT", "-1.0.3-gamma+b7718", "+justmeta", "9.8.7+meta+meta",
	"9.8.7-whatever+meta+meta", " 1.2.3", "1.2.3 ", "1. 2.3", "v1.2.3",
	"18446744073709551616.0.0", "0.18446744073709551616.0",
	"99999999999999999999.0.0", "1.2.3-a b", "1.2.3+\xc3\xa9", "1..3",
	".1.2", "1.2.", "0x1.2.3", "+1.2.3", "1.-2.3",
};

START_TEST(test_valid)
{
	struct semver v;

	ck_assert_msg(parse(valid[_i], &v) == 0, "should parse: '%s'",
		      valid[_i]);
}
END_TEST

START_TEST(test_invalid)
{
	struct semver v = { .core = { 7, 7, 7 } };

	ck_assert_msg(parse(invalid[_i], &v) == ST_EINVAL,
		      "should be rejected: '%s'", invalid[_i]);
	ck_assert_uint_eq(v.core.major, 7); /* untouched on failure */
}
END_TEST

START_TEST(test_embedded_nul)
{
	struct semver v;

	ck_assert_int_eq(semver_parse("1.2.3\0", 6, &v), ST_EINVAL);
	ck_assert_int_eq(semver_parse("1.2\0.3", 6, &v), ST_EINVAL);
	ck_assert_int_eq(semver_parse(NULL, 0, &v), ST_EINVAL);
}
END_TEST

START_TEST(test_parts)
{
	struct semver v;

	ck_assert_int_eq(parse("1.22.333-rc.1+build.5", &v), 0);
	ck_assert_uint_eq(v.core.major, 1);
	ck_assert_uint_eq(v.core.minor, 22);
	ck_assert_uint_eq(v.core.patch, 333);
	ck_assert_uint_eq(v.pre_len, 4);
	ck_assert(strncmp(v.pre, "rc.1", 4) == 0);
	ck_assert_uint_eq(v.build_len, 7);
	ck_assert(strncmp(v.build, "build.5", 7) == 0);
	ck_assert_int_eq(parse("18446744073709551615.0.1", &v), 0);
	ck_assert_uint_eq(v.core.major, UINT64_MAX);
}
END_TEST

/* SemVer 2.0.0 §11, in ascending precedence, plus numeric (not string)
 * ordering of the core and of numeric identifiers. */
static const char *const ordered[] = {
	"0.0.0",         "0.0.1",           "0.1.0",           "0.9.0",
	"0.10.0",        "1.0.0-alpha",     "1.0.0-alpha.1",   "1.0.0-alpha.beta",
	"1.0.0-beta",    "1.0.0-beta.2",    "1.0.0-beta.11",   "1.0.0-rc.1",
	"1.0.0",         "1.9.0",           "1.10.0",          "1.11.0",
	"2.0.0-0",       "2.0.0-1",         "2.0.0-9",         "2.0.0-10",
	"2.0.0-99999999999999999999999",    "2.0.0-a",         "2.0.0",
	"2.1.0",         "2.1.1",           "10.0.0",          "18446744073709551615.0.0",
};

START_TEST(test_order)
{
	size_t n = sizeof(ordered) / sizeof(ordered[0]);

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			struct semver a, b;
			int want = (i > j) - (i < j);

			ck_assert_int_eq(parse(ordered[i], &a), 0);
			ck_assert_int_eq(parse(ordered[j], &b), 0);
			ck_assert_msg(semver_compare(&a, &b) == want,
				      "%s vs %s: got %d, want %d", ordered[i],
				      ordered[j], semver_compare(&a, &b), want);
		}
	}
}
END_TEST

START_TEST(test_build_ignored)
{
	struct semver a, b;

	ck_assert_int_eq(parse("1.0.0+build.1", &a), 0);
	ck_assert_int_eq(parse("1.0.0+build.2", &b), 0);
	ck_assert_int_eq(semver_compare(&a, &b), 0);
	ck_assert_int_eq(parse("1.0.0-rc.1+x", &a), 0);
	ck_assert_int_eq(parse("1.0.0-rc.1", &b), 0);
	ck_assert_int_eq(semver_compare(&a, &b), 0);
}
END_TEST

static const struct {
	const char *tag, *prefix;
	int release;
	struct semver_ver v;
} tags[] = {
	{ "1.2.3", "", 1, { 1, 2, 3 } },
	{ "v1.2.3", "v", 1, { 1, 2, 3 } },
	{ "v1.2.3", "", 0, { 0, 0, 0 } },
	{ "1.2.3", "v", 0, { 0, 0, 0 } },
	{ "1.2.0-rc.1", "", 0, { 0, 0, 0 } },
	{ "1.2.0+build.5", "", 0, { 0, 0, 0 } },
	{ "v1.2.0-rc.1", "v", 0, { 0, 0, 0 } },
	{ "latest", "", 0, { 0, 0, 0 } },
	{ "01.2.3", "", 0, { 0, 0, 0 } },
	{ "release-10.0.1", "release-", 1, { 10, 0, 1 } },
	{ "vv1.2.3", "v", 0, { 0, 0, 0 } },
	{ "v", "v", 0, { 0, 0, 0 } },
	{ "0.0.0", "", 1, { 0, 0, 0 } },
};

START_TEST(test_release_tags)
{
	struct semver_ver v = { 0, 0, 0 };
	int got = semver_release_from_tag(tags[_i].tag, tags[_i].prefix, &v);

	ck_assert_msg(got == tags[_i].release, "tag '%s' prefix '%s'",
		      tags[_i].tag, tags[_i].prefix);
	if (got)
		ck_assert(semver_ver_compare(&v, &tags[_i].v) == 0);
}
END_TEST

START_TEST(test_tag_name)
{
	struct semver_ver v = { 12, 0, 7 };
	char buf[64], tiny[6];

	ck_assert_int_eq(semver_tag_name(&v, "v", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "v12.0.7");
	ck_assert_int_eq(semver_tag_name(&v, "v", tiny, sizeof(tiny)),
			 ST_ETOOBIG);
	semver_ver_format(&v, buf, sizeof(buf));
	ck_assert_str_eq(buf, "12.0.7");
}
END_TEST

START_TEST(test_num)
{
	uint64_t u = 5;
	int64_t i = 5;

	ck_assert_int_eq(num_parse_u64("007", 3, false, &u), 0);
	ck_assert_uint_eq(u, 7);
	ck_assert_int_eq(num_parse_u64("007", 3, true, &u), ST_EINVAL);
	ck_assert_int_eq(num_parse_u64("18446744073709551615", 20, true, &u), 0);
	ck_assert_uint_eq(u, UINT64_MAX);
	ck_assert_int_eq(num_parse_u64("18446744073709551616", 20, true, &u),
			 ST_EINVAL);
	ck_assert_uint_eq(u, UINT64_MAX);
	ck_assert_int_eq(num_parse_u64("", 0, false, &u), ST_EINVAL);
	ck_assert_int_eq(num_parse_u64("1a", 2, false, &u), ST_EINVAL);
	ck_assert_int_eq(num_parse_u64_max("300", 255, &u), ST_EINVAL);
	ck_assert_int_eq(num_parse_i64("-9223372036854775808", &i), 0);
	ck_assert(i == INT64_MIN);
	ck_assert_int_eq(num_parse_i64("9223372036854775808", &i), ST_EINVAL);
	ck_assert_int_eq(num_parse_i64("-", &i), ST_EINVAL);
}
END_TEST

static Suite *semver_suite(void)
{
	Suite *s = suite_create("semver");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_valid, 0, sizeof(valid) / sizeof(valid[0]));
	tcase_add_loop_test(tc, test_invalid, 0,
			    sizeof(invalid) / sizeof(invalid[0]));
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_test(tc, test_parts);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_build_ignored);
	tcase_add_loop_test(tc, test_release_tags, 0,
			    sizeof(tags) / sizeof(tags[0]));
	tcase_add_test(tc, test_tag_name);
	tcase_add_test(tc, test_num);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(semver_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
