/* SPDX-License-Identifier: MIT */
/* gitrepo: ids, errors, opening, and reading commits. */
#include "gitrepo_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int gitrepo_oid_fromhex(const char *hex, struct gitrepo_oid *out)
{
	git_oid id;

	if (!hex || strlen(hex) != GITREPO_OID_HEXSZ ||
	    strspn(hex, "0123456789abcdefABCDEF") != GITREPO_OID_HEXSZ ||
	    git_oid_fromstr(&id, hex) < 0)
		return ST_EINVAL;
	gitrepo__from_git(&id, out);
	return 0;
}

void gitrepo_oid_tohex(const struct gitrepo_oid *id, char *buf)
{
	git_oid g;

	gitrepo__to_git(id, &g);
	git_oid_tostr(buf, GITREPO_OID_HEXSZ + 1, &g);
}

bool gitrepo_oid_equal(const struct gitrepo_oid *a, const struct gitrepo_oid *b)
{
	return memcmp(a->id, b->id, GITREPO_OID_RAWSZ) == 0;
}

bool gitrepo_oid_is_zero(const struct gitrepo_oid *id)
{
	static const struct gitrepo_oid zero;

	return gitrepo_oid_equal(id, &zero);
}

void gitrepo__to_git(const struct gitrepo_oid *in, git_oid *out)
{
	memcpy(out->id, in->id, GITREPO_OID_RAWSZ);
}

void gitrepo__from_git(const git_oid *in, struct gitrepo_oid *out)
{
	memcpy(out->id, in->id, GITREPO_OID_RAWSZ);
}

int64_t gitrepo_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gitrepo_deadline_in(int64_t ms)
{
	return gitrepo_now_ms() + ms;
}

int gitrepo__classify(int gitrc)
{
	const git_error *e = git_error_last();

	if (gitrc == GIT_EAUTH || gitrc == GIT_ECERTIFICATE)
		return ST_EAUTH;
	if (gitrc == GIT_ENOTFOUND)
		return ST_ENOTFOUND;
	if (!e)
		return ST_EIO;
	switch (e->klass) {
	case GIT_ERROR_NOMEMORY:
		return ST_ENOMEM;
	case GIT_ERROR_NET:
	case GIT_ERROR_SSL:
	case GIT_ERROR_HTTP:
	case GIT_ERROR_SSH:
	case GIT_ERROR_INDEXER: /* a pack cut short by the network */
	case GIT_ERROR_CALLBACK:
		return ST_ETEMP;
	default:
		return ST_EIO;
	}
}

int gitrepo__git_error(struct st_error *err, int gitrc, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	char ctx[ST_ERROR_MSG_MAX / 2];
	int code = gitrepo__classify(gitrc);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	return st_error_set(err, code, "%s: %s", ctx,
			    e && e->message ? e->message : "libgit2 error");
}

int gitrepo__open_git(const char *path, git_repository **out,
		      struct st_error *err)
{
	int rc = git_repository_open_ext(out, path,
					 GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);

	if (rc < 0)
		return gitrepo__git_error(err, rc, "open repository %s", path);
	return 0;
}

int gitrepo_process_init(size_t cache_bytes, size_t mapped_bytes,
			 unsigned open_packs)
{
	if (git_libgit2_init() < 0)
		return ST_EINTERNAL;
	if (git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE,
			     (ssize_t)cache_bytes) < 0 ||
	    git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT,
			     mapped_bytes) < 0 ||
	    git_libgit2_opts(GIT_OPT_SET_MWINDOW_FILE_LIMIT,
			     (size_t)open_packs) < 0)
		return ST_EINTERNAL;
	return ST_OK;
}

