/* SPDX-License-Identifier: MIT */
/*
 * Release objects made from the object database alone (the mirror is bare:
 * no work tree, no index file): version commits and annotated tag objects.
 * Every input that varies between runners (clock, user config) is replaced
 * by one that does not (the parent's committer time, a configured
 * identity), so two runners computing the same release write the same ids.
 */
#include "gitrepo_internal.h"

#include <stdlib.h>
#include <string.h>

/* The blob's size from its object header, before it is loaded: a
 * 300 MB blob named like a version file cost 300 MB of memory when the
 * cap was checked after the load (issue 14 item 8). */
static int blob_size_ok(git_repository *repo, const git_oid *id,
			const char *path, size_t max, struct st_error *err)
{
	git_odb *odb = NULL;
	git_object_t type;
	size_t size = 0;
	int rc = git_repository_odb(&odb, repo);

	if (rc == 0)
		rc = git_odb_read_header(&size, &type, odb, id);
	git_odb_free(odb);
	if (rc < 0)
		return gitrepo__git_error(err, rc, "read %s", path);
	if (size > max)
		return st_error_set(err, ST_ETOOBIG, "%s: %zu bytes, larger "
				    "than %zu bytes", path, size, max);
	return 0;
}

/* versionfile_read_fn over a git tree. */
int gitrepo__tree_read(void *ctx, const char *path, struct strbuf *out,
		     struct st_error *err)
{
	struct gitrepo__tree_reader *r = ctx;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	int rc;

	rc = git_tree_entry_bypath(&e, r->tree, path);
	if (rc == GIT_ENOTFOUND) {
		git_error_clear();
		return ST_ENOTFOUND;
	}
	if (rc < 0)
		return gitrepo__git_error(err, rc, "read %s", path);
	if (git_tree_entry_filemode(e) != GIT_FILEMODE_BLOB &&
	    git_tree_entry_filemode(e) != GIT_FILEMODE_BLOB_EXECUTABLE) {
		git_tree_entry_free(e);
		return st_error_set(err, ST_EINVAL, "%s: not a regular file",
				    path);
	}
	rc = blob_size_ok(r->repo, git_tree_entry_id(e), path, out->max, err);
	if (rc == 0)
		rc = git_blob_lookup(&blob, r->repo, git_tree_entry_id(e));
	git_tree_entry_free(e);
	if (rc < 0 && !err->code)
		return gitrepo__git_error(err, rc, "read %s", path);
	if (rc < 0)
		return rc;
	strbuf_reset(out);
	if (strbuf_add(out, git_blob_rawcontent(blob),
		       (size_t)git_blob_rawsize(blob)))
		rc = st_error_set(err, ST_ETOOBIG, "%s: larger than %u bytes",
				  path, VERSIONFILE_MAX_BYTES);
	git_blob_free(blob);
	return rc;
}

int gitrepo__commit_lookup(struct gitrepo *repo, const struct gitrepo_oid *id,
			 git_commit **out, struct st_error *err)
{
	char hex[GITREPO_OID_HEXSZ + 1];
	git_oid g;
	int rc;

	gitrepo__to_git(id, &g);
	rc = git_commit_lookup(out, repo->repo, &g);
	if (rc < 0) {
		gitrepo_oid_tohex(id, hex);
		return gitrepo__git_error(err, rc, "commit %s", hex);
	}
	return 0;
}

int gitrepo_version_at(struct gitrepo *repo, const struct gitrepo_oid *commit,
		       const struct versionfile_spec *spec, char *buf,
		       size_t size, struct st_error *err)
{
	struct gitrepo__tree_reader r = { repo->repo, NULL };
	git_commit *c = NULL;
	struct strbuf v;
	int rc;

	rc = gitrepo__commit_lookup(repo, commit, &c, err);
	if (!rc && (rc = git_commit_tree(&r.tree, c)) < 0)
		rc = gitrepo__git_error(err, rc, "commit tree");
	strbuf_init(&v, size ? size - 1 : 0);
	if (!rc)
		rc = versionfile_current(spec, gitrepo__tree_read, &r, &v, err);
	if (!rc)
		snprintf(buf, size, "%s", strbuf_str(&v));
	strbuf_release(&v);
	git_tree_free(r.tree);
	git_commit_free(c);
	return rc;
}

int gitrepo__signature_at(const struct gitrepo_identity *who,
			const git_signature *when, git_signature **out,
			struct st_error *err)
{
	int rc;

