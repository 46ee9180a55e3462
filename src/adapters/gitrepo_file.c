/* SPDX-License-Identifier: MIT */
/*
 * Files read from a commit's tree in the bare mirror (the repository
 * settings file): no work tree, no API call. The caller caps the size
 * through its strbuf.
 */
#include "gitrepo_internal.h"

#include <string.h>

/* The blob id at path in commit's tree; zero id when there is none. */
static int blob_id_at(git_repository *r, const git_commit *c, const char *path,
		      git_oid *out, git_filemode_t *mode, struct st_error *err)
{
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	int rc = git_commit_tree(&tree, c);

	memset(out, 0, sizeof(*out));
	if (rc < 0)
		return gitrepo__git_error(err, rc, "commit tree");
	rc = git_tree_entry_bypath(&e, tree, path);
	git_tree_free(tree);
	if (rc == GIT_ENOTFOUND) {
		git_error_clear();
		return 0;
	}
	if (rc < 0)
		return gitrepo__git_error(err, rc, "read %s", path);
	git_oid_cpy(out, git_tree_entry_id(e));
	if (mode)
		*mode = git_tree_entry_filemode(e);
	git_tree_entry_free(e);
	(void)r;
	return 0;
}

int gitrepo_blob_at(struct gitrepo *repo, const struct gitrepo_oid *commit,
		    const char *path, struct strbuf *out,
		    struct gitrepo_oid *blob, struct st_error *err)
{
	git_commit *c = NULL;
	git_blob *b = NULL;
	git_filemode_t mode = 0;
	git_oid id;
	int rc;

	rc = gitrepo__commit_lookup(repo, commit, &c, err);
	if (!rc)
		rc = blob_id_at(repo->repo, c, path, &id, &mode, err);
	git_commit_free(c);
	if (rc)
		return rc;
	if (git_oid_is_zero(&id))
		return ST_ENOTFOUND;
	if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE)
		return st_error_set(err, ST_EINVAL, "%s: not a regular file",
				    path);
	rc = git_blob_lookup(&b, repo->repo, &id);
	if (rc < 0)
		return gitrepo__git_error(err, rc, "read %s", path);
	strbuf_reset(out);
	if (strbuf_add(out, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b)))
		rc = st_error_set(err, ST_ETOOBIG, "%s: larger than %zu bytes",
				  path, out->max);
	git_blob_free(b);
	if (!rc && blob)
		gitrepo__from_git(&id, blob);
	return rc;
}

int gitrepo_file_changed_by(struct gitrepo *repo,
			    const struct gitrepo_oid *head, const char *path,
			    unsigned max_commits, struct gitrepo_oid *out,
			    struct st_error *err)
{
	git_commit *cur = NULL, *parent = NULL;
	git_oid want, got;
	int rc = gitrepo__commit_lookup(repo, head, &cur, err);

	if (!rc)
		rc = blob_id_at(repo->repo, cur, path, &want, NULL, err);
	for (unsigned n = 0; !rc && n < max_commits; n++) {
		if (git_commit_parentcount(cur) == 0)
			break;
		rc = git_commit_parent(&parent, cur, 0);
		if (rc < 0) {
			rc = gitrepo__git_error(err, rc, "first parent");
			break;
		}
		rc = blob_id_at(repo->repo, parent, path, &got, NULL, err);
		if (rc || !git_oid_equal(&got, &want))
			break;
		git_commit_free(cur);
		cur = parent;
		parent = NULL;
	}
	if (!rc)
		gitrepo__from_git(git_commit_id(cur), out);
	git_commit_free(parent);
	git_commit_free(cur);
	return rc;
}
