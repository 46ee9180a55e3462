/* SPDX-License-Identifier: MIT */
/* gitrepo: ids, tag listing with every kind of tag, branches. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gitrepo_testutil.h"

static char work[4096], bare[4096], root[4096];

static void make_fixture(void)
{
	tu_env();
	tu_tmpdir(root, sizeof(root));
	snprintf(work, sizeof(work), "%s/work", root);
	snprintf(bare, sizeof(bare), "%s/bare.git", root);
	ck_assert_int_eq(tu_sh(
		"set -e; git init -q -b main '%s'; cd '%s';"
		"for i in 1 2 3 4; do echo $i > f; git add f;"
		"  git commit -q -m c$i; done;"
		"git tag 1.0.0 HEAD~3;"
		"git tag -a -m 'one one' 1.1.0 HEAD~2;"
		"git tag -a -m v2 v2.0.0 HEAD~1;"
		"git tag 2.0.0-rc.1 HEAD~1; git tag 2.0.0+build.5 HEAD~1;"
		"git -c advice.nestedTag=false tag -a -m nested 3.0.0 v2.0.0;"
		"git tag latest; git tag 9.0.0; git tag -a -m t 10.0.0;"
		"git tag 01.0.0 HEAD~3;"
		"git tag -a -m tree 4.0.0 'HEAD^{tree}';"
		"git branch release/1 HEAD~2; git branch release/1.1 HEAD~2;"
		"git branch feature/x;"
		"git clone -q --bare . '%s'",
		work, work, bare), 0);
}

static void drop_fixture(void)
{
	tu_rmrf(root);
}

START_TEST(oid_hex)
{
	struct gitrepo_oid id;
	char hex[GITREPO_OID_HEXSZ + 1];

	ck_assert_int_eq(gitrepo_oid_fromhex("0123456789ABCDEFabcdef0123456789abcdef01",
					     &id), 0);
	gitrepo_oid_tohex(&id, hex);
	ck_assert_str_eq(hex, "0123456789abcdefabcdef0123456789abcdef01");
	ck_assert_int_eq(gitrepo_oid_fromhex("0123", &id), ST_EINVAL);
	ck_assert_int_eq(gitrepo_oid_fromhex("g123456789abcdefabcdef0123456789abcdef01",
					     &id), ST_EINVAL);
	ck_assert_int_eq(gitrepo_oid_fromhex(NULL, &id), ST_EINVAL);
	memset(&id, 0, sizeof(id));
	ck_assert(gitrepo_oid_is_zero(&id));
}
END_TEST

START_TEST(tags_every_kind)
{
	struct gitrepo *r = tu_open(bare);
	struct gitrepo_tags t;
	struct st_error err;
	const struct gitrepo_tag *x;
	static const char *want[] = { "1.0.0", "1.1.0", "3.0.0", "9.0.0", "10.0.0" };
	uint64_t one = 1, zero = 0, four = 4;
	struct gitrepo_oid c2 = tu_rev(bare, "main~2");

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_tags_list(r, "", &t, &err), 0);
	ck_assert_int_eq((int)t.nall, 11);
	ck_assert_int_eq((int)t.nreleases, 5);
	for (int i = 0; i < 5; i++)
		ck_assert_str_eq(t.releases[i]->name, want[i]);
	/* non-releases still exist and block creating that name */
	ck_assert_ptr_nonnull(gitrepo_tags_find(&t, "2.0.0-rc.1"));
	ck_assert_ptr_nonnull(gitrepo_tags_find(&t, "2.0.0+build.5"));
	ck_assert_ptr_nonnull(gitrepo_tags_find(&t, "latest"));
	ck_assert_ptr_nonnull(gitrepo_tags_find(&t, "01.0.0"));
	ck_assert_ptr_null(gitrepo_tags_find(&t, "2.0.0"));
	ck_assert(!gitrepo_tags_find(&t, "2.0.0-rc.1")->is_release);
	/* an annotated tag of a tree is not a release */
	x = gitrepo_tags_find(&t, "4.0.0");
	ck_assert(x && !x->is_release && gitrepo_oid_is_zero(&x->commit));
	/* annotated tags peel to their commit, even tag-of-tag */
	x = gitrepo_tags_find(&t, "1.1.0");
	ck_assert(x->annotated && gitrepo_oid_equal(&x->commit, &c2));
	ck_assert(!gitrepo_oid_equal(&x->object, &c2));
	x = gitrepo_tags_find(&t, "3.0.0");
	ck_assert(!gitrepo_oid_is_zero(&x->commit));
	{
		struct gitrepo_oid c3 = tu_rev(bare, "main~1");

		ck_assert(gitrepo_oid_equal(&x->commit, &c3));
	}
	ck_assert(!gitrepo_tags_find(&t, "1.0.0")->annotated);
	/* families */
	ck_assert_str_eq(gitrepo_tags_latest(&t, NULL, NULL)->name, "10.0.0");
	ck_assert_str_eq(gitrepo_tags_latest(&t, &one, NULL)->name, "1.1.0");
	ck_assert_str_eq(gitrepo_tags_latest(&t, &one, &zero)->name, "1.0.0");
	ck_assert_ptr_null(gitrepo_tags_latest(&t, &four, NULL));
	gitrepo_tags_release(&t);

	ck_assert_int_eq(gitrepo_tags_list(r, "v", &t, &err), 0);
	ck_assert_int_eq((int)t.nreleases, 1);
	ck_assert_str_eq(t.releases[0]->name, "v2.0.0");
	ck_assert_int_eq((int)t.releases[0]->ver.major, 2);
	gitrepo_tags_release(&t);
	gitrepo_free(r);
}
END_TEST

