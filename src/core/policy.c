/* SPDX-License-Identifier: MIT */
#include "semver-tagger/policy.h"

#include "semver-tagger/num.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_RELEASE_PREFIX "release/"
#define DEFAULT_SNAPSHOT_SUFFIX "-SNAPSHOT"
#define LABEL_HINT "ImpactMajor, ImpactMinor or ImpactPatch"

static const char *release_prefix(const struct policy_settings *s)
{
	return s->release_prefix ? s->release_prefix : DEFAULT_RELEASE_PREFIX;
}

static const char *snapshot_suffix(const struct policy_settings *s)
{
	return s->snapshot_suffix ? s->snapshot_suffix
				  : DEFAULT_SNAPSHOT_SUFFIX;
}

void policy_plan_init(struct policy_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
}

void policy_plan_release(struct policy_plan *plan)
{
	if (!plan)
		return;
	free(plan->goals);
	free(plan->problems);
	policy_plan_init(plan);
}

bool policy_truthy(const char *v)
{
	static const char *const words[] = { "true", "t", "yes", "y" };
	const char *d;

	if (!v || !*v)
		return false;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(v, words[i]) == 0)
			return true;
	/* An integer of any size: digits only after one optional sign, and
	 * not all zeros. No parsing into a machine word, so no overflow. */
	d = (*v == '-' || *v == '+') ? v + 1 : v;
	if (!*d || strspn(d, "0123456789") != strlen(d))
		return false;
	return strspn(d, "0") != strlen(d);
}

/* ---- families ---------------------------------------------------------- */

/* Latest release with the given major (and minor when with_minor). */
static bool family_latest(const struct semver_ver *r, size_t n, bool any,
			  uint64_t major, bool with_minor, uint64_t minor,
			  struct semver_ver *out)
{
	bool found = false;

	for (size_t i = 0; i < n; i++) {
		if (!any && r[i].major != major)
			continue;
		if (!any && with_minor && r[i].minor != minor)
			continue;
		if (!found || semver_ver_compare(&r[i], out) > 0)
			*out = r[i];
		found = true;
	}
	return found;
}

/*
 * Parse "N" or "N.M" (no leading zeros, 64-bit) after the release prefix.
 * Anything else is not a release branch.
 */
static bool parse_release_branch(const char *rest, uint64_t *major,
				 bool *has_minor, uint64_t *minor)
{
	const char *dot = strchr(rest, '.');
	size_t n1 = dot ? (size_t)(dot - rest) : strlen(rest);

	if (num_parse_u64(rest, n1, true, major) != 0)
		return false;
	*has_minor = dot != NULL;
	if (!dot)
		return true;
	return num_parse_u64(dot + 1, strlen(dot + 1), true, minor) == 0;
}

bool policy_release_branch(const char *name, const char *prefix,
			   uint64_t *major, bool *has_minor, uint64_t *minor)
{
	uint64_t ma, mi;
	bool hm;
	size_t n;

	if (!prefix)
		prefix = DEFAULT_RELEASE_PREFIX;
	n = strlen(prefix);
	if (!name || strncmp(name, prefix, n) != 0 ||
	    !parse_release_branch(name + n, &ma, &hm, &mi))
		return false;
	if (major)
		*major = ma;
	if (has_minor)
		*has_minor = hm;
	if (minor)
		*minor = hm ? mi : 0;
	return true;
}

bool policy_released_from(const char *name, const char *default_branch,
			  const char *prefix)
{
	if (!name)
		return false;
	if (default_branch && strcmp(name, default_branch) == 0)
		return true;
	return policy_release_branch(name, prefix, NULL, NULL, NULL);
}

static int check_settings(const struct policy_settings *s,
			  struct st_error *err)
{
	if (!s->labels || !s->default_branch || !*s->default_branch)
		return st_error_set(err, ST_ECONFIG,
				    "policy: label patterns and the default "
				    "branch must be set");
	if (strlen(release_prefix(s)) >= POLICY_PREFIX_MAX ||
	    strlen(snapshot_suffix(s)) >= POLICY_PREFIX_MAX)
		return st_error_set(err, ST_ECONFIG,
				    "release branch prefix or snapshot suffix "
				    "longer than %d bytes",
				    POLICY_PREFIX_MAX - 1);
	return ST_OK;
}

