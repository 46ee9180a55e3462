/* SPDX-License-Identifier: MIT */
/* gitrepo_merge: fast-forward, clean merges, version-file conflicts
 * resolved to the branch's version, real conflicts refused. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gitrepo_testutil.h"

static char root[4096], dir[4096];
static const struct gitrepo_identity WHO = { "semver-tagger",
					     "semver-tagger@example.invalid" };
static const struct versionfile_spec PLAIN = { VERSIONFILE_PLAIN, NULL };

/*
 * base: VERSION 1.0.0, a.txt, b.txt
 * main:      VERSION 1.1.0-SNAPSHOT, c.txt, then R = VERSION 1.1.0 (release)
 * release/1: VERSION 1.0.1-SNAPSHOT, a.txt line 1 fixed   (conflicts on VERSION)
 * side:      b.txt changed only                           (clean merge)
 * clash:     a.txt line 1 changed differently + VERSION   (real conflict)
 */
static void setup(void)
{
	tu_env();
	tu_tmpdir(root, sizeof(root));
	snprintf(dir, sizeof(dir), "%s/repo", root);
	ck_assert_int_eq(tu_sh(
		"set -e; git init -q -b main '%s'; cd '%s';"
		"echo 1.0.0 > VERSION; printf 'a1\\na2\\na3\\na4\\na5\\n' > a.txt;"
		"echo b > b.txt; git add -A; git commit -q -m base; git tag base;"
		"git checkout -q -b release/1;"
		"echo 1.0.1-SNAPSHOT > VERSION; git commit -q -am prep;"
		"sed -i 1s/a1/fixed/ a.txt;"
		"GIT_COMMITTER_DATE='1700009999 +0000' git commit -q -am fix;"
		"git checkout -q -b side base; echo bb > b.txt; git commit -q -am side;"
		"git checkout -q -b clash base; sed -i 5s/a5/clash/ a.txt;"
		"echo 0.9 > VERSION; git commit -q -am clash;"
		"git checkout -q main; echo 1.1.0-SNAPSHOT > VERSION;"
		"echo c > c.txt; sed -i 5s/a5/main5/ a.txt; git add -A; git commit -q -m feature;"
		"echo 1.1.0 > VERSION; git commit -q -am 'Release 1.1.0'; git tag R",
		dir, dir), 0);
}

static void teardown(void)
{
	tu_rmrf(root);
}

static int merge(const char *branch, const char *head, const char *commit,
		 const struct versionfile_spec *spec, const char *version,
		 struct gitrepo_oid *out, enum gitrepo_merge_kind *kind,
		 struct st_error *err)
{
	struct gitrepo *r = tu_open(dir);
	struct gitrepo_merge_request q = {
		.branch = branch,
		.branch_head = tu_rev(dir, head),
		.commit = tu_rev(dir, commit),
		.spec = spec,
		.branch_version = version,
		.who = &WHO,
		.message = NULL,
	};
	int rc;

	st_error_clear(err);
	rc = gitrepo_merge(r, &q, out, kind, err);
	gitrepo_free(r);
	return rc;
}

static void show(const struct gitrepo_oid *id, const char *path, char *out,
		 size_t size)
{
	char hex[GITREPO_OID_HEXSZ + 1];

	gitrepo_oid_tohex(id, hex);
	ck_assert_int_eq(tu_sh_out(out, size, "cd '%s' && git show %s:%s", dir,
				   hex, path), 0);
}

START_TEST(fast_forward_and_up_to_date)
{
	struct gitrepo_oid out, r = tu_rev(dir, "R"), main = tu_rev(dir, "main");
	enum gitrepo_merge_kind kind;
	struct st_error err;

	ck_assert_int_eq(merge("release/x", "base", "R", &PLAIN, "1.1.0", &out,
			       &kind, &err), 0);
	ck_assert(kind == GITREPO_MERGE_FAST_FORWARD && gitrepo_oid_equal(&out, &r));
	ck_assert_int_eq(merge("main", "main", "base", &PLAIN, "1.1.0", &out,
			       &kind, &err), 0);
	ck_assert(kind == GITREPO_MERGE_UP_TO_DATE &&
		  gitrepo_oid_equal(&out, &main));
}
END_TEST

