/* SPDX-License-Identifier: MIT */
/*
 * Reachability cost on a long history (`meson test --benchmark` or run
 * directly): 100,000 commits made with git fast-import, then
 * gitrepo_new_commits() for a few shapes of "what is new". Prints the
 * median of repeated runs; asserts only the counts, never the times.
 *
 *   usage: gitrepo_reach_bench [commits]
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gitrepo_testutil.h"

#define RUNS 21

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median wall time (ms) of gitrepo_new_commits(head, since). */
static double measure(struct gitrepo *r, const char *label,
		      const struct gitrepo_oid *head,
		      const struct gitrepo_oid *since, size_t want)
{
	double t[RUNS];
	size_t got = 0;

	for (int i = 0; i < RUNS; i++) {
		struct gitrepo_commitset *set = NULL;
		struct st_error err;
		struct timespec a, b;

		st_error_clear(&err);
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (gitrepo_new_commits(r, head, since, &set, &err) != 0) {
			fprintf(stderr, "%s: %s\n", label, err.msg);
			exit(1);
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		got = gitrepo_commitset_count(set);
		gitrepo_commitset_free(set);
		t[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 +
		       (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	}
	if (got != want) {
		fprintf(stderr, "%s: %zu new commits, expected %zu\n", label, got,
			want);
		exit(1);
	}
	qsort(t, RUNS, sizeof(t[0]), cmp_double);
	printf("%-44s %7zu new  median %8.3f ms  (min %.3f, max %.3f)\n", label,
	       got, t[RUNS / 2], t[0], t[RUNS - 1]);
	return t[RUNS / 2];
}

/* n linear commits on main via fast-import; marks :1..:n. */
static void build_history(const char *dir, long n)
{
	char script[8192];

	snprintf(script, sizeof(script),
		 "set -e; git init -q --bare '%s'; "
		 "awk 'BEGIN { for (i = 1; i <= %ld; i++) {"
		 " printf \"commit refs/heads/main\\nmark :%%d\\n\", i;"
		 " printf \"committer B <b@x> %%d +0000\\n\", 1500000000 + i * 60;"
		 " printf \"data 4\\nc%%03d\\n\", i %% 1000;"
		 " if (i > 1) printf \"from :%%d\\n\", i - 1;"
		 " printf \"M 644 inline f\\ndata 8\\n%%07d\\n\\n\", i %% 10000000 } }' "
		 "| git -C '%s' fast-import --quiet",
		 dir, n, dir);
	if (tu_sh("%s", script) != 0) {
		fprintf(stderr, "fast-import failed\n");
		exit(1);
	}
}

static long n_commits = 100000;

/* Inside a Check test: the fixture helpers assert with Check. */
START_TEST(bench)
{
	long n = n_commits;
	char root[4096], dir[4200], rev[64];
	struct gitrepo_oid head, rel, back1, back10, back1000, prep;
	struct gitrepo *r;
	struct st_error err;
	struct timespec a, b;
	bool made;
	const struct gitrepo_identity who = { "b", "b@x" };
	const struct versionfile_spec spec = { VERSIONFILE_PLAIN, NULL };

	tu_env();
	tu_tmpdir(root, sizeof(root));
	snprintf(dir, sizeof(dir), "%s/long.git", root);
	clock_gettime(CLOCK_MONOTONIC, &a);
	build_history(dir, n);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("history: %ld commits (fast-import %.1f s)\n", n,
	       (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	head = tu_rev(dir, "main");
	back1 = tu_rev(dir, "main~1");
	back10 = tu_rev(dir, "main~10");
	snprintf(rev, sizeof(rev), "main~%d", n > 1001 ? 1000 : 1);
	back1000 = tu_rev(dir, rev);
	r = tu_open(dir);
	st_error_clear(&err);
	/* a version-file release: detached release commit on the head, and a
	 * prep commit beside it on the branch (both children of the head) */
	if (gitrepo_version_commit(r, &head, &spec, "1.0.0", &who, NULL, &rel,
				   &made, &err) ||
	    gitrepo_version_commit(r, &head, &spec, "1.1.0-SNAPSHOT", &who, NULL,
				   &prep, &made, &err)) {
		ck_abort_msg("%s", err.msg);
	}
	measure(r, "nothing new (head == release commit)", &head, &head, 0);
	measure(r, "nothing new (head = parent of release commit)", &head, &rel, 0);
	measure(r, "prep commit only (release commit detached)", &prep, &rel, 1);
	measure(r, "1 new commit", &head, &back1, 1);
	measure(r, "10 new commits", &head, &back10, 10);
	measure(r, n > 1001 ? "1000 new commits" : "1 new commit (small)", &head,
		&back1000, n > 1001 ? 1000 : 1);
	gitrepo_free(r);
	tu_rmrf(root);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("gitrepo_reach_bench");
	TCase *tc = tcase_create("bench");
	SRunner *sr;
	int failed;

	if (argc > 1)
		n_commits = strtol(argv[1], NULL, 10);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, bench);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