	if (!who || !who->name || !who->email)
		return st_error_set(err, ST_ECONFIG, "no commit identity");
	rc = git_signature_new(out, who->name, who->email, when->when.time,
			       when->when.offset);
	if (rc < 0)
		return st_error_set(err, ST_ECONFIG, "identity '%s <%s>': %s",
				    who->name, who->email,
				    git_error_last() ? git_error_last()->message
						     : "invalid");
	return 0;
}

int gitrepo__message_text(const char *message, const char *fallback,
			const char *version, struct strbuf *out)
{
	size_t n;

	if (!message || !*message)
		return strbuf_addf(out, "%s %s\n", fallback, version);
	n = strlen(message);
	while (n > 0 && message[n - 1] == '\n')
		n--;
	if (strbuf_add(out, message, n) || strbuf_add(out, "\n", 1))
		return ST_ETOOBIG;
	return 0;
}

/* A blob for content and the tree update writing it at path. */
static int change_update(struct gitrepo__tree_reader *r,
			 const struct versionfile_change *c,
			 git_tree_update *up, struct st_error *err)
{
	git_tree_entry *e = NULL;
	int rc;

	rc = git_blob_create_from_buffer(&up->id, r->repo, strbuf_str(&c->content),
					 c->content.len);
	if (rc < 0)
		return gitrepo__git_error(err, rc, "write %s", c->path);
	up->action = GIT_TREE_UPDATE_UPSERT;
	up->path = c->path;
	up->filemode = GIT_FILEMODE_BLOB;
	if (git_tree_entry_bypath(&e, r->tree, c->path) == 0) {
		up->filemode = git_tree_entry_filemode(e); /* keep +x */
		git_tree_entry_free(e);
	}
	git_error_clear();
	return 0;
}

/* The parent's tree with every changed managed file replaced. */
static int write_tree(struct gitrepo__tree_reader *r,
		      const struct versionfile_changes *ch, git_oid *out,
		      struct st_error *err)
{
	git_tree_update *ups = calloc(ch->n ? ch->n : 1, sizeof(*ups));
	size_t n = 0;
	int rc = 0;

	if (!ups)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	for (size_t i = 0; i < ch->n && !rc; i++)
		if (ch->v[i].changed)
			rc = change_update(r, &ch->v[i], &ups[n++], err);
	if (!rc) {
		rc = git_tree_create_updated(out, r->repo, r->tree, n, ups);
		if (rc < 0)
			rc = gitrepo__git_error(err, rc, "write tree");
	}
	free(ups);
	return rc;
}

int gitrepo__commit_create(struct gitrepo *r, const git_signature *sig,
			   const char *message, const git_tree *tree,
			   size_t n_parents, const git_commit **parents,
			   git_oid *out, const char *what,
			   struct st_error *err)
{
	git_repository *repo = r->repo;
	const git_error *e;
	char why[256] = "object database write failed";
	git_odb *odb = NULL;
	git_oid id;
	int rc;

	if (r->signer)
		return gitrepo__commit_create_signed(r, sig, message, tree,
						     n_parents, parents, out,
						     what, err);
	rc = git_commit_create(&id, repo, NULL, sig, sig, NULL, message, tree,
			       n_parents, parents);
	if (rc < 0)
		return gitrepo__git_error(err, rc, "%s", what);
	/* git_commit_create() cleared the error state first: a message
	 * now comes from the failed write it did not report. */
	e = git_error_last();
	if (e && e->message)
		snprintf(why, sizeof(why), "%s", e->message);
	if ((rc = git_repository_odb(&odb, repo)) < 0)
		return gitrepo__git_error(err, rc, "%s: object database", what);
	rc = git_odb_exists(odb, &id) ? 0 :
	     st_error_set(err, ST_EIO, "%s: the commit was not stored: %s",
			  what, why);
	git_odb_free(odb);
	if (rc == 0)
		*out = id;
	return rc;
}

static int make_commit(struct gitrepo *repo, git_commit *parent,
		       const git_oid *tree_id, const struct gitrepo_identity *who,
		       const char *msg, git_oid *out, struct st_error *err)
{
	git_signature *sig = NULL;
	git_tree *tree = NULL;
	const git_commit *parents[1] = { parent };
	int rc;

	rc = gitrepo__signature_at(who, git_commit_committer(parent), &sig, err);
	if (!rc && (rc = git_tree_lookup(&tree, repo->repo, tree_id)) < 0)
		rc = gitrepo__git_error(err, rc, "read tree");
	if (!rc)
		rc = gitrepo__commit_create(repo, sig, msg, tree, 1,
					    parents, out, "write commit", err);
	git_tree_free(tree);
	git_signature_free(sig);
	return rc;
}

