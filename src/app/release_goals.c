/* SPDX-License-Identifier: MIT */
/*
 * Achieving goals: the tag of a new release (one push each), then the
 * branch and prep goals of every family's latest release, collected into
 * planned branch heads and published in one compare-and-swap push.
 */
#include "release_internal.h"

#include "semver-tagger/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_MESSAGE_MAX (256 * 1024)

int engine_known_add(struct engine *e, const struct semver_ver *v,
		     const struct gitrepo_oid *commit)
{
	struct known_release *grown;

	grown = realloc(e->known, (e->n_known + 1) * sizeof(*grown));
	if (!grown)
		return ST_ENOMEM;
	e->known = grown;
	e->n_known_sorted = 0; /* known_index() pointed into the old array */
	e->known[e->n_known++] = (struct known_release){ *v, *commit, true };
	return ST_OK;
}

void engine_heads_reset(struct engine *e)
{
	free(e->heads);
	e->heads = NULL;
	e->n_heads = 0;
}

static void hex(const struct gitrepo_oid *id, char *buf)
{
	gitrepo_oid_tohex(id, buf);
}

/* ---- the tag ------------------------------------------------------------ */

static int tag_message(const struct release_branch_report *br,
		       const char *version, struct strbuf *out)
{
	int rc = strbuf_addf(out, "Release %s\n\n", version);

	for (size_t i = 0; rc == 0 && i < br->n_mrs; i++)
		rc = strbuf_addf(out, "- !%lld %s (%s)\n",
				 (long long)br->mrs[i].iid, br->mrs[i].title,
				 impact_name(br->mrs[i].impact));
	return rc;
}

static int push_one(struct engine *e, const char *refname,
		    const struct gitrepo_oid *old, const struct gitrepo_oid *new,
		    char *detail, size_t size, struct st_error *err)
{
	struct gitrepo_ref_update u = { refname, *old, *new };
	struct gitrepo_push_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = engine_push(e, &u, 1, &res, err);
	if (rc)
		snprintf(detail, size, "%s", res.message[0] ? res.message
							     : err->msg);
	return rc;
}

/* An existing tag with the release's name: fine when it already names the
 * release commit (a concurrent or earlier run made it), else a conflict,
 * since a tag is never moved. */
static int tag_exists(struct engine *e, struct release_goal_report *g,
		      const struct gitrepo_tag *t, struct gitrepo_oid *c,
		      struct st_error *err)
{
	char have[41], want[41];
	bool same = gitrepo_oid_equal(&t->commit, c);

	/* Signed release commits differ between runners (signature times),
	 * and from an unsigned one: the tag's commit is the release commit
	 * when only the signature differs. */
	if (!same && !gitrepo_oid_is_zero(&t->commit) &&
	    gitrepo_commit_same_content(e->repo, &t->commit, c, &same,
					err) != 0)
		st_error_clear(err);
	if (same) {
		*c = t->commit;
		hex(c, g->commit);
		g->state = GOAL_STATE_ACHIEVED;
		return ST_OK;
	}
	hex(&t->commit, have);
	hex(c, want);
	g->state = GOAL_STATE_FAILED;
	st_error_set(err, ST_ECONFLICT,
		     "tag %s already exists at %.12s, not at the release "
		     "commit %.12s; tags are never moved: delete or rename "
		     "that tag by hand if it is wrong, then re-run",
		     t->name, have, want);
	snprintf(g->detail, sizeof(g->detail), "%s", err->msg);
	return ST_ECONFLICT;
}

static int build_tag(struct engine *e, struct release_branch_report *br,
		     const char *name, const char *version,
		     const struct gitrepo_oid *c, struct gitrepo_oid *out,
		     struct st_error *err)
{
	struct strbuf msg;
	int rc;

	strbuf_init(&msg, TAG_MESSAGE_MAX);
	rc = tag_message(br, version, &msg);
	if (rc)
		rc = st_error_set(err, rc, "tag %s: message too long", name);
	else
		rc = gitrepo_tag_object(e->repo, name, c, &e->who,
					strbuf_str(&msg), out, err);
	strbuf_release(&msg);
	return rc;
}

