/* SPDX-License-Identifier: MIT */
/*
 * The repository engine (libgit2): a bare mirror of the project, its tags
 * and branches, reachability of merge request commits, the commits and tag
 * objects a release needs, and the one push that publishes them.
 *
 * Model: the remote is the truth, the mirror a cache. Mirror refs under
 * refs/heads and refs/tags are exactly the remote's after each fetch; this
 * module never moves them itself. Functions that "make" something (release
 * commit, tag object, merge, prep commit) write objects into the mirror's
 * object database and return their ids; the caller publishes them with
 * gitrepo_push(), whose compare-and-swap checks each ref against the value
 * the plan was made from.
 *
 * Network operations (open/fetch, push, remote refs) run in a child
 * process killed at the caller's deadline: libgit2 1.5 has no network
 * timeouts (docs/gitrepo.md says why and what was rejected).
 *
 * Threads: a struct gitrepo is used by one thread at a time; different
 * mirrors may be used from different threads. At most one gitrepo per
 * mirror directory at a time (the daemon serialises work per project).
 *
 * Errors follow error.h; ST_ETEMP (network, deadline), ST_EAUTH (token
 * rejected), ST_EIO (local disk/mirror), ST_ERACE (a concurrent runner
 * changed a ref first), ST_EREFUSED (a person must act: merge conflict,
 * protected branch), ST_ECONFLICT (a ref exists with another value).
 */
#ifndef SEMVER_TAGGER_GITREPO_H
#define SEMVER_TAGGER_GITREPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "semver-tagger/error.h"
#include "semver-tagger/semver.h"
#include "semver-tagger/strbuf.h"
#include "semver-tagger/versionfile.h"

/* ---- object ids ---- */

#define GITREPO_OID_RAWSZ 20
#define GITREPO_OID_HEXSZ 40

/* A SHA-1 object id; all zero = "none" (a ref that must not exist). */
struct gitrepo_oid {
	unsigned char id[GITREPO_OID_RAWSZ];
};

/* Exactly 40 hex digits (either case) -> id; ST_EINVAL otherwise. */
int gitrepo_oid_fromhex(const char *hex, struct gitrepo_oid *out);
/* 40 lowercase hex digits + NUL into buf (size >= GITREPO_OID_HEXSZ + 1). */
void gitrepo_oid_tohex(const struct gitrepo_oid *id, char *buf);
bool gitrepo_oid_equal(const struct gitrepo_oid *a, const struct gitrepo_oid *b);
bool gitrepo_oid_is_zero(const struct gitrepo_oid *id);

/* ---- deadlines ---- */

/* Absolute CLOCK_MONOTONIC time in milliseconds. */
int64_t gitrepo_now_ms(void);
/* Now + ms: a deadline for a network operation. */
int64_t gitrepo_deadline_in(int64_t ms);

/* ---- opening ---- */

struct gitrepo;

/*
 * Credentials for HTTPS: given to libgit2's credential callback only, and
 * only when the server asking is the host of the configured URL; at most
 * once per operation (a rejected token is not retried: GitLab bans an IP
 * after repeated failures). Never put into URLs, argv or the mirror's
 * config. token NULL = anonymous.
 */
struct gitrepo_credentials {
	const char *username; /* NULL = "oauth2" (any name works for a PAT) */
	const char *token;    /* secret */
};

/* What gitrepo_open_mirror() had to do, for the caller to log. */
struct gitrepo_mirror_report {
	bool created;  /* cloned because there was no mirror yet */
	bool recloned; /* the mirror was unusable and was replaced */
	char warning[ST_ERROR_MSG_MAX]; /* why it was replaced ("" if not) */
};

/*
 * Open the bare mirror at path for url, creating it on first use, and
 * fetch: all branches and tags, pruning refs deleted on the remote, and
 * the remote's default branch as HEAD. A mirror that is half-written,
 * corrupted, or was made for another URL is replaced by a fresh clone
 * (report->recloned, report->warning); a failed re-clone leaves the old
 * directory as it was. url: http(s)://host[:port]/path (no user info), or
 * file:// and absolute local paths (tests, read-only use).
 * report may be NULL. On error nothing is returned; the mirror may stay.
 */