static void classify_release(struct policy_branch *b,
			     const struct semver_ver *r, size_t n)
{
	struct semver_ver overall, fam_major;

	if (!family_latest(r, n, true, 0, false, 0, &overall) ||
	    !family_latest(r, n, false, b->major, false, 0, &fam_major)) {
		b->role = BRANCH_NO_FAMILY;
		return;
	}
	if (!b->has_minor) {
		b->has_latest = true;
		b->latest = fam_major;
		b->role = b->major == overall.major ? BRANCH_MAJOR_LATEST
						    : BRANCH_MAJOR_OLD;
		return;
	}
	if (!family_latest(r, n, false, b->major, true, b->minor,
			   &b->latest)) {
		b->role = BRANCH_NO_FAMILY;
		return;
	}
	b->has_latest = true;
	b->role = b->minor == fam_major.minor ? BRANCH_MINOR_LATEST
					      : BRANCH_MINOR_OLD;
}

int policy_classify(const char *name, const struct semver_ver *releases,
		    size_t n_releases, const struct policy_settings *s,
		    struct policy_branch *out, struct st_error *err)
{
	struct policy_branch b = { .role = BRANCH_OTHER };
	const char *prefix;
	int rc = check_settings(s, err);

	if (rc)
		return rc;
	prefix = release_prefix(s);
	if (strcmp(name, s->default_branch) == 0) {
		b.role = BRANCH_DEFAULT;
		b.has_latest = family_latest(releases, n_releases, true, 0,
					     false, 0, &b.latest);
		if (!b.has_latest)
			b.latest = s->base;
	} else if (policy_release_branch(name, prefix, &b.major,
					 &b.has_minor, &b.minor)) {
		classify_release(&b, releases, n_releases);
	}
	*out = b;
	return ST_OK;
}

/* ---- problems ---------------------------------------------------------- */

