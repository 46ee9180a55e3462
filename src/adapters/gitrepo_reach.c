/* SPDX-License-Identifier: MIT */
/*
 * Reachability: one revision walk per evaluation (push the branch head,
 * hide the latest release's commit) collects the new commits into a hash
 * set; each MR commit is then one O(1) lookup. libgit2's walk with hidden
 * commits stops once everything left is uninteresting, so the cost follows
 * the number of new commits (plus a little slop), not the history.
 *
 * That stop is a date heuristic (like git's "slop"): with clock skew it
 * can end before a hidden path reaches commits already seen, and report
 * old commits as new (measured here on random DAGs with skewed dates).
 * It never hides a commit wrongly, so the candidate set C is a superset
 * of the answer. C is exact iff none of its minimal elements (members
 * with no parent in C) is an ancestor of the release commit: an extra
 * member would have all its C-ancestors extra too, down to a minimal one.
 * Those few checks use libgit2's merge-base painting, which is exact
 * (it runs until nothing unpainted is left). Only when one fails does
 * a full walk of the release's history remove the extras.
 *
 * Before any of that, the shape of a release branch (a short chain of
 * single-parent commits on top of the release commit) is answered by
 * following first parents: hundreds of release branches then cost a few
 * commit reads each instead of a walk and a merge-base check.
 */
#include "gitrepo_internal.h"

#include <stdlib.h>
#include <string.h>

/* Open addressing, linear probing; ids are uniformly distributed hashes,
 * so their first bytes are the hash. Load factor kept below 1/2. */
struct gitrepo_commitset {
	struct gitrepo_oid *slot;
	unsigned char *used;
	size_t cap; /* power of two */
	size_t count;
};

static size_t slot_of(const struct gitrepo_commitset *s,
		      const struct gitrepo_oid *id)
{
	uint64_t h;

	memcpy(&h, id->id, sizeof(h));
	return (size_t)h & (s->cap - 1);
}

static int set_init(struct gitrepo_commitset *s, size_t cap)
{
	s->slot = calloc(cap, sizeof(*s->slot));
	s->used = calloc(cap, 1);
	s->cap = cap;
	s->count = 0;
	if (!s->slot || !s->used) {
		free(s->slot);
		free(s->used);
		return ST_ENOMEM;
	}
	return 0;
}

static void set_put(struct gitrepo_commitset *s, const struct gitrepo_oid *id)
{
	size_t i = slot_of(s, id);

	while (s->used[i]) {
		if (gitrepo_oid_equal(&s->slot[i], id))
			return;
		i = (i + 1) & (s->cap - 1);
	}
	s->used[i] = 1;
	s->slot[i] = *id;
	s->count++;
}

static int set_add(struct gitrepo_commitset *s, const struct gitrepo_oid *id)
{
	if ((s->count + 1) * 2 > s->cap) {
		struct gitrepo_commitset bigger;

		if (s->cap > SIZE_MAX / 4 || set_init(&bigger, s->cap * 2))
			return ST_ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->used[i])
				set_put(&bigger, &s->slot[i]);
		free(s->slot);
		free(s->used);
		*s = bigger;
	}
	set_put(s, id);
	return 0;
}

bool gitrepo_commitset_has(const struct gitrepo_commitset *set,
			   const struct gitrepo_oid *id)
{
	size_t i = slot_of(set, id);

	while (set->used[i]) {
		if (gitrepo_oid_equal(&set->slot[i], id))
			return true;
		i = (i + 1) & (set->cap - 1);
	}
	return false;
}

size_t gitrepo_commitset_count(const struct gitrepo_commitset *set)
{
	return set->count;
}

bool gitrepo_commitset_next(const struct gitrepo_commitset *set, size_t *pos,
			    struct gitrepo_oid *out)
{
	for (size_t i = *pos; i < set->cap; i++) {
		if (set->used[i]) {
			*out = set->slot[i];
			*pos = i + 1;
			return true;
		}
	}
	*pos = set->cap;
	return false;
}

void gitrepo_commitset_free(struct gitrepo_commitset *set)
{
	if (!set)
		return;
	free(set->slot);
	free(set->used);
	free(set);
}

