/* SPDX-License-Identifier: MIT */
/*
 * The mirror: a bare repository per project, created on first use and
 * fetched on every open. A clone is built in "<path>.new" and renamed into
 * place only once complete, so a process killed mid-clone leaves a ".new"
 * directory (removed at the next open), never a half-written mirror at
 * <path>. A mirror that still turns out broken (truncated pack, missing
 * objects, garbage refs, stale locks, another URL) is replaced the same
 * way: the old one is moved aside only after the new clone succeeded.
 */
#include "gitrepo_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Written after the first complete fetch: proves the clone finished and
 * records the URL it mirrors (never credentials: the URL has none). */
#define MARKER_FILE "semver-tagger-mirror"

struct fetch_job {
	const char *path, *url;
	const struct gitrepo_credentials *cred;
};

static int fetch_child(void *ctx, struct strbuf *reply, struct st_error *err)
{
	const struct fetch_job *job = ctx;

	(void)reply;
	return gitrepo__fetch_here(job->path, job->url, job->cred, err);
}

static int fetch_with_deadline(const char *path, const char *url,
			       const struct gitrepo_credentials *cred,
			       int64_t deadline_ms, struct st_error *err)
{
	struct fetch_job job = { path, url, cred };
	char what[ST_ERROR_MSG_MAX / 2];
	struct strbuf reply;
	int rc;

	snprintf(what, sizeof(what), "fetch from %s", url);
	strbuf_init(&reply, 1024);
	rc = gitrepo__run_child(what, deadline_ms, fetch_child, &job, &reply,
				err);
	strbuf_release(&reply);
	return rc;
}

static int write_marker(const char *dir, const char *url, struct st_error *err)
{
	char tmp[4096], final[4096];
	size_t n = strlen(url);
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s/" MARKER_FILE ".tmp", dir);
	snprintf(final, sizeof(final), "%s/" MARKER_FILE, dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return st_error_set(err, ST_EIO, "%s: %s", tmp, strerror(errno));
	ok = write(fd, url, n) == (ssize_t)n && write(fd, "\n", 1) == 1 &&
	     fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, final) < 0)
		return st_error_set(err, ST_EIO, "%s: %s", final, strerror(errno));
	return 0;
}

static bool marker_matches(const char *dir, const char *url)
{
	char path[4096], buf[4096];
	size_t n = strlen(url);
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "%s/" MARKER_FILE, dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	got = read(fd, buf, sizeof(buf));
	close(fd);
	return got == (ssize_t)n + 1 && memcmp(buf, url, n) == 0 &&
	       buf[n] == '\n';
}

/* Every ref's object (and an annotated tag's target) can be read. */
static int check_ref(git_repository *repo, git_odb *odb, git_reference *ref,
		     char *why, size_t size)
{
	const git_oid *id = git_reference_target(ref);
	git_object_t type;
	git_tag *tag = NULL;
	size_t len;
	int rc;

	if (!id)
		return 0; /* symbolic */
	rc = git_odb_read_header(&len, &type, odb, id);
	if (rc == 0 && type == GIT_OBJECT_TAG && git_reference_target_peel(ref)) {
		/* packed-refs names what the tag peels to: check that, without
		 * reading the tag object (1,000 tags: ~5 ms per open) */
		rc = git_odb_read_header(&len, &type, odb,
					 git_reference_target_peel(ref));
	} else if (rc == 0 && type == GIT_OBJECT_TAG) {
		rc = git_tag_lookup(&tag, repo, id);
		if (rc == 0)
			rc = git_odb_read_header(&len, &type, odb,
						 git_tag_target_id(tag));
		git_tag_free(tag);
	}
	if (rc < 0)
		snprintf(why, size, "%s unreadable: %s", git_reference_name(ref),
			 git_error_last() ? git_error_last()->message : "?");
	return rc;
}

static int check_refs(git_repository *repo, char *why, size_t size)
{
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	git_odb *odb = NULL;
	int rc;

	rc = git_repository_odb(&odb, repo);
	if (rc == 0)
		rc = git_reference_iterator_new(&it, repo);
	while (rc == 0 && (rc = git_reference_next(&ref, it)) == 0) {
		rc = check_ref(repo, odb, ref, why, size);
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	git_odb_free(odb);
	if (rc == GIT_ITEROVER)
		return 0;
	if (!*why)
		snprintf(why, size, "refs unreadable: %s",
			 git_error_last() ? git_error_last()->message : "?");
	return -1;
}

/* 0 when path holds a complete, readable mirror of url; else why says. */
static int mirror_check(const char *path, const char *url, char *why,
			size_t size)
{
	git_repository *repo = NULL;
	int rc;

	why[0] = '\0';
	rc = git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH,
				     NULL);
	if (rc < 0) {
		snprintf(why, size, "not a repository: %s",
			 git_error_last() ? git_error_last()->message : "?");
		return -1;
	}
	if (!git_repository_is_bare(repo))
		snprintf(why, size, "not a bare repository");
	else if (!marker_matches(path, url))
		snprintf(why, size, "no complete clone of this URL (marker %s missing or different)",
			 MARKER_FILE);
	else
		check_refs(repo, why, size);
	git_repository_free(repo);
	git_error_clear();
	return *why ? -1 : 0;
}

