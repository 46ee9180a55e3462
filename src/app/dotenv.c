/* SPDX-License-Identifier: MIT */
/*
 * --dotenv: the outcome of a --once run as variables for later jobs of
 * the pipeline (GitLab reads KEY=VALUE lines; a value cannot hold a
 * newline and is taken as written, so only plain values are written).
 */
#include "dotenv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTES_SUFFIX ".notes.md"

/* Characters that mean the same to every dotenv reader. */
static bool plain(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("._+-/@,%", *s)))
			return false;
	return true;
}

/* The branch that released, else the evaluated (or default) branch. */
static const struct release_branch_report *
pick(const struct release_report *r, const char *branch, bool check)
{
	const char *want = branch ? branch : r->default_branch;

	if (check && r->n_branches == 1)
		return &r->branches[0];
	for (size_t i = 0; !check && i < r->n_branches; i++)
		if (r->branches[i].plan.release &&
		    r->branches[i].status == 0)
			return &r->branches[i];
	for (size_t i = 0; want && i < r->n_branches; i++)
		if (strcmp(r->branches[i].branch, want) == 0)
			return &r->branches[i];
	return NULL;
}

/* Write text to path through path.tmp and a rename. */
static int replace_file(const char *path, const char *text,
			struct st_error *err)
{
	char tmp[4200];
	FILE *f;
	int bad;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return st_error_set(err, ST_ECONFIG, "--dotenv: path too long");
	f = fopen(tmp, "w");
	if (!f)
		return st_error_set(err, ST_EIO, "--dotenv: %s: %s", tmp,
				    strerror(errno));
	bad = fputs(text, f) < 0;
	bad = fclose(f) != 0 || bad;
	if (bad || rename(tmp, path) != 0) {
		int e = errno;

		remove(tmp);
		return st_error_set(err, ST_EIO, "--dotenv: %s: %s", path,
				    strerror(e));
	}
	return ST_OK;
}

int dotenv_write(const char *path, const struct release_report *r,
		 const char *tag_prefix, const char *branch, bool check,
		 struct st_error *err)
{
	const struct release_branch_report *b = pick(r, branch, check);
	char ver[SEMVER_VER_STR_MAX] = "", prev[SEMVER_VER_STR_MAX] = "";
	char notes[4200], text[8800], tag[256] = "";
	bool released = !check && b && b->plan.release;
	int rc;

	if (strchr(path, '\n') || !plain(path) ||
	    (size_t)snprintf(notes, sizeof(notes), "%s%s", path,
			     NOTES_SUFFIX) >= sizeof(notes))
		return st_error_set(err, ST_ECONFIG, "--dotenv '%s': use a "
				    "plain file path (letters, digits, ._+-/@)",
				    path);
	if (released)
		semver_ver_format(&b->plan.next, ver, sizeof(ver));
	else if (b && b->plan.branch.has_latest)
		semver_ver_format(&b->plan.branch.latest, ver, sizeof(ver));
	if (released && b->plan.branch.has_latest)
		semver_ver_format(&b->plan.branch.latest, prev, sizeof(prev));
	if (ver[0] && tag_prefix && plain(tag_prefix))
		snprintf(tag, sizeof(tag), "%s%s", tag_prefix, ver);
	rc = replace_file(notes, released && b->notes ? b->notes : "", err);
	if (rc)
		return rc;
	snprintf(text, sizeof(text),
		 "SEMVER_TAGGER_RELEASED=%s\nSEMVER_TAGGER_VERSION=%s\n"
		 "SEMVER_TAGGER_TAG=%s\nSEMVER_TAGGER_PREVIOUS=%s\n"
		 "SEMVER_TAGGER_NOTES=%s\n", released ? "true" : "false", ver,
		 tag, prev, notes);
	return replace_file(path, text, err);
}
