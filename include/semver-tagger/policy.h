/* SPDX-License-Identifier: MIT */
/*
 * The release policy (SPEC §3-§7, §9): from the project's releases, the
 * branch evaluated and the MRs new on it, either a plan (next version and
 * the ordered goals that make it real) or the list of problems a person
 * must fix. Pure: no I/O, no clock, no environment, no logging.
 */
#ifndef SEMVER_TAGGER_POLICY_H
#define SEMVER_TAGGER_POLICY_H

#include "semver-tagger/error.h"
#include "semver-tagger/labels.h"
#include "semver-tagger/semver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_NAME_MAX 256     /* branch names the policy builds */
#define POLICY_PREFIX_MAX 128   /* release branch prefix, tag prefix */
#define POLICY_VERSION_MAX 160  /* "M.m.p" plus a snapshot suffix */
#define POLICY_MESSAGE_MAX 1024

/* What a branch is to the release policy (SPEC §5). */
enum branch_role {
	BRANCH_DEFAULT,       /* family: the whole project */
	BRANCH_MAJOR_OLD,     /* release/N, N below the latest major */
	BRANCH_MAJOR_LATEST,  /* release/N, N the latest major: refuses MRs */
	BRANCH_MINOR_OLD,     /* release/N.M, not the latest minor of N */
	BRANCH_MINOR_LATEST,  /* release/N.M, the latest minor of N: refuses */
	BRANCH_NO_FAMILY,     /* release branch whose family has no release */
	BRANCH_OTHER,         /* not a release branch: never released from */
};

struct policy_branch {
	enum branch_role role;
	uint64_t major, minor;     /* N (and M) parsed from a release branch */
	bool has_minor;            /* release/N.M rather than release/N */
	bool has_latest;           /* false: no release yet (virtual base) */
	struct semver_ver latest;  /* latest release of the branch's family */
};

/* One merge request that is new on the evaluated branch (SPEC §2). All
 * strings borrowed for the duration of the call. */
struct policy_mr {
	uint64_t iid;
	const char *title;
	const char *web_url;
	const char *const *labels;
	size_t n_labels;
};

struct policy_settings {
	const struct labels *labels;  /* impact patterns (required) */
	const char *default_branch;   /* e.g. "main" (required) */
	const char *release_prefix;   /* NULL = "release/" */
	const char *snapshot_suffix;  /* NULL = "-SNAPSHOT" */
	bool prep_commits;            /* false for build system "simple" */
	struct semver_ver base;       /* the virtual latest with no release */
};

struct policy_input {
	const char *branch;                /* the branch evaluated */
	const struct semver_ver *releases; /* every release, any order */
	size_t n_releases;
	const struct policy_mr *new_mrs;   /* new on the branch */
	size_t n_new;
	bool stable_release;               /* STABLE_RELEASE (truthy) */
};

enum goal_kind {
	GOAL_TAG,     /* tag `version` exists at the release commit */
	GOAL_BRANCH,  /* `branch` exists and contains the release commit */
	GOAL_PREP,    /* `branch` carries the development version `version` */
};

struct policy_goal {
	enum goal_kind kind;
	char branch[POLICY_NAME_MAX];     /* GOAL_BRANCH, GOAL_PREP */
	char version[POLICY_VERSION_MAX]; /* GOAL_TAG: "1.4.0"; PREP: snapshot */
	struct semver_ver release;        /* the release the goal belongs to */
};

enum problem_kind {
	PROBLEM_MISSING_IMPACT,   /* error: new MR without an impact label */
	PROBLEM_FORBIDDEN_IMPACT, /* error: impact this branch refuses */
	PROBLEM_LATEST_BRANCH,    /* error: MR merged into a latest branch */
	PROBLEM_NO_FAMILY,        /* error: release branch without releases */
	PROBLEM_OVERFLOW,         /* error: next version past 64 bits */
	PROBLEM_SEVERAL_IMPACTS,  /* warning: MR with several impact labels */
};

struct policy_problem {
	enum problem_kind kind;
	bool is_error;
	uint64_t iid;                    /* 0 when not about one MR */
	char message[POLICY_MESSAGE_MAX];
};

struct policy_plan {
	struct policy_branch branch;
	bool release;               /* a new version is planned */
	struct semver_ver next;
	enum impact impact;         /* highest impact among new MRs */
	bool stable;                /* next is 1.0.0 because of STABLE_RELEASE */
	struct policy_goal *goals;  /* owned; ordered; n_goals of them */
	size_t n_goals;
	struct policy_problem *problems; /* owned; errors and warnings */
	size_t n_problems;
	size_t n_errors;
};

/* Initialise an empty plan; policy_plan_release() frees what it holds. */
void policy_plan_init(struct policy_plan *plan);
void policy_plan_release(struct policy_plan *plan);

/*
 * STABLE_RELEASE truthiness (SPEC §4): a non-zero integer ("1", "-2",
 * "007", optional sign), or "true", "t", "yes", "y" in any case, whole.
 * Anything else, NULL included, is false.
 */
bool policy_truthy(const char *value);

/*
 * Classify branch `name` against the project's releases (SPEC §5) and find
 * the latest release of its family. ST_ECONFIG for unusable settings.
 */
int policy_classify(const char *name, const struct semver_ver *releases,
		    size_t n_releases, const struct policy_settings *s,
		    struct policy_branch *out, struct st_error *err);

/*
 * Evaluate one branch: fills plan (initialised by the caller). Returns 0
 * when the plan may be carried out (plan->release says whether there is
 * anything to release; warnings may be listed), ST_EREFUSED when it has
 * errors a person must fix (plan->problems names each MR or branch and
 * how to fix it; no goal is listed), ST_ECONFIG or ST_ENOMEM.
 */
int policy_evaluate(const struct policy_input *in,
		    const struct policy_settings *s, struct policy_plan *plan,
		    struct st_error *err);

/*
 * The desired state of every family's latest release (SPEC §7 goals 2-3):
 * for the overall latest, its major and minor branches and the default
 * branch's prep; for each older major family, release/N and its latest
 * minor branch; for each minor family left behind, release/N.M. No tag
 * goals (the tags exist). Appends to plan->goals.
 */
int policy_family_goals(const struct semver_ver *releases, size_t n_releases,
			const struct policy_settings *s,
			struct policy_plan *plan, struct st_error *err);

/*
 * The branch-role rule without the releases (SPEC §5), for whoever only
 * needs to know whether a branch is released from: true when name is a
 * release branch, "<prefix>N" or "<prefix>N.M" (N, M without leading
 * zeros; prefix NULL = "release/"). major/minor/has_minor may be NULL.
 */
bool policy_release_branch(const char *name, const char *prefix,
			   uint64_t *major, bool *has_minor, uint64_t *minor);

/* name is the default branch (default_branch NULL: never) or a release
 * branch: new MRs there are evaluated, open MRs into it are checked. */
bool policy_released_from(const char *name, const char *default_branch,
			  const char *prefix);

const char *branch_role_name(enum branch_role role);
const char *goal_kind_name(enum goal_kind kind);
const char *problem_kind_name(enum problem_kind kind);

#endif