START_TEST(clean_merge)
{
	struct gitrepo_oid out, again;
	enum gitrepo_merge_kind kind;
	struct st_error err;
	char buf[4096], hex[GITREPO_OID_HEXSZ + 1], side[GITREPO_OID_HEXSZ + 1];

	ck_assert_int_eq(merge("side", "side", "R", &PLAIN, "1.1.0", &out, &kind,
			       &err), 0);
	ck_assert(kind == GITREPO_MERGE_COMMIT);
	ck_assert_int_eq(merge("side", "side", "R", &PLAIN, "1.1.0", &again, &kind,
			       &err), 0);
	ck_assert(gitrepo_oid_equal(&out, &again)); /* deterministic */
	show(&out, "VERSION", buf, sizeof(buf));
	ck_assert_str_eq(buf, "1.1.0");
	show(&out, "b.txt", buf, sizeof(buf));
	ck_assert_str_eq(buf, "bb");
	/* parents: the branch head, then the merged commit */
	gitrepo_oid_tohex(&out, hex);
	{
		struct gitrepo_oid sh = tu_rev(dir, "side"), rh = tu_rev(dir, "R");
		char want[512], r[GITREPO_OID_HEXSZ + 1];

		gitrepo_oid_tohex(&sh, side);
		gitrepo_oid_tohex(&rh, r);
		snprintf(want, sizeof(want), "%s %s|Merge commit '%s' into side",
			 side, r, r);
		ck_assert_int_eq(tu_sh_out(buf, sizeof(buf),
					   "cd '%s' && git log -1 --format='%%P|%%s' %s",
					   dir, hex), 0);
		ck_assert_str_eq(buf, want);
	}
}
END_TEST

START_TEST(version_conflict_takes_branch_version)
{
	struct gitrepo_oid out;
	enum gitrepo_merge_kind kind;
	struct st_error err;
	char buf[4096], hex[GITREPO_OID_HEXSZ + 1];

	ck_assert_msg(merge("release/1", "release/1", "R", &PLAIN, "1.1.0", &out,
			    &kind, &err) == 0, "%s", err.msg);
	ck_assert(kind == GITREPO_MERGE_COMMIT);
	show(&out, "VERSION", buf, sizeof(buf));
	ck_assert_str_eq(buf, "1.1.0");
	show(&out, "a.txt", buf, sizeof(buf)); /* both sides' edits kept */
	ck_assert_str_eq(buf, "fixed\na2\na3\na4\nmain5");
	show(&out, "c.txt", buf, sizeof(buf));
	ck_assert_str_eq(buf, "c");
	/* committer time: the later of the two parents (release/1's fix) */
	gitrepo_oid_tohex(&out, hex);
	ck_assert_int_eq(tu_sh_out(buf, sizeof(buf),
				   "cd '%s' && git log -1 --format='%%ct %%cn' %s",
				   dir, hex), 0);
	ck_assert_str_eq(buf, "1700009999 semver-tagger");
	/* git sees a real merge with both parents */
	ck_assert_int_eq(tu_sh("cd '%s' && git merge-base --is-ancestor R %s && "
			       "git merge-base --is-ancestor release/1 %s",
			       dir, hex, hex), 0);
}
END_TEST

