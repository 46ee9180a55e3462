/* SPDX-License-Identifier: MIT */
/* Shared by the gitrepo_*.c files only. */
#ifndef SEMVER_TAGGER_GITREPO_INTERNAL_H
#define SEMVER_TAGGER_GITREPO_INTERNAL_H

#include <git2.h>

#include "semver-tagger/gitrepo.h"
#include "semver-tagger/strbuf.h"

struct gitrepo {
	git_repository *repo;
	char *path;
	struct signer *signer; /* borrowed (gitrepo_set_signer); NULL: unsigned */
};

/* Largest answer a network child may send back (remote ref lists). */
#define GITREPO_CHILD_REPLY_MAX (64u * 1024u * 1024u)

/* Conversions between our oid and libgit2's. */
void gitrepo__to_git(const struct gitrepo_oid *in, git_oid *out);
void gitrepo__from_git(const git_oid *in, struct gitrepo_oid *out);

/*
 * Record a libgit2 failure: code classified from gitrc and the last
 * libgit2 error (network -> ST_ETEMP, auth -> ST_EAUTH, not found ->
 * ST_ENOTFOUND, else ST_EIO), message = context + ": " + libgit2's text.
 * Returns the status.
 */
int gitrepo__git_error(struct st_error *err, int gitrc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The status gitrepo__git_error() would pick. */
int gitrepo__classify(int gitrc);

/* Open a repository at path with libgit2 (no search upwards). */
int gitrepo__open_git(const char *path, git_repository **out,
		      struct st_error *err);

/* ---- objects (gitrepo_commit.c) ---- */

/* versionfile_read_fn over a git tree (ctx: struct gitrepo__tree_reader). */
struct gitrepo__tree_reader {
	git_repository *repo;
	git_tree *tree;
};
int gitrepo__tree_read(void *ctx, const char *path, struct strbuf *out,
		       struct st_error *err);

int gitrepo__commit_lookup(struct gitrepo *repo, const struct gitrepo_oid *id,
			   git_commit **out, struct st_error *err);

/* who at the time (and zone) of when: the deterministic signature. */
int gitrepo__signature_at(const struct gitrepo_identity *who,
			  const git_signature *when, git_signature **out,
			  struct st_error *err);

/* git_commit_create() (no ref update), then a check that the commit is in
 * the object database: libgit2 1.5.1 returns 0 when writing the object
 * failed (commit.c keeps the status of the buffer step, not of
 * git_odb_write; measured with a full disk). ST_EIO naming what. */
int gitrepo__commit_create(struct gitrepo *repo, const git_signature *sig,
			   const char *message, const git_tree *tree,
			   size_t n_parents, const git_commit **parents,
			   git_oid *out, const char *what,
			   struct st_error *err);

/* ---- signatures (gitrepo_sign.c) ---- */

/* The same commit signed with repo->signer: git_commit_create_buffer,
 * sign, git_commit_create_with_signature ("gpgsig" header). */
int gitrepo__commit_create_signed(struct gitrepo *repo,
				  const git_signature *sig,
				  const char *message, const git_tree *tree,
				  size_t n_parents, const git_commit **parents,
				  git_oid *out, const char *what,
				  struct st_error *err);

/* Replace *id (an unsigned tag object) by the same tag with
 * repo->signer's signature appended, as git tag -s writes it. */
int gitrepo__tag_sign(struct gitrepo *repo, git_oid *id, const char *name,
		      struct st_error *err);

/* message with exactly one trailing newline (git's convention), or
 * "<fallback> <subject>\n" when message is NULL or empty. */
int gitrepo__message_text(const char *message, const char *fallback,
			  const char *subject, struct strbuf *out);

/* ---- extra files (gitrepo_files.c) ---- */
int gitrepo__changes_add(struct gitrepo__tree_reader *r,
			 const struct gitrepo_file *extra, size_t n,
			 struct versionfile_changes *ch, struct st_error *err);

/* ---- network child (gitrepo_child.c) ---- */

/*
 * Work done in the child: libgit2 calls on its own freshly opened
 * repository, answer appended to reply, status returned (err filled).
 */
typedef int (*gitrepo_child_fn)(void *ctx, struct strbuf *reply,
				struct st_error *err);

/*
 * Run fn in a forked child and wait for its answer until deadline_ms;
 * past it the child is killed (SIGKILL) and reaped: ST_ETEMP.
 * what names the operation in messages ("fetch from <url>").
 */
int gitrepo__run_child(const char *what, int64_t deadline_ms,
		       gitrepo_child_fn fn, void *ctx, struct strbuf *reply,
		       struct st_error *err);

/* Little-endian framing helpers for child answers. */
int gitrepo__put_u32(struct strbuf *sb, uint32_t v);
int gitrepo__put_bytes(struct strbuf *sb, const void *p, size_t n);
int gitrepo__put_str(struct strbuf *sb, const char *s); /* NULL allowed */

struct gitrepo_wire {
	const char *p;
	size_t len, pos;
	bool bad; /* set on any read past the end */
};

uint32_t gitrepo__get_u32(struct gitrepo_wire *w);
void gitrepo__get_bytes(struct gitrepo_wire *w, void *out, size_t n);
/* malloc'd copy; NULL for an encoded NULL or on error (w->bad). */
char *gitrepo__get_str(struct gitrepo_wire *w, bool *was_null);

/* ---- network plumbing (gitrepo_net.c) ---- */

/* Per-connection state behind libgit2's callbacks. */
struct gitrepo_net {
	const char *url;
	char host[256];       /* scheme://host[:port] of url; "" for local */
	const struct gitrepo_credentials *cred;
	int cred_calls;       /* how often libgit2 asked */
	bool gave_up;         /* we refused to answer (again, or wrong host) */
	char why[256];        /* why we refused */
	char sideband[2048];  /* remote: text (hook messages) */
	size_t sideband_len;
	int tips_updated;     /* refs a fetch changed */
};

/* ST_ECONFIG unless url is http(s)://host/... without user info, file://
 * or an absolute path. */
int gitrepo__check_url(const char *url, struct st_error *err);

void gitrepo__net_init(struct gitrepo_net *net, const char *url,
		       const struct gitrepo_credentials *cred);

/* Callbacks wired to net (credentials, sideband capture). */
void gitrepo__net_callbacks(struct gitrepo_net *net, git_remote_callbacks *cb);

/* Turn a network failure into an error (auth refusal named as such). */
int gitrepo__net_error(struct gitrepo_net *net, struct st_error *err,
		       int gitrc, const char *what);

/* Connect an anonymous remote for url in direction (redirects off). */
int gitrepo__net_connect(git_repository *repo, struct gitrepo_net *net,
			 int direction, git_remote **out, struct st_error *err);

/* Fetch all heads and tags with prune into the repository at path; the
 * remote's default branch becomes HEAD. Runs in the calling process. */
int gitrepo__fetch_here(const char *path, const char *url,
			const struct gitrepo_credentials *cred,
			struct st_error *err);

/* Remove a directory tree (no symlinks followed). 0 or -1 (errno). */
int gitrepo__remove_tree(const char *path);

#endif
