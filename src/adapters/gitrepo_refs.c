/* SPDX-License-Identifier: MIT */
/* gitrepo: tags (release recognition through the SemVer core) and branches. */
#include "gitrepo_internal.h"

#include <stdlib.h>
#include <string.h>

#define TAGS_PREFIX "refs/tags/"
#define HEADS_PREFIX "refs/heads/"

/*
 * From packed-refs' peel line when there is one (git and libgit2 record
 * the peeled object of every annotated tag they pack; fetch packs the
 * mirror's refs): the tag object itself need not be read, only the type
 * of what it peels to. 1 when t was filled this way, 0 when not known.
 */
static int tag_read_packed(git_odb *odb, git_reference *res,
			   struct gitrepo_tag *t)
{
	const git_oid *target = git_reference_target(res);
	const git_oid *peel = git_reference_target_peel(res);
	git_object_t type;
	size_t len;

	if (!odb || !target || !peel || git_oid_equal(peel, target) ||
	    git_odb_read_header(&len, &type, odb, peel) != 0) {
		git_error_clear();
		return 0;
	}
	gitrepo__from_git(target, &t->object);
	t->annotated = true;
	if (type == GIT_OBJECT_COMMIT)
		gitrepo__from_git(peel, &t->commit);
	return 1;
}

/* Fill t from ref: object, peeled commit (zero when not a commit). */
static int tag_read(git_repository *repo, git_odb *odb, git_reference *ref,
		    struct gitrepo_tag *t, struct st_error *err)
{
	git_object *obj = NULL, *peeled = NULL;
	git_reference *res = NULL;
	int rc;

	rc = git_reference_resolve(&res, ref);
	if (rc == 0 && tag_read_packed(odb, res, t)) {
		git_reference_free(res);
		return 0;
	}
	if (rc == 0)
		rc = git_object_lookup(&obj, repo, git_reference_target(res),
				       GIT_OBJECT_ANY);
	if (rc < 0) {
		git_reference_free(res);
		return gitrepo__git_error(err, rc == GIT_ENOTFOUND ? -1 : rc,
					  "tag %s", git_reference_name(ref));
	}
	gitrepo__from_git(git_object_id(obj), &t->object);
	t->annotated = git_object_type(obj) == GIT_OBJECT_TAG;
	rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
	if (rc == 0)
		gitrepo__from_git(git_object_id(peeled), &t->commit);
	else
		git_error_clear(); /* a tag of a tree or blob: not a release */
	git_object_free(peeled);
	git_object_free(obj);
	git_reference_free(res);
	return 0;
}

