/* SPDX-License-Identifier: MIT */
/*
 * gitrepo_open_mirror: first clone, fetch with prune, broken mirrors
 * re-cloned, URL policy, and the deadline against a server that accepts
 * and never answers (libgit2 1.5 has no network timeouts).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gitrepo_testutil.h"

static char root[4096], src[4096], url[4200], mpath[4096];

static void setup(void)
{
	tu_env();
	tu_tmpdir(root, sizeof(root));
	snprintf(src, sizeof(src), "%s/src", root);
	snprintf(url, sizeof(url), "file://%s", src);
	snprintf(mpath, sizeof(mpath), "%s/state/mirror.git", root);
	ck_assert_int_eq(tu_sh("set -e; git init -q -b trunk '%s'; cd '%s';"
			       "echo 1 > f; git add f; git commit -q -m one;"
			       "git tag 1.0.0; git tag -a -m a 1.1.0;"
			       "git branch release/1; git branch gone;"
			       "git tag doomed; mkdir -p '%s/state'",
			       src, src, root), 0);
}

static void teardown(void)
{
	tu_rmrf(root);
}

static struct gitrepo *open_ok(struct gitrepo_mirror_report *rep)
{
	struct gitrepo *r = NULL;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_msg(gitrepo_open_mirror(mpath, url, NULL, gitrepo_deadline_in(60000),
					  &r, rep, &err) == 0, "%s", err.msg);
	return r;
}

static void assert_same_refs(void)
{
	char a[8192], b[8192];

	ck_assert_int_eq(tu_sh_out(a, sizeof(a), "git -C '%s' for-each-ref "
				   "--format='%%(objectname) %%(refname)' refs/heads refs/tags",
				   src), 0);
	ck_assert_int_eq(tu_sh_out(b, sizeof(b), "git -C '%s' for-each-ref "
				   "--format='%%(objectname) %%(refname)' refs/heads refs/tags",
				   mpath), 0);
	ck_assert_str_eq(a, b);
}

START_TEST(first_use_clones_then_fetches_with_prune)
{
	struct gitrepo_mirror_report rep;
	struct gitrepo_branches b;
	struct gitrepo *r = open_ok(&rep);
	struct st_error err;
	char out[4096];

	ck_assert(rep.created && !rep.recloned);
	assert_same_refs();
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_branches_list(r, "release/", &b, &err), 0);
	ck_assert_str_eq(b.default_name, "trunk"); /* the remote's HEAD */
	gitrepo_branches_release(&b);
	gitrepo_free(r);
	/* nothing about the remote or credentials is stored in the mirror */
	ck_assert_int_ne(tu_sh("git config --file '%s/config' --get-regexp '^remote\\.'",
			       mpath), 0);
	ck_assert_int_ne(tu_sh("test -s '%s/FETCH_HEAD'", mpath), 0);

	/* nothing changed on the remote: the fetch stops at the ref
	 * advertisement, and nothing in the mirror is rewritten */
	ck_assert_int_eq(tu_sh_out(out, sizeof(out), "cd '%s'; stat -c %%y "
				   "packed-refs HEAD; ls objects/pack", mpath), 0);
	{
		char again[4096];

		gitrepo_free(open_ok(&rep));
		ck_assert(!rep.created && !rep.recloned);
		ck_assert_int_eq(tu_sh_out(again, sizeof(again), "cd '%s'; "
					   "stat -c %%y packed-refs HEAD; ls "
					   "objects/pack", mpath), 0);
		ck_assert_str_eq(again, out);
	}
	/* changes on the remote: new commit and tag, a moved tag, deleted
	 * branch and tag; the next open follows them all */
	ck_assert_int_eq(tu_sh("set -e; cd '%s'; echo 2 > f; git commit -q -am two;"
			       "git tag 1.2.0; git tag -f 1.0.0 >/dev/null 2>&1;"
			       "git branch -D gone >/dev/null; git tag -d doomed >/dev/null",
			       src), 0);
	r = open_ok(&rep);
	ck_assert(!rep.created && !rep.recloned);
	assert_same_refs();
	ck_assert_int_ne(tu_sh("git -C '%s' rev-parse -q --verify refs/heads/gone", mpath), 0);
	ck_assert_int_eq(tu_sh_out(out, sizeof(out), "ls '%s'", root), 0);
	ck_assert_str_eq(out, "src\nstate"); /* no temp dirs left beside it */
	gitrepo_free(r);
}
END_TEST

