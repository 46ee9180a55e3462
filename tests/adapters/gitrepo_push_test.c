/* SPDX-License-Identifier: MIT */
/*
 * gitrepo over git's smart HTTP (the GitLab stand-in, tests/forge/):
 * mirror clone/fetch with a token, and the compare-and-swap push.
 * Never file://: libgit2's local transport skips receive-pack and its
 * old-value check, which would hide exactly the races tested here.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gitrepo_testutil.h"
#include "standin.h"

#define TOKEN "glpat-CANARY-5f1d0c2a9b7e4431a8c6d2e0f9b3a7c1"

static struct standin sd;
static char root[4096];
static int project_no;
static const struct gitrepo_identity WHO = { "semver-tagger",
					     "semver-tagger@example.invalid" };
static const struct versionfile_spec PLAIN = { VERSIONFILE_PLAIN, NULL };
static const struct gitrepo_credentials CRED = { NULL, TOKEN };

static void setup(void)
{
	struct standin_response r;

	tu_env();
	tu_tmpdir(root, sizeof(root));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ck_assert_int_eq(standin_start(&sd), 0);
	ck_assert_int_eq(standin_control(&sd, "POST", "/__control__/tokens",
					 "{\"token\":\"" TOKEN "\",\"username\":\"bot\"}",
					 &r), 0);
	ck_assert_int_eq(r.status, 201);
	standin_response_release(&r);
	ck_assert_int_eq(standin_control(&sd, "POST", "/__control__/tokens",
					 "{\"token\":\"ro-token\",\"read_only\":true}",
					 &r), 0);
	standin_response_release(&r);
}

static void teardown(void)
{
	standin_stop(&sd);
	curl_global_cleanup();
	tu_rmrf(root);
}

struct proj {
	char name[64];
	char url[256];
	char mirror[4200];
	struct gitrepo *repo;
};

/* A fresh project (VERSION 1.0.0-SNAPSHOT on main) and its mirror. */
static void new_project(struct proj *p)
{
	struct standin_response r;
	struct gitrepo_mirror_report rep;
	struct st_error err;

	/* each test runs in its own forked process: the pid names it */
	snprintf(p->name, sizeof(p->name), "grp/app%d-%d", (int)getpid(),
		 ++project_no);
	ck_assert_int_eq(standin_controlf(&sd, &r, "POST", "/__control__/projects",
					  "{\"path_with_namespace\":\"%s\",\"files\":"
					  "{\"VERSION\":\"1.0.0-SNAPSHOT\\n\",\"a.txt\":\"a\\n\"}}",
					  p->name), 0);
	ck_assert_int_eq(r.status, 201);
	standin_response_release(&r);
	ck_assert_int_eq(standin_git_url(&sd, p->name, p->url, sizeof(p->url)), 0);
	snprintf(p->mirror, sizeof(p->mirror), "%s/mirror-%d-%d.git", root,
		 (int)getpid(), project_no);
	st_error_clear(&err);
	ck_assert_msg(gitrepo_open_mirror(p->mirror, p->url, &CRED,
					  gitrepo_deadline_in(30000), &p->repo,
					  &rep, &err) == 0, "%s", err.msg);
	ck_assert(rep.created);
}

/* "/__control__/projects/grp%2Fapp1/<sub>" */
static void proj_path(const struct proj *p, const char *sub, char *out,
		      size_t size)
{
	const char *slash = strchr(p->name, '/');

	snprintf(out, size, "/__control__/projects/%.*s%%2F%s/%s",
		 (int)(slash - p->name), p->name, slash + 1, sub);
}

static void control_project(const struct proj *p, const char *method,
			    const char *sub, const char *body, long want)
{
	struct standin_response r;
	char path[256];

	proj_path(p, sub, path, sizeof(path));
	ck_assert_int_eq(standin_control(&sd, method, path, body, &r), 0);
	ck_assert_msg(r.status == want, "%s: %ld %s", sub, r.status, r.body);
	standin_response_release(&r);
}