static int add_problem(struct policy_plan *plan, enum problem_kind kind,
		       uint64_t iid, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int add_problem(struct policy_plan *plan, enum problem_kind kind,
		       uint64_t iid, const char *fmt, ...)
{
	struct policy_problem *p;
	va_list ap;

	p = realloc(plan->problems,
		    (plan->n_problems + 1) * sizeof(*plan->problems));
	if (!p)
		return ST_ENOMEM;
	plan->problems = p;
	p = &plan->problems[plan->n_problems++];
	p->kind = kind;
	p->is_error = kind != PROBLEM_SEVERAL_IMPACTS;
	p->iid = iid;
	va_start(ap, fmt);
	vsnprintf(p->message, sizeof(p->message), fmt, ap);
	va_end(ap);
	if (p->is_error)
		plan->n_errors++;
	return ST_OK;
}

/* "MR !42 "title" (url)": how every message names an MR. */
static void mr_name(const struct policy_mr *mr, char *buf, size_t size)
{
	snprintf(buf, size, "MR !%llu \"%s\" (%s)",
		 (unsigned long long)mr->iid, mr->title ? mr->title : "",
		 mr->web_url ? mr->web_url : "no URL");
}

/* ---- goals ------------------------------------------------------------- */

static int add_goal(struct policy_plan *plan, enum goal_kind kind,
		    const char *branch, const char *version,
		    const struct semver_ver *release)
{
	struct policy_goal *g;

	g = realloc(plan->goals, (plan->n_goals + 1) * sizeof(*plan->goals));
	if (!g)
		return ST_ENOMEM;
	plan->goals = g;
	g = &plan->goals[plan->n_goals++];
	memset(g, 0, sizeof(*g));
	g->kind = kind;
	snprintf(g->branch, sizeof(g->branch), "%s", branch ? branch : "");
	snprintf(g->version, sizeof(g->version), "%s", version ? version : "");
	g->release = *release;
	return ST_OK;
}

static void branch_name(const struct policy_settings *s, uint64_t major,
			const uint64_t *minor, char *buf, size_t size)
{
	if (minor)
		snprintf(buf, size, "%s%llu.%llu", release_prefix(s),
			 (unsigned long long)major, (unsigned long long)*minor);
	else
		snprintf(buf, size, "%s%llu", release_prefix(s),
			 (unsigned long long)major);
}

/* The development version after release v: "M.(m+1).0-SNAPSHOT" for a
 * major line, "M.m.(p+1)-SNAPSHOT" for a minor line. */
static void snapshot(const struct policy_settings *s,
		     const struct semver_ver *v, bool minor_line, char *buf,
		     size_t size)
{
	struct semver_ver d = *v;
	char ver[SEMVER_VER_STR_MAX];

	if (minor_line) {
		d.patch++;
	} else {
		d.minor++;
		d.patch = 0;
	}
	semver_ver_format(&d, ver, sizeof(ver));
	snprintf(buf, size, "%s%s", ver, snapshot_suffix(s));
}

/* Goals for branch `name` that must contain release v, plus its prep. */
static int line_goals(struct policy_plan *plan, const struct policy_settings *s,
		      const char *name, const struct semver_ver *v,
		      bool minor_line)
{
	char snap[POLICY_VERSION_MAX];
	int rc = 0;

	if (strcmp(name, s->default_branch) != 0)
		rc = add_goal(plan, GOAL_BRANCH, name, NULL, v);
	if (rc == 0 && s->prep_commits) {
		snapshot(s, v, minor_line, snap, sizeof(snap));
		rc = add_goal(plan, GOAL_PREP, name, snap, v);
	}
	return rc;
}

/*
 * Branch and prep goals of release v made from a branch of `role`
 * (SPEC §5-§6, §9): from the default branch, the default branch's prep and
 * release/X and release/X.Y; from release/N, release/N and release/N.m;
 * from an older release/N.M, that branch only.
 */
static int release_goals(struct policy_plan *plan,
			 const struct policy_settings *s, enum branch_role role,
			 const struct semver_ver *v)
{
	char major[POLICY_NAME_MAX], minor[POLICY_NAME_MAX];
	int rc = 0;

	branch_name(s, v->major, NULL, major, sizeof(major));
	branch_name(s, v->major, &v->minor, minor, sizeof(minor));
	if (role == BRANCH_DEFAULT)
		rc = line_goals(plan, s, s->default_branch, v, false);
	if (rc == 0 && role != BRANCH_MINOR_OLD)
		rc = line_goals(plan, s, major, v, false);
	if (rc == 0)
		rc = line_goals(plan, s, minor, v, true);
	return rc;
}

/* ---- evaluation -------------------------------------------------------- */

/* The impact one MR counts for on this branch, or IMPACT_NONE after
 * recording why it cannot count. */
static int mr_impact(struct policy_plan *plan, const struct policy_settings *s,
		     const char *branch, const struct policy_mr *mr,
		     enum impact *out)
{
	const struct policy_branch *b = &plan->branch;
	char name[POLICY_MESSAGE_MAX / 2];
	bool several = false;
	enum impact i;
	int rc = 0;

	*out = IMPACT_NONE;
	mr_name(mr, name, sizeof(name));
	i = labels_impact(s->labels, mr->labels, mr->n_labels, &several);
	if (i == IMPACT_NONE)
		return add_problem(plan, PROBLEM_MISSING_IMPACT, mr->iid,
				   "%s has no impact label: add one of "
				   LABEL_HINT " to it (after the merge is "
				   "fine), then re-run",
				   name);
	if (several)
		rc = add_problem(plan, PROBLEM_SEVERAL_IMPACTS, mr->iid,
				 "%s has several impact labels; the highest, "
				 "%s, counts",
				 name, impact_label(i));
	if (b->role == BRANCH_MAJOR_OLD && i == IMPACT_MAJOR) {
		if (b->major == 0)
			i = IMPACT_MINOR; /* in 0.x a major change is minor */
		else
			return add_problem(
				plan, PROBLEM_FORBIDDEN_IMPACT, mr->iid,
				"%s is ImpactMajor, which %s refuses: a major "
				"change belongs on the default branch (%s); "
				"relabel it ImpactMinor or ImpactPatch if it "
				"is not breaking, or revert it from %s",
				name, branch, s->default_branch, branch);
	}
	if (b->role == BRANCH_MINOR_OLD && i != IMPACT_PATCH)
		return add_problem(plan, PROBLEM_FORBIDDEN_IMPACT, mr->iid,
				   "%s is %s, but %s takes patches only: "
				   "merge it into %s%llu instead, or relabel "
				   "it ImpactPatch",
				   name, impact_label(i), branch,
				   release_prefix(s),
				   (unsigned long long)b->major);
	*out = i;
	return rc;
}

/* Every new MR on a latest release branch is refused (SPEC §5, §9). */
static int refuse_latest(struct policy_plan *plan,
			 const struct policy_settings *s,
			 const struct policy_input *in)
{
	const struct policy_branch *b = &plan->branch;
	char name[POLICY_MESSAGE_MAX / 2], instead[POLICY_NAME_MAX + 64];
	int rc = 0;

	if (b->role == BRANCH_MAJOR_LATEST)
		snprintf(instead, sizeof(instead), "the default branch (%s)",
			 s->default_branch);
	else
		snprintf(instead, sizeof(instead), "%s%llu (or the default "
			 "branch, %s)", release_prefix(s),
			 (unsigned long long)b->major, s->default_branch);
	for (size_t i = 0; rc == 0 && i < in->n_new; i++) {
		mr_name(&in->new_mrs[i], name, sizeof(name));
		rc = add_problem(plan, PROBLEM_LATEST_BRANCH,
				 in->new_mrs[i].iid,
				 "%s was merged into %s, the latest release "
				 "branch of its family, which is not released "
				 "from: merge into %s instead",
				 name, in->branch, instead);
	}
	return rc;
}

/* Highest impact of the new MRs; problems recorded in plan. */
static int collect_impact(struct policy_plan *plan,
			  const struct policy_settings *s,
			  const struct policy_input *in)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < in->n_new; i++) {
		enum impact mi;

		rc = mr_impact(plan, s, in->branch, &in->new_mrs[i], &mi);
		if (mi > plan->impact)
			plan->impact = mi;
	}
	return rc;
}

