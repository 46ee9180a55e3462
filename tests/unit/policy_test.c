/* SPDX-License-Identifier: MIT */
/*
 * The release policy, table-driven: every row of SPEC §4 and §5, the
 * refusals, STABLE_RELEASE, the worked example, and properties checked over
 * generated inputs. A row is (branch, releases, new MRs with labels) ->
 * (status, next version, goals as text).
 */
#include "semver-tagger/policy.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RELEASES 64
#define MAX_MRS 8

static struct labels *labels;

/* "1.0.0 2.1.0" -> array. */
static size_t parse_releases(const char *text, struct semver_ver *out)
{
	char buf[1024], *save = NULL, *tok;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", text);
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save))
		ck_assert(semver_release_from_tag(tok, "", &out[n++]) == 1);
	return n;
}

/* "Minor,Patch,-" -> one MR per item: a label name after "Impact", "-"
 * for none, "Minor+Major" for two labels. */
struct mrs {
	struct policy_mr mr[MAX_MRS];
	char label[MAX_MRS][2][32];
	const char *ptr[MAX_MRS][2];
	size_t n;
};

static void parse_mrs(const char *text, struct mrs *m)
{
	char buf[256], *save = NULL, *tok;

	memset(m, 0, sizeof(*m));
	snprintf(buf, sizeof(buf), "%s", text);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t i = m->n++;
		char *plus = strchr(tok, '+');
		size_t nl = 0;

		m->mr[i].iid = 100 + i;
		m->mr[i].title = "Some change";
		m->mr[i].web_url = "https://gitlab.example/g/p/-/merge_requests/1";
		if (plus)
			*plus = '\0';
		if (strcmp(tok, "-") != 0)
			snprintf(m->label[i][nl++], 32, "Impact%s", tok);
		if (plus)
			snprintf(m->label[i][nl++], 32, "Impact%s", plus + 1);
		for (size_t k = 0; k < nl; k++)
			m->ptr[i][k] = m->label[i][k];
		m->mr[i].labels = m->ptr[i];
		m->mr[i].n_labels = nl;
	}
}

static void goals_text(const struct policy_plan *p, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->n_goals && off < size; i++) {
		const struct policy_goal *g = &p->goals[i];
		int n;

		if (g->kind == GOAL_TAG)
			n = snprintf(buf + off, size - off, "%stag:%s",
				     off ? " " : "", g->version);
		else if (g->kind == GOAL_BRANCH)
			n = snprintf(buf + off, size - off, "%sbranch:%s",
				     off ? " " : "", g->branch);
		else
			n = snprintf(buf + off, size - off, "%sprep:%s=%s",
				     off ? " " : "", g->branch, g->version);
		off += (size_t)n;
	}
}

static struct policy_settings settings(bool prep)
{
	return (struct policy_settings){
		.labels = labels,
		.default_branch = "main",
		.prep_commits = prep,
	};
}

struct row {
	const char *branch, *releases, *mrs;
	bool stable, prep;
	int status;
	const char *next;  /* "" = nothing to release */
	const char *goals; /* NULL = don't check */
	const char *problems; /* kinds, space separated; NULL = none */
};

#define REL "0.1.0 0.2.0 0.2.1 1.0.0 1.1.0 1.2.0 2.0.0 2.1.0"