int gitrepo_open(const char *path, struct gitrepo **out, struct st_error *err)
{
	struct gitrepo *r;
	int rc;

	git_libgit2_init();
	r = calloc(1, sizeof(*r));
	if (r)
		r->path = strdup(path);
	if (!r || !r->path) {
		free(r);
		git_libgit2_shutdown();
		return st_error_set(err, ST_ENOMEM, "out of memory");
	}
	rc = gitrepo__open_git(path, &r->repo, err);
	if (rc) {
		gitrepo_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void gitrepo_free(struct gitrepo *repo)
{
	if (!repo)
		return;
	git_repository_free(repo->repo);
	free(repo->path);
	free(repo);
	git_libgit2_shutdown();
}

bool gitrepo_commit_exists(struct gitrepo *repo, const struct gitrepo_oid *id)
{
	git_commit *c;
	git_oid g;

	gitrepo__to_git(id, &g);
	if (git_commit_lookup(&c, repo->repo, &g) < 0) {
		git_error_clear();
		return false;
	}
	git_commit_free(c);
	return true;
}

int gitrepo_peel_commit(struct gitrepo *repo, const struct gitrepo_oid *id,
			struct gitrepo_oid *out, struct st_error *err)
{
	git_object *obj = NULL, *peeled = NULL;
	char hex[GITREPO_OID_HEXSZ + 1];
	git_oid g;
	int rc;

	gitrepo__to_git(id, &g);
	rc = git_object_lookup(&obj, repo->repo, &g, GIT_OBJECT_ANY);
	if (rc == 0)
		rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
	if (rc < 0) {
		gitrepo_oid_tohex(id, hex);
		git_object_free(obj);
		return gitrepo__git_error(err, rc, "object %s", hex);
	}
	gitrepo__from_git(git_object_id(peeled), out);
	git_object_free(peeled);
	git_object_free(obj);
	return 0;
}

/* Up to this many single-parent commits are followed before asking
 * libgit2's merge-base machinery. */
#define FIRST_PARENT_STEPS 16

/*
 * The usual question on a release branch (is the release commit under its
 * prep commit?) answered by following first parents through single-parent
 * commits: true is exact; false only means "ask the full check".
 */
static bool first_parents_reach(struct gitrepo *repo, const git_oid *head,
				const git_oid *ancestor)
{
	git_oid at = *head;

	for (int i = 0; i < FIRST_PARENT_STEPS; i++) {
		git_commit *c = NULL;
		bool single;

		if (git_commit_lookup(&c, repo->repo, &at) < 0) {
			git_error_clear();
			return false;
		}
		single = git_commit_parentcount(c) == 1;
		if (single)
			git_oid_cpy(&at, git_commit_parent_id(c, 0));
		git_commit_free(c);
		if (!single)
			return false;
		if (git_oid_equal(&at, ancestor))
			return true;
	}
	return false;
}

int gitrepo_is_ancestor(struct gitrepo *repo, const struct gitrepo_oid *ancestor,
			const struct gitrepo_oid *head, bool *out,
			struct st_error *err)
{
	char hex[GITREPO_OID_HEXSZ + 1];
	git_oid a, h;
	int rc;

	if (!gitrepo_commit_exists(repo, ancestor) ||
	    !gitrepo_commit_exists(repo, head)) {
		gitrepo_oid_tohex(gitrepo_commit_exists(repo, head) ? ancestor
								    : head,
				  hex);
		return st_error_set(err, ST_ENOTFOUND,
				    "commit %s is not in the mirror", hex);
	}
	gitrepo__to_git(ancestor, &a);
	gitrepo__to_git(head, &h);
	if (git_oid_equal(&a, &h) || first_parents_reach(repo, &h, &a)) {
		*out = true;
		return 0;
	}
	rc = git_graph_descendant_of(repo->repo, &h, &a);
	if (rc < 0)
		return gitrepo__git_error(err, rc, "ancestry check");
	*out = rc == 1;
	return 0;
}

int gitrepo_commit_parent(struct gitrepo *repo, const struct gitrepo_oid *id,
			  struct gitrepo_oid *out, struct st_error *err)
{
	git_commit *c = NULL;
	char hex[GITREPO_OID_HEXSZ + 1];
	int rc = gitrepo__commit_lookup(repo, id, &c, err);

	if (rc)
		return rc;
	if (git_commit_parentcount(c) == 0) {
		git_commit_free(c);
		gitrepo_oid_tohex(id, hex);
		return st_error_set(err, ST_ENOTFOUND,
				    "commit %s has no parent", hex);
	}
	gitrepo__from_git(git_commit_parent_id(c, 0), out);
	git_commit_free(c);
	return ST_OK;
}