static bool bump(const struct semver_ver *l, enum impact i,
		 struct semver_ver *next)
{
	struct semver_ver v = *l;

	if (i == IMPACT_MAJOR && l->major > 0) {
		if (v.major == UINT64_MAX)
			return false;
		v = (struct semver_ver){ v.major + 1, 0, 0 };
	} else if (i == IMPACT_MAJOR || i == IMPACT_MINOR) {
		if (v.minor == UINT64_MAX)
			return false;
		v = (struct semver_ver){ v.major, v.minor + 1, 0 };
	} else {
		if (v.patch == UINT64_MAX)
			return false;
		v.patch++;
	}
	*next = v;
	return true;
}

/* The next version (SPEC §4), once the problems are known to be none. */
static int plan_next(struct policy_plan *plan, const struct policy_input *in)
{
	const struct semver_ver *l = &plan->branch.latest;
	char cur[SEMVER_VER_STR_MAX];

	if (plan->branch.role == BRANCH_DEFAULT && in->stable_release &&
	    l->major == 0) {
		plan->next = (struct semver_ver){ 1, 0, 0 };
		plan->stable = true;
		plan->release = true;
		return ST_OK;
	}
	if (in->n_new == 0)
		return ST_OK;
	if (!bump(l, plan->impact, &plan->next)) {
		semver_ver_format(l, cur, sizeof(cur));
		return add_problem(plan, PROBLEM_OVERFLOW, 0,
				   "the next %s version after %s does not fit "
				   "in 64 bits",
				   impact_name(plan->impact), cur);
	}
	plan->release = true;
	return ST_OK;
}

static int check_problems(struct policy_plan *plan,
			  const struct policy_settings *s,
			  const struct policy_input *in)
{
	switch (plan->branch.role) {
	case BRANCH_MAJOR_LATEST:
	case BRANCH_MINOR_LATEST:
		return refuse_latest(plan, s, in);
	case BRANCH_NO_FAMILY:
		if (in->n_new == 0)
			return ST_OK;
		return add_problem(plan, PROBLEM_NO_FAMILY, 0,
				   "%s has %zu new merge request(s) but no "
				   "release in its family to release from: "
				   "merge them into the default branch (%s)",
				   in->branch, in->n_new, s->default_branch);
	default:
		return collect_impact(plan, s, in);
	}
}

