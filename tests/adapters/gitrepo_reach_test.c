/* SPDX-License-Identifier: MIT */
/*
 * Reachability cross-checked against git itself on random DAGs: merges,
 * criss-crosses (random merges of random earlier commits), orphan roots,
 * and committer dates that go backwards (clock skew), which date-based
 * walk limits get wrong. Every set is compared with `git rev-list head
 * ^since` computed exactly (two unlimited walks), and sampled commits
 * with `git merge-base --is-ancestor`.
 */
#include <check.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gitrepo_testutil.h"

#define NDAGS 200
#define MAXN 28

static char root[4096], repo_path[4096];

struct dag {
	git_oid c[MAXN];
	int n;
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int pick(int n)
{
	return (int)(rnd() % (uint64_t)n);
}

static void make_commit(git_repository *repo, const git_oid *tree_id,
			struct dag *d, int k, int dagno)
{
	const git_commit *parents[3];
	git_commit *owned[3] = { NULL, NULL, NULL };
	git_signature *sig;
	git_tree *tree;
	char msg[64];
	int np = 0, kind = k == 0 ? 0 : pick(10);
	int64_t when = 1600000000 + k * 60 - (pick(4) == 0 ? pick(86400) : 0);

	/* 1 in 10 an orphan root, 3 in 10 a merge (sometimes octopus) */
	if (kind >= 1)
		parents[np++] = NULL;
	if (kind >= 7 && k >= 2)
		parents[np++] = NULL;
	if (kind == 9 && k >= 3)
		parents[np++] = NULL;
	for (int p = 0; p < np; p++) {
		int idx;
		bool dup;

		do {
			/* mostly recent commits, sometimes far back */
			idx = pick(3) ? k - 1 - pick(k < 3 ? k : 3) : pick(k);
			dup = false;
			for (int q = 0; q < p; q++)
				dup = dup || git_oid_equal(git_commit_id(owned[q]),
							   &d->c[idx]);
		} while (dup);
		ck_assert_int_eq(git_commit_lookup(&owned[p], repo, &d->c[idx]), 0);
		parents[p] = owned[p];
	}
	snprintf(msg, sizeof(msg), "dag %d commit %d\n", dagno, k);
	ck_assert_int_eq(git_signature_new(&sig, "T", "t@example.invalid", when, 0), 0);
	ck_assert_int_eq(git_tree_lookup(&tree, repo, tree_id), 0);
	ck_assert_int_eq(git_commit_create(&d->c[k], repo, NULL, sig, sig, NULL,
					   msg, tree, (size_t)np, parents), 0);
	git_tree_free(tree);
	git_signature_free(sig);
	for (int p = 0; p < np; p++)
		git_commit_free(owned[p]);
}

static void make_dag(git_repository *repo, const git_oid *tree, struct dag *d,
		     int dagno)
{
	d->n = 6 + pick(MAXN - 6);
	for (int k = 0; k < d->n; k++)
		make_commit(repo, tree, d, k, dagno);
}

static void setup(void)
{
	tu_env();
	tu_tmpdir(root, sizeof(root));
	snprintf(repo_path, sizeof(repo_path), "%s/dags.git", root);
	ck_assert_int_eq(tu_sh("git init -q --bare '%s'", repo_path), 0);
}

static void teardown(void)
{
	tu_rmrf(root);
}

static void hex_of(const git_oid *g, char *out)
{
	git_oid_tostr(out, GITREPO_OID_HEXSZ + 1, g);
}

/* Parse `git rev-list` output into a set of ids (n of them). */
static int parse_list(char *out, struct gitrepo_oid *ids, int max)
{
	int n = 0;

	for (char *line = out; *line && n < max;) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		ck_assert_int_eq(gitrepo_oid_fromhex(line, &ids[n++]), 0);
		line = nl ? nl + 1 : line + strlen(line);
	}
	return n;
}

