/* SPDX-License-Identifier: MIT */
/*
 * The release engine: one reconciliation of one project (SPEC §7). It
 * reads the forge and the mirror, asks the policy for a plan per branch,
 * then assesses each goal and achieves only the missing ones:
 *
 *   1. tag V exists at the release commit      (one push per new tag)
 *   2. release branches contain their release  (one CAS push for all
 *   3. prep commits carry the SNAPSHOT         (  branch updates)
 *   4. notes on blocking MRs, release objects   (forge API, optional)
 *
 * Goals 2-3 are also checked for the latest release of every family whose
 * branch exists (and always for the overall latest), so a run killed
 * anywhere is completed by the next. A push that loses a race is followed
 * by a fetch and a new plan, a bounded number of times.
 *
 * The engine never logs: everything it did or found is in the report.
 */
#ifndef SEMVER_TAGGER_RELEASE_H
#define SEMVER_TAGGER_RELEASE_H

#include "semver-tagger/config.h"
#include "semver-tagger/error.h"
#include "semver-tagger/forge.h"
#include "semver-tagger/labels.h"
#include "semver-tagger/policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gitrepo;

/*
 * What a long-lived caller (the daemon's worker) keeps between runs of
 * one project: the open mirror (fetched again, not reopened) and the URL
 * it was fetched from. Zeroed: nothing kept. Owned by the caller;
 * release_warm_release() frees. A run that fails with the mirror drops it.
 */
struct release_warm {
	struct gitrepo *repo;
	char *repo_url;
};

void release_warm_release(struct release_warm *w);

struct release_options {
	const struct config_project *cfg;
	const struct labels *labels;  /* compiled from cfg's patterns */
	const char *state_dir;        /* this project's: mirror + MR cache */
	const char *token;            /* for git over HTTPS (borrowed) */
	const char *token_user;       /* NULL: "oauth2" */
	const char *branch;           /* NULL: default + every release branch */
	bool dry_run;                 /* plan only: no push, note, release */
	bool stable_release;
	unsigned max_replans;         /* re-plans after a lost race: 3 */
	long network_timeout_ms;      /* per git network operation */
	/* Crash trials: abort() when the run reaches this labelled point
	 * (see release_failpoints in release.c). NULL in production. */
	const char *failpoint;
	bool debug;                   /* collect debug lines in the report */
	/* The state directory is a GitLab CI cache ($GITLAB_CI): its owner
	 * and modes are not checked (statedir.h); the seal still is. */
	bool ci_cache;
	struct release_warm *warm;    /* NULL: open and free the mirror */
};

enum goal_state {
	GOAL_STATE_ACHIEVED,  /* already there: nothing done */
	GOAL_STATE_DONE,      /* achieved by this run */
	GOAL_STATE_PLANNED,   /* --dry-run: would be achieved */
	GOAL_STATE_FAILED,    /* could not be achieved (detail says why) */
	GOAL_STATE_SKIPPED,   /* not attempted (an earlier goal failed) */
};

struct release_goal_report {
	struct policy_goal goal;
	enum goal_state state;
	char action[32];    /* "created", "fast-forwarded", "merged", ... */
	char commit[41];    /* the commit the goal's ref now (would) hold */
	char detail[ST_ERROR_MSG_MAX];
};

struct release_mr_report {
	int64_t iid;
	char *title;
	char *web_url;
	char *author;
	enum impact impact;
};

struct release_branch_report {
	char *branch;
	struct policy_plan plan;             /* role, latest, next, problems */
	struct release_mr_report *mrs;       /* new on the branch */
	size_t n_mrs;
	struct release_goal_report *goals;   /* the plan's goals, assessed */
	size_t n_goals;
	int status;                          /* 0 or ST_E* */
	char error[ST_ERROR_MSG_MAX];
	bool note_posted;                    /* a missing-label note went out */
	char *notes;                         /* the release's notes (or NULL) */
};

struct release_report {
	char *project;                       /* path_with_namespace */
	char *default_branch;
	char *web_url;                       /* the project's page, or NULL */
	struct release_branch_report *branches;
	size_t n_branches;
	/* Goals of earlier releases completed or checked (killed runs). */
	struct release_goal_report *maintenance;
	size_t n_maintenance;
	char **warnings;                     /* for the app to log */
	size_t n_warnings;
	char **debug;                        /* debug-level lines (o->debug) */
	size_t n_debug;
	unsigned replans;
	unsigned api_requests;
	unsigned release_objects;            /* created by this run */
	unsigned released_notes;             /* "Released in" notes posted */
	int status;                          /* worst of all: 0 or ST_E* */
	char error[ST_ERROR_MSG_MAX];
};

void release_report_init(struct release_report *r);
/* Append a warning (copied). 0 or ST_ENOMEM. */
int release_report_warn(struct release_report *r, const char *msg);
void release_report_release(struct release_report *r);

/*
 * Reconcile one project. Returns the report's status: 0 when every
 * evaluated branch is released or has nothing to do; ST_EREFUSED or
 * ST_ECONFLICT when a person must act; ST_ETEMP/ST_ERACE when a re-run
 * will converge; ST_EAUTH, ST_ECONFIG, ST_EIO. err holds the first error.
 */
int release_run(const struct release_options *o, struct forge *forge,
		struct release_report *report, struct st_error *err);

/* Validation of an open MR before its merge (merge-request pipelines). */
struct release_check {
	const char *target_branch;
	int64_t iid;
	const char *title;            /* may be NULL */
	const char *const *labels;
	size_t n_labels;
};

/*
 * What merging the MR would release on its target branch: fills a report
 * with one branch whose plan has the MR as the only new one. Returns 0, or
 * ST_EREFUSED when the MR has no impact label or one the branch refuses.
 */
int release_check_mr(const struct release_options *o, struct forge *forge,
		     const struct release_check *mr,
		     struct release_report *report, struct st_error *err);

const char *goal_state_name(enum goal_state s);

#endif