static const struct row rows[] = {
	/* SPEC §4 on the default branch, no release yet (virtual 0.0.0). */
	{ "main", "", "", false, true, 0, "", "", NULL },
	{ "main", "", "Patch", false, true, 0, "0.0.1",
	  "tag:0.0.1 prep:main=0.1.0-SNAPSHOT branch:release/0 "
	  "prep:release/0=0.1.0-SNAPSHOT branch:release/0.0 "
	  "prep:release/0.0=0.0.2-SNAPSHOT", NULL },
	{ "main", "", "Minor", false, true, 0, "0.1.0", NULL, NULL },
	{ "main", "", "Major", false, true, 0, "0.1.0", NULL, NULL },
	/* 0.x */
	{ "main", "0.3.2", "Patch", false, true, 0, "0.3.3", NULL, NULL },
	{ "main", "0.3.2", "Minor", false, true, 0, "0.4.0", NULL, NULL },
	{ "main", "0.3.2", "Major", false, true, 0, "0.4.0",
	  "tag:0.4.0 prep:main=0.5.0-SNAPSHOT branch:release/0 "
	  "prep:release/0=0.5.0-SNAPSHOT branch:release/0.4 "
	  "prep:release/0.4=0.4.1-SNAPSHOT", NULL },
	/* >= 1 */
	{ "main", "1.2.3", "Patch", false, true, 0, "1.2.4", NULL, NULL },
	{ "main", "1.2.3", "Minor", false, true, 0, "1.3.0", NULL, NULL },
	{ "main", "1.2.3", "Major", false, false, 0, "2.0.0",
	  "tag:2.0.0 branch:release/2 branch:release/2.0", NULL },
	/* nothing new */
	{ "main", "1.2.3", "", false, true, 0, "", "", NULL },
	/* numeric, not string, order of releases */
	{ "main", "1.9.0 1.10.0 1.2.0", "Patch", false, true, 0, "1.10.1",
	  NULL, NULL },
	/* STABLE_RELEASE */
	{ "main", "0.3.2", "", true, true, 0, "1.0.0",
	  "tag:1.0.0 prep:main=1.1.0-SNAPSHOT branch:release/1 "
	  "prep:release/1=1.1.0-SNAPSHOT branch:release/1.0 "
	  "prep:release/1.0=1.0.1-SNAPSHOT", NULL },
	{ "main", "", "", true, true, 0, "1.0.0", NULL, NULL },
	{ "main", "0.3.2", "Patch", true, true, 0, "1.0.0", NULL, NULL },
	{ "main", "0.3.2", "-", true, true, ST_EREFUSED, "", "",
	  "missing-impact" },
	{ "main", "1.2.3", "Patch", true, true, 0, "1.2.4", NULL, NULL },
	{ "main", "1.2.3", "", true, true, 0, "", "", NULL },
	{ "main", "0.9.0 1.0.0", "", true, true, 0, "", "", NULL },
	{ "release/0", REL, "", true, true, 0, "", "", NULL },
	/* several MRs: the highest wins */
	{ "main", "1.2.3", "Patch,Minor,Patch", false, true, 0, "1.3.0",
	  NULL, NULL },
	{ "main", "1.2.3", "Patch,Major,Minor", false, true, 0, "2.0.0",
	  NULL, NULL },
	/* several labels on one MR: the highest counts, with a warning */
	{ "main", "1.2.3", "Patch+Minor", false, true, 0, "1.3.0", NULL,
	  "several-impacts" },
	/* missing labels: every such MR named, nothing planned */
	{ "main", "1.2.3", "Minor,-,Patch,-", false, true, ST_EREFUSED, "", "",
	  "missing-impact missing-impact" },
	/* SPEC §5: release/N below the latest major (worked example) */
	{ "release/1", REL, "Patch", false, true, 0, "1.2.1",
	  "tag:1.2.1 branch:release/1 prep:release/1=1.3.0-SNAPSHOT "
	  "branch:release/1.2 prep:release/1.2=1.2.2-SNAPSHOT", NULL },
	{ "release/1", REL, "Minor", false, true, 0, "1.3.0",
	  "tag:1.3.0 branch:release/1 prep:release/1=1.4.0-SNAPSHOT "
	  "branch:release/1.3 prep:release/1.3=1.3.1-SNAPSHOT", NULL },
	{ "release/1", REL, "Major", false, true, ST_EREFUSED, "", "",
	  "forbidden-impact" },
	{ "release/1", REL, "Patch,Major", false, true, ST_EREFUSED, "", "",
	  "forbidden-impact" },
	{ "release/1", REL, "", false, true, 0, "", "", NULL },
	/* in 0.x a major change on release/0 counts as minor */
	{ "release/0", REL, "Major", false, true, 0, "0.3.0",
	  "tag:0.3.0 branch:release/0 prep:release/0=0.4.0-SNAPSHOT "
	  "branch:release/0.3 prep:release/0.3=0.3.1-SNAPSHOT", NULL },
	{ "release/0", REL, "Patch", false, true, 0, "0.2.2", NULL, NULL },
	/* release/N, N the latest major: any new MR refused */
	{ "release/2", REL, "Patch", false, true, ST_EREFUSED, "", "",
	  "latest-branch" },
	{ "release/2", REL, "Patch,-", false, true, ST_EREFUSED, "", "",
	  "latest-branch latest-branch" },
	{ "release/2", REL, "", false, true, 0, "", "", NULL },
	/* release/N.M, not the latest minor: patches only, that branch only */
	{ "release/1.1", REL, "Patch", false, true, 0, "1.1.1",
	  "tag:1.1.1 branch:release/1.1 prep:release/1.1=1.1.2-SNAPSHOT",
	  NULL },
	{ "release/1.1", REL, "Patch", false, false, 0, "1.1.1",
	  "tag:1.1.1 branch:release/1.1", NULL },
	{ "release/0.1", REL, "Patch", false, true, 0, "0.1.1", NULL, NULL },
	{ "release/2.0", REL, "Patch", false, true, 0, "2.0.1", NULL, NULL },
	{ "release/1.1", REL, "Minor", false, true, ST_EREFUSED, "", "",
	  "forbidden-impact" },
	{ "release/1.1", REL, "Major", false, true, ST_EREFUSED, "", "",
	  "forbidden-impact" },
	/* release/N.M, the latest minor of N: any new MR refused */
	{ "release/1.2", REL, "Patch", false, true, ST_EREFUSED, "", "",
	  "latest-branch" },
	{ "release/2.1", REL, "Patch", false, true, ST_EREFUSED, "", "",
	  "latest-branch" },
	{ "release/0.2", REL, "Patch", false, true, ST_EREFUSED, "", "",
	  "latest-branch" },
	/* release branches with no release in their family */
	{ "release/3", REL, "Patch", false, true, ST_EREFUSED, "", "",
	  "no-family" },
	{ "release/1.7", REL, "Patch", false, true, ST_EREFUSED, "", "",
	  "no-family" },
	{ "release/3", REL, "", false, true, 0, "", "", NULL },
	/* not release branches: never released from */
	{ "feature/x", REL, "Patch", false, true, 0, "", "", NULL },
	{ "release/01", REL, "Patch", false, true, 0, "", "", NULL },
	{ "release/1.2.3", REL, "Patch", false, true, 0, "", "", NULL },
	{ "release/", REL, "Patch", false, true, 0, "", "", NULL },
	/* 64-bit edge */
	{ "main", "1.18446744073709551615.0", "Minor", false, true,
	  ST_EREFUSED, "", "", "overflow" },
	{ "main", "18446744073709551615.0.0", "Patch", false, true, 0,
	  "18446744073709551615.0.1", NULL, NULL },
};