int gitrepo_open_mirror(const char *path, const char *url,
			const struct gitrepo_credentials *cred,
			int64_t deadline_ms, struct gitrepo **out,
			struct gitrepo_mirror_report *report,
			struct st_error *err);

/* Open an existing repository (bare or not) without any network. */
int gitrepo_open(const char *path, struct gitrepo **out, struct st_error *err);

/* Fetch again into an open mirror (after a rejected push, for instance).
 * cred and url as for gitrepo_open_mirror(). */
int gitrepo_fetch(struct gitrepo *repo, const char *url,
		  const struct gitrepo_credentials *cred, int64_t deadline_ms,
		  struct st_error *err);

/* NULL is a no-op. */
void gitrepo_free(struct gitrepo *repo);

/*
 * For a long-lived process that opens many repositories (the daemon's
 * engine worker): keep libgit2 initialised for the process's life (its
 * init parses the whole CA bundle, ~4 ms, each time the last repository
 * closes) and bound what it keeps in memory: the object cache, the bytes
 * of pack windows mapped and the pack files held open, across every open
 * repository. Call once, before any other gitrepo call. 0 or ST_EINTERNAL.
 */
int gitrepo_process_init(size_t cache_bytes, size_t mapped_bytes,
			 unsigned open_packs);

/* ---- tags ---- */

struct gitrepo_tag {
	char *name;                 /* without "refs/tags/" */
	struct gitrepo_oid object;  /* what the ref holds (tag object or commit) */
	struct gitrepo_oid commit;  /* peeled commit; zero if not a commit */
	bool annotated;             /* object is a tag object */
	bool is_release;            /* prefix + M.m.p and peels to a commit */
	struct semver_ver ver;      /* valid when is_release */
};

struct gitrepo_tags {
	struct gitrepo_tag *all;           /* every tag, sorted by name */
	size_t nall;
	const struct gitrepo_tag **releases; /* releases, ascending precedence */
	size_t nreleases;
};

/*
 * All tags of the mirror; releases are recognised with
 * semver_release_from_tag(name, prefix). A name that is not a release
 * still exists (gitrepo_tags_find) and blocks creating that tag.
 */
int gitrepo_tags_list(struct gitrepo *repo, const char *prefix,
		      struct gitrepo_tags *out, struct st_error *err);
void gitrepo_tags_release(struct gitrepo_tags *tags);

/* The tag called name (without refs/tags/), or NULL. */
const struct gitrepo_tag *gitrepo_tags_find(const struct gitrepo_tags *tags,
					    const char *name);

/*
 * The highest release of a family: major and minor NULL = whole project;
 * major set = N.*.*; both set = N.M.*. NULL when the family has none.
 */
const struct gitrepo_tag *gitrepo_tags_latest(const struct gitrepo_tags *tags,
					      const uint64_t *major,
					      const uint64_t *minor);

/* ---- branches ---- */

struct gitrepo_branch {
	char *name;               /* "release/1.2" (without refs/heads/) */
	struct gitrepo_oid head;
};

struct gitrepo_branches {
	char *default_name;       /* HEAD's branch; NULL if the remote has none */
	struct gitrepo_oid default_head; /* zero if that branch has no commit */
	struct gitrepo_branch *release; /* names starting with the prefix, sorted */
	size_t nrelease;
};

/* The default branch and every branch under release_prefix ("release/"). */
int gitrepo_branches_list(struct gitrepo *repo, const char *release_prefix,
			  struct gitrepo_branches *out, struct st_error *err);
void gitrepo_branches_release(struct gitrepo_branches *b);

/* Head of branch name (no refs/heads/); ST_ENOTFOUND if absent. */
int gitrepo_branch_head(struct gitrepo *repo, const char *name,
			struct gitrepo_oid *out, struct st_error *err);

/*
 * The mirror's value of a full ref name ("refs/heads/release/1",
 * "refs/tags/1.2.0"): zero when it does not exist. Handy as the
 * expected_old of a push built from this cycle's snapshot.
 */