static void expect_reclone(const char *why_part)
{
	struct gitrepo_mirror_report rep;
	struct gitrepo_tags t;
	struct gitrepo *r = open_ok(&rep);
	struct st_error err;

	ck_assert(rep.recloned && !rep.created);
	ck_assert_msg(strstr(rep.warning, why_part), "warning: %s", rep.warning);
	assert_same_refs();
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_tags_list(r, "", &t, &err), 0);
	ck_assert_int_eq((int)t.nreleases, 2);
	gitrepo_tags_release(&t);
	gitrepo_free(r);
	ck_assert_int_eq(tu_sh("git -C '%s' fsck --no-progress >/dev/null 2>&1", mpath), 0);
}

START_TEST(broken_mirrors_are_recloned)
{
	gitrepo_free(open_ok(NULL));
	/* a pack truncated to half its size */
	ck_assert_int_eq(tu_sh("set -e; cd '%s'; git repack -q -a -d;"
			       "for p in objects/pack/*.pack; do "
			       "truncate -s $(( $(stat -c %%s $p) / 2 )) $p; done",
			       mpath), 0);
	expect_reclone("unreadable");
	/* a clone that never finished (no completion marker) */
	ck_assert_int_eq(tu_sh("rm '%s/semver-tagger-mirror'", mpath), 0);
	expect_reclone("marker");
	/* made for another URL */
	ck_assert_int_eq(tu_sh("echo file:///elsewhere > '%s/semver-tagger-mirror'",
			       mpath), 0);
	expect_reclone("marker");
	/* garbage where the mirror should be */
	ck_assert_int_eq(tu_sh("rm -rf '%s' && mkdir '%s' && echo x > '%s/HEAD'",
			       mpath, mpath, mpath), 0);
	expect_reclone("not a repository");
	/* a stale lock left by a fetch killed at its deadline blocks the
	 * next update of that ref: the fetch fails locally -> re-clone */
	ck_assert_int_eq(tu_sh("set -e; touch '%s/refs/heads/trunk.lock';"
			       "cd '%s'; git commit -q --allow-empty -m more",
			       mpath, src), 0);
	expect_reclone("lock");
	/* a ref file cut short (a stale, half-written ref) */
	ck_assert_int_eq(tu_sh("printf 'abc' > '%s/refs/heads/release/1'", mpath), 0);
	expect_reclone("");
}
END_TEST

START_TEST(truncated_clone_directory_is_replaced)
{
	struct gitrepo_mirror_report rep;
	char out[256];

	/* what a process killed mid-clone leaves: a half-built .new dir */
	ck_assert_int_eq(tu_sh("set -e; rm -rf '%s'; mkdir -p '%s.new/objects/pack';"
			       "head -c 1000 /dev/urandom > '%s.new/objects/pack/pack-x.pack'",
			       mpath, mpath, mpath), 0);
	gitrepo_free(open_ok(&rep));
	ck_assert(rep.created);
	assert_same_refs();
	ck_assert_int_ne(tu_sh("test -e '%s.new'", mpath), 0);
	/* and a mirror dir whose clone was cut off: objects gone, refs kept */
	ck_assert_int_eq(tu_sh("rm -rf '%s/objects/pack' '%s'/objects/??", mpath, mpath), 0);
	gitrepo_free(open_ok(&rep));
	ck_assert(rep.recloned);
	assert_same_refs();
	ck_assert_int_eq(tu_sh_out(out, sizeof(out), "ls '%s/state'", root), 0);
	ck_assert_str_eq(out, "mirror.git");
}
END_TEST

START_TEST(url_policy)
{
	struct gitrepo *r = NULL;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_open_mirror(mpath,
					     "https://oauth2:glpat-SECRET@gitlab.example/x.git",
					     NULL, gitrepo_deadline_in(1000), &r, NULL,
					     &err), ST_ECONFIG);
	ck_assert_ptr_null(strstr(err.msg, "SECRET"));
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_open_mirror(mpath, "ssh://git@host/x.git", NULL,
					     gitrepo_deadline_in(1000), &r, NULL,
					     &err), ST_ECONFIG);
	ck_assert_ptr_null(r);
}
END_TEST