static bool in_list(const struct gitrepo_oid *ids, int n,
		    const struct gitrepo_oid *id)
{
	for (int i = 0; i < n; i++)
		if (gitrepo_oid_equal(&ids[i], id))
			return true;
	return false;
}

/*
 * Reference answer: (git rev-list head) minus (git rev-list since), two
 * unlimited walks. Not `git rev-list head ^since`: git's own limited walk
 * has the same date heuristic and lists old commits as new under skew.
 */
static void check_against_rev_list(struct gitrepo *r, const git_oid *head,
				   const git_oid *since)
{
	static char out[NDAGS * MAXN * 42];
	static struct gitrepo_oid hl[NDAGS * MAXN], sl[NDAGS * MAXN];
	char h[GITREPO_OID_HEXSZ + 1], s[GITREPO_OID_HEXSZ + 1];
	struct gitrepo_oid gh, gs;
	struct gitrepo_commitset *set = NULL;
	struct st_error err;
	int nh, ns = 0, expect = 0;

	hex_of(head, h);
	memcpy(gh.id, head->id, 20);
	ck_assert_int_eq(tu_sh_out(out, sizeof(out), "git -C '%s' rev-list %s",
				   repo_path, h), 0);
	nh = parse_list(out, hl, NDAGS * MAXN);
	if (since) {
		hex_of(since, s);
		memcpy(gs.id, since->id, 20);
		ck_assert_int_eq(tu_sh_out(out, sizeof(out),
					   "git -C '%s' rev-list %s", repo_path, s), 0);
		ns = parse_list(out, sl, NDAGS * MAXN);
	}
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_new_commits(r, &gh, since ? &gs : NULL, &set,
					     &err), 0);
	for (int i = 0; i < nh; i++) {
		bool want = !in_list(sl, ns, &hl[i]);

		expect += want;
		ck_assert_msg(gitrepo_commitset_has(set, &hl[i]) == want,
			      "head %s since %s: commit %d wrong", h,
			      since ? s : "-", i);
	}
	ck_assert_int_eq((int)gitrepo_commitset_count(set), expect);
	/* iteration yields exactly the members, each once */
	{
		struct gitrepo_oid m;
		size_t pos = 0;
		int seen = 0;

		while (gitrepo_commitset_next(set, &pos, &m)) {
			ck_assert_msg(in_list(hl, nh, &m) && !in_list(sl, ns, &m),
				      "head %s: iteration gave a non-member", h);
			seen++;
		}
		ck_assert_int_eq(seen, expect);
		ck_assert(!gitrepo_commitset_next(set, &pos, &m));
	}
	gitrepo_commitset_free(set);
}

/* Sampled commits against git merge-base --is-ancestor (one shell). */
static void check_against_merge_base(struct gitrepo *r, const struct dag *d,
				     const git_oid *head, const git_oid *since)
{
	char cmd[8192], out[64], h[41], s[41], c[41];
	struct gitrepo_oid gh, gs, gc;
	struct gitrepo_commitset *set = NULL;
	struct st_error err;
	int idx[5];
	size_t len;

	hex_of(head, h);
	hex_of(since, s);
	memcpy(gh.id, head->id, 20);
	memcpy(gs.id, since->id, 20);
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_new_commits(r, &gh, &gs, &set, &err), 0);
	len = (size_t)snprintf(cmd, sizeof(cmd), "cd '%s'; for c in", repo_path);
	for (int i = 0; i < 5; i++) {
		idx[i] = pick(d->n);
		hex_of(&d->c[idx[i]], c);
		len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, " %s", c);
	}
	snprintf(cmd + len, sizeof(cmd) - len,
		 "; do git merge-base --is-ancestor $c %s && "
		 "! git merge-base --is-ancestor $c %s && printf 1 || printf 0; done",
		 h, s);
	ck_assert_int_eq(tu_sh_out(out, sizeof(out), "%s", cmd), 0);
	for (int i = 0; i < 5; i++) {
		memcpy(gc.id, d->c[idx[i]].id, 20);
		ck_assert_msg(gitrepo_commitset_has(set, &gc) == (out[i] == '1'),
			      "commit %d: git says %c", idx[i], out[i]);
	}
	gitrepo_commitset_free(set);
}

