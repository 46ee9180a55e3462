/* SPDX-License-Identifier: MIT */
/* Impact labels (SPEC §3). */
#include "semver-tagger/labels.h"

#include <check.h>
#include <string.h>

static const struct {
	const char *name;
	enum impact want;
} defaults[] = {
	{ "ImpactMajor", IMPACT_MAJOR },   { "Impact::Major", IMPACT_MAJOR },
	{ "ImpactMinor", IMPACT_MINOR },   { "Impact::Minor", IMPACT_MINOR },
	{ "ImpactPatch", IMPACT_PATCH },   { "Impact::Patch", IMPACT_PATCH },
	{ "impactmajor", IMPACT_NONE },    { "ImpactMajorX", IMPACT_NONE },
	{ "XImpactMajor", IMPACT_NONE },   { "Impact::Major::x", IMPACT_NONE },
	{ "Impact Major", IMPACT_NONE },   { "", IMPACT_NONE },
	{ "bug", IMPACT_NONE },            { "ImpactPatch\n", IMPACT_NONE },
	{ "Impact::Patch ", IMPACT_NONE }, { "\xff\xfe", IMPACT_NONE },
};

START_TEST(test_defaults)
{
	struct st_error err;
	struct labels *l;

	st_error_clear(&err);
	l = labels_new(NULL, NULL, NULL, &err);
	ck_assert_ptr_nonnull(l);
	ck_assert_msg(labels_match(l, defaults[_i].name) == defaults[_i].want,
		      "label '%s'", defaults[_i].name);
	labels_free(l);
}
END_TEST

START_TEST(test_highest_and_several)
{
	const char *one[] = { "bug", "ImpactPatch" };
	const char *two[] = { "ImpactPatch", "docs", "Impact::Major" };
	const char *none[] = { "bug", "docs" };
	struct labels *l = labels_new(NULL, NULL, NULL, NULL);
	bool several = true;

	ck_assert_int_eq(labels_impact(l, one, 2, &several), IMPACT_PATCH);
	ck_assert(!several);
	ck_assert_int_eq(labels_impact(l, two, 3, &several), IMPACT_MAJOR);
	ck_assert(several);
	ck_assert_int_eq(labels_impact(l, none, 2, &several), IMPACT_NONE);
	ck_assert(!several);
	ck_assert_int_eq(labels_impact(l, NULL, 0, &several), IMPACT_NONE);
	labels_free(l);
}
END_TEST

START_TEST(test_custom_patterns)
{
	struct labels *l = labels_new("semver::major|breaking", "semver::minor",
				      "semver::patch|fix", NULL);

	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(labels_match(l, "breaking"), IMPACT_MAJOR);
	ck_assert_int_eq(labels_match(l, "fix"), IMPACT_PATCH);
	ck_assert_int_eq(labels_match(l, "fixes"), IMPACT_NONE);
	ck_assert_int_eq(labels_match(l, "ImpactMinor"), IMPACT_NONE);
	labels_free(l);
}
END_TEST

START_TEST(test_bad_pattern)
{
	struct st_error err;

	st_error_clear(&err);
	ck_assert_ptr_null(labels_new(NULL, "Impact(Minor", NULL, &err));
	ck_assert_int_eq(err.code, ST_ECONFIG);
	ck_assert_msg(strstr(err.msg, "minor label pattern 'Impact(Minor'"),
		      "%s", err.msg);
}
END_TEST

/* A catastrophic-backtracking pattern on a long name ends at the match
 * limit as "no match", not as a hang. */
START_TEST(test_redos_bounded)
{
	char name[1001];
	struct labels *l = labels_new("(a+)+b", NULL, NULL, NULL);

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(labels_match(l, name), IMPACT_NONE);
	labels_free(l);
	labels_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("labels");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_defaults, 0,
			    sizeof(defaults) / sizeof(defaults[0]));
	tcase_add_test(tc, test_highest_and_several);
	tcase_add_test(tc, test_custom_patterns);
	tcase_add_test(tc, test_bad_pattern);
	tcase_add_test(tc, test_redos_bounded);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