int gitrepo_ref_value(struct gitrepo *repo, const char *refname,
		      struct gitrepo_oid *out, struct st_error *err);

/* ---- commits and reachability ---- */

/* Is id a commit in the mirror? (MR commits may be missing: not reachable.) */
bool gitrepo_commit_exists(struct gitrepo *repo, const struct gitrepo_oid *id);

/* *out = ancestor is head or an ancestor of head. Both must exist. */
int gitrepo_is_ancestor(struct gitrepo *repo, const struct gitrepo_oid *ancestor,
			const struct gitrepo_oid *head, bool *out,
			struct st_error *err);

/* The first parent of commit id; ST_ENOTFOUND for a root commit. */
int gitrepo_commit_parent(struct gitrepo *repo, const struct gitrepo_oid *id,
			  struct gitrepo_oid *out, struct st_error *err);

/* Peel any object id (tag object or commit) to its commit. */
int gitrepo_peel_commit(struct gitrepo *repo, const struct gitrepo_oid *id,
			struct gitrepo_oid *out, struct st_error *err);

/* The commits reachable from head and not from since: a hash set. */
struct gitrepo_commitset;

/*
 * One revision walk: push head, hide since (NULL or zero = nothing hidden,
 * the virtual 0.0.0 release). Cost grows with the number of new commits,
 * not with history. head and since must exist (ST_ENOTFOUND).
 */
int gitrepo_new_commits(struct gitrepo *repo, const struct gitrepo_oid *head,
			const struct gitrepo_oid *since,
			struct gitrepo_commitset **out, struct st_error *err);
/* O(1); a commit missing from the repository is not in the set. */
bool gitrepo_commitset_has(const struct gitrepo_commitset *set,
			   const struct gitrepo_oid *id);
size_t gitrepo_commitset_count(const struct gitrepo_commitset *set);
/*
 * Iterate over the members, in no particular order: *pos = 0 first; each
 * call sets *out to the next member and returns true, or returns false
 * when none is left. O(capacity) for a whole pass.
 */
bool gitrepo_commitset_next(const struct gitrepo_commitset *set, size_t *pos,
			    struct gitrepo_oid *out);
void gitrepo_commitset_free(struct gitrepo_commitset *set);

/*
 * The file at path in commit's tree into out (whose max caps the size:
 * ST_ETOOBIG naming path), and its blob id when blob is not NULL.
 * ST_ENOTFOUND when there is no such file; ST_EINVAL when path is not a
 * regular file. Reads the object database only.
 */
int gitrepo_blob_at(struct gitrepo *repo, const struct gitrepo_oid *commit,
		    const char *path, struct strbuf *out,
		    struct gitrepo_oid *blob, struct st_error *err);

/*
 * The commit that last changed path on head's first-parent history (the
 * one a status about that file belongs on): walks back while the parent
 * has the same blob (or the same absence), at most max_commits steps.
 */
int gitrepo_file_changed_by(struct gitrepo *repo,
			    const struct gitrepo_oid *head, const char *path,
			    unsigned max_commits, struct gitrepo_oid *out,
			    struct st_error *err);

/* ---- making release objects (deterministic: same inputs, same ids) ---- */

struct signer; /* semver-tagger/signer.h */

/*
 * Sign every commit and tag object made from now on with signer
 * (borrowed: it must outlive its use here; NULL: unsigned again). Signed
 * objects are not deterministic (OpenPGP signatures carry a time), so a
 * caller that finds an object it would have made compares it with
 * gitrepo_commit_same_content().
 */
void gitrepo_set_signer(struct gitrepo *repo, struct signer *signer);

/*
 * *same = commits a and b are one commit apart from their signatures
 * (gpgsig headers): same tree, parents, author, committer and message.
 */
int gitrepo_commit_same_content(struct gitrepo *repo,
				const struct gitrepo_oid *a,
				const struct gitrepo_oid *b, bool *same,
				struct st_error *err);

/* The identity written into commits and tags the tool makes. */
struct gitrepo_identity {
	const char *name;
	const char *email;
};

