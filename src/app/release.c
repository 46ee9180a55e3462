/* SPDX-License-Identifier: MIT */
/*
 * The release engine's run loop: set up (project, MRs, mirror), then plan
 * and achieve; after a lost race, fetch and plan again (bounded).
 */
#include "release_internal.h"

#include "semver-tagger/statedir.h"
#include "semver-tagger/urlrule.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIRROR_DIR "mirror.git"
#define MR_CACHE "merge-requests.cache"
#define PROJECT_CACHE "project.cache"

/* Labelled points of a release at which crash trials kill the run, the
 * way kill -9 would: no cleanup, no flush. */
void engine_failpoint(const struct engine *e, const char *name)
{
	if (e->o->failpoint && strcmp(e->o->failpoint, name) == 0)
		kill(getpid(), SIGKILL);
}

void engine_warn(struct engine *e, const char *fmt, ...)
{
	char msg[ST_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report_add_warning(e->rep, msg);
}

void engine_debug(struct engine *e, const char *fmt, ...)
{
	char msg[ST_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report_add_debug(e->rep, msg);
}

int64_t engine_deadline(const struct engine *e)
{
	long ms = e->o->network_timeout_ms > 0 ? e->o->network_timeout_ms
					       : 120000;

	return gitrepo_deadline_in(ms);
}

static int mkdir_p(const char *path, struct st_error *err)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return st_error_set(err, ST_ECONFIG,
				    "state directory path is empty or too long");
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return st_error_set(err, ST_EIO, "state directory %s: %s",
					    buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return st_error_set(err, ST_EIO, "state directory %s: %s", buf,
				    strerror(errno));
	return ST_OK;
}

/* The state directory, created, and known to be ours alone before
 * anything in it is read. Not in GitLab CI: there it is a restored cache
 * written by the runner (umask 0000, maybe another uid), so owner and
 * modes say nothing; the caches' seal carries the trust (README). */
static int state_dir_ready(const struct release_options *o,
			   struct st_error *err)
{
	int rc = mkdir_p(o->state_dir, err);

	return rc || o->ci_cache ? rc : statedir_check(o->state_dir, err);
}

static int state_path(const struct engine *e, const char *name, char *buf,
		      size_t size, struct st_error *err)
{
	int n = snprintf(buf, size, "%s/%s", e->o->state_dir, name);

	if (n < 0 || (size_t)n >= size)
		return st_error_set(err, ST_ECONFIG, "state directory path "
				    "too long: %s", e->o->state_dir);
	return ST_OK;
}

static int setup_settings(struct engine *e, struct st_error *err)
{
	const struct config_project *c = e->o->cfg;

	e->default_branch = c->default_branch ? c->default_branch
					      : e->project.default_branch;
	if (!e->default_branch)
		return st_error_set(err, ST_ECONFIG,
				    "project %s has no default branch (empty "
				    "repository?)", e->project.path);
	e->spec.kind = c->build == BUILD_MAVEN ? VERSIONFILE_MAVEN
		       : c->build == BUILD_VERSION_FILE ? VERSIONFILE_PLAIN
							  : VERSIONFILE_SIMPLE;
	e->spec.path = c->build == BUILD_VERSION_FILE ? c->version_file : NULL;
	e->who.name = c->git_name;
	e->who.email = c->git_email;
	e->settings.labels = e->o->labels;
	e->settings.default_branch = e->default_branch;
	e->settings.release_prefix = c->release_prefix;
	e->settings.snapshot_suffix = c->snapshot_suffix;
	e->settings.prep_commits = c->build != BUILD_SIMPLE;
	e->settings.base = c->base;
	if (c->changelog > 0 && c->build == BUILD_SIMPLE)
		return st_error_set(err, ST_ECONFIG, "changelog = true needs "
				    "build_system version-file or maven (a "
				    "simple release has no commit to carry it)");
	e->cred.username = e->o->token_user;
	e->cred.token = e->o->token;
	return ST_OK;
}

/* Project facts, from <state>/project.cache unless refresh (see
 * setup_repo() for how far a cached copy is trusted). Callable again. */
static int setup_project(struct engine *e, bool refresh, struct st_error *err)
{
	struct forge_project p;
	char cache[4096];
	int rc = state_path(e, PROJECT_CACHE, cache, sizeof(cache), err);

	forge_project_init(&p);
	if (rc == 0)
		rc = forge_project_cached(e->forge, cache, refresh, &p,
					  &e->project_cached, err);
	if (rc)
		return rc;
	forge_project_release(&e->project);
	e->project = p;
	rc = setup_settings(e, err);
	if (rc)
		return rc;
	free(e->rep->project);
	free(e->rep->default_branch);
	free(e->rep->web_url);
	free(e->git_url);
	e->rep->project = strdup(e->project.path ? e->project.path : "?");
	e->rep->default_branch = strdup(e->default_branch);
	e->rep->web_url = e->project.web_url ? strdup(e->project.web_url)
					      : NULL; /* NULL: no link */
	e->git_url = strdup(e->o->cfg->git_url ? e->o->cfg->git_url
					       : e->project.http_url_to_repo);
	if (!e->rep->project || !e->rep->default_branch || !e->git_url)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	/* The token goes only where urlrule.h allows. A cached project
	 * naming another host (a planted state file) is asked for again:
	 * it costs a request, never the token; GitLab's own answer naming
	 * one is refused. */
	rc = urlrule_clone_url(e->o->cfg->api_url, e->git_url,
			       e->o->cfg->git_url != NULL, err);
	if (rc && e->project_cached && !refresh) {
		engine_warn(e, "%s: %s; asking GitLab again", cache, err->msg);
		st_error_clear(err);
		return setup_project(e, true, err);
	}
	return rc;
}

static int mr_commit_cmp(const void *a, const void *b)
{
	const struct mr_commit *x = a, *y = b;
	int c = memcmp(x->id.id, y->id.id, sizeof(x->id.id));

	return c ? c : (x->mr > y->mr) - (x->mr < y->mr);
}

/* Every MR's commit, parsed once and sorted: a branch then costs a lookup
 * per new commit instead of a parse per MR (projects have thousands of
 * MRs and hundreds of release branches). */
static int index_mr_commits(struct engine *e, struct st_error *err)
{
	e->mr_commits = calloc(e->mrs.len + 1, sizeof(*e->mr_commits));
	if (!e->mr_commits)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	for (size_t i = 0; i < e->mrs.len; i++) {
		const char *c = e->mrs.items[i].commit;
		struct mr_commit *m = &e->mr_commits[e->n_mr_commits];

		if (c && gitrepo_oid_fromhex(c, &m->id) == 0) {
			m->mr = i;
			e->n_mr_commits++;
			if (e->o->debug && !gitrepo_commit_exists(e->repo, &m->id))
				engine_debug(e, "MR !%lld: commit %.12s is not in "
					     "the repository: not reachable",
					     (long long)e->mrs.items[i].iid, c);
		}
	}
	qsort(e->mr_commits, e->n_mr_commits, sizeof(*e->mr_commits),
	      mr_commit_cmp);
	return ST_OK;
}

static int setup_mirror(struct engine *e, struct st_error *err);

void release_warm_release(struct release_warm *w)
{
	if (!w)
		return;
	gitrepo_free(w->repo);
	free(w->repo_url);
	forge_mr_list_release(&w->mrs);
	w->repo = NULL;
	w->repo_url = NULL;
}

/* Close the mirror (and forget it as warm state). */
static void drop_repo(struct engine *e)
{
	if (e->o->warm && e->o->warm->repo == e->repo)
		release_warm_release(e->o->warm);
	else
		gitrepo_free(e->repo);
	e->repo = NULL;
}

/*
 * Does this listing confirm the cached project's address? The incremental
 * listing always receives at least the MR updated last (it asks from a
 * little before it), and GitLab builds an MR's web_url from the project's
 * current path: "<project web_url>/-/merge_requests/<iid>". A project
 * renamed since (its old path maybe taken by another project, whose
 * repository the cached URL would then fetch) does not match. Nothing
 * received (a project without merged MRs): not confirmed.
 */
static bool mrs_confirm_project(const struct engine *e,
				const struct forge_list_result *res)
{
	const char *web = e->project.web_url, *got = res->newest_web_url;
	size_t n = web ? strlen(web) : 0;

	return n > 0 && strncmp(got, web, n) == 0 &&
	       strncmp(got + n, "/-/merge_requests/", 18) == 0;
}

/* After the listing: a cached project it does not confirm is asked for
 * again, and the mirror fetched again if its URL moved. */
static int confirm_project(struct engine *e,
			   const struct forge_list_result *res,
			   struct st_error *err)
{
	char *old;
	int rc;

	if (!e->project_cached || mrs_confirm_project(e, res))
		return ST_OK;
	old = strdup(e->git_url);
	if (!old)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	rc = setup_project(e, true, err);
	if (rc == 0 && strcmp(old, e->git_url) != 0) {
		drop_repo(e);
		rc = setup_mirror(e, err);
	}
	free(old);
	return rc;
}

static int list_mrs(struct engine *e, struct st_error *err)
{
	struct forge_list_result res;
	char cache[4096];
	int rc = state_path(e, MR_CACHE, cache, sizeof(cache), err);

	if (rc)
		return rc;
	memset(&res, 0, sizeof(res));
	rc = forge_merged_mrs(e->forge, cache, &e->mrs, &res, err);
	if (res.warning)
		engine_warn(e, "%s", res.warning_msg);
	if (rc == 0)
		rc = confirm_project(e, &res, err);
	return rc ? rc : index_mr_commits(e, err);
}

static int setup_mirror(struct engine *e, struct st_error *err)
{
	struct release_warm *w = e->o->warm;
	struct gitrepo_mirror_report mr;
	char path[4096];
	int rc;

	rc = state_path(e, MIRROR_DIR, path, sizeof(path), err);
	if (rc)
		return rc;
	if (w && w->repo && w->repo_url && strcmp(w->repo_url, e->git_url) == 0) {
		/* warm: the mirror is open, a fetch brings it up to date */
		e->repo = w->repo;
		rc = gitrepo_fetch(e->repo, e->git_url, &e->cred,
				   engine_deadline(e), err);
		if (rc)
			drop_repo(e); /* reopened (and checked) next time */
		return rc;
	}
	if (w)
		release_warm_release(w);
	memset(&mr, 0, sizeof(mr));
	rc = gitrepo_open_mirror(path, e->git_url, &e->cred, engine_deadline(e),
				 &e->repo, &mr, err);
	if (mr.recloned)
		engine_warn(e, "mirror %s was replaced: %s", path, mr.warning);
	if (rc == 0 && w && (w->repo_url = strdup(e->git_url)))
		w->repo = e->repo;
	return rc;
}

struct preload {
	struct forge *forge;
	char path[4096];
};

static void *preload_main(void *arg)
{
	struct preload *p = arg;

	forge_preload_mrs(p->forge, p->path);
	return NULL;
}

/* The mirror's fetch; with preload, the MR cache is read from disk on a
 * second thread meanwhile (10,000 MRs: ~10 ms of parsing that the fetch's
 * network wait hides). Nothing else touches the forge until the join. */
static int fetch_with_preload(struct engine *e, bool preload,
			      struct st_error *err)
{
	struct preload p = { e->forge, "" };
	struct st_error perr;
	pthread_t t;
	bool threaded;
	int rc;

	st_error_clear(&perr);
	threaded = preload &&
		   state_path(e, MR_CACHE, p.path, sizeof(p.path), &perr) == 0 &&
		   pthread_create(&t, NULL, preload_main, &p) == 0;
	rc = setup_mirror(e, err);
	if (threaded)
		pthread_join(t, NULL);
	return rc;
}

/* The fetched mirror's HEAD (the server's default branch now) is the
 * cached project's default branch. */
static bool cached_project_confirmed(struct engine *e)
{
	struct gitrepo_branches b;
	const char *want = e->project.default_branch;
	struct st_error err;
	bool same;

	st_error_clear(&err);
	if (gitrepo_branches_list(e->repo, e->o->cfg->release_prefix, &b,
				  &err) != 0)
		return false;
	same = b.default_name && want ? strcmp(b.default_name, want) == 0
				      : !b.default_name && !want;
	gitrepo_branches_release(&b);
	return same;
}

/*
 * The mirror, fetched. A cached project (no request) is trusted only as
 * far as this fetch confirms it: the fetch from its URL worked and the
 * server's default branch (the mirror's HEAD) is the cached one. Anything
 * else (a renamed project, a new default branch) asks the server and
 * fetches again, so a stale cache costs a request, never a wrong branch.
 */
static int setup_repo(struct engine *e, bool preload, struct st_error *err)
{
	int rc = fetch_with_preload(e, preload, err), first = rc;
	struct st_error first_err = *err;
	char *old;

	if (!e->project_cached || (rc == 0 && cached_project_confirmed(e)))
		return rc;
	if (!(old = strdup(e->git_url)))
		return st_error_set(err, ST_ENOMEM, "out of memory");
	st_error_clear(err);
	drop_repo(e);
	rc = setup_project(e, true, err);
	/* The fetch failed and the project still names the same URL: a
	 * second fetch would fail (or wait out a hung server) again. */
	if (rc == 0 && first != 0 && strcmp(old, e->git_url) == 0) {
		*err = first_err;
		rc = first;
	} else if (rc == 0) {
		rc = setup_mirror(e, err);
	}
	free(old);
	return rc;
}

/* Release versions and their commits, from the mirror's tags. */
static int load_known(struct engine *e, struct st_error *err)
{
	free(e->known);
	e->known = calloc(e->tags.nreleases + 1, sizeof(*e->known));
	e->n_known = 0;
	e->n_known_sorted = 0; /* its pointers were into the old array */
	if (!e->known)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	for (size_t i = 0; i < e->tags.nreleases; i++) {
		e->known[i].v = e->tags.releases[i]->ver;
		e->known[i].commit = e->tags.releases[i]->commit;
	}
	e->n_known = e->tags.nreleases;
	return ST_OK;
}

static void attempt_reset(struct engine *e)
{
	gitrepo_tags_release(&e->tags);
	gitrepo_branches_release(&e->branches);
	engine_heads_reset(e);
	report_clear_attempt(e->rep);
}

static int attempt_load(struct engine *e, struct st_error *err)
{
	int rc;

	attempt_reset(e);
	e->n_blocked = 0;
	rc = gitrepo_tags_list(e->repo, e->o->cfg->tag_prefix, &e->tags, err);
	if (rc == 0)
		rc = gitrepo_branches_list(e->repo, e->o->cfg->release_prefix,
					   &e->branches, err);
	if (rc == 0)
		rc = load_known(e, err);
	return rc;
}

/* The commit of the release the policy says is the branch's latest. */
static const struct gitrepo_oid *family_since(const struct engine *e,
					      const struct policy_branch *b)
{
	if (!b->has_latest)
		return NULL; /* the virtual base: every commit is new */
	for (size_t i = 0; i < e->n_known; i++)
		if (semver_ver_compare(&e->known[i].v, &b->latest) == 0)
			return &e->known[i].commit;
	return NULL;
}

struct new_mrs {
	struct policy_mr *v;
	size_t n;
};

static int add_mr_report(struct release_branch_report *br,
			 const struct forge_mr *mr)
{
	struct release_mr_report *grown, *m;

	grown = realloc(br->mrs, (br->n_mrs + 1) * sizeof(*grown));
	if (!grown)
		return ST_ENOMEM;
	br->mrs = grown;
	m = &br->mrs[br->n_mrs++];
	memset(m, 0, sizeof(*m));
	m->iid = mr->iid;
	m->title = strdup(mr->title ? mr->title : "");
	m->web_url = strdup(mr->web_url ? mr->web_url : "");
	m->author = strdup(mr->author_username ? mr->author_username : "");
	return m->title && m->web_url && m->author ? ST_OK : ST_ENOMEM;
}

static int size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

/* The first entry of e->mr_commits with commit id (or the end). */
static size_t mr_commit_lower(const struct engine *e,
			      const struct gitrepo_oid *id)
{
	size_t lo = 0, hi = e->n_mr_commits;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(e->mr_commits[mid].id.id, id->id,
			   sizeof(id->id)) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Indexes into e->mrs of the MRs whose commit is in set, ascending; from
 * whichever side is smaller: the new commits or the MRs. */
struct hits {
	size_t *v;
	size_t n, cap;
};

static int hit(struct hits *h, size_t mr)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 16;
		size_t *v = realloc(h->v, cap * sizeof(*v));

		if (!v)
			return ST_ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n++] = mr;
	return ST_OK;
}

/* Indexes into e->mrs of the MRs whose commit is in set, ascending; from
 * whichever side is smaller: the new commits or the MRs. Sized by what is
 * found (a release branch usually has none: hundreds of branches must not
 * each allocate room for every MR). */
static int mrs_in_set(const struct engine *e,
		      const struct gitrepo_commitset *set, struct hits *h)
{
	struct gitrepo_oid id;
	size_t pos = 0;
	int rc = 0;

	if (gitrepo_commitset_count(set) > e->n_mr_commits / 16) {
		for (size_t i = 0; rc == 0 && i < e->n_mr_commits; i++)
			if (gitrepo_commitset_has(set, &e->mr_commits[i].id))
				rc = hit(h, e->mr_commits[i].mr);
	} else {
		while (rc == 0 && gitrepo_commitset_next(set, &pos, &id))
			for (size_t i = mr_commit_lower(e, &id);
			     rc == 0 && i < e->n_mr_commits &&
			     gitrepo_oid_equal(&e->mr_commits[i].id, &id); i++)
				rc = hit(h, e->mr_commits[i].mr);
	}
	if (rc == 0 && h->n > 1)
		qsort(h->v, h->n, sizeof(*h->v), size_cmp);
	return rc;
}

/* SPEC §2: the merged MRs whose commit is reachable from head and not
 * from since. A commit missing from the mirror is not reachable. */
static int find_new_mrs(struct engine *e, const struct gitrepo_oid *head,
			const struct gitrepo_oid *since,
			struct release_branch_report *br, struct new_mrs *out,
			struct st_error *err)
{
	struct gitrepo_commitset *set = NULL;
	int rc = gitrepo_new_commits(e->repo, head, since, &set, err);
	struct hits hits = { NULL, 0, 0 };

	out->v = NULL;
	out->n = 0;
	if (rc)
		return rc;
	if (mrs_in_set(e, set, &hits) != 0 ||
	    !(out->v = calloc(hits.n + 1, sizeof(*out->v))))
		rc = st_error_set(err, ST_ENOMEM, "out of memory");
	for (size_t h = 0; rc == 0 && h < hits.n; h++) {
		const struct forge_mr *mr = &e->mrs.items[hits.v[h]];

		out->v[out->n++] = (struct policy_mr){
			.iid = (uint64_t)mr->iid,
			.title = mr->title,
			.web_url = mr->web_url,
			.labels = (const char *const *)mr->labels,
			.n_labels = mr->n_labels,
		};
		if (add_mr_report(br, mr) != 0)
			rc = st_error_set(err, ST_ENOMEM, "out of memory");
	}
	free(hits.v);
	gitrepo_commitset_free(set);
	return rc;
}

static int branch_head(struct engine *e, const char *name,
		       struct gitrepo_oid *out, struct st_error *err)
{
	int rc = gitrepo_branch_head(e->repo, name, out, err);

	if (rc == ST_ENOTFOUND) {
		st_error_clear(err);
		return st_error_set(err, ST_ECONFIG,
				    "branch %s does not exist in project %s",
				    name, e->project.path);
	}
	return rc;
}

/* The plan's goals into the report, to be assessed. ST_ENOMEM: no goal
 * is listed, and the caller must not act on the plan. */
static int copy_goals(struct release_branch_report *br)
{
	const struct policy_plan *p = &br->plan;

	br->goals = calloc(p->n_goals + 1, sizeof(*br->goals));
	if (!br->goals)
		return ST_ENOMEM;
	for (size_t i = 0; i < p->n_goals; i++) {
		br->goals[i].goal = p->goals[i];
		br->goals[i].state = GOAL_STATE_SKIPPED;
	}
	br->n_goals = p->n_goals;
	return ST_OK;
}

static void set_mr_impacts(struct engine *e, struct release_branch_report *br)
{
	for (size_t i = 0; i < br->n_mrs; i++) {
		const struct forge_mr *mr = forge_mr_list_find(&e->mrs,
							      br->mrs[i].iid);

		if (mr)
			br->mrs[i].impact = labels_impact(
				e->o->labels, (const char *const *)mr->labels,
				mr->n_labels, NULL);
	}
}

static void post_missing_notes(struct engine *e,
			       struct release_branch_report *br)
{
	for (size_t i = 0; i < br->plan.n_problems; i++) {
		const struct policy_problem *p = &br->plan.problems[i];
		char marker[64], body[1024];
		struct forge_note note;
		enum forge_outcome out;
		struct st_error err;

		if (p->kind != PROBLEM_MISSING_IMPACT || p->iid == 0)
			continue;
		snprintf(marker, sizeof(marker),
			 "semver-tagger:missing-impact:%llu",
			 (unsigned long long)p->iid);
		snprintf(body, sizeof(body),
			 "semver-tagger cannot release `%s`: this merge "
			 "request has no impact label.\n\nAdd one of "
			 "~ImpactMajor, ~ImpactMinor or ~ImpactPatch (after "
			 "the merge is fine), then re-run the release job; the "
			 "daemon picks the label change up by itself.",
			 br->branch);
		note = (struct forge_note){ (int64_t)p->iid, marker, body };
		st_error_clear(&err);
		if (forge_post_note(e->forge, &note, &out, &err) != 0)
			engine_warn(e, "note on MR !%llu not posted: %s",
				    (unsigned long long)p->iid, err.msg);
		else if (out == FORGE_CREATED)
			br->note_posted = true;
	}
}

static int plan_branch(struct engine *e, struct release_branch_report *br,
		       const struct gitrepo_oid *head, struct st_error *err)
{
	struct semver_ver *rel = calloc(e->n_known + 1, sizeof(*rel));
	struct policy_input in = { .branch = br->branch };
	struct new_mrs mrs = { 0 };
	int rc;

	if (!rel)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	for (size_t i = 0; i < e->n_known; i++)
		rel[i] = e->known[i].v;
	rc = policy_classify(br->branch, rel, e->n_known, &e->settings,
			     &br->plan.branch, err);
	if (rc == 0 && br->plan.branch.role != BRANCH_OTHER)
		rc = find_new_mrs(e, head, family_since(e, &br->plan.branch),
				  br, &mrs, err);
	if (rc == 0 && br->plan.branch.role != BRANCH_OTHER) {
		in.releases = rel;
		in.n_releases = e->n_known;
		in.new_mrs = mrs.v;
		in.n_new = mrs.n;
		in.stable_release = e->o->stable_release;
		rc = policy_evaluate(&in, &e->settings, &br->plan, err);
	}
	free(mrs.v);
	free(rel);
	return rc;
}

static int eval_branch(struct engine *e, const char *name,
		       struct st_error *err)
{
	struct release_branch_report *br;
	struct gitrepo_oid head;
	int rc = report_add_branch(e->rep, name, &br);

	if (rc)
		return st_error_set(err, rc, "out of memory");
	rc = branch_head(e, name, &head, err);
	if (rc == 0)
		rc = plan_branch(e, br, &head, err);
	set_mr_impacts(e, br);
	if (copy_goals(br) != 0 && (rc == 0 || rc == ST_EREFUSED)) {
		st_error_clear(err);
		rc = st_error_set(err, ST_ENOMEM, "branch %s: out of memory",
				  name);
	}
	engine_failpoint(e, "after-plan");
	if (rc == ST_EREFUSED && e->o->cfg->notes && !e->o->dry_run)
		post_missing_notes(e, br);
	if (rc == 0 && br->plan.release)
		rc = engine_tag_goal(e, br, &head, err);
	if (rc && rc != ST_ERACE && br->plan.branch.has_latest &&
	    e->n_blocked < sizeof(e->blocked) / sizeof(e->blocked[0]))
		e->blocked[e->n_blocked++] = br->plan.branch.latest;
	br->status = rc;
	if (rc)
		snprintf(br->error, sizeof(br->error), "%s", err->msg);
	return rc;
}

/* The default branch first, then the release branches, or just one. */
static int reconcile(struct engine *e, struct st_error *err)
{
	int rc, worst = 0;

	rc = attempt_load(e, err);
	if (rc)
		return rc;
	if (e->o->branch) {
		worst = eval_branch(e, e->o->branch, err);
	} else {
		worst = eval_branch(e, e->default_branch, err);
		for (size_t i = 0; worst != ST_ERACE && i < e->branches.nrelease;
		     i++) {
			struct st_error berr;

			st_error_clear(&berr);
			rc = eval_branch(e, e->branches.release[i].name, &berr);
			if (rc && !err->code)
				*err = berr;
			worst = rc == ST_ERACE ? rc : report_worse(worst, rc);
		}
	}
	if (worst == ST_ERACE)
		return worst;
	rc = engine_family_goals(e, err);
	return rc == ST_ERACE ? rc : report_worse(worst, rc);
}

static void engine_release(struct engine *e)
{
	engine_guard_close(e);
	gitrepo_tags_release(&e->tags);
	gitrepo_branches_release(&e->branches);
	free(e->known);
	free(e->known_sorted);
	free(e->heads);
	free(e->mr_commits);
	engine_content_free(e);
	if (!e->o->warm || e->o->warm->repo != e->repo)
		gitrepo_free(e->repo);
	if (e->o->warm) { /* back to the caller, for the next run */
		forge_mr_list_release(&e->o->warm->mrs);
		e->o->warm->mrs = e->mrs;
	} else {
		forge_mr_list_release(&e->mrs);
	}
	forge_project_release(&e->project);
	free(e->git_url);
}

static int run_attempts(struct engine *e, struct st_error *err)
{
	int rc;

	for (unsigned attempt = 0;; attempt++) {
		if (attempt > 0) {
			rc = gitrepo_fetch(e->repo, e->git_url, &e->cred,
					   engine_deadline(e), err);
			if (rc)
				return rc;
		}
		rc = reconcile(e, err);
		if (rc != ST_ERACE || attempt >= e->o->max_replans)
			return rc;
		e->rep->replans++;
		st_error_clear(err);
	}
}

static void engine_open(struct engine *e, const struct release_options *o,
			struct forge *forge, struct release_report *report)
{
	memset(e, 0, sizeof(*e));
	e->o = o;
	e->forge = forge;
	e->rep = report;
	forge_project_init(&e->project);
	forge_mr_list_init(&e->mrs);
	if (o->warm) { /* what the forge returned last (release_warm) */
		e->mrs = o->warm->mrs;
		forge_mr_list_init(&o->warm->mrs);
	}
}

/* Record the outcome in the report and free the engine. */
static int engine_close(struct engine *e, int rc, const struct st_error *err)
{
	e->rep->status = rc;
	if (rc)
		snprintf(e->rep->error, sizeof(e->rep->error), "%s", err->msg);
	engine_release(e);
	return rc;
}

int release_run(const struct release_options *o, struct forge *forge,
		struct release_report *report, struct st_error *err)
{
	struct engine e;
	struct forge_counters fc, fc0;
	int rc;

	forge_counters(forge, &fc0); /* a warm forge has counted before */
	engine_open(&e, o, forge, report);
	rc = state_dir_ready(o, err);
	if (rc == 0)
		rc = setup_project(&e, false, err);
	/* fetch first, then list MRs: an MR merged in between has its
	 * commit missing from the mirror (not new yet), rather than a
	 * commit in the mirror whose MR (and impact) is not listed */
	/* no read-ahead thread: gitrepo forks its fetch child without exec,
	 * and a fork while that thread held an allocator lock left the
	 * child hung until the fetch deadline (seen under ASan with the
	 * machine busy, in --once); ~10 ms at 10,000 MRs is not worth it */
	if (rc == 0)
		rc = setup_repo(&e, false, err);
	if (rc == 0)
		rc = engine_guard_open(&e, err); /* the signing key, if any */
	if (rc == 0)
		rc = list_mrs(&e, err);
	if (rc == 0)
		rc = run_attempts(&e, err);
	forge_counters(forge, &fc);
	report->api_requests = (unsigned)(fc.requests - fc0.requests);
	return engine_close(&e, rc, err);
}

/* Plan the MR's target branch with the MR as the only new one. */
static int check_plan(struct engine *e, const struct release_check *mr,
		      struct st_error *err)
{
	struct release_branch_report *br;
	struct policy_mr pm = { (uint64_t)mr->iid, mr->title, NULL, mr->labels,
				mr->n_labels };
	struct policy_input in = { .branch = mr->target_branch };
	struct semver_ver *rel;
	int rc = report_add_branch(e->rep, mr->target_branch, &br);

	if (rc)
		return st_error_set(err, rc, "out of memory");
	rel = calloc(e->n_known + 1, sizeof(*rel));
	if (!rel)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	for (size_t i = 0; i < e->n_known; i++)
		rel[i] = e->known[i].v;
	in.releases = rel;
	in.n_releases = e->n_known;
	in.new_mrs = &pm;
	in.n_new = 1;
	in.stable_release = e->o->stable_release;
	rc = policy_evaluate(&in, &e->settings, &br->plan, err);
	free(rel);
	if (copy_goals(br) != 0) {
		st_error_clear(err);
		rc = st_error_set(err, ST_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < br->n_goals; i++)
		br->goals[i].state = GOAL_STATE_PLANNED;
	br->status = rc;
	if (rc)
		snprintf(br->error, sizeof(br->error), "%s", err->msg);
	return rc;
}

int release_check_mr(const struct release_options *o, struct forge *forge,
		     const struct release_check *mr,
		     struct release_report *report, struct st_error *err)
{
	struct engine e;
	int rc;

	engine_open(&e, o, forge, report);
	/* no MR listing here to confirm a cached project: ask the server */
	rc = state_dir_ready(o, err);
	if (rc == 0)
		rc = setup_project(&e, true, err);
	if (rc == 0)
		rc = setup_repo(&e, false, err);
	if (rc == 0)
		rc = attempt_load(&e, err);
	if (rc == 0)
		rc = check_plan(&e, mr, err);
	return engine_close(&e, rc, err);
}