static int tag_cmp_name(const void *a, const void *b)
{
	const struct gitrepo_tag *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int tag_cmp_ver(const void *a, const void *b)
{
	const struct gitrepo_tag *x = *(const struct gitrepo_tag *const *)a;
	const struct gitrepo_tag *y = *(const struct gitrepo_tag *const *)b;
	int c = semver_ver_compare(&x->ver, &y->ver);

	return c ? c : strcmp(x->name, y->name);
}

static int tags_grow(struct gitrepo_tags *t, size_t *cap, struct st_error *err)
{
	struct gitrepo_tag *v;
	size_t ncap;

	if (t->nall < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	v = realloc(t->all, ncap * sizeof(*v));
	if (!v)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	t->all = v;
	*cap = ncap;
	return 0;
}

static int tags_index_releases(struct gitrepo_tags *t, struct st_error *err)
{
	size_t n = 0;

	t->releases = calloc(t->nall ? t->nall : 1, sizeof(*t->releases));
	if (!t->releases)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	if (t->nall > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(t->all, t->nall, sizeof(*t->all), tag_cmp_name);
	for (size_t i = 0; i < t->nall; i++)
		if (t->all[i].is_release)
			t->releases[n++] = &t->all[i];
	if (n > 1)
		qsort(t->releases, n, sizeof(*t->releases), tag_cmp_ver);
	t->nreleases = n;
	return 0;
}

static int tags_collect(struct gitrepo *repo, const char *prefix,
			struct gitrepo_tags *t, struct st_error *err)
{
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	git_odb *odb = NULL;
	size_t cap = 0;
	int rc;

	if (git_repository_odb(&odb, repo->repo) < 0) {
		git_error_clear(); /* then every tag object is read */
		odb = NULL;
	}
	rc = git_reference_iterator_glob_new(&it, repo->repo, TAGS_PREFIX "*");
	if (rc < 0) {
		git_odb_free(odb);
		return gitrepo__git_error(err, rc, "list tags");
	}
	while ((rc = git_reference_next(&ref, it)) == 0) {
		struct gitrepo_tag *tag;

		rc = tags_grow(t, &cap, err);
		if (rc)
			break;
		tag = &t->all[t->nall];
		memset(tag, 0, sizeof(*tag));
		rc = tag_read(repo->repo, odb, ref, tag, err);
		tag->name = rc ? NULL
			       : strdup(git_reference_name(ref) + strlen(TAGS_PREFIX));
		if (!rc && !tag->name)
			rc = st_error_set(err, ST_ENOMEM, "out of memory");
		git_reference_free(ref);
		if (rc)
			break;
		tag->is_release = !gitrepo_oid_is_zero(&tag->commit) &&
				  semver_release_from_tag(tag->name, prefix,
							  &tag->ver) == 1;
		t->nall++;
	}
	git_reference_iterator_free(it);
	git_odb_free(odb);
	if (rc == GIT_ITEROVER)
		return 0;
	return rc < 0 && !(err && err->code) ? gitrepo__git_error(err, rc, "list tags")
					     : rc;
}

int gitrepo_tags_list(struct gitrepo *repo, const char *prefix,
		      struct gitrepo_tags *out, struct st_error *err)
{
	struct gitrepo_tags t = { 0 };
	int rc;

	rc = tags_collect(repo, prefix ? prefix : "", &t, err);
	if (!rc)
		rc = tags_index_releases(&t, err);
	if (rc) {
		gitrepo_tags_release(&t);
		return rc;
	}
	*out = t;
	return 0;
}

void gitrepo_tags_release(struct gitrepo_tags *tags)
{
	if (!tags)
		return;
	for (size_t i = 0; i < tags->nall; i++)
		free(tags->all[i].name);
	free(tags->all);
	free(tags->releases);
	memset(tags, 0, sizeof(*tags));
}

const struct gitrepo_tag *gitrepo_tags_find(const struct gitrepo_tags *tags,
					    const char *name)
{
	struct gitrepo_tag key;

	if (!tags->nall)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.name = (char *)name;
	return bsearch(&key, tags->all, tags->nall, sizeof(key), tag_cmp_name);
}

const struct gitrepo_tag *gitrepo_tags_latest(const struct gitrepo_tags *tags,
					      const uint64_t *major,
					      const uint64_t *minor)
{
	for (size_t i = tags->nreleases; i-- > 0;) {
		const struct gitrepo_tag *t = tags->releases[i];

		if (major && t->ver.major != *major)
			continue;
		if (minor && t->ver.minor != *minor)
			continue;
		return t;
	}
	return NULL;
}

/* ---- branches ---- */

int gitrepo_branch_head(struct gitrepo *repo, const char *name,
			struct gitrepo_oid *out, struct st_error *err)
{
	char full[GITREPO_REFNAME_MAX];
	git_oid id;
	int rc;

	if ((size_t)snprintf(full, sizeof(full), HEADS_PREFIX "%s", name) >=
	    sizeof(full))
		return st_error_set(err, ST_EINVAL, "branch name too long");
	rc = git_reference_name_to_id(&id, repo->repo, full);
	if (rc == GIT_ENOTFOUND) {
		git_error_clear();
		return st_error_set(err, ST_ENOTFOUND,
				    "branch %s does not exist", name);
	}
	if (rc < 0)
		return gitrepo__git_error(err, rc, "branch %s", name);
	gitrepo__from_git(&id, out);
	return 0;
}

/* HEAD names the remote's default branch (set by every fetch). */
static int read_default(struct gitrepo *repo, struct gitrepo_branches *b,
			struct st_error *err)
{
	git_reference *head = NULL;
	const char *target;
	int rc;

	rc = git_reference_lookup(&head, repo->repo, "HEAD");
	if (rc < 0)
		return gitrepo__git_error(err, rc, "read HEAD");
	target = git_reference_symbolic_target(head);
	if (target && strncmp(target, HEADS_PREFIX, strlen(HEADS_PREFIX)) == 0) {
		b->default_name = strdup(target + strlen(HEADS_PREFIX));
		if (!b->default_name) {
			git_reference_free(head);
			return st_error_set(err, ST_ENOMEM, "out of memory");
		}
		rc = gitrepo_branch_head(repo, b->default_name,
					 &b->default_head, NULL);
		if (rc && rc != ST_ENOTFOUND) {
			git_reference_free(head);
			return gitrepo_branch_head(repo, b->default_name,
						   &b->default_head, err);
		}
	}
	git_reference_free(head);
	return 0;
}

static int branch_add(struct gitrepo_branches *b, git_reference *ref,
		      const char *name, struct st_error *err)
{
	struct gitrepo_branch *v;
	const git_oid *id = git_reference_target(ref);

	if (!id)
		return 0; /* a symbolic ref under refs/heads: not a branch head */
	v = realloc(b->release, (b->nrelease + 1) * sizeof(*v));
	if (!v)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	b->release = v;
	v[b->nrelease].name = strdup(name);
	if (!v[b->nrelease].name)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	gitrepo__from_git(id, &v[b->nrelease].head);
	b->nrelease++;
	return 0;
}

static int branch_cmp(const void *a, const void *b)
{
	return strcmp(((const struct gitrepo_branch *)a)->name,
		      ((const struct gitrepo_branch *)b)->name);
}

static int read_release_branches(struct gitrepo *repo, const char *prefix,
				 struct gitrepo_branches *b,
				 struct st_error *err)
{
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	int rc;

	rc = git_reference_iterator_glob_new(&it, repo->repo, HEADS_PREFIX "*");
	if (rc < 0)
		return gitrepo__git_error(err, rc, "list branches");
	while ((rc = git_reference_next(&ref, it)) == 0) {
		const char *name = git_reference_name(ref) + strlen(HEADS_PREFIX);

		if (strncmp(name, prefix, strlen(prefix)) == 0)
			rc = branch_add(b, ref, name, err);
		git_reference_free(ref);
		if (rc)
			break;
	}
	git_reference_iterator_free(it);
	if (rc != GIT_ITEROVER)
		return rc < 0 && !(err && err->code)
			       ? gitrepo__git_error(err, rc, "list branches")
			       : rc;
	if (b->nrelease > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(b->release, b->nrelease, sizeof(*b->release), branch_cmp);
	return 0;
}

int gitrepo_branches_list(struct gitrepo *repo, const char *release_prefix,
			  struct gitrepo_branches *out, struct st_error *err)
{
	struct gitrepo_branches b = { 0 };
	int rc;

	rc = read_default(repo, &b, err);
	if (!rc)
		rc = read_release_branches(repo,
					   release_prefix ? release_prefix
							  : "release/",
					   &b, err);
	if (rc) {
		gitrepo_branches_release(&b);
		return rc;
	}
	*out = b;
	return 0;
}

void gitrepo_branches_release(struct gitrepo_branches *b)
{
	if (!b)
		return;
	free(b->default_name);
	for (size_t i = 0; i < b->nrelease; i++)
		free(b->release[i].name);
	free(b->release);
	memset(b, 0, sizeof(*b));
}

int gitrepo_ref_value(struct gitrepo *repo, const char *refname,
		      struct gitrepo_oid *out, struct st_error *err)
{
	git_oid id;
	int rc = git_reference_name_to_id(&id, repo->repo, refname);

	if (rc == GIT_ENOTFOUND) {
		git_error_clear();
		memset(out, 0, sizeof(*out));
		return 0;
	}
	if (rc < 0)
		return gitrepo__git_error(err, rc, "ref %s", refname);
	gitrepo__from_git(&id, out);
	return 0;
}
