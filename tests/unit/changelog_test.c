/* SPDX-License-Identifier: MIT */
/* CHANGELOG.md sections: order, idempotence, merges, hostile files. */
#include "semver-tagger/changelog.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static struct semver_ver V(uint64_t a, uint64_t b, uint64_t c)
{
	return (struct semver_ver){ a, b, c };
}

static char *insert(const char *text, struct semver_ver v, const char *body,
		    bool *changed)
{
	struct strbuf out;

	strbuf_init(&out, CHANGELOG_MAX_BYTES);
	ck_assert_int_eq(changelog_insert(text, text ? strlen(text) : 0, &v,
					  "2026-01-02", body, &out, changed), 0);
	return strbuf_detach(&out);
}

START_TEST(test_new_file_and_order)
{
	bool ch;
	char *a = insert(NULL, V(1, 0, 0), "- one\n", &ch), *b, *c, *d;

	ck_assert(ch);
	ck_assert_str_eq(a, "# Changelog\n\n## 1.0.0 (2026-01-02)\n\n- one\n");
	b = insert(a, V(2, 0, 0), "- two\n", &ch);
	ck_assert_str_eq(b, "# Changelog\n\n## 2.0.0 (2026-01-02)\n\n- two\n\n"
			    "## 1.0.0 (2026-01-02)\n\n- one\n");
	/* an old line's release goes between, in version order */
	c = insert(b, V(1, 0, 1), "- fix\n", &ch);
	ck_assert_str_eq(c, "# Changelog\n\n## 2.0.0 (2026-01-02)\n\n- two\n\n"
			    "## 1.0.1 (2026-01-02)\n\n- fix\n\n"
			    "## 1.0.0 (2026-01-02)\n\n- one\n");
	/* a re-run adds nothing */
	d = insert(c, V(1, 0, 1), "- different\n", &ch);
	ck_assert(!ch);
	ck_assert_str_eq(d, c);
	ck_assert(changelog_has(c, strlen(c), &(struct semver_ver){ 1, 0, 1 }));
	ck_assert(!changelog_has(c, strlen(c), &(struct semver_ver){ 1, 1, 0 }));
	free(a);
	free(b);
	free(c);
	free(d);
}
END_TEST

START_TEST(test_oldest_goes_last_and_preamble_kept)
{
	bool ch;
	const char *t = "# History\n\n## Unreleased\n\n- wip\n\n## 1.2.0\n\nx\n";
	char *a = insert(t, V(1, 1, 5), "- old\n", &ch);
	char *b = insert(t, V(1, 3, 0), "- new\n", &ch);

	ck_assert_str_eq(a, "# History\n\n## Unreleased\n\n- wip\n\n## 1.2.0\n\nx\n"
			    "\n## 1.1.5 (2026-01-02)\n\n- old\n");
	ck_assert_str_eq(b, "# History\n\n## Unreleased\n\n- wip\n\n"
			    "## 1.3.0 (2026-01-02)\n\n- new\n\n## 1.2.0\n\nx\n");
	free(a);
	free(b);
}
END_TEST

/* Lookalike headings are not sections: "## 1.2" or "### 1.0.0", or a
 * version inside text; numbers are compared, not strings. */
START_TEST(test_lookalikes)
{
	const char *t = "## 1.10.0 (d)\n### 9.0.0\n## 1.2\n  ## 7.0.0\n"
			"##1.5.0\n## 01.0.0\n## 1.9.0\n";

	ck_assert(changelog_has(t, strlen(t), &(struct semver_ver){ 1, 10, 0 }));
	ck_assert(changelog_has(t, strlen(t), &(struct semver_ver){ 1, 9, 0 }));
	ck_assert(!changelog_has(t, strlen(t), &(struct semver_ver){ 9, 0, 0 }));
	ck_assert(!changelog_has(t, strlen(t), &(struct semver_ver){ 7, 0, 0 }));
	ck_assert(!changelog_has(t, strlen(t), &(struct semver_ver){ 1, 5, 0 }));
	ck_assert(!changelog_has(t, strlen(t), &(struct semver_ver){ 1, 0, 0 }));
}
END_TEST

START_TEST(test_merge)
{
	const char *ours = "# Changelog\n\n## 1.4.0 (d)\n\n- b\n\n## 1.3.0 (d)\n\n- a\n";
	const char *theirs = "# Changelog\n\n## 1.3.1 (d)\n\n- fix\n\n## 1.3.0 (d)\n\n- a\n";
	struct strbuf out;

	strbuf_init(&out, CHANGELOG_MAX_BYTES);
	ck_assert_int_eq(changelog_merge(ours, strlen(ours), theirs,
					 strlen(theirs), &out), 0);
	ck_assert_str_eq(strbuf_str(&out),
			 "# Changelog\n\n## 1.4.0 (d)\n\n- b\n\n"
			 "## 1.3.1 (d)\n\n- fix\n\n## 1.3.0 (d)\n\n- a\n");
	/* merging again changes nothing */
	ck_assert_int_eq(changelog_merge(strbuf_str(&out), out.len, theirs,
					 strlen(theirs), &out), 0);
	ck_assert_str_eq(strbuf_str(&out),
			 "# Changelog\n\n## 1.4.0 (d)\n\n- b\n\n"
			 "## 1.3.1 (d)\n\n- fix\n\n## 1.3.0 (d)\n\n- a\n");
	strbuf_release(&out);
}
END_TEST

/* Binary junk, a file without newline, thousands of headings, and one
 * over the cap: errors or sane output, never a crash. */
START_TEST(test_hostile_files)
{
	struct strbuf big, out;
	struct semver_ver v = { 5, 0, 0 };
	bool ch;
	char junk[256];

	for (int i = 0; i < 256; i++)
		junk[i] = (char)(i ? i : 1);
	strbuf_init(&out, CHANGELOG_MAX_BYTES);
	ck_assert_int_eq(changelog_insert(junk, sizeof(junk), &v, "d", "x\n",
					  &out, &ch), 0);
	ck_assert(ch);
	strbuf_init(&big, CHANGELOG_MAX_BYTES + 4096);
	for (int i = 0; i < 20000; i++)
		strbuf_addf(&big, "## 1.0.%d\n", 20000 - i);
	ck_assert_int_eq(changelog_insert(strbuf_str(&big), big.len, &v, "d",
					  "x\n", &out, &ch), 0);
	ck_assert(strncmp(strbuf_str(&out), "## 5.0.0 (d)", 12) == 0);
	while (big.len <= CHANGELOG_MAX_BYTES)
		strbuf_adds(&big, "0123456789abcdef0123456789abcdef\n");
	ck_assert_int_eq(changelog_insert(strbuf_str(&big), big.len, &v, "d",
					  "x\n", &out, &ch), ST_ETOOBIG);
	strbuf_release(&big);
	strbuf_release(&out);
}
END_TEST

START_TEST(test_date)
{
	char buf[16];

	changelog_date(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1970-01-01");
	changelog_date(1767225600 + 86399, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-01-01");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("changelog");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_new_file_and_order);
	tcase_add_test(tc, test_oldest_goes_last_and_preamble_kept);
	tcase_add_test(tc, test_lookalikes);
	tcase_add_test(tc, test_merge);
	tcase_add_test(tc, test_hostile_files);
	tcase_add_test(tc, test_date);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