static void assert_no_child_left(void)
{
	int st;

	/* every network child was reaped (no zombie, no survivor) */
	ck_assert_int_eq(waitpid(-1, &st, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}

START_TEST(deadline_kills_a_hung_server)
{
	struct gitrepo_credentials cred = { NULL, "tok" };
	struct gitrepo_ref_update u;
	struct gitrepo_push_result res;
	struct gitrepo_remote_refs refs;
	struct tu_server srv;
	struct gitrepo *r;
	struct st_error err;
	char hung[256], local[4200];

	tu_server_start(&srv, TU_SILENT, NULL);
	snprintf(hung, sizeof(hung), "http://127.0.0.1:%d/grp/app.git", srv.port);
	snprintf(local, sizeof(local), "%s/hung.git", root);
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_open_mirror(local, hung, &cred,
					     gitrepo_deadline_in(1500), &r, NULL,
					     &err), ST_ETEMP);
	ck_assert_msg(strstr(err.msg, "no answer within the deadline"), "%s", err.msg);
	ck_assert_int_ge(__atomic_load_n(&srv.accepted, __ATOMIC_SEQ_CST), 1);
	assert_no_child_left();
	/* push and ls-remote are bounded the same way */
	r = open_ok(NULL);
	u.refname = "refs/tags/9.9.9";
	memset(&u.expected_old, 0, sizeof(u.expected_old));
	u.new_oid = tu_rev(mpath, "trunk");
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_push(r, hung, &cred, &u, 1, &res,
				      gitrepo_deadline_in(1000), &err), ST_ETEMP);
	ck_assert(res.status == GITREPO_PUSH_UNKNOWN);
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_remote_refs(r, hung, &cred, gitrepo_deadline_in(1000),
					     &refs, &err), ST_ETEMP);
	assert_no_child_left();
	/* no temporary push refs are left behind by the killed child */
	ck_assert_int_ne(tu_sh("git -C '%s' for-each-ref refs/semver-tagger | grep -q .",
			       mpath), 0);
	gitrepo_free(r);
	tu_server_stop(&srv);
}
END_TEST

/* libgit2 with GIT_REMOTE_REDIRECT_NONE refuses a redirect to another
 * host name; one to another port of the same host is followed, and then
 * the credential callback refuses: the token is bound to scheme, host
 * and port of the configured URL. */
START_TEST(redirects_are_not_followed_with_credentials)
{
	struct gitrepo_credentials cred = { NULL, "tok-CANARY" };
	struct tu_server target, redir;
	struct gitrepo *r = NULL;
	struct st_error err;
	char to[256], from[256], local[4200];

	tu_server_start(&target, TU_AUTH, NULL);
	snprintf(to, sizeof(to),
		 "http://localhost:%d/other.git/info/refs?service=git-upload-pack",
		 target.port);
	tu_server_start(&redir, TU_REDIRECT, to);
	snprintf(from, sizeof(from), "http://127.0.0.1:%d/grp/app.git", redir.port);
	snprintf(local, sizeof(local), "%s/redir.git", root);
	st_error_clear(&err);
	ck_assert_int_ne(gitrepo_open_mirror(local, from, &cred,
					     gitrepo_deadline_in(20000), &r, NULL,
					     &err), 0);
	ck_assert_int_ge(__atomic_load_n(&redir.accepted, __ATOMIC_SEQ_CST), 1);
	ck_assert_int_eq(__atomic_load_n(&target.accepted, __ATOMIC_SEQ_CST), 0);
	tu_server_stop(&redir);

	/* same host, other port: followed by libgit2, no token given */
	snprintf(to, sizeof(to),
		 "http://127.0.0.1:%d/other.git/info/refs?service=git-upload-pack",
		 target.port);
	tu_server_start(&redir, TU_REDIRECT, to);
	snprintf(from, sizeof(from), "http://127.0.0.1:%d/grp/app.git", redir.port);
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_open_mirror(local, from, &cred,
					     gitrepo_deadline_in(20000), &r, NULL,
					     &err), ST_EAUTH);
	ck_assert_msg(strstr(err.msg, "another host"), "%s", err.msg);
	ck_assert_int_ge(__atomic_load_n(&target.accepted, __ATOMIC_SEQ_CST), 1);
	ck_assert_int_eq(__atomic_load_n(&target.with_auth, __ATOMIC_SEQ_CST), 0);
	ck_assert_ptr_null(strstr(err.msg, "CANARY"));
	tu_server_stop(&redir);
	tu_server_stop(&target);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gitrepo_mirror");
	TCase *tc = tcase_create("all");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, first_use_clones_then_fetches_with_prune);
	tcase_add_test(tc, broken_mirrors_are_recloned);
	tcase_add_test(tc, truncated_clone_directory_is_replaced);
	tcase_add_test(tc, url_policy);
	tcase_add_test(tc, deadline_kills_a_hung_server);
	tcase_add_test(tc, redirects_are_not_followed_with_credentials);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(suite());
}
