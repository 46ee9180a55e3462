/* SPDX-License-Identifier: MIT */
/*
 * Merging a release commit into a release branch, in memory (the mirror is
 * bare): fast-forward when the branch is an ancestor; otherwise
 * git_merge_commits() into an in-memory index. The only conflicts settled
 * here are in the managed version files: every side is rewritten to the
 * branch's planned version and the file merged again, so a conflict that
 * was only about the version line disappears while any other change in
 * the same file still has to merge cleanly. Anything else is left to a
 * person (ST_EREFUSED naming the branch and the paths).
 */
#include "gitrepo_internal.h"

#include "semver-tagger/changelog.h"

#include <stdlib.h>
#include <string.h>

/* Copies, not pointers into the index: resolving edits the index. */
struct conflict {
	char *path;
	git_index_entry entry[3]; /* ancestor, ours, theirs */
	bool has[3];              /* false: absent on that side */
	git_oid resolved;
	bool ok;
};

/* An index of the array, not a pointer: the array is realloc'd. */
static const git_index_entry *side_of(const struct conflict *c, int s)
{
	return c->has[s] ? &c->entry[s] : NULL;
}

struct merge_state {
	struct gitrepo *repo;
	const struct gitrepo_merge_request *req;
	git_commit *ours, *theirs;
	git_index *index;
	struct conflict *c;
	size_t n;
	struct versionfile_changes managed_ours, managed_theirs;
	bool managed_known;
};

static int read_blob(git_repository *repo, const git_index_entry *e,
		     struct strbuf *out, struct st_error *err)
{
	git_blob *b = NULL;
	int rc = git_blob_lookup(&b, repo, &e->id);

	if (rc < 0)
		return gitrepo__git_error(err, rc, "read %s", e->path);
	strbuf_reset(out);
	rc = strbuf_add(out, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b));
	git_blob_free(b);
	return rc ? st_error_set(err, rc, "%s: too large", e->path) : 0;
}

/* Is path one of the files that carry the version on either side? */
static bool is_managed(const struct merge_state *m, const char *path)
{
	const struct versionfile_changes *sides[2] = { &m->managed_ours,
						       &m->managed_theirs };

	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < sides[s]->n; i++)
			if (strcmp(sides[s]->v[i].path, path) == 0)
				return true;
	return false;
}

/* One side's bytes with the branch version written in; *ok false when
 * the file cannot be read as a version file. */
static int normalised(struct merge_state *m, const git_index_entry *e,
		      struct strbuf *out, bool *ok, struct st_error *err)
{
	struct strbuf raw;
	struct st_error ignore;
	int rc;

	strbuf_init(&raw, VERSIONFILE_MAX_BYTES);
	rc = read_blob(m->repo->repo, e, &raw, err);
	st_error_clear(&ignore);
	*ok = !rc && versionfile_rewrite(m->req->spec->kind, e->path,
					 strbuf_str(&raw), raw.len,
					 m->req->branch_version, out,
					 &ignore) == 0;
	if (!rc && !*ok) {
		strbuf_reset(out);
		rc = strbuf_add(out, strbuf_str(&raw), raw.len);
	}
	strbuf_release(&raw);
	return rc;
}

static int merge_sides(struct merge_state *m, struct conflict *c,
		       struct strbuf side[3], struct st_error *err)
{
	git_merge_file_input in[3];
	git_merge_file_result res;
	int rc;

	for (int s = 0; s < 3; s++) {
		git_merge_file_input_init(&in[s], GIT_MERGE_FILE_INPUT_VERSION);
		in[s].ptr = strbuf_str(&side[s]);
		in[s].size = side[s].len;
		in[s].path = c->path;
		in[s].mode = c->has[s] ? c->entry[s].mode : 0;
	}
	memset(&res, 0, sizeof(res));
	rc = git_merge_file(&res, &in[0], &in[1], &in[2], NULL);
	if (rc < 0)
		return gitrepo__git_error(err, rc, "merge %s", c->path);
	c->ok = res.automergeable != 0;
	if (c->ok && (rc = git_blob_create_from_buffer(&c->resolved,
						       m->repo->repo, res.ptr,
						       res.len)) < 0)
		rc = gitrepo__git_error(err, rc, "write %s", c->path);
	git_merge_file_result_free(&res);
	return rc < 0 ? rc : 0;
}

