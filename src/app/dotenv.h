/* SPDX-License-Identifier: MIT */
/* --once --dotenv FILE: the release's version for later pipeline jobs. */
#ifndef SEMVER_TAGGER_DOTENV_H
#define SEMVER_TAGGER_DOTENV_H

#include "semver-tagger/error.h"
#include "semver-tagger/release.h"

/*
 * Write FILE (GitLab's artifacts:reports:dotenv format, KEY=VALUE lines):
 *   SEMVER_TAGGER_RELEASED  true when this run released (or, dry run,
 *                           would release) a version, else false
 *   SEMVER_TAGGER_VERSION   that version; else the evaluated branch's
 *                           latest release ("" when there is none)
 *   SEMVER_TAGGER_TAG       its tag name (prefix + version)
 *   SEMVER_TAGGER_PREVIOUS  the release before it on the branch ("")
 *   SEMVER_TAGGER_NOTES     FILE.notes.md, which holds the release notes
 * Both files are replaced atomically (rename). branch: the evaluated
 * branch (NULL: the default branch). check: a merge-request pipeline's
 * validation, which releases nothing (RELEASED=false, the target
 * branch's latest release). ST_EIO naming the file.
 */
int dotenv_write(const char *path, const struct release_report *r,
		 const char *tag_prefix, const char *branch, bool check,
		 struct st_error *err);

#endif
