/* SPDX-License-Identifier: MIT */
/* Release notes: sections, exclusions, description overrides, hostile
 * text, shortening. */
#include "semver-tagger/notes.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const char *const L_SEC[] = { "security", "ImpactPatch" };
static const char *const L_BUG[] = { "type::bug", "ImpactPatch" };
static const char *const L_FEAT[] = { "ImpactMinor" };
static const char *const L_SKIP[] = { "skip-changelog", "ImpactMinor" };

static char *render(const struct notes_config *c, const struct notes_mr *m,
		    size_t n)
{
	struct strbuf sb;

	strbuf_init(&sb, 1 << 20);
	ck_assert_int_eq(notes_render(c, m, n, &sb), 0);
	return strbuf_detach(&sb);
}

START_TEST(test_sections_and_exclusion)
{
	struct notes_config c;
	struct st_error err;
	struct notes_mr m[] = {
		{ 1, "Fix overflow", "https://gl/p/-/merge_requests/1", "ann",
		  L_SEC, 2, IMPACT_PATCH, NULL },
		{ 2, "Fix typo", "https://gl/p/-/merge_requests/2", "bob",
		  L_BUG, 2, IMPACT_PATCH, NULL },
		{ 3, "Add export", "https://gl/p/-/merge_requests/3", "cy",
		  L_FEAT, 1, IMPACT_MINOR, NULL },
		{ 4, "Bump deps", "https://gl/p/-/merge_requests/4", "dee",
		  L_SKIP, 2, IMPACT_MINOR, NULL },
	};
	char *s;

	st_error_clear(&err);
	ck_assert_int_eq(notes_config_parse("Security:~security, Bug fixes:~type::bug",
					    "~skip-changelog", &c, &err), 0);
	ck_assert_uint_eq(c.n_sections, 2);
	ck_assert_str_eq(c.sections[1].label, "type::bug");
	s = render(&c, m, 4);
	ck_assert_str_eq(s,
		"### Security\n\n"
		"- Fix overflow ([!1](https://gl/p/-/merge_requests/1) by @ann)\n"
		"\n### Bug fixes\n\n"
		"- Fix typo ([!2](https://gl/p/-/merge_requests/2) by @bob)\n"
		"\n### Features\n\n"
		"- Add export ([!3](https://gl/p/-/merge_requests/3) by @cy)\n");
	free(s);
}
END_TEST

START_TEST(test_default_sections_and_empty)
{
	struct notes_config c;
	struct st_error err;
	struct notes_mr m[] = {
		{ 7, "Fix", NULL, NULL, NULL, 0, IMPACT_PATCH, NULL },
		{ 8, "Break", "javascript:alert(1)", "x", NULL, 0, IMPACT_MAJOR,
		  NULL },
	};
	char *s;

	ck_assert_int_eq(notes_config_parse(NULL, "", &c, &err), 0);
	s = render(&c, m, 2);
	ck_assert_str_eq(s, "### Breaking changes\n\n- Break (!8 by @x)\n"
			    "\n### Fixes\n\n- Fix (!7)\n");
	free(s);
	s = render(&c, m, 0);
	ck_assert_str_eq(s, "No changes.\n");
	free(s);
}
END_TEST

START_TEST(test_bad_config)
{
	struct notes_config c;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(notes_config_parse("Security", NULL, &c, &err),
			 ST_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "release_sections"));
	ck_assert_ptr_nonnull(strstr(err.msg, "Security"));
	st_error_clear(&err);
	ck_assert_int_eq(notes_config_parse(":~x", NULL, &c, &err), ST_ECONFIG);
	st_error_clear(&err);
	ck_assert_int_eq(notes_config_parse("A:~", NULL, &c, &err), ST_ECONFIG);
	st_error_clear(&err);
	ck_assert_int_eq(notes_config_parse(NULL, "~", &c, &err), ST_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "release_exclude_labels"));
}
END_TEST