/* Try to settle one conflict in a managed file. */
static int resolve_one(struct merge_state *m, struct conflict *c,
		       struct st_error *err)
{
	struct strbuf side[3];
	bool ok = true, side_ok;
	int rc = 0;

	c->ok = false;
	if (!c->has[1] || !c->has[2])
		return 0; /* deleted on one side: a person decides */
	for (int s = 0; s < 3; s++)
		strbuf_init(&side[s], VERSIONFILE_MAX_BYTES);
	for (int s = 0; s < 3 && !rc; s++) {
		if (!c->has[s])
			continue; /* added on both sides: empty ancestor */
		rc = normalised(m, side_of(c, s), &side[s], &side_ok, err);
		/* an ancestor without a version is fine; our/their files
		 * must be version files to be settled here */
		ok = ok && (side_ok || s == 0);
	}
	if (!rc && ok)
		rc = merge_sides(m, c, side, err);
	for (int s = 0; s < 3; s++)
		strbuf_release(&side[s]);
	return rc;
}

static int tree_reader_plan(struct merge_state *m, git_commit *c,
			    struct versionfile_changes *out,
			    struct st_error *err);

/* A conflict in the changelog: ours plus every release section of theirs
 * that ours lacks, in version order (changelog.h). */
static int resolve_changelog(struct merge_state *m, struct conflict *c,
			     struct st_error *err)
{
	struct strbuf side[2], out;
	int rc = 0;

	c->ok = false;
	if (!c->has[1] || !c->has[2])
		return 0; /* deleted on one side: a person decides */
	for (int s = 0; s < 2; s++)
		strbuf_init(&side[s], CHANGELOG_MAX_BYTES);
	strbuf_init(&out, 2 * CHANGELOG_MAX_BYTES);
	for (int s = 0; s < 2 && !rc; s++)
		rc = read_blob(m->repo->repo, side_of(c, s + 1), &side[s], err);
	if (!rc && changelog_merge(strbuf_str(&side[0]), side[0].len,
				   strbuf_str(&side[1]), side[1].len, &out) == 0) {
		rc = git_blob_create_from_buffer(&c->resolved, m->repo->repo,
						 strbuf_str(&out), out.len);
		if (rc < 0)
			rc = gitrepo__git_error(err, rc, "write %s", c->path);
		else
			c->ok = true;
	}
	for (int s = 0; s < 2; s++)
		strbuf_release(&side[s]);
	strbuf_release(&out);
	return rc;
}

static bool is_changelog(const struct merge_state *m, const char *path)
{
	return m->req->changelog_path &&
	       strcmp(m->req->changelog_path, path) == 0;
}

static int conflict_init(struct conflict *c, const char *path,
			 const git_index_entry *a, const git_index_entry *o,
			 const git_index_entry *t)
{
	const git_index_entry *in[3] = { a, o, t };

	memset(c, 0, sizeof(*c));
	c->path = strdup(path);
	if (!c->path)
		return ST_ENOMEM;
	for (int s = 0; s < 3; s++) {
		if (!in[s])
			continue;
		c->entry[s].mode = in[s]->mode;
		c->entry[s].id = in[s]->id;
		c->entry[s].path = c->path;
		c->has[s] = true;
	}
	return 0;
}

static int collect_conflicts(struct merge_state *m, struct st_error *err)
{
	git_index_conflict_iterator *it = NULL;
	const git_index_entry *a, *o, *t;
	int rc = git_index_conflict_iterator_new(&it, m->index);

	if (rc < 0)
		return gitrepo__git_error(err, rc, "merge conflicts");
	while ((rc = git_index_conflict_next(&a, &o, &t, it)) == 0) {
		struct conflict *v = realloc(m->c, (m->n + 1) * sizeof(*v));
		const git_index_entry *any = o ? o : t ? t : a;

		if (!v) {
			rc = st_error_set(err, ST_ENOMEM, "out of memory");
			break;
		}
		m->c = v;
		rc = conflict_init(&v[m->n], any->path, a, o, t);
		if (rc) {
			rc = st_error_set(err, rc, "out of memory");
			break;
		}
		m->n++;
	}
	git_index_conflict_iterator_free(it);
	return rc == GIT_ITEROVER ? 0 : rc;
}

