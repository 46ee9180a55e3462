/* SPDX-License-Identifier: MIT */
/* gitrepo: files read from a commit's tree, and the commit that changed
 * one (the repository settings file). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gitrepo_testutil.h"
#include "semver-tagger/strbuf.h"

static char root[4096];

/* c1 adds .gitlab/semver-tagger.conf, c2 changes it, c3 touches README,
 * c4 is a merge whose second parent does not touch it. */
static void setup(void)
{
	tu_env();
	tu_tmpdir(root, sizeof(root));
	ck_assert_int_eq(tu_sh("set -e; git init -q -b main '%s'; cd '%s';"
			       "echo a > README; git add .; git commit -qm c0;"
			       "mkdir .gitlab; echo 'notes = on' > .gitlab/semver-tagger.conf;"
			       "git add .; git commit -qm c1; git tag c1;"
			       "echo 'notes = off' > .gitlab/semver-tagger.conf;"
			       "git commit -qam c2; git tag c2;"
			       "echo b >> README; git commit -qam c3;"
			       "git checkout -qb side HEAD~1; echo s > side; git add side;"
			       "git commit -qm side; git checkout -q main;"
			       "git merge -q --no-ff -m c4 side; git tag c4;"
			       "mkdir dir.conf; echo x > dir.conf/x; git add .; git commit -qm c5",
			       root, root),
			 0);
}

static void teardown(void)
{
	tu_rmrf(root);
}

START_TEST(test_file_at)
{
	struct gitrepo *r = tu_open(root);
	struct gitrepo_oid head = tu_rev(root, "c4"), blob, c0 = tu_rev(root, "c1~1");
	struct strbuf sb;
	struct st_error err;
	char hex[GITREPO_OID_HEXSZ + 1], want[64];

	strbuf_init(&sb, 100);
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_blob_at(r, &head, ".gitlab/semver-tagger.conf",
					 &sb, &blob, &err),
			 0);
	ck_assert_str_eq(strbuf_str(&sb), "notes = off\n");
	gitrepo_oid_tohex(&blob, hex);
	ck_assert_int_eq(tu_sh_out(want, sizeof(want),
				   "git -C '%s' rev-parse c4:.gitlab/semver-tagger.conf",
				   root),
			 0);
	ck_assert_str_eq(hex, want);
	ck_assert_int_eq(gitrepo_blob_at(r, &c0, ".gitlab/semver-tagger.conf",
					 &sb, NULL, &err),
			 ST_ENOTFOUND);
	head = tu_rev(root, "main");
	ck_assert_int_eq(gitrepo_blob_at(r, &head, "dir.conf", &sb, NULL, &err),
			 ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "dir.conf: not a regular file"));
	strbuf_release(&sb);
	strbuf_init(&sb, 4); /* a cap below the file's size */
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_blob_at(r, &head, ".gitlab/semver-tagger.conf",
					 &sb, NULL, &err),
			 ST_ETOOBIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "semver-tagger.conf: larger than 4"));
	strbuf_release(&sb);
	gitrepo_free(r);
}
END_TEST

START_TEST(test_changed_by)
{
	struct gitrepo *r = tu_open(root);
	struct gitrepo_oid head = tu_rev(root, "main"), got, c2 = tu_rev(root, "c2"),
			   c1 = tu_rev(root, "c1");
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_file_changed_by(r, &head, ".gitlab/semver-tagger.conf",
						 100, &got, &err),
			 0);
	ck_assert(gitrepo_oid_equal(&got, &c2));
	ck_assert_int_eq(gitrepo_file_changed_by(r, &c1, ".gitlab/semver-tagger.conf",
						 100, &got, &err),
			 0);
	ck_assert(gitrepo_oid_equal(&got, &c1));
	/* the walk is bounded: one step back from main is c4 */
	ck_assert_int_eq(gitrepo_file_changed_by(r, &head, ".gitlab/semver-tagger.conf",
						 1, &got, &err),
			 0);
	c2 = tu_rev(root, "c4");
	ck_assert(gitrepo_oid_equal(&got, &c2));
	gitrepo_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gitrepo_file");
	TCase *tc = tcase_create("file");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_file_at);
	tcase_add_test(tc, test_changed_by);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(suite());
}
