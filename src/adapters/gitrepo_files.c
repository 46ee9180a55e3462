/* SPDX-License-Identifier: MIT */
/*
 * Files other than the version files that a release commit carries (the
 * changelog): reading one at a commit, the commit's time (for the
 * changelog's date: the release commit's own, so every runner writes the
 * same bytes), and adding such files to a version commit's changes.
 */
#include "gitrepo_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A path we write into a tree: relative, no "." or ".." component, no
 * empty component, no control characters, not under .git. */
bool gitrepo_path_valid(const char *path)
{
	size_t n = path ? strlen(path) : 0;
	const char *p = path;

	if (n == 0 || n > VERSIONFILE_PATH_MAX || path[0] == '/' ||
	    path[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f ||
		    path[i] == '\\')
			return false;
	while (p && *p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.') ||
		    (len == 4 && strncasecmp(p, ".git", 4) == 0))
			return false;
		p = slash ? slash + 1 : NULL;
	}
	return true;
}

int gitrepo_file_at(struct gitrepo *repo, const struct gitrepo_oid *commit,
		    const char *path, struct strbuf *out, struct st_error *err)
{
	struct gitrepo__tree_reader r = { repo->repo, NULL };
	git_commit *c = NULL;
	int rc;

	if (!gitrepo_path_valid(path))
		return st_error_set(err, ST_ECONFIG, "'%s' is not a file path "
				    "inside the repository", path ? path : "");
	rc = gitrepo__commit_lookup(repo, commit, &c, err);
	if (!rc && (rc = git_commit_tree(&r.tree, c)) < 0)
		rc = gitrepo__git_error(err, rc, "commit tree");
	if (!rc)
		rc = gitrepo__tree_read(&r, path, out, err);
	git_tree_free(r.tree);
	git_commit_free(c);
	return rc;
}

int gitrepo_commit_time(struct gitrepo *repo, const struct gitrepo_oid *commit,
			int64_t *out, struct st_error *err)
{
	git_commit *c = NULL;
	int rc = gitrepo__commit_lookup(repo, commit, &c, err);

	if (!rc)
		*out = (int64_t)git_commit_committer(c)->when.time;
	git_commit_free(c);
	return rc;
}

/* Append each extra file to ch, changed when its bytes differ from the
 * tree's (a missing file is created). */
int gitrepo__changes_add(struct gitrepo__tree_reader *r,
			 const struct gitrepo_file *extra, size_t n,
			 struct versionfile_changes *ch, struct st_error *err)
{
	for (size_t i = 0; i < n; i++) {
		struct versionfile_change *v, *grown;
		struct strbuf cur;
		int rc;

		if (!gitrepo_path_valid(extra[i].path))
			return st_error_set(err, ST_ECONFIG, "'%s' is not a file "
					    "path inside the repository",
					    extra[i].path ? extra[i].path : "");
		grown = realloc(ch->v, (ch->n + 1) * sizeof(*grown));
		if (!grown)
			return st_error_set(err, ST_ENOMEM, "out of memory");
		ch->v = grown;
		v = &ch->v[ch->n];
		memset(v, 0, sizeof(*v));
		strbuf_init(&v->content, extra[i].len + 1);
		v->path = strdup(extra[i].path);
		if (!v->path || strbuf_add(&v->content, extra[i].content,
					   extra[i].len) != 0) {
			free(v->path);
			strbuf_release(&v->content);
			return st_error_set(err, ST_ENOMEM, "out of memory");
		}
		ch->n++;
		strbuf_init(&cur, VERSIONFILE_MAX_BYTES);
		rc = gitrepo__tree_read(r, extra[i].path, &cur, err);
		if (rc == ST_ENOTFOUND) {
			st_error_clear(err);
			v->created = v->changed = true;
			rc = 0;
		} else if (rc == 0) {
			v->changed = cur.len != extra[i].len ||
				     memcmp(strbuf_str(&cur), extra[i].content,
					    cur.len) != 0;
		}
		strbuf_release(&cur);
		if (rc)
			return rc;
	}
	return 0;
}

int gitrepo_tag_made_by(struct gitrepo *repo, const struct gitrepo_oid *tag,
			const struct gitrepo_identity *who, bool *out,
			struct st_error *err)
{
	const git_signature *s;
	git_tag *t = NULL;
	git_oid g;
	int rc;

	*out = false;
	gitrepo__to_git(tag, &g);
	rc = git_tag_lookup(&t, repo->repo, &g);
	if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC) {
		git_error_clear();
		return 0; /* a lightweight tag: no tagger, not ours */
	}
	if (rc < 0)
		return gitrepo__git_error(err, rc, "read tag object");
	s = git_tag_tagger(t);
	*out = s && who && who->name && who->email && s->name && s->email &&
	       strcmp(s->name, who->name) == 0 &&
	       strcmp(s->email, who->email) == 0;
	git_tag_free(t);
	return 0;
}