int engine_tag_goal(struct engine *e, struct release_branch_report *br,
		    const struct gitrepo_oid *head, struct st_error *errp)
{
	struct release_goal_report *g = &br->goals[0];
	const char *version = g->goal.version;
	struct gitrepo_oid c, t, zero = { { 0 } };
	const struct gitrepo_tag *existing;
	char name[POLICY_NAME_MAX], ref[POLICY_NAME_MAX + 16];
	struct st_error err;
	bool made;
	int rc;

	st_error_clear(&err);
	snprintf(name, sizeof(name), "%s%s", e->o->cfg->tag_prefix, version);
	snprintf(ref, sizeof(ref), "refs/tags/%s", name);
	rc = engine_release_commit(e, br, head, version, &c, &made, &err);
	if (rc)
		goto out;
	hex(&c, g->commit);
	existing = gitrepo_tags_find(&e->tags, name);
	if (existing) {
		rc = tag_exists(e, g, existing, &c, &err);
		if (rc == 0)
			rc = engine_known_add(e, &br->plan.next, &c);
		goto out;
	}
	rc = build_tag(e, br, name, version, &c, &t, &err);
	if (rc == 0 && e->o->dry_run) {
		g->state = GOAL_STATE_PLANNED;
		snprintf(g->action, sizeof(g->action), "would create");
		rc = engine_known_add(e, &br->plan.next, &c);
		goto out;
	}
	if (rc == 0)
		rc = push_one(e, ref, &zero, &t, g->detail, sizeof(g->detail),
			      &err);
	if (rc)
		goto out;
	engine_failpoint(e, "after-tag-push");
	g->state = GOAL_STATE_DONE;
	snprintf(g->action, sizeof(g->action), "created");
	rc = engine_known_add(e, &br->plan.next, &c);
	engine_content_goal(e, &br->plan.next, &c);
	engine_failpoint(e, "after-release-object");
out:
	if (rc && g->state != GOAL_STATE_FAILED) {
		g->state = GOAL_STATE_FAILED;
		if (!g->detail[0])
			snprintf(g->detail, sizeof(g->detail), "%s", err.msg);
	}
	if (rc)
		st_error_set(errp, rc, "%s", err.msg);
	return rc;
}

/* ---- branch and prep goals --------------------------------------------- */

static struct engine_head *head_get(struct engine *e, const char *name,
				    struct st_error *err)
{
	struct engine_head *grown, *h;
	int rc;

	for (size_t i = 0; i < e->n_heads; i++)
		if (strcmp(e->heads[i].name, name) == 0)
			return &e->heads[i];
	if (e->n_heads >= ENGINE_HEADS_MAX) {
		st_error_set(err, ST_EINTERNAL, "too many branches to update");
		return NULL;
	}
	grown = realloc(e->heads, (e->n_heads + 1) * sizeof(*grown));
	if (!grown) {
		st_error_set(err, ST_ENOMEM, "out of memory");
		return NULL;
	}
	e->heads = grown;
	h = &e->heads[e->n_heads];
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	rc = gitrepo_branch_head(e->repo, name, &h->old, err);
	if (rc == ST_ENOTFOUND) {
		st_error_clear(err);
	} else if (rc) {
		return NULL;
	} else {
		h->exists = true;
	}
	h->head = h->old;
	e->n_heads++;
	return h;
}

static int branch_name_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct gitrepo_branch *)elem)->name);
}

/* gitrepo_branches_list() sorts the release branches by name. */
static bool branch_exists(const struct engine *e, const char *name)
{
	return e->branches.nrelease &&
	       bsearch(name, e->branches.release, e->branches.nrelease,
		       sizeof(*e->branches.release), branch_name_cmp);
}