static void problems_text(const struct policy_plan *p, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->n_problems && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s",
					off ? " " : "",
					problem_kind_name(p->problems[i].kind));
}

START_TEST(test_rows)
{
	const struct row *r = &rows[_i];
	struct semver_ver rel[MAX_RELEASES];
	struct policy_settings s = settings(r->prep);
	struct policy_input in = { .branch = r->branch };
	struct policy_plan plan;
	struct st_error err;
	char next[64] = "", goals[2048], probs[512];
	struct mrs m;
	int rc;

	in.n_releases = parse_releases(r->releases, rel);
	in.releases = rel;
	parse_mrs(r->mrs, &m);
	in.new_mrs = m.mr;
	in.n_new = m.n;
	in.stable_release = r->stable;
	policy_plan_init(&plan);
	st_error_clear(&err);
	rc = policy_evaluate(&in, &s, &plan, &err);
	if (plan.release)
		semver_ver_format(&plan.next, next, sizeof(next));
	goals_text(&plan, goals, sizeof(goals));
	problems_text(&plan, probs, sizeof(probs));
	ck_assert_msg(rc == r->status, "row %d (%s): status %d, want %d (%s)",
		      _i, r->branch, rc, r->status, err.msg);
	ck_assert_msg(strcmp(next, r->next) == 0, "row %d: next '%s', want '%s'",
		      _i, next, r->next);
	if (r->goals)
		ck_assert_msg(strcmp(goals, r->goals) == 0,
			      "row %d: goals\n  '%s'\nwant\n  '%s'", _i, goals,
			      r->goals);
	ck_assert_msg(strcmp(probs, r->problems ? r->problems : "") == 0,
		      "row %d: problems '%s', want '%s'", _i, probs,
		      r->problems ? r->problems : "");
	policy_plan_release(&plan);
}
END_TEST