/* The stand-in's value of refname ("" when absent), or its peeled commit. */
static void server_ref(const struct proj *p, const char *refname, bool peeled,
		       char *out, size_t size)
{
	struct standin_response r;
	const cJSON *obj, *v;
	char path[256];
	cJSON *doc;

	proj_path(p, "refs", path, sizeof(path));
	ck_assert_int_eq(standin_control(&sd, "GET", path, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	doc = cJSON_Parse(r.body);
	ck_assert_ptr_nonnull(doc);
	obj = peeled ? cJSON_GetObjectItemCaseSensitive(doc, "peeled") : doc;
	v = obj ? cJSON_GetObjectItemCaseSensitive(obj, refname) : NULL;
	snprintf(out, size, "%s", cJSON_IsString(v) ? v->valuestring : "");
	cJSON_Delete(doc);
	standin_response_release(&r);
}

static void hex(const struct gitrepo_oid *id, char *out)
{
	gitrepo_oid_tohex(id, out);
}

static struct gitrepo_oid head_of(struct proj *p, const char *branch)
{
	struct gitrepo_oid id;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_branch_head(p->repo, branch, &id, &err), 0);
	return id;
}

static int push(struct proj *p, struct gitrepo_ref_update *u, size_t n,
		struct gitrepo_push_result *res, struct st_error *err)
{
	st_error_clear(err);
	return gitrepo_push(p->repo, p->url, &CRED, u, n, res,
			    gitrepo_deadline_in(30000), err);
}

/* Release commit + annotated tag for version on main's head. */
static void release_objects(struct proj *p, const char *version,
			    const char *msg, struct gitrepo_oid *commit,
			    struct gitrepo_oid *tag)
{
	struct gitrepo_oid head = head_of(p, "main");
	struct st_error err;
	bool made;

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_version_commit(p->repo, &head, &PLAIN, version,
						&WHO, NULL, commit, &made, &err), 0);
	ck_assert(made);
	ck_assert_int_eq(gitrepo_tag_object(p->repo, version, commit, &WHO, msg,
					    tag, &err), 0);
}

START_TEST(push_tag_and_branch_then_fetch)
{
	struct proj p;
	struct gitrepo_oid rel, tag, main0, prep;
	struct gitrepo_ref_update u[3];
	struct gitrepo_push_result res[3];
	struct gitrepo_tags tags;
	struct st_error err;
	char want[41], got[64];
	bool made;

	new_project(&p);
	main0 = head_of(&p, "main");
	release_objects(&p, "1.0.0", "Release 1.0.0", &rel, &tag);
	ck_assert_int_eq(gitrepo_version_commit(p.repo, &rel, &PLAIN,
						"1.1.0-SNAPSHOT", &WHO, NULL, &prep,
						&made, &err), 0);
	memset(u, 0, sizeof(u));
	u[0].refname = "refs/tags/1.0.0";
	u[0].new_oid = tag;
	u[1].refname = "refs/heads/release/1";
	u[1].new_oid = rel;
	u[2].refname = "refs/heads/main";
	u[2].expected_old = main0;
	u[2].new_oid = prep;
	ck_assert_msg(push(&p, u, 3, res, &err) == 0, "%s", err.msg);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(res[i].status == GITREPO_PUSH_OK, "%d: %s", i,
			      res[i].message);
	hex(&tag, want);
	server_ref(&p, "refs/tags/1.0.0", false, got, sizeof(got));
	ck_assert_str_eq(got, want);
	hex(&rel, want);
	server_ref(&p, "refs/tags/1.0.0", true, got, sizeof(got));
	ck_assert_str_eq(got, want);
	server_ref(&p, "refs/heads/release/1", false, got, sizeof(got));
	ck_assert_str_eq(got, want);
	hex(&prep, want);
	server_ref(&p, "refs/heads/main", false, got, sizeof(got));
	ck_assert_str_eq(got, want);
	/* the mirror learns it by fetching (it never moves refs itself) */
	ck_assert_int_eq(gitrepo_fetch(p.repo, p.url, &CRED,
				       gitrepo_deadline_in(30000), &err), 0);
	ck_assert_int_eq(gitrepo_tags_list(p.repo, "", &tags, &err), 0);
	ck_assert_int_eq((int)tags.nreleases, 1);
	ck_assert(gitrepo_oid_equal(&tags.releases[0]->commit, &rel));
	gitrepo_tags_release(&tags);
	/* nothing of the token anywhere in the mirror, temp refs gone */
	ck_assert_int_ne(tu_sh("grep -r -q CANARY '%s'", p.mirror), 0);
	ck_assert_int_ne(tu_sh("git -C '%s' for-each-ref refs/semver-tagger | grep -q .",
			       p.mirror), 0);
	gitrepo_free(p.repo);
}
END_TEST

