/* SPDX-License-Identifier: MIT */
/*
 * The repository settings file (CONFIG_REPO_FILE) of a project, read from
 * its mirror as the previous cycle fetched it (no API call): a change
 * takes effect on the next cycle after it lands. Precedence: the file
 * over the daemon's settings ([project] > [group] > [global]).
 */
#ifndef SEMVER_TAGGER_APP_ENGINE_REPOFILE_H
#define SEMVER_TAGGER_APP_ENGINE_REPOFILE_H

#include "engine.h"
#include "semver-tagger/gitrepo.h"

struct repofile_info {
	bool mirror;         /* there was a mirror to read it from */
	bool present;        /* the default branch has the file */
	bool labels_set;     /* it sets label patterns */
	char blob[72];       /* its blob id ("" when absent) */
	/* A bad file: the commit that last changed it (for the failed
	 * status) and the message (file:line: key ...). */
	char bad_commit[72];
	char branch[256];    /* the default branch it was read from */
};

/*
 * out = a copy of s->cfg with the file's keys over it. repo: the open
 * mirror (warm), or NULL to open <state_dir>/mirror.git if it exists (no
 * mirror yet: no file yet). ST_ECONFIG for a bad file (err names the
 * file, line and key; info->bad_commit set when known), with out
 * released: the previous settings are never used for a changed file.
 */
int engine_repo_settings(const struct engine_settings *s, struct gitrepo *repo,
			 struct config_project *out, struct repofile_info *info,
			 struct st_error *err);

#endif
