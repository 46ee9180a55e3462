/* SPDX-License-Identifier: MIT */
/* gitrepo_files: release commits carrying a changelog, reading files at a
 * commit (hostile paths refused), who made a tag, and merges whose only
 * conflict is in the changelog. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gitrepo_testutil.h"

static char root[4096], dir[4096];
static const struct gitrepo_identity WHO = { "semver-tagger",
					     "semver-tagger@example.invalid" };
static const struct versionfile_spec PLAIN = { VERSIONFILE_PLAIN, NULL };

/*
 * base: VERSION 1.0.0, CHANGELOG.md with 1.0.0, x.txt
 * rel:  the top of CHANGELOG.md edited by a person, VERSION 1.0.1-SNAPSHOT
 * R:    on base, VERSION 1.1.0 and a 1.1.0 section (a release commit)
 */
static void setup(void)
{
	tu_env();
	tu_tmpdir(root, sizeof(root));
	snprintf(dir, sizeof(dir), "%s/repo", root);
	ck_assert_int_eq(tu_sh(
		"set -e; git init -q -b main '%s'; cd '%s';"
		"echo 1.0.0 > VERSION; echo x > x.txt;"
		"printf '# Changelog\\n\\n## 1.0.0 (d)\\n\\n- one\\n' > CHANGELOG.md;"
		"git add -A; git commit -q -m base; git tag base;"
		"git tag -a -m 'Release 1.0.0' 1.0.0;"
		"git checkout -q -b rel;"
		"printf '# Changelog\\n\\nMaintained.\\n\\n## 1.0.0 (d)\\n\\n- one\\n'"
		" > CHANGELOG.md; echo 1.0.1-SNAPSHOT > VERSION;"
		"git commit -q -am edit;"
		"git checkout -q -b r base;"
		"printf '# Changelog\\n\\n## 1.1.0 (d)\\n\\n- two\\n\\n## 1.0.0 (d)\\n\\n- one\\n'"
		" > CHANGELOG.md; echo 1.1.0 > VERSION; git commit -q -am R;"
		"git tag R",
		dir, dir), 0);
}

static void teardown(void)
{
	tu_rmrf(root);
}

static void show(const struct gitrepo_oid *id, const char *path, char *out,
		 size_t size)
{
	char hex[GITREPO_OID_HEXSZ + 1];

	gitrepo_oid_tohex(id, hex);
	ck_assert_int_eq(tu_sh_out(out, size, "cd '%s' && git show %s:%s", dir,
				   hex, path), 0);
}

START_TEST(release_commit_with_changelog)
{
	struct gitrepo *r = tu_open(dir);
	struct gitrepo_oid base = tu_rev(dir, "base"), a, b;
	struct gitrepo_file f = { "docs/NEWS.md", "## 1.0.1 (d)\n", 13 };
	struct st_error err;
	char buf[4096];
	bool made;

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_release_commit(r, &base, &PLAIN, "1.0.1", &WHO,
						NULL, &f, 1, &a, &made, &err), 0);
	ck_assert(made);
	show(&a, "VERSION", buf, sizeof(buf));
	ck_assert_str_eq(buf, "1.0.1"); /* tu_sh_out drops the last newline */
	show(&a, "docs/NEWS.md", buf, sizeof(buf));
	ck_assert_str_eq(buf, "## 1.0.1 (d)");
	/* deterministic: the same inputs give the same commit */
	ck_assert_int_eq(gitrepo_release_commit(r, &base, &PLAIN, "1.0.1", &WHO,
						NULL, &f, 1, &b, &made, &err), 0);
	ck_assert(gitrepo_oid_equal(&a, &b));
	/* only the extra file changes: still a commit; nothing: none */
	ck_assert_int_eq(gitrepo_release_commit(r, &base, &PLAIN, "1.0.0", &WHO,
						"m", &f, 1, &b, &made, &err), 0);
	ck_assert(made);
	ck_assert_int_eq(gitrepo_release_commit(r, &a, &PLAIN, "1.0.1", &WHO,
						NULL, &f, 1, &b, &made, &err), 0);
	ck_assert(!made);
	ck_assert(gitrepo_oid_equal(&a, &b));
	gitrepo_free(r);
}
END_TEST