/*
 * The version the project's files hold at commit (trimmed VERSION, root
 * pom's own <version>). ST_ENOTFOUND when the file is missing.
 */
int gitrepo_version_at(struct gitrepo *repo, const struct gitrepo_oid *commit,
		       const struct versionfile_spec *spec, char *buf,
		       size_t size, struct st_error *err);

/*
 * A commit whose only parent is parent and whose tree is parent's with the
 * managed files holding version; author and committer are who, at
 * parent's committer time. When nothing would change (simple, or the files
 * already hold version), *out = parent and *made = false.
 * message NULL: "Release <version>" / used as given otherwise.
 * Used for release commits (SPEC §6) and SNAPSHOT prep commits.
 */
int gitrepo_version_commit(struct gitrepo *repo, const struct gitrepo_oid *parent,
			   const struct versionfile_spec *spec,
			   const char *version, const struct gitrepo_identity *who,
			   const char *message, struct gitrepo_oid *out,
			   bool *made, struct st_error *err);

/* A file other than the version files that a release commit also writes
 * (the changelog). path: relative, inside the repository. */
struct gitrepo_file {
	const char *path;
	const char *content;
	size_t len;
};

/* gitrepo_version_commit() that also writes the n extra files; a commit
 * is made when a version file or an extra file changes. */
int gitrepo_release_commit(struct gitrepo *repo,
			   const struct gitrepo_oid *parent,
			   const struct versionfile_spec *spec,
			   const char *version,
			   const struct gitrepo_identity *who,
			   const char *message, const struct gitrepo_file *extra,
			   size_t n_extra, struct gitrepo_oid *out, bool *made,
			   struct st_error *err);

/* A file's bytes at commit (capped at VERSIONFILE_MAX_BYTES: ST_ETOOBIG);
 * ST_ENOTFOUND when it does not exist; ST_ECONFIG for a path that is not
 * inside the repository (absolute, "..", ".git"). */
int gitrepo_file_at(struct gitrepo *repo, const struct gitrepo_oid *commit,
		    const char *path, struct strbuf *out, struct st_error *err);

/* Is path usable as a repository file path (see gitrepo_file_at)? */
bool gitrepo_path_valid(const char *path);

/* *out = tag is an annotated tag object whose tagger is who (name and
 * email): a release this tool made (a lightweight tag: false). */
int gitrepo_tag_made_by(struct gitrepo *repo, const struct gitrepo_oid *tag,
			const struct gitrepo_identity *who, bool *out,
			struct st_error *err);

/* The commit's committer time (Unix seconds). */
int gitrepo_commit_time(struct gitrepo *repo, const struct gitrepo_oid *commit,
			int64_t *out, struct st_error *err);

/*
 * An annotated tag object (no ref) named tag_name pointing at commit, with
 * message, tagger who at commit's committer time. The ref is created by
 * gitrepo_push() with expected_old zero.
 */
int gitrepo_tag_object(struct gitrepo *repo, const char *tag_name,
		       const struct gitrepo_oid *commit,
		       const struct gitrepo_identity *who, const char *message,
		       struct gitrepo_oid *out, struct st_error *err);

enum gitrepo_merge_kind {
	GITREPO_MERGE_UP_TO_DATE,   /* commit already in branch: *out = head */
	GITREPO_MERGE_FAST_FORWARD, /* *out = commit */
	GITREPO_MERGE_COMMIT,       /* *out = a new merge commit */
};

struct gitrepo_merge_request {
	const char *branch;               /* for messages: "release/2" */
	struct gitrepo_oid branch_head;   /* the branch's current head */
	struct gitrepo_oid commit;        /* what to merge (the release commit) */
	const struct versionfile_spec *spec; /* managed files */
	const char *branch_version;       /* conflicts in managed files take it */
	const struct gitrepo_identity *who;
	const char *message;              /* NULL: "Merge <commit> into <branch>" */
	/* NULL, or the changelog the tool writes: a conflict there is
	 * settled by changelog_merge() (every release section of both
	 * sides, in version order). */
	const char *changelog_path;
};