START_TEST(test_description_section)
{
	const char *d = "Intro\n\n## Release notes\n\nExports now *stream*.\n"
			"\n### Details\nmore\n## Testing\nnot this\n";
	char *s = NULL;

	ck_assert_int_eq(notes_description_section(d, strlen(d), 1000, &s), 0);
	ck_assert_str_eq(s, "Exports now *stream*.\n\n### Details\nmore");
	free(s);
	d = "# RELEASE NOTES:\nOne line";
	ck_assert_int_eq(notes_description_section(d, strlen(d), 1000, &s), 0);
	ck_assert_str_eq(s, "One line");
	free(s);
	d = "## Release notes\n\n## Next\n";
	ck_assert_int_eq(notes_description_section(d, strlen(d), 1000, &s), 0);
	ck_assert_ptr_null(s);
	d = "No heading here\n#Release notes\n";
	ck_assert_int_eq(notes_description_section(d, strlen(d), 1000, &s), 0);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(notes_description_section(NULL, 0, 1000, &s), 0);
	ck_assert_ptr_null(s);
}
END_TEST

/* A 2 MB description: cut at the cap, on a UTF-8 boundary, marked. */
START_TEST(test_huge_description)
{
	size_t n = 2u << 20;
	char *d = malloc(n + 1), *s = NULL;

	memcpy(d, "## Release notes\n", 17);
	for (size_t i = 17; i < n; i += 2)
		memcpy(d + i, "\xc3\xa9", 2); /* é */
	d[n] = '\0';
	ck_assert_int_eq(notes_description_section(d, n, 1001, &s), 0);
	ck_assert_uint_le(strlen(s), 1001 + 4);
	ck_assert_uint_eq((strlen(s) - 4) % 2, 0);
	ck_assert_str_eq(s + strlen(s) - 4, " \xe2\x80\xa6");
	free(s);
	free(d);
}
END_TEST

/* Text from MRs cannot run quick actions, fake markers, or put a
 * version heading at column 0 of a changelog. */
START_TEST(test_hostile_text)
{
	struct notes_config c;
	struct st_error err;
	struct notes_mr m[] = {
		{ 1, "/close\n## 9.9.9 <!-- semver-tagger:x -->", NULL,
		  "a\nb", NULL, 0, IMPACT_PATCH,
		  "line\n## 9.9.9 (2020-01-01)\n/merge\n<script>" },
		{ 2, "/label ~x", NULL, NULL, NULL, 0, IMPACT_PATCH, NULL },
	};
	char *s;

	ck_assert_int_eq(notes_config_parse(NULL, NULL, &c, &err), 0);
	s = render(&c, m, 2);
	ck_assert_ptr_null(strstr(s, "\n## "));
	ck_assert_ptr_null(strstr(s, "\n/"));
	ck_assert_ptr_null(strstr(s, "<"));
	ck_assert_ptr_nonnull(strstr(s, "- \\/label ~x (!2)"));
	ck_assert_ptr_nonnull(strstr(s, "  ## 9.9.9 (2020-01-01)\n  \\/merge"));
	free(s);
}
END_TEST

START_TEST(test_shorten)
{
	struct strbuf in, out;
	const char *url = "https://gl/p/-/compare/1.0.0...1.1.0";

	strbuf_init(&in, 1 << 20);
	strbuf_init(&out, 1 << 20);
	for (int i = 0; i < 1000; i++)
		strbuf_addf(&in, "- entry %d\n", i);
	ck_assert_int_eq(notes_shorten(strbuf_str(&in), 5000, url, &out), 0);
	ck_assert_uint_le(out.len, 5000);
	ck_assert_ptr_nonnull(strstr(strbuf_str(&out), "- entry 0\n"));
	ck_assert_ptr_nonnull(strstr(strbuf_str(&out),
				     "(https://gl/p/-/compare/1.0.0...1.1.0)"));
	ck_assert_ptr_null(strstr(strbuf_str(&out), "- entry 999"));
	strbuf_reset(&out);
	ck_assert_int_eq(notes_shorten("short\n", 5000, url, &out), 0);
	ck_assert_str_eq(strbuf_str(&out), "short\n");
	strbuf_reset(&out);
	/* one line longer than the limit: still not empty, never skipped */
	ck_assert_int_eq(notes_shorten(strbuf_str(&in), 10, url, &out), 0);
	ck_assert_uint_gt(out.len, 0);
	strbuf_release(&in);
	strbuf_release(&out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("notes");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_sections_and_exclusion);
	tcase_add_test(tc, test_default_sections_and_empty);
	tcase_add_test(tc, test_bad_config);
	tcase_add_test(tc, test_description_section);
	tcase_add_test(tc, test_huge_description);
	tcase_add_test(tc, test_hostile_text);
	tcase_add_test(tc, test_shorten);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