START_TEST(hostile_paths_refused)
{
	static const char *const bad[] = { "../x", "/etc/passwd", ".git/config",
					   "a//b", "./a", "a/", "", "a/.GIT/x",
					   "a\nb", "a\\b" };
	struct gitrepo *r = tu_open(dir);
	struct gitrepo_oid base = tu_rev(dir, "base"), out;
	struct st_error err;
	struct strbuf sb;
	bool made;

	strbuf_init(&sb, 1 << 20);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct gitrepo_file f = { bad[i], "x", 1 };

		st_error_clear(&err);
		ck_assert_msg(!gitrepo_path_valid(bad[i]), "%s", bad[i]);
		ck_assert_int_eq(gitrepo_file_at(r, &base, bad[i], &sb, &err),
				 ST_ECONFIG);
		st_error_clear(&err);
		ck_assert_int_eq(gitrepo_release_commit(r, &base, &PLAIN, "2.0.0",
							&WHO, NULL, &f, 1, &out,
							&made, &err), ST_ECONFIG);
	}
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_file_at(r, &base, "missing.md", &sb, &err),
			 ST_ENOTFOUND);
	ck_assert_int_eq(gitrepo_file_at(r, &base, "x.txt", &sb, &err), 0);
	ck_assert_str_eq(strbuf_str(&sb), "x\n");
	strbuf_release(&sb);
	gitrepo_free(r);
}
END_TEST

START_TEST(tag_made_by)
{
	struct gitrepo *r = tu_open(dir);
	struct gitrepo_oid tag, commit = tu_rev(dir, "base"), mine;
	struct gitrepo_identity git_cli;
	struct st_error err;
	char name[256], email[256];
	bool ours = true;

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_ref_value(r, "refs/tags/1.0.0", &tag, &err), 0);
	ck_assert_int_eq(gitrepo_tag_made_by(r, &tag, &WHO, &ours, &err), 0);
	ck_assert(!ours); /* the git CLI's identity (tu_env) */
	ck_assert_int_eq(tu_sh_out(name, sizeof(name), "cd '%s' && git "
				   "for-each-ref --format='%%(taggername)' "
				   "refs/tags/1.0.0 | tr -d '\\n'", dir), 0);
	ck_assert_int_eq(tu_sh_out(email, sizeof(email), "cd '%s' && git "
				   "for-each-ref --format='%%(taggeremail:trim)' "
				   "refs/tags/1.0.0 | tr -d '\\n'", dir), 0);
	git_cli = (struct gitrepo_identity){ name, email };
	ck_assert_int_eq(gitrepo_tag_made_by(r, &tag, &git_cli, &ours, &err), 0);
	ck_assert(ours);
	/* a lightweight tag (a commit) has no tagger */
	ck_assert_int_eq(gitrepo_tag_made_by(r, &commit, &git_cli, &ours, &err),
			 0);
	ck_assert(!ours);
	ck_assert_int_eq(gitrepo_tag_object(r, "9.9.9", &commit, &WHO, NULL,
					    &mine, &err), 0);
	ck_assert_int_eq(gitrepo_tag_made_by(r, &mine, &WHO, &ours, &err), 0);
	ck_assert(ours);
	gitrepo_free(r);
}
END_TEST

START_TEST(changelog_only_conflict_is_merged)
{
	struct gitrepo *r = tu_open(dir);
	struct gitrepo_merge_request q = {
		.branch = "rel", .branch_head = tu_rev(dir, "rel"),
		.commit = tu_rev(dir, "R"), .spec = &PLAIN,
		.branch_version = "1.1.1-SNAPSHOT", .who = &WHO,
	};
	enum gitrepo_merge_kind kind;
	struct gitrepo_oid out;
	struct st_error err;
	char buf[4096];

	/* without the changelog path: a conflict a person must settle */
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_merge(r, &q, &out, &kind, &err), ST_EREFUSED);
	ck_assert_ptr_nonnull(strstr(err.msg, "CHANGELOG.md"));
	q.changelog_path = "CHANGELOG.md";
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_merge(r, &q, &out, &kind, &err), 0);
	ck_assert_int_eq(kind, GITREPO_MERGE_COMMIT);
	show(&out, "CHANGELOG.md", buf, sizeof(buf));
	ck_assert_str_eq(buf, "# Changelog\n\nMaintained.\n\n## 1.1.0 (d)\n\n"
			      "- two\n\n## 1.0.0 (d)\n\n- one");
	show(&out, "VERSION", buf, sizeof(buf));
	ck_assert_str_eq(buf, "1.1.1-SNAPSHOT");
	gitrepo_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gitrepo_files");
	TCase *tc = tcase_create("all");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, release_commit_with_changelog);
	tcase_add_test(tc, hostile_paths_refused);
	tcase_add_test(tc, tag_made_by);
	tcase_add_test(tc, changelog_only_conflict_is_merged);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(suite());
}