START_TEST(random_dags_match_git)
{
	git_repository *repo;
	git_treebuilder *tb;
	git_oid tree;
	struct gitrepo *r;
	static struct dag dags[NDAGS];

	/* fixed seed (reproducible); GITREPO_TEST_SEED explores others */
	rng_state = 0x9E3779B97F4A7C15ull ^
		    (getenv("GITREPO_TEST_SEED")
			     ? strtoull(getenv("GITREPO_TEST_SEED"), NULL, 10)
			     : 0);
	git_libgit2_init();
	ck_assert_int_eq(git_repository_open(&repo, repo_path), 0);
	ck_assert_int_eq(git_treebuilder_new(&tb, repo, NULL), 0);
	ck_assert_int_eq(git_treebuilder_write(&tree, tb), 0);
	git_treebuilder_free(tb);
	for (int i = 0; i < NDAGS; i++)
		make_dag(repo, &tree, &dags[i], i);
	git_repository_free(repo);
	r = tu_open(repo_path);
	for (int i = 0; i < NDAGS; i++) {
		const struct dag *d = &dags[i];
		const git_oid *head = &d->c[d->n - 1 - pick(2)];
		const git_oid *since = &d->c[pick(d->n)];

		check_against_rev_list(r, head, NULL);
		check_against_rev_list(r, head, since);
		check_against_rev_list(r, &d->c[pick(d->n)], &d->c[pick(d->n)]);
		check_against_merge_base(r, d, head, since);
	}
	gitrepo_free(r);
	git_libgit2_shutdown();
}
END_TEST

START_TEST(missing_and_unknown_commits)
{
	struct gitrepo *r;
	struct gitrepo_commitset *set = NULL;
	struct gitrepo_oid head, ghost;
	struct st_error err;
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/small", root);
	ck_assert_int_eq(tu_sh("set -e; git init -q '%s'; cd '%s';"
			       "git commit -q --allow-empty -m a;"
			       "git commit -q --allow-empty -m b", dir, dir), 0);
	r = tu_open(dir);
	head = tu_rev(dir, "HEAD");
	ck_assert_int_eq(gitrepo_oid_fromhex("1111111111111111111111111111111111111111",
					     &ghost), 0);
	st_error_clear(&err);
	/* an MR commit missing from the repository is simply not reachable */
	ck_assert_int_eq(gitrepo_new_commits(r, &head, NULL, &set, &err), 0);
	ck_assert_int_eq((int)gitrepo_commitset_count(set), 2);
	ck_assert(!gitrepo_commitset_has(set, &ghost));
	{
		struct gitrepo_oid id, parent, want = tu_rev(dir, "HEAD~1");

		ck_assert_int_eq(gitrepo_commit_parent(r, &head, &parent, &err), 0);
		ck_assert(gitrepo_oid_equal(&parent, &want));
		ck_assert_int_eq(gitrepo_commit_parent(r, &parent, &id, &err),
				 ST_ENOTFOUND);
		st_error_clear(&err);
	}
	ck_assert(!gitrepo_commit_exists(r, &ghost));
	gitrepo_commitset_free(set);
	/* head == since: nothing new */
	ck_assert_int_eq(gitrepo_new_commits(r, &head, &head, &set, &err), 0);
	ck_assert_int_eq((int)gitrepo_commitset_count(set), 0);
	gitrepo_commitset_free(set);
	/* a head or release commit that is not there is an error */
	ck_assert_int_eq(gitrepo_new_commits(r, &ghost, NULL, &set, &err),
			 ST_ENOTFOUND);
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_new_commits(r, &head, &ghost, &set, &err),
			 ST_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.msg, "1111111111"));
	gitrepo_free(r);
}
END_TEST