static int known_ptr_cmp(const void *a, const void *b)
{
	const struct known_release *x = *(const struct known_release *const *)a;
	const struct known_release *y = *(const struct known_release *const *)b;
	int c = semver_ver_compare(&x->v, &y->v);

	/* equal versions: the earlier entry first, as the linear search
	 * found it */
	return c ? c : (x > y) - (x < y);
}

/* e->known sorted by version, for the family goals: with 1,000 tags and
 * hundreds of release branches, linear searches per goal added up to
 * several ms (docs/performance.md). NULL on ENOMEM: linear again. */
static void known_index(struct engine *e)
{
	free(e->known_sorted);
	e->known_sorted = malloc((e->n_known + 1) * sizeof(*e->known_sorted));
	e->n_known_sorted = 0;
	if (!e->known_sorted)
		return;
	for (size_t i = 0; i < e->n_known; i++)
		e->known_sorted[i] = &e->known[i];
	qsort(e->known_sorted, e->n_known, sizeof(*e->known_sorted),
	      known_ptr_cmp);
	e->n_known_sorted = e->n_known;
}

/* Position of the first sorted entry >= v. */
static size_t known_lower(const struct engine *e, const struct semver_ver *v)
{
	size_t lo = 0, hi = e->n_known_sorted;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (semver_ver_compare(&e->known_sorted[mid]->v, v) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool known_indexed(const struct engine *e)
{
	return e->known_sorted && e->n_known_sorted == e->n_known;
}

static const struct known_release *known_find(const struct engine *e,
					      const struct semver_ver *v)
{
	if (known_indexed(e)) {
		size_t i = known_lower(e, v);

		return i < e->n_known_sorted &&
		       semver_ver_compare(&e->known_sorted[i]->v, v) == 0
			       ? e->known_sorted[i] : NULL;
	}
	for (size_t i = 0; i < e->n_known; i++)
		if (semver_ver_compare(&e->known[i].v, v) == 0)
			return &e->known[i];
	return NULL;
}

/* No known release of v's major is higher than v. */
static bool latest_of_its_major(const struct engine *e,
				const struct semver_ver *v)
{
	if (known_indexed(e)) {
		size_t i = known_lower(e, v);

		while (i < e->n_known_sorted &&
		       semver_ver_compare(&e->known_sorted[i]->v, v) == 0)
			i++;
		return i == e->n_known_sorted ||
		       e->known_sorted[i]->v.major != v->major;
	}
	for (size_t i = 0; i < e->n_known; i++)
		if (e->known[i].v.major == v->major &&
		    semver_ver_compare(&e->known[i].v, v) > 0)
			return false;
	return true;
}

/*
 * Which families' goals a run checks: the overall latest release always;
 * another family's latest when this run made it or when the family's home
 * branch (release/N, or release/N.M for a minor line left behind) exists.
 * So a killed run is completed, and adopting the tool on a project with a
 * long history does not create a branch for every old family.
 */
static bool family_checked(const struct engine *e, const struct known_release *k,
			   const struct semver_ver *overall)
{
	char home[POLICY_NAME_MAX];

	for (size_t i = 0; i < e->n_blocked; i++)
		if (semver_ver_compare(&e->blocked[i], &k->v) == 0)
			return false;
	if (k->fresh || semver_ver_compare(&k->v, overall) == 0)
		return true;
	if (latest_of_its_major(e, &k->v))
		snprintf(home, sizeof(home), "%s%llu", e->o->cfg->release_prefix,
			 (unsigned long long)k->v.major);
	else
		snprintf(home, sizeof(home), "%s%llu.%llu",
			 e->o->cfg->release_prefix,
			 (unsigned long long)k->v.major,
			 (unsigned long long)k->v.minor);
	return branch_exists(e, home);
}

static int branch_goal(struct engine *e, struct engine_head *h,
		       const struct known_release *k,
		       struct release_goal_report *g, struct st_error *err)
{
	struct gitrepo_merge_request req;
	enum gitrepo_merge_kind kind;
	char version[SEMVER_VER_STR_MAX];
	bool contains = false;
	int rc;

	if (gitrepo_oid_is_zero(&h->head)) {
		h->head = k->commit;
		hex(&h->head, g->commit);
		snprintf(g->action, sizeof(g->action), "created");
		return ST_OK;
	}
	rc = gitrepo_is_ancestor(e->repo, &k->commit, &h->head, &contains, err);
	if (rc || contains) {
		g->state = GOAL_STATE_ACHIEVED;
		return rc;
	}
	semver_ver_format(&k->v, version, sizeof(version));
	req = (struct gitrepo_merge_request){
		.branch = h->name, .branch_head = h->head, .commit = k->commit,
		.spec = &e->spec, .branch_version = version, .who = &e->who,
		.changelog_path = engine_changelog_on(e)
					  ? e->o->cfg->changelog_file : NULL,
	};
	rc = gitrepo_merge(e->repo, &req, &h->head, &kind, err);
	if (rc == 0)
		hex(&h->head, g->commit);
	if (rc == 0)
		snprintf(g->action, sizeof(g->action), "%s",
			 kind == GITREPO_MERGE_FAST_FORWARD ? "fast-forwarded"
							    : "merged");
	return rc;
}

/* The version text at commit, trimmed; "" when the file is missing or
 * unreadable (then only a missing file compares equal). */
static void version_text(struct engine *e, const struct gitrepo_oid *commit,
			 char *buf, size_t size)
{
	struct st_error err;
	char *t;
	size_t n;

	st_error_clear(&err);
	buf[0] = '\0';
	if (gitrepo_version_at(e->repo, commit, &e->spec, buf, size, &err) != 0) {
		buf[0] = '\0';
		return;
	}
	for (t = buf; *t && strchr(" \t\r\n", *t); t++)
		;
	n = strlen(t);
	while (n && strchr(" \t\r\n", t[n - 1]))
		n--;
	memmove(buf, t, n);
	buf[n] = '\0';
}

/*
 * Has the branch been prepared since release k? Not yet while its version
 * file still holds what it held when the release was made: the release
 * version itself (a release branch after its merge), or the content of the
 * release commit's parent (the default branch, whose release commit is
 * detached). Anything else is a prep commit or a person's edit, and is
 * left alone: the tool does not fight a raised development version. The
 * same rule holds for a release made now and for one a killed run left,
 * so both end with the same refs.
 */
static bool prep_needed(struct engine *e, const struct engine_head *h,
			const struct known_release *k, const char *snapshot)
{
	char cur[256], at[256], before[256], v[SEMVER_VER_STR_MAX];
	struct gitrepo_oid parent;
	struct st_error err;

	version_text(e, &h->head, cur, sizeof(cur));
	if (strcmp(cur, snapshot) == 0)
		return false;
	semver_ver_format(&k->v, v, sizeof(v));
	version_text(e, &k->commit, at, sizeof(at));
	if (strcmp(cur, v) == 0 || strcmp(cur, at) == 0)
		return true;
	st_error_clear(&err);
	if (gitrepo_commit_parent(e->repo, &k->commit, &parent, &err) != 0)
		return false;
	version_text(e, &parent, before, sizeof(before));
	return strcmp(cur, before) == 0;
}

static int prep_goal(struct engine *e, struct engine_head *h,
		     const struct known_release *k,
		     struct release_goal_report *g, struct st_error *err)
{
	char msg[POLICY_VERSION_MAX + 64], v[SEMVER_VER_STR_MAX];
	bool made = false, version;
	int rc;

	version = !gitrepo_oid_is_zero(&h->head) &&
		  prep_needed(e, h, k, g->goal.version);
	/* the branch's version moved on already: it still gets the
	 * release's changelog section (release_content.c) */
	if (!version && (gitrepo_oid_is_zero(&h->head) ||
			 !engine_changelog_missing(e, &h->head, k))) {
		g->state = GOAL_STATE_ACHIEVED;
		return ST_OK;
	}
	semver_ver_format(&k->v, v, sizeof(v));
	if (version)
		snprintf(msg, sizeof(msg), "Prepare next development version %s",
			 g->goal.version);
	else
		snprintf(msg, sizeof(msg), "Add %s to the changelog", v);
	rc = engine_prep_commit(e, &h->head, k, version ? g->goal.version : NULL,
				msg, &h->head, &made, err);
	if (rc == 0 && !made)
		g->state = GOAL_STATE_ACHIEVED;
	else if (rc == 0)
		snprintf(g->action, sizeof(g->action), "committed");
	if (rc == 0)
		hex(&h->head, g->commit);
	return rc;
}

/* Assess one goal and plan what achieving it takes (no push yet). */
static int plan_goal(struct engine *e, const struct policy_goal *pg,
		     struct release_goal_report *g, struct st_error *err)
{
	const struct known_release *k = known_find(e, &pg->release);
	struct engine_head *h;

	memset(g, 0, sizeof(*g));
	g->goal = *pg;
	g->state = GOAL_STATE_PLANNED;
	if (!k)
		return st_error_set(err, ST_EINTERNAL, "no commit for release");
	h = head_get(e, pg->branch, err);
	if (!h)
		return err->code;
	if (pg->kind == GOAL_BRANCH)
		return branch_goal(e, h, k, g, err);
	return prep_goal(e, h, k, g, err);
}

/* Publish every planned head that moved: compare-and-swap against the
 * value each was planned from, in chunks of GITREPO_PUSH_MAX refs. */
static int push_heads(struct engine *e, struct st_error *err)
{
	struct gitrepo_ref_update up[GITREPO_PUSH_MAX];
	struct gitrepo_push_result res[GITREPO_PUSH_MAX];
	char refs[GITREPO_PUSH_MAX][POLICY_NAME_MAX + 16];
	struct engine_head *hs[GITREPO_PUSH_MAX];
	size_t i = 0;
	int worst = 0;

	while (i < e->n_heads) {
		size_t n = 0;
		int rc;

		for (; i < e->n_heads && n < GITREPO_PUSH_MAX; i++) {
			struct engine_head *h = &e->heads[i];

			if (gitrepo_oid_equal(&h->head, &h->old))
				continue;
			snprintf(refs[n], sizeof(refs[n]), "refs/heads/%s", h->name);
			up[n] = (struct gitrepo_ref_update){ refs[n], h->old,
							     h->head };
			hs[n++] = h;
		}
		if (n == 0)
			break;
		memset(res, 0, sizeof(res));
		rc = engine_push(e, up, n, res, err);
		for (size_t j = 0; j < n; j++) {
			hs[j]->push_rc = res[j].status == GITREPO_PUSH_OK ? 0
				       : res[j].status == GITREPO_PUSH_RACE ? ST_ERACE
				       : rc ? rc : ST_ETEMP;
			snprintf(hs[j]->detail, sizeof(hs[j]->detail), "%s",
				 res[j].message[0] ? res[j].message : err->msg);
		}
		worst = rc == ST_ERACE ? rc : report_worse(worst, rc);
	}
	return worst;
}

static void settle_goal(struct engine *e, struct release_goal_report *g)
{
	struct engine_head *h = NULL;

	for (size_t i = 0; i < e->n_heads; i++)
		if (strcmp(e->heads[i].name, g->goal.branch) == 0)
			h = &e->heads[i];
	if (!h)
		return;
	if (!g->commit[0])
		hex(&h->head, g->commit);
	if (g->state != GOAL_STATE_PLANNED || e->o->dry_run)
		return;
	if (h->push_rc == 0) {
		g->state = GOAL_STATE_DONE;
	} else {
		g->state = GOAL_STATE_FAILED;
		snprintf(g->detail, sizeof(g->detail), "%s", h->detail);
	}
}

static int record_goal(struct engine *e, const struct release_goal_report *g)
{
	struct release_goal_report *mine = report_find_goal(e->rep, &g->goal);

	if (mine) {
		*mine = *g;
		return ST_OK;
	}
	if (g->state == GOAL_STATE_ACHIEVED)
		return ST_OK;
	return report_add_maintenance(e->rep, g);
}

static int plan_family(struct engine *e, const struct policy_plan *fam,
		       struct release_goal_report *res, bool *used,
		       struct st_error *err)
{
	struct semver_ver overall = e->known[0].v;
	int worst = 0;

	for (size_t i = 1; i < e->n_known; i++)
		if (semver_ver_compare(&e->known[i].v, &overall) > 0)
			overall = e->known[i].v;
	for (size_t i = 0; i < fam->n_goals; i++) {
		const struct known_release *k = known_find(e, &fam->goals[i].release);
		struct engine_head *h;
		struct st_error gerr;
		int rc;

		if (!k || !family_checked(e, k, &overall))
			continue;
		used[i] = true;
		st_error_clear(&gerr);
		h = head_get(e, fam->goals[i].branch, &gerr);
		if (h && h->failed) {
			res[i].goal = fam->goals[i];
			res[i].state = GOAL_STATE_SKIPPED;
			continue;
		}
		rc = h ? plan_goal(e, &fam->goals[i], &res[i], &gerr) : gerr.code;
		if (rc) {
			res[i].goal = fam->goals[i];
			res[i].state = GOAL_STATE_FAILED;
			snprintf(res[i].detail, sizeof(res[i].detail), "%s",
				 gerr.msg);
			if (h)
				h->failed = true;
			st_error_set(err, rc, "%s", gerr.msg);
			worst = report_worse(worst, rc);
		}
	}
	return worst;
}

/* Goal 4 for the latest release of each family checked this run. */
static void content_goals(struct engine *e, const struct policy_plan *fam,
			  const bool *used)
{
	for (size_t i = 0; i < fam->n_goals; i++) {
		const struct known_release *k;
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			seen = seen || (used[j] &&
					semver_ver_compare(&fam->goals[j].release,
							   &fam->goals[i].release) == 0);
		if (!used[i] || seen)
			continue;
		k = known_find(e, &fam->goals[i].release);
		if (k)
			engine_content_goal(e, &k->v, &k->commit);
	}
}

int engine_family_goals(struct engine *e, struct st_error *err)
{
	struct semver_ver *vers = calloc(e->n_known + 1, sizeof(*vers));
	struct release_goal_report *res = NULL;
	struct policy_plan fam;
	bool *used = NULL;
	int rc, worst = 0;

	policy_plan_init(&fam);
	if (!vers)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	for (size_t i = 0; i < e->n_known; i++)
		vers[i] = e->known[i].v;
	known_index(e);
	rc = policy_family_goals(vers, e->n_known, &e->settings, &fam, err);
	free(vers);
	if (rc == 0 && fam.n_goals > 0) {
		res = calloc(fam.n_goals, sizeof(*res));
		used = calloc(fam.n_goals, sizeof(*used));
		if (!res || !used)
			rc = st_error_set(err, ST_ENOMEM, "out of memory");
	}
	if (rc == 0 && fam.n_goals > 0) {
		worst = plan_family(e, &fam, res, used, err);
		if (!e->o->dry_run)
			rc = push_heads(e, err);
		if (rc == 0 || rc != ST_ERACE)
			engine_failpoint(e, "after-branch-push");
		for (size_t i = 0; i < fam.n_goals; i++) {
			if (!used[i])
				continue;
			settle_goal(e, &res[i]);
			if (record_goal(e, &res[i]) != 0)
				rc = st_error_set(err, ST_ENOMEM, "out of memory");
		}
		if (rc != ST_ERACE)
			content_goals(e, &fam, used);
	}
	free(res);
	free(used);
	policy_plan_release(&fam);
	return rc == ST_ERACE ? rc : report_worse(worst, rc);
}