START_TEST(tag_exists_same_and_other_target)
{
	struct proj p;
	struct gitrepo_oid rel, tag, other;
	struct gitrepo_ref_update u[2];
	struct gitrepo_push_result res[2];
	struct st_error err;
	char want[41], got[64];

	new_project(&p);
	release_objects(&p, "1.0.0", "Release 1.0.0", &rel, &tag);
	memset(u, 0, sizeof(u));
	u[0].refname = "refs/tags/1.0.0";
	u[0].new_oid = tag;
	ck_assert_int_eq(push(&p, u, 1, res, &err), 0);
	/* a second runner made the same (deterministic) tag: already done */
	ck_assert_int_eq(push(&p, u, 1, res, &err), 0);
	ck_assert(res[0].status == GITREPO_PUSH_OK);
	/* a tag object for another commit: a race, nothing sent, nothing moved */
	{
		struct gitrepo_oid main0 = head_of(&p, "main");

		ck_assert_int_eq(gitrepo_tag_object(p.repo, "1.0.0", &main0, &WHO,
						    "Release 1.0.0", &other, &err), 0);
	}
	u[0].new_oid = other;
	u[1].refname = "refs/heads/release/1";
	u[1].new_oid = rel;
	ck_assert_int_eq(push(&p, u, 2, res, &err), ST_ERACE);
	ck_assert(res[0].status == GITREPO_PUSH_RACE && res[0].remote_known);
	ck_assert(gitrepo_oid_equal(&res[0].remote_oid, &tag));
	ck_assert(gitrepo_oid_equal(&res[0].remote_peeled, &rel));
	ck_assert(res[1].status == GITREPO_PUSH_NOT_SENT);
	hex(&tag, want);
	server_ref(&p, "refs/tags/1.0.0", false, got, sizeof(got));
	ck_assert_str_eq(got, want);
	server_ref(&p, "refs/heads/release/1", false, got, sizeof(got));
	ck_assert_str_eq(got, "");
	/* moving a tag is not even attempted */
	u[0].expected_old = tag;
	ck_assert_int_eq(push(&p, u, 1, res, &err), ST_EINVAL);
	gitrepo_free(p.repo);
}
END_TEST

START_TEST(non_fast_forward_is_refused)
{
	struct proj p;
	struct gitrepo_oid main0, side, rel, tag;
	struct gitrepo_ref_update u;
	struct gitrepo_push_result res;
	struct st_error err;
	char want[41], got[64];
	bool made;

	new_project(&p);
	main0 = head_of(&p, "main");
	release_objects(&p, "1.0.0", "r", &rel, &tag);
	u.refname = "refs/heads/main";
	u.expected_old = main0;
	u.new_oid = rel;
	ck_assert_int_eq(push(&p, &u, 1, &res, &err), 0); /* main -> rel */
	/* now a commit beside rel (same parent): not a fast-forward */
	ck_assert_int_eq(gitrepo_version_commit(p.repo, &main0, &PLAIN, "9.9.9",
						&WHO, NULL, &side, &made, &err), 0);
	u.expected_old = rel;
	u.new_oid = side;
	ck_assert_int_eq(push(&p, &u, 1, &res, &err), ST_EREFUSED);
	ck_assert(res.status == GITREPO_PUSH_REJECTED);
	ck_assert_msg(strstr(res.message, "not a fast-forward"), "%s", res.message);
	hex(&rel, want);
	server_ref(&p, "refs/heads/main", false, got, sizeof(got));
	ck_assert_str_eq(got, want);
	gitrepo_free(p.repo);
}
END_TEST

START_TEST(branch_moved_by_someone_else)
{
	struct proj p;
	struct gitrepo_oid main0, rel, tag, moved;
	struct gitrepo_ref_update u;
	struct gitrepo_push_result res;
	struct st_error err;
	char got[64];

	new_project(&p);
	main0 = head_of(&p, "main");
	release_objects(&p, "1.0.0", "r", &rel, &tag);
	/* someone pushes to main after our snapshot */
	control_project(&p, "POST", "commits",
			"{\"branch\":\"main\",\"message\":\"human\","
			"\"files\":{\"b.txt\":\"b\\n\"}}", 201);
	u.refname = "refs/heads/main";
	u.expected_old = main0;
	u.new_oid = rel;
	ck_assert_int_eq(push(&p, &u, 1, &res, &err), ST_ERACE);
	ck_assert(res.status == GITREPO_PUSH_RACE && res.remote_known);
	server_ref(&p, "refs/heads/main", false, got, sizeof(got));
	ck_assert_int_eq(gitrepo_oid_fromhex(got, &moved), 0);
	ck_assert(gitrepo_oid_equal(&res.remote_oid, &moved));
	ck_assert(!gitrepo_oid_equal(&moved, &main0));
	gitrepo_free(p.repo);
}
END_TEST