static int refuse(struct merge_state *m, struct st_error *err)
{
	struct strbuf paths;
	char hex[GITREPO_OID_HEXSZ + 1];
	int rc;

	strbuf_init(&paths, ST_ERROR_MSG_MAX);
	for (size_t i = 0; i < m->n; i++)
		if (!m->c[i].ok)
			strbuf_addf(&paths, "%s%s", paths.len ? ", " : "",
				    m->c[i].path);
	gitrepo_oid_tohex(&m->req->commit, hex);
	rc = st_error_set(err, ST_EREFUSED,
			  "branch %s: merging %.12s conflicts in %s (only version files and the changelog are resolved automatically; merge by hand)",
			  m->req->branch, hex, strbuf_str(&paths));
	strbuf_release(&paths);
	return rc;
}

/* Replace each settled conflict by its merged blob at stage 0. */
static int apply_resolutions(struct merge_state *m, struct st_error *err)
{
	for (size_t i = 0; i < m->n; i++) {
		struct conflict *c = &m->c[i];
		git_index_entry e;
		int rc;

		memset(&e, 0, sizeof(e));
		e.mode = c->entry[1].mode;
		e.id = c->resolved;
		e.path = c->path;
		rc = git_index_conflict_remove(m->index, c->path);
		if (rc == 0)
			rc = git_index_add(m->index, &e);
		if (rc < 0)
			return gitrepo__git_error(err, rc, "resolve %s", c->path);
	}
	return 0;
}

static int resolve_conflicts(struct merge_state *m, struct st_error *err)
{
	bool all = true;
	int rc = collect_conflicts(m, err);

	if (!rc && m->req->spec && m->req->spec->kind != VERSIONFILE_SIMPLE) {
		rc = tree_reader_plan(m, m->ours, &m->managed_ours, err);
		if (!rc)
			rc = tree_reader_plan(m, m->theirs, &m->managed_theirs,
					      err);
		m->managed_known = !rc;
	}
	for (size_t i = 0; i < m->n && !rc; i++)
		if (is_changelog(m, m->c[i].path))
			rc = resolve_changelog(m, &m->c[i], err);
		else if (m->managed_known && is_managed(m, m->c[i].path))
			rc = resolve_one(m, &m->c[i], err);
	for (size_t i = 0; i < m->n; i++)
		all = all && m->c[i].ok;
	if (!rc && !all)
		return refuse(m, err);
	return rc ? rc : apply_resolutions(m, err);
}

static int tree_reader_plan(struct merge_state *m, git_commit *c,
			    struct versionfile_changes *out,
			    struct st_error *err)
{
	struct gitrepo__tree_reader r = { m->repo->repo, NULL };
	int rc = git_commit_tree(&r.tree, c);

	if (rc < 0)
		return gitrepo__git_error(err, rc, "commit tree");
	rc = versionfile_plan(m->req->spec, m->req->branch_version,
			      gitrepo__tree_read, &r, out, err);
	git_tree_free(r.tree);
	if (rc)
		st_error_prefix(err, "branch %s", m->req->branch);
	return rc;
}

/* Fast-forward or nothing to do? *done set when one applies. */
static int trivial_merge(struct merge_state *m, struct gitrepo_oid *out,
			 enum gitrepo_merge_kind *kind, bool *done,
			 struct st_error *err)
{
	const struct gitrepo_merge_request *q = m->req;
	bool in_branch = false, ff = false;
	int rc;

	*done = false;
	rc = gitrepo_is_ancestor(m->repo, &q->commit, &q->branch_head,
				 &in_branch, err);
	if (!rc && !in_branch)
		rc = gitrepo_is_ancestor(m->repo, &q->branch_head, &q->commit,
					 &ff, err);
	if (rc)
		return rc;
	if (in_branch || ff) {
		*out = in_branch ? q->branch_head : q->commit;
		*kind = in_branch ? GITREPO_MERGE_UP_TO_DATE
				  : GITREPO_MERGE_FAST_FORWARD;
		*done = true;
	}
	return 0;
}