int policy_evaluate(const struct policy_input *in,
		    const struct policy_settings *s, struct policy_plan *plan,
		    struct st_error *err)
{
	char tag[POLICY_VERSION_MAX];
	int rc;

	rc = policy_classify(in->branch, in->releases, in->n_releases, s,
			     &plan->branch, err);
	if (rc || plan->branch.role == BRANCH_OTHER)
		return rc;
	rc = check_problems(plan, s, in);
	if (rc == 0 && plan->n_errors == 0)
		rc = plan_next(plan, in);
	if (rc)
		return st_error_set(err, rc, "out of memory planning %s",
				    in->branch);
	if (plan->n_errors > 0) {
		plan->release = false;
		return st_error_set(err, ST_EREFUSED,
				    "%s: %zu problem(s) block the release",
				    in->branch, plan->n_errors);
	}
	if (!plan->release)
		return ST_OK;
	semver_ver_format(&plan->next, tag, sizeof(tag));
	rc = add_goal(plan, GOAL_TAG, in->branch, tag, &plan->next);
	if (rc == 0)
		rc = release_goals(plan, s, plan->branch.role, &plan->next);
	if (rc)
		return st_error_set(err, rc, "out of memory planning %s",
				    in->branch);
	return ST_OK;
}

/* ---- desired state of existing releases -------------------------------- */

static int cmp_desc(const void *a, const void *b)
{
	return semver_ver_compare(b, a);
}

/*
 * Walk the releases from the highest down: the first release of each
 * minor family is that family's latest, and the first of each major
 * family its latest. O(n log n), for projects with thousands of tags.
 */
static int walk_families(const struct semver_ver *sorted, size_t n,
			 const struct policy_settings *s,
			 struct policy_plan *plan)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct semver_ver *v = &sorted[i];
		bool new_major = i == 0 || sorted[i - 1].major != v->major;
		bool new_minor = new_major || sorted[i - 1].minor != v->minor;
		enum branch_role role;

		if (!new_minor)
			continue;
		if (i == 0)
			role = BRANCH_DEFAULT;
		else if (new_major)
			role = BRANCH_MAJOR_OLD;
		else
			role = BRANCH_MINOR_OLD;
		rc = release_goals(plan, s, role, v);
	}
	return rc;
}

int policy_family_goals(const struct semver_ver *r, size_t n,
			const struct policy_settings *s,
			struct policy_plan *plan, struct st_error *err)
{
	struct semver_ver *sorted;
	int rc = check_settings(s, err);

	if (rc || n == 0)
		return rc;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return st_error_set(err, ST_ENOMEM,
				    "out of memory planning families");
	memcpy(sorted, r, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_desc);
	rc = walk_families(sorted, n, s, plan);
	free(sorted);
	if (rc)
		return st_error_set(err, rc, "out of memory planning families");
	return ST_OK;
}

const char *branch_role_name(enum branch_role role)
{
	switch (role) {
	case BRANCH_DEFAULT: return "default";
	case BRANCH_MAJOR_OLD: return "major";
	case BRANCH_MAJOR_LATEST: return "major-latest";
	case BRANCH_MINOR_OLD: return "minor";
	case BRANCH_MINOR_LATEST: return "minor-latest";
	case BRANCH_NO_FAMILY: return "no-family";
	default: return "other";
	}
}

const char *goal_kind_name(enum goal_kind kind)
{
	switch (kind) {
	case GOAL_TAG: return "tag";
	case GOAL_BRANCH: return "branch";
	default: return "prep";
	}
}

const char *problem_kind_name(enum problem_kind kind)
{
	switch (kind) {
	case PROBLEM_MISSING_IMPACT: return "missing-impact";
	case PROBLEM_FORBIDDEN_IMPACT: return "forbidden-impact";
	case PROBLEM_LATEST_BRANCH: return "latest-branch";
	case PROBLEM_NO_FAMILY: return "no-family";
	case PROBLEM_OVERFLOW: return "overflow";
	default: return "several-impacts";
	}
}
