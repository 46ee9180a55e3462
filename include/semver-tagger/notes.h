/* SPDX-License-Identifier: MIT */
/*
 * What a release says (pure): categorised release notes from the facts of
 * its merge requests, the "Release notes" section of an MR description,
 * and the shortening of a body too long for the forge. The same text goes
 * into the release object, the changelog section and the dotenv notes file.
 *
 * Outside text (titles, descriptions, user names) is made inert here: it
 * cannot start a quick action ('/' at a line start), fake an HTML comment
 * or marker ('<'), or start a line at column 0 inside a changelog section
 * (continuation lines are indented), so a description holding "## 9.9.9"
 * cannot forge a changelog version heading.
 */
#ifndef SEMVER_TAGGER_NOTES_H
#define SEMVER_TAGGER_NOTES_H

#include "semver-tagger/error.h"
#include "semver-tagger/labels.h"
#include "semver-tagger/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTES_SECTIONS_MAX 32
#define NOTES_EXCLUDE_MAX 32
#define NOTES_TITLE_MAX 128
#define NOTES_LABEL_MAX 255
/* Longest "Release notes" text taken from one MR description. */
#define NOTES_MR_TEXT_MAX (64u * 1024u)

/* One configured section: heading and the label that selects it. */
struct notes_section {
	char title[NOTES_TITLE_MAX];
	char label[NOTES_LABEL_MAX + 1];
};

struct notes_config {
	struct notes_section sections[NOTES_SECTIONS_MAX];
	size_t n_sections;
	char exclude[NOTES_EXCLUDE_MAX][NOTES_LABEL_MAX + 1];
	size_t n_exclude;
};

/*
 * Parse the configured sections ("Security:~security, Bug fixes:~type::bug",
 * comma separated, each "Heading:~label"; NULL or "" = none) and the
 * exclusion labels ("skip-changelog, ~dependencies", comma separated, '~'
 * optional). Errors name the key and the entry (ST_ECONFIG).
 */
int notes_config_parse(const char *sections, const char *exclude,
		       struct notes_config *out, struct st_error *err);

/* One merge request of a release. Any string may be NULL. */
struct notes_mr {
	int64_t iid;
	const char *title;
	const char *web_url;
	const char *author;          /* username */
	const char *const *labels;
	size_t n_labels;
	enum impact impact;
	const char *text;            /* "Release notes" override, or NULL */
};

/*
 * The "Release notes" section of an MR description: the text under a
 * heading (#..######) reading "Release notes" (any case, trailing ':' and
 * '#' allowed) up to the next heading of the same or a higher level,
 * blank lines trimmed. *out (malloc'd, caller frees) is NULL when there is
 * no such section or it is empty; longer than max bytes: cut at max at a
 * UTF-8 boundary with " …" appended. ST_ENOMEM only.
 */
int notes_description_section(const char *desc, size_t len, size_t max,
			      char **out);

/*
 * The notes body: configured sections first (an MR goes to the first
 * section one of whose labels it has), then the remaining MRs by impact
 * ("Breaking changes", "Features", "Fixes", "Other changes"); MRs with an
 * exclusion label are left out. Entry: "- <title or text> ([!iid](url)
 * by @author)". No MR at all: "No changes.". out's cap applies (ST_ETOOBIG).
 */
int notes_render(const struct notes_config *c, const struct notes_mr *mrs,
		 size_t n, struct strbuf *out);

/*
 * notes itself when at most max bytes, else its longest prefix that ends
 * at a line end and leaves room for a last line linking the full
 * comparison: "…and more: see [the full list of changes](compare_url)."
 * (compare_url NULL: without the link). Never empty: a release is never
 * skipped for long notes.
 */
int notes_shorten(const char *notes, size_t max, const char *compare_url,
		  struct strbuf *out);

/* Append outside text made inert (see above); indent continuation lines
 * by `indent` spaces; indent 0: one line (newlines become blanks). */
int notes_escape(struct strbuf *out, const char *text, unsigned indent);

#endif