START_TEST(tags_cross_check_git)
{
	struct gitrepo *r = tu_open(bare);
	struct gitrepo_tags t;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_tags_list(r, "", &t, &err), 0);
	for (size_t i = 0; i < t.nall; i++) {
		char rev[512];
		struct gitrepo_oid obj;

		snprintf(rev, sizeof(rev), "refs/tags/%s", t.all[i].name);
		obj = tu_rev(bare, rev);
		ck_assert(gitrepo_oid_equal(&obj, &t.all[i].object));
		if (!gitrepo_oid_is_zero(&t.all[i].commit)) {
			struct gitrepo_oid c;

			snprintf(rev, sizeof(rev), "refs/tags/%s^{commit}",
				 t.all[i].name);
			c = tu_rev(bare, rev);
			ck_assert(gitrepo_oid_equal(&c, &t.all[i].commit));
		}
	}
	gitrepo_tags_release(&t);
	gitrepo_free(r);
}
END_TEST

START_TEST(branches)
{
	struct gitrepo *r = tu_open(bare);
	struct gitrepo_branches b;
	struct gitrepo_oid id, main = tu_rev(bare, "main");
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_branches_list(r, "release/", &b, &err), 0);
	ck_assert_str_eq(b.default_name, "main");
	ck_assert(gitrepo_oid_equal(&b.default_head, &main));
	ck_assert_int_eq((int)b.nrelease, 2);
	ck_assert_str_eq(b.release[0].name, "release/1");
	ck_assert_str_eq(b.release[1].name, "release/1.1");
	id = tu_rev(bare, "main~2");
	ck_assert(gitrepo_oid_equal(&b.release[1].head, &id));
	gitrepo_branches_release(&b);
	ck_assert_int_eq(gitrepo_branch_head(r, "feature/x", &id, &err), 0);
	ck_assert(gitrepo_oid_equal(&id, &main));
	ck_assert_int_eq(gitrepo_ref_value(r, "refs/heads/feature/x", &id, &err), 0);
	ck_assert(gitrepo_oid_equal(&id, &main));
	ck_assert_int_eq(gitrepo_ref_value(r, "refs/tags/none", &id, &err), 0);
	ck_assert(gitrepo_oid_is_zero(&id));
	ck_assert_int_eq(gitrepo_branch_head(r, "nope", &id, &err), ST_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.msg, "nope"));
	gitrepo_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gitrepo_tags");
	TCase *tc = tcase_create("all");

	tcase_add_unchecked_fixture(tc, make_fixture, drop_fixture);
	tcase_add_test(tc, oid_hex);
	tcase_add_test(tc, tags_every_kind);
	tcase_add_test(tc, tags_cross_check_git);
	tcase_add_test(tc, branches);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(suite());
}