/* Refusal messages name the MR (iid, title, URL) and say how to fix it. */
START_TEST(test_messages)
{
	static const char *const lab[] = { "bug" };
	struct policy_mr mr = { 42, "Fix the parser",
				"https://gl.example/g/p/-/merge_requests/42",
				lab, 1 };
	struct semver_ver rel[MAX_RELEASES];
	struct policy_settings s = settings(true);
	struct policy_input in = { "main", rel, parse_releases(REL, rel), &mr,
				   1, false };
	struct policy_plan plan;
	const char *msg;

	policy_plan_init(&plan);
	ck_assert_int_eq(policy_evaluate(&in, &s, &plan, NULL), ST_EREFUSED);
	ck_assert_uint_eq(plan.n_errors, 1);
	ck_assert_uint_eq(plan.n_goals, 0);
	msg = plan.problems[0].message;
	ck_assert_uint_eq(plan.problems[0].iid, 42);
	ck_assert_msg(strstr(msg, "MR !42 \"Fix the parser\""), "%s", msg);
	ck_assert_msg(strstr(msg, "merge_requests/42"), "%s", msg);
	ck_assert_msg(strstr(msg, "ImpactMajor, ImpactMinor or ImpactPatch"),
		      "%s", msg);
	ck_assert_msg(strstr(msg, "re-run"), "%s", msg);
	policy_plan_release(&plan);

	in.branch = "release/1.2";
	policy_plan_init(&plan);
	ck_assert_int_eq(policy_evaluate(&in, &s, &plan, NULL), ST_EREFUSED);
	msg = plan.problems[0].message;
	ck_assert_msg(strstr(msg, "merge into release/1 (or the default "
				  "branch, main) instead"), "%s", msg);
	policy_plan_release(&plan);

	in.branch = "release/2";
	policy_plan_init(&plan);
	ck_assert_int_eq(policy_evaluate(&in, &s, &plan, NULL), ST_EREFUSED);
	msg = plan.problems[0].message;
	ck_assert_msg(strstr(msg, "merge into the default branch (main) "
				  "instead"), "%s", msg);
	policy_plan_release(&plan);
}
END_TEST

static const struct {
	const char *value;
	bool want;
} truthy[] = {
	{ "1", true },      { "-2", true },     { "007", true },
	{ "+3", true },     { "true", true },   { "TRUE", true },
	{ "True", true },   { "t", true },      { "T", true },
	{ "yes", true },    { "YeS", true },    { "y", true },
	{ "Y", true },      { "99999999999999999999999", true },
	{ "", false },      { "0", false },     { "000", false },
	{ "-0", false },    { "false", false }, { "on", false },
	{ " yes", false },  { "yes ", false },  { "1.0", false },
	{ "1e3", false },   { "-", false },     { "truee", false },
	{ "no", false },    { "ye", false },    { "0x1", false },
};

START_TEST(test_truthy)
{
	ck_assert_msg(policy_truthy(truthy[_i].value) == truthy[_i].want,
		      "'%s'", truthy[_i].value);
}
END_TEST

/* SPEC §5's worked example: with releases up to 2.1.0 the desired branches
 * are release/2 and release/2.1 at 2.1.0, release/2.0, release/1 with its
 * latest minor, the older minors, release/0 ... */
START_TEST(test_family_goals_worked_example)
{
	struct semver_ver rel[MAX_RELEASES];
	size_t n = parse_releases("1.1.0 0.1.0 2.0.0 0.2.1 1.0.0 2.1.0 0.2.0 "
				  "1.2.0 1.0.3", rel);
	struct policy_settings s = settings(true);
	struct policy_plan plan;
	char goals[4096];

	policy_plan_init(&plan);
	ck_assert_int_eq(policy_family_goals(rel, n, &s, &plan, NULL), 0);
	goals_text(&plan, goals, sizeof(goals));
	ck_assert_str_eq(goals,
		"prep:main=2.2.0-SNAPSHOT "
		"branch:release/2 prep:release/2=2.2.0-SNAPSHOT "
		"branch:release/2.1 prep:release/2.1=2.1.1-SNAPSHOT "
		"branch:release/2.0 prep:release/2.0=2.0.1-SNAPSHOT "
		"branch:release/1 prep:release/1=1.3.0-SNAPSHOT "
		"branch:release/1.2 prep:release/1.2=1.2.1-SNAPSHOT "
		"branch:release/1.1 prep:release/1.1=1.1.1-SNAPSHOT "
		"branch:release/1.0 prep:release/1.0=1.0.4-SNAPSHOT "
		"branch:release/0 prep:release/0=0.3.0-SNAPSHOT "
		"branch:release/0.2 prep:release/0.2=0.2.2-SNAPSHOT "
		"branch:release/0.1 prep:release/0.1=0.1.1-SNAPSHOT");
	/* Each goal names the release it carries. */
	ck_assert_uint_eq(plan.goals[0].release.major, 2);
	ck_assert_uint_eq(plan.goals[0].release.minor, 1);
	policy_plan_release(&plan);

	policy_plan_init(&plan);
	ck_assert_int_eq(policy_family_goals(rel, 0, &s, &plan, NULL), 0);
	ck_assert_uint_eq(plan.n_goals, 0);
	policy_plan_release(&plan);
}
END_TEST