static int walk_setup(struct gitrepo *repo, git_revwalk *walk,
		      const struct gitrepo_oid *head,
		      const struct gitrepo_oid *since, struct st_error *err)
{
	char hex[GITREPO_OID_HEXSZ + 1];
	git_oid g;
	int rc;

	if (!gitrepo_commit_exists(repo, head)) {
		gitrepo_oid_tohex(head, hex);
		return st_error_set(err, ST_ENOTFOUND,
				    "branch head %s is not in the mirror", hex);
	}
	gitrepo__to_git(head, &g);
	rc = git_revwalk_push(walk, &g);
	if (rc < 0)
		return gitrepo__git_error(err, rc, "revision walk");
	if (!since || gitrepo_oid_is_zero(since))
		return 0;
	if (!gitrepo_commit_exists(repo, since)) {
		gitrepo_oid_tohex(since, hex);
		return st_error_set(err, ST_ENOTFOUND,
				    "release commit %s is not in the mirror", hex);
	}
	gitrepo__to_git(since, &g);
	rc = git_revwalk_hide(walk, &g);
	return rc < 0 ? gitrepo__git_error(err, rc, "revision walk") : 0;
}

static int walk_collect(git_revwalk *walk, struct gitrepo_commitset *set,
			struct st_error *err)
{
	git_oid g;
	int rc;

	while ((rc = git_revwalk_next(&g, walk)) == 0) {
		struct gitrepo_oid id;

		gitrepo__from_git(&g, &id);
		if (set_add(set, &id))
			return st_error_set(err, ST_ENOMEM, "out of memory");
	}
	if (rc != GIT_ITEROVER)
		return gitrepo__git_error(err, rc, "revision walk");
	return 0;
}

/* Is c minimal in set: none of its parents is a member? */
static int is_minimal(git_repository *repo, const struct gitrepo_commitset *set,
		      const struct gitrepo_oid *c, bool *out)
{
	git_commit *commit = NULL;
	git_oid g;
	int rc;

	gitrepo__to_git(c, &g);
	rc = git_commit_lookup(&commit, repo, &g);
	if (rc < 0)
		return rc;
	*out = true;
	for (unsigned int i = 0; i < git_commit_parentcount(commit); i++) {
		struct gitrepo_oid p;

		gitrepo__from_git(git_commit_parent_id(commit, i), &p);
		if (gitrepo_commitset_has(set, &p))
			*out = false;
	}
	git_commit_free(commit);
	return 0;
}

/* *exact = no minimal member of set is an ancestor of since. */
static int check_exact(struct gitrepo *repo, const struct gitrepo_commitset *set,
		       const struct gitrepo_oid *since, bool *exact,
		       struct st_error *err)
{
	git_oid s, c;
	int rc = 0;

	*exact = true;
	gitrepo__to_git(since, &s);
	for (size_t i = 0; i < set->cap && *exact && rc >= 0; i++) {
		bool minimal;

		if (!set->used[i])
			continue;
		rc = is_minimal(repo->repo, set, &set->slot[i], &minimal);
		if (rc < 0 || !minimal)
			continue;
		gitrepo__to_git(&set->slot[i], &c);
		rc = git_graph_descendant_of(repo->repo, &s, &c);
		*exact = rc != 1;
	}
	return rc < 0 ? gitrepo__git_error(err, rc, "ancestry check") : 0;
}

struct oid_stack {
	struct gitrepo_oid *v;
	size_t n, cap;
};

static int stack_push(struct oid_stack *s, const struct gitrepo_oid *id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		struct gitrepo_oid *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return ST_ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *id;
	return 0;
}

/* Push the parents of id not seen yet; a libgit2 error is returned as is. */
static int push_parents(git_repository *repo, const struct gitrepo_oid *id,
			struct gitrepo_commitset *seen, struct oid_stack *todo)
{
	git_commit *commit = NULL;
	git_oid g;
	int rc;

	gitrepo__to_git(id, &g);
	rc = git_commit_lookup(&commit, repo, &g);
	for (unsigned int i = 0; rc == 0 && i < git_commit_parentcount(commit); i++) {
		struct gitrepo_oid p;

		gitrepo__from_git(git_commit_parent_id(commit, i), &p);
		if (!gitrepo_commitset_has(seen, &p))
			rc = set_add(seen, &p) || stack_push(todo, &p) ? ST_ENOMEM : 0;
	}
	git_commit_free(commit);
	return rc;
}

/* Every commit reachable from since (the slow, exact path). */
static int walk_all(git_repository *repo, const struct gitrepo_oid *since,
		    struct gitrepo_commitset *seen, struct st_error *err)
{
	struct oid_stack todo = { NULL, 0, 0 };
	int rc = set_add(seen, since) || stack_push(&todo, since) ? ST_ENOMEM : 0;

