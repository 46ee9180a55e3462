/* SPDX-License-Identifier: MIT */
/*
 * CHANGELOG.md in GitLab's changelog format (pure): one section per
 * release, "## X.Y.Z (YYYY-MM-DD)" at a line start, newest version first,
 * so GitLab's own changelog API finds a version the tool wrote and adds
 * nothing. Anything before the first version heading (a "# Changelog"
 * title, an "## Unreleased" list) is kept on top; headings that are not
 * MAJOR.MINOR.PATCH belong to the section above them.
 */
#ifndef SEMVER_TAGGER_CHANGELOG_H
#define SEMVER_TAGGER_CHANGELOG_H

#include "semver-tagger/error.h"
#include "semver-tagger/semver.h"
#include "semver-tagger/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest changelog handled (bigger: ST_ETOOBIG naming the file). */
#define CHANGELOG_MAX_BYTES (16u * 1024u * 1024u)

/* Does text hold a section for v? */
bool changelog_has(const char *text, size_t len, const struct semver_ver *v);

/*
 * text with the section "## V (date)\n\nbody" inserted before the first
 * section of a lower version (at the end when there is none). text may be
 * empty (a new file: "# Changelog" title first). When text already has a
 * section for V, out gets text unchanged and *changed = false: a re-run
 * never adds a section twice. body is written as given (see notes.h for
 * how it is made inert). out is replaced.
 */
int changelog_insert(const char *text, size_t len, const struct semver_ver *v,
		     const char *date, const char *body, struct strbuf *out,
		     bool *changed);

/*
 * Settle a merge of two changelogs: ours, plus every version section of
 * theirs that ours lacks, each inserted in version order with its text
 * as theirs has it. The tool owns these sections, so this is the whole
 * resolution (SPEC §5: the tool resolves conflicts in files it manages).
 */
int changelog_merge(const char *ours, size_t olen, const char *theirs,
		    size_t tlen, struct strbuf *out);

/* "YYYY-MM-DD" (UTC) of a Unix time, into buf (>= 11 bytes). */
void changelog_date(int64_t unix_seconds, char *buf, size_t size);

#endif
