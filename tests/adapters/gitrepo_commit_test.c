/* SPDX-License-Identifier: MIT */
/* gitrepo: deterministic release commits, tag objects, prep commits. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gitrepo_testutil.h"

static char root[4096], plain[4096], maven[4096];
static const struct gitrepo_identity WHO = { "semver-tagger",
					     "semver-tagger@example.invalid" };

static const char *ROOT_POM =
	"<?xml version=\"1.0\"?>\n"
	"<project>\n"
	"  <parent><groupId>g</groupId><artifactId>corp</artifactId>"
	"<version>7</version></parent>\n"
	"  <artifactId>app</artifactId>\n"
	"  <version>1.2.0-SNAPSHOT</version>\n"
	"  <modules>\n    <module>core</module>\n    <module>web</module>\n"
	"  </modules>\n"
	"  <dependencies><dependency><version>3.1</version></dependency>"
	"</dependencies>\n"
	"</project>\n";
static const char *CORE_POM =
	"<project>\n"
	"  <parent><artifactId>app</artifactId>"
	"<version>1.2.0-SNAPSHOT</version></parent>\n"
	"  <artifactId>core</artifactId>\n"
	"  <version>1.2.0-SNAPSHOT</version>\n"
	"</project>\n";

static void setup(void)
{
	tu_env();
	tu_tmpdir(root, sizeof(root));
	snprintf(plain, sizeof(plain), "%s/plain", root);
	snprintf(maven, sizeof(maven), "%s/maven", root);
	ck_assert_int_eq(tu_sh("set -e; git init -q -b main '%s'; cd '%s';"
			       "printf '1.2.0-SNAPSHOT\\n' > VERSION; chmod +x VERSION;"
			       "mkdir src; echo 'int x;' > src/a.c;"
			       "git add -A; git commit -q -m init;"
			       "GIT_COMMITTER_DATE='1700001234 -0330' "
			       "git commit -q --allow-empty -m second",
			       plain, plain), 0);
	ck_assert_int_eq(tu_sh("git init -q -b main '%s'", maven), 0);
	tu_write(maven, "pom.xml", ROOT_POM);
	tu_write(maven, "core/pom.xml", CORE_POM);
	tu_write(maven, "web/pom.xml", CORE_POM);
	tu_write(maven, "README", "readme\n");
	ck_assert_int_eq(tu_sh("cd '%s' && git add -A && git commit -q -m init",
			       maven), 0);
}

static void teardown(void)
{
	tu_rmrf(root);
}

static void out_of(const char *dir, char *out, size_t size, const char *cmd,
		   const struct gitrepo_oid *id)
{
	char hex[GITREPO_OID_HEXSZ + 1];

	gitrepo_oid_tohex(id, hex);
	ck_assert_int_eq(tu_sh_out(out, size, "cd '%s' && %s %s", dir, cmd, hex),
			 0);
}

START_TEST(simple_tags_the_head)
{
	struct gitrepo *r = tu_open(plain);
	struct versionfile_spec spec = { VERSIONFILE_SIMPLE, NULL };
	struct gitrepo_oid head = tu_rev(plain, "HEAD"), out;
	struct st_error err;
	bool made = true;

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_version_commit(r, &head, &spec, "1.2.0", &WHO,
						NULL, &out, &made, &err), 0);
	ck_assert(!made && gitrepo_oid_equal(&out, &head));
	gitrepo_free(r);
}
END_TEST

START_TEST(version_file_release_commit_is_deterministic)
{
	struct gitrepo *r = tu_open(plain);
	struct versionfile_spec spec = { VERSIONFILE_PLAIN, NULL };
	struct gitrepo_oid head = tu_rev(plain, "HEAD"), a, b;
	struct st_error err;
	char out[4096], clone[4096];
	bool made;

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_version_commit(r, &head, &spec, "1.2.0", &WHO,
						"Release 1.2.0", &a, &made, &err), 0);
	ck_assert(made && !gitrepo_oid_equal(&a, &head));
	ck_assert_int_eq(gitrepo_version_commit(r, &head, &spec, "1.2.0", &WHO,
						"Release 1.2.0", &b, &made, &err), 0);
	ck_assert(gitrepo_oid_equal(&a, &b));
	gitrepo_free(r);
	/* another runner with its own clone computes the same id */
	snprintf(clone, sizeof(clone), "%s/other-runner.git", root);
	ck_assert_int_eq(tu_sh("git clone -q --bare '%s' '%s'", plain, clone), 0);
	r = tu_open(clone);
	ck_assert_int_eq(gitrepo_version_commit(r, &head, &spec, "1.2.0", &WHO,
						"Release 1.2.0", &b, &made, &err), 0);
	ck_assert(gitrepo_oid_equal(&a, &b));
	gitrepo_free(r);
	/* git agrees: one parent (the head), the head's committer time and
	 * zone for author and committer, the configured identity */
	{
		char hhex[GITREPO_OID_HEXSZ + 1], when[256], want[1024];

		gitrepo_oid_tohex(&head, hhex);
		out_of(plain, when, sizeof(when), "git log -1 --format='%ct %ci'",
		       &head);
		snprintf(want, sizeof(want),
			 "%s|semver-tagger|semver-tagger@example.invalid|%s|%s|Release 1.2.0",
			 hhex, when, when);
		out_of(plain, out, sizeof(out),
		       "git log -1 --format='%P|%an|%ae|%at %ai|%ct %ci|%s'", &a);
		ck_assert_str_eq(out, want);
		ck_assert_ptr_nonnull(strstr(when, "-0330"));
	}
	/* the tree differs only in VERSION, which keeps its mode */
	ck_assert_int_eq(tu_sh_out(out, sizeof(out),
				   "cd '%s' && git diff --name-only HEAD %s",
				   plain, (gitrepo_oid_tohex(&a, clone), clone)), 0);
	ck_assert_str_eq(out, "VERSION");
	out_of(plain, out, sizeof(out), "git ls-tree", &a);
	ck_assert_ptr_nonnull(strstr(out, "100755 blob"));
	ck_assert_int_eq(tu_sh_out(out, sizeof(out), "cd '%s' && git show %s:VERSION",
				   plain, clone), 0);
	ck_assert_str_eq(out, "1.2.0");
}
END_TEST

