/* SPDX-License-Identifier: MIT */
/* The repository settings file, from the mirror (engine_repofile.h). */
#include "engine_repofile.h"

#include "semver-tagger/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPOFILE_WALK_MAX 1000 /* commits searched for the one that
				* changed a bad file */


/* The commit the file is read at: the configured default branch, else
 * the mirror's HEAD (the server's default branch at the last fetch). */
static int head_commit(const struct engine_settings *s, struct gitrepo *repo,
		       struct gitrepo_oid *head, struct repofile_info *info,
		       struct st_error *err)
{
	char ref[300];

	if (s->cfg.default_branch) {
		snprintf(info->branch, sizeof(info->branch), "%s",
			 s->cfg.default_branch);
		snprintf(ref, sizeof(ref), "refs/heads/%s", s->cfg.default_branch);
	} else {
		snprintf(ref, sizeof(ref), "HEAD");
	}
	return gitrepo_ref_value(repo, ref, head, err);
}

static void blame(struct gitrepo *repo, const struct gitrepo_oid *head,
		  struct repofile_info *info)
{
	struct gitrepo_oid c;
	struct st_error e;

	st_error_clear(&e);
	if (gitrepo_file_changed_by(repo, head, CONFIG_REPO_FILE,
				    REPOFILE_WALK_MAX, &c, &e) == 0)
		gitrepo_oid_tohex(&c, info->bad_commit);
}

/* Parse the file at head into file (released by the caller). */
static int read_file(struct gitrepo *repo, const struct gitrepo_oid *head,
		     struct config_project *file, struct repofile_info *info,
		     struct st_error *err)
{
	struct strbuf sb;
	struct gitrepo_oid blob;
	int rc;

	memset(file, 0, sizeof(*file));
	strbuf_init(&sb, CONFIG_REPO_FILE_MAX);
	rc = gitrepo_blob_at(repo, head, CONFIG_REPO_FILE, &sb, &blob, err);
	if (rc == ST_ENOTFOUND) {
		strbuf_release(&sb);
		st_error_clear(err);
		return ST_OK;
	}
	if (rc == ST_ETOOBIG || rc == ST_EINVAL)
		rc = st_error_set(err, ST_ECONFIG, "%s: larger than %d bytes "
				  "or not a regular file", CONFIG_REPO_FILE,
				  CONFIG_REPO_FILE_MAX);
	if (!rc) {
		info->present = true;
		gitrepo_oid_tohex(&blob, info->blob);
		rc = config_repo_parse(CONFIG_REPO_FILE, strbuf_str(&sb), sb.len,
				       file, err);
	}
	strbuf_release(&sb);
	if (rc == ST_ECONFIG)
		blame(repo, head, info);
	return rc;
}

int engine_repo_settings(const struct engine_settings *s, struct gitrepo *repo,
			 struct config_project *out, struct repofile_info *info,
			 struct st_error *err)
{
	struct gitrepo *own = NULL;
	struct config_project file;
	struct gitrepo_oid head;
	char path[ENGINE_PATH_MAX];
	int rc = 0;

	memset(info, 0, sizeof(*info));
	memset(&file, 0, sizeof(file));
	if (config_project_copy(out, &s->cfg) != 0)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	if (!repo) {
		snprintf(path, sizeof(path), "%s/mirror.git", s->state_dir);
		if (access(path, F_OK) != 0)
			return ST_OK; /* first cycle: no mirror, no file yet */
		rc = gitrepo_open(path, &own, err);
		repo = own;
	}
	if (!rc) {
		info->mirror = true;
		rc = head_commit(s, repo, &head, info, err);
	}
	if (rc) {
		/* A mirror that does not open or has no HEAD: the release
		 * replaces or fills it; the file is read next cycle. */
		st_error_clear(err);
		gitrepo_free(own);
		return ST_OK;
	}
	if (!gitrepo_oid_is_zero(&head))
		rc = read_file(repo, &head, &file, info, err);
	if (!rc && info->present) {
		info->labels_set = file.label_major || file.label_minor ||
				   file.label_patch;
		if (config_project_overlay(out, &file) != 0)
			rc = st_error_set(err, ST_ENOMEM, "out of memory");
	}
	config_project_release(&file);
	gitrepo_free(own);
	if (rc)
		config_project_release(out);
	return rc;
}