static int init_bare(const char *path, struct st_error *err)
{
	git_repository_init_options o;
	git_repository *repo = NULL;
	int rc;

	git_repository_init_options_init(&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH |
		  GIT_REPOSITORY_INIT_NO_REINIT;
	rc = git_repository_init_ext(&repo, path, &o);
	git_repository_free(repo);
	return rc < 0 ? gitrepo__git_error(err, rc, "create mirror %s", path) : 0;
}

static void fsync_parent(const char *path)
{
	char dir[4096];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd); /* make the renames durable */
		close(fd);
	}
}

struct mirror_paths {
	char fresh[4096]; /* <path>.new: a clone being built */
	char old[4096];   /* <path>.old: the replaced mirror, being removed */
};

static int mirror_paths(const char *path, struct mirror_paths *p,
			struct st_error *err)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 0 || n + 5 >= sizeof(p->fresh))
		return st_error_set(err, ST_ECONFIG, "bad mirror path");
	snprintf(p->fresh, sizeof(p->fresh), "%.*s.new", (int)n, path);
	snprintf(p->old, sizeof(p->old), "%.*s.old", (int)n, path);
	return 0;
}

/* Clone into p->fresh, then swap it in place of path. */
static int clone_and_swap(const char *path, const struct mirror_paths *p,
			  const char *url,
			  const struct gitrepo_credentials *cred,
			  int64_t deadline_ms, struct st_error *err)
{
	struct stat st;
	int rc;

	if (gitrepo__remove_tree(p->fresh) < 0)
		return st_error_set(err, ST_EIO, "remove %s: %s", p->fresh,
				    strerror(errno));
	rc = init_bare(p->fresh, err);
	if (!rc)
		rc = fetch_with_deadline(p->fresh, url, cred, deadline_ms, err);
	if (!rc)
		rc = write_marker(p->fresh, url, err);
	if (rc) {
		gitrepo__remove_tree(p->fresh);
		return rc;
	}
	if (lstat(path, &st) == 0 && rename(path, p->old) < 0)
		return st_error_set(err, ST_EIO, "move %s aside: %s", path,
				    strerror(errno));
	if (rename(p->fresh, path) < 0)
		return st_error_set(err, ST_EIO, "move %s into place: %s", path,
				    strerror(errno));
	fsync_parent(path);
	gitrepo__remove_tree(p->old);
	return 0;
}

static void report_reclone(struct gitrepo_mirror_report *r, const char *why)
{
	r->recloned = true;
	snprintf(r->warning, sizeof(r->warning),
		 "mirror unusable, cloned again: %s", why);
}

/* Fetch into a mirror that looked fine; local trouble means re-clone. */
static int refresh(const char *path, const struct mirror_paths *p,
		   const char *url, const struct gitrepo_credentials *cred,
		   int64_t deadline_ms, struct gitrepo_mirror_report *r,
		   struct st_error *err)
{
	struct st_error ferr;
	int rc;

	st_error_clear(&ferr);
	rc = fetch_with_deadline(path, url, cred, deadline_ms, &ferr);
	if (rc == ST_EIO) {
		report_reclone(r, ferr.msg);
		return clone_and_swap(path, p, url, cred, deadline_ms, err);
	}
	if (rc)
		st_error_set(err, rc, "%s", ferr.msg);
	return rc;
}

int gitrepo_open_mirror(const char *path, const char *url,
			const struct gitrepo_credentials *cred,
			int64_t deadline_ms, struct gitrepo **out,
			struct gitrepo_mirror_report *report,
			struct st_error *err)
{
	struct gitrepo_mirror_report dummy, *r = report ? report : &dummy;
	struct mirror_paths p;
	char why[ST_ERROR_MSG_MAX / 2];
	struct stat st;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = gitrepo__check_url(url, err);
	if (!rc)
		rc = mirror_paths(path, &p, err);
	if (rc)
		return rc;
	git_libgit2_init();
	/* leftovers of a killed clone or swap */
	gitrepo__remove_tree(p.fresh);
	gitrepo__remove_tree(p.old);
	if (lstat(path, &st) < 0) {
		r->created = true;
		rc = clone_and_swap(path, &p, url, cred, deadline_ms, err);
	} else if (mirror_check(path, url, why, sizeof(why)) < 0) {
		report_reclone(r, why);
		rc = clone_and_swap(path, &p, url, cred, deadline_ms, err);
	} else {
		rc = refresh(path, &p, url, cred, deadline_ms, r, err);
	}
	if (!rc)
		rc = gitrepo_open(path, out, err);
	git_libgit2_shutdown();
	return rc;
}

int gitrepo_fetch(struct gitrepo *repo, const char *url,
		  const struct gitrepo_credentials *cred, int64_t deadline_ms,
		  struct st_error *err)
{
	int rc = gitrepo__check_url(url, err);

	return rc ? rc
		  : fetch_with_deadline(repo->path, url, cred, deadline_ms, err);
}