/*
 * Merge commit into branch_head: fast-forward when possible, else a merge
 * commit (libgit2's merge machinery, in memory; parents head then commit;
 * time = the later of the two committer times). Conflicts confined to
 * managed version files are resolved by giving every side the branch's
 * version and merging again; any other conflict -> ST_EREFUSED naming the
 * branch and the paths.
 */
int gitrepo_merge(struct gitrepo *repo, const struct gitrepo_merge_request *req,
		  struct gitrepo_oid *out, enum gitrepo_merge_kind *kind,
		  struct st_error *err);

/* ---- push ---- */

#define GITREPO_PUSH_MAX 32
#define GITREPO_REFNAME_MAX 256
#define GITREPO_PUSH_MSG_MAX 512

/*
 * One ref to publish. refname is full ("refs/tags/1.2.0",
 * "refs/heads/release/1"). expected_old is the value the plan was made
 * from (zero: must not exist). Tags are only ever created (expected_old
 * zero); branches only move forward (new descends from expected_old).
 */
struct gitrepo_ref_update {
	const char *refname;
	struct gitrepo_oid expected_old;
	struct gitrepo_oid new_oid;
};

enum gitrepo_push_status {
	GITREPO_PUSH_OK,       /* the remote holds new_oid (updated now or already) */
	GITREPO_PUSH_RACE,     /* the remote holds something other than expected_old */
	GITREPO_PUSH_REJECTED, /* refused although it held expected_old (hook,
				  protection, non-fast-forward) */
	GITREPO_PUSH_NOT_SENT, /* not attempted: another ref failed first */
	GITREPO_PUSH_UNKNOWN,  /* sent, outcome unknown (connection lost): re-read */
};

struct gitrepo_push_result {
	enum gitrepo_push_status status;
	bool remote_known;            /* remote_oid below is valid */
	struct gitrepo_oid remote_oid; /* the remote's value when last seen (zero = absent) */
	struct gitrepo_oid remote_peeled; /* its peeled commit, when advertised */
	char message[GITREPO_PUSH_MSG_MAX]; /* the remote's reason (sideband text included) */
};

/*
 * Publish up to GITREPO_PUSH_MAX refs in one push, compare-and-swap on
 * each: connect, read the advertisement, and send nothing unless every ref
 * still holds expected_old (a ref already at new_oid counts as done);
 * then push (never forced) and take each ref's outcome from the server's
 * report; after any rejection re-read the remote to tell a concurrent
 * runner (ST_ERACE) from a refusal (ST_EREFUSED). results[i] describes
 * updates[i]. Returns 0 when every ref is OK, else ST_ERACE if any ref
 * raced, else ST_EREFUSED, ST_ETEMP (network, deadline, unknown outcome),
 * ST_EAUTH, ST_EINVAL (bad request: nothing sent).
 */
int gitrepo_push(struct gitrepo *repo, const char *url,
		 const struct gitrepo_credentials *cred,
		 const struct gitrepo_ref_update *updates, size_t n,
		 struct gitrepo_push_result *results, int64_t deadline_ms,
		 struct st_error *err);

/* The remote's refs, as advertised (one consistent snapshot). */
struct gitrepo_remote_ref {
	char *name;                 /* "refs/heads/main", "refs/tags/1.0.0", "HEAD" */
	struct gitrepo_oid oid;
	struct gitrepo_oid peeled;  /* annotated tags: the commit; else zero */
	char *symref_target;        /* HEAD: "refs/heads/main"; else NULL */
};

struct gitrepo_remote_refs {
	struct gitrepo_remote_ref *v; /* sorted by name */
	size_t n;
};

int gitrepo_remote_refs(struct gitrepo *repo, const char *url,
			const struct gitrepo_credentials *cred,
			int64_t deadline_ms, struct gitrepo_remote_refs *out,
			struct st_error *err);
void gitrepo_remote_refs_release(struct gitrepo_remote_refs *refs);
const struct gitrepo_remote_ref *
gitrepo_remote_refs_find(const struct gitrepo_remote_refs *refs,
			 const char *name);

#endif