START_TEST(test_custom_prefixes)
{
	struct semver_ver rel[MAX_RELEASES];
	struct policy_settings s = settings(true);
	struct policy_input in = { "maint-1", rel, parse_releases(REL, rel),
				   NULL, 0, false };
	struct policy_plan plan;
	struct mrs m;
	char goals[1024];

	s.release_prefix = "maint-";
	s.snapshot_suffix = ".dev";
	parse_mrs("Patch", &m);
	in.new_mrs = m.mr;
	in.n_new = 1;
	policy_plan_init(&plan);
	ck_assert_int_eq(policy_evaluate(&in, &s, &plan, NULL), 0);
	goals_text(&plan, goals, sizeof(goals));
	ck_assert_str_eq(goals, "tag:1.2.1 branch:maint-1 prep:maint-1=1.3.0.dev "
				"branch:maint-1.2 prep:maint-1.2=1.2.2.dev");
	policy_plan_release(&plan);

	/* A configured base changes the virtual latest. */
	s.base = (struct semver_ver){ 1, 0, 0 };
	in.branch = "main";
	in.n_releases = 0;
	policy_plan_init(&plan);
	ck_assert_int_eq(policy_evaluate(&in, &s, &plan, NULL), 0);
	ck_assert_uint_eq(plan.next.major, 1);
	ck_assert_uint_eq(plan.next.patch, 1);
	policy_plan_release(&plan);
}
END_TEST

START_TEST(test_bad_settings)
{
	struct policy_settings s = settings(true);
	struct policy_input in = { "main", NULL, 0, NULL, 0, false };
	struct policy_plan plan;
	struct st_error err;
	char longp[300];

	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	s.release_prefix = longp;
	st_error_clear(&err);
	policy_plan_init(&plan);
	ck_assert_int_eq(policy_evaluate(&in, &s, &plan, &err), ST_ECONFIG);
	ck_assert(strstr(err.msg, "prefix") != NULL);
	s = settings(true);
	s.labels = NULL;
	ck_assert_int_eq(policy_evaluate(&in, &s, &plan, NULL), ST_ECONFIG);
	policy_plan_release(&plan);
}
END_TEST

/* ---- properties over generated inputs ---------------------------------- */

static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static size_t random_releases(struct semver_ver *rel)
{
	size_t n = rnd(12);

	for (size_t i = 0; i < n; i++)
		rel[i] = (struct semver_ver){ rnd(4), rnd(4), rnd(4) };
	return n;
}

static void random_branch(char *buf, size_t size)
{
	switch (rnd(3)) {
	case 0:
		snprintf(buf, size, "main");
		break;
	case 1:
		snprintf(buf, size, "release/%u", rnd(4));
		break;
	default:
		snprintf(buf, size, "release/%u.%u", rnd(4), rnd(4));
	}
}

static void check_invariants(const struct policy_input *in,
			     const struct policy_plan *p)
{
	const struct policy_branch *b = &p->branch;
	char v[64];

	semver_ver_format(&p->next, v, sizeof(v));
	/* next > latest of the family */
	ck_assert_msg(semver_ver_compare(&p->next, &b->latest) > 0,
		      "%s: next %s not above latest", in->branch, v);
	/* never an existing release */
	for (size_t i = 0; i < in->n_releases; i++)
		ck_assert_msg(semver_ver_compare(&p->next, &in->releases[i]),
			      "%s: next %s already released", in->branch, v);
	/* in 0.x never a major bump, but for STABLE_RELEASE */
	if (b->latest.major == 0 && !p->stable)
		ck_assert_msg(p->next.major == 0, "%s: 0.x bumped to %s",
			      in->branch, v);
	/* release/N stays in N; release/N.M stays in N.M and is a patch */
	if (b->role == BRANCH_MAJOR_OLD)
		ck_assert_uint_eq(p->next.major, b->major);
	if (b->role == BRANCH_MINOR_OLD) {
		ck_assert_uint_eq(p->next.major, b->major);
		ck_assert_uint_eq(p->next.minor, b->minor);
		ck_assert_uint_eq(p->next.patch, b->latest.patch + 1);
	}
	/* the first goal is the tag, and it names next */
	ck_assert_int_eq(p->goals[0].kind, GOAL_TAG);
	ck_assert_str_eq(p->goals[0].version, v);
	/* only the default branch may release from nothing */
	ck_assert(b->role == BRANCH_DEFAULT || b->role == BRANCH_MAJOR_OLD ||
		  b->role == BRANCH_MINOR_OLD);
}