/* The count of `git rev-list head ^since` (a tiny repo: no skew). */
static int rev_list_count(const char *dir, const char *head, const char *since)
{
	char out[64];

	ck_assert_int_eq(tu_sh_out(out, sizeof(out),
				   "git -C '%s' rev-list --count %s ^%s", dir,
				   head, since), 0);
	return (int)strtol(out, NULL, 10);
}

/* A release branch's usual shape (single-parent commits on top of the
 * release commit) takes the first-parent shortcut; chains too long for
 * it, merges and unrelated heads fall back to the walk, same answers. */
START_TEST(linear_chains_on_a_release)
{
	static const struct { const char *head, *since; } cases[] = {
		{ "lin1", "rel" }, { "lin3", "rel" }, { "long", "rel" },
		{ "merged", "rel" }, { "rel", "lin3" }, { "side", "rel" },
		{ "lin3", "base" }, { "long", "lin3" },
	};
	struct gitrepo *r;
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/linear", root);
	ck_assert_int_eq(tu_sh("set -e; git init -q '%s'; cd '%s';"
			       "git commit -q --allow-empty -m base;"
			       "git tag base;"
			       "git commit -q --allow-empty -m rel; git tag rel;"
			       "git commit -q --allow-empty -m p1; git tag lin1;"
			       "git commit -q --allow-empty -m p2;"
			       "git commit -q --allow-empty -m p3; git tag lin3;"
			       "for i in $(seq 70); do git commit -q --allow-empty"
			       " -m l$i; done; git tag long;"
			       "git checkout -q -b sidebr base;"
			       "git commit -q --allow-empty -m s; git tag side;"
			       "git checkout -q -;"
			       "git merge -q --no-ff -m m sidebr; git tag merged",
			       dir, dir), 0);
	r = tu_open(dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gitrepo_oid h = tu_rev(dir, cases[i].head);
		struct gitrepo_oid since = tu_rev(dir, cases[i].since);
		struct gitrepo_commitset *set = NULL;
		struct st_error err;
		char out[8192];
		size_t pos = 0;
		struct gitrepo_oid m;
		int n = 0;

		st_error_clear(&err);
		ck_assert_int_eq(gitrepo_new_commits(r, &h, &since, &set, &err), 0);
		ck_assert_msg((int)gitrepo_commitset_count(set) ==
			      rev_list_count(dir, cases[i].head, cases[i].since),
			      "%s ^%s", cases[i].head, cases[i].since);
		ck_assert_int_eq(tu_sh_out(out, sizeof(out),
					   "git -C '%s' rev-list %s ^%s", dir,
					   cases[i].head, cases[i].since), 0);
		while (gitrepo_commitset_next(set, &pos, &m)) {
			char hex[GITREPO_OID_HEXSZ + 1];

			gitrepo_oid_tohex(&m, hex);
			ck_assert_msg(strstr(out, hex), "%s ^%s: extra %s",
				      cases[i].head, cases[i].since, hex);
			n++;
		}
		ck_assert_int_eq(n, (int)gitrepo_commitset_count(set));
		gitrepo_commitset_free(set);
		/* and the ancestry check (first-parent shortcut or libgit2's
		 * merge base) agrees with git, both ways round */
		for (int way = 0; way < 2; way++) {
			const char *x = way ? cases[i].head : cases[i].since;
			const char *y = way ? cases[i].since : cases[i].head;
			struct gitrepo_oid gx = tu_rev(dir, x), gy = tu_rev(dir, y);
			bool is = false;
			int want = tu_sh("git -C '%s' merge-base --is-ancestor %s %s",
					 dir, x, y) == 0;

			ck_assert_int_eq(gitrepo_is_ancestor(r, &gx, &gy, &is, &err),
					 0);
			ck_assert_msg(is == want, "%s ancestor of %s: %d", x, y, is);
		}
	}
	gitrepo_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gitrepo_reach");
	TCase *tc = tcase_create("all");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, random_dags_match_git);
	tcase_add_test(tc, missing_and_unknown_commits);
	tcase_add_test(tc, linear_chains_on_a_release);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(suite());
}