START_TEST(version_already_there_tags_the_head)
{
	struct gitrepo *r;
	struct versionfile_spec spec = { VERSIONFILE_PLAIN, "etc/VERSION" };
	struct gitrepo_oid head, out;
	struct st_error err;
	char dir[4096], buf[256];
	bool made;

	snprintf(dir, sizeof(dir), "%s/already", root);
	ck_assert_int_eq(tu_sh("set -e; git init -q '%s'; cd '%s'; mkdir etc;"
			       "printf '  3.0.0' > etc/VERSION; git add -A;"
			       "git commit -q -m x", dir, dir), 0);
	r = tu_open(dir);
	head = tu_rev(dir, "HEAD");
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_version_commit(r, &head, &spec, "3.0.0", &WHO,
						NULL, &out, &made, &err), 0);
	ck_assert(!made && gitrepo_oid_equal(&out, &head));
	ck_assert_int_eq(gitrepo_version_at(r, &head, &spec, buf, sizeof(buf),
					    &err), 0);
	ck_assert_str_eq(buf, "3.0.0");
	/* a missing version file is created by the release commit */
	spec.path = "NEW_VERSION";
	ck_assert_int_eq(gitrepo_version_at(r, &head, &spec, buf, sizeof(buf),
					    &err), ST_ENOTFOUND);
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_version_commit(r, &head, &spec, "3.0.0", &WHO,
						NULL, &out, &made, &err), 0);
	ck_assert(made);
	ck_assert_int_eq(gitrepo_version_at(r, &out, &spec, buf, sizeof(buf),
					    &err), 0);
	ck_assert_str_eq(buf, "3.0.0");
	gitrepo_free(r);
}
END_TEST

START_TEST(prep_commit_skipped_when_unchanged)
{
	struct gitrepo *r = tu_open(plain);
	struct versionfile_spec spec = { VERSIONFILE_PLAIN, NULL };
	struct gitrepo_oid head = tu_rev(plain, "HEAD"), rel, prep, again;
	struct st_error err;
	char hex[GITREPO_OID_HEXSZ + 1], out[256];
	bool made;

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_version_commit(r, &head, &spec, "1.2.0", &WHO,
						NULL, &rel, &made, &err), 0);
	ck_assert_int_eq(gitrepo_version_commit(r, &rel, &spec, "1.3.0-SNAPSHOT",
						&WHO, "Prepare 1.3.0-SNAPSHOT",
						&prep, &made, &err), 0);
	ck_assert(made);
	gitrepo_oid_tohex(&prep, hex);
	ck_assert_int_eq(tu_sh_out(out, sizeof(out),
				   "cd '%s' && git show %s:VERSION && git log -1 --format=%%s %s",
				   plain, hex, hex), 0);
	ck_assert_str_eq(out, "1.3.0-SNAPSHOT\nPrepare 1.3.0-SNAPSHOT");
	/* the same prep again would change nothing: not made */
	ck_assert_int_eq(gitrepo_version_commit(r, &prep, &spec, "1.3.0-SNAPSHOT",
						&WHO, NULL, &again, &made, &err), 0);
	ck_assert(!made && gitrepo_oid_equal(&again, &prep));
	gitrepo_free(r);
}
END_TEST