START_TEST(protected_branch_is_refused_by_the_server)
{
	struct proj p;
	struct gitrepo_oid main0, rel, tag;
	struct gitrepo_ref_update u;
	struct gitrepo_push_result res;
	struct st_error err;
	char want[41], got[64];

	new_project(&p);
	control_project(&p, "POST", "protected_branches",
			"{\"name\":\"main\",\"level\":\"no_push\"}", 201);
	main0 = head_of(&p, "main");
	release_objects(&p, "1.0.0", "r", &rel, &tag);
	u.refname = "refs/heads/main";
	u.expected_old = main0;
	u.new_oid = rel;
	ck_assert_int_eq(push(&p, &u, 1, &res, &err), ST_EREFUSED);
	ck_assert(res.status == GITREPO_PUSH_REJECTED);
	ck_assert_msg(strstr(res.message, "GitLab: You are not allowed to push code to protected branches"),
		      "%s", res.message);
	ck_assert(res.remote_known && gitrepo_oid_equal(&res.remote_oid, &main0));
	hex(&main0, want);
	server_ref(&p, "refs/heads/main", false, got, sizeof(got));
	ck_assert_str_eq(got, want);
	gitrepo_free(p.repo);
}
END_TEST

START_TEST(wrong_token_one_attempt)
{
	static const struct gitrepo_credentials bad = { "oauth2", "glpat-wrong" };
	static const struct gitrepo_credentials ro = { NULL, "ro-token" };
	struct proj p;
	struct standin_response r;
	struct gitrepo *none = NULL;
	struct gitrepo_ref_update u;
	struct gitrepo_push_result res;
	struct gitrepo_oid rel, tag;
	struct st_error err;
	char other[4300], *at;
	int basic = 0;

	new_project(&p);
	release_objects(&p, "1.0.0", "r", &rel, &tag);
	ck_assert_int_eq(standin_control(&sd, "DELETE", "/__control__/counters", NULL, &r), 0);
	standin_response_release(&r);
	snprintf(other, sizeof(other), "%s.other", p.mirror);
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_open_mirror(other, p.url, &bad, gitrepo_deadline_in(30000),
					     &none, NULL, &err), ST_EAUTH);
	ck_assert_msg(strstr(err.msg, "rejected the token"), "%s", err.msg);
	/* exactly one request carried credentials: no retries */
	ck_assert_int_eq(standin_control(&sd, "GET", "/__control__/requests", NULL, &r), 0);
	for (at = r.body; (at = strstr(at, "\"basic\"")) != NULL; at++)
		basic++;
	standin_response_release(&r);
	ck_assert_int_eq(basic, 1);
	/* push with a wrong or read-only token: nothing sent */
	u.refname = "refs/tags/1.0.0";
	memset(&u.expected_old, 0, sizeof(u.expected_old));
	u.new_oid = tag;
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_push(p.repo, p.url, &bad, &u, 1, &res,
				      gitrepo_deadline_in(30000), &err), ST_EAUTH);
	ck_assert(res.status == GITREPO_PUSH_NOT_SENT);
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_push(p.repo, p.url, &ro, &u, 1, &res,
				      gitrepo_deadline_in(30000), &err), ST_EAUTH);
	ck_assert(res.status == GITREPO_PUSH_NOT_SENT);
	gitrepo_free(p.repo);
}
END_TEST

START_TEST(remote_refs_snapshot)
{
	struct proj p;
	struct gitrepo_oid rel, tag, main0;
	struct gitrepo_ref_update u;
	struct gitrepo_push_result res;
	struct gitrepo_remote_refs refs;
	const struct gitrepo_remote_ref *x;
	struct st_error err;

	new_project(&p);
	main0 = head_of(&p, "main");
	release_objects(&p, "1.0.0", "r", &rel, &tag);
	u.refname = "refs/tags/1.0.0";
	memset(&u.expected_old, 0, sizeof(u.expected_old));
	u.new_oid = tag;
	ck_assert_int_eq(push(&p, &u, 1, &res, &err), 0);
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_remote_refs(p.repo, p.url, &CRED,
					     gitrepo_deadline_in(30000), &refs, &err), 0);
	x = gitrepo_remote_refs_find(&refs, "HEAD");
	ck_assert(x && x->symref_target);
	ck_assert_str_eq(x->symref_target, "refs/heads/main");
	x = gitrepo_remote_refs_find(&refs, "refs/heads/main");
	ck_assert(x && gitrepo_oid_equal(&x->oid, &main0));
	x = gitrepo_remote_refs_find(&refs, "refs/tags/1.0.0");
	ck_assert(x && gitrepo_oid_equal(&x->oid, &tag) &&
		  gitrepo_oid_equal(&x->peeled, &rel));
	ck_assert_ptr_null(gitrepo_remote_refs_find(&refs, "refs/tags/1.0.0^{}"));
	gitrepo_remote_refs_release(&refs);
	gitrepo_free(p.repo);
}
END_TEST