int gitrepo_version_commit(struct gitrepo *repo, const struct gitrepo_oid *parent,
			   const struct versionfile_spec *spec,
			   const char *version, const struct gitrepo_identity *who,
			   const char *message, struct gitrepo_oid *out,
			   bool *made, struct st_error *err)
{
	return gitrepo_release_commit(repo, parent, spec, version, who, message,
				      NULL, 0, out, made, err);
}

int gitrepo_release_commit(struct gitrepo *repo,
			   const struct gitrepo_oid *parent,
			   const struct versionfile_spec *spec,
			   const char *version,
			   const struct gitrepo_identity *who,
			   const char *message, const struct gitrepo_file *extra,
			   size_t n_extra, struct gitrepo_oid *out, bool *made,
			   struct st_error *err)
{
	struct gitrepo__tree_reader r = { repo->repo, NULL };
	struct versionfile_changes ch;
	git_commit *pc = NULL;
	struct strbuf msg;
	git_oid tree_id, id;
	int rc;

	versionfile_changes_init(&ch);
	strbuf_init(&msg, 64 * 1024);
	rc = gitrepo__commit_lookup(repo, parent, &pc, err);
	if (!rc && (rc = git_commit_tree(&r.tree, pc)) < 0)
		rc = gitrepo__git_error(err, rc, "commit tree");
	if (!rc)
		rc = versionfile_plan(spec, version, gitrepo__tree_read, &r, &ch, err);
	if (!rc && n_extra)
		rc = gitrepo__changes_add(&r, extra, n_extra, &ch, err);
	if (!rc && !versionfile_changes_any(&ch)) {
		*out = *parent; /* already holds the version: no commit */
		*made = false;
		goto done;
	}
	if (!rc && gitrepo__message_text(message, "Set version to", version, &msg))
		rc = st_error_set(err, ST_ETOOBIG, "commit message too long");
	if (!rc)
		rc = write_tree(&r, &ch, &tree_id, err);
	if (!rc)
		rc = make_commit(repo, pc, &tree_id, who, strbuf_str(&msg), &id,
				 err);
	if (!rc) {
		gitrepo__from_git(&id, out);
		*made = true;
	}
done:
	strbuf_release(&msg);
	versionfile_changes_release(&ch);
	git_tree_free(r.tree);
	git_commit_free(pc);
	return rc;
}

int gitrepo_tag_object(struct gitrepo *repo, const char *tag_name,
		       const struct gitrepo_oid *commit,
		       const struct gitrepo_identity *who, const char *message,
		       struct gitrepo_oid *out, struct st_error *err)
{
	char full[GITREPO_REFNAME_MAX];
	git_signature *sig = NULL;
	git_commit *c = NULL;
	struct strbuf msg;
	git_oid id;
	int rc, valid = 0;

	if ((size_t)snprintf(full, sizeof(full), "refs/tags/%s", tag_name) >=
		    sizeof(full) ||
	    git_reference_name_is_valid(&valid, full) < 0 || !valid)
		return st_error_set(err, ST_EINVAL, "invalid tag name '%s'",
				    tag_name);
	strbuf_init(&msg, 1024 * 1024);
	rc = gitrepo__commit_lookup(repo, commit, &c, err);
	if (!rc)
		rc = gitrepo__signature_at(who, git_commit_committer(c), &sig, err);
	if (!rc && gitrepo__message_text(message, "Release", tag_name, &msg))
		rc = st_error_set(err, ST_ETOOBIG, "tag message too long");
	if (!rc && (rc = git_tag_annotation_create(&id, repo->repo, tag_name,
						   (const git_object *)c, sig,
						   strbuf_str(&msg))) < 0)
		rc = gitrepo__git_error(err, rc, "tag %s", tag_name);
	/* Signed: git's form, the signature appended to that object. */
	if (!rc && repo->signer)
		rc = gitrepo__tag_sign(repo, &id, tag_name, err);
	if (!rc)
		gitrepo__from_git(&id, out);
	strbuf_release(&msg);
	git_signature_free(sig);
	git_commit_free(c);
	return rc;
}