START_TEST(tag_object_is_deterministic)
{
	struct gitrepo *r = tu_open(plain);
	struct gitrepo_oid head = tu_rev(plain, "HEAD"), t1, t2, peeled;
	struct st_error err;
	char hex[GITREPO_OID_HEXSZ + 1], out[2048], when[64];
	const char *msg = "Release 1.2.0\n\n- !12 Add x (minor)\n- !13 Fix y (patch)";

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_tag_object(r, "v1.2.0", &head, &WHO, msg, &t1,
					    &err), 0);
	ck_assert_int_eq(gitrepo_tag_object(r, "v1.2.0", &head, &WHO, msg, &t2,
					    &err), 0);
	ck_assert(gitrepo_oid_equal(&t1, &t2));
	ck_assert_int_eq(gitrepo_peel_commit(r, &t1, &peeled, &err), 0);
	ck_assert(gitrepo_oid_equal(&peeled, &head));
	gitrepo_oid_tohex(&t1, hex);
	out_of(plain, when, sizeof(when), "git log -1 --format='%ct'", &head);
	ck_assert_int_eq(tu_sh_out(out, sizeof(out), "cd '%s' && git cat-file -p %s",
				   plain, hex), 0);
	ck_assert_ptr_nonnull(strstr(out, "\ntype commit\ntag v1.2.0\n"));
	ck_assert_ptr_nonnull(strstr(out, "tagger semver-tagger <semver-tagger@example.invalid> "));
	ck_assert_ptr_nonnull(strstr(out, when));
	ck_assert_ptr_nonnull(strstr(out, "-0330\n\nRelease 1.2.0\n\n- !12 Add x"));
	/* no ref was created: the push does that */
	ck_assert_int_ne(tu_sh("cd '%s' && git rev-parse -q --verify refs/tags/v1.2.0",
			       plain), 0);
	ck_assert_int_eq(gitrepo_tag_object(r, "bad..name", &head, &WHO, msg, &t2,
					    &err), ST_EINVAL);
	gitrepo_free(r);
}
END_TEST

START_TEST(maven_release_commit)
{
	struct gitrepo *r = tu_open(maven);
	struct versionfile_spec spec = { VERSIONFILE_MAVEN, NULL };
	struct gitrepo_oid head = tu_rev(maven, "HEAD"), rel;
	struct st_error err;
	char hex[GITREPO_OID_HEXSZ + 1], out[8192];
	bool made;

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_version_commit(r, &head, &spec, "1.2.0", &WHO,
						NULL, &rel, &made, &err), 0);
	ck_assert(made);
	gitrepo_oid_tohex(&rel, hex);
	/* exactly one line changed in each pom: the project's own version */
	ck_assert_int_eq(tu_sh_out(out, sizeof(out),
				   "cd '%s' && git diff --numstat HEAD %s", maven,
				   hex), 0);
	ck_assert_str_eq(out, "1\t1\tcore/pom.xml\n1\t1\tpom.xml\n1\t1\tweb/pom.xml");
	ck_assert_int_eq(tu_sh_out(out, sizeof(out),
				   "cd '%s' && git diff -U0 HEAD %s | grep '^[-+] '",
				   maven, hex), 0);
	ck_assert_str_eq(out,
			 "-  <version>1.2.0-SNAPSHOT</version>\n+  <version>1.2.0</version>\n"
			 "-  <version>1.2.0-SNAPSHOT</version>\n+  <version>1.2.0</version>\n"
			 "-  <version>1.2.0-SNAPSHOT</version>\n+  <version>1.2.0</version>");
	/* the module's <parent><version> line is untouched */
	ck_assert_int_eq(tu_sh_out(out, sizeof(out), "cd '%s' && git show %s:core/pom.xml | sed -n 2p",
				   maven, hex), 0);
	ck_assert_ptr_nonnull(strstr(out, "<version>1.2.0-SNAPSHOT</version></parent>"));
	gitrepo_free(r);
}
END_TEST

START_TEST(maven_pom_without_version_is_an_error)
{
	struct gitrepo *r;
	struct versionfile_spec spec = { VERSIONFILE_MAVEN, NULL };
	struct gitrepo_oid head, rel;
	struct st_error err;
	char dir[4096];
	bool made;

	snprintf(dir, sizeof(dir), "%s/badmaven", root);
	ck_assert_int_eq(tu_sh("git init -q '%s'", dir), 0);
	tu_write(dir, "pom.xml", ROOT_POM);
	tu_write(dir, "core/pom.xml", CORE_POM);
	tu_write(dir, "web/pom.xml", "<project>\n  <parent><version>1</version></parent>\n"
				     "  <artifactId>web</artifactId>\n</project>\n");
	ck_assert_int_eq(tu_sh("cd '%s' && git add -A && git commit -q -m x", dir), 0);
	r = tu_open(dir);
	head = tu_rev(dir, "HEAD");
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_version_commit(r, &head, &spec, "1.2.0", &WHO,
						NULL, &rel, &made, &err), ST_EINVAL);
	ck_assert_msg(strstr(err.msg, "web/pom.xml:1: <project> has no <version>"),
		      "%s", err.msg);
	gitrepo_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gitrepo_commit");
	TCase *tc = tcase_create("all");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, simple_tags_the_head);
	tcase_add_test(tc, version_file_release_commit_is_deterministic);
	tcase_add_test(tc, version_already_there_tags_the_head);
	tcase_add_test(tc, prep_commit_skipped_when_unchanged);
	tcase_add_test(tc, tag_object_is_deterministic);
	tcase_add_test(tc, maven_release_commit);
	tcase_add_test(tc, maven_pom_without_version_is_an_error);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(suite());
}