	while (!rc && todo.n > 0) {
		struct gitrepo_oid id = todo.v[--todo.n];

		rc = push_parents(repo, &id, seen, &todo);
	}
	free(todo.v);
	if (rc == ST_ENOMEM)
		return st_error_set(err, rc, "out of memory");
	return rc < 0 ? gitrepo__git_error(err, rc, "history walk") : 0;
}

/* Remove from *set everything reachable from since. */
static int drop_reachable(struct gitrepo *repo, struct gitrepo_commitset *set,
			  const struct gitrepo_oid *since, struct st_error *err)
{
	struct gitrepo_commitset seen, kept;
	int rc;

	if (set_init(&seen, 1024) || set_init(&kept, 64)) {
		free(seen.slot);
		free(seen.used);
		return st_error_set(err, ST_ENOMEM, "out of memory");
	}
	rc = walk_all(repo->repo, since, &seen, err);
	for (size_t i = 0; !rc && i < set->cap; i++)
		if (set->used[i] && !gitrepo_commitset_has(&seen, &set->slot[i]))
			rc = set_add(&kept, &set->slot[i]) ?
				     st_error_set(err, ST_ENOMEM, "out of memory") : 0;
	free(seen.slot);
	free(seen.used);
	if (rc) {
		free(kept.slot);
		free(kept.used);
		return rc;
	}
	free(set->slot);
	free(set->used);
	*set = kept;
	return 0;
}

/* Longest chain of single-parent commits the shortcut follows. */
#define LINEAR_MAX 64

/*
 * The usual shape on a release branch: a few single-parent commits (a prep
 * commit, cherry-picked patches) straight on top of the release commit.
 * Then the new commits are exactly that chain (none of them can be an
 * ancestor of since, which is an ancestor of all of them), and no walk
 * or merge-base check is needed: *found = true with set filled. Anything
 * else (a merge, a root, a longer chain) leaves *found false.
 */
static int linear_chain(struct gitrepo *repo, const struct gitrepo_oid *head,
			const struct gitrepo_oid *since,
			struct gitrepo_commitset *set, bool *found)
{
	struct gitrepo_oid at = *head;
	int rc = 0;

	*found = false;
	for (int i = 0; rc == 0 && i < LINEAR_MAX; i++) {
		git_commit *c = NULL;
		git_oid g;

		gitrepo__to_git(&at, &g);
		if (git_commit_lookup(&c, repo->repo, &g) < 0) {
			git_error_clear();
			return 0; /* the walk reports it */
		}
		if (git_commit_parentcount(c) != 1) {
			git_commit_free(c);
			return 0;
		}
		rc = set_add(set, &at);
		gitrepo__from_git(git_commit_parent_id(c, 0), &at);
		git_commit_free(c);
		if (rc == 0 && gitrepo_oid_equal(&at, since)) {
			*found = gitrepo_commit_exists(repo, since);
			return 0;
		}
	}
	return rc;
}

int gitrepo_new_commits(struct gitrepo *repo, const struct gitrepo_oid *head,
			const struct gitrepo_oid *since,
			struct gitrepo_commitset **out, struct st_error *err)
{
	struct gitrepo_commitset *set = calloc(1, sizeof(*set));
	git_revwalk *walk = NULL;
	int rc;

	if (!set || set_init(set, 64)) {
		free(set);
		return st_error_set(err, ST_ENOMEM, "out of memory");
	}
	/* nothing new since the release: no walk at all */
	if (since && gitrepo_oid_equal(head, since) &&
	    gitrepo_commit_exists(repo, head)) {
		*out = set;
		return 0;
	}
	if (since && !gitrepo_oid_is_zero(since)) {
		bool found;

		if (linear_chain(repo, head, since, set, &found) != 0) {
			gitrepo_commitset_free(set);
			return st_error_set(err, ST_ENOMEM, "out of memory");
		}
		if (found) {
			*out = set;
			return 0;
		}
		set->count = 0;
		memset(set->used, 0, set->cap);
	}
	rc = git_revwalk_new(&walk, repo->repo);
	if (rc < 0)
		rc = gitrepo__git_error(err, rc, "revision walk");
	if (!rc) {
		git_revwalk_sorting(walk, GIT_SORT_NONE);
		rc = walk_setup(repo, walk, head, since, err);
	}
	if (!rc)
		rc = walk_collect(walk, set, err);
	git_revwalk_free(walk);
	if (!rc && since && !gitrepo_oid_is_zero(since)) {
		bool exact;

		rc = check_exact(repo, set, since, &exact, err);
		if (!rc && !exact)
			rc = drop_reachable(repo, set, since, err);
	}
	if (rc) {
		gitrepo_commitset_free(set);
		return rc;
	}
	*out = set;
	return 0;
}