START_TEST(real_conflict_is_refused)
{
	struct gitrepo_oid out;
	enum gitrepo_merge_kind kind;
	struct st_error err;

	ck_assert_int_eq(merge("release/0.9", "clash", "R", &PLAIN, "1.1.0", &out,
			       &kind, &err), ST_EREFUSED);
	ck_assert_msg(strstr(err.msg, "branch release/0.9") &&
			      strstr(err.msg, "conflicts in a.txt ("),
		      "%s", err.msg);
	/* the same conflict in a simple project: VERSION is not managed */
	ck_assert_int_eq(merge("release/0.9", "clash", "R",
			       &(struct versionfile_spec){ VERSIONFILE_SIMPLE, NULL },
			       NULL, &out, &kind, &err), ST_EREFUSED);
	ck_assert_msg(strstr(err.msg, "a.txt, VERSION") ||
			      strstr(err.msg, "VERSION, a.txt"),
		      "%s", err.msg);
}
END_TEST

#define POM_FMT                                                              \
	"<project>\n  <artifactId>x</artifactId>\n"                              \
	"  <description>old</description>\n  <name>n</name>\n"                   \
	"  <url>u</url>\n  <version>%s</version>\n  <packaging>jar</packaging>\n" \
	"  <licenses/>\n  <scm/>\n  <dependencies>\n%s  </dependencies>\n"       \
	"</project>\n"

START_TEST(maven_conflict_only_in_version_line)
{
	char m[4096], buf[8192], cmd[16384];
	struct gitrepo *r;
	struct gitrepo_merge_request q;
	struct versionfile_spec spec = { VERSIONFILE_MAVEN, NULL };
	struct gitrepo_oid out;
	enum gitrepo_merge_kind kind;
	struct st_error err;

	snprintf(m, sizeof(m), "%s/mvn", root);
	ck_assert_int_eq(tu_sh("git init -q -b main '%s'", m), 0);
	snprintf(buf, sizeof(buf), POM_FMT, "1.0.0", "");
	tu_write(m, "pom.xml", buf);
	snprintf(cmd, sizeof(cmd), "cd '%s' && git add -A && git commit -q -m base"
		 " && git checkout -q -b release/1", m);
	ck_assert_int_eq(tu_sh("%s", cmd), 0);
	snprintf(buf, sizeof(buf), POM_FMT, "1.0.1-SNAPSHOT",
		 "    <dependency><artifactId>d</artifactId></dependency>\n");
	tu_write(m, "pom.xml", buf);
	ck_assert_int_eq(tu_sh("cd '%s' && git commit -q -am dep && git checkout -q main", m), 0);
	snprintf(buf, sizeof(buf), POM_FMT, "1.1.0", "");
	tu_write(m, "pom.xml", buf);
	ck_assert_int_eq(tu_sh("cd '%s' && sed -i s/old/new/ pom.xml && git commit -q -am rel", m), 0);
	r = tu_open(m);
	memset(&q, 0, sizeof(q));
	q.branch = "release/1";
	q.branch_head = tu_rev(m, "release/1");
	q.commit = tu_rev(m, "main");
	q.spec = &spec;
	q.branch_version = "1.1.0";
	q.who = &WHO;
	st_error_clear(&err);
	ck_assert_msg(gitrepo_merge(r, &q, &out, &kind, &err) == 0, "%s", err.msg);
	ck_assert(kind == GITREPO_MERGE_COMMIT);
	gitrepo_oid_tohex(&out, cmd);
	ck_assert_int_eq(tu_sh_out(buf, sizeof(buf), "cd '%s' && git show %s:pom.xml",
				   m, cmd), 0);
	ck_assert_ptr_nonnull(strstr(buf, "<version>1.1.0</version>"));
	ck_assert_ptr_nonnull(strstr(buf, "<description>new</description>"));
	ck_assert_ptr_nonnull(strstr(buf, "<artifactId>d</artifactId>"));
	gitrepo_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gitrepo_merge");
	TCase *tc = tcase_create("all");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fast_forward_and_up_to_date);
	tcase_add_test(tc, clean_merge);
	tcase_add_test(tc, version_conflict_takes_branch_version);
	tcase_add_test(tc, real_conflict_is_refused);
	tcase_add_test(tc, maven_conflict_only_in_version_line);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(suite());
}
