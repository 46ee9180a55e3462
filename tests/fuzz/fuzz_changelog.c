/* SPDX-License-Identifier: MIT */
/*
 * What a release says (src/core/changelog.c, notes.c) on hostile bytes.
 * The input is a changelog file; its first line doubles as an MR
 * description. Properties checked in-harness:
 *  - inserting a version then asking for it finds it; inserting it again
 *    changes nothing (a re-run never adds a section twice);
 *  - merging a file with itself changes nothing; merging in a file with
 *    the new section adds it exactly once;
 *  - the "Release notes" section of any description is within its cap;
 *  - rendered notes never put '/' or "## " at a line start, nor '<'.
 */
#include "fuzz.h"

#include "semver-tagger/changelog.h"
#include "semver-tagger/notes.h"

#include <stdlib.h>
#include <string.h>

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void check_changelog(const char *s, size_t n)
{
	struct semver_ver v = { 987654, 3, 21 };
	struct strbuf a, b;
	bool changed;

	strbuf_init(&a, 2 * CHANGELOG_MAX_BYTES);
	strbuf_init(&b, 2 * CHANGELOG_MAX_BYTES);
	if (changelog_insert(s, n, &v, "2026-01-01", "- x\n", &a,
			     &changed) == 0) {
		FUZZ_ASSERT(changelog_has(strbuf_str(&a), a.len, &v));
		FUZZ_ASSERT(changelog_insert(strbuf_str(&a), a.len, &v, "d",
					     "- y\n", &b, &changed) == 0);
		FUZZ_ASSERT(!changed && b.len == a.len);
		FUZZ_ASSERT(changelog_merge(s, n, strbuf_str(&a), a.len,
					    &b) == 0);
		FUZZ_ASSERT(changelog_has(strbuf_str(&b), b.len, &v));
		FUZZ_ASSERT(count(strbuf_str(&b), "## 987654.3.21 (") ==
			    count(strbuf_str(&a), "## 987654.3.21 ("));
	}
	if (changelog_merge(s, n, s, n, &b) == 0)
		FUZZ_ASSERT(b.len == n && memcmp(strbuf_str(&b), s, n) == 0);
	strbuf_release(&a);
	strbuf_release(&b);
}

static void check_notes(const char *s, size_t n)
{
	const char *const labels[] = { "security" };
	struct notes_config c;
	struct notes_mr m = { 1, NULL, NULL, NULL, labels, 1, IMPACT_PATCH,
			      NULL };
	struct strbuf out;
	struct st_error err;
	char *text = NULL, *title = malloc(n + 1);

	if (!title)
		return;
	memcpy(title, s, n);
	title[n] = '\0';
	FUZZ_ASSERT(notes_description_section(s, n, 1000, &text) == 0);
	FUZZ_ASSERT(!text || strlen(text) <= 1000 + 4);
	m.title = title;
	m.author = title;
	m.text = text;
	strbuf_init(&out, 1 << 24);
	st_error_clear(&err);
	FUZZ_ASSERT(notes_config_parse("Security:~security", NULL, &c,
				       &err) == 0);
	if (notes_render(&c, &m, 1, &out) == 0) {
		const char *r = strbuf_str(&out);

		FUZZ_ASSERT(!strchr(r, '<'));
		FUZZ_ASSERT(!strstr(r, "\n/") && r[0] != '/');
		FUZZ_ASSERT(!strstr(r, "\n## "));
	}
	st_error_clear(&err);
	(void)notes_config_parse(title, title, &c, &err);
	strbuf_release(&out);
	free(text);
	free(title);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	if (size > (1u << 20))
		return 0;
	check_changelog(s, size);
	check_notes(s, size);
	return 0;
}