/* ---- a concurrent runner wins between our snapshot and our push ---- */

struct bg_push {
	struct proj *p;
	struct gitrepo_ref_update u;
	struct gitrepo_push_result res;
	struct st_error err;
	int rc;
};

static void *bg_push_main(void *arg)
{
	struct bg_push *b = arg;

	b->rc = push(b->p, &b->u, 1, &b->res, &b->err);
	return NULL;
}

static int counter(const char *route)
{
	struct standin_response r;
	char key[128], *at;
	int n = 0;

	ck_assert_int_eq(standin_control(&sd, "GET", "/__control__/counters", NULL, &r), 0);
	snprintf(key, sizeof(key), "\"%s\":", route);
	at = strstr(r.body, key);
	if (at)
		n = (int)strtol(at + strlen(key), NULL, 10);
	standin_response_release(&r);
	return n;
}

START_TEST(tag_created_between_snapshot_and_push)
{
	static const char *route = "POST /:project.git/git-receive-pack";
	struct proj p;
	struct bg_push b;
	struct standin_response r;
	struct gitrepo_oid rel, tag, theirs;
	pthread_t t;
	char got[64];
	int before, waited = 0;

	new_project(&p);
	release_objects(&p, "1.0.0", "Release 1.0.0", &rel, &tag);
	/* hold our receive-pack request 3 s; meanwhile "another runner"
	 * creates the tag (the advertisement we checked is now stale) */
	ck_assert_int_eq(standin_control(&sd, "POST", "/__control__/faults",
					 "{\"endpoint\":\"POST /:project.git/git-receive-pack\","
					 "\"mode\":\"delay\",\"delay_ms\":3000,\"count\":1}",
					 &r), 0);
	ck_assert_int_eq(r.status, 201);
	standin_response_release(&r);
	before = counter(route);
	memset(&b, 0, sizeof(b));
	b.p = &p;
	b.u.refname = "refs/tags/1.0.0";
	b.u.new_oid = tag;
	ck_assert_int_eq(pthread_create(&t, NULL, bg_push_main, &b), 0);
	while (counter(route) == before && waited++ < 1000)
		usleep(20000);
	control_project(&p, "POST", "tags",
			"{\"tag\":\"1.0.0\",\"ref\":\"main\",\"message\":\"by hand\"}",
			201);
	pthread_join(t, NULL);
	/* the server refused the stale create; re-reading shows why */
	ck_assert_msg(b.rc == ST_ERACE, "%d %s", b.rc, b.err.msg);
	ck_assert(b.res.status == GITREPO_PUSH_RACE && b.res.remote_known);
	server_ref(&p, "refs/tags/1.0.0", false, got, sizeof(got));
	ck_assert_int_eq(gitrepo_oid_fromhex(got, &theirs), 0);
	ck_assert(gitrepo_oid_equal(&b.res.remote_oid, &theirs));
	ck_assert(!gitrepo_oid_equal(&theirs, &tag));
	ck_assert_msg(strstr(b.res.message, "changed by someone else"), "%s",
		      b.res.message);
	gitrepo_free(p.repo);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gitrepo_push");
	TCase *tc = tcase_create("all");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, push_tag_and_branch_then_fetch);
	tcase_add_test(tc, tag_exists_same_and_other_target);
	tcase_add_test(tc, non_fast_forward_is_refused);
	tcase_add_test(tc, branch_moved_by_someone_else);
	tcase_add_test(tc, protected_branch_is_refused_by_the_server);
	tcase_add_test(tc, wrong_token_one_attempt);
	tcase_add_test(tc, remote_refs_snapshot);
	tcase_add_test(tc, tag_created_between_snapshot_and_push);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(suite());
}