static bool has_branch(void *ctx, const char *name)
{
	return strcmp(name, (const char *)ctx) == 0;
}

/* The branch-role rule in one place (webhooks, the daemon's re-checks and
 * the engine's family goals all ask it). */
START_TEST(test_branch_rule)
{
	uint64_t ma = 0, mi = 0;
	bool hm = true;
	struct semver_ver v = { 1, 2, 3 }, overall = { 2, 0, 0 };

	ck_assert(policy_release_branch("release/1", NULL, &ma, &hm, &mi));
	ck_assert(ma == 1 && !hm && mi == 0);
	ck_assert(policy_release_branch("release/1.2", NULL, &ma, &hm, &mi));
	ck_assert(ma == 1 && hm && mi == 2);
	ck_assert(!policy_release_branch("release/foo", NULL, NULL, NULL, NULL));
	ck_assert(!policy_release_branch("release/", NULL, NULL, NULL, NULL));
	ck_assert(!policy_release_branch("release/01", NULL, NULL, NULL, NULL));
	ck_assert(!policy_release_branch(NULL, NULL, NULL, NULL, NULL));
	ck_assert(policy_release_branch("rel-3", "rel-", NULL, NULL, NULL));
	ck_assert(policy_released_from("main", "main", NULL));
	ck_assert(policy_released_from("release/4", "main", "release/"));
	ck_assert(!policy_released_from("feature/x", "main", NULL));
	ck_assert(!policy_released_from("main", NULL, NULL));
	/* the adoption rule: the overall latest, a fresh one, or a home */
	ck_assert(policy_family_checked(&overall, &overall, false, true,
					NULL, has_branch, "none"));
	ck_assert(policy_family_checked(&v, &overall, true, true, NULL,
					has_branch, "none"));
	ck_assert(policy_family_checked(&v, &overall, false, true, NULL,
					has_branch, "release/1"));
	ck_assert(!policy_family_checked(&v, &overall, false, true, NULL,
					 has_branch, "release/1.2"));
	ck_assert(policy_family_checked(&v, &overall, false, false, "r/",
					has_branch, "r/1.2"));
}
END_TEST

START_TEST(test_properties)
{
	static const char *const kinds[] = { "Patch", "Minor", "Major" };
	size_t released = 0;

	for (int trial = 0; trial < 20000; trial++) {
		struct semver_ver rel[MAX_RELEASES];
		struct policy_settings s = settings(rnd(2));
		struct policy_input in = { 0 };
		struct policy_plan plan;
		char branch[64], spec[64] = "";
		struct mrs m;
		size_t nmr = rnd(3);
		int rc;

		in.n_releases = random_releases(rel);
		in.releases = rel;
		random_branch(branch, sizeof(branch));
		in.branch = branch;
		for (size_t i = 0; i < nmr; i++)
			snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec),
				 "%s%s", i ? "," : "", kinds[rnd(3)]);
		parse_mrs(spec, &m);
		in.new_mrs = m.mr;
		in.n_new = m.n;
		in.stable_release = rnd(4) == 0;
		policy_plan_init(&plan);
		rc = policy_evaluate(&in, &s, &plan, NULL);
		ck_assert(rc == 0 || rc == ST_EREFUSED);
		ck_assert(rc == 0 || (!plan.release && plan.n_goals == 0));
		if (plan.release) {
			check_invariants(&in, &plan);
			released++;
		}
		policy_plan_release(&plan);
	}
	ck_assert_uint_gt(released, 1000); /* the generator reaches plans */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	labels = labels_new(NULL, NULL, NULL, NULL);
	tcase_add_loop_test(tc, test_rows, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(tc, test_messages);
	tcase_add_loop_test(tc, test_truthy, 0,
			    sizeof(truthy) / sizeof(truthy[0]));
	tcase_add_test(tc, test_family_goals_worked_example);
	tcase_add_test(tc, test_custom_prefixes);
	tcase_add_test(tc, test_bad_settings);
	tcase_add_test(tc, test_properties);
	tcase_add_test(tc, test_branch_rule);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	labels_free(labels);
	return failed ? 1 : 0;
}
