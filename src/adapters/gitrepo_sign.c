/* SPDX-License-Identifier: MIT */
/*
 * Signed commits and tags, written the way git writes them (see git's
 * commit.c and builtin/tag.c): a commit carries its signature in a
 * "gpgsig" header over the unsigned commit's bytes; a tag object has the
 * signature appended after its message. libgit2 has a call for the first
 * (git_commit_create_with_signature) and none for the second, so the tag
 * is written with git_odb_write.
 */
#include "gitrepo_internal.h"
#include "semver-tagger/signer.h"

#include <string.h>

void gitrepo_set_signer(struct gitrepo *repo, struct signer *signer)
{
	repo->signer = signer;
}

/* Sign buf[0..len) into sig; with trim, without its last newline (libgit2
 * turns every newline of a header value into "\n " itself). */
static int sign(struct gitrepo *repo, const char *buf, size_t len,
		struct strbuf *sig, bool trim, const char *what,
		struct st_error *err)
{
	int rc = signer_sign(repo->signer, buf, len, sig, err);

	if (rc) {
		st_error_prefix(err, "%s", what);
		return rc;
	}
	while (trim && sig->len && sig->buf[sig->len - 1] == '\n')
		sig->buf[--sig->len] = '\0';
	return ST_OK;
}

int gitrepo__commit_create_signed(struct gitrepo *repo,
				  const git_signature *who,
				  const char *message, const git_tree *tree,
				  size_t n_parents, const git_commit **parents,
				  git_oid *out, const char *what,
				  struct st_error *err)
{
	git_buf buf = GIT_BUF_INIT;
	struct strbuf sig;
	git_oid id;
	int rc;

	strbuf_init(&sig, SIGNER_SIG_MAX);
	rc = git_commit_create_buffer(&buf, repo->repo, who, who, NULL,
				      message, tree, n_parents, parents);
	if (rc < 0)
		rc = gitrepo__git_error(err, rc, "%s", what);
	if (!rc)
		rc = sign(repo, buf.ptr, buf.size, &sig, true, what, err);
	if (!rc && (rc = git_commit_create_with_signature(
			    &id, repo->repo, buf.ptr, strbuf_str(&sig),
			    NULL)) < 0)
		rc = gitrepo__git_error(err, rc, "%s (signed)", what);
	if (!rc)
		*out = id;
	git_buf_dispose(&buf);
	strbuf_release(&sig);
	return rc;
}

int gitrepo__tag_sign(struct gitrepo *repo, git_oid *id, const char *name,
		      struct st_error *err)
{
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	struct strbuf body;
	git_oid signed_id;
	int rc;

	strbuf_init(&body, 2u * 1024 * 1024 + SIGNER_SIG_MAX);
	if ((rc = git_repository_odb(&odb, repo->repo)) < 0 ||
	    (rc = git_odb_read(&obj, odb, id)) < 0)
		rc = gitrepo__git_error(err, rc, "tag %s", name);
	if (!rc && strbuf_add(&body, git_odb_object_data(obj),
			      git_odb_object_size(obj)))
		rc = st_error_set(err, ST_ETOOBIG, "tag %s: too large", name);
	if (!rc) {
		/* git signs the tag's bytes and appends the signature */
		struct strbuf sig;
		char what[GITREPO_REFNAME_MAX + 8];

		snprintf(what, sizeof(what), "tag %s", name);
		strbuf_init(&sig, SIGNER_SIG_MAX);
		rc = sign(repo, body.buf, body.len, &sig, false, what, err);
		if (!rc && strbuf_add(&body, sig.buf, sig.len))
			rc = st_error_set(err, ST_ETOOBIG, "tag %s: too large",
					  name);
		strbuf_release(&sig);
	}
	if (!rc && (rc = git_odb_write(&signed_id, odb, body.buf, body.len,
				       GIT_OBJECT_TAG)) < 0)
		rc = gitrepo__git_error(err, rc, "write signed tag %s", name);
	if (!rc)
		*id = signed_id;
	git_odb_object_free(obj);
	git_odb_free(odb);
	strbuf_release(&body);
	return rc;
}

/* The commit's bytes without its signature headers (gpgsig, gpgsig-sha256
 * and their continuation lines). */
static int unsigned_bytes(struct gitrepo *repo, const struct gitrepo_oid *id,
			  struct strbuf *out, struct st_error *err)
{
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	const char *p, *end, *nl;
	bool in_sig = false, body = false;
	git_oid g;
	int rc;

	gitrepo__to_git(id, &g);
	if ((rc = git_repository_odb(&odb, repo->repo)) < 0 ||
	    (rc = git_odb_read(&obj, odb, &g)) < 0) {
		char hex[GITREPO_OID_HEXSZ + 1];

		gitrepo_oid_tohex(id, hex);
		rc = gitrepo__git_error(err, rc, "commit %s", hex);
	} else if (git_odb_object_type(obj) != GIT_OBJECT_COMMIT) {
		rc = st_error_set(err, ST_EINVAL, "not a commit");
	}
	p = rc ? NULL : git_odb_object_data(obj);
	end = rc ? NULL : p + git_odb_object_size(obj);
	for (; !rc && p < end; p = nl) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl ? nl + 1 : end;
		if (!body && *p == '\n')
			body = true;
		if (!body && *p != ' ')
			in_sig = (size_t)(nl - p) > 7 &&
				 strncmp(p, "gpgsig", 6) == 0 &&
				 (p[6] == ' ' || p[6] == '-');
		if ((body || !in_sig) && strbuf_add(out, p, (size_t)(nl - p)))
			rc = st_error_set(err, ST_ETOOBIG, "commit too large");
	}
	git_odb_object_free(obj);
	git_odb_free(odb);
	return rc;
}

int gitrepo_commit_same_content(struct gitrepo *repo,
				const struct gitrepo_oid *a,
				const struct gitrepo_oid *b, bool *same,
				struct st_error *err)
{
	struct strbuf x, y;
	int rc;

	if (gitrepo_oid_equal(a, b)) {
		*same = true;
		return ST_OK;
	}
	strbuf_init(&x, 4u * 1024 * 1024);
	strbuf_init(&y, 4u * 1024 * 1024);
	rc = unsigned_bytes(repo, a, &x, err);
	if (!rc)
		rc = unsigned_bytes(repo, b, &y, err);
	if (!rc)
		*same = x.len == y.len && memcmp(x.buf, y.buf, x.len) == 0;
	strbuf_release(&x);
	strbuf_release(&y);
	return rc;
}