/* The merge commit: parents (head, commit), at the later committer time. */
static int merge_commit(struct merge_state *m, git_oid *out,
			struct st_error *err)
{
	const git_signature *a = git_commit_committer(m->ours);
	const git_signature *b = git_commit_committer(m->theirs);
	const git_commit *parents[2] = { m->ours, m->theirs };
	char hex[GITREPO_OID_HEXSZ + 1], subject[GITREPO_REFNAME_MAX + 80];
	git_signature *sig = NULL;
	git_tree *tree = NULL;
	struct strbuf msg;
	git_oid tree_id;
	int rc;

	gitrepo_oid_tohex(&m->req->commit, hex);
	snprintf(subject, sizeof(subject), "'%s' into %s", hex, m->req->branch);
	strbuf_init(&msg, 64 * 1024);
	rc = gitrepo__signature_at(m->req->who, b->when.time > a->when.time ? b : a,
				   &sig, err);
	if (!rc && gitrepo__message_text(m->req->message, "Merge commit", subject,
					 &msg))
		rc = st_error_set(err, ST_ETOOBIG, "merge message too long");
	if (!rc && (rc = git_index_write_tree_to(&tree_id, m->index,
						 m->repo->repo)) < 0)
		rc = gitrepo__git_error(err, rc, "branch %s: write merged tree",
					m->req->branch);
	if (!rc && (rc = git_tree_lookup(&tree, m->repo->repo, &tree_id)) < 0)
		rc = gitrepo__git_error(err, rc, "read merged tree");
	if (!rc)
		rc = gitrepo__commit_create(m->repo, sig, strbuf_str(&msg),
					    tree, 2, parents, out,
					    "write merge commit", err);
	git_tree_free(tree);
	git_signature_free(sig);
	strbuf_release(&msg);
	return rc;
}

static int real_merge(struct merge_state *m, struct gitrepo_oid *out,
		      struct st_error *err)
{
	git_merge_options opts;
	git_oid id;
	int rc;

	git_merge_options_init(&opts, GIT_MERGE_OPTIONS_VERSION);
	rc = gitrepo__commit_lookup(m->repo, &m->req->branch_head, &m->ours, err);
	if (!rc)
		rc = gitrepo__commit_lookup(m->repo, &m->req->commit, &m->theirs,
					    err);
	if (!rc && (rc = git_merge_commits(&m->index, m->repo->repo, m->ours,
					   m->theirs, &opts)) < 0)
		rc = gitrepo__git_error(err, rc, "branch %s: merge",
					m->req->branch);
	if (!rc && git_index_has_conflicts(m->index))
		rc = resolve_conflicts(m, err);
	if (!rc)
		rc = merge_commit(m, &id, err);
	if (!rc)
		gitrepo__from_git(&id, out);
	return rc;
}

static void merge_state_release(struct merge_state *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->c[i].path);
	free(m->c);
	versionfile_changes_release(&m->managed_ours);
	versionfile_changes_release(&m->managed_theirs);
	git_index_free(m->index);
	git_commit_free(m->ours);
	git_commit_free(m->theirs);
}

int gitrepo_merge(struct gitrepo *repo, const struct gitrepo_merge_request *req,
		  struct gitrepo_oid *out, enum gitrepo_merge_kind *kind,
		  struct st_error *err)
{
	struct merge_state m;
	struct gitrepo_oid id;
	bool done;
	int rc;

	if (!req->branch || !req->who ||
	    (req->spec && req->spec->kind != VERSIONFILE_SIMPLE &&
	     !req->branch_version))
		return st_error_set(err, ST_EINVAL,
				    "merge: branch, identity and branch version are required");
	memset(&m, 0, sizeof(m));
	m.repo = repo;
	m.req = req;
	rc = trivial_merge(&m, out, kind, &done, err);
	if (rc || done) {
		if (rc)
			st_error_prefix(err, "branch %s", req->branch);
		return rc;
	}
	rc = real_merge(&m, &id, err);
	merge_state_release(&m);
	if (rc)
		return rc;
	*out = id;
	*kind = GITREPO_MERGE_COMMIT;
	return 0;
}
